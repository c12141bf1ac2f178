/**
 * The node runtime: the composition root that owns the timers, files and child processes and
 * drives the pure cores. Its loop is etcd-io/raft's: take a Ready from the consensus core,
 * apply what is committed to the cluster database, persist and fsync new entries, advance.
 * Writes are acknowledged only after their entry is durable and applied, and many writes that
 * arrive while one fsync is under way share the next one (group commit).
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { votesNeeded } from '../consensus/quorum/voteMath.ts'
import { RaftCore } from '../consensus/raftCore.ts'
import type { Entry, Ready } from '../consensus/types.ts'
import type { ApplyResult, ClusterDatabase } from '../database/clusterDatabase.ts'
import {
  type Command,
  type CommandEnvelope,
  commandSchema,
  decodeEnvelope,
  encodeEnvelope,
} from '../database/commands.ts'
import { assert } from '../errors/assert.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import { EventLog } from '../events/eventLog.ts'
import { type ActualState, reconcile, runsHere } from '../failover/groupReconciler.ts'
import { decideAfterFailure } from '../failover/restartPolicy.ts'
import { ResourceMonitorClient } from '../resources/monitorClient.ts'
import type { FromMonitor } from '../resources/monitorProtocol.ts'
import { DataDirLock } from '../storage/dataDirLock.ts'
import type { SnapshotStore } from '../storage/snapshotStore.ts'
import type { WriteAheadLog } from '../storage/writeAheadLog.ts'
import type { Topology } from '../topology/topologySchema.ts'
import { ensureAdminToken } from './adminToken.ts'
import type { Logger } from './logger.ts'
import { encodeNodeSnapshot } from './nodeSnapshot.ts'
import { recoverStorage } from './recoverStorage.ts'
import { buildStatus, type StatusDocument } from './statusDocument.ts'
import { topologyConfiguration } from './topologyConfiguration.ts'

export interface Clock {
  /** Wall clock, ms since the epoch: for people (event times), never for decisions. */
  now(): number
  /** Monotonic ms: for every duration the node acts on. */
  monotonic(): number
}

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() }

export interface NodeTiming {
  /** One consensus tick. */
  tickMs: number
  /** Pause before restarting a failed resource in place (WSFC RestartDelay, 500 ms). */
  restartDelayMs: number
  /** Take a snapshot and release old log segments after this many applied entries. */
  snapshotEntries: number
  /** Longest wait for resources to stop on shutdown, on top of their own stop timeouts. */
  shutdownMarginMs: number
}

export const nodeTimingDefaults: NodeTiming = {
  tickMs: 100,
  restartDelayMs: 500,
  snapshotEntries: 10_000,
  shutdownMarginMs: 5_000,
}

export interface ClusterNodeInit {
  dataDir: string
  topology: Topology
  nodeName: string
  logger: Logger
  /** What started the node, for the data-dir lock's message (`geocluster lab`). */
  command: string
  timing?: Partial<NodeTiming>
  clock?: Clock
  random?: () => number
  segmentBytesMax?: number
}

export interface AppliedCommand {
  index: number
  result: ApplyResult
}

interface Waiter {
  term: number
  resolve: (applied: AppliedCommand) => void
  reject: (error: Error) => void
}

export class ClusterNode {
  readonly name: string
  readonly site: string
  readonly dataDir: string
  readonly adminToken: string
  readonly adminTokenFile: string
  readonly events: EventLog
  private readonly topology: Topology
  private readonly log: Logger
  private readonly clock: Clock
  private readonly timing: NodeTiming
  private readonly lock: DataDirLock
  private readonly db: ClusterDatabase
  private readonly core: RaftCore
  private readonly wal: WriteAheadLog
  private readonly snapshots: SnapshotStore
  private readonly monitor: ResourceMonitorClient
  private readonly waiters = new Map<number, Waiter>()
  private readonly actual = new Map<string, ActualState>()
  private readonly claims = new Map<string, number>()
  private readonly pendingClaims = new Set<string>()
  private readonly restartHistory = new Map<string, number[]>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private readyWaiters: (() => void)[] = []
  private ticker: NodeJS.Timeout | null = null
  private driving: Promise<void> | null = null
  private driveAgain = false
  private reconcileScheduled = false
  private lastSnapshotIndex: number
  private stopping = false
  /** Storage is closing: no more Ready cycles. */
  private closed = false
  private fatal: Error | null = null

