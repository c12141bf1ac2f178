/**
 * Where a voter keeps its log and hard state (Raft's stable storage), as the Ready driver and
 * the snapshot writer use it. The write-ahead log (storage/writeAheadLog.ts) is the real one, in
 * its own terms that match these field for field; memoryLogStorage.ts is its twin for tests and
 * simulators. One compliance suite holds both to the same contract
 * (test/unit/logStorageCompliance.test.ts).
 */
import type { Entry, HardState } from '../consensus/types.ts'

export interface LogBatch {
  hardState: HardState | null
  entries: readonly Entry[]
}

/** A log position a durable snapshot covers, up to and including. */
export interface LogSnapshotMark {
  index: number
  term: number
}

export interface LogStorage {
  /**
   * Writes entries and the hard state; durable once `sync` resolves. An entry at or below the
   * last index replaces the suffix from there (Raft's log truncation). Throws
   * StorageExhaustedError, with the log as it was, when the disk or the descriptors run out.
   */
  append(batch: LogBatch): void
  /** Makes everything appended so far durable. */
  sync(): Promise<void>
  /** Discards the whole log and starts anew with `hardState` (a history given up). */
  reset(hardState: HardState): void
  /** Records that a durable snapshot covers the log up to `mark.index`. */
  markSnapshot(mark: LogSnapshotMark): void
  /** Starts a new segment so that older ones can be released once a snapshot covers them. */
  rollForCompaction(): void
  /** Drops what a durable snapshot at `index` covers (whole segments); what was removed. */
  releaseTo(index: number): string[]
  statistics(): { syncs: number; segments: number }
  close(): void
}

/** What a log storage held when it was opened. */
export interface LogRecovery {
  hardState: HardState
  /** Snapshot marks, oldest first. */
  snapshots: LogSnapshotMark[]
  /** Entries after replay, contiguous and in index order. */
  entries: Entry[]
}
