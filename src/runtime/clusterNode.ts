/**
 * The node runtime: the composition root that owns the timers, files, sockets and child
 * processes and drives the pure cores. Its loop is etcd-io/raft's: take a Ready from the
 * consensus core; wipe or install what it says; apply what is committed to the cluster
 * database; persist and fsync new entries and the hard state; only then send its messages;
 * advance. Writes are acknowledged only after their entry is durable on a quorum and applied,
 * and many writes that arrive during one fsync share the next one (group commit).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { describeEpoch, epochOf } from '../consensus/configuration.ts'
import type { ConsensusCore } from '../consensus/consensusCore.ts'
import { votesNeeded } from '../consensus/quorum/voteMath.ts'
import { RaftCore } from '../consensus/raftCore.ts'
import type { Entry, Message, ReadState, Ready } from '../consensus/types.ts'
import { type ApplyResult, ClusterDatabase } from '../database/clusterDatabase.ts'
import {
  type Command,
  type CommandEnvelope,
  commandBytesMax,
  commandSchema,
  decodeEnvelope,
  encodeEnvelope,
  nodeAddSpec,
  nodeNameSpec,
} from '../database/commands.ts'
import { type AppliedCommand, applyCommitted } from '../database/committedCommand.ts'
import { assert } from '../errors/assert.ts'
import { GeoclusterError, isErrorCode } from '../errors/errors.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import { EventLog } from '../events/eventLog.ts'
import type { Logger } from '../events/logger.ts'
import { type NodeView, planFailover } from '../failover/failoverPlanner.ts'
import type { ActualState } from '../failover/groupReconciler.ts'
import { Lease } from '../failover/lease.ts'
import { earlierLeasesAskedBefore, mayGrant, reassignableAtMs } from '../failover/leaseAuthority.ts'
import type { MemberReport, SelfReport } from '../membership/memberReport.ts'
import { loadSecret } from '../mesh/clusterSecret.ts'
import { loadOrCreateIdentity } from '../mesh/nodeIdentity.ts'
import { DataDirLock } from '../storage/dataDirLock.ts'
import type { SnapshotStore } from '../storage/snapshotStore.ts'
import { StorageExhaustedError } from '../storage/storageErrors.ts'
import type { WriteAheadLog } from '../storage/writeAheadLog.ts'
import { diskTiming, type FencingTiming, fencingTiming } from '../topology/clusterTiming.ts'
import type { Topology } from '../topology/topologySchema.ts'
import { ensureAdminToken } from './adminToken.ts'
import { carriedFloor, dropCarriedFloor, keepCarriedFloor } from './carriedTokenFloor.ts'
import { type ConsensusTiming, consensusTiming } from './consensusTiming.ts'
import { DiskQuorum } from './diskQuorum.ts'
import { FileShareWitness } from './fileShareWitness.ts'
import { LoopTurns } from './loopTurns.ts'
import { NameResponder } from './nameResponder.ts'
import { type AdminCall, dialFromOf, type Member, NodeMesh } from './nodeMesh.ts'
import { decodeNodeSnapshot, encodeNodeSnapshot } from './nodeSnapshot.ts'
import { type NodeTiming, nodeTimingDefaults } from './nodeTiming.ts'
import { RecentMaximum } from './recentMaximum.ts'
import { recoverStorage } from './recoverStorage.ts'
import { ResourceHost } from './resourceHost.ts'
import { SnapshotWriter } from './snapshotWriter.ts'
import { buildStatus, type StatusDocument } from './statusDocument.ts'
import { guardTimer } from './timerGuard.ts'
import { topologyConfiguration } from './topologyConfiguration.ts'

export interface Clock {
  /** Wall clock, ms since the epoch: for people (event times), never for decisions. */
  now(): number
  /** Monotonic ms: for every duration the node acts on. */
  monotonic(): number
}

export type { NodeTiming }
export { nodeTimingDefaults }

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() }

export interface ClusterNodeInit {
  dataDir: string
  /** geocluster's version (for validate's live checks). */
  version?: string
  topology: Topology
  /** Directory of the topology file: its relative paths (the secret) resolve from here. */
  topologyDir?: string
  nodeName: string
  logger: Logger
  /** What started the node, for the data-dir lock's message (`geocluster lab`). */
  command: string
  timing?: Partial<NodeTiming>
  clock?: Clock
  random?: () => number
  segmentBytesMax?: number
  /**
   * Disaster recovery (WSFC /forcequorum): once started, this node alone forms a new
   * configuration (a new epoch) from its own log. Refused for the one-voter lab.
   */
  forceQuorum?: boolean
  /**
   * With `forceQuorum`: the operator asserts the other side is down, so the forced epoch takes
   * writes and runs groups at once. Without it, the epoch stays read-only until confirmed
   * (`geocluster cluster confirm-forced --other-side-is-down`).
   */
  otherSideIsDown?: boolean
  /** WSFC /pq: take part in no election until a leader has been heard (see RaftOptions). */
  preventQuorum?: boolean
  /** Serve the cluster's network names over DNS (UDP) here; off when absent. */
  nameService?: { host: string; port: number }
}

interface Waiter {
  term: number
  resolve: (applied: AppliedCommand) => void
  reject: (error: Error) => void
}

const forwardedApplyWaitMs = 10_000
/** The API sheds load once the consensus tick is this late (or a third of the election timeout). */
const tickOverdueShedMs = 250
/** A storage fault that goes on is said again this often. */
const storageProblemRepeatMs = 30_000
/** A planned stop waits this long for each of its groups' moves to commit. */
const moveAwayTimeoutMs = 2_000

const actualStates: ReadonlySet<string> = new Set<ActualState>([
  'offline',
  'starting',
  'online',
  'stopping',
  'failed',
])

/**
 * Contents the consensus core would carry into the database must be readable before they are
 * taken: a command entry must decode, a snapshot must be one. Crash-fault consensus trusts
 * members, but a damaged or hostile frame must not become a crash later, at apply time.
 */
