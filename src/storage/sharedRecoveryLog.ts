/**
 * The quorum disk's recovery log (seed 000's quorum log): the cluster database's log on shared
 * storage, so whichever node wins the disk lease continues from the latest committed state.
 *
 *     <dir>/ballots/000000000007/            claimed by mkdir: one holder per ballot, ever
 *     <dir>/ballots/000000000007/header.json  {ballot, holder, adopts: {ballot, lastIndex, lastTerm}}
 *     <dir>/ballots/000000000007/entries.log  [u32 length][u32 crc32][entry] ... appended, fdatasync'd
 *     <dir>/ballots/000000000007/snapshot-000000000120.snap   the database at entry 120 (written whole)
 *
 * Every holder writes only into its own ballot's directory, so a stale holder waking from a
 * pause cannot overwrite anything: its late appends land after the point its successor adopted
 * (`adopts.lastIndex`) and readers never take them. A reader follows the chain back from the
 * newest header; it takes the newest ballot's tail only when no higher ballot has been claimed
 * while it read (a takeover in progress decides how much of that tail survives).
 */

import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { assert } from '../errors/assert.ts'
import { GeoclusterError } from '../errors/errors.ts'
import { fsyncDirectory, writeFileDurably } from './durableFile.ts'
import type { StoredEntry } from './logRecords.ts'
import { decodeEntry, encodeEntry } from './walPayloads.ts'

export interface AdoptedPrefix {
  ballot: number
  lastIndex: number
  lastTerm: number
}

export interface BallotHeader {
  version: 1
  ballot: number
  holder: string
  adopts: AdoptedPrefix | null
}

export interface ChainSnapshot {
  index: number
  term: number
  data: Uint8Array
}

export interface ChainRead {
  /** The newest snapshot in the chain, when it is past the caller's `after`: install it first. */
  snapshot: ChainSnapshot | null
  /** Entries safe to apply, in index order (from the first ever, or the caller's `after`). */
  entries: StoredEntry[]
  /** The newest ballot with a header, and the last entry the chain holds. */
  head: { ballot: number; holder: string } | null
  last: { index: number; term: number }
  /** A ballot above the head is claimed: its holder is taking over; the head's tail may be cut. */
  takeoverInProgress: boolean
}

const recordHeaderBytes = 8
/** Largest entry record accepted on read (the append path refuses more than 1 MiB per command). */
const recordBytesMax = 4 * 1024 * 1024

const ballotName = (b: number) => String(b).padStart(12, '0')
const snapshotMagic = 0x47435342 // "GCSB"
const snapshotHeaderBytes = 24
const snapshotFile = /^snapshot-(\d{12})\.snap$/

interface BallotFile {
  header: BallotHeader | null
  entries: StoredEntry[]
  offset: number
}

export class SharedRecoveryLog {
  readonly dir: string
  private readonly cache = new Map<number, BallotFile>()
  private appendFd: number | null = null
  private appending: { ballot: number; next: number } | null = null

  constructor(dir: string) {
    this.dir = dir
    mkdirSync(join(dir, 'ballots'), { recursive: true, mode: 0o700 })
  }

  /** Beside the quorum file: `<path>.log`. */
  static dirFor(quorumPath: string): string {
    return `${quorumPath}.log`
  }

  /** Every claimed ballot, ascending. */
  claimed(): number[] {
    return readdirSync(join(this.dir, 'ballots'))
      .filter((n) => /^\d{12}$/.test(n))
      .map(Number)
      .sort((a, b) => a - b)
  }

  highestClaimed(): number {
    return this.claimed().at(-1) ?? 0
  }

  /** Claims `ballot` (an exclusive mkdir); false when someone already has. */
  claim(ballot: number): boolean {
    try {
      mkdirSync(this.ballotDir(ballot), { mode: 0o700 })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw error
    }
    fsyncDirectory(join(this.dir, 'ballots'))
    return true
  }

  /**
   * Starts writing under a claimed ballot: records which prefix of the chain it continues from
   * (durably, before any entry), then appends continue at `adopts.lastIndex + 1`.
   */
  begin(header: Omit<BallotHeader, 'version'>): void {
    assert(this.appendFd === null, 'a ballot is already being written')
    const dir = this.ballotDir(header.ballot)
    assert(existsSync(dir), () => `ballot ${header.ballot} was not claimed`)
    const full: BallotHeader = { version: 1, ...header }
    writeFileDurably(join(dir, 'header.json'), new TextEncoder().encode(`${JSON.stringify(full)}\n`))
    this.appendFd = openSync(join(dir, 'entries.log'), 'a', 0o600)
    fsyncDirectory(dir)
    this.appending = { ballot: header.ballot, next: (header.adopts?.lastIndex ?? 0) + 1 }
  }

