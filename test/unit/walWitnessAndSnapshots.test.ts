/**
 * The WAL as the witness and a follower that installed a leader's snapshot use it: a hard state
 * that carries W (`mark`), and a log that resumes right after a snapshot marker.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Entry, HardState } from '../../src/consensus/types.ts'
import { StorageCorruptError } from '../../src/storage/storageErrors.ts'
import { decodeHardState, encodeHardState } from '../../src/storage/walPayloads.ts'
import { WriteAheadLog } from '../../src/storage/writeAheadLog.ts'

const entry = (index: number, term: number): Entry => ({
  index,
  term,
  kind: 'command',
  data: new TextEncoder().encode(`cmd-${index}-${term}`),
})

const range = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term))

const ids = (entries: Entry[]) => entries.map((e) => [e.index, e.term])

let dir: string

beforeEach(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'gc-wal-w-'))
})

afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

/** Opens the WAL in `dir`, runs `write` on it, closes it and returns what a reopen recovers. */
function writeAndReopen(write: (wal: WriteAheadLog) => void, opts: { segmentBytesMax?: number } = {}) {
  const { wal } = WriteAheadLog.open(dir, opts)
  write(wal)
  wal.close()
  const reopened = WriteAheadLog.open(dir, opts)
  reopened.wal.close()
  return reopened.recovery
}

