/**
 * The clock's twin: time moves only when `advance` is called, and timers fall due on it in
 * order of their due time (then of their start), so a test or a simulator replays exactly.
 */
import { assert } from '../errors/assert.ts'
import type { Clock, TimerHandle, Timers } from './clock.ts'

interface ManualTimer extends TimerHandle {
  seq: number
  at: number
  everyMs: number
  fn: () => void
  live: boolean
}

export class ManualClock implements Clock, Timers {
  private monotonicMs: number
  private readonly wallOffsetMs: number
  private readonly pending: ManualTimer[] = []
  private seq = 0

  constructor(start: { monotonicMs?: number; wallMs?: number } = {}) {
    this.monotonicMs = start.monotonicMs ?? 0
    this.wallOffsetMs = (start.wallMs ?? 1_700_000_000_000) - this.monotonicMs
  }

  now(): number {
    return this.monotonicMs + this.wallOffsetMs
  }

  monotonic(): number {
    return this.monotonicMs
  }

  every(ms: number, fn: () => void): TimerHandle {
    // A zero period would fire forever within one advance.
    assert(ms > 0, 'a repeating timer needs a period')
    return this.add(ms, ms, fn)
  }

  after(ms: number, fn: () => void): TimerHandle {
    return this.add(ms, 0, fn)
  }

  cancel(handle: TimerHandle | null): void {
    if (handle === null) return
    const t = handle as ManualTimer
    t.live = false
    const at = this.pending.indexOf(t)
    if (at >= 0) this.pending.splice(at, 1)
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way, at its due time. */
  advance(ms: number): void {
    assert(ms >= 0, 'time only moves forward')
    const until = this.monotonicMs + ms
    for (let next = this.nextDue(until); next !== undefined; next = this.nextDue(until)) {
      this.monotonicMs = next.at
      if (next.everyMs > 0) next.at += next.everyMs
      else this.cancel(next)
      next.fn()
    }
    this.monotonicMs = until
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.pending.length
  }

  private add(ms: number, everyMs: number, fn: () => void): ManualTimer {
    const t: ManualTimer = {
      due: everyMs > 0 ? 'every' : 'after',
      seq: ++this.seq,
      at: this.monotonicMs + Math.max(0, ms),
      everyMs: Math.max(0, everyMs),
      fn,
      live: true,
    }
    this.pending.push(t)
    return t
  }

  private nextDue(until: number): ManualTimer | undefined {
    let best: ManualTimer | undefined
    for (const t of this.pending)
      if (t.at <= until && (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)))
        best = t
    return best
  }
}
