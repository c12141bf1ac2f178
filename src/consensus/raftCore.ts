/**
 * The consensus core: a pure Raft state machine in the shape of etcd-io/raft. Inputs are ticks,
 * messages and requests; output is a `Ready` batch the runtime persists, sends and applies before
 * calling `advance`. No timers, I/O or randomness inside: time is ticks, randomness is
 * `options.random`, so a seeded simulator replays any run exactly.
 *
 * Beyond the Raft paper: weighted votes; pre-vote and check-quorum (a node back from a partition
 * cannot unseat a healthy leader; a leader that cannot reach a majority steps down); joint
 * consensus for every configuration change, in effect from the moment it is appended (§6);
 * a witness voter that keeps no log, only W, the greatest entry it acknowledged (ARCHITECTURE.md
 * "Quorum rules"); read-index reads; leadership transfer; dynamic quorum; forced quorum with
 * prevent-quorum on meeting a real majority.
 */
import { assert } from '../errors/assert.ts'
import {
  decodeConfiguration,
  describeEpoch,
  type EpochIdentity,
  encodeConfiguration,
  epochOf,
} from './configuration.ts'
import { meetEpoch } from './epochRule.ts'
import { desiredWeights, weightsAfterForce } from './quorum/dynamicQuorum.ts'
import {
  configurationProblem,
  isVoter,
  jointCommittedIndex,
  jointHasMajority,
  jointVoteResult,
  membersOf,
  votersOf,
  weightIn,
} from './quorum/jointQuorum.ts'
import { RaftLog } from './raftLog.ts'
import {
  type Configuration,
  compareEntryIds,
  type Entry,
  type EntryId,
  echoSentTick,
  type HardState,
  type Message,
  type NodeId,
  type ProposalTicket,
  type ReadState,
  type Ready,
  type Role,
  type SnapshotMeta,
  type SoftState,
} from './types.ts'

export interface RaftOptions {
  id: NodeId
  /** Ticks without a leader before a follower campaigns (randomized in [n, n + jitter·n)). */
  electionTicks: number
  /** Spread of the randomized election timeout as a fraction of it (default 0.5). */
  electionJitter?: number
  heartbeatTicks: number
  /** Uniform in [0, 1); injected so a seeded simulator reproduces elections exactly. */
  random: () => number
  preVote?: boolean
  checkQuorum?: boolean
  /** Appends in flight per follower before the leader waits for acknowledgements. */
  maxInflight?: number
  /** Entries per append message. */
  maxEntriesPerAppend?: number
  /** Entry bytes per append message (at least one entry goes, whatever its size; etcd MaxSizePerMsg). */
  maxBytesPerAppend?: number
  /**
   * WSFC PreventQuorum (`/pq`, "join, don't form"): until this node hears from a leader it
   * neither campaigns nor grants votes, so nodes returning after a forced quorum cannot form a
   * cluster of their own before they meet it.
   */
  preventQuorum?: boolean
  /**
   * Dynamic quorum: a voter silent for this many ticks loses its vote through the log. With an
   * even total and no witness, the nodes of `lowerQuorumPriority` give up their vote first, in
   * order (quorum/dynamicQuorum.ts tieBreakerNode); every node must be given the same list.
   */
  dynamicQuorum?: { downAfterTicks: number; lowerQuorumPriority?: readonly NodeId[] } | null
  /**
   * Test-only switches that remove one safety rule, so the simulator can prove it catches the
   * loss (test/sim/mutations.test.ts). Never set by the runtime, the CLI or a topology.
   */
  unsafe?: {
    allowOldTermCommit?: boolean
    ignoreWitnessMark?: boolean
    /** UNSAFE: grant (pre-)votes while hearing a leader (`inLease()` always false). */
    voteWhileInLease?: boolean
    /** UNSAFE: date an answer by when it arrived, not by the send tick it echoes (grant window). */
    ackAtReceive?: boolean
    /** UNSAFE: two epochs with the same number are one history, whatever their identities. */
    ignoreEpochIdentity?: boolean
    /** UNSAFE: the leader counts its own copy of a proposal before its disk has it. */
    countOwnUnpersisted?: boolean
  }
}

export interface RaftRestore {
  hardState: HardState
  /** What the newest snapshot covers; index 0 when there is none. */
  snapshot: SnapshotMeta
  /** Snapshot bytes, for sending to followers that are too far behind (empty when none). */
  snapshotData?: Uint8Array
  /** Entries on stable storage after the snapshot, in order. */
  entries: Entry[]
  /** The configuration before any configuration entry: every member starts from the same one. */
  initialConfig: Configuration
}

export type ProposeResult =
  | { ok: true; ticket: ProposalTicket }
  | { ok: false; leader: NodeId | null; reason: string }

export interface RaftStatus {
  id: NodeId
  role: Role
  term: number
  leader: NodeId | null
  commit: number
  applied: number
  lastIndex: number
  stable: number
  snapshotIndex: number
  config: Configuration
  /** The epoch this node belongs to (while rebuilding, the one it follows, not its log's). */
  epoch: EpochIdentity
  /** It wiped itself to follow `epoch` and has not caught up yet: it neither votes nor campaigns. */
  rebuilding: boolean
  /**
   * Leader only: each member's replication progress, and how many ticks ago this leader sent the
   * newest of its own messages that the member has answered in this term (Infinity: none yet, or
   * none sent since the last aborted hand-over). Measured from the send, not from the answer's
   * arrival: a delayed answer proves only that the member heard this leader when it was sent.
   */
  progress: Record<NodeId, { match: number; next: number; active: boolean; ackAgeTicks: number }>
  /**
   * Leader only: elected by votes without a hand-over or a forced quorum, so every voter that
   * elected it had heard no leader for a whole election timeout (in-lease vote refusal) or had
   * just restarted. The simulator's stability check uses it; lease bounds do not (a restarted
   * voter may have heard a leader an instant before it voted).
   */
  electedAfterSilence: boolean
  /**
   * Leader only, elected by votes (after silence or by a hand-over): how many ticks ago the last
   * of the voters that elected it may have heard an earlier leader (from the silences they
   * reported; null when one did not, or after a forced quorum). Kept late by two ticks of slack,
   * so for the first ticks after a hand-over it may be negative (down to -2).
   */
  earlierLeaderHeardTicksAgo: number | null
  /** Leader only: the member leadership is being handed to, if any. */
  transferee: NodeId | null
  /** This node met another confirmed epoch of the same number (it takes no writes). */
  epochConflict: { ours: string; theirs: string; from: NodeId } | null
}

interface Progress {
  match: number
  next: number
  state: 'probe' | 'replicate' | 'snapshot'
  /** Last index of each append in flight (replicate state). */
  inflight: number[]
  probeSent: boolean
  pendingSnapshot: number
  snapshotSentTick: number
  /** Heard from since the last check-quorum round. */
  recentActive: boolean
  lastHeardTick: number
  /**
   * The greatest send tick (ours) that it echoed back in an answer to one of this leader's own
   * messages (append, heartbeat, witness append) of this term, at or after `ackFloorTick`.
   */
  lastAckSentTick: number
  /** Witness only: its W, as it last reported it. */
  mark: EntryId | null
}

interface PendingRead {
  ctx: string
  index: number
  from: NodeId
  acks: Set<NodeId>
}

const emptyData = new Uint8Array(0)