  private constructor(
    init: ClusterNodeInit,
    parts: {
      site: string
      lock: DataDirLock
      token: { token: string; file: string }
      storage: ReturnType<typeof recoverStorage>
      events: EventLog
    },
  ) {
    this.name = init.nodeName
    this.site = parts.site
    this.dataDir = init.dataDir
    this.topology = init.topology
    this.log = init.logger
    this.clock = init.clock ?? systemClock
    this.timing = { ...nodeTimingDefaults, ...init.timing }
    this.lock = parts.lock
    this.adminToken = parts.token.token
    this.adminTokenFile = parts.token.file
    this.events = parts.events
    this.db = parts.storage.db
    this.wal = parts.storage.wal
    this.snapshots = parts.storage.snapshots
    this.lastSnapshotIndex = parts.storage.report.snapshotIndex
    this.core = new RaftCore(
      { id: init.nodeName, electionTicks: 10, heartbeatTicks: 1, random: init.random ?? Math.random },
      { ...parts.storage.restore, initialConfig: topologyConfiguration(init.topology) },
    )
    this.monitor = new ResourceMonitorClient({
      dir: init.dataDir,
      onMessage: (m) => this.onMonitorMessage(m),
      onUnexpectedExit: (code, signal) => this.onMonitorExit(code, signal),
    })
  }

