/** How late the consensus tick has been lately (or any other worst case over a window). */

/** The largest value seen over the last `windowMs` (two half-windows, so it forgets in time). */
export class RecentMaximum {
  private readonly halfMs: number
  private currentStart = 0
  private current = 0
  private previous = 0

  constructor(windowMs: number) {
    this.halfMs = windowMs / 2
  }

  note(nowMs: number, value: number): void {
    this.roll(nowMs)
    if (value > this.current) this.current = value
  }

  value(nowMs: number): number {
    this.roll(nowMs)
    return Math.max(this.current, this.previous)
  }

  private roll(nowMs: number): void {
    if (nowMs - this.currentStart < this.halfMs) return
    this.previous = nowMs - this.currentStart < 2 * this.halfMs ? this.current : 0
    this.current = 0
    this.currentStart = nowMs
  }
}
