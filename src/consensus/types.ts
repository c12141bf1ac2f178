/** Shapes shared by the consensus core and the runtime that drives it. */

export type NodeId = string

export interface Entry {
  index: number
  term: number
  /** `noop`: appended by a new leader to commit its term; `command`: a cluster database command. */
  kind: 'noop' | 'command'
  data: Uint8Array
}

/** What a voter must have on stable storage before it answers anyone (Raft's persistent state). */
export interface HardState {
  term: number
  vote: NodeId | null
  commit: number
}

export interface SnapshotMeta {
  index: number
  term: number
}

export type Role = 'follower' | 'candidate' | 'leader'

export interface SoftState {
  role: Role
  leader: NodeId | null
}

/**
 * One batch of work for the runtime (etcd-io/raft's Ready): persist `hardState` and `entries`
 * (fsync when `mustSync`), then apply `committedEntries` in order, then call `advance(ready)`.
 * Entries are only acknowledged once the runtime has persisted them.
 */
export interface Ready {
  softState: SoftState | null
  hardState: HardState | null
  entries: Entry[]
  committedEntries: Entry[]
  mustSync: boolean
}

export interface ProposalTicket {
  index: number
  term: number
}
