/**
 * The durable Raft log: segment files of checksummed records (entries, hard state, snapshot
 * markers), appended and fdatasync'ed by the runtime before anything is acknowledged. Replay
 * follows etcd's WAL: a later entry with an index at or below the last one replaces the suffix
 * (Raft's log truncation), so a conflicting suffix never needs rewriting in place.
 *
 * Recovery rules: an unfinished record at the very end of the newest segment is a torn write
 * (never acknowledged, because acknowledgement waits for fdatasync) and is cut off and
 * reported; any other damage stops recovery with the file and byte offset.
 */
import {
  closeSync,
  fdatasync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { assert } from '../errors/assert.ts'
import { fsyncDirectory } from './durableFile.ts'
import type { StoredEntry, StoredHardState, StoredSnapshotMeta } from './logRecords.ts'
import { isExhaustion, StorageCorruptError, StorageExhaustedError } from './storageErrors.ts'
import {
  decodeEntry,
  decodeHardState,
  decodeSegmentHeader,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeSegmentHeader,
  encodeSnapshotMeta,
  walFormatVersion,
} from './walPayloads.ts'
import { decodeRecord, encodeRecord, type RecordType, recordTypes } from './walRecord.ts'

const fdatasyncAsync = promisify(fdatasync)

export const segmentBytesMaxDefault = 64 * 1024 * 1024
const segmentNamePattern = /^([0-9a-f]{16})\.wal$/

export interface TornTail {
  file: string
  offset: number
  droppedBytes: number
  reason: string
}

export interface WalRecovery {
  hardState: StoredHardState
  /** Snapshot markers found, oldest first. */
  snapshots: StoredSnapshotMeta[]
  /** Entries after replay, contiguous and in index order. */
  entries: StoredEntry[]
  tornTail: TornTail | null
  segments: number
}

export interface WalBatch {
  hardState: StoredHardState | null
  entries: readonly StoredEntry[]
}

interface SegmentInfo {
  seq: number
  file: string
  /** Highest entry index written to this segment (0 when none). */
  maxEntryIndex: number
}

export interface WalStats {
  bytesWritten: number
  syncs: number
  segments: number
  /** Roll-overs put off because the disk or the descriptors were exhausted. */
  deferredRolls: number
}

export class WriteAheadLog {
  private readonly dir: string
  private readonly segmentBytesMax: number
  private readonly segments: SegmentInfo[]
  private fd: number
  private size: number
  private lastCrc: number
  private hardState: StoredHardState
  private latestSnapshot: StoredSnapshotMeta | null
  private closed = false
  private readonly stats: WalStats = { bytesWritten: 0, syncs: 0, segments: 0, deferredRolls: 0 }

  private constructor(
    dir: string,
    segmentBytesMax: number,
    segments: SegmentInfo[],
    active: { fd: number; size: number; lastCrc: number },
    hardState: StoredHardState,
    latestSnapshot: StoredSnapshotMeta | null,
  ) {
    this.dir = dir
    this.segmentBytesMax = segmentBytesMax
    this.segments = segments
    this.fd = active.fd
    this.size = active.size
    this.lastCrc = active.lastCrc
    this.hardState = hardState
    this.latestSnapshot = latestSnapshot
  }

  /** Opens (creating if needed) the log in `dir`, which must exist, and replays it. */
  static open(
    dir: string,
    options: { segmentBytesMax?: number } = {},
  ): { wal: WriteAheadLog; recovery: WalRecovery } {
    const segmentBytesMax = options.segmentBytesMax ?? segmentBytesMaxDefault
    const names = readdirSync(dir)
      .filter((n) => segmentNamePattern.test(n))
      .sort()
    const replay = new Replay()
    const segments: SegmentInfo[] = []
    let tornTail: TornTail | null = null
    let activeEnd = 0
    for (const [i, name] of names.entries()) {
      const file = join(dir, name)
      const seq = Number.parseInt(segmentNamePattern.exec(name)![1]!, 16)
      const isLast = i === names.length - 1
      const result = replay.segment(file, seq, readFileSync(file), isLast)
      segments.push({ seq, file, maxEntryIndex: result.maxEntryIndex })
      if (result.torn !== null) {
        tornTail = result.torn
        const fd = openSync(file, 'r+')
        ftruncateSync(fd, result.torn.offset)
        fsyncSync(fd)
        closeSync(fd)
      }
      activeEnd = result.end
    }
    const recovery: WalRecovery = {
      hardState: replay.hardState,
      snapshots: replay.snapshots,
      entries: replay.entries,
      tornTail,
      segments: segments.length,
    }
    const latestSnapshot = replay.snapshots.at(-1) ?? null
    const last = segments.at(-1)
    let wal: WriteAheadLog
    if (last !== undefined && activeEnd > 0) {
      const fd = openSync(last.file, 'a')
      wal = new WriteAheadLog(
        dir,
        segmentBytesMax,
        segments,
        { fd, size: activeEnd, lastCrc: replay.lastCrc },
        replay.hardState,
        latestSnapshot,
      )
    } else {
      // No segment, or the newest one was torn before its header finished: start a fresh one.
      if (last !== undefined) {
        unlinkSync(last.file)
        segments.pop()
      }
      wal = new WriteAheadLog(
        dir,
        segmentBytesMax,
        segments,
        { fd: -1, size: 0, lastCrc: replay.lastCrc },
        replay.hardState,
        latestSnapshot,
      )
      wal.startSegment((segments.at(-1)?.seq ?? 0) + 1)
    }
    wal.stats.segments = wal.segments.length
    return { wal, recovery }
  }

  /**
   * Writes a batch to the OS. Durable only after `sync()` resolves. Throws
   * StorageExhaustedError, with the log as it was, when the disk is full or no descriptor is
   * left; a segment that cannot be rolled over yet is simply written on.
   */
  append(batch: WalBatch): void {
    assert(!this.closed, 'append on a closed WAL')
    if (this.size >= this.segmentBytesMax) this.rollIfPossible()
    const active = this.segments.at(-1)!
    const before = { lastCrc: this.lastCrc, hardState: this.hardState, maxEntryIndex: active.maxEntryIndex }
    try {
      const parts: Buffer[] = []
      for (const entry of batch.entries) {
        parts.push(this.record(recordTypes.entry, encodeEntry(entry)))
        if (entry.index > active.maxEntryIndex) active.maxEntryIndex = entry.index
      }
      if (batch.hardState !== null) {
        parts.push(this.record(recordTypes.hardState, encodeHardState(batch.hardState)))
        this.hardState = { ...batch.hardState }
      }
      this.write(Buffer.concat(parts))
    } catch (error) {
      this.lastCrc = before.lastCrc
      this.hardState = before.hardState
      active.maxEntryIndex = before.maxEntryIndex
      throw error
    }
  }

  /** Records that a durable snapshot covers the log up to `meta.index`. */
  markSnapshot(meta: StoredSnapshotMeta): void {
    const lastCrc = this.lastCrc
    try {
      this.write(this.record(recordTypes.snapshot, encodeSnapshotMeta(meta)))
    } catch (error) {
      this.lastCrc = lastCrc
      throw error
    }
    this.latestSnapshot = { ...meta }
  }

  async sync(): Promise<void> {
    await fdatasyncAsync(this.fd)
    this.stats.syncs++
  }

  /**
   * Starts a new segment so that the older ones can be released once a snapshot covers them.
   * Does nothing when the active segment holds no entries.
   */
  rollForCompaction(): void {
    if (this.segments.at(-1)!.maxEntryIndex > 0) this.rollIfPossible()
  }

  /** Deletes whole old segments whose entries a durable snapshot at `index` covers. */
  releaseTo(index: number): string[] {
    const removed: string[] = []
    while (this.segments.length > 1 && this.segments[0]!.maxEntryIndex <= index) {
      const segment = this.segments.shift()!
      unlinkSync(segment.file)
      removed.push(segment.file)
    }
    this.stats.segments = this.segments.length
    try {
      if (removed.length > 0) fsyncDirectory(this.dir)
    } catch (error) {
      // Making the removals durable can wait for the next one: the segments are gone either way.
      if (!isExhaustion(error)) throw error
    }
    return removed
  }

  /**
   * Discards the whole log (the node left a history it can no longer keep: a forced partition
   * that yields, a node adopting a forced epoch) and starts a new segment with `hardState`.
   */
  reset(hardState: StoredHardState): void {
    assert(!this.closed, 'reset on a closed WAL')
    fsyncSync(this.fd)
    closeSync(this.fd)
    const nextSeq = this.segments.at(-1)!.seq + 1
    for (const segment of this.segments.splice(0)) unlinkSync(segment.file)
    fsyncDirectory(this.dir)
    this.hardState = { ...hardState }
    this.latestSnapshot = null
    this.lastCrc = 0
    this.startSegment(nextSeq)
  }

  statistics(): WalStats {
    return { ...this.stats }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    fsyncSync(this.fd)
    closeSync(this.fd)
  }

  // ---- internals ---------------------------------------------------------------------------

  private record(type: RecordType, payload: Buffer): Buffer {
    const { bytes, crc } = encodeRecord(type, payload, this.lastCrc)
    this.lastCrc = crc
    return bytes
  }

  private write(bytes: Buffer): void {
    let written = 0
    try {
      while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written)
    } catch (error) {
      // Cut off whatever part of the record reached the file: the log stays as it was.
      if (written > 0) ftruncateSync(this.fd, this.size)
      if (isExhaustion(error)) throw new StorageExhaustedError(this.segments.at(-1)!.file, error)
      throw error
    }
    this.size += bytes.length
    this.stats.bytesWritten += bytes.length
  }

  /** Starts the next segment; when the disk or the descriptors are exhausted, writes on in this one. */
  private rollIfPossible(): void {
    try {
      const next = this.openSegment(this.segments.at(-1)!.seq + 1)
      fsyncSync(this.fd)
      closeSync(this.fd)
      this.adopt(next)
    } catch (error) {
      if (!isExhaustion(error)) throw error
      this.stats.deferredRolls++
    }
  }

  /**
   * A segment opens with its header, the current hard state and the latest snapshot marker, so
   * any prefix of older segments can be deleted without losing them.
   */
  private startSegment(seq: number): void {
    this.adopt(this.openSegment(seq))
  }

  /** Creates segment `seq` with its opening records, durably; removes it again on failure. */
  private openSegment(seq: number): { seq: number; file: string; fd: number; size: number; lastCrc: number } {
    const file = join(this.dir, `${seq.toString(16).padStart(16, '0')}.wal`)
    let crc = 0
    const record = (type: RecordType, payload: Buffer) => {
      const r = encodeRecord(type, payload, crc)
      crc = r.crc
      return r.bytes
    }
    const bytes = Buffer.concat([
      record(
        recordTypes.segmentHeader,
        encodeSegmentHeader({ version: walFormatVersion, seq, prevCrc: this.lastCrc }),
      ),
      record(recordTypes.hardState, encodeHardState(this.hardState)),
      ...(this.latestSnapshot === null
        ? []
        : [record(recordTypes.snapshot, encodeSnapshotMeta(this.latestSnapshot))]),
    ])
    const fd = openSync(file, 'wx')
    try {
      let written = 0
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
      fsyncSync(fd)
      fsyncDirectory(this.dir)
    } catch (error) {
      closeSync(fd)
      unlinkSync(file)
      throw error
    }
    return { seq, file, fd, size: bytes.length, lastCrc: crc }
  }

  private adopt(next: { seq: number; file: string; fd: number; size: number; lastCrc: number }): void {
    this.fd = next.fd
    this.size = next.size
    this.lastCrc = next.lastCrc
    this.segments.push({ seq: next.seq, file: next.file, maxEntryIndex: 0 })
    this.stats.bytesWritten += next.size
    this.stats.segments = this.segments.length
  }
}

