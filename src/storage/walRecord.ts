/**
 * Framing of write-ahead-log records. Every record carries two checksums: one over its header,
 * so a damaged length can never pass for a torn tail, and one over header + payload chained
 * from the previous record, so a changed, lost or reordered record breaks the chain.
 *
 *   0  u32 payload length      8  u32 crc32(bytes 0..8)
 *   4  u8  record type        12  u32 crc32(bytes 0..8 ++ payload, previous record's crc)
 *   5  3 zero bytes           16  payload
 */
import { crc32 } from 'node:zlib'

export const recordHeaderBytes = 16
export const recordPayloadBytesMax = 16 * 1024 * 1024
const headerSeed = 0x47434c57 // "GCLW": a zeroed header never checks out

export const recordTypes = {
  segmentHeader: 1,
  entry: 2,
  hardState: 3,
  snapshot: 4,
} as const
export type RecordType = (typeof recordTypes)[keyof typeof recordTypes]

const knownTypes = new Set<number>(Object.values(recordTypes))

export function encodeRecord(
  type: RecordType,
  payload: Uint8Array,
  prevCrc: number,
): { bytes: Buffer; crc: number } {
  if (payload.length > recordPayloadBytesMax) {
    throw new RangeError(`WAL record of ${payload.length} bytes exceeds ${recordPayloadBytesMax}`)
  }
  const bytes = Buffer.allocUnsafe(recordHeaderBytes + payload.length)
  bytes.writeUInt32LE(payload.length, 0)
  bytes.writeUInt8(type, 4)
  bytes.fill(0, 5, 8)
  bytes.writeUInt32LE(crc32(bytes.subarray(0, 8), headerSeed), 8)
  bytes.set(payload, recordHeaderBytes)
  const crc = crc32(payload, crc32(bytes.subarray(0, 8), prevCrc))
  bytes.writeUInt32LE(crc, 12)
  return { bytes, crc }
}

export type DecodedRecord =
  | { kind: 'record'; type: RecordType; payload: Buffer; crc: number; next: number }
  /** The file ends inside this record, or only zero bytes follow: an unfinished write. */
  | { kind: 'torn'; reason: string }
  | { kind: 'corrupt'; reason: string }
  | { kind: 'end' }

/**
 * Decodes the record at `offset`. `prevCrc` is the chained crc of the record before it (for the
 * first record of a segment, the seed its header stores).
 */
export function decodeRecord(buf: Buffer, offset: number, prevCrc: number): DecodedRecord {
  const remaining = buf.length - offset
  if (remaining === 0) return { kind: 'end' }
  if (isAllZero(buf, offset)) return { kind: 'torn', reason: `${remaining} zero bytes after the last record` }
  if (remaining < recordHeaderBytes) return { kind: 'torn', reason: `${remaining} bytes of a record header` }
  const length = buf.readUInt32LE(offset)
  const type = buf.readUInt8(offset + 4)
  if (buf.readUInt32LE(offset + 8) !== crc32(buf.subarray(offset, offset + 8), headerSeed)) {
    return { kind: 'corrupt', reason: 'record header checksum mismatch' }
  }
  if (!knownTypes.has(type) || length > recordPayloadBytesMax) {
    return { kind: 'corrupt', reason: `record header names type ${type}, length ${length}` }
  }
  const end = offset + recordHeaderBytes + length
  if (end > buf.length)
    return { kind: 'torn', reason: `record of ${length} bytes cut after ${remaining - recordHeaderBytes}` }
  const payload = buf.subarray(offset + recordHeaderBytes, end)
  const crc = crc32(payload, crc32(buf.subarray(offset, offset + 8), prevCrc))
  if (buf.readUInt32LE(offset + 12) !== crc) return { kind: 'corrupt', reason: 'record checksum mismatch' }
  return { kind: 'record', type: type as RecordType, payload, crc, next: end }
}

function isAllZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false
  return true
}