/** A message as the core writes it: sender, epoch and (by default) term are filled in. */
type OutgoingMessage = Message extends unknown
  ? Message extends infer M
    ? M extends Message
      ? Omit<M, 'from' | 'epoch' | 'epochId' | 'epochUnconfirmed' | 'term'> & { term?: number }
      : never
    : never
  : never

/** Messages a leader sends to replicate (and to hand over): nothing in them needs this node's disk. */
const replicationTypes: ReadonlySet<Message['type']> = new Set([
  'append',
  'heartbeat',
  'snapshot',
  'witness-append',
  'timeout-now',
])

export class RaftCore {
  private readonly initialConfig: Configuration
  private readonly o: Required<Omit<RaftOptions, 'dynamicQuorum' | 'unsafe'>> &
    Pick<RaftOptions, 'dynamicQuorum' | 'unsafe'>
  private log: RaftLog
  private term: number
  private vote: NodeId | null
  private role: Role = 'follower'
  private leader: NodeId | null = null
  private votes = new Map<NodeId, boolean>()
  private electionElapsed = 0
  private heartbeatElapsed = 0
  private randomizedElectionTimeout = 0
  private ticks = 0
  /** Index of the no-op this leader appended; it commits nothing older by counting before it. */
  private termStartIndex = 0
  private progress = new Map<NodeId, Progress>()
  private transferee: NodeId | null = null
  private campaignByTransfer = false
  private electedAfterSilence = false
  /** The tick this node last heard a leader or led; its start at the latest (it may have heard one just before). */
  private leaderHeardTick = 0
  /** While a candidate: per granting voter, the latest tick (ours) it may have heard an earlier leader. */
  private votersHeardTick = new Map<NodeId, number>()
  /** As leader: the latest of those ticks, null when a voter did not say (or a forced quorum). */
  private earlierLeaderHeardTick: number | null = null
  private transferElapsed = 0
  /**
   * Leader only: answers count toward the ack ages only when they echo a send tick at or after
   * this one — the start of this leadership, raised when a hand-over aborts (a voter that answered
   * before then may since have elected the transferee).
   */
  private ackFloorTick = 0
  private pendingReads: PendingRead[] = []
  private readsWaitingForTerm: { ctx: string; from: NodeId }[] = []
  private readStates: ReadState[] = []
  private messages: Message[] = []
  /** Configuration entries in the log after the snapshot, oldest first. */
  private configs: { index: number; config: Configuration }[] = []
  private snapshotConfig: Configuration
  private snapshotData: Uint8Array
  private pendingSnapshot: { meta: SnapshotMeta; data: Uint8Array } | null = null
  private pendingReset = false
  private persistedHardState: HardState
  private reportedSoftState: SoftState
  private readyInFlight: Ready | null = null
  /** Proposals are waiting to be sent to followers with the next Ready. */
  private appendsDue = false
  /** PreventQuorum in force: no leader heard from since start. */
  private preventing: boolean
  /** Met another confirmed epoch of the same number: no writes, no leases (see epochRule.ts). */
  private epochConflict: { ours: string; theirs: string; from: NodeId } | null = null
  /** The epoch this node last gave up to follow another (for the runtime's event). */
  private epochGivenUp: EpochIdentity | null = null
  /** See HardState.rebuilding. */
  private rebuildingFor: EpochIdentity | null
  /**
   * While rebuilding: the epoch is newer than the one this node left, so it never held any of
   * that history and its (durable) log holds everything it acknowledged there: it may vote
   * (never campaign). Rebuilding for an epoch it left once (a forced node giving way), it lost
   * what it acknowledged there and votes only once caught up.
   */
  private rebuildMayVote = false
  /** While rebuilding: the commit index the epoch's leader announced first; caught up at it. */
  private rebuildTarget: number | null = null

  constructor(options: RaftOptions, restore: RaftRestore) {
    assert(options.electionTicks > options.heartbeatTicks, 'election ticks must exceed heartbeat ticks')
    this.o = {
      electionJitter: 0.5,
      preVote: true,
      checkQuorum: true,
      maxInflight: 64,
      maxEntriesPerAppend: 256,
      maxBytesPerAppend: 1024 * 1024,
      preventQuorum: false,
      ...options,
    }
    this.preventing = this.o.preventQuorum || restore.hardState.preventing === true
    const initialProblem = configurationProblem(restore.initialConfig)
    assert(initialProblem === null, () => `initial configuration: ${initialProblem}`)
    this.initialConfig = restore.initialConfig
    this.log = new RaftLog(restore.snapshot, restore.entries, restore.hardState.commit)
    this.snapshotConfig = restore.snapshot.config ?? restore.initialConfig
    this.snapshotData = restore.snapshotData ?? emptyData
    for (const e of restore.entries)
      if (e.kind === 'config') this.configs.push({ index: e.index, config: decodeConfiguration(e.data) })
    this.term = restore.hardState.term
    this.vote = restore.hardState.vote
    this.rebuildingFor = restore.hardState.rebuilding ?? null
    this.rebuildMayVote = restore.hardState.rebuilding?.mayVote === true
    this.maybeRebuilt()
    assert(
      this.log.lastTerm() <= this.term,
      () => `log term ${this.log.lastTerm()} above hard state term ${this.term}`,
    )
    this.persistedHardState = { ...restore.hardState }
    this.reportedSoftState = { role: this.role, leader: this.leader }
    this.resetElectionTimeout()
  }

  // ---- requests ----------------------------------------------------------------------------

