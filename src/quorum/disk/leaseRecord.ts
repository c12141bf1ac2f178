/**
 * The quorum disk's lease record: one 512-byte block (a sector, written whole with O_DSYNC), so
 * a write lands entirely or — on storage that tears it — fails its checksum. Layout, big-endian:
 *
 *     0  4  magic "GCQD"           16  8  counter (grows with every write by one writer)
 *     4  2  version (1)            24  8  incarnation (random per process start)
 *     6  1  state                  32 64  writer's node name (UTF-8, zero padded)
 *     7  1  name length            96 ..  zero
 *     8  8  ballot                508  4  CRC-32 of bytes 0..508
 *
 * States: `held` (the writer holds the lease under `ballot`), `clearing` (the writer challenges;
 * `ballot` is the highest it has seen), `released` (the holder gave the lease up cleanly).
 * Decoding never turns damage into "free": a block of zeros is `blank` (never formatted) and
 * anything else unreadable is `corrupt`; the protocol challenges both with the full wait.
 */
import { crc32 } from 'node:zlib'
import { assert } from '../../errors/assert.ts'

export const leaseBlockBytes = 512
export const leaseNameBytesMax = 64
const magic = 0x47435144 // "GCQD"
const version = 1
const crcOffset = leaseBlockBytes - 4

export type LeaseState = 'held' | 'clearing' | 'released'
const stateCodes: Record<LeaseState, number> = { held: 1, clearing: 2, released: 3 }
const stateOf = new Map(Object.entries(stateCodes).map(([s, c]) => [c, s as LeaseState]))

export interface LeaseRecord {
  state: LeaseState
  ballot: number
  counter: number
  incarnation: number
  writer: string
}

export type DecodedLease =
  | { kind: 'record'; record: LeaseRecord }
  | { kind: 'blank' }
  | { kind: 'corrupt'; why: string }

export function encodeLeaseRecord(r: LeaseRecord): Uint8Array {
  const name = new TextEncoder().encode(r.writer)
  assert(name.length > 0 && name.length <= leaseNameBytesMax, () => `lease writer name ${r.writer} too long`)
  for (const n of [r.ballot, r.counter, r.incarnation])
    assert(Number.isSafeInteger(n) && n >= 0, () => `lease record field ${n} is not a safe natural`)
  const buf = new Uint8Array(leaseBlockBytes)
  const v = new DataView(buf.buffer)
  v.setUint32(0, magic)
  v.setUint16(4, version)
  v.setUint8(6, stateCodes[r.state])
  v.setUint8(7, name.length)
  v.setBigUint64(8, BigInt(r.ballot))
  v.setBigUint64(16, BigInt(r.counter))
  v.setBigUint64(24, BigInt(r.incarnation))
  buf.set(name, 32)
  v.setUint32(crcOffset, crc32(buf.subarray(0, crcOffset)))
  return buf
}

export function decodeLeaseRecord(buf: Uint8Array): DecodedLease {
  if (buf.length < leaseBlockBytes) return { kind: 'corrupt', why: `short block (${buf.length} bytes)` }
  const block = buf.subarray(0, leaseBlockBytes)
  if (block.every((b) => b === 0)) return { kind: 'blank' }
  const v = new DataView(block.buffer, block.byteOffset, leaseBlockBytes)
  if (v.getUint32(crcOffset) !== crc32(block.subarray(0, crcOffset)))
    return { kind: 'corrupt', why: 'checksum mismatch (torn or damaged block)' }
  if (v.getUint32(0) !== magic) return { kind: 'corrupt', why: 'not a geocluster lease block (bad magic)' }
  if (v.getUint16(4) !== version)
    return { kind: 'corrupt', why: `unknown lease block version ${v.getUint16(4)}` }
  const state = stateOf.get(v.getUint8(6))
  if (state === undefined) return { kind: 'corrupt', why: `unknown lease state ${v.getUint8(6)}` }
  const nameLength = v.getUint8(7)
  if (nameLength === 0 || nameLength > leaseNameBytesMax)
    return { kind: 'corrupt', why: `bad writer name length ${nameLength}` }
  const big = [v.getBigUint64(8), v.getBigUint64(16), v.getBigUint64(24)]
  if (big.some((n) => n > BigInt(Number.MAX_SAFE_INTEGER)))
    return { kind: 'corrupt', why: 'ballot, counter or incarnation out of range' }
  const [ballot, counter, incarnation] = big.map(Number) as [number, number, number]
  const writer = new TextDecoder('utf-8', { fatal: false }).decode(block.subarray(32, 32 + nameLength))
  return { kind: 'record', record: { state, ballot, counter, incarnation, writer } }
}

export function sameLeaseRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.state === b.state &&
    a.ballot === b.ballot &&
    a.counter === b.counter &&
    a.incarnation === b.incarnation &&
    a.writer === b.writer
  )
}

export function describeLease(d: DecodedLease): string {
  if (d.kind === 'blank') return 'blank (never formatted)'
  if (d.kind === 'corrupt') return `corrupt: ${d.why}`
  const r = d.record
  return `${r.state} by ${r.writer} (ballot ${r.ballot}, write ${r.counter})`
}