  /** Opens the data dir, recovers, starts the monitor, and resolves once this node can serve. */
  static async start(init: ClusterNodeInit): Promise<ClusterNode> {
    const { topology, nodeName } = init
    if (topology.quorum.model !== 'local') {
      throw new GeoclusterError(
        'GC_ERR_UNSUPPORTED',
        `quorum model ${topology.quorum.model} needs the multi-node consensus and mesh, which this build does not have yet; use model local`,
      )
    }
    const site = topology.sites.find((s) => s.nodes.some((n) => n.name === nodeName))?.name
    if (site === undefined) {
      const names = topology.sites.flatMap((s) => s.nodes.map((n) => n.name)).join(', ')
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `node ${nodeName} is not in the topology (nodes: ${names})`,
        { path: 'node' },
      )
    }
    mkdirSync(init.dataDir, { recursive: true, mode: 0o700 })
    const lock = await DataDirLock.acquire(init.dataDir, init.command)
    try {
      const token = ensureAdminToken(init.dataDir)
      const clock = init.clock ?? systemClock
      const events = new EventLog({ node: nodeName, now: () => clock.now() })
      const storage = recoverStorage(
        init.dataDir,
        init.segmentBytesMax === undefined ? {} : { segmentBytesMax: init.segmentBytesMax },
      )
      const node = new ClusterNode(init, { site, lock, token, storage, events })
      node.reportRecovery(storage.report)
      await node.boot()
      return node
    } catch (error) {
      lock.release()
      throw error
    }
  }

  // ---- operator surface --------------------------------------------------------------------

  /** Proposes a command and resolves once it is committed and applied (or refused by the database). */
  async propose(command: Command, by: string): Promise<AppliedCommand> {
    this.assertServing()
    const checked = commandSchema.safeParse(command)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      const path = issue?.path.join('.') ?? ''
      throw new GeoclusterError(
        'GC_ERR_BAD_REQUEST',
        `${command.op}: ${path}: ${issue?.message ?? 'invalid'}`,
        { path: `body.${path}` },
      )
    }
    const parsed = checked.data
    const envelope: CommandEnvelope = { v: 1, by, at: Math.floor(this.clock.now()), command: parsed }
    const proposed = this.core.propose(encodeEnvelope(envelope))
    if (!proposed.ok) {
      throw new GeoclusterError(
        'GC_ERR_NO_QUORUM',
        `this node is not the leader (leader: ${proposed.leader ?? 'none'})`,
      )
    }
    const applied = new Promise<AppliedCommand>((resolve, reject) => {
      this.waiters.set(proposed.ticket.index, { term: proposed.ticket.term, resolve, reject })
    })
    this.scheduleDrive()
    return applied
  }

  /**
   * A linearizable read: only a leader that has applied an entry of its own term knows every
   * committed change (no stale reads from a deposed leader).
   */
  read<T>(fn: (db: ClusterDatabase) => T): T {
    this.assertServing()
    if (!this.core.canServeReads())
      throw new GeoclusterError('GC_ERR_NO_QUORUM', 'this node cannot serve consistent reads: no quorum')
    return fn(this.db)
  }

  /** A read of this node's copy without the leadership check; it may be stale. */
  readLocal<T>(fn: (db: ClusterDatabase) => T): T {
    return fn(this.db)
  }

  status(): StatusDocument {
    const raft = this.core.status()
    const voters = new Map(this.topology.sites.flatMap((s) => s.nodes.map((n) => [n.name, n.votes] as const)))
    const quorate = this.core.canServeReads() && !this.stopping
    return buildStatus({
      db: this.db,
      self: this.name,
      term: raft.term,
      leader: raft.leader,
      quorum: {
        model: this.topology.quorum.model,
        state: quorate ? 'quorate' : 'no-quorum',
        votesPresent: quorate ? (voters.get(this.name) ?? 0) : 0,
        votesTotal: [...voters.values()].reduce((a, b) => a + b, 0),
        votesNeeded: votesNeeded(voters),
      },
      actual: this.actual,
      claims: this.claims,
      restarts: this.restartHistory,
      storage: {
        commitIndex: raft.commit,
        appliedIndex: this.db.appliedIndex,
        snapshotIndex: raft.snapshotIndex,
        walSegments: this.wal.statistics().segments,
        walSyncs: this.wal.statistics().syncs,
      },
    })
  }

  /** Operator's "fail": the resource fails now and the restart policy applies (Test-ClusterResourceFailure). */
  failResource(name: string): void {
    const r = this.read((db) => db.resource(name))
    if (r === undefined) throw new GeoclusterError('GC_ERR_NOT_FOUND', `no resource ${name}`)
    const state = this.actual.get(name)
    if (state !== 'online' && state !== 'starting') {
      throw new GeoclusterError(
        'GC_ERR_CONFLICT',
        `resource ${name} is not online on this node (it is ${state ?? 'offline'})`,
      )
    }
    this.monitor.failResource(name, 'failure requested by an operator')
  }

  /** Graceful stop: take this node's groups offline in dependency order, then close storage. */
  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    this.emit({
      type: 'node:stopping',
      severity: 'info',
      message: `${this.name} is stopping; taking its groups offline`,
    })
    this.reconcileNow()
    const deadline = this.clock.monotonic() + this.longestStopMs() + this.timing.shutdownMarginMs
    while (this.runningResources().length > 0 && this.clock.monotonic() < deadline) {
      await new Promise((r) => setTimeout(r, 25))
    }
    const left = this.runningResources()
    if (left.length > 0)
      this.log.warn(
        { resources: left },
        'resources still stopping at the shutdown deadline; the monitor kills them',
      )
    await this.monitor.shutdown(this.timing.shutdownMarginMs)
    if (this.ticker !== null) clearInterval(this.ticker)
    for (const t of this.timers) clearTimeout(t)
    // No new Ready cycles from here on; let the one under way finish its fsync.
    this.closed = true
    while (this.driving !== null) await this.driving
    for (const [, w] of this.waiters)
      w.reject(new GeoclusterError('GC_ERR_UNREACHABLE', 'the node stopped before the change committed'))
    this.waiters.clear()
    this.wal.close()
    this.emit({ type: 'node:stopped', severity: 'info', message: `${this.name} stopped` })
    this.lock.release()
  }

  statistics() {
    return { raft: this.core.status(), wal: this.wal.statistics(), events: this.events.lastSeq }
  }

  // ---- boot --------------------------------------------------------------------------------

  private async boot(): Promise<void> {
    const ready = await this.monitor.start()
    for (const r of ready.reaped) {
      this.emit({
        type: 'monitor:restarted',
        severity: 'warning',
        resource: r.resource,
        message: `killed leftover process group ${r.pid} of ${r.resource} from an earlier monitor`,
      })
    }
    this.ticker = setInterval(() => {
      this.core.tick()
      this.scheduleDrive()
    }, this.timing.tickMs)
    this.core.tick()
    this.scheduleDrive()
    await new Promise<void>((resolve) => {
      if (this.core.canServeReads()) resolve()
      else this.readyWaiters.push(resolve)
    })
    await this.ensureBootstrapped()
    this.emit({
      type: 'node:started',
      severity: 'info',
      message: `${this.name} (site ${this.site}) is up; cluster ${this.topology.cluster.name}`,
    })
    this.scheduleReconcile()
  }

  private async ensureBootstrapped(): Promise<void> {
    const t = this.topology
    const cluster = this.db.cluster()
    if (cluster === undefined) {
      const result = await this.propose(
        {
          op: 'cluster.bootstrap',
          cluster: { name: t.cluster.name, quorumModel: t.quorum.model },
          sites: t.sites.map((s) => ({
            name: s.name,
            nodes: s.nodes.map((n) => ({
              name: n.name,
              votes: n.votes,
              peerId: n.peerId ?? null,
              address: n.address ?? null,
            })),
          })),
          witness: null,
        },
        `node:${this.name}`,
      )
      if (!result.result.ok)
        throw new GeoclusterError('GC_ERR_FAILED', `bootstrap refused: ${result.result.message}`)
      this.log.info({ cluster: t.cluster.name, index: result.index }, 'cluster bootstrapped')
      return
    }
    if (cluster.name !== t.cluster.name) {
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `data dir ${this.dataDir} belongs to cluster ${cluster.name}, but the topology names ${t.cluster.name}`,
        { path: 'cluster.name' },
      )
    }
    if (this.db.node(this.name) === undefined) {
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `node ${this.name} is not a member of cluster ${cluster.name}`,
        { path: 'node' },
      )
    }
  }

  private reportRecovery(report: ReturnType<typeof recoverStorage>['report']): void {
    for (const s of report.skippedSnapshots) {
      this.emit({
        type: 'storage:recovered',
        severity: 'warning',
        message: `skipped damaged snapshot ${s.file}: ${s.reason}; recovered from an older snapshot and the log`,
      })
    }
    if (report.tornTail !== null) {
      const t = report.tornTail
      this.emit({
        type: 'storage:recovered',
        severity: 'warning',
        message: `dropped a torn write at the end of the log: ${t.file} offset ${t.offset} (${t.droppedBytes} bytes: ${t.reason}); it was never acknowledged`,
        data: { ...t },
      })
    }
    this.log.info(
      {
        snapshot: report.snapshotFile,
        snapshotIndex: report.snapshotIndex,
        entries: report.entriesReplayed,
        segments: report.segments,
      },
      'storage recovered',
    )
  }

  // ---- the Ready loop ----------------------------------------------------------------------

  private scheduleDrive(): void {
    if (this.closed) return
    if (this.driving !== null) {
      this.driveAgain = true
      return
    }
    this.driving = this.drive().finally(() => {
      this.driving = null
      if (this.driveAgain) {
        this.driveAgain = false
        this.scheduleDrive()
      }
    })
  }

  private async drive(): Promise<void> {
    // Let the current event-loop turn finish so proposals arriving together share one fsync.
    await new Promise((r) => setImmediate(r))
    try {
      while (this.core.hasReady()) {
        const rd = this.core.ready()
        // One voter and no mesh yet: nothing arrives from other nodes, so none of this can happen.
        assert(
          !rd.reset && rd.snapshot === null && rd.messages.length === 0,
          'multi-node Ready on a single-node runtime',
        )
        this.applyCommitted(rd)
        if (rd.entries.length > 0 || rd.hardState !== null)
          this.wal.append({ hardState: rd.hardState, entries: rd.entries })
        if (rd.mustSync) await this.wal.sync()
        if (rd.softState !== null && rd.softState.role === 'leader') {
          this.emit({
            type: 'leader:elected',
            severity: 'info',
            message: `${this.name} leads term ${this.core.status().term}`,
          })
        }
        this.core.advance(rd)
        this.maybeSnapshot()
        if (this.core.canServeReads() && this.readyWaiters.length > 0) {
          for (const w of this.readyWaiters.splice(0)) w()
        }
      }
    } catch (error) {
      this.crash(error as Error)
    }
  }

  private applyCommitted(rd: Ready): void {
    let changed = false
    for (const entry of rd.committedEntries) {
      changed = this.applyEntry(entry) || changed
    }
    if (changed) this.scheduleReconcile()
  }

  private applyEntry(entry: Entry): boolean {
    let result: ApplyResult | null = null
    if (entry.kind === 'noop' || entry.kind === 'config') {
      this.db.skip(entry.index)
    } else {
      const decoded = decodeEnvelope(entry.data)
      // A committed entry this node cannot read means it can no longer follow the cluster.
      assert(
        decoded.ok,
        () => `committed entry ${entry.index} is unreadable: ${decoded.ok ? '' : decoded.problem}`,
      )
      result = this.db.apply(entry.index, decoded.envelope.command)
      this.afterApply(entry.index, decoded.envelope, result)
    }
    const waiter = this.waiters.get(entry.index)
    if (waiter !== undefined) {
      this.waiters.delete(entry.index)
      if (waiter.term !== entry.term || result === null) {
        waiter.reject(
          new GeoclusterError('GC_ERR_NO_QUORUM', 'leadership changed before the change committed; retry'),
        )
      } else {
        waiter.resolve({ index: entry.index, result })
      }
    }
    return result?.ok === true
  }

  private afterApply(index: number, envelope: CommandEnvelope, result: ApplyResult): void {
    const c = envelope.command
    const subject = 'name' in c ? c.name : 'key' in c ? c.key : ''
    if (!result.ok) {
      this.emit({
        type: 'database:refused',
        severity: 'warning',
        message: `${c.op} ${subject} refused: ${result.message}`,
        data: { index, by: envelope.by },
      })
      return
    }
    this.emit({
      type: 'database:changed',
      severity: 'info',
      message: `${c.op} ${subject}`.trim(),
      data: { index, by: envelope.by },
    })
    // Bringing a resource back online forgets its failures and restart history (WSFC Start-*).
    const cleared =
      c.op === 'group.setTarget' && c.target === 'online'
        ? this.db.resources(c.name).map((r) => r.name)
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
    if (c.op === 'group.assign') {
      const g = this.db.group(c.name)!
      this.emit({
        type: 'group:owner',
        severity: 'info',
        group: c.name,
        message: `group ${c.name} owned by ${g.owner ?? 'nobody'} with fencing token ${g.fencingToken}`,
      })
    }
  }

  private maybeSnapshot(): void {
    const applied = this.db.appliedIndex
    if (applied - this.lastSnapshotIndex < this.timing.snapshotEntries) return
    const term = this.core.termOf(applied)
    assert(term !== undefined, () => `no term for applied index ${applied}`)
    const meta = { index: applied, term }
    const data = encodeNodeSnapshot({ config: this.core.configAt(applied), database: this.db.snapshot() })
    const file = this.snapshots.save(meta, data)
    this.wal.markSnapshot(meta)
    this.core.compact({ ...meta, config: this.core.configAt(applied) }, data)
    this.wal.rollForCompaction()
    const { oldestKept } = this.snapshots.prune()
    const released = oldestKept === null ? [] : this.wal.releaseTo(oldestKept)
    this.lastSnapshotIndex = applied
    this.emit({
      type: 'storage:snapshot',
      severity: 'info',
      message: `snapshot at index ${applied}; released ${released.length} log segment(s)`,
      data: { file },
    })
  }

  // ---- resources ---------------------------------------------------------------------------

  private scheduleReconcile(): void {
    if (this.reconcileScheduled) return
    this.reconcileScheduled = true
    setImmediate(() => {
      this.reconcileScheduled = false
      this.reconcileNow()
    })
  }

  private reconcileNow(): void {
    if (this.fatal !== null) return
    const leading = this.core.canServeReads() && !this.stopping
    const actions = reconcile({
      node: this.name,
      groups: this.db.groups(),
      resources: this.db.resources(),
      // Stopping, or without quorum, this node holds no claims: everything it runs goes offline.
      claims: leading ? this.claims : new Map(),
      pendingClaims: leading ? this.pendingClaims : new Set(this.db.groups().map((g) => g.name)),
      actual: this.actual,
      ...(leading
        ? {}
        : { claimsWithheld: this.stopping ? `${this.name} is stopping` : `${this.name} has no quorum` }),
    })
    for (const action of actions) {
      switch (action.kind) {
        case 'claim':
          this.claim(action.group)
          break
        case 'start': {
          const r = this.db.resource(action.resource)!
          this.actual.set(r.name, 'starting')
          this.emit({
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
              GEOCLUSTER_NODE: this.name,
              GEOCLUSTER_SITE: this.site,
              GEOCLUSTER_GROUP: r.group,
              GEOCLUSTER_RESOURCE: r.name,
              GEOCLUSTER_FENCING_TOKEN: String(action.fencingToken),
            },
          })
          break
        }
        case 'stop':
          this.actual.set(action.resource, 'stopping')
          this.emit({
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

  private claim(group: string): void {
    this.pendingClaims.add(group)
    this.propose({ op: 'group.assign', name: group, owner: this.name }, `node:${this.name}`)
      .then(({ index, result }) => {
        if (result.ok) this.claims.set(group, index)
        else this.log.warn({ group, reason: result.message }, 'claim refused')
      })
      .catch((error: Error) => this.log.warn({ group, err: error.message }, 'claim failed'))
      .finally(() => {
        this.pendingClaims.delete(group)
        this.scheduleReconcile()
      })
  }

  private onMonitorMessage(m: FromMonitor): void {
    switch (m.t) {
      case 'log':
        this.log[m.level]({ ...m.data, component: 'monitor' }, m.msg)
        return
      case 'ready':
      case 'stopped-all':
        return
      case 'state':
        break
    }
    const r = this.db.resource(m.resource)
    const where = { resource: m.resource, ...(r === undefined ? {} : { group: r.group }) }
    switch (m.state) {
      case 'starting':
      case 'stopping':
        this.actual.set(m.resource, m.state)
        break
      case 'online':
        this.actual.set(m.resource, 'online')
        this.emit({ type: 'resource:online', severity: 'info', ...where, message: `${m.resource} is online` })
        break
      case 'offline':
        this.actual.delete(m.resource)
        this.emit({
          type: 'resource:offline',
          severity: 'info',
          ...where,
          message: `${m.resource} is offline${m.reason === undefined ? '' : ` (${m.reason})`}`,
        })
        break
      case 'failed':
        this.actual.set(m.resource, 'failed')
        this.emit({
          type: 'resource:failed',
          severity: 'error',
          ...where,
          message: `${m.resource} failed: ${m.reason ?? 'unknown reason'}`,
        })
        this.handleFailure(m.resource, m.reason ?? 'unknown reason')
        break
    }
    this.scheduleReconcile()
  }

  /** Restart in place while under the threshold; past it, record the failure in the database. */
  private handleFailure(name: string, reason: string): void {
    const r = this.db.resource(name)
    const g = r === undefined ? undefined : this.db.group(r.group)
    if (r === undefined || g === undefined || !runsHere(g, this.name, this.claims) || this.stopping) {
      this.actual.delete(name)
      return
    }
    const decision = decideAfterFailure(this.restartHistory.get(name) ?? [], this.clock.monotonic(), r)
    const period = `${Math.round(r.restartPeriodMs / 1000)} s`
    if (decision.action === 'restart') {
      this.restartHistory.set(name, decision.restarts)
      this.emit({
        type: 'resource:restart',
        severity: 'warning',
        group: r.group,
        resource: name,
        message: `restarting ${name} in place (restart ${decision.restartsInPeriod} of ${r.restartThreshold} within ${period})`,
      })
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        if (this.actual.get(name) === 'failed') this.actual.delete(name)
        this.scheduleReconcile()
      }, this.timing.restartDelayMs)
      this.timers.add(timer)
      return
    }
    const why = `${reason}; ${decision.restartsInPeriod} restarts within ${period} reached the threshold of ${r.restartThreshold}`
    this.emit({
      type: 'resource:gave-up',
      severity: 'error',
      group: r.group,
      resource: name,
      message: `${name} is failed: ${why}`,
    })
    this.propose({ op: 'resource.markFailed', name, reason: why }, `node:${this.name}`).catch(
      (error: Error) => this.log.warn({ resource: name, err: error.message }, 'could not record the failure'),
    )
  }

  private onMonitorExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || this.fatal !== null) return
    const running = [...this.actual.keys()]
    this.emit({
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
        this.scheduleReconcile()
      })
      .catch((error: Error) => this.crash(new Error(`cannot restart the resource monitor: ${error.message}`)))
  }

  // ---- helpers -----------------------------------------------------------------------------

  private runningResources(): string[] {
    return [...this.actual].filter(([, s]) => s !== 'failed').map(([n]) => n)
  }

  private longestStopMs(): number {
    let longest = 10_000
    for (const r of this.db.resources()) {
      const v = Number(r.params.stopTimeoutMs ?? 0)
      if (v > longest) longest = v
    }
    return longest
  }

  private assertServing(): void {
    if (this.fatal !== null)
      throw new GeoclusterError('GC_ERR_FAILED', `node has failed: ${this.fatal.message}`)
    if (this.stopping) throw new GeoclusterError('GC_ERR_UNREACHABLE', 'the node is shutting down')
  }

  private emit(input: ClusterEventInput): void {
    const e = this.events.emit(input)
    const level = e.severity === 'error' ? 'error' : e.severity === 'warning' ? 'warn' : 'info'
    if (e.type !== 'database:changed')
      this.log[level](
        {
          event: e.type,
          ...(e.group ? { group: e.group } : {}),
          ...(e.resource ? { resource: e.resource } : {}),
        },
        e.message,
      )
  }

  /** Storage or an invariant failed: nothing this node holds can be trusted to go on. */
  private crash(error: Error): void {
    this.fatal = error
    this.log.fatal({ err: error }, 'fatal: the node stops to protect the cluster database')
    process.exitCode = 1
    // The monitor sees the IPC channel close and stops every resource.
    setImmediate(() => process.exit(1))
  }
}

export function dataDirPaths(dataDir: string) {
  return { wal: join(dataDir, 'wal'), snap: join(dataDir, 'snap'), resources: join(dataDir, 'resources') }
}
