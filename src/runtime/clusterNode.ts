/**
 * A cluster node: it owns the data dir (its lock, its storage), the sockets (the mesh, the name
 * responder) and its run state (starting, stopping, failed), and serves the operator's API. What
 * it holds is owned by the parts wired in nodeParts.ts — the replica of the log and database
 * (nodeReplica.ts: quorum model, core, storage, the one Ready loop), leases, the planner's
 * driving, epochs, calls between members, the resource monitor. Writes are acknowledged only
 * once their entry is durable on a quorum and applied here.
 */
import { mkdirSync } from 'node:fs'
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import { functionalLevelMax } from '../database/functionalLevel.ts'
import { assert } from '../errors/assert.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { ClusterEvents, SupportBundle } from '../events/clusterLogReport.ts'
import type { EventLog } from '../events/eventLog.ts'
import type { Logger } from '../events/logger.ts'
import type { MemberReport, SelfReport } from '../membership/memberReport.ts'
import type { FrameCount } from '../mesh/meshTraffic.ts'
import { DataDirLock } from '../storage/dataDirLock.ts'
import type { EventJournal } from '../storage/eventJournal.ts'
import type { WriteAheadLog } from '../storage/writeAheadLog.ts'
import { fencingTiming } from '../topology/clusterTiming.ts'
import { ensureAdminToken } from './adminToken.ts'
import type { AlertDeliveries } from './alertRunner.ts'
import { forwardedApplyWaitMs } from './clientRequests.ts'
import { type Clock, systemClock } from './clock.ts'
import { checkBelongs } from './clusterBootstrap.ts'
import { clusterMembers } from './clusterMembers.ts'
import type { ClusterNodeInit } from './clusterNodeInit.ts'
import { type ConsensusTiming, consensusTiming } from './consensusTiming.ts'
import type { NodeSpec } from './leaderCalls.ts'
import { type LevelUpgrade, upgradeLevel } from './levelUpgrade.ts'
import { NameResponder } from './nameResponder.ts'
import { journaledEventLog, loggedEvents } from './nodeEvents.ts'
import { nodeMeshFor } from './nodeMeshFor.ts'
import { type NodeParts, type NodeRunState, nodeParts } from './nodeParts.ts'
import { nodeStatus } from './nodeStatus.ts'
import { type NodeTiming, nodeTimingDefaults } from './nodeTiming.ts'
import { type RecoveredStorage, recoverStorage } from './recoverStorage.ts'
import { reportRecovery } from './recoveryReport.ts'
import { checkQuorumDisk, checkSupportsLevel, siteOf } from './startChecks.ts'
import type { StatusDocument } from './statusDocument.ts'

export type { Clock, ClusterNodeInit, NodeTiming }
export { nodeTimingDefaults, systemClock }

/** A planned stop gives deliveries of alerts under way (its own stop's among them) this long. */
const alertGraceMs = 1_000
/** A planned stop waits this long for each of its groups' moves to commit. */
const moveAwayTimeoutMs = 2_000

export class ClusterNode {
  readonly name: string
  readonly site: string
  readonly dataDir: string
  readonly adminToken: string
  readonly adminTokenFile: string
  readonly events: EventLog
  /** geocluster's release this node runs. */
  readonly version: string
  /** The highest cluster functional level this node supports. */
  readonly supportedLevel: number
  /** The node's events on disk, from before restarts too. */
  readonly journal: EventJournal
  /** The UDP port the name responder listens on, once it does. */
  nameServicePort: number | null = null
  private readonly init: ClusterNodeInit
  private readonly log: Logger
  private readonly clock: Clock
  private readonly timing: NodeTiming
  private readonly consensus: ConsensusTiming
  private readonly lock: DataDirLock
  private readonly wal: WriteAheadLog
  private readonly emit: (input: ClusterEventInput) => void
  private readonly run: NodeRunState = { stopping: false, closed: false, fatal: null, mesh: null, api: null }
  private readonly p: NodeParts
  private names: NameResponder | null = null

