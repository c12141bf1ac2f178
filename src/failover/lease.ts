/**
 * Leases: the resource-safety rule of ARCHITECTURE.md in code. A node runs its groups only
 * while it holds a lease granted by a leader that has heard from a majority within the grant
 * window; the lease ends `fenceAfterMs` after the node asked for it (it cannot know how long the
 * answer took). The leader gives a silent node's groups away only once every lease that node may
 * still hold has ended and its processes have been stopped. The leader's side of these rules
 * (when it may grant, when earlier leaders' grants ended, when a group may move) is in
 * leaseAuthority.ts. Pure: times are monotonic ms.
 */

/** What a node holds: until when it may run its groups, and how far it must have applied to start one. */
export class Lease {
  private until = Number.NEGATIVE_INFINITY
  private askedAt = Number.NEGATIVE_INFINITY
  private mustApply = 0

  /**
   * A grant for a request sent at `askedAtMs`; `mustApply` is the granting leader's last log
   * index then. The newest request wins: an older grant arriving late changes nothing.
   */
  renew(askedAtMs: number, fenceAfterMs: number, mustApply: number): void {
    if (askedAtMs < this.askedAt) return
    this.askedAt = askedAtMs
    this.until = Math.max(this.until, askedAtMs + fenceAfterMs)
    this.mustApply = mustApply
  }

  valid(nowMs: number): boolean {
    return nowMs < this.until
  }

  remainingMs(nowMs: number): number {
    return Math.max(0, this.until - nowMs)
  }

  /**
   * May a group start here now: the lease holds, and this node has applied everything the
   * granting leader had in its log — so a reassignment decided before the grant is known here
   * before anything starts.
   */
  mayStart(nowMs: number, appliedIndex: number): boolean {
    return this.valid(nowMs) && appliedIndex >= this.mustApply
  }

  /** The index to apply before starting anything (for status and events). */
  get requiredIndex(): number {
    return this.mustApply
  }

  /** Gives the lease up (the node stops). */
  end(): void {
    this.until = Number.NEGATIVE_INFINITY
  }
}
