/**
 * The lease authority: the leader's rules for granting leases and for knowing when every lease
 * an earlier leader granted has ended (ARCHITECTURE.md "Resource safety", "Ownership
 * transitions"). Pure: the runtime passes what the consensus core and its clock say as data, in
 * monotonic milliseconds, and gets a decision back.
 *
 * Why it holds: a leader grants only while a majority of the configuration answered messages it
 * *sent* within the grant window W. An answer proves the member heard the leader when the message
 * was sent (no later: the answer may have been delayed on the way back), so every grant at time g
 * has a majority member that heard this leader after g - W. Any later leader was elected by a
 * majority, which shares a voter V with it; V stops answering the earlier leader once it votes in
 * a later term. So the earlier leader's grants were all made (and asked for) before V last heard
 * it plus W — the bound `earlierLeasesAskedBefore` computes from what the voters reported.
 */
import { jointHasMajority } from '../consensus/quorum/jointQuorum.ts'
import type { Configuration, NodeId } from '../consensus/types.ts'
import { assert } from '../errors/assert.ts'

/** What the leader knows when a member asks for a lease (or it renews its own). */
export interface GrantView {
  /** This node leads its term (the consensus core's role). */
  leading: boolean
  /** A hand-over to another member is under way: its voters may elect it at any moment. */
  transferPending: boolean
  /** This node is stopping: it grants nothing more, its groups are on their way elsewhere. */
  stopping: boolean
  /**
   * Its epoch takes no writes: forced and not yet confirmed (the other side may still be
   * running the groups), or met by another confirmed epoch of the same number.
   */
  epochWithheld: boolean
  /** Disk model only: whether this node holds the quorum disk now (the one vote); null otherwise. */
  holdsDisk: boolean | null
  config: Configuration
  self: NodeId
  /**
   * Per member: milliseconds since this leader *sent* the newest of its own messages of this term
   * that the member has answered (counted only from the latest aborted hand-over on). A member
   * missing here, or with a non-finite age, has answered nothing that counts.
   */
  ackSendAgeMs: Readonly<Record<NodeId, number>>
  grantWindowMs: number
}

/**
 * May the leader grant leases now: it leads, hands leadership to nobody, is not stopping, and a
 * majority of the configuration (itself included; both halves of a joint one) answered messages
 * it sent within the grant window. Under the disk model the disk is the one vote: its holder
 * grants while it holds it. A leader cut off from its majority stops granting within the window
 * after its last message that got through — long before the majority could elect another leader
 * and move anything — however late the answers to older messages arrive.
 */
export function mayGrant(view: GrantView): boolean {
  assert(view.grantWindowMs > 0, () => `grant window ${view.grantWindowMs} ms must be positive`)
  if (!view.leading || view.transferPending || view.stopping || view.epochWithheld) return false
  if (view.holdsDisk !== null) return view.holdsDisk
  return jointHasMajority(view.config, answeredWithin(view))
}

/** The members (this leader included) that answered a message sent less than the window ago. */
export function answeredWithin(view: Pick<GrantView, 'config' | 'self' | 'ackSendAgeMs' | 'grantWindowMs'>) {
  const heard = new Set<NodeId>([view.self])
  for (const id of [...Object.keys(view.config.incoming), ...Object.keys(view.config.outgoing ?? {})]) {
    const age = Object.hasOwn(view.ackSendAgeMs, id) ? view.ackSendAgeMs[id]! : Number.POSITIVE_INFINITY
    // A negative age is an answer to a message not yet sent: a bug upstream, never "fresh".
    assert(!(age < 0), () => `${id} answered a message sent ${-age} ms in the future`)
    if (age < view.grantWindowMs) heard.add(id)
  }
  return heard
}

