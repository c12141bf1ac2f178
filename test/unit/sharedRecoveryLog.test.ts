/**
 * The quorum disk's recovery log (src/storage/sharedRecoveryLog.ts): holders each write their
 * own ballot; a successor adopts a prefix; a stale holder's late appends never stick; damage in
 * an adopted prefix is refused, a torn tail of the newest ballot ends the read.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Entry } from '../../src/consensus/types.ts'
import { SharedRecoveryLog } from '../../src/storage/sharedRecoveryLog.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function logDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gc-rlog-'))
  dirs.push(d)
  return join(d, 'quorum.img.log')
}

const entry = (index: number, term: number, text = `e${index}`): Entry => ({
  index,
  term,
  kind: 'command',
  data: new TextEncoder().encode(text),
})
const ids = (es: Entry[]) => es.map((e) => `${e.index}/${e.term}`)

/** Ballot 1 by a with entries 1..3, then ballot 2 by b adopting all of it. */
function twoHolders(dir: string) {
  const a = new SharedRecoveryLog(dir)
  expect(a.claim(1)).toBe(true)
  a.begin({ ballot: 1, holder: 'a', adopts: null })
  a.append([entry(1, 1), entry(2, 1)])
  a.append([entry(3, 1)])
  const b = new SharedRecoveryLog(dir)
  expect(b.claim(1)).toBe(false)
  expect(b.claim(2)).toBe(true)
  const seen = b.read(0, 2)
  expect(ids(seen.entries)).toEqual(['1/1', '2/1', '3/1'])
  b.begin({ ballot: 2, holder: 'b', adopts: { ballot: 1, ...{ lastIndex: 3, lastTerm: 1 } } })
  return { a, b }
}

describe('shared recovery log', () => {
  it('starts empty; a holder appends under its ballot and a reader gets every entry', () => {
    const dir = logDir()
    const reader = new SharedRecoveryLog(dir)
    expect(reader.read()).toMatchObject({ entries: [], head: null, takeoverInProgress: false })
    const { b } = twoHolders(dir)
    b.append([entry(4, 2), entry(5, 2)])
    const r = reader.read()
    expect(ids(r.entries)).toEqual(['1/1', '2/1', '3/1', '4/2', '5/2'])
    expect(r).toMatchObject({ head: { ballot: 2, holder: 'b' }, last: { index: 5, term: 2 } })
    // Incremental: only what came after the caller's index.
    b.append([entry(6, 2)])
    expect(ids(reader.read(5).entries)).toEqual(['6/2'])
  })

  it("a stale holder's late appends never stick: the successor adopted a prefix", () => {
    const dir = logDir()
    const { a, b } = twoHolders(dir)
    // The old holder wakes from a pause and appends into its own ballot.
    a.append([entry(4, 1, 'stale')])
    b.append([entry(4, 2, 'fresh')])
    const r = new SharedRecoveryLog(dir).read()
    expect(ids(r.entries)).toEqual(['1/1', '2/1', '3/1', '4/2'])
    expect(new TextDecoder().decode(r.entries[3]!.data)).toBe('fresh')
  })

  it('while a higher ballot is claimed but not begun, the head tail is held back', () => {
    const dir = logDir()
    const { b } = twoHolders(dir)
    b.append([entry(4, 2)])
    const reader = new SharedRecoveryLog(dir)
    expect(reader.read(3).entries).toHaveLength(1)
    const c = new SharedRecoveryLog(dir)
    expect(c.claim(3)).toBe(true)
    const during = reader.read(3)
    expect(during.takeoverInProgress).toBe(true)
    expect(during.entries).toEqual([])
    c.begin({ ballot: 3, holder: 'c', adopts: { ballot: 2, lastIndex: 4, lastTerm: 2 } })
    c.append([entry(5, 3)])
    expect(ids(reader.read(3).entries)).toEqual(['4/2', '5/3'])
  })

  it('a torn tail of the newest ballot ends the read; damage in an adopted prefix is refused', () => {
    const dir = logDir()
    const { b } = twoHolders(dir)
    b.append([entry(4, 2)])
    const headFile = join(dir, 'ballots', '000000000002', 'entries.log')
    appendFileSync(headFile, Buffer.from([9, 0, 0, 0, 1, 2]))
    expect(ids(new SharedRecoveryLog(dir).read().entries)).toEqual(['1/1', '2/1', '3/1', '4/2'])
    const adopted = join(dir, 'ballots', '000000000001', 'entries.log')
    const bytes = readFileSync(adopted)
    bytes[bytes.length - 3]! ^= 0xff
    writeFileSync(adopted, bytes)
    expect(() => new SharedRecoveryLog(dir).read()).toThrow(
      /ballots\/000000000001\/entries\.log: offset \d+: checksum mismatch; the quorum disk's recovery log is damaged/,
    )
  })

  it('refuses appends out of order or under another term (an invariant, not a log line)', () => {
    const { b } = twoHolders(logDir())
    expect(() => b.append([entry(5, 2)])).toThrow(/entry 5, expected 4/)
    expect(() => b.append([entry(4, 1)])).toThrow(/term 1 under ballot 2/)
  })

  it('a reader starts from the newest snapshot its chain adopted; a damaged one is passed over', () => {
    const dir = logDir()
    const { a, b } = twoHolders(dir)
    b.append([entry(4, 2), entry(5, 2)])
    b.saveSnapshot(4, 2, new TextEncoder().encode('db@4'))
    // The old holder's snapshot within what its successor adopted is a valid fallback; one it
    // wrote after waking up, past that, is never taken.
    a.saveSnapshot(3, 1, new TextEncoder().encode('db@3 (adopted)'))
    a.append([entry(4, 1, 'stale')])
    a.saveSnapshot(4, 1, new TextEncoder().encode('stale db@4'))
    const r = new SharedRecoveryLog(dir).read()
    expect(r.snapshot).toMatchObject({ index: 4, term: 2 })
    expect(new TextDecoder().decode(r.snapshot!.data)).toBe('db@4')
    expect(ids(r.entries)).toEqual(['5/2'])
    // A reader already past the snapshot gets entries only.
    expect(new SharedRecoveryLog(dir).read(4)).toMatchObject({ snapshot: null })
    // Damage the newest: the older one (and the entries after it) serve instead.
    const snap = join(dir, 'ballots', '000000000002', 'snapshot-000000000004.snap')
    const bytes = readFileSync(snap)
    bytes[bytes.length - 1]! ^= 0xff
    writeFileSync(snap, bytes)
    const r2 = new SharedRecoveryLog(dir).read()
    expect(r2.snapshot).toMatchObject({ index: 3, term: 1 })
    expect(ids(r2.entries)).toEqual(['4/2', '5/2'])
  })

  it('refuses a snapshot past the last entry written (an invariant)', () => {
    const { b } = twoHolders(logDir())
    expect(() => b.saveSnapshot(4, 2, new Uint8Array(1))).toThrow(/snapshot at 4 is past the last entry 3/)
  })
})
