import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Entry, HardState } from '../../src/consensus/types.ts'
import { StorageCorruptError } from '../../src/storage/storageErrors.ts'
import {
  decodeEntry,
  decodeHardState,
  decodeSegmentHeader,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeSegmentHeader,
  encodeSnapshotMeta,
} from '../../src/storage/walPayloads.ts'
import { decodeRecord, encodeRecord, recordHeaderBytes, recordTypes } from '../../src/storage/walRecord.ts'
import { WriteAheadLog } from '../../src/storage/writeAheadLog.ts'

// ---- layout, computed independently of the code under test ------------------------------------

/** Segment header record: 16-byte record header + 16-byte payload. */
const segmentHeaderRecordBytes = 16 + 16
// Hard state payload: term, commit, flags, W term, W index (33 bytes), then the vote.
const hardStateRecordBytes = (h: HardState) => 16 + 33 + Buffer.byteLength(h.vote ?? '', 'utf8')
const entryRecordBytes = (e: Entry) => 16 + 17 + e.data.length
const initialHardState: HardState = { term: 0, vote: null, commit: 0 }

interface RawRecord {
  offset: number
  end: number
  type: number
  /** Entry index when the record is an entry. */
  index: number | null
}

/** Walks the record frames of a segment by their length fields only (no checksum checks). */
function frames(buf: Buffer): RawRecord[] {
  const out: RawRecord[] = []
  let offset = 0
  while (offset + 16 <= buf.length) {
    const length = buf.readUInt32LE(offset)
    const type = buf[offset + 4]!
    const end = offset + 16 + length
    if (end > buf.length) break
    const index = type === 2 ? Number(buf.readBigUInt64LE(offset + 16)) : null
    out.push({ offset, end, type, index })
    offset = end
  }
  return out
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^[0-9a-f]{16}\.wal$/.test(n))
    .sort()
    .map((n) => join(dir, n))
}

function entry(index: number, term: number, data: string | Uint8Array = `cmd-${index}`): Entry {
  return {
    index,
    term,
    kind: index % 7 === 0 ? 'noop' : 'command',
    data: typeof data === 'string' ? new TextEncoder().encode(data) : data,
  }
}

function entries(from: number, to: number, term: number, dataBytes?: number): Entry[] {
  const out: Entry[] = []
  for (let i = from; i <= to; i++) {
    out.push(entry(i, term, dataBytes === undefined ? `cmd-${i}` : new Uint8Array(dataBytes).fill(i & 0xff)))
  }
  return out
}

function flipByte(file: string, offset: number): void {
  const buf = readFileSync(file)
  buf[offset] = buf[offset]! ^ 0x5a
  writeFileSync(file, buf)
}

