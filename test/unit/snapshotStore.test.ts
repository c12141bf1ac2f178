import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SnapshotStore, snapshotsKeptDefault } from '../../src/storage/snapshotStore.ts'

const headerBytes = 36

let root: string
let dir: string

beforeEach(() => {
  root = mkdtempSync(join(os.tmpdir(), 'gc-'))
  dir = join(root, 'snap')
})

afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

const name = (index: number, term: number) =>
  `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`

const payloadOf = (index: number) => Buffer.from(JSON.stringify({ index, data: 'x'.repeat(index % 50) }))

function flipByte(file: string, offset: number): void {
  const buf = readFileSync(file)
  buf[offset] = buf[offset]! ^ 0x01
  writeFileSync(file, buf)
}

function snapFiles(): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.snap'))
    .sort()
}

describe('SnapshotStore', () => {
  it('creates its directory and loads nothing from an empty one', () => {
    const store = new SnapshotStore(dir)
    expect(existsSync(dir)).toBe(true)
    expect(store.loadNewest()).toEqual({ snapshot: null, skipped: [] })
    expect(store.prune()).toEqual({ removed: [], oldestKept: null })
  })

  it('save then loadNewest round-trips meta, file and payload, with the documented header', () => {
    const store = new SnapshotStore(dir)
    const payload = Buffer.from('{"hello":"wörld"}')
    const file = store.save({ index: 0x1234, term: 7 }, payload)
    expect(file).toBe(join(dir, name(0x1234, 7)))
    const raw = readFileSync(file)
    expect(raw.subarray(0, 8).toString('latin1')).toBe('GCSNAP01')
    expect(Number(raw.readBigUInt64LE(8))).toBe(0x1234)
    expect(Number(raw.readBigUInt64LE(16))).toBe(7)
    expect(raw.readUInt32LE(24)).toBe(payload.length)
    expect(raw.readUInt32LE(28)).toBe(crc32(payload))
    expect(raw.readUInt32LE(32)).toBe(crc32(raw.subarray(0, 32)))
    expect(raw.length).toBe(headerBytes + payload.length)
    // No temporary file is left behind.
    expect(readdirSync(dir)).toEqual([name(0x1234, 7)])

    const { snapshot, skipped } = store.loadNewest()
    expect(skipped).toEqual([])
    expect(snapshot).not.toBeNull()
    expect(snapshot!.meta).toEqual({ index: 0x1234, term: 7 })
    expect(snapshot!.file).toBe(file)
    expect(Buffer.from(snapshot!.payload).equals(payload)).toBe(true)
  })

  it('round-trips an empty payload', () => {
    const store = new SnapshotStore(dir)
    store.save({ index: 1, term: 1 }, new Uint8Array(0))
    const { snapshot } = store.loadNewest()
    expect(snapshot!.payload.length).toBe(0)
  })

  it('loadNewest picks the highest index, by number and not by name order of terms', () => {
    const store = new SnapshotStore(dir, 10)
    store.save({ index: 9, term: 5 }, payloadOf(9))
    store.save({ index: 16, term: 2 }, payloadOf(16))
    store.save({ index: 10, term: 9 }, payloadOf(10))
    const { snapshot } = store.loadNewest()
    expect(snapshot!.meta).toEqual({ index: 16, term: 2 })
    expect(snapshot!.payload.equals(payloadOf(16))).toBe(true)
  })

  it('ignores files that do not look like snapshots', () => {
    const store = new SnapshotStore(dir)
    store.save({ index: 3, term: 1 }, payloadOf(3))
    writeFileSync(join(dir, 'notes.txt'), 'hi')
    writeFileSync(join(dir, `${name(99, 1)}.tmp-123`), 'half-written')
    writeFileSync(join(dir, name(99, 1).toUpperCase()), 'x')
    const { snapshot, skipped } = store.loadNewest()
    expect(snapshot!.meta.index).toBe(3)
    expect(skipped).toEqual([])
    expect(store.prune().removed).toEqual([])
    expect(existsSync(join(dir, 'notes.txt'))).toBe(true)
  })

  it(`prune keeps the ${snapshotsKeptDefault} newest by default and reports the oldest kept`, () => {
    const store = new SnapshotStore(dir)
    for (const i of [10, 20, 30, 40]) store.save({ index: i, term: 1 }, payloadOf(i))
    const { removed, oldestKept } = store.prune()
    expect(removed).toEqual([join(dir, name(10, 1)), join(dir, name(20, 1))])
    expect(oldestKept).toBe(30)
    expect(snapFiles()).toEqual([name(30, 1), name(40, 1)])
    expect(store.prune()).toEqual({ removed: [], oldestKept: 30 })
  })

  it('property: prune keeps exactly the `keep` highest indexes', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 0, maxLength: 8 }),
        fc.integer({ min: 1, max: 5 }),
        (indexes, keep) => {
          const d = mkdtempSync(join(root, 'p-'))
          const store = new SnapshotStore(d, keep)
          for (const i of indexes) store.save({ index: i, term: 3 }, payloadOf(i))
          const sorted = [...indexes].sort((a, b) => a - b)
          const kept = sorted.slice(Math.max(0, sorted.length - keep))
          const { removed, oldestKept } = store.prune()
          expect(oldestKept).toBe(kept[0] ?? null)
          expect(removed).toEqual(
            sorted.slice(0, sorted.length - kept.length).map((i) => join(d, name(i, 3))),
          )
          expect(readdirSync(d).sort()).toEqual(kept.map((i) => name(i, 3)).sort())
          expect(store.loadNewest().snapshot?.meta.index ?? null).toBe(kept.at(-1) ?? null)
        },
      ),
      { seed: 42, numRuns: 25 },
    )
  })

  describe('damage to the newest falls back to the older one', () => {
    function twoSnapshots(): { store: SnapshotStore; older: string; newer: string } {
      const store = new SnapshotStore(dir)
      const older = store.save({ index: 5, term: 1 }, payloadOf(5))
      const newer = store.save({ index: 8, term: 2 }, payloadOf(8))
      return { store, older, newer }
    }

    function expectFallback(store: SnapshotStore, newer: string, reason: RegExp): void {
      const { snapshot, skipped } = store.loadNewest()
      expect(snapshot).not.toBeNull()
      expect(snapshot!.meta).toEqual({ index: 5, term: 1 })
      expect(snapshot!.payload.equals(payloadOf(5))).toBe(true)
      expect(skipped).toHaveLength(1)
      expect(skipped[0]!.file).toBe(newer)
      expect(skipped[0]!.reason).toMatch(reason)
    }

    it('a flipped payload byte', () => {
      const { store, newer } = twoSnapshots()
      flipByte(newer, headerBytes + 3)
      expectFallback(store, newer, /payload checksum mismatch/)
    })

    it('a flipped byte in every header position is detected', () => {
      const { store, newer } = twoSnapshots()
      for (let offset = 0; offset < headerBytes; offset++) {
        flipByte(newer, offset)
        const reason = offset < 8 ? /bad magic/ : /header checksum mismatch/
        expectFallback(store, newer, reason)
        flipByte(newer, offset)
      }
      // Restored: the newer one is used again.
      expect(store.loadNewest()).toMatchObject({ snapshot: { meta: { index: 8, term: 2 } }, skipped: [] })
    })

    it('a truncated file (payload shorter than the header says)', () => {
      const { store, newer } = twoSnapshots()
      truncateSync(newer, headerBytes + 2)
      expectFallback(store, newer, /header says/)
    })

    it('a file shorter than a header', () => {
      const { store, newer } = twoSnapshots()
      truncateSync(newer, 20)
      expectFallback(store, newer, /shorter than a snapshot header/)
    })

    it('extra bytes after the payload', () => {
      const { store, newer } = twoSnapshots()
      writeFileSync(newer, Buffer.concat([readFileSync(newer), Buffer.from('junk')]))
      expectFallback(store, newer, /payload is \d+ bytes, header says/)
    })

    it('all damaged: no snapshot, every file listed newest first', () => {
      const { store, older, newer } = twoSnapshots()
      flipByte(newer, headerBytes)
      flipByte(older, 9)
      const { snapshot, skipped } = store.loadNewest()
      expect(snapshot).toBeNull()
      expect(skipped.map((s) => s.file)).toEqual([newer, older])
    })
  })

  describe('file name and header must agree', () => {
    it('an index mismatch (renamed file) is skipped', () => {
      const store = new SnapshotStore(dir)
      const older = store.save({ index: 5, term: 1 }, payloadOf(5))
      const newer = store.save({ index: 8, term: 1 }, payloadOf(8))
      const renamed = join(dir, name(9, 1))
      renameSync(newer, renamed)
      const { snapshot, skipped } = store.loadNewest()
      expect(snapshot!.file).toBe(older)
      expect(skipped).toEqual([{ file: renamed, reason: 'header says 8/1, file name disagrees' }])
    })

    it('a term mismatch is skipped too', () => {
      const store = new SnapshotStore(dir)
      store.save({ index: 5, term: 1 }, payloadOf(5))
      const newer = store.save({ index: 8, term: 3 }, payloadOf(8))
      const renamed = join(dir, name(8, 4))
      renameSync(newer, renamed)
      const { snapshot, skipped } = store.loadNewest()
      expect(snapshot!.meta).toEqual({ index: 5, term: 1 })
      expect(skipped).toEqual([{ file: renamed, reason: 'header says 8/3, file name disagrees' }])
    })

    it('an older file copied under a newer name is not served as the newer snapshot', () => {
      const store = new SnapshotStore(dir)
      const older = store.save({ index: 5, term: 1 }, payloadOf(5))
      const copy = join(dir, name(12, 1))
      writeFileSync(copy, readFileSync(older))
      const { snapshot, skipped } = store.loadNewest()
      expect(snapshot!.meta.index).toBe(5)
      expect(skipped.map((s) => s.file)).toEqual([copy])
    })
  })
})