  tick(): void {
    this.ticks++
    if (this.role === 'leader') {
      this.leaderHeardTick = this.ticks
      this.tickLeader()
      return
    }
    this.electionElapsed++
    // A sole voter has nobody to wait for: it campaigns at once rather than after a timeout.
    const soleVoter = this.isSoleVoter()
    if ((soleVoter || this.electionElapsed >= this.randomizedElectionTimeout) && this.promotable()) {
      this.campaign(soleVoter ? 'real' : this.o.preVote ? 'pre' : 'real', false)
    }
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign(kind: 'pre' | 'real' = this.o.preVote ? 'pre' : 'real', transfer = false): void {
    if (!this.promotable()) return
    this.campaignByTransfer = transfer
    if (kind === 'pre') this.becomePreCandidate()
    else this.becomeCandidate()
    const last = this.lastId()
    const term = kind === 'pre' ? this.term + 1 : this.term
    this.recordVote(this.o.id, true, this.leaderHeardTick)
    if (this.role === 'leader' || this.role === 'follower') return
    for (const id of votersOf(this.config())) {
      if (id !== this.o.id)
        this.send({ type: kind === 'pre' ? 'pre-vote' : 'vote', to: id, term, last, transfer })
    }
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { ok: false, leader: this.leader, reason: 'not the leader' }
    if (this.transferee !== null)
      return { ok: false, leader: this.leader, reason: `leadership moving to ${this.transferee}` }
    const refusal = this.epochRefusal()
    if (refusal !== null) return { ok: false, leader: this.leader, reason: refusal }
    const entry = this.appendOwn('command', data)
    // Appends go out when the runtime takes the next Ready, so proposals made together travel
    // together (one message per follower instead of one per proposal).
    this.appendsDue = true
    return { ok: true, ticket: { index: entry.index, term: entry.term } }
  }

  /**
   * Changes weights or members through a joint configuration. Refused while another change is
   * under way or before this leader has committed an entry of its own term.
   */
  changeConfiguration(next: {
    incoming: Record<NodeId, number>
    base: Record<NodeId, number>
    witness: NodeId | null
    forced?: boolean
  }): ProposeResult {
    if (this.role !== 'leader') return { ok: false, leader: this.leader, reason: 'not the leader' }
    const current = this.config()
    // An unconfirmed forced epoch changes nothing: the operator has not asserted anything yet.
    const refusal = this.epochRefusal()
    if (refusal !== null) return { ok: false, leader: this.leader, reason: refusal }
    if (this.configChangePending())
      return { ok: false, leader: this.leader, reason: 'a configuration change is under way' }
    if (this.log.committed < this.termStartIndex)
      return { ok: false, leader: this.leader, reason: 'the leader has not committed its term yet' }
    const forced = next.forced ?? current.forced
    const joint: Configuration = {
      epoch: current.epoch,
      ...(current.epochId === undefined ? {} : { epochId: current.epochId }),
      forced,
      incoming: { ...next.incoming },
      outgoing: { ...current.incoming },
      base: { ...next.base },
      witness: next.witness,
    }
    const problem = configurationProblem(joint)
    if (problem !== null)
      return { ok: false, leader: this.leader, reason: `invalid configuration: ${problem}` }
    const entry = this.appendOwn('config', encodeConfiguration(joint))
    this.broadcastAppend()
    return { ok: true, ticket: { index: entry.index, term: entry.term } }
  }

  /** Asks for a linearizable read point; the answer arrives as a `ReadState` with `ctx`. */
  readIndex(ctx: string): void {
    if (this.role === 'leader') {
      this.leaderReadIndex(ctx, this.o.id)
      return
    }
    if (this.leader !== null) this.send({ type: 'read-index', to: this.leader, ctx })
  }

  /** Hands leadership to `to` (planned shutdown): catch it up, then tell it to campaign at once. */
  transferLeadership(to: NodeId): boolean {
    if (this.role !== 'leader' || to === this.o.id) return false
    if (weightIn(this.config().incoming, to) === 0 || this.config().witness === to) return false
    this.transferee = to
    this.transferElapsed = 0
    const pr = this.progress.get(to)
    if (pr !== undefined && pr.match === this.log.lastIndex()) this.send({ type: 'timeout-now', to })
    else this.sendAppend(to)
    return true
  }

  /**
   * The operator's override after a disaster: this node alone forms a new configuration (a new
   * epoch, named by this node and `nonce`) from its own log. Until `confirmed` (the operator
   * asserts the other side is down) it takes no writes, and a working cluster of the old epoch
   * that it meets makes it yield; once confirmed, whatever the rest committed and this log lacks
   * is lost when they meet.
   */
  forceQuorum(opts: { nonce: string; confirmed: boolean }): void {
    assert(/^[0-9a-z]{1,32}$/.test(opts.nonce), 'a forced epoch nonce is 1-32 lower-case letters or digits')
    const current = this.config()
    const incoming: Record<NodeId, number> = {}
    for (const id of membersOf(current)) incoming[id] = 0
    // Itself the sole voter, whether or not it was a member before (the runtime refuses that).
    incoming[this.o.id] = 1
    // A node still rebuilding for another epoch forms the epoch after that one, from what it has.
    const forced: Configuration = {
      epoch: this.epochIdentity().epoch + 1,
      epochId: `${this.o.id}/${opts.nonce}`,
      ...(opts.confirmed ? {} : { unconfirmed: true }),
      forced: true,
      incoming,
      outgoing: null,
      base: {
        ...current.base,
        [this.o.id]: Object.hasOwn(current.base, this.o.id) ? current.base[this.o.id]! : 1,
      },
      witness: current.witness,
    }
    this.rebuildingFor = null
    this.rebuildTarget = null
    this.term++
    this.vote = this.o.id
    this.role = 'candidate'
    this.becomeLeaderWith(forced)
  }

  /**
   * The operator confirms, on the leader of an unconfirmed forced epoch, that the other side is
   * down: the epoch takes writes and grants leases from the entry that says so.
   */
  confirmForced(): ProposeResult {
    if (this.role !== 'leader') return { ok: false, leader: this.leader, reason: 'not the leader' }
    const current = this.config()
    if (current.unconfirmed !== true)
      return { ok: false, leader: this.leader, reason: 'this epoch is not an unconfirmed forced one' }
    if (this.configChangePending())
      return { ok: false, leader: this.leader, reason: 'a configuration change is under way' }
    const { unconfirmed: _, ...confirmed } = current
    const entry = this.appendOwn('config', encodeConfiguration(confirmed))
    this.broadcastAppend()
    return { ok: true, ticket: { index: entry.index, term: entry.term } }
  }

  /** The epoch this node last gave up to follow another, or null. */
  lastEpochGivenUp(): EpochIdentity | null {
    return this.epochGivenUp
  }

  /** Why this node's epoch takes no writes now, or null. */
  epochRefusal(): string | null {
    if (this.epochConflict !== null)
      return `epoch ${this.epochConflict.ours} met another confirmed epoch ${this.epochConflict.theirs} (from ${this.epochConflict.from}); the two histories are never merged: stop one side`
    const config = this.config()
    if (config.unconfirmed === true)
      return `forced epoch ${describeEpoch(epochOf(config))} is not confirmed; confirm that the other side is down first`
    return null
  }

  // ---- messages ----------------------------------------------------------------------------

  step(m: Message): void {
    if (m.to !== this.o.id) return
    const mine = this.epochIdentity()
    const sameIdentity = (m.epochId ?? '') === mine.epochId || this.o.unsafe?.ignoreEpochIdentity === true
    if ((m.epoch !== mine.epoch || !sameIdentity) && !this.stepEpoch(m)) return
    if (m.term > this.term) {
      if ((m.type === 'pre-vote' || m.type === 'vote') && !m.transfer && this.inLease()) return
      if (m.type === 'pre-vote' || (m.type === 'pre-vote-resp' && m.granted)) {
        // Pre-votes ask about a future term; they never move ours.
      } else if (
        m.type === 'append' ||
        m.type === 'heartbeat' ||
        m.type === 'snapshot' ||
        m.type === 'witness-append'
      ) {
        this.becomeFollower(m.term, m.from)
      } else {
        this.becomeFollower(m.term, null)
      }
    } else if (m.term < this.term) {
      if (m.type === 'append' || m.type === 'heartbeat') {
        // A deposed leader learns our term and steps down.
        this.send({ type: 'append-resp', to: m.from, success: false, index: 0, hint: 0 })
      } else if (m.type === 'pre-vote') {
        this.send({ type: 'pre-vote-resp', to: m.from, granted: false })
      }
      return
    }
    switch (m.type) {
      case 'pre-vote':
      case 'vote':
        this.handleVoteRequest(m)
        return
      case 'timeout-now':
        if (this.promotable()) this.campaign('real', true)
        return
      case 'read-index':
        if (this.role === 'leader') this.leaderReadIndex(m.ctx, m.from)
        return
      case 'read-index-resp':
        this.readStates.push({ ctx: m.ctx, index: m.index })
        return
      case 'epoch':
        return
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m)
        return
      case 'pre-candidate':
      case 'candidate':
        this.stepCandidate(m)
        return
      case 'follower':
        this.stepFollower(m)
        return
    }
  }

  // ---- Ready / advance ---------------------------------------------------------------------

