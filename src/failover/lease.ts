/**
 * Leases: the resource-safety rule of ARCHITECTURE.md in code. A node runs its groups only
 * while it holds a lease granted by a leader that has heard from a majority within the grant
 * window; the lease ends `fenceAfterMs` after the node asked for it (it cannot know how long the
 * answer took). The leader gives a silent node's groups away only once every lease that node may
 * still hold has ended and its processes have been stopped. The leader's side of these rules
 * (when it may grant, when earlier leaders' grants ended, when a group may move) is in
 * leaseAuthority.ts. Pure: times are monotonic ms.
 */

/**
 * Test-only switches that each remove one rule, so the simulator can prove it catches the loss
 * (test/sim/mutations.test.ts). Never set by the runtime, the CLI or a topology.
 */
export interface LeaseUnsafe {
  /** UNSAFE: the lease counts from when the grant arrived (`receivedAtMs`), not from the request. */
  countFromGrantArrival?: boolean
  /** UNSAFE: start groups without having applied what the granting leader had. */
  ignoreMustApply?: boolean
}

/** What a node holds: until when it may run its groups, and how far it must have applied to start one. */
export class Lease {
  private until = Number.NEGATIVE_INFINITY
  private askedAt = Number.NEGATIVE_INFINITY
  private mustApply = 0
  private readonly unsafe: LeaseUnsafe

  constructor(options: { unsafe?: LeaseUnsafe } = {}) {
    this.unsafe = options.unsafe ?? {}
  }

  /**
   * A grant for a request sent at `askedAtMs`; `mustApply` is the granting leader's last log
   * index then. The newest request wins: an older grant arriving late changes nothing.
   * `receivedAtMs` (when the grant arrived) is read only by the unsafe `countFromGrantArrival`.
   */
  renew(askedAtMs: number, fenceAfterMs: number, mustApply: number, receivedAtMs = askedAtMs): void {
    if (askedAtMs < this.askedAt) return
    this.askedAt = askedAtMs
    const from = this.unsafe.countFromGrantArrival === true ? receivedAtMs : askedAtMs
    this.until = Math.max(this.until, from + fenceAfterMs)
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
    return this.valid(nowMs) && (appliedIndex >= this.mustApply || this.unsafe.ignoreMustApply === true)
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
