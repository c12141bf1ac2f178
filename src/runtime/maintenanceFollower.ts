/**
 * The resource host's side of maintenance mode (failover/maintenance.ts): the monitor stops
 * checking a resource going into maintenance; one coming out is checked again and re-probed
 * (resourceCleanup.ts: left alone until the monitor answers, within a bound), so nothing acts on
 * what it was before maintenance.
 */
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { ResourceRecord } from '../database/entities.ts'
import type { ActualState } from '../failover/groupReconciler.ts'
import { type MaintenanceFacts, resourceMaintenance } from '../failover/maintenance.ts'

export class MaintenanceFollower {
  private readonly node: string
  private readonly monitor: { maintenance(resource: string, on: boolean): void }
  private readonly reprobe: (resource: string) => void
  /** Resources in maintenance here at the last reconcile. */
  private readonly maintained = new Set<string>()

  constructor(
    node: string,
    monitor: { maintenance(resource: string, on: boolean): void },
    reprobe: (resource: string) => void,
  ) {
    this.node = node
    this.monitor = monitor
    this.reprobe = reprobe
  }

  /** Is `r` in maintenance on this node now? */
  holds(db: ClusterDatabase, r: ResourceRecord): boolean {
    return resourceMaintenance(factsOf(db), r, this.node) !== null
  }

  /** Tells the monitor of every change since the last call; returns the resources in maintenance. */
  follow(db: ClusterDatabase, actual: ReadonlyMap<string, ActualState>): Set<string> {
    const now = new Set(
      db
        .resources()
        .filter((r) => this.holds(db, r))
        .map((r) => r.name),
    )
    for (const name of now)
      if (!this.maintained.has(name)) {
        this.maintained.add(name)
        this.monitor.maintenance(name, true)
      }
    for (const name of this.maintained)
      if (!now.has(name)) {
        this.maintained.delete(name)
        // Known here (running, stopping or failed under the monitor): probed before anything acts.
        if (db.resource(name) !== undefined && actual.has(name)) {
          this.monitor.maintenance(name, false)
          this.reprobe(name)
        }
      }
    return now
  }
}

function factsOf(db: ClusterDatabase): MaintenanceFacts {
  return { cluster: db.cluster(), node: (n) => db.node(n), group: (g) => db.group(g) }
}