  hasReady(): boolean {
    if (this.readyInFlight !== null) return false
    return (
      this.pendingReset ||
      this.pendingSnapshot !== null ||
      this.softStateChanged() ||
      this.hardStateChanged() ||
      this.log.unstableEntries().length > 0 ||
      this.log.committed > this.log.applied ||
      this.messages.length > 0 ||
      this.readStates.length > 0 ||
      this.appendsDue
    )
  }

  ready(): Ready {
    assert(this.readyInFlight === null, 'ready() called again before advance()')
    if (this.appendsDue) {
      this.appendsDue = false
      if (this.role === 'leader') this.broadcastAppend()
    }
    const hardState = this.hardStateChanged() ? this.hardState() : null
    const entries = this.log.unstableEntries()
    const early = this.mayReplicateBeforePersist(hardState)
    const rd: Ready = {
      softState: this.softStateChanged() ? { role: this.role, leader: this.leader } : null,
      reset: this.pendingReset,
      snapshot: this.pendingSnapshot,
      hardState,
      entries,
      committedEntries: this.pendingSnapshot === null ? this.log.nextCommitted() : [],
      ...this.messagesInSendOrder(early),
      readStates: this.readStates,
      mustSync:
        this.pendingReset ||
        this.pendingSnapshot !== null ||
        entries.length > 0 ||
        this.promisesChanged(hardState),
    }
    this.messages = []
    this.readStates = []
    this.readyInFlight = rd
    return rd
  }

  /** The Ready's messages, replication first when it may leave before the disk has the Ready. */
  private messagesInSendOrder(early: boolean): Pick<Ready, 'messages' | 'sendableBeforePersist'> {
    if (!early) return { messages: this.messages, sendableBeforePersist: 0 }
    const first = this.messages.filter((m) => replicationTypes.has(m.type))
    if (first.length === 0) return { messages: this.messages, sendableBeforePersist: 0 }
    const rest = this.messages.filter((m) => !replicationTypes.has(m.type))
    return { messages: [...first, ...rest], sendableBeforePersist: first.length }
  }

  /**
   * Replication may leave before the Ready is durable unless the Ready changes what this node
   * promised (`promisesChanged`), resets or installs a snapshot.
   */
  private mayReplicateBeforePersist(hardState: HardState | null): boolean {
    return !this.pendingReset && this.pendingSnapshot === null && !this.promisesChanged(hardState)
  }

  /**
   * The Ready's hard state changes a promise, not only the commit index: a term or vote (a vote
   * must be on disk before anyone hears of it, and a leader's term before anyone follows it),
   * preventing, a rebuild. Such a Ready is synced, and nothing of it leaves before.
   */
  private promisesChanged(hardState: HardState | null): boolean {
    if (hardState === null) return false
    const p = this.persistedHardState
    return (
      hardState.term !== p.term ||
      hardState.vote !== p.vote ||
      hardState.preventing !== p.preventing ||
      (hardState.rebuilding === undefined) !== (p.rebuilding === undefined)
    )
  }

  /** The runtime has done everything `rd` asked for. */
  advance(rd: Ready): void {
    assert(rd === this.readyInFlight, 'advance() with a Ready that was not handed out')
    this.readyInFlight = null
    if (rd.reset) this.pendingReset = false
    if (rd.snapshot !== null && this.pendingSnapshot === rd.snapshot) this.pendingSnapshot = null
    if (rd.hardState !== null) this.persistedHardState = { ...rd.hardState }
    if (rd.softState !== null) this.reportedSoftState = { ...rd.softState }
    const lastPersisted = rd.entries.at(-1)
    if (lastPersisted !== undefined && this.log.term(lastPersisted.index) === lastPersisted.term) {
      this.log.stableTo(lastPersisted.index)
    }
    const lastApplied = rd.committedEntries.at(-1)
    if (lastApplied !== undefined) this.log.appliedTo(lastApplied.index)
    if (this.role === 'leader') {
      this.ownProgress().match = this.log.stable
      if (this.maybeCommit()) this.broadcastAppend()
      // The witness acknowledges only what the leader has on disk (see sendWitness).
      if (lastPersisted !== undefined)
        for (const id of this.progress.keys()) if (id === this.config().witness) this.sendWitness(id, null)
    }
  }

  /**
   * The runtime could not save this Ready's entries and hard state (the disk is full, no
   * descriptor was left): none of its messages were sent, since nothing may leave before the
   * disk has it. What was applied stays applied; the entries and hard state are offered again
   * in a later Ready, and the peers resend what they must.
   */
  persistFailed(rd: Ready): void {
    assert(rd === this.readyInFlight, 'persistFailed() with a Ready that was not handed out')
    assert(!rd.reset && rd.snapshot === null, 'persistFailed() after a reset or snapshot was installed')
    this.readyInFlight = null
    if (rd.softState !== null) this.reportedSoftState = { ...rd.softState }
    const lastApplied = rd.committedEntries.at(-1)
    if (lastApplied !== undefined) this.log.appliedTo(lastApplied.index)
  }

  /** A durable snapshot now covers the log up to `meta.index`: forget those entries. */
  compact(meta: SnapshotMeta, data: Uint8Array): void {
    if (meta.index <= this.log.snapshotMeta().index) return
    const config = this.configAt(meta.index)
    this.log.compact({ index: meta.index, term: meta.term })
    this.snapshotConfig = config
    this.configs = this.configs.filter((c) => c.index > meta.index)
    this.snapshotData = data
  }

  // ---- reads -------------------------------------------------------------------------------

  status(): RaftStatus {
    const progress: RaftStatus['progress'] = {}
    if (this.role === 'leader') {
      for (const [id, pr] of this.progress) {
        progress[id] = {
          match: id === this.config().witness ? this.witnessMatch(pr.mark) : pr.match,
          next: pr.next,
          active: pr.recentActive,
          ackAgeTicks: id === this.o.id ? 0 : this.ticks - pr.lastAckSentTick,
        }
      }
    }
    return {
      id: this.o.id,
      role: this.role,
      term: this.term,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      stable: this.log.stable,
      snapshotIndex: this.log.snapshotMeta().index,
      config: this.config(),
      epoch: this.epochIdentity(),
      rebuilding: this.rebuildingFor !== null,
      progress,
      transferee: this.role === 'leader' ? this.transferee : null,
      epochConflict: this.epochConflict,
      electedAfterSilence: this.role === 'leader' && this.electedAfterSilence,
      earlierLeaderHeardTicksAgo:
        this.role === 'leader' && this.earlierLeaderHeardTick !== null
          ? this.ticks - this.earlierLeaderHeardTick
          : null,
    }
  }

  /**
   * True when this node leads and has applied an entry of its own term. With one voter that is
   * enough for a linearizable read; with more, use `readIndex` (a deposed leader may not know yet).
   */
  canServeReads(): boolean {
    return this.role === 'leader' && this.log.applied >= this.termStartIndex && this.isSoleVoter()
  }

  /** This leader has committed an entry of its own term (its state holds every committed change). */
  committedInTerm(): boolean {
    return this.role === 'leader' && this.log.committed >= this.termStartIndex
  }

  termOf(index: number): number | undefined {
    return this.log.term(index)
  }

  config(): Configuration {
    return this.configs.at(-1)?.config ?? this.snapshotConfig
  }

  /** Whether this node wiped itself for another epoch and has not caught up with it yet. */
  rebuilding(): boolean {
    return this.rebuildingFor !== null
  }

