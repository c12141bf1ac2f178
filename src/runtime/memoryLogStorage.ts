/**
 * The log storage's twin, in memory: a `MemoryLogDisk` outlives the storages opened on it, so a
 * test or a simulator can "restart" a voter by opening the same disk again. Nothing is lost that
 * was appended (as with the OS's page cache and no power cut); `sync` only counts.
 */

import type { Entry, HardState } from '../consensus/types.ts'
import { assert } from '../errors/assert.ts'
import type { LogBatch, LogRecovery, LogSnapshotMark, LogStorage } from './logStorage.ts'

const emptyHardState: HardState = { term: 0, vote: null, commit: 0 }

/** What survives a restart. */
export class MemoryLogDisk {
  hardState: HardState = { ...emptyHardState }
  entries: Entry[] = []
  snapshots: LogSnapshotMark[] = []
  syncs = 0

  open(): { storage: LogStorage; recovery: LogRecovery } {
    const recovery: LogRecovery = {
      hardState: { ...this.hardState },
      snapshots: this.snapshots.map((s) => ({ ...s })),
      entries: this.entries.map((e) => ({ ...e })),
    }
    return { storage: new MemoryLogStorage(this), recovery }
  }
}

export class MemoryLogStorage implements LogStorage {
  private readonly disk: MemoryLogDisk
  private closed = false

  constructor(disk: MemoryLogDisk) {
    this.disk = disk
  }

  append(batch: LogBatch): void {
    assert(!this.closed, 'append on a closed log storage')
    const first = batch.entries[0]
    if (first !== undefined) {
      const kept = this.disk.entries.filter((e) => e.index < first.index)
      this.disk.entries = kept.concat(batch.entries.map((e) => ({ ...e })))
    }
    if (batch.hardState !== null) this.disk.hardState = { ...batch.hardState }
  }

  async sync(): Promise<void> {
    assert(!this.closed, 'sync on a closed log storage')
    this.disk.syncs++
  }

  reset(hardState: HardState): void {
    assert(!this.closed, 'reset on a closed log storage')
    this.disk.entries = []
    this.disk.snapshots = []
    this.disk.hardState = { ...hardState }
  }

  markSnapshot(mark: LogSnapshotMark): void {
    this.disk.snapshots.push({ ...mark })
  }

  rollForCompaction(): void {}

  releaseTo(index: number): string[] {
    this.disk.entries = this.disk.entries.filter((e) => e.index > index)
    return []
  }

  statistics(): { syncs: number; segments: number } {
    return { syncs: this.disk.syncs, segments: 1 }
  }

  close(): void {
    this.closed = true
  }
}
