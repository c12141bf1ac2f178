/**
 * The cluster log under the disk quorum model (seed 000's quorum resource): the quorum disk is
 * the only vote. The node holding the disk lease leads under its ballot and commits an entry
 * once the entry is durable in the recovery log on the disk; every other node follows by reading
 * that log. Same surface as RaftCore, so the runtime drives either the same way; pure like it:
 * the runtime says when this node leads (`lead`) or not (`follow`), hands over what it read from
 * the disk (`learn`), and persists what `ready()` asks for to the disk before `advance`.
 */

import { type EpochIdentity, epochOf } from '../../consensus/configuration.ts'
import type { ConsensusCore } from '../../consensus/consensusCore.ts'
import type { ProposeResult, RaftStatus } from '../../consensus/raftCore.ts'
import type {
  Configuration,
  Entry,
  Message,
  NodeId,
  ReadState,
  Ready,
  Role,
  SnapshotMeta,
  SoftState,
} from '../../consensus/types.ts'
import { assert } from '../../errors/assert.ts'
import { GeoclusterError } from '../../errors/errors.ts'

const noData = new Uint8Array(0)

export class DiskCore implements ConsensusCore {
  private readonly id: NodeId
  private readonly configuration: Configuration
  private role: Role = 'follower'
  private leader: NodeId | null = null
  private ballot = 0
  private lastIndex: number
  private lastTerm: number
  private commit: number
  private commitTerm: number
  private applied: number
  private appliedTerm: number
  /** A snapshot from the recovery log to install before anything after it. */
  private pendingSnapshot: { meta: SnapshotMeta; data: Uint8Array } | null = null
  /** Proposed here as leader, not yet on the disk. */
  private unstable: Entry[] = []
  /** On the disk (persisted as leader or learnt as follower), not yet handed out for applying. */
  private committed: Entry[] = []
  private termStartIndex = Number.POSITIVE_INFINITY
  private readStates: ReadState[] = []
  private readsAwaitingTail: string[] = []
  private reported: SoftState = { role: 'follower', leader: null }
  private inFlight: Ready | null = null

  /** `applied`: what the runtime's database already holds (from the disk, at start). */
  constructor(id: NodeId, configuration: Configuration, applied: { index: number; term: number }) {
    this.id = id
    this.configuration = configuration
    this.lastIndex = applied.index
    this.lastTerm = applied.term
    this.commit = applied.index
    this.commitTerm = applied.term
    this.applied = applied.index
    this.appliedTerm = applied.term
  }

  // ---- the runtime's inputs -------------------------------------------------------------------

  /**
   * This node holds the disk lease under `ballot` and has learnt every entry of the recovery
   * log (through `learn`): it leads, and commits its term with a no-op.
   */
  lead(ballot: number): void {
    assert(ballot > this.ballot, () => `ballot ${ballot} is not above ${this.ballot}`)
    assert(this.unstable.length === 0, 'unpersisted entries from an earlier leadership')
    this.ballot = ballot
    this.role = 'leader'
    this.leader = this.id
    this.termStartIndex = this.lastIndex + 1
    this.appendOwn('noop', noData)
  }

  /** This node does not hold the lease (any more): `holder` leads, as far as the disk says. */
  follow(holder: NodeId | null): void {
    if (this.role === 'leader') {
      // Whatever was not yet on the disk is not committed and never will be by us.
      this.lastIndex = this.commit
      this.lastTerm = this.commitTerm
      this.unstable = []
      this.termStartIndex = Number.POSITIVE_INFINITY
    }
    this.role = 'follower'
    this.leader = holder === this.id ? null : holder
  }

  /**
   * What was read from the recovery log (committed by whoever held the lease): a snapshot to
   * start from when this node is behind it, then entries.
   */
  learn(
    entries: Entry[],
    readsCovered: string[] = [],
    snapshot: { index: number; term: number; data: Uint8Array } | null = null,
  ): void {
    assert(
      this.role !== 'leader' || (entries.length === 0 && snapshot === null),
      'a leader learns nothing from the disk',
    )
    if (snapshot !== null && snapshot.index > this.lastIndex) {
      // Everything up to it is in the snapshot; entries not yet handed out are superseded.
      this.pendingSnapshot = { meta: { index: snapshot.index, term: snapshot.term }, data: snapshot.data }
      this.committed = []
      this.lastIndex = snapshot.index
      this.lastTerm = snapshot.term
      this.commit = snapshot.index
      this.commitTerm = snapshot.term
      this.ballot = Math.max(this.ballot, snapshot.term)
    }
    for (const e of entries) {
      if (e.index <= this.lastIndex) continue
      assert(e.index === this.lastIndex + 1, () => `recovery log skips from ${this.lastIndex} to ${e.index}`)
      this.committed.push(e)
      this.lastIndex = e.index
      this.lastTerm = e.term
      this.commit = e.index
      this.commitTerm = e.term
      this.ballot = Math.max(this.ballot, e.term)
    }
    for (const ctx of readsCovered) this.readStates.push({ ctx, index: this.commit })
  }

  /** Read requests waiting for a fresh read of the disk; the runtime reads, then `learn`s. */
  takeReadRequests(): string[] {
    return this.readsAwaitingTail.splice(0)
  }

  // ---- RaftCore's surface ---------------------------------------------------------------------

