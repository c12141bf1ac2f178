/**
 * The node's side of resource management: the resource monitor child, what it reports, the
 * local Failover Manager decisions (start and stop resources in dependency order, release a
 * group being moved away, restart in place or give up), executed from the pure reconciler and
 * restart policy. Which node owns a group is the leader's decision (failoverPlanner.ts).
 */
import type { ApplyResult, ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command, CommandEnvelope } from '../database/commands.ts'
import { checkpointPaths } from '../database/resourceTypes.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { Logger } from '../events/logger.ts'
import { type ActualState, paramsKey, reconcile, runsHere } from '../failover/groupReconciler.ts'
import { decideAfterFailure } from '../failover/restartPolicy.ts'
import { ResourceMonitorClient } from '../resources/monitorClient.ts'
import type { FromMonitor } from '../resources/monitorProtocol.ts'
import { MaintenanceFollower } from './maintenanceFollower.ts'
import { ownershipEvent } from './ownershipEvent.ts'
import { ResourceCheckpoints } from './resourceCheckpoints.ts'
import { ResourceCleanup } from './resourceCleanup.ts'
import { settingsEvent } from './settingsEvent.ts'

export interface ResourceHostDeps {
  name: string
  site: string
  dataDir: string
  logger: Logger
  monotonic: () => number
  restartDelayMs: number
  /** Fencing: SIGTERM, then SIGKILL after this (topology timing.fencing.stopTimeoutMs). */
  fenceStopMs: number
  /** How far the monitor's copy of the lease deadline may trail the node's (leaseRelay.ts). */
  leaseStepMs?: number
  db: () => ClusterDatabase
  propose: (command: Command, by: string) => Promise<{ index: number; result: ApplyResult }>
  emit: (e: ClusterEventInput) => void
  /** May this node run its groups now (it holds a lease)? */
  mayRun: () => { ok: true } | { ok: false; why: string }
  /** May it start them too (it has applied what the granting leader had)? */
  mayStart: () => boolean
  /** The monitor could not be restarted: the node must stop. */
  crash: (error: Error) => void
}

export class ResourceHost {
  private readonly d: ResourceHostDeps
  private readonly monitor: ResourceMonitorClient
  readonly actual = new Map<string, ActualState>()
  /** The parameters each resource was last started with here (the reconciler restarts on a change). */
  private readonly startedWith = new Map<string, string>()
  private readonly pendingReleases = new Set<string>()
  private readonly checkpoints: ResourceCheckpoints
  readonly restartHistory = new Map<string, number[]>()
  private readonly cleanup: ResourceCleanup
  private readonly timers = new Set<NodeJS.Timeout>()
  private scheduled = false
  /**
   * The last look ran while starts waited for this node to apply what its lease's leader had:
   * applying does not wake the reconciler (config writes never do), so it looks again then.
   */
  private startsHeld = false
  private stopping = false
  private readonly maintenance: MaintenanceFollower

  constructor(deps: ResourceHostDeps) {
    this.d = deps
    this.monitor = new ResourceMonitorClient({
      dir: deps.dataDir,
      onMessage: (m) => this.onMonitorMessage(m),
      onUnexpectedExit: (code, signal) => this.onMonitorExit(code, signal),
      ...(deps.leaseStepMs === undefined ? {} : { leaseStepMs: deps.leaseStepMs }),
    })
    this.checkpoints = new ResourceCheckpoints({
      ...deps,
      actual: this.actual,
      schedule: () => this.schedule(),
    })
    this.cleanup = new ResourceCleanup({
      ...deps,
      restartHistory: this.restartHistory,
      actual: this.actual,
      probe: (name) => this.monitor.probeResource(name),
      schedule: () => this.schedule(),
    })
    // Out of maintenance, a resource is re-probed as a cleanup re-probes it, with the same bound.
    this.maintenance = new MaintenanceFollower(deps.name, this.monitor, (name) => this.cleanup.reprobe(name))
  }