  /** The epoch this node belongs to: its configuration's, or the one it is rebuilding for. */
  epochIdentity(): EpochIdentity {
    return this.rebuildingFor ?? epochOf(this.config())
  }

  /**
   * Rebuilding ends once the node has committed what that epoch's leader had committed when it
   * first heard from it (it then holds every entry it may have counted for before it wiped
   * itself), or, for a history it never held, once its log (or a leader's snapshot) holds a
   * configuration of the epoch. Not so for a node that once held it (a forced node giving way):
   * it may have voted and acknowledged there, and an old configuration of it is no proof that it
   * has all that back (it may even name it the sole voter).
   */
  private maybeRebuilt(): void {
    const r = this.rebuildingFor
    if (r === null) return
    const held =
      this.configs.at(-1)?.config ?? (this.log.snapshotMeta().index > 0 ? this.snapshotConfig : null)
    const ofEpoch =
      this.rebuildMayVote && held !== null && held.epoch === r.epoch && (held.epochId ?? '') === r.epochId
    const caughtUp = this.rebuildTarget !== null && this.log.committed >= this.rebuildTarget
    if (!ofEpoch && !caughtUp) return
    this.rebuildingFor = null
    this.rebuildTarget = null
  }

  /** The configuration in effect at `index` (the newest configuration entry at or before it). */
  configAt(index: number): Configuration {
    let config = this.snapshotConfig
    for (const c of this.configs) if (c.index <= index) config = c.config
    return config
  }

  // ---- roles -------------------------------------------------------------------------------

  private becomeFollower(term: number, leader: NodeId | null): void {
    if (this.role === 'leader') this.leaderHeardTick = this.ticks
    if (term > this.term) {
      this.term = term
      this.vote = null
    }
    this.role = 'follower'
    this.leader = leader
    if (leader !== null) this.preventing = false
    this.transferee = null
    this.pendingReads = []
    this.readsWaitingForTerm = []
    this.resetElectionTimeout()
  }

  private becomePreCandidate(): void {
    this.role = 'pre-candidate'
    this.leader = null
    this.votes = new Map()
    this.resetElectionTimeout()
  }

  private becomeCandidate(): void {
    this.term++
    this.vote = this.o.id
    this.role = 'candidate'
    this.leader = null
    this.votes = new Map()
    this.votersHeardTick = new Map()
    this.resetElectionTimeout()
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader')
    this.becomeLeaderWith(null)
  }

  private becomeLeaderWith(forced: Configuration | null): void {
    // Voters ignore vote requests while they hear a leader, except for a hand-over; a forced
    // leader had no votes at all.
    this.electedAfterSilence = this.o.checkQuorum && forced === null && !this.campaignByTransfer
    const granted = [...this.votes].filter(([, yes]) => yes).map(([id]) => id)
    const heard = granted.map((id) => this.votersHeardTick.get(id))
    this.earlierLeaderHeardTick =
      forced === null && heard.every((t) => t !== undefined) ? Math.max(...(heard as number[])) : null
    this.role = 'leader'
    this.leader = this.o.id
    this.transferee = null
    this.ackFloorTick = this.ticks
    this.heartbeatElapsed = 0
    this.electionElapsed = 0
    this.pendingReads = []
    this.progress = new Map()
    if (forced !== null) this.appendOwn('config', encodeConfiguration(forced))
    this.resetProgress()
    this.termStartIndex = this.appendOwn('noop', emptyData).index
    this.broadcastAppend()
  }

