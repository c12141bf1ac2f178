/**
 * The witness: a voter at a third site that keeps no log, only its term, its vote and W, the
 * greatest (entry term, index) it has acknowledged (ARCHITECTURE.md "Quorum rules"):
 * - on an append it raises W to the entry the leader names, when that is greater, and replies W;
 * - it votes only for a candidate whose last entry is at least W;
 * - it never leads.
 * A leader counts the witness toward an index only while W names an entry of the leader's own
 * log (raftCore.ts), so a stale node plus the witness can never outvote the nodes that moved on:
 * WSFC's protection against a partition in time. Pure, like the node core.
 *
 * W is an entry of one history: after a forced quorum the witness belongs to one epoch (the one
 * its W is of), meets others by the nodes' rule (epochRule.ts), and follows a confirmed newer one
 * by starting W afresh; it neither votes for nor acknowledges another history, so it never helps
 * the side an operator declared down form a majority again.
 */
import { assert } from '../errors/assert.ts'
import type { EpochIdentity } from './configuration.ts'
import { meetEpoch } from './epochRule.ts'
import {
  compareEntryIds,
  type EntryId,
  echoSentTick,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type SoftState,
} from './types.ts'

export interface WitnessOptions {
  id: NodeId
  /** Ticks after the last word from a leader during which it refuses to help elect another. */
  electionTicks: number
  /** Test-only: vote without comparing the candidate's log with W. */
  unsafe?: { skipUpToDateCheck?: boolean }
  /**
   * A core started afresh for a witness whose state lives elsewhere (the cloud witness's blob):
   * the leader it was heard from within the election timeout, which it keeps helping by refusing
   * other candidates' votes as if it had heard that leader just now. Only liveness: its silence
   * still counts from its start, so the votes it gives never claim a longer silence than this core saw.
   */
  heardLeader?: NodeId
}

export class WitnessCore {
  private readonly o: WitnessOptions
  private term: number
  private vote: NodeId | null
  private mark: EntryId
  /** The history W is an entry of. */
  private markEpoch: EpochIdentity
  private leader: NodeId | null = null
  private sinceLeader = Number.POSITIVE_INFINITY
  /** Ticks since it last heard a leader, counted from its start (it may have heard one just before). */
  private silence = 0
  private messages: Message[] = []
  private persisted: HardState
  private reportedLeader: NodeId | null = null
  private readyInFlight: Ready | null = null

  constructor(options: WitnessOptions, hardState: HardState) {
    this.o = options
    this.term = hardState.term
    this.vote = hardState.vote
    this.mark = hardState.mark ?? { term: 0, index: 0 }
    this.markEpoch = hardState.markEpoch ?? { epoch: 0, epochId: '', unconfirmed: false }
    this.persisted = { ...hardState, mark: { ...this.mark } }
    if (options.heardLeader !== undefined) {
      this.leader = options.heardLeader
      this.sinceLeader = 0
      // Its soft state, not news: the first Ready does not report a leader it never heard itself.
      this.reportedLeader = options.heardLeader
    }
  }

  tick(): void {
    this.sinceLeader++
    this.silence++
    if (this.sinceLeader >= this.o.electionTicks) this.leader = null
  }

  step(m: Message): void {
    if (m.to !== this.o.id) return
    if (!this.inEpochOf(m)) return
    const inLease = this.leader !== null && this.sinceLeader < this.o.electionTicks
    if (m.term > this.term) {
      if ((m.type === 'pre-vote' || m.type === 'vote') && !m.transfer && inLease) return
      if (m.type !== 'pre-vote') {
        this.term = m.term
        this.vote = null
        this.leader = null
      }
    } else if (m.term < this.term) {
      if (m.type === 'witness-append' || m.type === 'pre-vote') {
        // Tell a deposed leader or a stale pre-candidate about the newer term (no send tick echoed:
        // this is no answer in the leader's term).
        this.reply(
          m,
          m.type === 'witness-append'
            ? { type: 'witness-resp', mark: this.mark, ctx: null }
            : { type: 'pre-vote-resp', granted: false },
        )
      }
      return
    }
    switch (m.type) {
      case 'witness-append':
        this.leader = m.from
        this.sinceLeader = 0
        this.silence = 0
        // W never decreases: only a greater entry raises it.
        if (compareEntryIds(m.mark, this.mark) > 0) this.mark = { ...m.mark }
        // The leader's send tick goes back with the answer: it measures its grant window from it.
        this.reply(m, { type: 'witness-resp', mark: { ...this.mark }, ctx: m.ctx, ...echoSentTick(m) })
        return
      case 'pre-vote':
      case 'vote': {
        const pre = m.type === 'pre-vote'
        const canVote =
          this.vote === m.from || (this.vote === null && this.leader === null) || (pre && m.term > this.term)
        const upToDate = this.o.unsafe?.skipUpToDateCheck === true || compareEntryIds(m.last, this.mark) >= 0
        const granted = canVote && upToDate
        if (granted && !pre) this.vote = m.from
        this.reply(
          m,
          pre
            ? { type: 'pre-vote-resp', granted }
            : granted
              ? { type: 'vote-resp', granted, silenceTicks: this.silence }
              : { type: 'vote-resp', granted },
          granted && pre ? m.term : this.term,
        )
        return
      }
      default:
        return
    }
  }