function expectCorrupt(dir: string, opts: { segmentBytesMax?: number } = {}): StorageCorruptError {
  let caught: unknown
  try {
    WriteAheadLog.open(dir, opts)
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(StorageCorruptError)
  return caught as StorageCorruptError
}

let root: string
let dir: string

function freshDir(): string {
  return mkdtempSync(join(root, 'wal-'))
}

beforeEach(() => {
  root = mkdtempSync(join(os.tmpdir(), 'gc-'))
  dir = freshDir()
})

afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

// ---- tests -------------------------------------------------------------------------------------

describe('walRecord', () => {
  it('encodes the documented 16-byte header and decodes its own output', () => {
    const payload = Buffer.from('hello')
    const { bytes, crc } = encodeRecord(recordTypes.entry, payload, 1234)
    expect(bytes.length).toBe(recordHeaderBytes + 5)
    expect(bytes.readUInt32LE(0)).toBe(5)
    expect(bytes[4]).toBe(recordTypes.entry)
    expect([...bytes.subarray(5, 8)]).toEqual([0, 0, 0])
    expect(bytes.readUInt32LE(12)).toBe(crc)
    const rec = decodeRecord(bytes, 0, 1234)
    expect(rec).toMatchObject({ kind: 'record', type: recordTypes.entry, crc, next: bytes.length })
    if (rec.kind === 'record') expect(rec.payload.toString()).toBe('hello')
  })

  it('chains checksums: the wrong previous crc is corrupt', () => {
    const { bytes } = encodeRecord(recordTypes.entry, Buffer.from('x'), 1)
    expect(decodeRecord(bytes, 0, 2)).toEqual({ kind: 'corrupt', reason: 'record checksum mismatch' })
  })

  it('classifies a short file, a cut payload and zero bytes as torn, a bad header crc as corrupt', () => {
    const { bytes } = encodeRecord(recordTypes.entry, Buffer.from('payload'), 0)
    expect(decodeRecord(bytes.subarray(0, 10), 0, 0).kind).toBe('torn')
    expect(decodeRecord(bytes.subarray(0, 20), 0, 0).kind).toBe('torn')
    expect(decodeRecord(Buffer.alloc(64), 0, 0).kind).toBe('torn')
    expect(decodeRecord(Buffer.alloc(0), 0, 0)).toEqual({ kind: 'end' })
    const bad = Buffer.from(bytes)
    bad[0] = bad[0]! + 1
    expect(decodeRecord(bad, 0, 0)).toEqual({ kind: 'corrupt', reason: 'record header checksum mismatch' })
  })

  it('refuses payloads above the maximum', () => {
    expect(() => encodeRecord(recordTypes.entry, new Uint8Array(16 * 1024 * 1024 + 1), 0)).toThrow(RangeError)
  })
})

describe('walPayloads', () => {
  it('round-trips entries, hard states, snapshot metas and segment headers', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 40 }),
        fc.nat({ max: 2 ** 40 }),
        fc.constantFrom('noop' as const, 'command' as const),
        fc.uint8Array({ maxLength: 64 }),
        fc.option(fc.string({ unit: 'grapheme', maxLength: 20 })),
        (index, term, kind, data, vote) => {
          const e: Entry = { index, term, kind, data }
          expect(decodeEntry(encodeEntry(e))).toEqual(e)
          const h: HardState = { term, vote, commit: index }
          expect(decodeHardState(encodeHardState(h))).toEqual(h)
          expect(decodeSnapshotMeta(encodeSnapshotMeta({ index, term }))).toEqual({ index, term })
          const sh = { version: 1, seq: index, prevCrc: term % 2 ** 32 }
          expect(decodeSegmentHeader(encodeSegmentHeader(sh))).toEqual(sh)
        },
      ),
      { seed: 42, numRuns: 200 },
    )
  })

  it('reports malformed payloads as strings', () => {
    expect(decodeEntry(Buffer.alloc(16))).toBeTypeOf('string')
    const badKind = encodeEntry(entry(1, 1))
    badKind[16] = 9
    expect(decodeEntry(badKind)).toBe('entry kind 9')
    expect(decodeHardState(Buffer.alloc(3))).toBeTypeOf('string')
    expect(decodeSnapshotMeta(Buffer.alloc(15))).toBeTypeOf('string')
    expect(decodeSegmentHeader(Buffer.alloc(17))).toBeTypeOf('string')
  })
})

describe('StorageCorruptError', () => {
  it('names file, offset and reason and carries the storage code', () => {
    const e = new StorageCorruptError('/d/x.wal', 77, 'bad thing')
    expect(e.message).toContain('/d/x.wal: offset 77: bad thing')
    expect(e.code).toBe('GC_ERR_STORAGE_CORRUPT')
    expect(e.file).toBe('/d/x.wal')
    expect(e.offset).toBe(77)
    expect(e.name).toBe('StorageCorruptError')
  })
})

