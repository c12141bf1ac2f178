/** Binary payloads of the WAL's record types (little endian, fixed layouts, versioned header). */
import type { StoredEntry, StoredHardState, StoredSnapshotMeta } from './logRecords.ts'

export const walFormatVersion = 1

const entryKinds = ['noop', 'command', 'config'] as const

export interface SegmentHeader {
  version: number
  seq: number
  /** Chained crc the segment starts from: the last crc of the segment before it. */
  prevCrc: number
}

export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  const b = Buffer.alloc(16)
  b.writeUInt32LE(h.version, 0)
  b.writeUInt32LE(h.prevCrc, 4)
  b.writeBigUInt64LE(BigInt(h.seq), 8)
  return b
}

export function decodeSegmentHeader(p: Buffer): SegmentHeader | string {
  if (p.length !== 16) return `segment header of ${p.length} bytes`
  return { version: p.readUInt32LE(0), prevCrc: p.readUInt32LE(4), seq: Number(p.readBigUInt64LE(8)) }
}

export function encodeEntry(e: StoredEntry): Buffer {
  const b = Buffer.allocUnsafe(17 + e.data.length)
  b.writeBigUInt64LE(BigInt(e.index), 0)
  b.writeBigUInt64LE(BigInt(e.term), 8)
  b.writeUInt8(entryKinds.indexOf(e.kind), 16)
  b.set(e.data, 17)
  return b
}

export function decodeEntry(p: Buffer): StoredEntry | string {
  if (p.length < 17) return `entry payload of ${p.length} bytes`
  const kind = entryKinds[p.readUInt8(16)]
  if (kind === undefined) return `entry kind ${p.readUInt8(16)}`
  // Copy the data out so the segment's buffer can be released after recovery.
  return {
    index: Number(p.readBigUInt64LE(0)),
    term: Number(p.readBigUInt64LE(8)),
    kind,
    data: Uint8Array.from(p.subarray(17)),
  }
}

/*
 * Hard state: 0 u64 term, 8 u64 commit, 16 u8 flags (1 = vote, 2 = mark),
 * 17 u64 mark term, 25 u64 mark index, 33 vote (UTF-8).
 */
export function encodeHardState(h: StoredHardState): Buffer {
  const vote = Buffer.from(h.vote ?? '', 'utf8')
  const b = Buffer.alloc(33 + vote.length)
  b.writeBigUInt64LE(BigInt(h.term), 0)
  b.writeBigUInt64LE(BigInt(h.commit), 8)
  b.writeUInt8((h.vote === null ? 0 : 1) | (h.mark === undefined ? 0 : 2), 16)
  if (h.mark !== undefined) {
    b.writeBigUInt64LE(BigInt(h.mark.term), 17)
    b.writeBigUInt64LE(BigInt(h.mark.index), 25)
  }
  b.set(vote, 33)
  return b
}

export function decodeHardState(p: Buffer): StoredHardState | string {
  if (p.length < 33) return `hard state payload of ${p.length} bytes`
  const flags = p.readUInt8(16)
  if (flags > 3) return `hard state flags ${flags}`
  const h: StoredHardState = {
    term: Number(p.readBigUInt64LE(0)),
    commit: Number(p.readBigUInt64LE(8)),
    vote: (flags & 1) === 1 ? p.subarray(33).toString('utf8') : null,
  }
  if ((flags & 2) === 2)
    h.mark = { term: Number(p.readBigUInt64LE(17)), index: Number(p.readBigUInt64LE(25)) }
  return h
}

export function encodeSnapshotMeta(m: StoredSnapshotMeta): Buffer {
  const b = Buffer.allocUnsafe(16)
  b.writeBigUInt64LE(BigInt(m.index), 0)
  b.writeBigUInt64LE(BigInt(m.term), 8)
  return b
}

export function decodeSnapshotMeta(p: Buffer): StoredSnapshotMeta | string {
  if (p.length !== 16) return `snapshot payload of ${p.length} bytes`
  return { index: Number(p.readBigUInt64LE(0)), term: Number(p.readBigUInt64LE(8)) }
}
