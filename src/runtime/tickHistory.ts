/**
 * When each recent consensus tick happened (monotonic ms). Ages the core counts in ticks become
 * times through this, never through `ticks × tickMs`: a process paused by SIGSTOP ticks once when
 * it wakes, and an answer heard before the pause must not look a tick old.
 */
const ticksRemembered = 256

export class TickHistory {
  private readonly times: number[] = new Array(ticksRemembered).fill(Number.NEGATIVE_INFINITY)
  private count = 0

  /** Ticks so far. */
  get done(): number {
    return this.count
  }

  /** A tick happened at `nowMs`. */
  note(nowMs: number): void {
    this.times[++this.count % this.times.length] = nowMs
  }

  /** The time of tick `n` (at or before anything the core recorded during that tick); null if forgotten. */
  timeOf(n: number): number | null {
    if (n < 0 || n > this.count || this.count - n >= this.times.length) return null
    const t = this.times[n % this.times.length]!
    return Number.isFinite(t) ? t : null
  }
}