  private constructor(
    init: ClusterNodeInit,
    parts: {
      site: string
      lock: DataDirLock
      token: { token: string; file: string }
      storage: RecoveredStorage
      events: EventLog
      journal: EventJournal
    },
  ) {
    this.init = init
    this.name = init.nodeName
    this.version = init.version ?? 'unknown'
    this.supportedLevel = init.supportedLevel ?? functionalLevelMax
    this.site = parts.site
    this.dataDir = init.dataDir
    this.log = init.logger
    this.clock = init.clock ?? systemClock
    this.timing = { ...nodeTimingDefaults, ...init.timing }
    this.consensus = consensusTiming(init.topology)
    const f = fencingTiming(init.topology)
    // The resource-safety rule: a silent node's groups move only after its lease has ended and
    // its processes are stopped (the topology loader refuses such timing; this is the invariant).
    assert(
      f.downAfterMs > f.fenceAfterMs + f.stopTimeoutMs + f.marginMs,
      () =>
        `downAfter ${f.downAfterMs} ms must exceed fenceAfter ${f.fenceAfterMs} + stopTimeout ${f.stopTimeoutMs} + margin ${f.marginMs} ms`,
    )
    this.lock = parts.lock
    this.adminToken = parts.token.token
    this.adminTokenFile = parts.token.file
    this.events = parts.events
    this.journal = parts.journal
    this.emit = loggedEvents(this.events, this.log)
    this.wal = parts.storage.wal
    this.p = nodeParts({
      init,
      site: parts.site,
      clock: this.clock,
      timing: this.timing,
      consensus: this.consensus,
      fencing: f,
      recovered: parts.storage,
      emit: this.emit,
      crash: (e) => this.crash(e),
      run: this.run,
      local: { events: this.events, status: () => this.status(), adminToken: this.adminToken },
    })
  }

  /** Opens the data dir, recovers, joins the mesh, and resolves once this node serves its API. */
  static async start(init: ClusterNodeInit): Promise<ClusterNode> {
    const site = siteOf(init.topology, init.nodeName)
    checkQuorumDisk(init.topology, init.topologyDir ?? '.')
    mkdirSync(init.dataDir, { recursive: true, mode: 0o700 })
    const lock = await DataDirLock.acquire(init.dataDir, init.command)
    let journal: EventJournal | undefined
    try {
      const token = ensureAdminToken(init.dataDir)
      const clock = init.clock ?? systemClock
      const history = journaledEventLog(init, clock)
      journal = history.journal
      const events = history.events
      const storage = recoverStorage(
        init.dataDir,
        init.segmentBytesMax === undefined ? {} : { segmentBytesMax: init.segmentBytesMax },
      )
      const node = new ClusterNode(init, { site, lock, token, storage, events, journal })
      reportRecovery(storage.report, node.emit, node.log)
      checkBelongs(node.db(), init.topology, init.nodeName, init.dataDir)
      checkSupportsLevel(storage, node.supportedLevel)
      await node.boot()
      return node
    } catch (error) {
      journal?.close()
      lock.release()
      throw error
    }
  }

  // ---- operator surface --------------------------------------------------------------------

  /** Proposes a command; resolves once it is committed and applied here (clientRequests.ts). */
  propose(command: Command, by: string, opts: { whileStopping?: boolean } = {}): Promise<AppliedCommand> {
    return this.p.requests.propose(command, by, opts)
  }

  /** A linearizable read (clientRequests.ts). */
  read<T>(fn: (db: ClusterDatabase) => T, opts: { bulk?: boolean } = {}): Promise<T> {
    return this.p.requests.read(fn, opts)
  }

  /** A read of this node's copy without any check; it may be stale. */
  readLocal<T>(fn: (db: ClusterDatabase) => T): T {
    return fn(this.db())
  }

  status(): StatusDocument {
    const wal = this.wal.statistics()
    return nodeStatus({
      self: this.name,
      core: this.p.core,
      quorum: this.p.quorum,
      db: this.db(),
      mesh: this.run.mesh,
      shareWitness: this.p.replica.shareWitness,
      cloudWitness: this.p.replica.cloudWitness,
      resources: this.p.resources,
      wal: { segments: wal.segments, syncs: wal.syncs },
      stopping: this.run.stopping,
      nowMs: this.clock.now(),
    })
  }

  /** Operator's "fail": the resource fails now and the restart policy applies (Test-ClusterResourceFailure). */
  async failResource(name: string): Promise<void> {
    const r = await this.read((db) => db.resource(name))
    if (r === undefined) throw new GeoclusterError('GC_ERR_NOT_FOUND', `no resource ${name}`)
    const problem = this.p.resources.fail(name)
    if (problem !== null) throw new GeoclusterError('GC_ERR_CONFLICT', problem)
  }

  /** Adds a member: a database record and a vote through a joint configuration change. */
  async addNode(spec: NodeSpec, by: string): Promise<AppliedCommand> {
    const stamped = this.p.requests.stampBy(by)
    return this.p.requests.onLeader({ method: 'addNode', spec }, stamped, () =>
      this.p.membership.add(spec, stamped),
    )
  }