function expectCorrupt(): StorageCorruptError {
  let caught: unknown
  try {
    WriteAheadLog.open(dir)
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(StorageCorruptError)
  return caught as StorageCorruptError
}

describe('hard state with W (mark)', () => {
  it.each<[string, HardState]>([
    ['a witness hard state', { term: 7, vote: 'n2', commit: 0, mark: { term: 6, index: 42 } }],
    ['without a vote', { term: 3, vote: null, commit: 0, mark: { term: 3, index: 1 } }],
    ['W = (0, 0)', { term: 0, vote: null, commit: 0, mark: { term: 0, index: 0 } }],
    [
      'large numbers',
      { term: 2 ** 40, vote: 'wïtness-ü', commit: 2 ** 52, mark: { term: 2 ** 40 - 1, index: 2 ** 53 - 1 } },
    ],
  ])('payload round-trips %s', (_name, hs) => {
    expect(decodeHardState(encodeHardState(hs))).toEqual(hs)
  })

  it('payload without a mark decodes to an object with no mark key', () => {
    const decoded = decodeHardState(encodeHardState({ term: 4, vote: 'a', commit: 9 }))
    expect(decoded).toEqual({ term: 4, vote: 'a', commit: 9 })
    expect(typeof decoded === 'object' && 'mark' in decoded).toBe(false)
  })

  it('payload flags: 1 = vote, 2 = mark, 4 = epochs, 8 = preventing, anything above 15 is refused', () => {
    expect(encodeHardState({ term: 1, vote: null, commit: 0 })[16]).toBe(0)
    expect(encodeHardState({ term: 1, vote: 'a', commit: 0 })[16]).toBe(1)
    expect(encodeHardState({ term: 1, vote: null, commit: 0, mark: { term: 1, index: 1 } })[16]).toBe(2)
    expect(encodeHardState({ term: 1, vote: 'a', commit: 0, mark: { term: 1, index: 1 } })[16]).toBe(3)
    const rebuilding = { epoch: 2, epochId: 'n1/f1', unconfirmed: false }
    expect(encodeHardState({ term: 1, vote: 'a', commit: 0, rebuilding })[16]).toBe(5)
    const bad = encodeHardState({ term: 1, vote: null, commit: 0 })
    expect(encodeHardState({ term: 1, vote: null, commit: 0, preventing: true })[16]).toBe(8)
    bad[16] = 16
    expect(decodeHardState(bad)).toMatch(/flags 16/)
    // Flag 4 without its fields, or with fields that are not an epoch, is refused (not a crash).
    bad[16] = 4
    expect(decodeHardState(bad)).toMatch(/with epochs/)
    const wrong = encodeHardState({ term: 1, vote: null, commit: 0, rebuilding })
    wrong.write('{"rebuilding":{"epoch":-1,"epochId":"x","unconfirmed":true}}'.padEnd(wrong.length - 35), 35)
    expect(decodeHardState(wrong)).toMatch(/rebuilding/)
  })

  it.each<[string, HardState]>([
    [
      'a node rebuilding for a forced epoch',
      { term: 9, vote: 'n2', commit: 0, rebuilding: { epoch: 1, epochId: 'n3/a7', unconfirmed: true } },
    ],
    [
      'without a vote',
      { term: 2, vote: null, commit: 4, rebuilding: { epoch: 0, epochId: '', unconfirmed: false } },
    ],
    ['a node started to join, not form', { term: 2, vote: 'a', commit: 4, preventing: true }],
    [
      'a witness whose mark is of a forced epoch',
      {
        term: 7,
        vote: null,
        commit: 0,
        mark: { term: 7, index: 3 },
        markEpoch: { epoch: 1, epochId: 'n2/f1', unconfirmed: false },
      },
    ],
  ])('payload round-trips %s', (_name, hs) => {
    expect(decodeHardState(encodeHardState(hs))).toEqual(hs)
  })

  it('the WAL keeps a rebuilding epoch across a reset and a reopen', () => {
    const hs: HardState = {
      term: 3,
      vote: null,
      commit: 0,
      rebuilding: { epoch: 1, epochId: 'a/b', unconfirmed: false },
    }
    const recovery = writeAndReopen((wal) => wal.reset(hs))
    expect(recovery.hardState).toEqual(hs)
  })

  it('the WAL round-trips a hard state with a mark across a reopen', () => {
    const hs: HardState = { term: 5, vote: 'b', commit: 0, mark: { term: 4, index: 17 } }
    const recovery = writeAndReopen((wal) => wal.append({ hardState: hs, entries: [] }))
    expect(recovery.hardState).toEqual(hs)
    expect(recovery.entries).toEqual([])
  })

  it('the WAL round-trips a hard state without a mark: no mark key after a reopen', () => {
    const recovery = writeAndReopen((wal) =>
      wal.append({ hardState: { term: 2, vote: null, commit: 5 }, entries: [] }),
    )
    expect(recovery.hardState).toEqual({ term: 2, vote: null, commit: 5 })
    expect('mark' in recovery.hardState).toBe(false)
  })

  it('the newest hard state wins, mark or not', () => {
    const recovery = writeAndReopen((wal) => {
      wal.append({ hardState: { term: 1, vote: null, commit: 0, mark: { term: 1, index: 3 } }, entries: [] })
      wal.append({ hardState: { term: 2, vote: 'a', commit: 0, mark: { term: 2, index: 1 } }, entries: [] })
    })
    expect(recovery.hardState).toEqual({ term: 2, vote: 'a', commit: 0, mark: { term: 2, index: 1 } })
  })

  it('keeps W when old segments are released: every new segment repeats the hard state', () => {
    // A witness writes only hard states; small segments make it roll often.
    const opts = { segmentBytesMax: 200 }
    const last: HardState = { term: 9, vote: 'c', commit: 0, mark: { term: 9, index: 30 } }
    const recovery = writeAndReopen((wal) => {
      for (let i = 1; i <= 30; i++)
        wal.append({ hardState: { term: 9, vote: 'c', commit: 0, mark: { term: 9, index: i } }, entries: [] })
      expect(wal.statistics().segments).toBeGreaterThan(3)
      wal.releaseTo(0)
      expect(wal.statistics().segments).toBe(1)
    }, opts)
    expect(readdirSync(dir).filter((n) => n.endsWith('.wal'))).toHaveLength(1)
    expect(recovery.hardState).toEqual(last)
  })
})

describe('replay after a snapshot installed from the leader', () => {
  it('accepts entries that resume right after a snapshot marker beyond the last entry', () => {
    const recovery = writeAndReopen((wal) => {
      wal.append({ hardState: { term: 1, vote: null, commit: 3 }, entries: range(1, 3, 1) })
      // The follower installs the leader's snapshot at 10 and goes on from 11.
      wal.markSnapshot({ index: 10, term: 2 })
      wal.append({ hardState: { term: 2, vote: null, commit: 12 }, entries: range(11, 12, 2) })
    })
    expect(recovery.snapshots).toEqual([{ index: 10, term: 2 }])
    expect(ids(recovery.entries)).toEqual([
      [11, 2],
      [12, 2],
    ])
    expect(recovery.hardState).toEqual({ term: 2, vote: null, commit: 12 })
  })

  it('accepts it when the log was empty before the snapshot', () => {
    const recovery = writeAndReopen((wal) => {
      wal.markSnapshot({ index: 10, term: 2 })
      wal.append({ hardState: null, entries: range(11, 11, 2) })
    })
    expect(ids(recovery.entries)).toEqual([[11, 2]])
  })

  it('still reports a gap when no snapshot marker covers it', () => {
    const { wal } = WriteAheadLog.open(dir)
    wal.append({ hardState: null, entries: range(1, 3, 1) })
    wal.append({ hardState: null, entries: range(11, 12, 2) })
    wal.close()
    expect(expectCorrupt().message).toMatch(/entry 11 leaves a gap after 3/)
  })

  it.each([
    ['ends short of the gap', 9],
    ['ends inside the held entries', 2],
  ])('still reports a gap when the snapshot marker %s', (_name, snapshotIndex) => {
    const { wal } = WriteAheadLog.open(dir)
    wal.append({ hardState: null, entries: range(1, 3, 1) })
    wal.markSnapshot({ index: snapshotIndex, term: 1 })
    wal.append({ hardState: null, entries: range(11, 11, 2) })
    wal.close()
    expect(expectCorrupt().message).toMatch(/entry 11 leaves a gap after 3/)
  })

  it('still reports a gap that opens after the resumed entries', () => {
    const { wal } = WriteAheadLog.open(dir)
    wal.append({ hardState: null, entries: range(1, 3, 1) })
    wal.markSnapshot({ index: 10, term: 2 })
    wal.append({ hardState: null, entries: range(11, 12, 2) })
    wal.append({ hardState: null, entries: range(14, 14, 2) })
    wal.close()
    expect(expectCorrupt().message).toMatch(/entry 14 leaves a gap after 12/)
  })

  it('a marker after the resumed entries does not let a later jump through', () => {
    const { wal } = WriteAheadLog.open(dir)
    wal.markSnapshot({ index: 10, term: 2 })
    wal.append({ hardState: null, entries: range(11, 12, 2) })
    wal.append({ hardState: null, entries: range(20, 20, 2) })
    wal.close()
    expect(expectCorrupt().message).toMatch(/entry 20 leaves a gap after 12/)
  })

  it('a local compaction marker inside the log changes nothing', () => {
    const recovery = writeAndReopen((wal) => {
      wal.append({ hardState: null, entries: range(1, 5, 1) })
      wal.markSnapshot({ index: 3, term: 1 })
      wal.append({ hardState: null, entries: range(6, 7, 1) })
    })
    expect(recovery.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(recovery.snapshots).toEqual([{ index: 3, term: 1 }])
  })

  it('truncation still works on entries that resumed after a snapshot', () => {
    const recovery = writeAndReopen((wal) => {
      wal.append({ hardState: null, entries: range(1, 3, 1) })
      wal.markSnapshot({ index: 10, term: 2 })
      wal.append({ hardState: null, entries: range(11, 13, 2) })
      wal.append({ hardState: null, entries: range(12, 12, 3) })
    })
    expect(ids(recovery.entries)).toEqual([
      [11, 2],
      [12, 3],
    ])
  })

  it('resumes after a snapshot marker written in an earlier segment', () => {
    const opts = { segmentBytesMax: 160 }
    const recovery = writeAndReopen((wal) => {
      wal.append({ hardState: null, entries: range(1, 3, 1) })
      wal.markSnapshot({ index: 10, term: 2 })
      wal.rollForCompaction()
      for (let i = 11; i <= 16; i++) wal.append({ hardState: null, entries: [entry(i, 2)] })
      expect(wal.statistics().segments).toBeGreaterThan(2)
    }, opts)
    expect(recovery.entries.map((e) => e.index)).toEqual([11, 12, 13, 14, 15, 16])
    expect(recovery.snapshots).toEqual([{ index: 10, term: 2 }])
  })

  it('resumes after a second installed snapshot further on', () => {
    const recovery = writeAndReopen((wal) => {
      wal.append({ hardState: null, entries: range(1, 3, 1) })
      wal.markSnapshot({ index: 10, term: 2 })
      wal.append({ hardState: null, entries: range(11, 12, 2) })
      wal.markSnapshot({ index: 30, term: 4 })
      wal.append({ hardState: null, entries: range(31, 32, 4) })
    })
    expect(recovery.snapshots).toEqual([
      { index: 10, term: 2 },
      { index: 30, term: 4 },
    ])
    expect(ids(recovery.entries)).toEqual([
      [31, 4],
      [32, 4],
    ])
  })
})