  /** Restarts within each resource's restart period here (only those restarted). */
  recentRestarts(): Map<string, number> {
    return this.cleanup.recentRestarts()
  }

  async start(): Promise<void> {
    this.checkpoints.start()
    const ready = await this.monitor.start()
    for (const r of ready.reaped) {
      this.d.emit({
        type: 'monitor:restarted',
        severity: 'warning',
        resource: r.resource,
        message: `killed leftover process group ${r.pid} of ${r.resource} from an earlier monitor`,
      })
    }
  }

  /**
   * The node is about to stop: the monitor hears that the node stops the resources itself (in
   * dependency order) within `remainingMs`, so a SIGTERM that reached both waits for that.
   */
  announceStopping(remainingMs: number): void {
    this.monitor.announceStopping(remainingMs)
  }

  /** Takes every group offline in dependency order, then stops the monitor. */
  async stop(deadlineMs: number, marginMs: number): Promise<void> {
    this.stopping = true
    this.reconcileNow()
    // Stopped in dependency order, and groups being moved away released, within the deadline.
    while (
      (this.running().length > 0 || this.pendingReleases.size > 0 || this.checkpoints.saving.size > 0) &&
      this.d.monotonic() < deadlineMs
    )
      await new Promise((r) => setTimeout(r, 25))
    const left = this.running()
    if (left.length > 0)
      this.d.logger.warn(
        { resources: left },
        'resources still stopping at the shutdown deadline; the monitor kills them',
      )
    await this.monitor.shutdown(marginMs)
    for (const t of this.timers) clearTimeout(t)
    this.checkpoints.stop()
    this.cleanup.stop()
  }

  /** The node's lease was renewed: pass the deadline on to the monitor, which fences by itself. */
  leaseRenewed(remainingMs: number): void {
    this.monitor.lease(remainingMs, this.d.fenceStopMs)
  }

  /** Operator's "fail" on a resource running here. */
  fail(name: string): string | null {
    const state = this.actual.get(name)
    if (state !== 'online' && state !== 'starting')
      return `resource ${name} is not online on this node (it is ${state ?? 'offline'})`
    this.monitor.failResource(name, 'failure requested by an operator')
    return null
  }

  /** Longest stop timeout among the resources, for the shutdown deadline. */
  longestStopMs(): number {
    let longest = 10_000
    for (const r of this.d.db().resources()) {
      const v = Number(r.params.stopTimeoutMs ?? 0)
      if (v > longest) longest = v
    }
    return longest
  }

  /** Reacts to an applied command: forget failures brought back online, report new owners. */
  afterApply(envelope: CommandEnvelope, result: ApplyResult): void {
    if (!result.ok) return
    const c = envelope.command
    if (c.op === 'resource.cleanup') this.cleanup.applied(c)
    const db = this.d.db()
    // Bringing a resource back online forgets its failures and restart history (WSFC Start-*).
    const cleared =
      c.op === 'group.setTarget' && c.target === 'online'
        ? db.resources(c.name).map((r) => r.name)
        : c.op === 'resource.setTarget' && c.target === 'online'
          ? result.changed.flatMap((p) =>
              p.includes('/resources/') ? [p.slice(p.lastIndexOf('/') + 1)] : [],
            )
          : c.op === 'resource.markFailed'
            ? [c.name]
            : []
    for (const name of cleared) {
      if (c.op !== 'resource.markFailed') this.restartHistory.delete(name)
      if (this.actual.get(name) === 'failed') this.actual.delete(name)
    }
    // Every ownership decision is an event with its reason (on every node, from the log).
    const g = 'name' in c ? db.group(c.name) : undefined
    const said = g === undefined ? null : ownershipEvent(c, g)
    if (said !== null) this.d.emit(said)
    const changed = settingsEvent(c, result, db)
    if (changed !== null) this.d.emit(changed)
  }

  schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.reconcileNow()
    })
  }

  /** After a Ready cycle: a start held back until this node applied enough may go now. */
  startsAllowed(): void {
    if (this.startsHeld && this.d.mayStart()) this.schedule()
  }

  reconcileNow(): void {
    const db = this.d.db()
    const may = this.stopping ? { ok: false as const, why: `${this.d.name} is stopping` } : this.d.mayRun()
    const mayStart = may.ok && this.d.mayStart()
    this.startsHeld = may.ok && !mayStart
    const unmanaged = this.maintenance.follow(db, this.actual)
    const actions = reconcile({
      unmanaged,
      node: this.d.name,
      groups: db.groups(),
      resources: db.resources(),
      mayRun: may.ok,
      mayStart,
      ...(may.ok ? {} : { withheld: may.why }),
      pendingReleases: this.pendingReleases,
      savingCheckpoints: this.checkpoints.saving,
      probing: this.cleanup.probing,
      actual: this.actual,
      startedWith: this.startedWith,
    })
    for (const action of actions) {
      switch (action.kind) {
        case 'release':
          this.release(action.group, action.token)
          break
        case 'start': {
          const r = db.resource(action.resource)!
          const restored = this.checkpoints.restore(r.name)
          if (restored !== null) {
            this.actual.set(r.name, 'failed')
            this.d.emit({
              type: 'resource:failed',
              severity: 'error',
              group: r.group,
              resource: r.name,
              message: `${r.name} not started: cannot restore its checkpoint (${restored})`,
            })
            this.handleFailure(r.name, `cannot restore its checkpoint (${restored})`)
            break
          }
          this.actual.set(r.name, 'starting')
          this.startedWith.set(r.name, paramsKey(r.params))
          this.d.emit({
            type: 'resource:starting',
            severity: 'info',
            group: r.group,
            resource: r.name,
            message: `starting ${r.name} (fencing token ${action.fencingToken})`,
          })
          this.monitor.startResource({
            resource: r.name,
            group: r.group,
            type: r.type,
            params: r.params,
            env: {
              GEOCLUSTER_NODE: this.d.name,
              GEOCLUSTER_SITE: this.d.site,
              GEOCLUSTER_GROUP: r.group,
              GEOCLUSTER_RESOURCE: r.name,
              GEOCLUSTER_FENCING_TOKEN: String(action.fencingToken),
            },
          })
          break
        }
        case 'stop':
          this.actual.set(action.resource, 'stopping')
          this.d.emit({
            type: 'resource:stopping',
            severity: 'info',
            resource: action.resource,
            ...(action.group === null ? {} : { group: action.group }),
            message: `stopping ${action.resource}: ${action.reason}`,
          })
          this.monitor.stopResource(action.resource)
          break
      }
    }
  }

  /** Everything of a group being moved away is down here: tell the cluster it may go. */
  private release(group: string, token: number): void {
    this.pendingReleases.add(group)
    this.d
      .propose({ op: 'group.release', name: group, token }, `node:${this.d.name}`)
      .then(({ result }) => {
        if (!result.ok) this.d.logger.warn({ group, reason: result.message }, 'release refused')
      })
      .catch((error: Error) => this.d.logger.warn({ group, err: error.message }, 'release failed'))
      .finally(() => {
        this.pendingReleases.delete(group)
        this.schedule()
      })
  }

  private onMonitorMessage(m: FromMonitor): void {
    switch (m.t) {
      case 'log':
        this.d.logger[m.level]({ ...m.data, component: 'monitor' }, m.msg)
        return
      case 'ready':
      case 'stopped-all':
        return
      case 'event': {
        const r = this.d.db().resource(m.resource)
        this.d.emit({
          ...m.event,
          resource: m.resource,
          ...(r === undefined ? {} : { group: r.group }),
        })
        return
      }
      case 'probed':
        this.cleanup.probed(m.resource)
        return
      case 'state':
        break
    }
    const r = this.d.db().resource(m.resource)
    const where = { resource: m.resource, ...(r === undefined ? {} : { group: r.group }) }
    switch (m.state) {
      case 'starting':
      case 'stopping':
        this.actual.set(m.resource, m.state)
        break
      case 'online':
        this.actual.set(m.resource, 'online')
        this.checkpoints.online(m.resource)
        this.d.emit({
          type: 'resource:online',
          severity: 'info',
          ...where,
          message: `${m.resource} is online`,
        })
        break
      case 'offline':
        this.actual.delete(m.resource)
        this.startedWith.delete(m.resource)
        // Gone offline here (stopped, moved, fenced): save its checkpoint for the next owner.
        if (r !== undefined && checkpointPaths(r.params).length > 0 && m.reason !== 'not started: no lease')
          this.checkpoints.save(r.name, 'offline')
        this.d.emit({
          type: 'resource:offline',
          severity: 'info',
          ...where,
          message: `${m.resource} is offline${m.reason === undefined ? '' : ` (${m.reason})`}`,
        })
        break
      case 'failed':
        this.actual.set(m.resource, 'failed')
        if (r !== undefined && checkpointPaths(r.params).length > 0) this.checkpoints.save(r.name, 'offline')
        this.d.emit({
          type: 'resource:failed',
          severity: 'error',
          ...where,
          message: `${m.resource} failed: ${m.reason ?? 'unknown reason'}`,
        })
        this.handleFailure(m.resource, m.reason ?? 'unknown reason')
        break
    }
    this.schedule()
  }

  /** Restart in place while under the threshold; past it, record the failure in the database. */
  private handleFailure(name: string, reason: string): void {
    const db = this.d.db()
    const r = db.resource(name)
    const g = r === undefined ? undefined : db.group(r.group)
    // Nothing is restarted or counted for a resource in maintenance: it is left as it is.
    if (
      r === undefined ||
      g === undefined ||
      !runsHere(g, this.d.name) ||
      this.stopping ||
      this.maintenance.holds(db, r)
    ) {
      this.actual.delete(name)
      return
    }
    const decision = decideAfterFailure(this.restartHistory.get(name) ?? [], this.d.monotonic(), r)
    const period = `${Math.round(r.restartPeriodMs / 1000)} s`
    if (decision.action === 'restart') {
      this.restartHistory.set(name, decision.restarts)
      this.d.emit({
        type: 'resource:restart',
        severity: 'warning',
        group: r.group,
        resource: name,
        message: `restarting ${name} in place (restart ${decision.restartsInPeriod} of ${r.restartThreshold} within ${period})`,
      })
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        if (this.actual.get(name) === 'failed') this.actual.delete(name)
        this.schedule()
      }, this.d.restartDelayMs)
      this.timers.add(timer)
      return
    }
    const why = `${reason}; ${decision.restartsInPeriod} restarts within ${period} reached the threshold of ${r.restartThreshold}`
    this.d.emit({
      type: 'resource:gave-up',
      severity: 'error',
      group: r.group,
      resource: name,
      message: `${name} is failed: ${why}`,
    })
    this.d
      .propose({ op: 'resource.markFailed', name, reason: why }, `node:${this.d.name}`)
      .catch((error: Error) =>
        this.d.logger.warn({ resource: name, err: error.message }, 'could not record the failure'),
      )
  }

  private onMonitorExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return
    const running = [...this.actual.keys()]
    this.d.emit({
      type: 'monitor:restarted',
      severity: 'error',
      message: `the resource monitor exited (code ${code}, signal ${signal}); restarting it`,
    })
    this.monitor
      .start()
      .then(() => {
        // The new monitor killed whatever the old one left; those resources failed.
        for (const name of running) {
          this.actual.set(name, 'failed')
          this.handleFailure(name, 'the resource monitor died')
        }
        this.schedule()
      })
      .catch((error: Error) =>
        this.d.crash(new Error(`cannot restart the resource monitor: ${error.message}`)),
      )
  }

  private running(): string[] {
    return [...this.actual].filter(([, s]) => s !== 'failed').map(([n]) => n)
  }
}