/** Replays segments in order into hard state, snapshot markers and the entry list. */
class Replay {
  hardState: StoredHardState = { term: 0, vote: null, commit: 0 }
  snapshots: StoredSnapshotMeta[] = []
  entries: StoredEntry[] = []
  lastCrc = 0
  /** Index of the newest snapshot marker seen so far. */
  private snapshotFloor = 0
  private previous: { file: string; seq: number; lastCrc: number } | null = null

  segment(
    file: string,
    seq: number,
    buf: Buffer,
    isLast: boolean,
  ): { maxEntryIndex: number; torn: TornTail | null; end: number } {
    let offset = 0
    let prevCrc = 0
    let maxEntryIndex = 0
    let first = true
    for (;;) {
      const rec = decodeRecord(buf, offset, prevCrc)
      if (rec.kind === 'end') break
      if (rec.kind === 'torn') {
        if (!isLast)
          throw new StorageCorruptError(file, offset, `${rec.reason} in a segment that is not the newest`)
        if (!first) {
          // The records before the tear stay: later appends chain from the last of them.
          this.previous = { file, seq, lastCrc: prevCrc }
          this.lastCrc = prevCrc
        }
        return {
          maxEntryIndex,
          torn: { file, offset, droppedBytes: buf.length - offset, reason: rec.reason },
          end: offset,
        }
      }
      if (rec.kind === 'corrupt') throw new StorageCorruptError(file, offset, rec.reason)
      const fail = (reason: string): never => {
        throw new StorageCorruptError(file, offset, reason)
      }
      if (first !== (rec.type === recordTypes.segmentHeader)) {
        fail(first ? 'segment does not start with its header' : 'segment header in the middle of a segment')
      }
      switch (rec.type) {
        case recordTypes.segmentHeader: {
          const h = decodeSegmentHeader(rec.payload)
          if (typeof h === 'string') fail(h)
          const header = h as Exclude<typeof h, string>
          if (header.version !== walFormatVersion)
            fail(`WAL format version ${header.version}, this build reads ${walFormatVersion}`)
          if (header.seq !== seq) fail(`segment header says seq ${header.seq}, file name says ${seq}`)
          if (
            this.previous !== null &&
            (header.prevCrc !== this.previous.lastCrc || seq !== this.previous.seq + 1)
          ) {
            fail(`segment does not continue ${this.previous.file} (a segment is missing or was replaced)`)
          }
          break
        }
        case recordTypes.entry: {
          const e = decodeEntry(rec.payload)
          if (typeof e === 'string') fail(e)
          const entry = e as StoredEntry
          this.addEntry(entry, fail)
          if (entry.index > maxEntryIndex) maxEntryIndex = entry.index
          break
        }
        case recordTypes.hardState: {
          const h = decodeHardState(rec.payload)
          if (typeof h === 'string') fail(h)
          this.hardState = h as StoredHardState
          break
        }
        case recordTypes.snapshot: {
          const m = decodeSnapshotMeta(rec.payload)
          if (typeof m === 'string') fail(m)
          const meta = m as StoredSnapshotMeta
          if (this.snapshots.at(-1)?.index !== meta.index) this.snapshots.push(meta)
          this.snapshotFloor = Math.max(this.snapshotFloor, meta.index)
          break
        }
      }
      first = false
      prevCrc = rec.crc
      offset = rec.next
    }
    if (first) {
      if (!isLast) throw new StorageCorruptError(file, 0, 'empty segment that is not the newest')
      // An empty newest segment is replaced by open(); the chain continues from the one before.
      return { maxEntryIndex, torn: null, end: 0 }
    }
    this.previous = { file, seq, lastCrc: prevCrc }
    this.lastCrc = prevCrc
    return { maxEntryIndex, torn: null, end: offset }
  }

  private addEntry(entry: StoredEntry, fail: (reason: string) => never): void {
    const lastIndex = this.entries.at(-1)?.index
    if (lastIndex === undefined || entry.index === lastIndex + 1) {
      this.entries.push(entry)
      return
    }
    const firstIndex = this.entries[0]!.index
    if (entry.index === this.snapshotFloor + 1 && entry.index > lastIndex + 1) {
      // A snapshot installed from the leader replaced everything up to it: the log resumes after it.
      this.entries = [entry]
      return
    }
    if (entry.index > lastIndex + 1) fail(`entry ${entry.index} leaves a gap after ${lastIndex}`)
    if (entry.index < firstIndex) {
      // Overwrites everything we hold: the log restarts at this entry.
      this.entries = [entry]
      return
    }
    this.entries.length = entry.index - firstIndex
    this.entries.push(entry)
  }
}
