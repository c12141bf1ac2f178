/**
 * Taking a snapshot off the consensus tick's path: the database's records of one moment are
 * held by reference (they are immutable), encoded in slices and written with asynchronous I/O,
 * so heartbeats and appends go on while a large database is written. Once the file is durable,
 * the runtime compacts the log up to it from its Ready loop (`finish`, between cycles, where no
 * log write or fsync is under way). One snapshot at a time; one that was overtaken (the node
 * took the leader's snapshot, or gave up its history) is dropped instead of compacting.
 */
import { unlink } from 'node:fs/promises'
import type { ConsensusCore } from '../consensus/consensusCore.ts'
import type { Configuration, SnapshotMeta } from '../consensus/types.ts'
import type { DatabaseSnapshotView } from '../database/clusterDatabase.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { SnapshotStore } from '../storage/snapshotStore.ts'
import { isExhaustion, StorageExhaustedError } from '../storage/storageErrors.ts'
import type { LogStorage } from './logStorage.ts'
import { encodeNodeSnapshotStreamed } from './nodeSnapshot.ts'

export interface SnapshotWriterDeps {
  dataDir: string
  wal: LogStorage
  snapshots: SnapshotStore
  core: () => ConsensusCore
  emit: (e: ClusterEventInput) => void
  /** A write the disk or the descriptors refused: the node says so and goes on. */
  storageFault: (error: StorageExhaustedError) => void
  /** Anything else went wrong writing: the node cannot vouch for its storage. */
  crash: (error: Error) => void
  /** A snapshot is durable and waits for `finish` (the runtime schedules its Ready loop). */
  written: () => void
}

interface Written {
  meta: SnapshotMeta
  config: Configuration
  file: string
  payload: Buffer
  generation: number
}

export class SnapshotWriter {
  private readonly d: SnapshotWriterDeps
  private writing: Promise<void> | null = null
  private written: Written | null = null
  /** Bumped when the history the snapshot was taken from is no longer this node's. */
  private generation = 0

  constructor(deps: SnapshotWriterDeps) {
    this.d = deps
  }

  get busy(): boolean {
    return this.writing !== null || this.written !== null
  }

  /** The snapshot under way (if any) no longer counts: another history or a newer snapshot replaced it. */
  overtaken(): void {
    this.generation++
  }

  /** Starts writing a snapshot of `view` (at `meta`); false when one is under way already. */
  start(meta: SnapshotMeta, config: Configuration, view: DatabaseSnapshotView): boolean {
    if (this.busy) return false
    const generation = this.generation
    this.writing = this.write(meta, config, view, generation).finally(() => {
      this.writing = null
    })
    return true
  }

  /** Waits for the snapshot under way, if any (at shutdown). */
  async settled(): Promise<void> {
    await this.writing
  }

  private async write(
    meta: SnapshotMeta,
    config: Configuration,
    view: DatabaseSnapshotView,
    generation: number,
  ): Promise<void> {
    try {
      const saved = await this.d.snapshots.saveStreamed(meta, encodeNodeSnapshotStreamed(config, view))
      // A history given up meanwhile must not come back from disk at the next start.
      if (generation !== this.generation) {
        await unlink(saved.file).catch(() => {})
        return
      }
      this.written = { meta, config, ...saved, generation }
      this.d.written()
    } catch (error) {
      if (isExhaustion(error)) this.d.storageFault(new StorageExhaustedError(this.d.dataDir, error))
      else this.d.crash(error as Error)
    }
  }

  /**
   * Compacts the log up to the snapshot just written, if there is one and it was not
   * overtaken. Call between Ready cycles only: it writes the log and may roll it over.
   */
  finish(): void {
    const w = this.written
    if (w === null) return
    this.written = null
    if (w.generation !== this.generation) return
    try {
      this.d.wal.markSnapshot(w.meta)
    } catch (error) {
      if (error instanceof StorageExhaustedError) this.d.storageFault(error)
      else this.d.crash(error as Error)
      return
    }
    this.d.core().compact({ ...w.meta, config: w.config }, w.payload)
    this.d.wal.rollForCompaction()
    const { oldestKept } = this.d.snapshots.prune()
    const released = oldestKept === null ? [] : this.d.wal.releaseTo(oldestKept)
    this.d.emit({
      type: 'storage:snapshot',
      severity: 'info',
      message: `snapshot at index ${w.meta.index}; released ${released.length} log segment(s)`,
      data: { file: w.file, bytes: w.payload.length },
    })
  }
}