  /** Whether `m` is of this witness's history, once it followed a confirmed newer one. */
  private inEpochOf(m: Message): boolean {
    const theirs = { epoch: m.epoch, epochId: m.epochId ?? '', unconfirmed: m.epochUnconfirmed === true }
    if (theirs.epoch === this.markEpoch.epoch && theirs.epochId === this.markEpoch.epochId) {
      // The same history: it learns that it was confirmed.
      if (this.markEpoch.unconfirmed && !theirs.unconfirmed) this.markEpoch = theirs
      return true
    }
    if (meetEpoch(this.markEpoch, theirs, { fromLeader: m.type === 'witness-append' }) !== 'follow')
      return false
    // Its term and vote stay: terms go on across epochs, and one vote per term whatever the history.
    this.markEpoch = theirs
    this.mark = { term: 0, index: 0 }
    this.leader = null
    return true
  }

  hasReady(): boolean {
    return (
      this.readyInFlight === null &&
      (this.messages.length > 0 || this.hardStateChanged() || this.leader !== this.reportedLeader)
    )
  }

  ready(): Ready {
    assert(this.readyInFlight === null, 'ready() called again before advance()')
    const changed = this.hardStateChanged()
    const hardState: HardState | null = changed ? this.hardState() : null
    const softState: SoftState | null =
      this.leader !== this.reportedLeader ? { role: 'follower', leader: this.leader } : null
    const rd: Ready = {
      softState,
      reset: false,
      snapshot: null,
      hardState,
      entries: [],
      committedEntries: [],
      messages: this.messages,
      readStates: [],
      // Term, vote and W must be on disk before any reply leaves (persist before reply).
      mustSync: changed,
    }
    this.messages = []
    this.readyInFlight = rd
    return rd
  }

  advance(rd: Ready): void {
    assert(rd === this.readyInFlight, 'advance() with a Ready that was not handed out')
    this.readyInFlight = null
    if (rd.hardState !== null) this.persisted = { ...rd.hardState }
    if (rd.softState !== null) this.reportedLeader = rd.softState.leader
  }

  status(): { id: NodeId; term: number; vote: NodeId | null; mark: EntryId; leader: NodeId | null } {
    return { id: this.o.id, term: this.term, vote: this.vote, mark: { ...this.mark }, leader: this.leader }
  }

  private reply(
    to: Message,
    body: Record<string, unknown> & { type: Message['type'] },
    term = this.term,
  ): void {
    // The witness answers in the sender's epoch: it keeps no configuration of its own.
    this.messages.push({
      ...body,
      from: this.o.id,
      to: to.from,
      term,
      epoch: to.epoch,
      ...(to.epochId === undefined ? {} : { epochId: to.epochId }),
      ...(to.epochUnconfirmed === true ? { epochUnconfirmed: true } : {}),
    } as Message)
  }

  private hardState(): HardState {
    const h: HardState = { term: this.term, vote: this.vote, commit: 0, mark: { ...this.mark } }
    if (this.markEpoch.epoch !== 0 || this.markEpoch.epochId !== '') h.markEpoch = { ...this.markEpoch }
    return h
  }

  private hardStateChanged(): boolean {
    const p = this.persisted
    const e = p.markEpoch ?? { epoch: 0, epochId: '', unconfirmed: false }
    return (
      p.term !== this.term ||
      p.vote !== this.vote ||
      p.mark === undefined ||
      compareEntryIds(p.mark, this.mark) !== 0 ||
      e.epoch !== this.markEpoch.epoch ||
      e.epochId !== this.markEpoch.epochId ||
      e.unconfirmed !== this.markEpoch.unconfirmed
    )
  }
}