  /** Appends entries of the ballot being written and makes them durable. */
  append(entries: StoredEntry[]): void {
    const a = this.appending
    assert(a !== null && this.appendFd !== null, 'append without a ballot')
    if (entries.length === 0) return
    const parts: Buffer[] = []
    for (const e of entries) {
      assert(e.index === a.next, () => `recovery log append: entry ${e.index}, expected ${a.next}`)
      assert(e.term === a.ballot, () => `recovery log append: term ${e.term} under ballot ${a.ballot}`)
      const payload = encodeEntry(e)
      const head = Buffer.alloc(recordHeaderBytes)
      head.writeUInt32LE(payload.length, 0)
      head.writeUInt32LE(crc32(payload), 4)
      parts.push(head, payload)
      a.next++
    }
    const bytes = Buffer.concat(parts)
    let written = 0
    while (written < bytes.length) written += writeSync(this.appendFd, bytes, written, bytes.length - written)
    fdatasyncSync(this.appendFd)
  }

  /**
   * Saves the database at entry `index` (of the ballot being written) beside the entries: a reader
   * starts from the newest snapshot its chain adopted instead of the first entry.
   */
  saveSnapshot(index: number, term: number, data: Uint8Array): void {
    const a = this.appending
    assert(a !== null, 'snapshot without a ballot')
    assert(index < a.next, () => `snapshot at ${index} is past the last entry ${a.next - 1}`)
    const head = Buffer.alloc(snapshotHeaderBytes)
    head.writeUInt32LE(snapshotMagic, 0)
    head.writeUInt32LE(crc32(data), 4)
    head.writeBigUInt64LE(BigInt(index), 8)
    head.writeBigUInt64LE(BigInt(term), 16)
    const name = `snapshot-${ballotName(index)}.snap`
    writeFileDurably(join(this.ballotDir(a.ballot), name), Buffer.concat([head, data]))
  }

  close(): void {
    if (this.appendFd !== null) closeSync(this.appendFd)
    this.appendFd = null
    this.appending = null
  }

  /**
   * Reads the chain and returns what is safe to apply after index `after`. Damage inside an
   * adopted prefix is corruption (refused); a short or damaged tail of the newest ballot is an
   * append in progress or cut by a crash, and ends the read there. `claimant`: the ballot the
   * caller itself claimed to take over — it decides the head's tail, so it reads all of it.
   */
  read(after = 0, claimant = 0): ChainRead {
    const before = this.claimed()
    const withHeader = before.filter((b) => this.header(b) !== null)
    const headBallot = withHeader.at(-1)
    if (headBallot === undefined)
      return {
        snapshot: null,
        entries: [],
        head: null,
        last: { index: 0, term: 0 },
        takeoverInProgress: before.length > 0,
      }
    // Walk back from the head: each header says how much of its predecessor it adopted.
    const chain: { ballot: number; upTo: number }[] = []
    let upTo = Number.POSITIVE_INFINITY
    for (let b: number | null = headBallot; b !== null; ) {
      const h = this.header(b)
      if (h === null) throw damaged(this.ballotDir(b), 'adopted ballot has no header')
      chain.unshift({ ballot: b, upTo })
      upTo = h.adopts?.lastIndex ?? 0
      b = h.adopts?.ballot ?? null
    }
    const afterRead = this.highestClaimed()
    const takeoverInProgress = afterRead > Math.max(headBallot, claimant)
    const headStart = (this.header(headBallot)!.adopts?.lastIndex ?? 0) + 1
    // The newest snapshot the chain stands behind: within what each ballot's successor adopted
    // (and, while a takeover is under way, not from the head's undecided tail).
    let snapshot: ChainSnapshot | null = null
    for (const { ballot, upTo } of [...chain].reverse()) {
      const limit = ballot === headBallot && takeoverInProgress ? headStart - 1 : upTo
      snapshot = this.newestSnapshot(ballot, limit)
      if (snapshot !== null) break
    }
    const entries: StoredEntry[] = []
    let last = snapshot === null ? { index: 0, term: 0 } : { index: snapshot.index, term: snapshot.term }
    for (const { ballot, upTo: limit } of chain) {
      // Ballots wholly behind the snapshot need not be read at all.
      if (snapshot !== null && limit <= snapshot.index) continue
      const f = this.load(ballot, ballot === headBallot ? null : limit)
      const start = (f.header!.adopts?.lastIndex ?? 0) + 1
      if (ballot !== headBallot && f.entries.length < limit - start + 1)
        throw damaged(
          this.ballotDir(ballot),
          `holds entries up to ${start + f.entries.length - 1}, its successor adopted up to ${limit}`,
        )
      for (const e of f.entries) {
        if (e.index > limit) break
        if (snapshot !== null && e.index <= snapshot.index) continue
        last = { index: e.index, term: e.term }
        if (e.index > after) entries.push(e)
      }
    }
    const fromSnapshot = snapshot !== null && snapshot.index > after ? snapshot : null
    if (takeoverInProgress) {
      // Someone claimed a higher ballot while (or before) we read: the head's tail is undecided.
      const settled = entries.filter((e) => e.index < headStart)
      const lastSettled = settled.at(-1) ?? null
      return {
        snapshot: fromSnapshot,
        entries: settled,
        head: { ballot: headBallot, holder: this.header(headBallot)!.holder },
        last: lastSettled === null ? { index: Math.min(last.index, headStart - 1), term: 0 } : lastSettled,
        takeoverInProgress,
      }
    }
    return {
      snapshot: fromSnapshot,
      entries,
      head: { ballot: headBallot, holder: this.header(headBallot)!.holder },
      last,
      takeoverInProgress,
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  /** The newest intact snapshot of a ballot at or below `limit` (a damaged one is passed over). */
  private newestSnapshot(b: number, limit: number): ChainSnapshot | null {
    let names: string[]
    try {
      names = readdirSync(this.ballotDir(b))
    } catch {
      return null
    }
    const candidates = names
      .map((n) => snapshotFile.exec(n))
      .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) <= limit)
      .sort((x, y) => Number(y[1]) - Number(x[1]))
    for (const m of candidates) {
      const bytes = readFileSync(join(this.ballotDir(b), m[0]))
      if (bytes.length < snapshotHeaderBytes || bytes.readUInt32LE(0) !== snapshotMagic) continue
      const data = bytes.subarray(snapshotHeaderBytes)
      if (crc32(data) !== bytes.readUInt32LE(4)) continue
      const index = Number(bytes.readBigUInt64LE(8))
      if (index !== Number(m[1])) continue
      return { index, term: Number(bytes.readBigUInt64LE(16)), data }
    }
    return null
  }