describe('WriteAheadLog', () => {
  it('opens an empty dir into one fresh segment with the initial hard state', () => {
    const { wal, recovery } = WriteAheadLog.open(dir)
    expect(recovery).toEqual({
      hardState: initialHardState,
      snapshots: [],
      entries: [],
      tornTail: null,
      segments: 0,
    })
    wal.close()
    const files = segmentFiles(dir)
    expect(files.map((f) => f.slice(-20))).toEqual(['0000000000000001.wal'])
    expect(statSync(files[0]!).size).toBe(segmentHeaderRecordBytes + hardStateRecordBytes(initialHardState))
  })

  it('persists entries and hard state across close and reopen', async () => {
    const written = [...entries(1, 3, 1), ...entries(4, 6, 2)]
    const hs: HardState = { term: 2, vote: 'nöde-β', commit: 5 }
    {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: written.slice(0, 3), hardState: { term: 1, vote: 'a', commit: 1 } })
      wal.append({ entries: written.slice(3), hardState: hs })
      await wal.sync()
      expect(wal.statistics().syncs).toBe(1)
      wal.close()
      wal.close() // idempotent
      expect(() => wal.append({ entries: [], hardState: null })).toThrow(/closed/)
    }
    const { wal, recovery } = WriteAheadLog.open(dir)
    expect(recovery.entries).toEqual(written)
    expect(recovery.hardState).toEqual(hs)
    expect(recovery.tornTail).toBeNull()
    expect(recovery.segments).toBe(1)
    wal.close()
  })

  it('keeps the hard state when the last batch carries none, and replays an entry-free log', () => {
    {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: [], hardState: { term: 9, vote: null, commit: 0 } })
      wal.append({ entries: [], hardState: null })
      wal.close()
    }
    const { wal, recovery } = WriteAheadLog.open(dir)
    expect(recovery.hardState).toEqual({ term: 9, vote: null, commit: 0 })
    expect(recovery.entries).toEqual([])
    wal.close()
  })

  it('replays a later lower index as a truncation of the suffix (overwrite semantics)', () => {
    {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 'n1', commit: 2 } })
      wal.append({ entries: [entry(3, 2, 'three-prime'), entry(4, 2, 'four-prime')], hardState: null })
      wal.close()
    }
    const { wal, recovery } = WriteAheadLog.open(dir)
    expect(recovery.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
    ])
    expect(new TextDecoder().decode(recovery.entries[2]!.data)).toBe('three-prime')
    wal.close()
  })

  it('replays an overwrite below the first held index as a restart of the log', () => {
    {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: entries(5, 8, 1), hardState: null })
      wal.append({ entries: entries(2, 3, 3), hardState: null })
      wal.close()
    }
    const { wal, recovery } = WriteAheadLog.open(dir)
    expect(recovery.entries.map((e) => [e.index, e.term])).toEqual([
      [2, 3],
      [3, 3],
    ])
    wal.close()
  })

  it('refuses a gap in entry indexes as corrupt', () => {
    {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: entries(1, 2, 1), hardState: null })
      wal.append({ entries: [entry(4, 1)], hardState: null })
      wal.close()
    }
    const err = expectCorrupt(dir)
    expect(err.message).toContain('entry 4 leaves a gap after 2')
  })

  describe('torn tail', () => {
    function writeFive(): { file: string; lastRecordStart: number; written: Entry[]; hs: HardState } {
      const written = entries(1, 5, 1)
      const hs: HardState = { term: 1, vote: 'n2', commit: 3 }
      const { wal } = WriteAheadLog.open(dir)
      // Entries and hard state in separate batches: the last record on disk is entry 5.
      wal.append({ entries: [], hardState: hs })
      wal.append({ entries: written, hardState: null })
      wal.close()
      const file = segmentFiles(dir)[0]!
      const lastRecordStart =
        segmentHeaderRecordBytes +
        hardStateRecordBytes(initialHardState) +
        hardStateRecordBytes(hs) +
        written.slice(0, 4).reduce((n, e) => n + entryRecordBytes(e), 0)
      expect(statSync(file).size).toBe(lastRecordStart + entryRecordBytes(written[4]!))
      return { file, lastRecordStart, written, hs }
    }

    it('cuts an unfinished last record, reports it, and keeps the prefix', () => {
      const { file, lastRecordStart, written, hs } = writeFive()
      const cutAt = lastRecordStart + 20 // inside the payload of entry 5
      truncateSync(file, cutAt)
      const { wal, recovery } = WriteAheadLog.open(dir)
      wal.close()
      expect(recovery.tornTail).toMatchObject({ file, offset: lastRecordStart, droppedBytes: 20 })
      expect(recovery.tornTail!.reason).toMatch(/cut/)
      expect(statSync(file).size).toBe(lastRecordStart)
      expect(recovery.entries).toEqual(written.slice(0, 4))
      expect(recovery.hardState).toEqual(hs)
    })

    it('cuts a record whose header itself is unfinished', () => {
      const { file, lastRecordStart, written } = writeFive()
      truncateSync(file, lastRecordStart + 7)
      const { wal, recovery } = WriteAheadLog.open(dir)
      wal.close()
      expect(recovery.tornTail).toMatchObject({ file, offset: lastRecordStart, droppedBytes: 7 })
      expect(statSync(file).size).toBe(lastRecordStart)
      expect(recovery.entries).toEqual(written.slice(0, 4))
    })

    it('treats a zero-filled tail as torn', () => {
      const { file, lastRecordStart, written } = writeFive()
      const fullSize = lastRecordStart + entryRecordBytes(written[4]!)
      appendFileSync(file, Buffer.alloc(4096))
      const { wal, recovery } = WriteAheadLog.open(dir)
      wal.close()
      expect(recovery.tornTail).toMatchObject({ file, offset: fullSize, droppedBytes: 4096 })
      expect(recovery.tornTail!.reason).toMatch(/zero bytes/)
      expect(statSync(file).size).toBe(fullSize)
      expect(recovery.entries).toEqual(written)
    })

    it('opens cleanly a second time after the cut (nothing left to cut)', () => {
      const { file, lastRecordStart, written } = writeFive()
      truncateSync(file, lastRecordStart + 3)
      WriteAheadLog.open(dir).wal.close()
      const { wal, recovery } = WriteAheadLog.open(dir)
      wal.close()
      expect(recovery.tornTail).toBeNull()
      expect(recovery.entries).toEqual(written.slice(0, 4))
    })

    // Regression: appends after recovery must chain from the last good record's crc, not the
    // previous segment's, or the next open refuses the log.
    it('appends after cutting a torn tail survive another reopen', () => {
      const { file, lastRecordStart, written } = writeFive()
      truncateSync(file, lastRecordStart + 20)
      {
        const { wal } = WriteAheadLog.open(dir)
        wal.append({
          entries: [entry(5, 2, 'five-again'), entry(6, 2)],
          hardState: { term: 2, vote: null, commit: 4 },
        })
        wal.close()
      }
      const { wal, recovery } = WriteAheadLog.open(dir)
      wal.close()
      expect(recovery.tornTail).toBeNull()
      expect(recovery.entries).toEqual([...written.slice(0, 4), entry(5, 2, 'five-again'), entry(6, 2)])
      expect(recovery.hardState).toEqual({ term: 2, vote: null, commit: 4 })
    })

    // Same bug as above, reached through a zero-filled tail.
    it('appends after cutting a zero-filled tail survive another reopen', () => {
      const { file, written } = writeFive()
      appendFileSync(file, Buffer.alloc(4096))
      {
        const { wal } = WriteAheadLog.open(dir)
        wal.append({ entries: [entry(6, 1)], hardState: null })
        wal.close()
      }
      const { wal, recovery } = WriteAheadLog.open(dir)
      wal.close()
      expect(recovery.entries).toEqual([...written, entry(6, 1)])
    })

    // Same bug again: the torn record is the first after the header of a later segment, and
    // appends get chained from the previous segment's last crc instead of this header's crc.
    it('appends after a cut that left only the segment header survive another reopen', () => {
      const { wal } = WriteAheadLog.open(dir, { segmentBytesMax: 256 })
      wal.append({ entries: entries(1, 4, 1, 60), hardState: null })
      wal.append({ entries: entries(5, 6, 1, 60), hardState: null })
      wal.close()
      const files = segmentFiles(dir)
      expect(files.length).toBe(2)
      const newest = files[1]!
      truncateSync(newest, segmentHeaderRecordBytes + 5)
      {
        const { wal, recovery } = WriteAheadLog.open(dir, { segmentBytesMax: 256 })
        expect(recovery.tornTail).toMatchObject({ file: newest, offset: segmentHeaderRecordBytes })
        expect(recovery.entries.map((e) => e.index)).toEqual([1, 2, 3, 4])
        wal.append({ entries: entries(5, 5, 2), hardState: null })
        wal.close()
      }
      const { wal: again, recovery } = WriteAheadLog.open(dir, { segmentBytesMax: 256 })
      again.close()
      expect(recovery.entries.map((e) => [e.index, e.term])).toEqual([
        [1, 1],
        [2, 1],
        [3, 1],
        [4, 1],
        [5, 2],
      ])
    })

    it('replaces a newest segment torn inside its header with a fresh one', () => {
      const { wal } = WriteAheadLog.open(dir, { segmentBytesMax: 256 })
      wal.append({ entries: entries(1, 4, 1, 60), hardState: { term: 1, vote: 'x', commit: 4 } })
      wal.append({ entries: entries(5, 5, 1, 60), hardState: null })
      wal.close()
      const [first, newest] = segmentFiles(dir)
      truncateSync(newest!, 10)
      {
        const { wal, recovery } = WriteAheadLog.open(dir, { segmentBytesMax: 256 })
        expect(recovery.tornTail).toMatchObject({ file: newest, offset: 0, droppedBytes: 10 })
        expect(recovery.entries.map((e) => e.index)).toEqual([1, 2, 3, 4])
        expect(segmentFiles(dir)).toEqual([first, newest])
        wal.append({ entries: entries(5, 6, 2), hardState: null })
        wal.close()
      }
      const { wal: again, recovery } = WriteAheadLog.open(dir, { segmentBytesMax: 256 })
      again.close()
      expect(recovery.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6])
      expect(recovery.hardState).toEqual({ term: 1, vote: 'x', commit: 4 })
    })

    // Regression: an empty newest segment (crash between creating it and writing its header) is
    // replaced, and the chain continues from the segment before it.
    it('a zero-byte newest segment is replaced and the log reopens afterwards', () => {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: entries(1, 3, 1), hardState: null })
      wal.close()
      writeFileSync(join(dir, '0000000000000002.wal'), Buffer.alloc(0))
      WriteAheadLog.open(dir).wal.close()
      const { wal: again, recovery } = WriteAheadLog.open(dir)
      again.close()
      expect(recovery.entries.map((e) => e.index)).toEqual([1, 2, 3])
    })
  })

  describe('corruption', () => {
    it('a flipped payload byte in a middle record names the file and the record offset', () => {
      const written = entries(1, 6, 1)
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: written, hardState: { term: 1, vote: null, commit: 6 } })
      wal.close()
      const file = segmentFiles(dir)[0]!
      // Record of entry 3: after the segment header, the initial hard state, entries 1 and 2.
      const recordStart =
        segmentHeaderRecordBytes +
        hardStateRecordBytes(initialHardState) +
        entryRecordBytes(written[0]!) +
        entryRecordBytes(written[1]!)
      flipByte(file, recordStart + 16 + 10)
      const err = expectCorrupt(dir)
      expect(err.message).toContain(file)
      expect(err.message).toContain(`offset ${recordStart}`)
      expect(err.offset).toBe(recordStart)
      expect(err.file).toBe(file)
      expect(err.message).toContain('record checksum mismatch')
      expect(err.code).toBe('GC_ERR_STORAGE_CORRUPT')
      // Nothing was cut: a corrupt log is left as it is for an operator.
      expect(statSync(file).size).toBe(frames(readFileSync(file)).at(-1)!.end)
    })

    it('a flipped byte in a middle record of an older segment is corrupt, not torn', () => {
      const { wal } = WriteAheadLog.open(dir, { segmentBytesMax: 300 })
      for (let i = 1; i <= 12; i++)
        wal.append({ entries: [entry(i, 1, new Uint8Array(40).fill(i))], hardState: null })
      wal.close()
      const files = segmentFiles(dir)
      expect(files.length).toBeGreaterThanOrEqual(3)
      const target = files[1]!
      const recs = frames(readFileSync(target)).filter((r) => r.type === 2)
      expect(recs.length).toBeGreaterThanOrEqual(2)
      const victim = recs[0]!
      flipByte(target, victim.offset + 16 + 3)
      const err = expectCorrupt(dir, { segmentBytesMax: 300 })
      expect(err.file).toBe(target)
      expect(err.message).toContain(`offset ${victim.offset}`)
    })

    it('a flipped length byte is corrupt, even in the last record (never mistaken for a torn tail)', () => {
      const written = entries(1, 4, 1)
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: written, hardState: null })
      wal.close()
      const file = segmentFiles(dir)[0]!
      const starts = frames(readFileSync(file)).map((r) => r.offset)
      const base = segmentHeaderRecordBytes + hardStateRecordBytes(initialHardState)
      const expectedStarts = [0, segmentHeaderRecordBytes, base]
      for (const e of written.slice(0, -1)) expectedStarts.push(expectedStarts.at(-1)! + entryRecordBytes(e))
      expect(starts).toEqual(expectedStarts)
      const size = statSync(file).size
      for (const recordStart of [starts[3]!, starts.at(-1)!]) {
        flipByte(file, recordStart + 1) // length 0x00000021 -> 0x00005a21: runs past the end
        const err = expectCorrupt(dir)
        expect(err.offset).toBe(recordStart)
        expect(err.message).toContain(`offset ${recordStart}`)
        expect(err.message).toContain('record header checksum mismatch')
        expect(statSync(file).size).toBe(size)
        flipByte(file, recordStart + 1) // restore
      }
      const { wal: ok, recovery } = WriteAheadLog.open(dir)
      ok.close()
      expect(recovery.entries).toEqual(written)
    })

    it('a damaged segment header is refused with offset 0', () => {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: entries(1, 2, 1), hardState: null })
      wal.close()
      const file = segmentFiles(dir)[0]!
      flipByte(file, 16 + 2)
      const err = expectCorrupt(dir)
      expect(err.file).toBe(file)
      expect(err.offset).toBe(0)
    })

    it('a segment whose name disagrees with its header seq is refused', () => {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: entries(1, 2, 1), hardState: null })
      wal.close()
      const file = segmentFiles(dir)[0]!
      const renamed = join(dir, '0000000000000005.wal')
      writeFileSync(renamed, readFileSync(file))
      unlinkSync(file)
      expect(expectCorrupt(dir).message).toContain('segment header says seq 1, file name says 5')
    })

    it('a missing middle segment is refused', () => {
      const { wal } = WriteAheadLog.open(dir, { segmentBytesMax: 256 })
      for (let i = 1; i <= 12; i++)
        wal.append({ entries: [entry(i, 1, new Uint8Array(50).fill(i))], hardState: null })
      wal.close()
      const files = segmentFiles(dir)
      expect(files.length).toBeGreaterThanOrEqual(3)
      unlinkSync(files[1]!)
      const err = expectCorrupt(dir, { segmentBytesMax: 256 })
      expect(err.message).toMatch(/missing/)
      expect(err.file).toBe(files[2])
      expect(err.message).toContain(files[0]!)
    })

    it('a torn record in a segment that is not the newest is corrupt', () => {
      const { wal } = WriteAheadLog.open(dir, { segmentBytesMax: 256 })
      for (let i = 1; i <= 10; i++)
        wal.append({ entries: [entry(i, 1, new Uint8Array(50).fill(i))], hardState: null })
      wal.close()
      const files = segmentFiles(dir)
      expect(files.length).toBeGreaterThanOrEqual(2)
      const size = statSync(files[0]!).size
      truncateSync(files[0]!, size - 5)
      const err = expectCorrupt(dir, { segmentBytesMax: 256 })
      expect(err.file).toBe(files[0])
      expect(err.message).toContain('not the newest')
    })
  })

  describe('segments', () => {
    it('rolls to new segments past segmentBytesMax, each starting with header and hard state', () => {
      const written = entries(1, 40, 1, 64)
      const hs: HardState = { term: 1, vote: 'n1', commit: 0 }
      {
        const { wal } = WriteAheadLog.open(dir, { segmentBytesMax: 1024 })
        wal.append({ entries: [], hardState: hs })
        for (const e of written) wal.append({ entries: [e], hardState: null })
        expect(wal.statistics().segments).toBe(segmentFiles(dir).length)
        wal.close()
      }
      const files = segmentFiles(dir)
      expect(files.length).toBeGreaterThanOrEqual(3)
      files.forEach((f, i) => {
        expect(f.endsWith(`${(i + 1).toString(16).padStart(16, '0')}.wal`)).toBe(true)
        const recs = frames(readFileSync(f))
        expect(recs[0]!.type).toBe(recordTypes.segmentHeader)
        expect(recs[1]!.type).toBe(recordTypes.hardState)
        // A segment is only rolled once it reached the limit, so it overshoots by one batch at most.
        if (i < files.length - 1) {
          expect(statSync(f).size).toBeGreaterThanOrEqual(1024)
          expect(statSync(f).size).toBeLessThan(1024 + entryRecordBytes(written[0]!))
        }
      })
      const { wal, recovery } = WriteAheadLog.open(dir, { segmentBytesMax: 1024 })
      wal.close()
      expect(recovery.segments).toBe(files.length)
      expect(recovery.entries).toEqual(written)
      expect(recovery.hardState).toEqual(hs)
    })

    it('rollForCompaction does nothing while the active segment holds no entries', () => {
      const { wal } = WriteAheadLog.open(dir)
      wal.rollForCompaction()
      expect(segmentFiles(dir).length).toBe(1)
      wal.append({ entries: [entry(1, 1)], hardState: null })
      wal.rollForCompaction()
      expect(segmentFiles(dir).length).toBe(2)
      wal.rollForCompaction()
      expect(segmentFiles(dir).length).toBe(2)
      wal.close()
    })

    it('releaseTo deletes only whole segments covered by the index, never the active one', () => {
      const written = entries(1, 30, 1, 80)
      const { wal } = WriteAheadLog.open(dir, { segmentBytesMax: 1024 })
      for (let i = 0; i < written.length; i += 2) {
        wal.append({ entries: written.slice(i, i + 2), hardState: { term: 1, vote: 'n3', commit: i } })
      }
      const files = segmentFiles(dir)
      expect(files.length).toBeGreaterThanOrEqual(3)
      const maxIndex = new Map(
        files.map((f) => [f, Math.max(0, ...frames(readFileSync(f)).map((r) => r.index ?? 0))]),
      )
      // 20 lies inside some segment: that segment must stay.
      const straddling = files.find((f) => {
        const idx = frames(readFileSync(f))
          .map((r) => r.index)
          .filter((x) => x !== null)
        return Math.min(...idx) <= 20 && Math.max(...idx) > 20
      })
      expect(straddling).toBeDefined()

      wal.markSnapshot({ index: 20, term: 1 })
      wal.rollForCompaction()
      const afterRoll = segmentFiles(dir)
      expect(afterRoll.length).toBe(files.length + 1)
      const expectedRemoved = files.filter((f) => maxIndex.get(f)! <= 20)
      expect(expectedRemoved.length).toBeGreaterThanOrEqual(1)
      const removed = wal.releaseTo(20)
      expect(removed).toEqual(expectedRemoved)
      expect(segmentFiles(dir)).toEqual(afterRoll.filter((f) => !expectedRemoved.includes(f)))
      expect(segmentFiles(dir)).toContain(straddling)
      expect(wal.releaseTo(20)).toEqual([])
      wal.close()

      const { wal: reopened, recovery } = WriteAheadLog.open(dir, { segmentBytesMax: 1024 })
      const releasedUpTo = Math.max(...expectedRemoved.map((f) => maxIndex.get(f)!))
      expect(recovery.hardState).toEqual({ term: 1, vote: 'n3', commit: 28 })
      expect(recovery.snapshots).toEqual([{ index: 20, term: 1 }])
      expect(recovery.entries).toEqual(written.slice(releasedUpTo))
      expect(recovery.entries.at(-1)!.index).toBe(30)

      // Releasing everything still keeps the active segment, which carries state and marker.
      const all = reopened.releaseTo(1_000)
      const left = segmentFiles(dir)
      expect(left).toEqual([afterRoll.at(-1)])
      expect(all.length).toBeGreaterThan(0)
      reopened.close()
      const { wal: last, recovery: r2 } = WriteAheadLog.open(dir, { segmentBytesMax: 1024 })
      last.close()
      expect(r2.hardState).toEqual({ term: 1, vote: 'n3', commit: 28 })
      expect(r2.snapshots).toEqual([{ index: 20, term: 1 }])
      expect(r2.entries).toEqual([])
    })

    it('releaseTo keeps the active segment even when all its entries are covered', () => {
      const { wal } = WriteAheadLog.open(dir)
      wal.append({ entries: entries(1, 5, 1), hardState: null })
      expect(wal.releaseTo(100)).toEqual([])
      expect(segmentFiles(dir).length).toBe(1)
      wal.close()
    })

    it('keeps every snapshot marker in order and de-duplicates repeats across segments', () => {
      {
        const { wal } = WriteAheadLog.open(dir)
        wal.append({ entries: entries(1, 3, 1), hardState: null })
        wal.markSnapshot({ index: 2, term: 1 })
        wal.rollForCompaction() // new segment repeats the marker {2,1}
        wal.append({ entries: entries(4, 6, 1), hardState: null })
        wal.markSnapshot({ index: 5, term: 1 })
        wal.close()
      }
      const { wal, recovery } = WriteAheadLog.open(dir)
      wal.close()
      expect(recovery.snapshots).toEqual([
        { index: 2, term: 1 },
        { index: 5, term: 1 },
      ])
      expect(recovery.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6])
    })
  })

  it('property: truncating the newest segment anywhere past its header recovers exactly the durable prefix', () => {
    const segmentBytesMax = 400
    const runs = { total: 0, torn: 0, keptSome: 0 }
    const batchArb = fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 4 })
    fc.assert(
      fc.property(
        fc.array(batchArb, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.nat({ max: 1_000_000 }),
        (batches, withHardState, cutSeed) => {
          const d = freshDir()
          const written: Entry[] = []
          const { wal } = WriteAheadLog.open(d, { segmentBytesMax })
          let next = 1
          for (const [b, sizes] of batches.entries()) {
            const batch = sizes.map((n) => entry(next++, 1 + (b >> 2), new Uint8Array(n).fill(next & 0xff)))
            written.push(...batch)
            wal.append({
              entries: batch,
              hardState: withHardState ? { term: 1 + (b >> 2), vote: null, commit: b } : null,
            })
          }
          wal.close()

          const files = segmentFiles(d)
          const newest = files.at(-1)!
          const before = readFileSync(newest)
          const recs = frames(before)
          expect(recs.at(-1)!.end).toBe(before.length)
          const firstInNewest = recs.find((r) => r.index !== null)?.index ?? next
          const cut = segmentHeaderRecordBytes + (cutSeed % (before.length - segmentHeaderRecordBytes + 1))
          truncateSync(newest, cut)

          const { wal: reopened, recovery } = WriteAheadLog.open(d, { segmentBytesMax })
          reopened.close()

          // Entries whose record ends at or before the cut survive, in the newest segment.
          const keptInNewest = recs.filter((r) => r.index !== null && r.end <= cut).map((r) => r.index!)
          const expected = written.filter((e) => e.index < firstInNewest || keptInNewest.includes(e.index))
          expect(recovery.entries).toEqual(expected)
          // ...which is a prefix of what was written, holding everything from earlier segments.
          expect(written.slice(0, expected.length)).toEqual(expected)
          expect(recovery.entries.length).toBeGreaterThanOrEqual(firstInNewest - 1)

          const boundary = Math.max(...recs.filter((r) => r.end <= cut).map((r) => r.end))
          runs.total++
          if (boundary !== cut) runs.torn++
          if (keptInNewest.length > 0) runs.keptSome++
          if (boundary === cut) {
            expect(recovery.tornTail).toBeNull()
          } else {
            expect(recovery.tornTail).toMatchObject({
              file: newest,
              offset: boundary,
              droppedBytes: cut - boundary,
            })
          }
          expect(statSync(newest).size).toBe(boundary)
          expect(recovery.segments).toBe(files.length)
        },
      ),
      { seed: 42, numRuns: 60 },
    )
    // The generator must exercise real tears and partial keeps, not only trivial cuts.
    expect(runs.total).toBe(60)
    expect(runs.torn).toBeGreaterThan(30)
    expect(runs.keptSome).toBeGreaterThan(15)
  })

  it('property: after any cut of the newest segment, new appends survive another reopen', () => {
    const segmentBytesMax = 400
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 30 }),
        fc.nat({ max: 1_000_000 }),
        (sizes, cutSeed) => {
          const d = freshDir()
          const { wal } = WriteAheadLog.open(d, { segmentBytesMax })
          for (const [i, n] of sizes.entries())
            wal.append({ entries: [entry(i + 1, 1, new Uint8Array(n))], hardState: null })
          wal.close()
          const newest = segmentFiles(d).at(-1)!
          const size = statSync(newest).size
          truncateSync(newest, segmentHeaderRecordBytes + (cutSeed % (size - segmentHeaderRecordBytes + 1)))
          const first = WriteAheadLog.open(d, { segmentBytesMax })
          const kept = first.recovery.entries
          const extra = entry((kept.at(-1)?.index ?? 0) + 1, 2, 'after-recovery')
          first.wal.append({ entries: [extra], hardState: { term: 2, vote: null, commit: 0 } })
          first.wal.close()
          const { wal: again, recovery } = WriteAheadLog.open(d, { segmentBytesMax })
          again.close()
          expect(recovery.entries).toEqual([...kept, extra])
        },
      ),
      { seed: 42, numRuns: 40 },
    )
  })
})
