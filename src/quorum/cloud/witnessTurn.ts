/**
 * The cloud witness (WSFC's Azure cloud witness): the witness's state is ONE blob in object
 * storage, and every member acts for the witness on its own messages to it. A turn is one
 * read-modify-write: read the blob and its ETag, run the witness core (witnessCore.ts — the same
 * W rule as the node and file-share witnesses) from the state read over the messages, and, when
 * the state changed, write it back *conditionally*: `If-Match: <ETag read>`, or
 * `If-None-Match: *` when there was no blob. Replies leave only after the write succeeded.
 *
 * Why a compare-and-set on one blob gives the guarantees of the file-share witness's lease:
 * - The file-share witness needs a lease so that one process at a time runs the witness core
 *   over its state: its state file cannot refuse a write from a holder that lost the share.
 *   Object storage can: a conditional write succeeds only if nobody wrote the blob since it was
 *   read (the ETag changes with every write), and it is applied whole or not at all.
 * - So the successful writes form one sequence, each computed from the state the previous one
 *   left: exactly the history of a single witness process that handled those turns one after
 *   the other, persisting before replying. A turn whose write fails (412/409) changed nothing
 *   and answered no one; it is tried again from a fresh read. A turn that writes nothing (its
 *   answer follows from the state read, e.g. a refused vote or a W already as high) is that
 *   process answering at the moment of the read; the state only moves on from there (terms and
 *   W never decrease), as it would after a single witness's answer.
 * - Hence one vote per term (two candidates racing in a term both read "no vote": one write
 *   lands, the other gets 412, reads again, finds the vote taken and is refused), W never
 *   decreases, and the witness votes only for a candidate whose log is at least W: the safety
 *   argument of ARCHITECTURE.md "Quorum rules" holds unchanged.
 * - A witness process also keeps soft state in memory: the leader it heard lately, for whom it
 *   refuses other candidates (else the two halves of a split would take the witness's vote in
 *   turn, each deposing the other). Here the leader writes a stamp into the blob every few
 *   heartbeats (`heard`, whose `beat` grows), and a member treats the leader as heard while the
 *   stamp it reads changed less than a window ago by its own clock (`inLease`, decided by the
 *   runtime). That is liveness only: safety above never depends on it. Each turn starts a fresh
 *   core, as a new file-share host does, so it reports having heard a leader just now with each
 *   vote (silence 0): a new leader waits out earlier leaders' grants from the time of the vote,
 *   later, never earlier (a leader's stamp says nothing of its reads since).
 * - A write whose answer was lost (a timeout) may still have landed: the next turn reads it
 *   and re-decides from it, and the witness core repeats a vote it already gave to the same
 *   candidate, so a retry is safe.
 * Pure: the runtime (runtime/cloudWitness.ts) does the I/O and the retries.
 */

import type { HardState, Message } from '../../consensus/types.ts'
import { WitnessCore } from '../../consensus/witnessCore.ts'
import {
  decodeWitnessBlob,
  encodeWitnessBlob,
  type LeaderStamp,
  type WitnessBlobOwner,
  witnessBlobFormat,
} from './witnessBlob.ts'

/** The blob as read: absent (never written), or its body and the ETag of that version. */
export type WitnessBlobRead = { kind: 'absent' } | { kind: 'present'; etag: string; body: string }

/** The condition a write is made under: the version read is still the current one. */
export type WitnessBlobCondition = { ifMatch: string } | { ifNoneMatch: '*' }

export interface WitnessTurnOptions extends WitnessBlobOwner {
  /** The member taking the turn (it acts for the witness on its own messages). */
  self: string
  electionTicks: number
  /** Has the blob's leader stamp changed within the stickiness window, as this member saw it? */
  inLease: (stamp: LeaderStamp) => boolean
  /** This member leads and its stamp is due to be written again (a write even if nothing else changed). */
  beatDue: boolean
}

export type WitnessTurn =
  | {
      ok: true
      /** What to write, and under which condition; null: the state did not change. */
      write: { body: string; condition: WitnessBlobCondition } | null
      /** The witness's answers, to send once `write` (if any) has succeeded. */
      replies: Message[]
      /** The state the witness is in after this turn. */
      state: HardState
      /** The leader stamp as read (before this turn's write). */
      heard: LeaderStamp | null
      /** This turn writes a new stamp of this member's (it leads). */
      beat: boolean
    }
  | { ok: false; problem: string }

const blankState: HardState = { term: 0, vote: null, commit: 0, mark: { term: 0, index: 0 } }

export function witnessTurn(read: WitnessBlobRead, messages: Message[], o: WitnessTurnOptions): WitnessTurn {
  let state = blankState
  let writes = 0
  let heard: LeaderStamp | undefined
  if (read.kind === 'present') {
    const decoded = decodeWitnessBlob(read.body, o)
    if (!decoded.ok) return { ok: false, problem: decoded.problem }
    state = decoded.doc.state
    writes = decoded.doc.writes
    heard = decoded.doc.heard
  }
  // A stamp of the current term whose leader is alive: the core keeps helping that leader.
  const alive = heard !== undefined && heard.term === state.term && o.inLease(heard)
  const core = new WitnessCore(
    { id: o.witness, electionTicks: o.electionTicks, ...(alive ? { heardLeader: heard!.leader } : {}) },
    state,
  )
  // Only messages to this witness from the member taking the turn: it answers for no one else.
  for (const m of messages) if (m.to === o.witness && m.from === o.self) core.step(m)
  const after = core.status()
  // The witness took this member's append: it leads in the witness's current term.
  const leads =
    after.leader === o.self && messages.some((m) => m.type === 'witness-append' && m.term === after.term)
  const beat =
    leads && (o.beatDue || heard === undefined || heard.leader !== o.self || heard.term !== after.term)
  const rd = core.hasReady() ? core.ready() : null
  if (rd !== null) core.advance(rd)
  const replies = (rd?.messages ?? []).filter((m) => m.to === o.self)
  const changed = rd?.hardState ?? null
  const base = { ok: true as const, replies, heard: heard ?? null, beat }
  if (changed === null && !beat) return { ...base, write: null, state }
  const next = changed ?? state
  // A stamp of an older term stays for people to read; only the current term's keeps votes away.
  const stamp: LeaderStamp | undefined = beat
    ? { leader: o.self, term: after.term, beat: (heard?.beat ?? 0) + 1 }
    : heard
  const body = encodeWitnessBlob({
    format: witnessBlobFormat,
    cluster: o.cluster,
    witness: o.witness,
    writer: o.self,
    writes: writes + 1,
    state: next,
    ...(stamp === undefined ? {} : { heard: stamp }),
  })
  const condition: WitnessBlobCondition =
    read.kind === 'present' ? { ifMatch: read.etag } : { ifNoneMatch: '*' }
  return { ...base, write: { body, condition }, state: next }
}