  /** Evicts a member: it loses its vote, its groups, and its key is refused from then on. */
  async evictNode(name: string, by: string): Promise<AppliedCommand> {
    const stamped = this.p.requests.stampBy(by)
    return this.p.requests.onLeader({ method: 'evictNode', name }, stamped, () =>
      this.p.membership.evict(name, stamped),
    )
  }

  /** The operator confirms, on the leader of a forced epoch, that the other side is down. */
  async confirmForced(by: string): Promise<{ epoch: string; index: number }> {
    this.p.assertServing()
    return this.p.epochs.confirm(this.p.requests.stampBy(by), forwardedApplyWaitMs)
  }

  /** Raises the cluster functional level once every node and the witness support it (levelUpgrade.ts). */
  upgradeLevel(level: number | undefined, by: string): Promise<LevelUpgrade> {
    this.p.assertServing()
    return upgradeLevel(
      {
        name: this.name,
        supportedLevel: this.supportedLevel,
        read: (fn) => this.read(fn),
        propose: (command, who) => this.propose(command, who),
        membersReport: () => this.membersReport(),
      },
      level,
      by,
    )
  }

  /** What this node says of itself for `validate`'s live checks: version, clock, its view of the others. */
  selfReport(): SelfReport {
    return this.p.reports.selfReport()
  }

  /** Every member's self-report, asked over the mesh (2 s each), with each one's clock offset. */
  membersReport(): Promise<MemberReport[]> {
    return this.p.reports.membersReport()
  }

  /** Per alert: what this node delivered, gave up, dropped, and what waits. */
  alertDeliveries(): Record<string, AlertDeliveries> {
    return this.p.alerts.deliveries()
  }

  /** Every member's newest events, merged in time order (`events --cluster`). */
  clusterEvents(limit: number): Promise<ClusterEvents> {
    return this.p.clusterLog.clusterEvents(limit)
  }

  /** Every member's support report, secrets removed (`log collect`). */
  supportBundle(): Promise<SupportBundle> {
    return this.p.clusterLog.supportBundle()
  }

  /** Smoothed heartbeat round trip to each member this node pings (ms; null before an answer). */
  peerRtts(): Record<string, number | null> {
    return this.p.reports.peerRtts()
  }

  /** Where this node's admin API listens and how (for validate --live). */
  noteApi(api: { url: string; tlsFingerprint: string | null }): void {
    this.run.api = api
  }

  /** Why the API should take no more work now: the consensus tick is overdue. */
  busy(): string | null {
    return this.p.tickLoop.busy()
  }

  /** The largest delay of the consensus tick over the last minute (ms), for /metrics. */
  tickDelayMaxMs(): number {
    return this.p.tickLoop.delayMaxMs()
  }

  /** Frames this node sent and received on the mesh, by protocol and kind, for /metrics. */
  meshFrames(): FrameCount[] {
    return this.run.mesh?.traffic.list() ?? []
  }

  statistics() {
    return {
      raft: this.p.core.status(),
      wal: this.wal.statistics(),
      events: this.events.lastSeq,
      mesh: this.run.mesh?.mesh.linkStats() ?? [],
    }
  }