  private ballotDir(b: number): string {
    return join(this.dir, 'ballots', ballotName(b))
  }

  private header(b: number): BallotHeader | null {
    const cached = this.cache.get(b)
    if (cached?.header !== undefined && cached.header !== null) return cached.header
    const file = join(this.ballotDir(b), 'header.json')
    if (!existsSync(file)) return null
    let h: BallotHeader
    try {
      h = JSON.parse(readFileSync(file, 'utf8')) as BallotHeader
    } catch (error) {
      throw damaged(file, `unreadable ballot header (${(error as Error).message})`)
    }
    if (h.version !== 1 || h.ballot !== b || typeof h.holder !== 'string')
      throw damaged(file, `not a ballot header for ballot ${b}`)
    this.cache.set(b, { header: h, entries: cached?.entries ?? [], offset: cached?.offset ?? 0 })
    return h
  }

  /**
   * Reads new records of a ballot's file since the last call (cached). `adoptedUpTo`: the last
   * index its successor adopted (null for the newest ballot); damage below it is corruption,
   * damage above it is a stale holder's late write, ignored like everything after it.
   */
  private load(b: number, adoptedUpTo: number | null): BallotFile {
    const f = this.cache.get(b)!
    const file = join(this.ballotDir(b), 'entries.log')
    if (!existsSync(file)) return f
    const fd = openSync(file, 'r')
    try {
      const size = fstatSync(fd).size
      const start = (f.header!.adopts?.lastIndex ?? 0) + 1
      while (
        f.offset + recordHeaderBytes <= size &&
        (adoptedUpTo === null || start + f.entries.length <= adoptedUpTo)
      ) {
        const head = Buffer.alloc(recordHeaderBytes)
        readSync(fd, head, 0, recordHeaderBytes, f.offset)
        const length = head.readUInt32LE(0)
        if (length > recordBytesMax || f.offset + recordHeaderBytes + length > size) break
        const payload = Buffer.alloc(length)
        readSync(fd, payload, 0, length, f.offset + recordHeaderBytes)
        const expected = start + f.entries.length
        const entry = crc32(payload) === head.readUInt32LE(4) ? decodeEntry(payload) : 'checksum mismatch'
        if (typeof entry === 'string' || entry.index !== expected || entry.term !== b) {
          const why =
            typeof entry === 'string'
              ? entry
              : `entry ${entry.index} (term ${entry.term}), expected ${expected} (term ${b})`
          // In the newest ballot this is a torn append in progress or cut by a crash.
          if (adoptedUpTo !== null && expected <= adoptedUpTo)
            throw damaged(file, `offset ${f.offset}: ${why}`)
          break
        }
        f.entries.push(entry)
        f.offset += recordHeaderBytes + length
      }
    } finally {
      closeSync(fd)
    }
    return f
  }
}

function damaged(where: string, reason: string): GeoclusterError {
  return new GeoclusterError(
    'GC_ERR_STORAGE_CORRUPT',
    `${where}: ${reason}; the quorum disk's recovery log is damaged and no node will continue from it ` +
      '(restore the quorum disk from a backup; nothing was written to it)',
  )
}
