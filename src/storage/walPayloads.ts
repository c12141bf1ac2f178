/** Binary payloads of the WAL's record types (little endian, fixed layouts, versioned header). */
import type { Entry, HardState, SnapshotMeta } from '../consensus/types.ts'

export const walFormatVersion = 1

const entryKinds = ['noop', 'command'] as const

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

export function encodeEntry(e: Entry): Buffer {
  const b = Buffer.allocUnsafe(17 + e.data.length)
  b.writeBigUInt64LE(BigInt(e.index), 0)
  b.writeBigUInt64LE(BigInt(e.term), 8)
  b.writeUInt8(entryKinds.indexOf(e.kind), 16)
  b.set(e.data, 17)
  return b
}

export function decodeEntry(p: Buffer): Entry | string {
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

export function encodeHardState(h: HardState): Buffer {
  const vote = Buffer.from(h.vote ?? '', 'utf8')
  const b = Buffer.allocUnsafe(17 + vote.length)
  b.writeBigUInt64LE(BigInt(h.term), 0)
  b.writeBigUInt64LE(BigInt(h.commit), 8)
  b.writeUInt8(h.vote === null ? 0 : 1, 16)
  b.set(vote, 17)
  return b
}

export function decodeHardState(p: Buffer): HardState | string {
  if (p.length < 17) return `hard state payload of ${p.length} bytes`
  const hasVote = p.readUInt8(16) === 1
  return {
    term: Number(p.readBigUInt64LE(0)),
    commit: Number(p.readBigUInt64LE(8)),
    vote: hasVote ? p.subarray(17).toString('utf8') : null,
  }
}

export function encodeSnapshotMeta(m: SnapshotMeta): Buffer {
  const b = Buffer.allocUnsafe(16)
  b.writeBigUInt64LE(BigInt(m.index), 0)
  b.writeBigUInt64LE(BigInt(m.term), 8)
  return b
}

export function decodeSnapshotMeta(p: Buffer): SnapshotMeta | string {
  if (p.length !== 16) return `snapshot payload of ${p.length} bytes`
  return { index: Number(p.readBigUInt64LE(0)), term: Number(p.readBigUInt64LE(8)) }
}
