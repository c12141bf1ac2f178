/** Shapes shared by the consensus core and the runtime that drives it. */

export type NodeId = string

export type EntryKind = 'noop' | 'command' | 'config'

export interface Entry {
  index: number
  term: number
  /**
   * `noop`: appended by a new leader to commit its term; `command`: a cluster database command;
   * `config`: a voting configuration (JSON of `Configuration`), in effect from the moment it is
   * appended to a log (Raft §6).
   */
  kind: EntryKind
  data: Uint8Array
}

/** A (term, index) pair naming one log entry; compared term first. */
export interface EntryId {
  term: number
  index: number
}

/**
 * What a voter must have on stable storage before it answers anyone (Raft's persistent state).
 * `mark` is the witness's W: the greatest entry it has acknowledged (absent on nodes).
 */
export interface HardState {
  term: number
  vote: NodeId | null
  commit: number
  mark?: EntryId
  /**
   * A node that wiped itself to follow another epoch: that epoch, until the node holds one of its
   * configurations (its log replays the shared history first, whose configurations name the
   * parent). Until then it belongs to that epoch whatever its log says, and neither votes nor
   * campaigns: the configuration it starts from is a stand-in, not a vote it was given.
   */
  rebuilding?: { epoch: number; epochId: string; unconfirmed: boolean; mayVote?: boolean }
  /**
   * On a witness: the history its mark W is an entry of (a forced quorum starts another; W of
   * one history says nothing about another's logs). Absent: the bootstrap epoch.
   */
  markEpoch?: { epoch: number; epochId: string; unconfirmed: boolean }
  /**
   * Started to join, not form (WSFC /pq), and has not heard a leader since: kept across
   * restarts, so a node of the side that lost a forced quorum cannot form its old cluster by
   * being restarted without the flag before it met the forced epoch.
   */
  preventing?: true
}

export interface SnapshotMeta {
  index: number
  term: number
  /** The configuration in effect at `index` (absent in snapshots written before configurations existed). */
  config?: Configuration
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader'

export interface SoftState {
  role: Role
  leader: NodeId | null
}

/** Weights per member id; weight 0 is a member without a vote (it still gets the log). */
export type WeightTable = Record<NodeId, number>

/**
 * A voting configuration. `incoming` alone decides, except during a joint change, when
 * `outgoing` (the previous configuration) must agree as well (Raft §6 joint consensus).
 * `base` holds the configured weights; `incoming` may hold less where dynamic quorum has taken a
 * vote away from a node that is down. `epoch` grows with every forced quorum.
 */
export interface Configuration {
  epoch: number
  /**
   * Who forced this epoch and a nonce (`<node>/<nonce>`); '' (absent) for the bootstrap history.
   * Two forced epochs of the same number are different histories and are never merged.
   */
  epochId?: string
  /**
   * A forced epoch the operator has not yet confirmed (that the other side is down): it serves
   * reads but takes no writes and grants no leases, no other node gives its history up for it,
   * and it yields to a leader of an older epoch that it meets. Absent: confirmed.
   */
  unconfirmed?: boolean
  forced: boolean
  incoming: WeightTable
  outgoing: WeightTable | null
  base: WeightTable
  witness: NodeId | null
}

/**
 * One batch of work for the runtime (etcd-io/raft's Ready). In order: if `reset`, wipe local
 * state (the node left a history it can no longer keep); install `snapshot` if any; persist
 * `hardState` and `entries` (fsync when `mustSync`); only then send `messages`; apply
 * `committedEntries` in order; serve `readStates` once applied up to their index; call
 * `advance(ready)`.
 */
export interface Ready {
  softState: SoftState | null
  reset: boolean
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | null
  hardState: HardState | null
  entries: Entry[]
  committedEntries: Entry[]
  messages: Message[]
  /**
   * How many of `messages`, from the start, may leave before this Ready is durable: replication
   * (Raft thesis §10.2.1: the leader writes its log in parallel with sending it, and counts itself
   * only once its own disk has the entries). Only when the Ready changes no term, vote or history
   * of this node; absent: none. The rest waits for the disk.
   */
  sendableBeforePersist?: number
  readStates: ReadState[]
  mustSync: boolean
}

export interface ReadState {
  /** The caller's token from `readIndex(ctx)`. */
  ctx: string
  /** Reads are linearizable once the state machine has applied this index. */
  index: number
}

export interface ProposalTicket {
  index: number
  term: number
}

interface MessageBase {
  from: NodeId
  to: NodeId
  term: number
  /** The sender's configuration epoch (force-quorum generation). */
  epoch: number
  /** Its identity (`Configuration.epochId`); absent: '' (the bootstrap history). */
  epochId?: string
  /** The sender's epoch is forced and not confirmed yet (absent: false). */
  epochUnconfirmed?: boolean
}

export type Message =
  | (MessageBase & { type: 'pre-vote' | 'vote'; last: EntryId; transfer: boolean })
  | (MessageBase & { type: 'pre-vote-resp'; granted: boolean })
  /**
   * `silenceTicks`, on a granted vote: ticks since the voter last heard from a leader, led, or
   * started — so the new leader knows when earlier leaders last heard it (absent: unknown).
   */
  | (MessageBase & { type: 'vote-resp'; granted: boolean; silenceTicks?: number })
  /**
   * `sentTick` on append, heartbeat and witness-append: the leader's tick counter when it sent
   * the message; the answer (append-resp, heartbeat-resp, witness-resp) echoes it, so the leader
   * measures its grant window from when it spoke, not from when a (possibly delayed) answer came.
   * Absent (older senders, answers to snapshots): the answer does not count as fresh.
   */
  | (MessageBase & { type: 'append'; prev: EntryId; entries: Entry[]; commit: number; sentTick?: number })
  | (MessageBase & {
      type: 'append-resp'
      success: boolean
      index: number
      hint: number
      sentTick?: number
    })
  | (MessageBase & { type: 'heartbeat'; commit: number; ctx: string | null; sentTick?: number })
  | (MessageBase & { type: 'heartbeat-resp'; ctx: string | null; sentTick?: number })
  | (MessageBase & { type: 'witness-append'; mark: EntryId; ctx: string | null; sentTick?: number })
  | (MessageBase & { type: 'witness-resp'; mark: EntryId; ctx: string | null; sentTick?: number })
  | (MessageBase & { type: 'snapshot'; meta: SnapshotMeta; data: Uint8Array })
  | (MessageBase & { type: 'timeout-now' })
  | (MessageBase & { type: 'read-index'; ctx: string })
  | (MessageBase & { type: 'read-index-resp'; ctx: string; index: number })
  /** Tells a node of an older epoch that a newer one exists (it then rebuilds from it). */
  | (MessageBase & { type: 'epoch' })

export type MessageType = Message['type']

/** The leader's send tick, echoed in the answer to its message (nothing when it sent none). */
export function echoSentTick(m: { sentTick?: number }): { sentTick?: number } {
  return m.sentTick === undefined ? {} : { sentTick: m.sentTick }
}

export function compareEntryIds(a: EntryId, b: EntryId): number {
  return a.term !== b.term ? a.term - b.term : a.index - b.index
}
