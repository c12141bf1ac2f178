/**
 * What the log storage keeps, in its own terms: storage holds bytes and these shapes, never the
 * consensus core's types. They match the core's `Entry`, `HardState` and `SnapshotMeta` field for
 * field (as far as storage keeps them), so the runtime hands the core's values to storage and
 * takes them back as they are, and the compiler checks at each hand-over that both still agree.
 */

/** One log entry, as the write-ahead log and the shared recovery log hold it. */
export interface StoredEntry {
  index: number
  term: number
  /** What the entry carries (a no-op, a database command, a voting configuration): kept, never read. */
  kind: 'noop' | 'command' | 'config'
  data: Uint8Array
}

/** A voter's durable state: its term, vote and commit index, and on a witness the greatest entry it acknowledged. */
export interface StoredHardState {
  term: number
  vote: string | null
  commit: number
  mark?: { term: number; index: number }
  /** The epoch a node that wiped itself is rebuilding for (see the core's HardState). */
  rebuilding?: { epoch: number; epochId: string; unconfirmed: boolean; mayVote?: boolean }
  /** On a witness: the epoch its mark belongs to (see the core's HardState). */
  markEpoch?: { epoch: number; epochId: string; unconfirmed: boolean }
  /** Started to join, not form, and has not heard a leader since (see the core's HardState). */
  preventing?: true
}

/** The log position a snapshot covers, up to and including. */
export interface StoredSnapshotMeta {
  index: number
  term: number
}