function payloadProblem(m: Message): string | null {
  if (m.type === 'append') {
    for (const e of m.entries) {
      if (e.kind !== 'command') continue
      // A known command with a refused field is taken: every node refuses it alike at apply.
      const decoded = decodeEnvelope(e.data)
      if (!decoded.ok && !decoded.known) return `entry ${e.index}: ${decoded.problem}`
    }
  }
  if (m.type === 'snapshot') {
    const decoded = decodeNodeSnapshot(m.data)
    if (typeof decoded === 'string') return `snapshot: ${decoded}`
  }
  return null
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
  private readonly consensus: ConsensusTiming
  private readonly fencing: FencingTiming
  /** This node's lease to run its groups. */
  private readonly lease = new Lease()
  private leaseHeld = false
  private names: NameResponder | null = null
  /** The UDP port the name responder listens on, once it does. */
  nameServicePort: number | null = null
  private readonly random: () => number
  private epochConflictSaid = false
  /** A fencing floor from a history this node gave up, not yet in this cluster's database. */
  private carriedFloorPending: { floor: number; from: string } | null
  private carryingFloor = false
  private readonly version: string
  /** When this node started, and since when each member has been up (monotonic ms). */
  private readonly startedAt: number
  private readonly upSince = new Map<string, number>()
  /** Groups with a failover decision proposed and not yet applied. */
  private readonly planning = new Set<string>()
  /** The last reason given per group that could not be placed (said once, not every tick). */
  private readonly stuckReasons = new Map<string, string>()
  /** Monotonic ms when this node last became leader (null while it is not). */
  private leaderSince: number | null = null
  private readonly lock: DataDirLock
  private db: ClusterDatabase
  private readonly core: ConsensusCore
  /** The disk quorum model's lease and recovery log (null under the other models). */
  private readonly diskQuorum: DiskQuorum | null
  /** A file-share witness this node may serve (null unless the topology has one). */
  private readonly shareWitness: FileShareWitness | null
  private readonly wal: WriteAheadLog
  private readonly snapshots: SnapshotStore
  private readonly snapshotWriter: SnapshotWriter
  private readonly resources: ResourceHost
  private mesh: NodeMesh | null = null
  private readonly waiters = new Map<number, Waiter>()
  private readonly readWaiters = new Map<string, (index: number) => void>()
  private appliedWaiters: { index: number; resolve: () => void }[] = []
  private readySoleVoter: (() => void)[] = []
  private ticker: NodeJS.Timeout | null = null
  private driving: Promise<void> | null = null
  private driveAgain = false
  /** The last write this node's storage refused, until a write succeeds again. */
  private storageProblem: StorageExhaustedError | null = null
  private storageProblemSaidAt = 0
  /** When the tick last ran (monotonic ms): the API sheds load while the next one is overdue. */
  private lastTickAt = 0
  private readonly bulkTurns = new LoopTurns()
  private readonly tickDelay = new RecentMaximum(60_000)
  /** When the mesh dropped each former member (monotonic ms): its last possible lease renewal. */
  private readonly departedAt = new Map<string, number>()
  private api: { url: string; tlsFingerprint: string | null } | null = null
  private lastSnapshotIndex: number
  private readSeq = 0
  private bootstrapProposed = false
  private lastLeader: string | null = null
  private lastQuorate = false
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
    this.consensus = consensusTiming(init.topology)
    this.fencing = fencingTiming(init.topology)
    this.random = init.random ?? Math.random
    this.version = init.version ?? 'unknown'
    this.startedAt = this.clock.monotonic()
    const f = this.fencing
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
    this.wal = parts.storage.wal
    this.snapshots = parts.storage.snapshots
    this.lastSnapshotIndex = parts.storage.report.snapshotIndex
    this.snapshotWriter = new SnapshotWriter({
      dataDir: init.dataDir,
      wal: this.wal,
      snapshots: this.snapshots,
      core: () => this.core,
      emit: (e) => this.emit(e),
      storageFault: (e) => this.storageFault(e),
      crash: (e) => this.crash(e),
      written: () => this.scheduleDrive(),
    })
    const disk = init.topology.quorum.disk
    this.diskQuorum =
      init.topology.quorum.model === 'disk' && disk !== undefined
        ? new DiskQuorum({
            self: init.nodeName,
            path: resolvePath(init.topologyDir ?? '.', disk.path),
            logDir: disk.logDir === undefined ? undefined : resolvePath(init.topologyDir ?? '.', disk.logDir),
            timing: diskTiming(init.topology),
            configuration: topologyConfiguration(init.topology),
            monotonic: () => this.clock.monotonic(),
            logger: this.log,
            tailMs: this.consensus.tickMs * 2,
            peerDown: (name) => this.peerLost(name),
            emit: (e) => this.emit(e),
            changed: () => this.scheduleDrive(),
            crash: (e) => this.crash(e),
          })
        : null
    const w = init.topology.witness
    this.shareWitness =
      w !== undefined && w.type === 'file-share' && w.path !== undefined
        ? new FileShareWitness({
            self: init.nodeName,
            witness: w.name,
            path: resolvePath(init.topologyDir ?? '.', w.path),
            timing: diskTiming(init.topology),
            electionTicks: this.consensus.electionTicks,
            monotonic: () => this.clock.monotonic(),
            logger: this.log,
            emit: (e) => this.emit(e),
            send: (m) => this.sendFromWitness(m),
            peerDown: (name) => this.peerLost(name),
            crash: (e) => this.crash(e),
          })
        : null
    // Under the disk model the database comes from the recovery log on the disk, not the data dir.
    this.db = this.diskQuorum === null ? parts.storage.db : new ClusterDatabase()
    this.core =
      this.diskQuorum?.core ??
      new RaftCore(
        {
          id: init.nodeName,
          electionTicks: this.consensus.electionTicks,
          heartbeatTicks: this.consensus.heartbeatTicks,
          random: init.random ?? Math.random,
          dynamicQuorum: init.topology.quorum.dynamic
            ? { downAfterTicks: this.consensus.electionTicks }
            : null,
          preventQuorum: init.preventQuorum === true,
        },
        { ...parts.storage.restore, initialConfig: topologyConfiguration(init.topology) },
      )
    this.carriedFloorPending = carriedFloor(init.dataDir)
    this.resources = new ResourceHost({
      name: this.name,
      site: this.site,
      dataDir: init.dataDir,
      logger: this.log,
      monotonic: () => this.clock.monotonic(),
      restartDelayMs: this.timing.restartDelayMs,
      fenceStopMs: this.fencing.stopTimeoutMs,
      db: () => this.db,
      // Releases must still go out while the node stops (that is when it releases its groups).
      propose: (command, by) => this.propose(command, by, { whileStopping: true }),
      emit: (e) => this.emit(e),
      mayRun: () =>
        this.lease.valid(this.clock.monotonic())
          ? { ok: true }
          : { ok: false, why: `${this.name} holds no lease from a quorate leader` },
      mayStart: () => this.lease.mayStart(this.clock.monotonic(), this.db.appliedIndex),
      crash: (error) => this.crash(error),
    })
  }

  /** Opens the data dir, recovers, joins the mesh, and resolves once this node serves its API. */
  static async start(init: ClusterNodeInit): Promise<ClusterNode> {
    const { topology, nodeName } = init
    const site = topology.sites.find((s) => s.nodes.some((n) => n.name === nodeName))?.name
    if (site === undefined) {
      const names = topology.sites.flatMap((s) => s.nodes.map((n) => n.name)).join(', ')
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `node ${nodeName} is not in the topology (nodes: ${names})`,
        { path: 'node' },
      )
    }
    const disk = topology.quorum.disk
    if (topology.quorum.model === 'disk' && disk !== undefined && disk.logDir === undefined) {
      const path = resolvePath(init.topologyDir ?? '.', disk.path)
      if (existsSync(path) && statSync(path).isBlockDevice())
        throw new GeoclusterError(
          'GC_ERR_CONFIG',
          `quorum.disk.logDir: required when quorum.disk.path (${path}) is a block device: the recovery log needs a directory on shared storage`,
          { path: 'quorum.disk.logDir' },
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
      node.checkBelongs()
      await node.boot(init)
      return node
    } catch (error) {
      lock.release()
      throw error
    }
  }

  // ---- operator surface --------------------------------------------------------------------

  /**
   * Proposes a command and resolves once it is committed and applied (or refused by the
   * database). On a follower the command goes to the leader; the answer comes back once this
   * node has applied it too, so what the caller reads next includes it.
   */
  async propose(
    command: Command,
    requestedBy: string,
    opts: { whileStopping?: boolean } = {},
  ): Promise<AppliedCommand> {
    if (opts.whileStopping !== true || this.fatal !== null) this.assertServing()
    const by = this.stampBy(requestedBy)
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
    if (this.core.status().role === 'leader') return this.proposeHere(checked.data, by)
    const answer = await this.callLeader({
      method: 'propose',
      path: '',
      body: Buffer.from(JSON.stringify({ command: checked.data })),
      by,
    })
    const applied = answer as AppliedCommand
    await this.appliedThrough(applied.index, forwardedApplyWaitMs)
    return applied
  }

  /**
   * A linearizable read: confirm leadership with a quorum (read-index) and wait until this node
   * has applied that far; a deposed leader or a cut-off node cannot pass, so it never serves a
   * stale value as current.
   */
  async read<T>(fn: (db: ClusterDatabase) => T, opts: { bulk?: boolean } = {}): Promise<T> {
    this.assertServing()
    await this.readBarrier()
    // Many reads wait on one barrier and resume together: the tick comes first if they pile up,
    // and a read that may list the whole database takes a loop turn of its own.
    if (opts.bulk === true) await this.bulkTurns.take()
    const busy = this.busy()
    if (busy !== null)
      throw new GeoclusterError('GC_ERR_BUSY', `${this.name} is busy (${busy}); retry shortly`)
    return fn(this.db)
  }

  /** A read of this node's copy without any check; it may be stale. */
  readLocal<T>(fn: (db: ClusterDatabase) => T): T {
    return fn(this.db)
  }

  status(): StatusDocument {
    const raft = this.core.status()
    const config = raft.config
    const weights = new Map(Object.entries(config.incoming))
    const quorate = this.core.quorate() && !this.stopping
    // A member taking a snapshot (from this leader, or this node itself) is still joining.
    const catchingUp = new Set(
      (this.mesh?.catchUpTransfers() ?? []).map((t) => (t.direction === 'sending' ? t.peer : this.name)),
    )
    const shareWitness = this.shareWitness
    const stateOf = (name: string): 'up' | 'down' | 'joining' =>
      shareWitness !== null && name === this.topology.witness?.name
        ? shareWitness.host() === null
          ? 'down'
          : 'up'
        : catchingUp.has(name)
          ? 'joining'
          : name === this.name
            ? 'up'
            : this.mesh === null
              ? 'down'
              : (this.mesh.peerState(name) ?? 'down')
    const present = [...weights]
      .filter(([id, w]) => w > 0 && stateOf(id) === 'up')
      .reduce((sum, [, w]) => sum + w, 0)
    return buildStatus({
      db: this.db,
      self: this.name,
      term: raft.term,
      leader: raft.leader,
      quorum:
        this.diskQuorum === null
          ? {
              model: this.topology.quorum.model,
              state: quorate ? 'quorate' : 'no-quorum',
              votesPresent: present,
              votesTotal: [...weights.values()].reduce((a, b) => a + b, 0),
              votesNeeded: votesNeeded(weights),
              epoch: config.epoch,
              forced: config.forced,
              epochId: config.epochId ?? '',
              confirmed: config.unconfirmed !== true,
              conflict:
                raft.epochConflict === null
                  ? null
                  : `epoch ${raft.epochConflict.ours} met ${raft.epochConflict.theirs} from ${raft.epochConflict.from}`,
            }
          : // The quorum disk is the one vote; its ballot counts the holders it has had.
            {
              model: 'disk',
              state: quorate ? 'quorate' : 'no-quorum',
              votesPresent: raft.leader === null ? 0 : 1,
              votesTotal: 1,
              votesNeeded: 1,
              epoch: raft.term,
              forced: false,
              epochId: '',
              confirmed: true,
              conflict: null,
            },
      nodeState: (name) => stateOf(name),
      votesOf: (name) =>
        this.diskQuorum === null && Object.hasOwn(config.incoming, name) ? config.incoming[name]! : 0,
      actual: this.clusterResourceStates(),
      restarts: this.resources.restartHistory,
      storage: {
        commitIndex: raft.commit,
        appliedIndex: this.db.appliedIndex,
        snapshotIndex: raft.snapshotIndex,
        walSegments: this.wal.statistics().segments,
        walSyncs: this.wal.statistics().syncs,
      },
      catchUp: this.mesh?.catchUpTransfers() ?? [],
    })
  }

  /** Operator's "fail": the resource fails now and the restart policy applies (Test-ClusterResourceFailure). */
  async failResource(name: string): Promise<void> {
    const r = await this.read((db) => db.resource(name))
    if (r === undefined) throw new GeoclusterError('GC_ERR_NOT_FOUND', `no resource ${name}`)
    const problem = this.resources.fail(name)
    if (problem !== null) throw new GeoclusterError('GC_ERR_CONFLICT', problem)
  }

  /** Adds a member: a database record and a vote through a joint configuration change. */
  async addNode(
    spec: { name: string; site: string; address: string; peerId: string; votes: number },
    by: string,
  ): Promise<AppliedCommand> {
    const stamped = this.stampBy(by)
    return this.onLeader('addNode', spec, stamped, async () => {
      const added = await this.proposeHere({ op: 'node.add', ...spec }, stamped)
      if (!added.result.ok) return added
      await this.changeMembership((base) => ({ ...base, [spec.name]: spec.votes }))
      return added
    })
  }

  /** Evicts a member: it loses its vote, its groups, and its key is refused from then on. */
  async evictNode(name: string, by: string): Promise<AppliedCommand> {
    const stamped = this.stampBy(by)
    return this.onLeader('evictNode', { name }, stamped, async () => {
      if (name === this.name)
        throw new GeoclusterError('GC_ERR_CONFLICT', 'the leader cannot evict itself; move leadership first')
      const evicted = await this.proposeHere({ op: 'node.evict', name }, stamped)
      if (!evicted.result.ok) return evicted
      await this.changeMembership((base) => {
        const next = { ...base }
        delete next[name]
        return next
      })
      return evicted
    })
  }

  /** Graceful stop: take this node's groups offline in dependency order, then close storage. */
  async stop(): Promise<void> {
    if (this.stopping) return
    this.resources.announceStopping(
      moveAwayTimeoutMs + this.resources.longestStopMs() + 2 * this.timing.shutdownMarginMs,
    )
    // A planned stop moves this node's groups away (WSFC moves them when the service stops):
    // each is stopped here in dependency order, released, and placed elsewhere at once.
    const moved = await this.moveGroupsAway(`${this.name} is shutting down`)
    this.stopping = true
    this.emit({
      type: 'node:stopping',
      severity: 'info',
      message: `${this.name} is stopping; ${moved > 0 ? `moving its ${moved} group(s) to other nodes` : 'taking its groups offline'}`,
    })
    const deadline = this.clock.monotonic() + this.resources.longestStopMs() + this.timing.shutdownMarginMs
    await this.resources.stop(deadline, this.timing.shutdownMarginMs)
    // Released only now that its groups are stopped: the next holder need not wait in full.
    await this.diskQuorum?.stop()
    await this.shareWitness?.stop()
    // Hand leadership over before leaving (planned shutdown), if another voter is there to take it.
    if (this.core.status().role === 'leader') {
      const to = Object.entries(this.core.config().incoming).find(
        ([id, w]) => w > 0 && id !== this.name && id !== this.core.config().witness,
      )?.[0]
      if (to !== undefined && this.core.transferLeadership(to)) {
        this.scheduleDrive()
        await new Promise((r) =>
          setTimeout(r, Math.min(2_000, this.consensus.tickMs * this.consensus.electionTicks)),
        )
      }
    }
    if (this.ticker !== null) clearInterval(this.ticker)
    // No new Ready cycles from here on; let the one under way finish its fsync.
    this.closed = true
    while (this.driving !== null) await this.driving
    await this.snapshotWriter.settled()
    for (const [, w] of this.waiters)
      w.reject(new GeoclusterError('GC_ERR_UNREACHABLE', 'the node stopped before the change committed'))
    this.waiters.clear()
    await this.mesh?.stop()
    await this.names?.stop()
    this.wal.close()
    this.emit({ type: 'node:stopped', severity: 'info', message: `${this.name} stopped` })
    this.lock.release()
  }

  /**
   * Every resource's state as its group's owner last said: this node's own, and the others' from
   * their answers to its heartbeats — so status through any node shows groups wherever they run.
   */
  private clusterResourceStates(): ReadonlyMap<string, ActualState> {
    const states = new Map(this.resources.actual)
    for (const g of this.db.groups()) {
      if (g.owner === null || g.owner === this.name) continue
      const remote = this.mesh?.peerResourceStates(g.owner) ?? null
      for (const r of this.db.resources(g.name)) {
        const reported = remote?.get(r.name)
        if (reported !== undefined && actualStates.has(reported)) states.set(r.name, reported as ActualState)
        else states.delete(r.name)
      }
    }
    return states
  }

  /** What this node says of itself for `validate`'s live checks: version, clock, its view of the others. */
  selfReport(): SelfReport {
    const peers: SelfReport['peers'] = {}
    for (const m of this.members())
      if (m.name !== this.name)
        peers[m.name] = {
          state: this.mesh?.peerState(m.name) ?? 'down',
          rttMs: this.mesh?.detector.rtt(m.name) ?? null,
        }
    return {
      node: this.name,
      site: this.site,
      version: this.version,
      wallMs: this.clock.now(),
      peers,
      api: this.api,
    }
  }

  /** Where this node's admin API listens and how (for validate --live). */
  noteApi(api: { url: string; tlsFingerprint: string | null }): void {
    this.api = api
  }

  /**
   * Every member's self-report, asked over the mesh (2 s each), with the clock offset of each
   * estimated from the round trip (NTP's midpoint rule); unreachable members say why.
   */
  async membersReport(): Promise<MemberReport[]> {
    const names = this.members()
      .map((m) => m.name)
      .filter((n) => n !== this.topology.witness?.name)
    return Promise.all(
      names.map(async (name): Promise<MemberReport> => {
        if (name === this.name) return { ...this.selfReport(), offsetMs: 0, error: null }
        const t0 = this.clock.now()
        try {
          if (this.mesh === null) throw new Error('no mesh')
          const answer = await Promise.race([
            this.mesh.forward(name, {
              method: 'selfReport',
              path: '',
              body: Buffer.from('{}'),
              by: `node:${this.name}`,
            }),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error('no answer within 2 s')), 2_000),
            ),
          ])
          const t1 = this.clock.now()
          const report = JSON.parse(Buffer.from(answer.body).toString('utf8')) as SelfReport
          return { ...report, offsetMs: Math.round(report.wallMs - (t0 + t1) / 2), error: null }
        } catch (error) {
          return {
            node: name,
            site: '',
            version: '',
            wallMs: 0,
            peers: {},
            offsetMs: null,
            error: (error as Error).message,
          }
        }
      }),
    )
  }

  /** A member this node heard from and then stopped hearing (not one it has yet to meet). */
  private peerLost(name: string): boolean {
    return this.mesh?.peerState(name) === 'down' && this.mesh.detector.lastHeard(name) !== null
  }

  /** Smoothed heartbeat round trip to each member this node pings (ms; null before an answer). */
  peerRtts(): Record<string, number | null> {
    const out: Record<string, number | null> = {}
    for (const m of this.members())
      if (m.name !== this.name) out[m.name] = this.mesh?.detector.rtt(m.name) ?? null
    return out
  }

  statistics() {
    return {
      raft: this.core.status(),
      wal: this.wal.statistics(),
      events: this.events.lastSeq,
      mesh: this.mesh?.mesh.linkStats() ?? [],
    }
  }

  /** Asks for every group this node runs to be moved elsewhere; how many were accepted. */
  private async moveGroupsAway(reason: string): Promise<number> {
    if (this.mesh === null || !this.lease.valid(this.clock.monotonic())) return 0
    const mine = this.db
      .groups()
      .filter((g) => g.owner === this.name && g.moving === null && g.target === 'online')
    const outcomes = await Promise.all(
      mine.map((g) =>
        Promise.race([
          this.propose(
            {
              op: 'group.move',
              name: g.name,
              expect: { owner: this.name, token: g.fencingToken },
              to: null,
              avoid: this.name,
              kind: 'move',
              reason,
            },
            `node:${this.name}`,
          ).then((a) => a.result.ok),
          new Promise<boolean>((r) => setTimeout(() => r(false), moveAwayTimeoutMs)),
        ]).catch(() => false),
      ),
    )
    return outcomes.filter(Boolean).length
  }

  // ---- the Failover Manager's cluster half (leader only) -------------------------------------

  /**
   * Gives the mesh the current members. A member it drops (evicted) is heard no more and gets
   * no more lease renewals from here: when that was is remembered, so its groups wait until its
   * lease has certainly ended (the downAfter rule) rather than moving at once.
   */
  private setMeshMembers(): void {
    if (this.mesh === null) return
    const members = this.members()
    const now = this.clock.monotonic()
    const staying = new Set(members.map((m) => m.name))
    for (const n of this.db.nodes()) {
      if (staying.has(n.name) || this.departedAt.has(n.name)) continue
      const heard = this.mesh.detector.lastHeard(n.name)
      if (heard !== null || this.mesh.peerState(n.name) !== undefined) this.departedAt.set(n.name, now)
    }
    this.mesh.setMembers(members)
  }

  /** What the leader knows of each node, for placement. */
  private nodeViews(now: number): NodeView[] {
    const leaderSince = this.leaderSince ?? now
    return this.db.nodes().map((n) => {
      const self = n.name === this.name
      const seen = self ? 'up' : (this.mesh?.peerState(n.name) ?? 'down')
      // A member the mesh dropped counts as heard until it was dropped (see setMeshMembers).
      const lastHeard = self
        ? now
        : (this.mesh?.detector.lastHeard(n.name) ?? this.departedAt.get(n.name) ?? null)
      const state =
        seen === 'up'
          ? 'up'
          : now >=
              reassignableAtMs(
                lastHeard,
                this.earlierLeasesAskedBefore(leaderSince),
                this.fencing.downAfterMs,
              )
            ? 'down'
            : 'suspect'
      const upSince = self ? this.startedAt : this.upSince.get(n.name)
      return {
        name: n.name,
        site: n.site,
        state,
        upForMs: state === 'up' && upSince !== undefined ? now - upSince : 0,
        paused: n.paused === true || (self && this.stopping),
        draining: n.draining === true || (self && this.stopping),
        evicted: n.evicted === true,
      }
    })
  }

  /** Runs the planner and proposes its decisions; called every tick on the leader. */
  private planFailover(): void {
    if (this.closed || this.fatal !== null) return
    const raft = this.core.status()
    if (raft.role !== 'leader' || !this.core.committedInTerm() || this.db.cluster() === undefined) return
    // Decide on the newest committed state only.
    if (this.db.appliedIndex < raft.commit) return
    const now = this.clock.monotonic()
    const wall = this.clock.now()
    const actions = planFailover({
      groups: this.db.groups(),
      resources: this.db.resources(),
      nodes: this.nodeViews(now),
      nowMs: wall,
      hourOfDay: new Date(wall).getHours(),
      failbackAfterUpMs: this.fencing.downAfterMs,
      inFlight: this.planning,
      random: this.random,
    })
    for (const action of actions) {
      if (action.kind === 'stuck') {
        if (this.stuckReasons.get(action.group) === action.reason) continue
        this.stuckReasons.set(action.group, action.reason)
        this.emit({ type: 'group:stuck', severity: 'warning', group: action.group, message: action.reason })
        continue
      }
      this.stuckReasons.delete(action.group)
      const command: Command =
        action.kind === 'assign'
          ? {
              op: 'group.assign',
              name: action.group,
              expect: action.expect,
              owner: action.owner,
              kind: action.move,
              reason: action.reason,
              at: wall,
            }
          : action.kind === 'move'
            ? {
                op: 'group.move',
                name: action.group,
                expect: action.expect,
                to: action.to,
                avoid: action.avoid,
                kind: action.move,
                reason: action.reason,
                at: wall,
              }
            : action.kind === 'release'
              ? { op: 'group.release', name: action.group, token: action.token }
              : { op: 'group.fail', name: action.group, reason: action.reason }
      this.planning.add(action.group)
      this.proposeHere(command, `node:${this.name}`)
        .then((applied) => {
          if (!applied.result.ok)
            this.log.warn(
              { group: action.group, reason: applied.result.message },
              'failover decision refused',
            )
        })
        .catch((error: Error) =>
          this.log.debug({ group: action.group, err: error.message }, 'failover decision not committed'),
        )
        .finally(() => this.planning.delete(action.group))
    }
  }

  /** The peer ID this node answers to on the mesh ('' for a one-node lab without a mesh). */
  get peerId(): string {
    return this.mesh?.mesh.peerId ?? ''
  }

  // ---- boot --------------------------------------------------------------------------------

  private async boot(init: ClusterNodeInit): Promise<void> {
    await this.resources.start()
    if (init.nameService !== undefined) {
      this.names = new NameResponder({ db: () => this.db, logger: this.log, ...init.nameService })
      const port = await this.names.start()
      this.log.info({ host: init.nameService.host, port }, 'name responder listening (DNS over UDP)')
      this.nameServicePort = port
    }
    await this.diskQuorum?.start()
    await this.shareWitness?.start()
    if (this.topology.quorum.model !== 'local') await this.startMesh(init)
    this.lastTickAt = this.clock.monotonic()
    this.ticker = setInterval(
      guardTimer('the tick', this.log, () => {
        const now = this.clock.monotonic()
        this.tickDelay.note(now, now - this.lastTickAt - this.consensus.tickMs)
        this.lastTickAt = now
        this.tickCore()
        this.watchEpoch()
        this.shareWitness?.tick()
        this.renewOwnLease()
        this.watchLease()
        this.planFailover()
        this.mesh?.heartbeat()
        this.reportPeerChanges()
        this.scheduleDrive()
        const quorate = this.core.quorate()
        if (quorate !== this.lastQuorate) {
          this.lastQuorate = quorate
          this.emit({
            type: 'leader:elected',
            severity: quorate ? 'info' : 'warning',
            message: quorate ? `${this.name} is part of a quorate cluster` : `${this.name} has no quorum`,
          })
          this.resources.schedule()
        }
      }),
      this.consensus.tickMs,
    )
    if (init.forceQuorum === true) this.forceQuorum(init.otherSideIsDown === true)
    this.tickCore()
    this.scheduleDrive()
    if (this.topology.quorum.model === 'local') {
      // One voter: wait for it to lead, and bootstrap the database before serving.
      await new Promise<void>((resolve) => {
        if (this.core.canServeReads()) resolve()
        else this.readySoleVoter.push(resolve)
      })
      await this.maybeBootstrap()
    }
    this.emit({
      type: 'node:started',
      severity: 'info',
      message: `${this.name} (site ${this.site}) is up; cluster ${this.topology.cluster.name}${this.mesh === null ? '' : ` on ${this.mesh.mesh.listening.join(', ')}`}`,
    })
    this.resources.schedule()
  }

  /**
   * Members this node now sees come up or go down, as events. A member gone silent for its
   * detection time is suspected; the regroup that follows is the consensus layer's: without a
   * leader's word for an election timeout (the same detection time) the others elect one, and
   * with dynamic quorum the leader takes a silent voter's vote away through the log.
   */
  private reportPeerChanges(): void {
    for (const change of this.mesh?.peerChanges() ?? []) {
      if (change.state === 'joining') continue
      const up = change.state === 'up'
      if (up) this.upSince.set(change.name, this.clock.monotonic())
      else this.upSince.delete(change.name)
      this.emit({
        type: up ? 'node:up' : 'node:down',
        severity: up ? 'info' : 'warning',
        message: up
          ? `${change.name} is up (seen from ${this.name})`
          : change.silentMs === null
            ? `${change.name} is down: not heard from within its detection time of ${change.windowMs} ms`
            : `${change.name} is down: silent for ${change.silentMs} ms (detection time ${change.windowMs} ms)`,
        data: { node: change.name, silentMs: change.silentMs, windowMs: change.windowMs },
      })
    }
  }

  // ---- leases (ARCHITECTURE.md "Resource safety") --------------------------------------------

  /**
   * The lease authority's rule (leaseAuthority.ts `mayGrant`): a leader that a majority answered
   * within the grant window, counted from when it sent what they answered. Only answers to its
   * own messages count (a member that pings it but does not hear it may already be electing
   * another leader).
   */
  private grantsLeases(): boolean {
    const raft = this.core.status()
    const now = this.clock.monotonic()
    const ackSendAgeMs: Record<string, number> = {}
    for (const [id, p] of Object.entries(raft.progress)) {
      // The time of the tick the answered message was sent in (at or before it left).
      const sentAt = Number.isFinite(p.ackAgeTicks) ? this.tickTime(this.ticksDone - p.ackAgeTicks) : null
      if (sentAt !== null) ackSendAgeMs[id] = now - sentAt
    }
    return mayGrant({
      leading: raft.role === 'leader',
      transferPending: raft.transferee !== null,
      stopping: this.stopping,
      epochWithheld: this.core.epochRefusal() !== null,
      holdsDisk: this.diskQuorum === null ? null : this.diskQuorum.holds(),
      config: raft.config,
      self: this.name,
      ackSendAgeMs,
      grantWindowMs: this.fencing.grantWindowMs,
    })
  }

  /** Before when every lease an earlier leader granted was asked for (leaseAuthority.ts). */
  private earlierLeasesAskedBefore(leaderSince: number): number {
    const status = this.core.status()
    const tickMs = this.consensus.tickMs
    return earlierLeasesAskedBefore({
      nowMs: this.clock.monotonic(),
      leaderSinceMs: leaderSince,
      grantWindowMs: this.fencing.grantWindowMs,
      earlier:
        this.diskQuorum !== null
          ? { model: 'disk', grantsEndedBeforeTakingMs: this.diskQuorum.grantsEndedBeforeTakingMs() }
          : {
              model: 'votes',
              electedAfterSilence: status.electedAfterSilence,
              earlierLeaderHeardMsAgo:
                status.earlierLeaderHeardTicksAgo === null
                  ? null
                  : status.earlierLeaderHeardTicksAgo * tickMs,
              electionTimeoutMs: this.consensus.electionTicks * tickMs,
            },
    })
  }

  /** A member asks (by pinging): a lease if this leader grants, with its last index to apply first. */
  private leaseFor(from: string): { mustApply: number } | null {
    const node = this.db.node(from)
    if (node === undefined || node.evicted === true || !this.grantsLeases()) return null
    return { mustApply: this.core.status().lastIndex }
  }

  /** The leader grants itself a lease every tick it hears a majority. */
  private renewOwnLease(): void {
    if (this.grantsLeases()) this.onLeaseGranted(this.clock.monotonic(), this.core.status().lastIndex)
  }

  /** Says when this node loses or regains its lease (its groups are fenced meanwhile). */
  private watchLease(): void {
    const held = this.lease.valid(this.clock.monotonic())
    if (held === this.leaseHeld) return
    this.leaseHeld = held
    this.emit(
      held
        ? {
            type: 'lease:granted',
            severity: 'info',
            message: `${this.name} holds a lease: it may run its groups`,
          }
        : {
            type: 'lease:lost',
            severity: 'warning',
            message: `${this.name} lost its lease (no grant from a leader that hears a majority for ${this.fencing.fenceAfterMs} ms): its groups are fenced`,
          },
    )
    this.resources.schedule()
  }

  private onLeaseGranted(askedAtMs: number, mustApply: number): void {
    const wasValid = this.lease.valid(this.clock.monotonic())
    this.lease.renew(askedAtMs, this.fencing.fenceAfterMs, mustApply)
    const now = this.clock.monotonic()
    this.resources.leaseRenewed(this.lease.remainingMs(now))
    if (!wasValid && this.lease.valid(now)) this.resources.schedule()
  }

  /** Says loudly what forcing quorum may lose, then does it. */
  private forceQuorum(otherSideIsDown: boolean): void {
    if (this.topology.quorum.model === 'local')
      throw new GeoclusterError(
        'GC_ERR_CONFLICT',
        '--force-quorum is for multi-node clusters; a lab node is its own quorum',
      )
    const before = this.core.status()
    // The nonce tells two epochs forced with the same number apart (epochRule.ts).
    const nonce = Math.floor(this.random() * 36 ** 8)
      .toString(36)
      .padStart(8, '0')
    this.core.forceQuorum({ nonce, confirmed: otherSideIsDown })
    const after = epochOf(this.core.config())
    const lost =
      `changes the rest of the cluster committed that this node lacks (it has up to index ${before.lastIndex}, ` +
      `committed ${before.commit}) are lost once the two sides meet`
    this.emit({
      type: 'quorum:forced',
      severity: 'error',
      message: otherSideIsDown
        ? `${this.name} FORCED QUORUM: it alone forms epoch ${describeEpoch(after)} from its own log, asserting that the other side is down; ${lost}.`
        : `${this.name} FORCED QUORUM (not confirmed): it alone forms epoch ${describeEpoch(after)} from its own log. ` +
          'It serves reads and lets survivors join, but takes no writes and starts no groups until an operator ' +
          'confirms that the other side is down (geocluster cluster confirm-forced --other-side-is-down); ' +
          `a working cluster of the old epoch that it meets makes it give way, losing nothing. Once confirmed, ${lost}.`,
      data: {
        epoch: after.epoch,
        epochId: after.epochId,
        confirmed: otherSideIsDown,
        lastIndex: before.lastIndex,
        commit: before.commit,
      },
    })
  }

  /**
   * The operator asserts, on the leader of an unconfirmed forced epoch, that the other side is
   * down: from the entry that says so the epoch takes writes, grants leases and runs groups.
   */
  async confirmForced(by: string): Promise<{ epoch: string; index: number }> {
    this.assertServing()
    const r = this.core.confirmForced()
    if (!r.ok) {
      if (r.reason === 'not the leader')
        throw new GeoclusterError(
          'GC_ERR_NOT_LEADER',
          `confirm on the leader of the forced epoch (${r.leader ?? 'none known'}), not on ${this.name}`,
        )
      throw new GeoclusterError('GC_ERR_CONFLICT', r.reason)
    }
    this.scheduleDrive()
    await this.appliedThrough(r.ticket.index, forwardedApplyWaitMs)
    const epoch = describeEpoch(epochOf(this.core.config()))
    this.emit({
      type: 'quorum:confirmed',
      severity: 'warning',
      message: `${this.stampBy(by)} confirmed that the other side is down: forced epoch ${epoch} takes writes and runs groups`,
      data: { epoch: this.core.config().epoch, epochId: this.core.config().epochId ?? '' },
    })
    return { epoch, index: r.ticket.index }
  }

  private async startMesh(init: ClusterNodeInit): Promise<void> {
    const t = this.topology
    const self = t.sites.flatMap((s) => s.nodes).find((n) => n.name === this.name)!
    if (t.cluster.secret === undefined) {
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `quorum model ${t.quorum.model} needs cluster.secret (a file from geocluster secret)`,
        { path: 'cluster.secret' },
      )
    }
    const psk = loadSecret(resolvePath(init.topologyDir ?? '.', t.cluster.secret))
    const identity = await loadOrCreateIdentity(this.dataDir)
    if (self.peerId !== undefined && self.peerId !== identity.peerId) {
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `${identity.file} holds peer ID ${identity.peerId}, but the topology lists ${self.peerId} for node ${this.name} (run geocluster keygen --data-dir on this node and copy its peer ID)`,
        { path: 'peerId' },
      )
    }
    this.mesh = new NodeMesh({
      self: this.name,
      site: this.site,
      privateKey: identity.privateKey,
      psk,
      listen: [self.listen ?? self.address!],
      ...dialFromOf(self.listen ?? self.address!),
      logger: this.log,
      timing: t.timing,
      monotonic: () => this.clock.monotonic(),
      ...(this.shareWitness === null || t.witness === undefined ? {} : { relayedWitness: t.witness.name }),
      resourceStates: () => Object.fromEntries(this.resources.actual),
      onRaft: (m) => {
        if (this.closed) return true
        const problem = payloadProblem(m)
        if (problem !== null) {
          this.log.warn(
            { peer: m.from, type: m.type, reason: problem },
            'refused a consensus message with unreadable contents',
          )
          return false
        }
        if (this.shareWitness !== null && m.to === this.topology.witness?.name) {
          this.shareWitness.step(m)
          return true
        }
        this.core.step(m)
        this.scheduleDrive()
        return true
      },
      leaderView: () => ({ leader: this.core.status().leader ?? '', term: this.core.status().term }),
      leaseFor: (from) => this.leaseFor(from),
      onLease: (_from, askedAt, mustApply) => this.onLeaseGranted(askedAt, mustApply),
      onAdmin: (from, call) => this.onAdmin(from, call),
    })
    await this.mesh.start(this.members())
  }

  /** Members to talk to: from the replicated database once there is one, else the topology. */
  private members(): Member[] {
    const out: Member[] = []
    if (this.db.cluster() !== undefined) {
      for (const n of this.db.nodes()) {
        if (n.evicted !== true && n.peerId !== null && n.address !== null)
          out.push({ name: n.name, site: n.site, peerId: n.peerId, address: n.address })
      }
      const w = this.db.witness()
      if (w !== undefined && w.peerId !== null && w.address !== null)
        out.push({ name: w.name, site: w.site, peerId: w.peerId, address: w.address })
      return out
    }
    for (const s of this.topology.sites) {
      for (const n of s.nodes)
        if (n.peerId !== undefined && n.address !== undefined)
          out.push({ name: n.name, site: s.name, peerId: n.peerId, address: n.address })
    }
    const w = this.topology.witness
    if (w?.peerId !== undefined && w.address !== undefined)
      out.push({ name: w.name, site: w.site, peerId: w.peerId, address: w.address })
    return out
  }

  /** The database, once there is one, must be this cluster's and list this node. */
  private checkBelongs(): void {
    const cluster = this.db.cluster()
    if (cluster === undefined) return
    if (cluster.name !== this.topology.cluster.name) {
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `data dir ${this.dataDir} belongs to cluster ${cluster.name}, but the topology names ${this.topology.cluster.name}`,
        {
          path: 'cluster.name',
        },
      )
    }
    const me = this.db.node(this.name)
    if (me === undefined)
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `node ${this.name} is not a member of cluster ${cluster.name}`,
        { path: 'node' },
      )
    if (me.evicted === true)
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `node ${this.name} was evicted from cluster ${cluster.name}`,
        { path: 'node' },
      )
  }

  /** The first leader writes the cluster database's first entry, from the topology. */
  private async maybeBootstrap(): Promise<void> {
    if (this.bootstrapProposed || this.db.cluster() !== undefined || !this.core.committedInTerm()) return
    if (this.db.appliedIndex < this.core.status().commit) return
    this.bootstrapProposed = true
    const t = this.topology
    const result = await this.proposeHere(
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
        witness:
          t.witness === undefined
            ? null
            : {
                name: t.witness.name,
                site: t.witness.site,
                type: t.witness.type,
                votes: t.witness.votes,
                peerId: t.witness.peerId ?? null,
                address: t.witness.address ?? null,
                path: t.witness.path ?? null,
              },
      },
      `node:${this.name}`,
    ).catch((error: Error) => {
      this.bootstrapProposed = false
      throw error
    })
    if (!result.result.ok)
      throw new GeoclusterError('GC_ERR_FAILED', `bootstrap refused: ${result.result.message}`)
    this.log.info({ cluster: t.cluster.name, index: result.index }, 'cluster bootstrapped')
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
    if (report.leftovers.length > 0)
      this.log.info({ files: report.leftovers }, 'removed temporary files of interrupted writes')
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

  // ---- leader-side operations --------------------------------------------------------------

  private proposeHere(command: Command, by: string): Promise<AppliedCommand> {
    const envelope: CommandEnvelope = { v: 1, by, at: Math.floor(this.clock.now()), command }
    const data = encodeEnvelope(envelope)
    if (data.length > commandBytesMax) {
      throw new GeoclusterError(
        'GC_ERR_BAD_REQUEST',
        `${command.op}: the command is ${data.length} bytes; the limit is ${commandBytesMax}`,
        { path: 'body' },
      )
    }
    const withheld = this.core.epochRefusal()
    if (withheld !== null) throw new GeoclusterError('GC_ERR_CONFLICT', withheld)
    const proposed = this.core.propose(data)
    if (!proposed.ok) {
      throw new GeoclusterError(
        'GC_ERR_NO_QUORUM',
        `this node cannot take writes (${proposed.reason}; leader: ${proposed.leader ?? 'none'})`,
      )
    }
    const applied = new Promise<AppliedCommand>((resolve, reject) => {
      this.waiters.set(proposed.ticket.index, { term: proposed.ticket.term, resolve, reject })
    })
    this.scheduleDrive()
    return applied
  }

  /**
   * Why the API should take no more work now: the consensus tick is overdue (the event loop is
   * saturated, by API work or else); heartbeats and elections come first.
   */
  busy(): string | null {
    // A single voter loses nothing to a late tick; a busy host must not cost it its API.
    if (this.ticker === null || this.topology.quorum.model === 'local') return null
    const overdueMs = this.clock.monotonic() - this.lastTickAt - this.consensus.tickMs
    // Well inside the election timeout, and past what a busy host's scheduling adds anyway.
    const electionMs = this.consensus.tickMs * this.consensus.electionTicks
    return overdueMs > Math.max(tickOverdueShedMs, electionMs / 3)
      ? `its consensus tick is ${Math.round(overdueMs)} ms late`
      : null
  }

  /** The largest delay of the consensus tick over the last minute (ms), for /metrics. */
  tickDelayMaxMs(): number {
    return this.tickDelay.value(this.clock.monotonic())
  }

  /** The audit trail names the node whose API (and admin token) took the request, or the node itself. */
  private stampBy(requestedBy: string): string {
    return requestedBy === 'admin' ? `admin@${this.name}` : requestedBy
  }

  /** Runs `here` on the leader: directly when this node leads, else forwarded to it. */
  private async onLeader(
    method: string,
    body: unknown,
    by: string,
    here: () => Promise<AppliedCommand>,
  ): Promise<AppliedCommand> {
    this.assertServing()
    if (this.core.status().role === 'leader') return here()
    const applied = (await this.callLeader({
      method,
      path: '',
      body: Buffer.from(JSON.stringify(body)),
      by,
    })) as AppliedCommand
    await this.appliedThrough(applied.index, forwardedApplyWaitMs)
    return applied
  }

  /** Changes the voting configuration and waits until the change has fully committed. */
  private async changeMembership(
    nextBase: (base: Record<string, number>) => Record<string, number>,
  ): Promise<void> {
    const deadline = this.clock.monotonic() + this.consensus.tickMs * this.consensus.electionTicks * 4
    for (;;) {
      const config = this.core.config()
      const base = nextBase({ ...config.base })
      const incoming = { ...base }
      const r = this.core.changeConfiguration({ incoming, base, witness: config.witness })
      if (r.ok) {
        this.scheduleDrive()
        await this.appliedThrough(r.ticket.index, forwardedApplyWaitMs)
        // The leave-joint entry follows on its own once the joint one commits.
        while (this.core.config().outgoing !== null && this.clock.monotonic() < deadline)
          await new Promise((res) => setTimeout(res, 20))
        this.setMeshMembers()
        return
      }
      if (this.clock.monotonic() > deadline)
        throw new GeoclusterError('GC_ERR_FAILED', `configuration change not accepted: ${r.reason}`)
      await new Promise((res) => setTimeout(res, 50))
    }
  }

  private async callLeader(call: AdminCall): Promise<unknown> {
    const leader = this.core.status().leader
    if (leader === null || this.mesh === null || !this.core.quorate()) {
      throw new GeoclusterError(
        'GC_ERR_NO_QUORUM',
        `no quorum: ${this.name} knows of no leader to take the change`,
      )
    }
    let answer: { status: number; body: Uint8Array }
    try {
      answer = await this.mesh.forward(leader, call)
    } catch (error) {
      throw new GeoclusterError(
        'GC_ERR_NO_QUORUM',
        `cannot reach the leader ${leader}: ${(error as Error).message}`,
      )
    }
    const body = JSON.parse(Buffer.from(answer.body).toString('utf8')) as {
      error?: { code: string; message: string; path?: string }
    }
    if (answer.status !== 200) {
      const code =
        body.error?.code !== undefined && isErrorCode(body.error.code) ? body.error.code : 'GC_ERR_FAILED'
      throw new GeoclusterError(
        code,
        body.error?.message ?? `leader answered ${answer.status}`,
        body.error?.path === undefined ? {} : { path: body.error.path },
      )
    }
    return body
  }

  /**
   * Admin calls forwarded by other members to this node as the leader. Only nodes of the cluster
   * may make them — never the witness, whose host holds no admin token — and who made the call
   * is stamped here from the authenticated peer: a caller cannot speak for another node.
   */
  private async onAdmin(from: string, call: AdminCall): Promise<{ status: number; body: Uint8Array }> {
    const json = (status: number, value: unknown) => ({ status, body: Buffer.from(JSON.stringify(value)) })
    const caller = this.db.node(from)
    if (caller === undefined || caller.evicted === true) {
      this.log.warn(
        { peer: from, method: call.method },
        'refused an admin call from a member that is not a node',
      )
      return json(403, {
        error: {
          code: 'GC_ERR_FORBIDDEN',
          message: `${from} is not a node of this cluster: only nodes make admin calls`,
        },
      })
    }
    // Any node answers for itself (validate's live checks); everything else is the leader's.
    if (call.method === 'selfReport') return json(200, this.selfReport())
    const by = call.by.startsWith('admin') ? `admin@${from}` : `node:${from}`
    try {
      if (this.core.status().role !== 'leader') {
        return json(503, {
          error: {
            code: 'GC_ERR_NOT_LEADER',
            message: `${this.name} is not the leader (leader: ${this.core.status().leader ?? 'none'})`,
          },
        })
      }
      const body = JSON.parse(Buffer.from(call.body).toString('utf8')) as Record<string, unknown>
      switch (call.method) {
        case 'propose': {
          const checked = commandSchema.safeParse(body.command)
          if (!checked.success)
            return json(400, {
              error: { code: 'GC_ERR_BAD_REQUEST', message: 'forwarded command is invalid' },
            })
          const notYours = this.notTheCallers(checked.data, from)
          if (notYours !== null) return json(403, { error: { code: 'GC_ERR_FORBIDDEN', message: notYours } })
          return json(200, await this.proposeHere(checked.data, by))
        }
        case 'addNode': {
          const spec = nodeAddSpec.safeParse(body)
          if (!spec.success)
            return json(400, { error: { code: 'GC_ERR_BAD_REQUEST', message: 'forwarded node is invalid' } })
          return json(200, await this.addNode(spec.data, by))
        }
        case 'evictNode': {
          const name = nodeNameSpec.safeParse(body)
          if (!name.success)
            return json(400, { error: { code: 'GC_ERR_BAD_REQUEST', message: 'forwarded node is invalid' } })
          return json(200, await this.evictNode(name.data.name, by))
        }
        default:
          return json(400, { error: { code: 'GC_ERR_BAD_REQUEST', message: `unknown call ${call.method}` } })
      }
    } catch (error) {
      const e =
        error instanceof GeoclusterError
          ? error
          : new GeoclusterError('GC_ERR_FAILED', (error as Error).message)
      return json(e.httpStatus, {
        error: { code: e.code, message: e.message, ...(e.path === undefined ? {} : { path: e.path }) },
      })
    }
  }

  /** A node speaks only for itself: its own checkpoints, releases of groups it owns. */
  private notTheCallers(command: Command, from: string): string | null {
    if (command.op === 'resource.checkpoint' && command.node !== from)
      return `${from} cannot save a checkpoint on behalf of ${command.node}`
    if (command.op === 'group.release' && this.db.group(command.name)?.owner !== from)
      return `${from} cannot release ${command.name}: it does not own it`
    return null
  }

  // ---- reads -------------------------------------------------------------------------------

  private async readBarrier(): Promise<void> {
    if (this.core.canServeReads()) return
    const ctx = `${this.name}-${++this.readSeq}`
    const timeoutMs = this.consensus.tickMs * this.consensus.electionTicks * 2
    const index = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readWaiters.delete(ctx)
        reject(
          new GeoclusterError(
            'GC_ERR_NO_QUORUM',
            `no consistent read: ${this.name} could not confirm a leader with a quorum`,
          ),
        )
      }, timeoutMs)
      this.readWaiters.set(ctx, (i) => {
        clearTimeout(timer)
        resolve(i)
      })
      this.core.readIndex(ctx)
      this.scheduleDrive()
    })
    await this.appliedThrough(index, timeoutMs)
  }

  private appliedThrough(index: number, timeoutMs: number): Promise<void> {
    if (this.db.appliedIndex >= index) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new GeoclusterError('GC_ERR_NO_QUORUM', `${this.name} has not caught up to entry ${index}`)),
        timeoutMs,
      )
      this.appliedWaiters.push({
        index,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      })
    })
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
        if (rd.reset) this.resetState(rd)
        if (rd.snapshot !== null) this.installSnapshot(rd.snapshot)
        this.applyCommitted(rd)
        if (this.diskQuorum !== null) this.diskQuorum.persist(rd.entries)
        else {
          if (rd.entries.length > 0 || rd.hardState !== null) {
            try {
              this.wal.append({ hardState: rd.hardState, entries: rd.entries })
            } catch (error) {
              if (!(error instanceof StorageExhaustedError)) throw error
              // Nothing of this Ready leaves the node; it is offered again on the next tick.
              this.core.persistFailed(rd)
              this.storageFault(error)
              break
            }
            this.storageRecovered()
          }
          if (rd.mustSync) await this.wal.sync()
        }
        // Persist before reply: nothing leaves this node before its disk has it.
        for (const m of rd.messages) this.sendMessage(m)
        for (const r of rd.readStates) this.onReadState(r)
        if (rd.softState !== null) this.onSoftState(rd.softState)
        this.core.advance(rd)
        this.maybeSnapshot()
        if (this.core.canServeReads() && this.readySoleVoter.length > 0)
          for (const w of this.readySoleVoter.splice(0)) w()
        if (this.topology.quorum.model !== 'local')
          this.maybeBootstrap().catch((e: Error) => this.log.warn({ err: e.message }, 'bootstrap failed'))
      }
    } catch (error) {
      this.crash(error as Error)
    }
  }

  private onSoftState(soft: NonNullable<Ready['softState']>): void {
    const leading = soft.role === 'leader'
    if (leading && this.leaderSince === null) this.leaderSince = this.clock.monotonic()
    if (!leading) this.leaderSince = null
    const leader = soft.leader
    if (leader === this.lastLeader) return
    this.lastLeader = leader
    if (leader !== null) {
      this.emit({
        type: 'leader:elected',
        severity: 'info',
        message: `${leader} leads term ${this.core.status().term}`,
      })
    }
    this.resources.schedule()
  }

  private onReadState(r: ReadState): void {
    const waiter = this.readWaiters.get(r.ctx)
    if (waiter === undefined) return
    this.readWaiters.delete(r.ctx)
    waiter(r.index)
  }

  /** The core discarded this node's history (forced quorum): wipe what is on disk to match. */
  private resetState(rd: Ready): void {
    // Tokens never go back: the history given up may have issued higher ones than the one joined.
    const to = epochOf(this.core.config())
    const from = this.core.lastEpochGivenUp() ?? to
    const floor = this.db.highestToken()
    if (floor > 0) {
      keepCarriedFloor(this.dataDir, floor, describeEpoch(from))
      this.carriedFloorPending = carriedFloor(this.dataDir)
    }
    this.wal.reset(rd.hardState ?? { term: this.core.status().term, vote: null, commit: 0 })
    this.snapshotWriter.overtaken()
    this.snapshots.clear()
    this.db = new ClusterDatabase()
    this.lastSnapshotIndex = 0
    for (const [, w] of this.waiters)
      w.reject(new GeoclusterError('GC_ERR_NO_QUORUM', 'this node gave up its history; retry'))
    this.waiters.clear()
    this.emit(
      from.unconfirmed
        ? {
            type: 'quorum:yielded',
            severity: 'warning',
            message: `${this.name} gave its forced epoch ${describeEpoch(from)} up: it was not confirmed and met a working cluster of epoch ${describeEpoch(to)}, which it rejoins; it took no writes, so nothing is lost`,
            data: { from: from.epochId, to: to.epochId, epoch: to.epoch },
          }
        : {
            type: 'storage:recovered',
            severity: 'warning',
            message: `${this.name} discarded its history (epoch ${describeEpoch(from)}) to follow epoch ${describeEpoch(to)}; it keeps its fencing floor ${floor}`,
            data: { from: from.epochId, to: to.epochId, epoch: to.epoch, tokenFloor: floor },
          },
    )
  }

  /**
   * Every tick: an epoch conflict is said once, loudly; a fencing floor carried from a history
   * this node gave up is handed to the cluster it joined, then forgotten.
   */
  private watchEpoch(): void {
    if (!this.epochConflictSaid && this.core.epochRefusal() !== null) {
      const conflict = this.core.status().epochConflict
      if (conflict !== null) {
        this.epochConflictSaid = true
        this.emit({
          type: 'quorum:epoch-conflict',
          severity: 'error',
          message: `${this.name}: epoch ${conflict.ours} met another confirmed epoch ${conflict.theirs} (from ${conflict.from}); the two histories are never merged, so this side takes no writes and runs no groups. Stop one side and start its nodes again with --prevent-quorum to join the other`,
          data: { ours: conflict.ours, theirs: conflict.theirs, from: conflict.from },
        })
      }
    }
    const carried = this.carriedFloorPending
    if (carried === null || this.carryingFloor || this.db.cluster() === undefined || !this.core.quorate())
      return
    if (this.ticksDone % Math.max(1, Math.round(2_000 / this.consensus.tickMs)) !== 0) return
    this.carryingFloor = true
    this.propose({ op: 'cluster.raiseTokenFloor', floor: carried.floor }, `node:${this.name}`)
      .then((applied) => {
        if (!applied.result.ok) return
        dropCarriedFloor(this.dataDir)
        this.carriedFloorPending = null
        this.log.info({ floor: carried.floor, from: carried.from }, 'fencing floor carried into this history')
      })
      .catch((error: Error) => this.log.debug({ err: error.message }, 'fencing floor not carried yet'))
      .finally(() => {
        this.carryingFloor = false
      })
  }

  /** A snapshot from the leader replaces this node's database (it was too far behind). */
  private installSnapshot(s: NonNullable<Ready['snapshot']>): void {
    const decoded = decodeNodeSnapshot(s.data)
    assert(typeof decoded !== 'string', () => `snapshot from the leader is unreadable: ${String(decoded)}`)
    this.db = ClusterDatabase.restore(decoded.database)
    this.snapshotWriter.overtaken()
    this.snapshots.save({ index: s.meta.index, term: s.meta.term }, s.data)
    this.wal.markSnapshot({ index: s.meta.index, term: s.meta.term })
    this.lastSnapshotIndex = s.meta.index
    this.emit({
      type: 'storage:snapshot',
      severity: 'info',
      message: `installed the leader's snapshot at index ${s.meta.index}`,
    })
    this.setMeshMembers()
    // Ownership may have changed in it: the reconciler looks again.
    this.resources.schedule()
  }

  private applyCommitted(rd: Ready): void {
    let changed = false
    for (const entry of rd.committedEntries) changed = this.applyEntry(entry) || changed
    // A snapshot installed just before counts as applied too: waiters up to it are done.
    if (rd.committedEntries.length > 0 || rd.snapshot !== null) {
      const applied = this.db.appliedIndex
      const due = this.appliedWaiters.filter((w) => w.index <= applied)
      this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > applied)
      for (const w of due) w.resolve()
    }
    if (changed) {
      this.resources.schedule()
      // The leader answers a release or a failure at once rather than at its next tick.
      if (!this.planSoon) {
        this.planSoon = true
        setImmediate(() => {
          this.planSoon = false
          this.planFailover()
        })
      }
    }
  }

  private planSoon = false

  /** A consensus message out: to its member, or to whichever node serves the file-share witness. */
  private sendMessage(m: Message): void {
    const w = this.shareWitness
    if (w === null || m.to !== this.topology.witness?.name) {
      this.mesh?.send(m)
      return
    }
    const host = w.host()
    if (host === this.name) setImmediate(() => w.step(m))
    else if (host !== null) this.mesh?.send(m, host)
  }

  /** The file-share witness this node serves answers a member (this node too). */
  private sendFromWitness(m: Message): void {
    if (m.to !== this.name) {
      this.mesh?.send(m)
      return
    }
    setImmediate(() => {
      if (this.closed) return
      this.core.step(m)
      this.scheduleDrive()
    })
  }

  /**
   * When each recent tick happened (monotonic ms). Ages the core counts in ticks become times
   * through this, never through `ticks × tickMs`: a process paused by SIGSTOP ticks once when it
   * wakes, and an answer heard before the pause must not look a tick old.
   */
  private readonly tickTimes: number[] = new Array(256).fill(Number.NEGATIVE_INFINITY)
  private ticksDone = 0

  private tickCore(): void {
    this.core.tick()
    this.tickTimes[++this.ticksDone % this.tickTimes.length] = this.clock.monotonic()
  }

  /** The time of tick `n` (at or before anything the core recorded during that tick); null if forgotten. */
  private tickTime(n: number): number | null {
    if (n < 0 || n > this.ticksDone || this.ticksDone - n >= this.tickTimes.length) return null
    const t = this.tickTimes[n % this.tickTimes.length]!
    return Number.isFinite(t) ? t : null
  }

  private applyEntry(entry: Entry): boolean {
    let result: ApplyResult | null = null
    if (entry.kind === 'noop' || entry.kind === 'config') {
      this.db.skip(entry.index)
      if (entry.kind === 'config') this.setMeshMembers()
    } else {
      const outcome = applyCommitted(this.db, entry.index, entry.data)
      // A committed entry this node cannot read means it can no longer follow the cluster.
      assert(
        outcome.kind !== 'unreadable',
        () =>
          `committed entry ${entry.index} is unreadable: ${outcome.kind === 'unreadable' ? outcome.problem : ''}`,
      )
      if (outcome.kind === 'applied') {
        result = outcome.result
        this.afterApply(entry.index, outcome.envelope, result)
      } else if (outcome.kind === 'refused') {
        result = { ok: false, reason: 'invalid', message: outcome.problem }
        this.emit({
          type: 'database:refused',
          severity: 'warning',
          message: `committed entry ${entry.index} refused: ${outcome.problem}`,
          data: { index: entry.index },
        })
      }
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
    this.resources.afterApply(envelope, result)
    // Membership and addresses come from the log: the mesh follows every change.
    if (c.op === 'cluster.bootstrap' || c.op.startsWith('node.')) this.setMeshMembers()
  }

  private maybeSnapshot(): void {
    this.snapshotWriter.finish()
    const applied = this.db.appliedIndex
    if (applied - this.lastSnapshotIndex < this.timing.snapshotEntries) return
    if (this.diskQuorum !== null) {
      // Under the disk model the holder snapshots into the recovery log on the disk.
      if (this.core.status().role !== 'leader') return
      const term = this.core.termOf(applied)
      if (term === undefined) return
      const data = encodeNodeSnapshot({ config: this.core.configAt(applied), database: this.db.snapshot() })
      this.diskQuorum.saveSnapshot(applied, term, data)
      this.lastSnapshotIndex = applied
      return
    }
    const term = this.core.termOf(applied)
    assert(term !== undefined, () => `no term for applied index ${applied}`)
    // Written off the tick's path; the log is compacted once it is durable (snapshotWriter.finish).
    if (
      this.snapshotWriter.start({ index: applied, term }, this.core.configAt(applied), this.db.snapshotView())
    )
      this.lastSnapshotIndex = applied
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** A write to this node's storage was refused (disk full, no descriptors): say so, once a while. */
  private storageFault(error: StorageExhaustedError): void {
    const now = this.clock.monotonic()
    const first = this.storageProblem === null
    this.storageProblem = error
    if (!first && now - this.storageProblemSaidAt < storageProblemRepeatMs) return
    this.storageProblemSaidAt = now
    this.emit({
      type: 'storage:error',
      severity: 'error',
      message: `${this.name} cannot write its storage: ${error.message}`,
      data: { file: error.file, errno: error.errno },
    })
  }

  private storageRecovered(): void {
    if (this.storageProblem === null) return
    this.storageProblem = null
    this.emit({
      type: 'storage:recovered',
      severity: 'info',
      message: `${this.name} writes its storage again`,
    })
  }

  private assertServing(): void {
    if (this.fatal !== null)
      throw new GeoclusterError('GC_ERR_FAILED', `node has failed: ${this.fatal.message}`)
    if (this.storageProblem !== null && this.core.status().role === 'leader')
      throw new GeoclusterError('GC_ERR_STORAGE_FULL', this.storageProblem.message)
    if (this.stopping) throw new GeoclusterError('GC_ERR_UNREACHABLE', 'the node is shutting down')
  }

  private emit(input: ClusterEventInput): void {
    const e = this.events.emit(input)
    const level = e.severity === 'error' ? 'error' : e.severity === 'warning' ? 'warn' : 'info'
    if (e.type !== 'database:changed') {
      this.log[level](
        {
          event: e.type,
          ...(e.group ? { group: e.group } : {}),
          ...(e.resource ? { resource: e.resource } : {}),
        },
        e.message,
      )
    }
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
