/**
 * Which of the node's lease renewals it passes on to its resource monitor. A member's lease is
 * renewed by every answer of the leader to its pings (ten a second; the leader renews its own
 * every tick, twenty), and each renewal moves the deadline by about one heartbeat. The monitor
 * only needs a deadline it can fence at by itself: one that is at most `stepMs` earlier than the
 * node's own is as safe (the monitor fences sooner, never later) and costs the node a JSON
 * message and the monitor a wakeup only every few renewals. A deadline that moves back, a new
 * stop timeout, and the first deadline after a (re)start always go at once.
 */
export class LeaseRelay {
  private readonly stepMs: number
  private sentUntilMs: number | null = null
  private sentStopMs: number | null = null

  /** `stepMs` 0 passes every renewal on. */
  constructor(stepMs: number) {
    this.stepMs = stepMs
  }

  /** Whether the renewal to `untilMs` (on the host's monotonic clock) goes to the monitor now. */
  offer(untilMs: number, stopTimeoutMs: number): boolean {
    const send =
      this.sentUntilMs === null ||
      stopTimeoutMs !== this.sentStopMs ||
      untilMs < this.sentUntilMs ||
      untilMs - this.sentUntilMs >= this.stepMs
    if (send) {
      this.sentUntilMs = untilMs
      this.sentStopMs = stopTimeoutMs
    }
    return send
  }

  /** A new monitor knows no deadline yet. */
  reset(): void {
    this.sentUntilMs = null
    this.sentStopMs = null
  }
}
