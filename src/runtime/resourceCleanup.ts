/**
 * A node's part of `resource cleanup` (Pacemaker's `crm_resource --cleanup`): when it applies
 * the entry, it forgets its own restart history of the named resources and re-probes them — the
 * monitor checks each again, and the reconciler neither starts nor stops one until the monitor
 * has answered. Also the node's restart counts within their periods, for status and its pongs.
 */
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { ActualState } from '../failover/groupReconciler.ts'

/** How long a re-probe may go unanswered (a monitor that died meanwhile) before it is let go. */
export const probeWaitMsMax = 30_000

export interface ResourceCleanupDeps {
  name: string
  db: () => ClusterDatabase
  monotonic: () => number
  emit: (e: ClusterEventInput) => void
  /** Restart times (monotonic ms) per resource on this node: the restart policy's history. */
  restartHistory: Map<string, number[]>
  actual: Map<string, ActualState>
  probe: (resource: string) => void
  schedule: () => void
}

export class ResourceCleanup {
  private readonly d: ResourceCleanupDeps
  /** Resources re-probed and not yet answered: the reconciler leaves them be meanwhile. */
  private readonly waiting = new Map<string, NodeJS.Timeout>()

  constructor(deps: ResourceCleanupDeps) {
    this.d = deps
  }

  get probing(): ReadonlySet<string> {
    return new Set(this.waiting.keys())
  }

  /** Restarts within each resource's restart period on this node (only those restarted). */
  recentRestarts(): Map<string, number> {
    const now = this.d.monotonic()
    const db = this.d.db()
    const out = new Map<string, number>()
    for (const [name, times] of this.d.restartHistory) {
      const period = db.resource(name)?.restartPeriodMs
      const n = period === undefined ? 0 : times.filter((t) => now - t < period).length
      if (n > 0) out.set(name, n)
    }
    return out
  }

  /** The committed cleanup entry, as this node applies it. */
  applied(c: Extract<Command, { op: 'resource.cleanup' }>): void {
    if (c.node !== null && c.node !== this.d.name) return
    const db = this.d.db()
    const names = c.names ?? db.resources().map((r) => r.name)
    const counts = this.recentRestarts()
    const reset: string[] = []
    for (const name of names) {
      const counted = counts.get(name) ?? 0
      if (counted > 0) reset.push(`${name} (${counted})`)
      this.d.restartHistory.delete(name)
      // Only what this node runs or holds has anything here for the monitor to check.
      const group = db.group(db.resource(name)?.group ?? '')
      if (!this.d.actual.has(name) && group?.owner !== this.d.name) continue
      // Failed here: nothing of it runs (the monitor cleaned up); it may be started again.
      if (this.d.actual.get(name) === 'failed') this.d.actual.delete(name)
      this.reprobe(name)
    }
    this.d.emit({
      type: 'resource:cleanup',
      severity: 'info',
      message: `failure counts of ${c.names === null ? 'every resource' : names.join(', ')} reset on ${this.d.name}${reset.length === 0 ? '' : `, restarts forgotten: ${reset.join(', ')}`}; re-probing`,
      ...(names.length === 1 ? { resource: names[0]! } : {}),
      data: { resources: names, node: this.d.name },
    })
    this.d.schedule()
  }

  /** The monitor answered a re-probe. */
  probed(resource: string): void {
    const timer = this.waiting.get(resource)
    if (timer === undefined) return
    clearTimeout(timer)
    this.waiting.delete(resource)
    this.d.schedule()
  }

  stop(): void {
    for (const t of this.waiting.values()) clearTimeout(t)
    this.waiting.clear()
  }

  /**
   * Asks the monitor to check `name` again; the reconciler leaves it be until the monitor answers
   * or `probeWaitMsMax` has passed (a cleanup, and a resource leaving maintenance).
   */
  reprobe(name: string): void {
    const earlier = this.waiting.get(name)
    if (earlier !== undefined) clearTimeout(earlier)
    this.waiting.set(
      name,
      setTimeout(() => this.probed(name), probeWaitMsMax),
    )
    this.d.probe(name)
  }
}
