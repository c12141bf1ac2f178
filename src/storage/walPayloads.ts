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
 * Hard state: 0 u64 term, 8 u64 commit, 16 u8 flags (1 = vote, 2 = mark, 4 = epochs, 8 =
 * preventing), 17 u64 mark term, 25 u64 mark index, then the vote (UTF-8) — with flag 4,
 * 33 u16 vote length, the vote, and a JSON object of the epoch fields (rebuilding, markEpoch).
 */
export function encodeHardState(h: StoredHardState): Buffer {
  const vote = Buffer.from(h.vote ?? '', 'utf8')
  const epochs: Pick<StoredHardState, 'rebuilding' | 'markEpoch'> = {}
  if (h.rebuilding !== undefined) epochs.rebuilding = h.rebuilding
  if (h.markEpoch !== undefined) epochs.markEpoch = h.markEpoch
  const extra = Object.keys(epochs).length === 0 ? null : Buffer.from(JSON.stringify(epochs), 'utf8')
  const b = Buffer.alloc(33 + (extra === null ? 0 : 2 + extra.length) + vote.length)
  b.writeBigUInt64LE(BigInt(h.term), 0)
  b.writeBigUInt64LE(BigInt(h.commit), 8)
  b.writeUInt8(
    (h.vote === null ? 0 : 1) |
      (h.mark === undefined ? 0 : 2) |
      (extra === null ? 0 : 4) |
      (h.preventing === true ? 8 : 0),
    16,
  )
  if (h.mark !== undefined) {
    b.writeBigUInt64LE(BigInt(h.mark.term), 17)
    b.writeBigUInt64LE(BigInt(h.mark.index), 25)
  }
  if (extra === null) {
    b.set(vote, 33)
    return b
  }
  b.writeUInt16LE(vote.length, 33)
  b.set(vote, 35)
  b.set(extra, 35 + vote.length)
  return b
}

type StoredEpoch = NonNullable<StoredHardState['rebuilding']>

function epochRecord(x: unknown): StoredEpoch | string {
  if (typeof x !== 'object' || x === null) return 'not an object'
  const r = x as Record<string, unknown>
  if (typeof r.epoch !== 'number' || !Number.isSafeInteger(r.epoch) || r.epoch < 0) return 'epoch'
  if (typeof r.epochId !== 'string' || r.epochId.length > 200) return 'epochId'
  if (typeof r.unconfirmed !== 'boolean') return 'unconfirmed'
  if (r.mayVote !== undefined && r.mayVote !== true) return 'mayVote'
  return {
    epoch: r.epoch,
    epochId: r.epochId,
    unconfirmed: r.unconfirmed,
    ...(r.mayVote === true ? { mayVote: true } : {}),
  }
}

export function decodeHardState(p: Buffer): StoredHardState | string {
  if (p.length < 33) return `hard state payload of ${p.length} bytes`
  const flags = p.readUInt8(16)
  if (flags > 15) return `hard state flags ${flags}`
  let vote = p.subarray(33)
  const epochs: Pick<StoredHardState, 'rebuilding' | 'markEpoch'> = {}
  if ((flags & 4) === 4) {
    if (p.length < 35) return `hard state payload of ${p.length} bytes with epochs`
    const voteEnd = 35 + p.readUInt16LE(33)
    if (voteEnd > p.length) return 'hard state vote past its end'
    vote = p.subarray(35, voteEnd)
    let parsed: unknown
    try {
      parsed = JSON.parse(p.subarray(voteEnd).toString('utf8'))
    } catch {
      return 'hard state epochs are not JSON'
    }
    if (typeof parsed !== 'object' || parsed === null) return 'hard state epochs are not an object'
    for (const key of ['rebuilding', 'markEpoch'] as const) {
      const value = (parsed as Record<string, unknown>)[key]
      if (value === undefined) continue
      const e = epochRecord(value)
      if (typeof e === 'string') return `hard state ${key} epoch: bad ${e}`
      epochs[key] = e
    }
  }
  const h: StoredHardState = {
    term: Number(p.readBigUInt64LE(0)),
    commit: Number(p.readBigUInt64LE(8)),
    vote: (flags & 1) === 1 ? vote.toString('utf8') : null,
  }
  if ((flags & 2) === 2)
    h.mark = { term: Number(p.readBigUInt64LE(17)), index: Number(p.readBigUInt64LE(25)) }
  if (epochs.rebuilding !== undefined) h.rebuilding = epochs.rebuilding
  if (epochs.markEpoch !== undefined) h.markEpoch = epochs.markEpoch
  if ((flags & 8) === 8) h.preventing = true
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