  tick(): void {}

  step(_m: Message): void {
    // No consensus messages under the disk model: the disk is the only voter.
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { ok: false, leader: this.leader, reason: 'not the disk lease holder' }
    const e = this.appendOwn('command', data)
    return { ok: true, ticket: { index: e.index, term: e.term } }
  }

  changeConfiguration(): ProposeResult {
    return {
      ok: false,
      leader: this.leader,
      reason: 'the disk quorum model has no votes to change: the quorum disk is the only one',
    }
  }

  readIndex(ctx: string): void {
    if (this.role === 'leader') this.readStates.push({ ctx, index: this.commit })
    else this.readsAwaitingTail.push(ctx)
  }

  transferLeadership(): boolean {
    return false
  }

  confirmForced(): ProposeResult {
    return { ok: false, leader: this.leader, reason: 'the disk quorum model has no forced epochs' }
  }

  epochRefusal(): string | null {
    return null
  }

  epochIdentity(): EpochIdentity {
    return epochOf(this.configuration)
  }

  lastEpochGivenUp(): null {
    return null
  }

  forceQuorum(_opts: { nonce: string; confirmed: boolean }): void {
    throw new GeoclusterError(
      'GC_ERR_CONFLICT',
      '--force-quorum does not apply to the disk quorum model: whoever holds the quorum disk leads',
    )
  }

  hasReady(): boolean {
    return (
      this.inFlight === null &&
      (this.unstable.length > 0 ||
        this.committed.length > 0 ||
        this.pendingSnapshot !== null ||
        this.readStates.length > 0 ||
        this.reported.role !== this.role ||
        this.reported.leader !== this.leader)
    )
  }

  ready(): Ready {
    assert(this.inFlight === null, 'ready() called again before advance()')
    const softChanged = this.reported.role !== this.role || this.reported.leader !== this.leader
    const rd: Ready = {
      softState: softChanged ? { role: this.role, leader: this.leader } : null,
      reset: false,
      snapshot: this.pendingSnapshot,
      hardState: null,
      entries: this.unstable,
      committedEntries: this.committed,
      messages: [],
      readStates: this.readStates,
      mustSync: this.unstable.length > 0,
    }
    this.unstable = []
    this.committed = []
    this.readStates = []
    this.pendingSnapshot = null
    this.inFlight = rd
    return rd
  }

  /** The runtime persisted `rd.entries` to the recovery log (as the lease holder) and applied the rest. */
  persistFailed(rd: Ready): void {
    assert(rd === this.inFlight, 'persistFailed() with a Ready that was not handed out')
    assert(rd.snapshot === null, 'persistFailed() after a snapshot was installed')
    this.inFlight = null
    if (rd.softState !== null) this.reported = { ...rd.softState }
    const lastApplied = rd.committedEntries.at(-1)
    if (lastApplied !== undefined) {
      this.applied = lastApplied.index
      this.appliedTerm = lastApplied.term
    }
    this.unstable = [...rd.entries, ...this.unstable]
  }

  advance(rd: Ready): void {
    assert(rd === this.inFlight, 'advance() with a Ready that was not handed out')
    this.inFlight = null
    if (rd.softState !== null) this.reported = { ...rd.softState }
    if (rd.snapshot !== null) {
      this.applied = Math.max(this.applied, rd.snapshot.meta.index)
      this.appliedTerm = rd.snapshot.meta.term
    }
    const lastApplied = rd.committedEntries.at(-1)
    if (lastApplied !== undefined) {
      this.applied = lastApplied.index
      this.appliedTerm = lastApplied.term
    }
    const persisted = rd.entries.at(-1)
    // Entries persisted while this node still leads under the same ballot are committed.
    if (persisted !== undefined && this.role === 'leader' && persisted.term === this.ballot) {
      this.committed.push(...rd.entries)
      this.commit = persisted.index
      this.commitTerm = persisted.term
    }
  }

  compact(_meta: SnapshotMeta, _data: Uint8Array): void {}

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.ballot,
      leader: this.leader,
      commit: this.commit,
      applied: this.applied,
      lastIndex: this.lastIndex,
      stable: this.commit,
      snapshotIndex: 0,
      config: this.configuration,
      epoch: epochOf(this.configuration),
      rebuilding: false,
      progress: {},
      transferee: null,
      epochConflict: null,
      electedAfterSilence: false,
      earlierLeaderHeardTicksAgo: null,
    }
  }

  canServeReads(): boolean {
    return this.committedInTerm()
  }

  committedInTerm(): boolean {
    return this.role === 'leader' && this.commit >= this.termStartIndex
  }

  termOf(index: number): number | undefined {
    if (index === this.applied) return this.appliedTerm
    return index === this.lastIndex ? this.lastTerm : undefined
  }

  config(): Configuration {
    return this.configuration
  }

  configAt(): Configuration {
    return this.configuration
  }

  quorate(): boolean {
    return this.role === 'leader' || this.leader !== null
  }

  // ---- internals ------------------------------------------------------------------------------

  private appendOwn(kind: Entry['kind'], data: Uint8Array): Entry {
    const e: Entry = { index: this.lastIndex + 1, term: this.ballot, kind, data }
    this.unstable.push(e)
    this.lastIndex = e.index
    this.lastTerm = e.term
    return e
  }
}
