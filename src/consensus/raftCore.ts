/**
 * The consensus core: a pure Raft state machine in the shape of etcd-io/raft. Inputs are ticks
 * and proposals; output is a `Ready` batch the runtime persists and applies before calling
 * `advance`. No timers, I/O or randomness inside: time is ticks, randomness is `config.random`.
 *
 * A leader counts its own vote for an entry only once the runtime has persisted it (`stable`), so
 * with a single voter "committed" means "fsynced"; with several voters the same rule, fed by
 * followers' match indexes, is a weighted majority (see quorum/voteMath.ts).
 */
import { assert } from '../errors/assert.ts'
import { committedIndex, totalWeight, type VoterWeights, voteResult } from './quorum/voteMath.ts'
import { RaftLog } from './raftLog.ts'
import type {
  Entry,
  HardState,
  NodeId,
  ProposalTicket,
  Ready,
  Role,
  SnapshotMeta,
  SoftState,
} from './types.ts'

export interface RaftConfig {
  id: NodeId
  voters: VoterWeights
  /** Ticks without a leader before a follower campaigns (randomized in [n, 2n)). */
  electionTicks: number
  heartbeatTicks: number
  /** Uniform in [0, 1); injected so a seeded simulator reproduces elections exactly. */
  random: () => number
}

export interface RaftRestore {
  hardState: HardState
  snapshot: SnapshotMeta
  /** Entries on stable storage after the snapshot, in order. */
  entries: Entry[]
}

export type ProposeResult = { ok: true; ticket: ProposalTicket } | { ok: false; leader: NodeId | null }

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
}

const emptyData = new Uint8Array(0)

export class RaftCore {
  private readonly config: RaftConfig
  private readonly log: RaftLog
  private term: number
  private vote: NodeId | null
  private role: Role = 'follower'
  private leader: NodeId | null = null
  private votes = new Map<NodeId, boolean>()
  private electionElapsed = 0
  private randomizedElectionTimeout = 0
  /** Index of the no-op this leader appended; reads are safe once it is applied. */
  private termStartIndex = 0
  private persistedHardState: HardState
  private reportedSoftState: SoftState
  private readyInFlight: Ready | null = null

  constructor(config: RaftConfig, restore: RaftRestore) {
    assert(config.electionTicks > config.heartbeatTicks, 'election ticks must exceed heartbeat ticks')
    assert(totalWeight(config.voters) > 0, 'the configuration has no votes')
    this.config = config
    this.log = new RaftLog(restore.snapshot, restore.entries, restore.hardState.commit)
    this.term = restore.hardState.term
    this.vote = restore.hardState.vote
    assert(
      this.log.lastTerm() <= this.term,
      () => `log term ${this.log.lastTerm()} above hard state term ${this.term}`,
    )
    this.persistedHardState = { ...restore.hardState }
    this.reportedSoftState = { role: this.role, leader: this.leader }
    this.resetElectionTimeout()
  }