/** How this node came to lead, as far as earlier leaders' grants are concerned. */
export type EarlierLeaders =
  /** Disk model: every earlier holder had stopped granting this long before this node took the disk. */
  | { model: 'disk'; grantsEndedBeforeTakingMs: number }
  | {
      model: 'votes'
      /**
       * How long ago the last of the voters that elected it may have heard an earlier leader, from
       * the silences they reported with their votes (null: one did not say — an older release —
       * or a forced quorum).
       */
      earlierLeaderHeardMsAgo: number | null
    }

/** The votes model's view, from the core's status (ticks made times with the tick length). */
export function earlierLeadersByVotes(
  raft: { earlierLeaderHeardTicksAgo: number | null },
  tickMs: number,
): EarlierLeaders {
  return {
    model: 'votes',
    earlierLeaderHeardMsAgo:
      raft.earlierLeaderHeardTicksAgo === null ? null : raft.earlierLeaderHeardTicksAgo * tickMs,
  }
}

export interface EarlierGrantsView {
  nowMs: number
  /** When this node began to lead (its own monotonic clock). */
  leaderSinceMs: number
  grantWindowMs: number
  earlier: EarlierLeaders
}

/**
 * Before when every lease an earlier leader granted was asked for (see the module comment):
 * - the voters reported when they last heard a leader: a grant window after the last of them;
 * - a voter did not report (an older release) or a forced quorum: the voters last heard the
 *   earlier leader before they voted, so a grant window after this leadership began at the
 *   latest. Not earlier, even after an election won "after silence": a voter that restarted
 *   votes at once, an instant after it last answered the earlier leader, and a hand-over the
 *   earlier leader gave up on re-enables its grants while the transferee may still win.
 * - the disk model: only disk holders grant, and only while they hold it, which ended a known
 *   time before this node could take it.
 */
export function earlierLeasesAskedBefore(view: EarlierGrantsView): number {
  const { nowMs, leaderSinceMs, grantWindowMs, earlier } = view
  assert(grantWindowMs > 0, () => `grant window ${grantWindowMs} ms must be positive`)
  if (earlier.model === 'disk') {
    assert(earlier.grantsEndedBeforeTakingMs >= 0, 'earlier disk grants cannot end after taking it')
    return leaderSinceMs - earlier.grantsEndedBeforeTakingMs
  }
  if (earlier.earlierLeaderHeardMsAgo !== null) {
    // The core keeps its estimate late by two ticks of slack (the voters' ticks and its own are
    // not aligned), so just after an election it may lie a little ahead: a later bound, still safe.
    // Farther ahead than a grant window it is a bug, not slack.
    assert(
      earlier.earlierLeaderHeardMsAgo > -grantWindowMs,
      () => `a voter cannot have heard a leader ${-earlier.earlierLeaderHeardMsAgo!} ms in the future`,
    )
    return nowMs - earlier.earlierLeaderHeardMsAgo + grantWindowMs
  }
  return leaderSinceMs + grantWindowMs
}

/**
 * From when the leader may give a silent node's groups to another node: `downAfterMs` after it
 * last heard from the node (every lease this leader granted answered a request it heard), and
 * `downAfterMs` after the last moment an earlier leader may have granted one
 * (`earlierLeasesAskedBefore`).
 */
export function reassignableAtMs(
  lastHeardMs: number | null,
  earlierLeasesAskedBeforeMs: number,
  downAfterMs: number,
): number {
  return Math.max(lastHeardMs ?? Number.NEGATIVE_INFINITY, earlierLeasesAskedBeforeMs) + downAfterMs
}

/** Which history a lease asker or grantor is in (a forced quorum starts another). */
export interface LeaseEpoch {
  epoch: number
  epochId: string
}

/**
 * A lease is granted and taken only within one history: `mustApply` is an index of the
 * grantor's log, meaningless in another epoch's (a node that has not met a forced epoch yet
 * would run its old database's groups under the new epoch's lease).
 */
export function sameLeaseEpoch(a: LeaseEpoch, b: LeaseEpoch): boolean {
  return a.epoch === b.epoch && a.epochId === b.epochId
}
