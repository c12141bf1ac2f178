/**
 * Leases: the resource-safety rule of ARCHITECTURE.md in code. A node runs its groups only
 * while it holds a lease granted by a leader that has heard from a majority within the grant
 * window; the lease ends `fenceAfterMs` after the node asked for it (it cannot know how long the
 * answer took). The leader gives a silent node's groups away only once every lease that node may
 * still hold has ended and its processes have been stopped. Pure: times are monotonic ms.
 */
import { jointHasMajority } from '../consensus/quorum/jointQuorum.ts'
import type { Configuration, NodeId } from '../consensus/types.ts'

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

/**
 * May the leader grant leases now: it has heard from a majority of the configuration (itself
 * included) within the grant window. A leader cut off from its majority stops granting within
 * that window — long before the majority could elect another and move anything.
 */
export function mayGrant(
  config: Configuration,
  self: NodeId,
  lastHeardMs: (id: NodeId) => number | null,
  nowMs: number,
  grantWindowMs: number,
): boolean {
  const heard = new Set<NodeId>([self])
  for (const id of [...Object.keys(config.incoming), ...Object.keys(config.outgoing ?? {})]) {
    const at = lastHeardMs(id)
    if (at !== null && nowMs - at < grantWindowMs) heard.add(id)
  }
  return jointHasMajority(config, heard)
}

/**
 * From when the leader may give a silent node's groups to another node: `downAfterMs` after it
 * last heard from the node (every lease this leader granted answered a request it heard), and
 * `downAfterMs` after the last moment an earlier leader may have granted one (the runtime knows
 * from how it was elected: at the latest its own election, or an election timeout minus the
 * grant window before it when its voters had heard no leader for that long).
 */
export function reassignableAtMs(
  lastHeardMs: number | null,
  earlierLeasesAskedBeforeMs: number,
  downAfterMs: number,
): number {
  return Math.max(lastHeardMs ?? Number.NEGATIVE_INFINITY, earlierLeasesAskedBeforeMs) + downAfterMs
}