  // ---- inputs ------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') return
    // A sole voter has nobody to wait for: it campaigns at once rather than after a timeout.
    if (this.isSoleVoter()) {
      this.campaign()
      return
    }
    this.electionElapsed++
    if (this.electionElapsed >= this.randomizedElectionTimeout && this.isVoter()) this.campaign()
  }

  campaign(): void {
    assert(this.isVoter(), `${this.config.id} has no vote and cannot campaign`)
    this.becomeCandidate()
    this.recordVote(this.config.id, true)
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { ok: false, leader: this.leader }
    const entry = this.appendOwn('command', data)
    return { ok: true, ticket: { index: entry.index, term: entry.term } }
  }

  // ---- Ready / advance ---------------------------------------------------------------------

  hasReady(): boolean {
    if (this.readyInFlight !== null) return false
    return (
      this.softStateChanged() ||
      this.hardStateChanged() ||
      this.log.unstableEntries().length > 0 ||
      this.log.committed > this.log.applied
    )
  }

  ready(): Ready {
    assert(this.readyInFlight === null, 'ready() called again before advance()')
    const hardState = this.hardStateChanged() ? this.hardState() : null
    const softState = this.softStateChanged() ? { role: this.role, leader: this.leader } : null
    const entries = this.log.unstableEntries()
    const rd: Ready = {
      softState,
      hardState,
      entries,
      committedEntries: this.log.nextCommitted(),
      mustSync:
        entries.length > 0 ||
        (hardState !== null &&
          (hardState.term !== this.persistedHardState.term ||
            hardState.vote !== this.persistedHardState.vote)),
    }
    this.readyInFlight = rd
    return rd
  }

  /** The runtime has persisted `rd.hardState` and `rd.entries` and applied `rd.committedEntries`. */
  advance(rd: Ready): void {
    assert(rd === this.readyInFlight, 'advance() with a Ready that was not handed out')
    this.readyInFlight = null
    if (rd.hardState !== null) this.persistedHardState = { ...rd.hardState }
    if (rd.softState !== null) this.reportedSoftState = { ...rd.softState }
    const lastPersisted = rd.entries.at(-1)
    if (lastPersisted !== undefined && this.log.term(lastPersisted.index) === lastPersisted.term) {
      this.log.stableTo(lastPersisted.index)
    }
    const lastApplied = rd.committedEntries.at(-1)
    if (lastApplied !== undefined) this.log.appliedTo(lastApplied.index)
    if (this.role === 'leader') this.maybeCommit()
  }

  /** A durable snapshot now covers the log up to `meta.index`: forget those entries. */
  compact(meta: SnapshotMeta): void {
    this.log.compact(meta)
  }

  // ---- reads -------------------------------------------------------------------------------

  status(): RaftStatus {
    return {
      id: this.config.id,
      role: this.role,
      term: this.term,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      stable: this.log.stable,
      snapshotIndex: this.log.snapshotMeta().index,
    }
  }

  /**
   * True when this node leads and has applied an entry of its own term: its state then holds
   * every committed change, so reads from it are linearizable (Raft §8).
   */
  canServeReads(): boolean {
    return this.role === 'leader' && this.log.applied >= this.termStartIndex
  }

  termOf(index: number): number | undefined {
    return this.log.term(index)
  }

  // ---- state changes -----------------------------------------------------------------------

  private becomeCandidate(): void {
    this.term++
    this.vote = this.config.id
    this.role = 'candidate'
    this.leader = null
    this.votes = new Map()
    this.resetElectionTimeout()
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader')
    this.role = 'leader'
    this.leader = this.config.id
    this.termStartIndex = this.appendOwn('noop', emptyData).index
  }

  private recordVote(from: NodeId, granted: boolean): void {
    this.votes.set(from, granted)
    const outcome = voteResult(this.config.voters, this.votes)
    if (outcome === 'won') this.becomeLeader()
  }

  private appendOwn(kind: Entry['kind'], data: Uint8Array): Entry {
    assert(this.role === 'leader', 'only the leader appends its own entries')
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, kind, data }
    this.log.append([entry])
    return entry
  }

  /** Commit by weighted majority of stored copies, only for entries of the current term (§5.4.2). */
  private maybeCommit(): void {
    const index = committedIndex(this.config.voters, (id) => (id === this.config.id ? this.log.stable : 0))
    if (index > this.log.committed && this.log.term(index) === this.term) this.log.commitTo(index)
  }

  private resetElectionTimeout(): void {
    const n = this.config.electionTicks
    this.electionElapsed = 0
    this.randomizedElectionTimeout = n + Math.floor(this.config.random() * n)
  }

  private isVoter(): boolean {
    return (this.config.voters.get(this.config.id) ?? 0) > 0
  }

  private isSoleVoter(): boolean {
    return this.isVoter() && totalWeight(this.config.voters) === this.config.voters.get(this.config.id)
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed }
  }

  private hardStateChanged(): boolean {
    const p = this.persistedHardState
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.log.committed
  }

  private softStateChanged(): boolean {
    return this.reportedSoftState.role !== this.role || this.reportedSoftState.leader !== this.leader
  }
}