  /** The peer ID this node answers to on the mesh ('' for a one-node lab without a mesh). */
  get peerId(): string {
    return this.run.mesh?.mesh.peerId ?? ''
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  private async boot(): Promise<void> {
    const { init, p } = this
    p.alerts.start()
    await p.resources.start()
    if (init.nameService !== undefined) {
      this.names = new NameResponder({ db: () => this.db(), logger: this.log, ...init.nameService })
      const port = await this.names.start()
      this.log.info({ host: init.nameService.host, port }, 'name responder listening (DNS over UDP)')
      this.nameServicePort = port
    }
    await p.quorum.start()
    await p.replica.shareWitness?.witness.start()
    await p.replica.cloudWitness?.start()
    if (p.quorum.meshed) await this.startMesh()
    p.tickLoop.start(() => p.everyTick())
    if (init.forceQuorum === true) p.epochs.force(init.otherSideIsDown === true)
    p.tickLoop.tickCore()
    p.replica.driver.schedule()
    if (p.quorum.soleVoter) {
      // One voter: wait for it to lead, and bootstrap the database before serving.
      await p.leadership.leadsAlone()
      await p.bootstrap.maybe()
    }
    const mesh = this.run.mesh
    this.emit({
      type: 'node:started',
      severity: 'info',
      message: `${this.name} (site ${this.site}) is up; cluster ${init.topology.cluster.name}${mesh === null ? '' : ` on ${mesh.mesh.listening.join(', ')}`}`,
    })
    p.resources.schedule()
  }

  private async startMesh(): Promise<void> {
    const { init, p } = this
    const core = p.core
    const w = p.replica.shareWitness
    // Kept before it starts, so that answers to the first messages can go out on it.
    this.run.mesh = await nodeMeshFor({
      name: this.name,
      site: this.site,
      dataDir: this.dataDir,
      topology: init.topology,
      topologyDir: init.topologyDir ?? '.',
      logger: this.log,
      monotonic: () => this.clock.monotonic(),
      ...(w === null ? {} : { relayedWitness: w.name }),
      resourceStates: () => Object.fromEntries(p.resources.actual),
      resourceRestarts: () => Object.fromEntries(p.resources.recentRestarts()),
      onRaft: (m) => p.replica.routing.fromMesh(m),
      leaderView: () => ({ leader: core.status().leader ?? '', term: core.status().term }),
      epoch: () => core.epochIdentity(),
      leaseFor: (from, asker) => p.leases.leaseFor(from, asker),
      onLease: (_from, grantor, askedAt, mustApply) => p.leases.grantedBy(grantor, askedAt, mustApply),
      onAdmin: (from, call) => p.desk.answer(from, call),
    })
    await this.run.mesh.start(clusterMembers(this.db(), init.topology))
  }

  /** Graceful stop: take this node's groups offline in dependency order, then close storage. */
  async stop(): Promise<void> {
    const { p, run } = this
    if (run.stopping) return
    const margin = this.timing.shutdownMarginMs
    p.resources.announceStopping(moveAwayTimeoutMs + p.resources.longestStopMs() + 2 * margin)
    // A planned stop moves this node's groups away (WSFC moves them when the service stops):
    // each is stopped here in dependency order, released, and placed elsewhere at once.
    const moved =
      run.mesh === null || !p.leases.valid()
        ? 0
        : await p.failover.moveAway(
            `${this.name} is shutting down`,
            (c) => this.propose(c, `node:${this.name}`),
            moveAwayTimeoutMs,
          )
    run.stopping = true
    this.emit({
      type: 'node:stopping',
      severity: 'info',
      message: `${this.name} is stopping; ${moved > 0 ? `moving its ${moved} group(s) to other nodes` : 'taking its groups offline'}`,
    })
    await p.resources.stop(this.clock.monotonic() + p.resources.longestStopMs() + margin, margin)
    // Released only now that its groups are stopped: the next holder need not wait in full.
    await p.quorum.stop()
    await p.replica.shareWitness?.witness.stop()
    await p.replica.cloudWitness?.stop()
    await this.handLeadershipOver()
    p.tickLoop.stop()
    // No new Ready cycles from here on; let the one under way finish its fsync.
    run.closed = true
    await p.replica.driver.close()
    await p.replica.database.settled()
    p.replica.tracker.failProposals(
      new GeoclusterError('GC_ERR_UNREACHABLE', 'the node stopped before the change committed'),
    )
    await run.mesh?.stop()
    await this.names?.stop()
    this.wal.close()
    this.emit({ type: 'node:stopped', severity: 'info', message: `${this.name} stopped` })
    await p.alerts.stop(alertGraceMs)
    this.journal.close()
    this.lock.release()
  }

  /** Hands leadership over before leaving (planned shutdown), if another voter is there to take it. */
  private async handLeadershipOver(): Promise<void> {
    const core = this.p.core
    if (core.status().role !== 'leader') return
    const config = core.config()
    const to = Object.entries(config.incoming).find(
      ([id, w]) => w > 0 && id !== this.name && id !== config.witness,
    )
    if (to === undefined || !core.transferLeadership(to[0])) return
    this.p.replica.driver.schedule()
    const { tickMs, electionTicks } = this.consensus
    await new Promise((r) => setTimeout(r, Math.min(2_000, tickMs * electionTicks)))
  }

  private db(): ClusterDatabase {
    return this.p.replica.database.current
  }

  /** Storage or an invariant failed: nothing this node holds can be trusted to go on. */
  private crash(error: Error): void {
    this.run.fatal = error
    this.log.fatal({ err: error }, 'fatal: the node stops to protect the cluster database')
    process.exitCode = 1
    // The monitor sees the IPC channel close and stops every resource.
    setImmediate(() => process.exit(1))
  }
}