  private resetProgress(): void {
    const last = this.log.lastIndex()
    // A leader being removed keeps leading (and tracking itself) until the change commits (§6).
    const members = membersOf(this.config()).add(this.o.id)
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id)
    for (const id of members) {
      if (this.progress.has(id)) continue
      this.progress.set(id, {
        match: id === this.o.id ? this.log.stable : 0,
        next: last + 1,
        state: 'probe',
        inflight: [],
        probeSent: false,
        pendingSnapshot: 0,
        snapshotSentTick: 0,
        recentActive: id === this.o.id,
        lastHeardTick: this.ticks,
        lastAckSentTick: Number.NEGATIVE_INFINITY,
        mark: null,
      })
    }
  }

  /** `heardTick`: for a granted real vote, the latest tick (ours) the voter may have heard a leader. */
  private recordVote(from: NodeId, granted: boolean, heardTick?: number): void {
    this.votes.set(from, granted)
    if (granted && heardTick !== undefined) this.votersHeardTick.set(from, heardTick)
    const outcome = jointVoteResult(this.config(), this.votes)
    if (outcome === 'won') {
      if (this.role === 'pre-candidate') this.campaign('real', false)
      else this.becomeLeader()
    } else if (outcome === 'lost') {
      this.becomeFollower(this.term, null)
    }
  }

  // ---- leader ------------------------------------------------------------------------------

  private tickLeader(): void {
    this.heartbeatElapsed++
    this.electionElapsed++
    if (this.transferee !== null && ++this.transferElapsed >= this.o.electionTicks) this.abortTransfer()
    if (this.electionElapsed >= this.o.electionTicks) {
      this.electionElapsed = 0
      if (this.o.checkQuorum) {
        const active = [...this.progress]
          .filter(([id, pr]) => id === this.o.id || pr.recentActive)
          .map(([id]) => id)
        if (!jointHasMajority(this.config(), active)) {
          this.becomeFollower(this.term, null)
          return
        }
        for (const [id, pr] of this.progress) if (id !== this.o.id) pr.recentActive = false
      }
    }
    if (this.heartbeatElapsed >= this.o.heartbeatTicks) {
      this.heartbeatElapsed = 0
      this.broadcastHeartbeat(null)
    }
    // A snapshot that got lost on the way is sent again.
    for (const [id, pr] of this.progress) {
      if (pr.state === 'snapshot' && this.ticks - pr.snapshotSentTick >= this.o.electionTicks) {
        pr.state = 'probe'
        pr.probeSent = false
        this.sendAppend(id)
      }
    }
    this.maybeDynamicQuorum()
  }

  /**
   * A hand-over that did not happen in time: the transferee may still win (its vote requests skip
   * the voters' lease), so answers to anything sent before now no longer show a majority that
   * follows this leader; only answers to messages sent from now on count (a heartbeat goes this tick).
   */
  private abortTransfer(): void {
    assert(this.role === 'leader', 'only a leader aborts a hand-over')
    this.transferee = null
    this.ackFloorTick = this.ticks
    for (const pr of this.progress.values()) pr.lastAckSentTick = Number.NEGATIVE_INFINITY
    // Called from tickLeader before its heartbeat check: the heartbeat goes this very tick.
    this.heartbeatElapsed = this.o.heartbeatTicks
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from)
    if (pr === undefined) return
    pr.recentActive = true
    pr.lastHeardTick = this.ticks
    // An answer to this leader's own message of this term: the member heard this leader when
    // that message was sent (not necessarily now: the answer may have been delayed). An answer
    // without a send tick (an older peer, a snapshot's answer) proves nothing about when.
    if (
      (m.type === 'append-resp' || m.type === 'heartbeat-resp' || m.type === 'witness-resp') &&
      m.sentTick !== undefined &&
      m.sentTick >= this.ackFloorTick &&
      // A tick this leader has not reached is bogus: never fresher than the truth.
      m.sentTick <= this.ticks
    ) {
      pr.lastAckSentTick = Math.max(
        pr.lastAckSentTick,
        this.o.unsafe?.ackAtReceive === true ? this.ticks : m.sentTick,
      )
      assert(pr.lastAckSentTick <= this.ticks, 'an ack cannot answer a message not yet sent')
    }
    switch (m.type) {
      case 'append-resp':
        this.handleAppendResponse(m.from, pr, m)
        return
      case 'heartbeat-resp':
        // A lost probe or a full window must not stall a follower: the heartbeat reopens them.
        pr.probeSent = false
        if (pr.state === 'replicate' && pr.inflight.length >= this.o.maxInflight) pr.inflight.shift()
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from)
        if (m.ctx !== null) this.ackRead(m.ctx, m.from)
        return
      case 'witness-resp':
        if (pr.mark === null || compareEntryIds(m.mark, pr.mark) > 0) pr.mark = m.mark
        if (this.maybeCommit()) this.broadcastAppend()
        if (m.ctx !== null) this.ackRead(m.ctx, m.from)
        return
      default:
        return
    }
  }

  private handleAppendResponse(
    from: NodeId,
    pr: Progress,
    m: Extract<Message, { type: 'append-resp' }>,
  ): void {
    if (!m.success) {
      // Back off to the follower's hint and probe again; rejections of older appends are stale.
      if (pr.state === 'snapshot') return
      if (pr.state === 'replicate') {
        if (m.index <= pr.match) return
        pr.state = 'probe'
        pr.next = pr.match + 1
        pr.inflight = []
      } else {
        if (pr.next - 1 !== m.index) return
        pr.next = Math.max(pr.match + 1, Math.min(m.index, m.hint + 1))
      }
      pr.probeSent = false
      this.sendAppend(from)
      return
    }
    // A follower cannot hold more than this leader has: such an answer is bogus, not progress.
    if (m.index > this.log.lastIndex()) return
    if (m.index > pr.match) pr.match = m.index
    if (pr.next <= pr.match) pr.next = pr.match + 1
    pr.inflight = pr.inflight.filter((i) => i > m.index)
    if (pr.state === 'probe') {
      pr.state = 'replicate'
      pr.probeSent = false
    } else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
      pr.state = 'replicate'
      pr.pendingSnapshot = 0
    }
    if (this.maybeCommit()) this.broadcastAppend()
    else if (pr.next <= this.log.lastIndex()) this.sendAppend(from)
    if (from === this.transferee && pr.match === this.log.lastIndex())
      this.send({ type: 'timeout-now', to: from })
  }

  /**
   * Commit by weighted majority of stored copies, and only entries of the current term by
   * counting (Raft §5.4.2, figure 8). The witness counts toward an index only while its W names
   * an entry of this leader's log at or after that index.
   */
  private maybeCommit(): boolean {
    const config = this.config()
    const index = jointCommittedIndex(config, (id) => {
      // Its own copy counts once its disk has it: its appends may leave before (sendableBeforePersist).
      if (id === this.o.id)
        return this.o.unsafe?.countOwnUnpersisted === true ? this.log.lastIndex() : this.log.stable
      const pr = this.progress.get(id)
      if (pr === undefined) return 0
      if (id === config.witness) return this.witnessMatch(pr.mark)
      return pr.match
    })
    if (index <= this.log.committed) return false
    if (this.log.term(index) !== this.term && this.o.unsafe?.allowOldTermCommit !== true) return false
    this.log.commitTo(index)
    this.afterCommit()
    return true
  }

  private witnessMatch(mark: EntryId | null): number {
    if (mark === null) return 0
    if (this.o.unsafe?.ignoreWitnessMark === true) return mark.index
    return this.log.term(mark.index) === mark.term ? Math.min(mark.index, this.log.stable) : 0
  }

  private afterCommit(): void {
    // A joint configuration that is committed moves on to its incoming half alone.
    const latest = this.configs.at(-1)
    if (latest !== undefined && latest.index <= this.log.committed) {
      if (latest.config.outgoing !== null) {
        this.appendOwn('config', encodeConfiguration({ ...latest.config, outgoing: null }))
      } else if (weightIn(latest.config.incoming, this.o.id) === 0 && this.role === 'leader') {
        // This leader has no vote in the configuration it just committed: let a voter lead.
        this.becomeFollower(this.term, null)
        return
      }
    }
    this.releaseReadsWaitingForTerm()
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) {
      if (id === this.o.id) continue
      if (id === this.config().witness) this.sendWitness(id, null)
      else this.sendAppend(id)
    }
  }

  private broadcastHeartbeat(ctx: string | null): void {
    for (const [id, pr] of this.progress) {
      if (id === this.o.id) continue
      if (id === this.config().witness) this.sendWitness(id, ctx)
      else
        this.send({
          type: 'heartbeat',
          to: id,
          commit: Math.min(pr.match, this.log.committed),
          ctx,
          sentTick: this.ticks,
        })
    }
  }

  /**
   * The witness holds no entries: it is told the newest entry this leader has on stable storage,
   * and acknowledges with its W. W only ever names entries of this leader's log.
   */
  private sendWitness(to: NodeId, ctx: string | null): void {
    let index = this.log.stable
    if (!isVoter(this.config(), this.o.id)) {
      // A leader on its way out must not let W name entries only it holds: a node that cannot
      // campaign would then be the only one up to date enough for the witness's vote.
      let held = 0
      for (const [id, pr] of this.progress)
        if (id !== this.o.id && id !== to && isVoter(this.config(), id)) held = Math.max(held, pr.match)
      index = Math.min(index, held)
    }
    const term = this.log.term(index) ?? this.log.snapshotMeta().term
    this.send({ type: 'witness-append', to, mark: { term, index }, ctx, sentTick: this.ticks })
  }

  private sendAppend(to: NodeId): void {
    const pr = this.progress.get(to)
    if (pr === undefined) return
    if (pr.state === 'snapshot') return
    if (pr.state === 'probe' && pr.probeSent) return
    if (pr.state === 'replicate' && pr.inflight.length >= this.o.maxInflight) return
    const prevIndex = pr.next - 1
    const prevTerm = this.log.term(prevIndex)
    if (prevTerm === undefined) {
      this.sendSnapshot(to, pr)
      return
    }
    let last = Math.min(this.log.lastIndex(), prevIndex + this.o.maxEntriesPerAppend)
    const entries: Entry[] = []
    let bytes = 0
    for (let i = prevIndex + 1; i <= last; i++) {
      const entry = this.log.entry(i)!
      if (entries.length > 0 && bytes + entry.data.length > this.o.maxBytesPerAppend) {
        last = i - 1
        break
      }
      bytes += entry.data.length
      entries.push(entry)
    }
    this.send({
      type: 'append',
      to,
      prev: { term: prevTerm, index: prevIndex },
      entries,
      commit: this.log.committed,
      sentTick: this.ticks,
    })
    if (pr.state === 'replicate') {
      if (entries.length > 0) {
        pr.next = last + 1
        pr.inflight.push(last)
      }
    } else {
      pr.probeSent = true
    }
  }

  private sendSnapshot(to: NodeId, pr: Progress): void {
    const meta = this.log.snapshotMeta()
    this.send({
      type: 'snapshot',
      to,
      meta: { ...meta, config: this.snapshotConfig },
      data: this.snapshotData,
    })
    pr.state = 'snapshot'
    pr.pendingSnapshot = meta.index
    pr.snapshotSentTick = this.ticks
    pr.inflight = []
  }

  // ---- followers and candidates ------------------------------------------------------------

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.becomeFollower(m.term, m.from)
        this.stepFollower(m)
        return
      case 'pre-vote-resp':
        if (this.role === 'pre-candidate') this.recordVote(m.from, m.granted)
        return
      case 'vote-resp':
        // The voter's ticks and ours are not aligned, and it answered before we received: two
        // ticks of slack keep the estimate late, never early.
        if (this.role === 'candidate')
          this.recordVote(
            m.from,
            m.granted,
            m.silenceTicks === undefined ? undefined : this.ticks - m.silenceTicks + 2,
          )
        return
      default:
        return
    }
  }

  private stepFollower(m: Message): void {
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
      this.preventing = false
      this.leaderHeardTick = this.ticks
    }
    switch (m.type) {
      case 'append':
        this.electionElapsed = 0
        this.leader = m.from
        this.handleAppend(m)
        return
      case 'heartbeat':
        this.electionElapsed = 0
        this.leader = m.from
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()))
        this.send({ type: 'heartbeat-resp', to: m.from, ctx: m.ctx, ...echoSentTick(m) })
        return
      case 'snapshot':
        this.electionElapsed = 0
        this.leader = m.from
        this.handleSnapshot(m)
        return
      default:
        return
    }
  }

  private handleAppend(m: Extract<Message, { type: 'append' }>): void {
    if (m.prev.index < this.log.committed) {
      this.send({
        type: 'append-resp',
        to: m.from,
        success: true,
        index: this.log.committed,
        hint: 0,
        ...echoSentTick(m),
      })
      return
    }
    if (this.log.term(m.prev.index) !== m.prev.term) {
      this.send({
        type: 'append-resp',
        to: m.from,
        success: false,
        index: m.prev.index,
        hint: this.conflictHint(m.prev),
        ...echoSentTick(m),
      })
      return
    }
    // Skip what already matches; truncate at the first conflict; append the rest.
    let i = 0
    while (i < m.entries.length && this.log.term(m.entries[i]!.index) === m.entries[i]!.term) i++
    const fresh = m.entries.slice(i)
    if (fresh.length > 0) this.appendEntries(fresh)
    const lastNew = m.prev.index + m.entries.length
    this.log.commitTo(Math.min(m.commit, lastNew))
    if (this.rebuildingFor !== null) {
      this.rebuildTarget ??= m.commit
      this.maybeRebuilt()
    }
    this.send({ type: 'append-resp', to: m.from, success: true, index: lastNew, hint: 0, ...echoSentTick(m) })
  }

  /**
   * Where the leader should look next after a mismatch at `prev`: the last index at or below it
   * whose term is not above `prev.term` (etcd's findConflictByTerm), skipping a whole stale term.
   */
  private conflictHint(prev: EntryId): number {
    for (let i = Math.min(prev.index - 1, this.log.lastIndex()); i > 0; i--) {
      const t = this.log.term(i)
      if (t === undefined || t <= prev.term) return i
    }
    return 0
  }

  private handleSnapshot(m: Extract<Message, { type: 'snapshot' }>): void {
    const meta = m.meta
    if (meta.index <= this.log.committed) {
      this.send({ type: 'append-resp', to: m.from, success: true, index: this.log.committed, hint: 0 })
      return
    }
    if (this.log.term(meta.index) === meta.term) {
      // We hold the entry the snapshot ends at: just learn that it is committed.
      this.log.commitTo(meta.index)
    } else {
      this.log = new RaftLog({ index: meta.index, term: meta.term }, [], meta.index)
      this.snapshotConfig = meta.config ?? this.config()
      this.configs = []
      this.snapshotData = m.data
      this.pendingSnapshot = { meta, data: m.data }
    }
    this.maybeRebuilt()
    this.send({ type: 'append-resp', to: m.from, success: true, index: meta.index, hint: 0 })
  }

  private handleVoteRequest(m: Extract<Message, { type: 'pre-vote' | 'vote' }>): void {
    const pre = m.type === 'pre-vote'
    const canVote =
      this.vote === m.from || (this.vote === null && this.leader === null) || (pre && m.term > this.term)
    const upToDate = compareEntryIds(m.last, this.lastId()) >= 0
    const granted =
      canVote && upToDate && !this.preventing && (this.rebuildingFor === null || this.rebuildMayVote)
    if (granted && !pre) {
      this.vote = m.from
      this.electionElapsed = 0
    } else if (granted && pre) {
      // Give the other side its chance before campaigning ourselves: a follower restarts its
      // timer; a pre-candidate racing it steps back when the other log is ahead, or equal with
      // the smaller id, so two survivors do not keep splitting the vote.
      const cmp = compareEntryIds(m.last, this.lastId())
      if (this.role === 'follower') {
        // We agree the leader is gone: forget it (no lease to defend) and wait our turn.
        this.leader = null
        this.resetElectionTimeout()
      } else if (this.role === 'pre-candidate' && (cmp > 0 || (cmp === 0 && m.from < this.o.id)))
        this.becomeFollower(this.term, null)
    }
    if (pre) this.send({ type: 'pre-vote-resp', to: m.from, granted, term: granted ? m.term : this.term })
    else if (granted)
      this.send({ type: 'vote-resp', to: m.from, granted, silenceTicks: this.ticks - this.leaderHeardTick })
    else this.send({ type: 'vote-resp', to: m.from, granted })
  }

  // ---- reads (read-index, Raft §8) ---------------------------------------------------------

  private leaderReadIndex(ctx: string, from: NodeId): void {
    if (!this.committedInTerm()) {
      this.readsWaitingForTerm.push({ ctx, from })
      return
    }
    const index = this.log.committed
    const read: PendingRead = { ctx, index, from, acks: new Set([this.o.id]) }
    if (jointHasMajority(this.config(), read.acks)) {
      this.releaseRead(read)
      return
    }
    this.pendingReads.push(read)
    this.broadcastHeartbeat(ctx)
  }

  private ackRead(ctx: string, from: NodeId): void {
    const at = this.pendingReads.findIndex((r) => r.ctx === ctx)
    if (at < 0) return
    this.pendingReads[at]!.acks.add(from)
    if (!jointHasMajority(this.config(), this.pendingReads[at]!.acks)) return
    // This read and every one queued before it are confirmed.
    for (const read of this.pendingReads.splice(0, at + 1)) this.releaseRead(read)
  }

  private releaseRead(read: PendingRead): void {
    if (read.from === this.o.id) this.readStates.push({ ctx: read.ctx, index: read.index })
    else this.send({ type: 'read-index-resp', to: read.from, ctx: read.ctx, index: read.index })
  }

  private releaseReadsWaitingForTerm(): void {
    if (!this.committedInTerm() || this.readsWaitingForTerm.length === 0) return
    for (const r of this.readsWaitingForTerm.splice(0)) this.leaderReadIndex(r.ctx, r.from)
  }

  // ---- epochs (forced quorum) --------------------------------------------------------------

  /**
   * A message from another epoch (another number or another identity). Returns true when it
   * should be processed further (this node followed the sender's epoch). The rules are in
   * epochRule.ts.
   */
  private stepEpoch(m: Message): boolean {
    const mine = this.epochIdentity()
    const theirs = { epoch: m.epoch, epochId: m.epochId ?? '', unconfirmed: m.epochUnconfirmed === true }
    const meeting = meetEpoch(mine, theirs, {
      fromLeader: m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot',
    })
    if (meeting === 'follow') {
      this.resetTo(theirs, m.term)
      return m.type !== 'epoch'
    }
    if (meeting === 'conflict' && this.epochConflict === null)
      this.epochConflict = { ours: describeEpoch(mine), theirs: describeEpoch(theirs), from: m.from }
    // Never answer a notice with a notice: two nodes would tell each other forever.
    if (m.type !== 'epoch') this.send({ type: 'epoch', to: m.from, term: this.term })
    return false
  }

  /**
   * Part of a working cluster right now: the leader (check-quorum removes a leader that cannot
   * hear from a majority), or a follower that heard from its leader within the election timeout.
   */
  quorate(): boolean {
    if (this.role === 'leader') return true
    return this.leader !== null && this.electionElapsed < this.o.electionTicks
  }

  /** Wipes this node's log and state: it will be rebuilt from a leader of `epoch`. */
  private resetTo(epoch: EpochIdentity, term: number): void {
    this.epochGivenUp = this.epochIdentity()
    this.rebuildMayVote = epoch.epoch > this.epochIdentity().epoch
    // It met the epoch it joins (what --prevent-quorum waits for); rebuilding keeps it from forming.
    this.preventing = false
    this.rebuildingFor = { epoch: epoch.epoch, epochId: epoch.epochId, unconfirmed: epoch.unconfirmed }
    this.rebuildTarget = null
    this.log = new RaftLog({ index: 0, term: 0 }, [], 0)
    this.configs = []
    // Until the leader's log or snapshot says otherwise, the shared starting configuration.
    const { epochId: _, unconfirmed: __, ...initial } = this.initialConfig
    this.snapshotConfig = {
      ...initial,
      epoch: epoch.epoch,
      ...(epoch.epochId === '' ? {} : { epochId: epoch.epochId }),
      ...(epoch.unconfirmed ? { unconfirmed: true } : {}),
    }
    this.snapshotData = emptyData
    this.pendingSnapshot = null
    this.pendingReset = true
    // One vote per term, whatever the history: the vote stays unless the term moves on.
    if (term > this.term) {
      this.term = term
      this.vote = null
    }
    this.becomeFollower(this.term, null)
  }

  // ---- dynamic quorum ----------------------------------------------------------------------

  /**
   * With dynamic quorum, weights follow who is up. Without it, only a forced configuration
   * changes by itself: members get their votes back as they return, and it ends once a majority
   * of the configured votes is back.
   */
  private maybeDynamicQuorum(): void {
    const dq = this.o.dynamicQuorum ?? null
    const config = this.config()
    if ((dq === null && !config.forced) || this.ticks % this.o.heartbeatTicks !== 0) return
    // An unconfirmed forced epoch stays its forcer's alone until the operator confirms it.
    if (config.unconfirmed === true) return
    if (this.configChangePending() || this.log.committed < this.termStartIndex || this.transferee !== null)
      return
    const downAfterTicks = dq?.downAfterTicks ?? this.o.electionTicks
    const up = new Set<NodeId>()
    const down = new Set<NodeId>()
    for (const [id, pr] of this.progress) {
      const silent = this.ticks - pr.lastHeardTick
      const caughtUp = id === config.witness || pr.match >= this.log.committed
      // Up: heard from within an election timeout (not check-quorum's flag, which is cleared every
      // round and would make healthy nodes look undecided, churning the configuration).
      if (id === this.o.id || (silent < Math.min(downAfterTicks, this.o.electionTicks) && caughtUp))
        up.add(id)
      else if (silent >= downAfterTicks) down.add(id)
    }
    const next =
      dq === null
        ? weightsAfterForce(config, up)
        : desiredWeights(config, { leader: this.o.id, up, down }, dq.lowerQuorumPriority)
    if (next === null) return
    this.changeConfiguration({
      incoming: next.incoming,
      base: config.base,
      witness: config.witness,
      forced: next.forced,
    })
  }

  // ---- log and configuration ---------------------------------------------------------------

  private appendOwn(kind: Entry['kind'], data: Uint8Array): Entry {
    assert(this.role === 'leader', 'only the leader appends its own entries')
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, kind, data }
    this.appendEntries([entry])
    return entry
  }

  private appendEntries(entries: Entry[]): void {
    const first = entries[0]!.index
    this.configs = this.configs.filter((c) => c.index < first)
    this.log.append(entries)
    for (const e of entries)
      if (e.kind === 'config') this.configs.push({ index: e.index, config: decodeConfiguration(e.data) })
    if (this.role === 'leader') this.resetProgress()
  }

  private configChangePending(): boolean {
    const latest = this.configs.at(-1)
    return (latest !== undefined && latest.index > this.log.committed) || this.config().outgoing !== null
  }

  private send(m: OutgoingMessage): void {
    const epoch = this.epochIdentity()
    this.messages.push({
      ...m,
      from: this.o.id,
      epoch: epoch.epoch,
      ...(epoch.epochId === '' ? {} : { epochId: epoch.epochId }),
      ...(epoch.unconfirmed ? { epochUnconfirmed: true } : {}),
      term: m.term ?? this.term,
    } as Message)
  }

  private lastId(): EntryId {
    return { term: this.log.lastTerm(), index: this.log.lastIndex() }
  }

  private ownProgress(): Progress {
    const pr = this.progress.get(this.o.id)
    assert(pr !== undefined, 'the leader has no progress entry for itself')
    return pr
  }

  /** In lease: we heard from a leader within the election timeout, so no election is needed. */
  private inLease(): boolean {
    if (this.o.unsafe?.voteWhileInLease === true) return false
    return this.o.checkQuorum && this.leader !== null && this.electionElapsed < this.o.electionTicks
  }

  /**
   * May campaign: a voter of its latest configuration, or a voter of the one before while the
   * latest is not known to be committed — a node being removed may still be the only one holding
   * the entries the others need (Ongaro's thesis §4.2.2, figure 4.6).
   */
  private promotable(): boolean {
    if (this.preventing || this.rebuildingFor !== null) return false
    const c = this.config()
    if (c.witness === this.o.id) return false
    if (isVoter(c, this.o.id)) return true
    const latest = this.configs.at(-1)
    return (
      latest !== undefined &&
      latest.index > this.log.committed &&
      isVoter(this.configAt(latest.index - 1), this.o.id)
    )
  }

  private isSoleVoter(): boolean {
    const voters = votersOf(this.config())
    return voters.size === 1 && voters.has(this.o.id) && this.config().outgoing === null
  }

  private resetElectionTimeout(): void {
    const n = this.o.electionTicks
    this.electionElapsed = 0
    this.randomizedElectionTimeout = n + Math.floor(this.o.random() * n * this.o.electionJitter)
  }

  private hardState(): HardState {
    const h: HardState = { term: this.term, vote: this.vote, commit: this.log.committed }
    if (this.rebuildingFor !== null)
      h.rebuilding = { ...this.rebuildingFor, ...(this.rebuildMayVote ? { mayVote: true } : {}) }
    if (this.preventing) h.preventing = true
    return h
  }

  private hardStateChanged(): boolean {
    const p = this.persistedHardState
    return (
      p.term !== this.term ||
      p.vote !== this.vote ||
      p.commit !== this.log.committed ||
      (p.rebuilding === undefined) !== (this.rebuildingFor === null) ||
      (p.preventing === true) !== this.preventing
    )
  }

  private softStateChanged(): boolean {
    return this.reportedSoftState.role !== this.role || this.reportedSoftState.leader !== this.leader
  }
}
