import type { TimerHandle, Timers } from './clock.ts'
import type { NodeContext } from './nodeContext.ts'
import { RecentMaximum } from './recentMaximum.ts'
import type { TickHistory } from './tickHistory.ts'
import { guardTimer } from './timerGuard.ts'

/** The API sheds load once the consensus tick is this late (or a third of the election timeout). */
const tickOverdueShedMs = 250

export interface TickLoopParts extends Pick<NodeContext, 'clock' | 'log' | 'core'> {
  /** When each tick happened, for ages the core counts in ticks. */
  ticks: TickHistory
  timers: Timers
  tickMs: number
  electionTicks: number
  /** A lone voter loses nothing to a late tick, and a busy host must not cost it its API. */
  shedsLoad: boolean
}

export class TickLoop {
  private readonly p: TickLoopParts
  private ticker: TimerHandle | null = null
  /** When the tick last ran (monotonic ms). */
  private lastTickAt = 0
  private readonly delay = new RecentMaximum(60_000)

  constructor(parts: TickLoopParts) {
    this.p = parts
  }

  start(onTick: () => void): void {
    const { clock, tickMs } = this.p
    this.lastTickAt = clock.monotonic()
    this.ticker = this.p.timers.every(
      tickMs,
      guardTimer('the tick', this.p.log, () => {
        const now = clock.monotonic()
        this.delay.note(now, now - this.lastTickAt - tickMs)
        this.lastTickAt = now
        this.tickCore()
        onTick()
      }),
    )
  }

  /** Ticks the consensus core once (also done out of turn at boot). */
  tickCore(): void {
    this.p.core.tick()
    this.p.ticks.note(this.p.clock.monotonic())
  }

  stop(): void {
    this.p.timers.cancel(this.ticker)
  }

  /** Why the API should take no more work now, or null. */
  busy(): string | null {
    if (this.ticker === null || !this.p.shedsLoad) return null
    const { tickMs, electionTicks } = this.p
    const overdueMs = this.p.clock.monotonic() - this.lastTickAt - tickMs
    // Well inside the election timeout, and past what a busy host's scheduling adds anyway.
    return overdueMs > Math.max(tickOverdueShedMs, (tickMs * electionTicks) / 3)
      ? `its consensus tick is ${Math.round(overdueMs)} ms late`
      : null
  }

  /** The largest delay of the tick over the last minute (ms). */
  delayMaxMs(): number {
    return this.delay.value(this.p.clock.monotonic())
  }
}
