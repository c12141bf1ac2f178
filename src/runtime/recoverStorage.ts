/**
 * Start-up recovery: newest valid snapshot + the log after it → cluster database and the
 * consensus core's restore state. Everything odd found on the way is reported, and anything
 * that would mean serving changed or missing data stops the start with file and offset.
 */

import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { RaftRestore } from '../consensus/raftCore.ts'
import type { SnapshotMeta } from '../consensus/types.ts'
import { ClusterDatabase } from '../database/clusterDatabase.ts'
import { removeLeftoverTemporaries } from '../storage/durableFile.ts'
import { type SkippedSnapshot, SnapshotStore } from '../storage/snapshotStore.ts'
import { StorageCorruptError } from '../storage/storageErrors.ts'
import { type TornTail, WriteAheadLog } from '../storage/writeAheadLog.ts'
import { decodeNodeSnapshot } from './nodeSnapshot.ts'

export interface RecoveredStorage {
  db: ClusterDatabase
  /** Everything the consensus core needs but the starting configuration, which comes from the topology. */
  restore: Omit<RaftRestore, 'initialConfig'>
  wal: WriteAheadLog
  snapshots: SnapshotStore
  report: {
    snapshotFile: string | null
    snapshotIndex: number
    skippedSnapshots: SkippedSnapshot[]
    tornTail: TornTail | null
    /** Temporary files of interrupted writes, removed. */
    leftovers: string[]
    entriesReplayed: number
    segments: number
  }
}

export function recoverStorage(
  dataDir: string,
  options: { segmentBytesMax?: number } = {},
): RecoveredStorage {
  const walDir = join(dataDir, 'wal')
  mkdirSync(walDir, { recursive: true, mode: 0o700 })
  // Durable writes a killed process left half-done: never read, only in the way.
  const leftovers = [dataDir, walDir, join(dataDir, 'snap')].flatMap(removeLeftoverTemporaries)
  const snapshots = new SnapshotStore(join(dataDir, 'snap'))
  const { snapshot, skipped } = snapshots.loadNewest()
  const { wal, recovery } = WriteAheadLog.open(walDir, options)
  try {
    let db = new ClusterDatabase()
    const meta: SnapshotMeta = snapshot === null ? { index: 0, term: 0 } : { ...snapshot.meta }
    let snapshotData: Uint8Array | undefined
    if (snapshot !== null) {
      const decoded = decodeNodeSnapshot(snapshot.payload)
      if (typeof decoded === 'string') throw new StorageCorruptError(snapshot.file, 36, decoded)
      db = ClusterDatabase.restore(decoded.database)
      meta.config = decoded.config
      snapshotData = snapshot.payload
      if (db.appliedIndex !== meta.index) {
        throw new StorageCorruptError(
          snapshot.file,
          0,
          `snapshot holds index ${db.appliedIndex}, its name says ${meta.index}`,
        )
      }
    }
    const entries = recovery.entries.filter((e) => e.index > meta.index)
    const first = entries[0]
    if (first !== undefined && first.index !== meta.index + 1) {
      throw new StorageCorruptError(
        walDir,
        0,
        `the log resumes at entry ${first.index} but the newest usable snapshot ends at ${meta.index}` +
          (skipped.length > 0
            ? ` (skipped damaged snapshots: ${skipped.map((s) => s.file).join(', ')})`
            : ''),
      )
    }
    const overlap = recovery.entries.find((e) => e.index === meta.index)
    if (overlap !== undefined && overlap.term !== meta.term && snapshot !== null) {
      throw new StorageCorruptError(
        snapshot.file,
        0,
        `snapshot term ${meta.term} disagrees with log entry ${meta.index} of term ${overlap.term}`,
      )
    }
    return {
      db,
      restore: {
        hardState: recovery.hardState,
        snapshot: meta,
        entries,
        ...(snapshotData === undefined ? {} : { snapshotData }),
      },
      wal,
      snapshots,
      report: {
        snapshotFile: snapshot?.file ?? null,
        snapshotIndex: meta.index,
        skippedSnapshots: skipped,
        tornTail: recovery.tornTail,
        leftovers,
        entriesReplayed: entries.length,
        segments: recovery.segments,
      },
    }
  } catch (error) {
    wal.close()
    throw error
  }
}
