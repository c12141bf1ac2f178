/**
 * The node's events on disk (seed 000's Event Log Manager, `Get-ClusterLog`): one JSON line per
 * event in `<data-dir>/events/events.jsonl`, rotated to `events.1.jsonl` … `events.N.jsonl` past
 * a size limit, so the node's events survive a restart and the journal never holds more than
 * `(rotatedFiles + 1) × fileBytesMax`. Lines are written at once (no buffer to lose when the
 * process is killed) and without fsync: the page cache survives a crash of the process, and a
 * torn last line after a power cut is skipped on reading.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { assert } from '../errors/assert.ts'
import type { ClusterEvent } from '../events/clusterEvent.ts'
import { readClusterEvent } from '../events/clusterEventSchema.ts'

export const eventJournalDefaults = {
  /** One file's size before it is rotated. */
  fileBytesMax: 4 * 1024 * 1024,
  /** Rotated files kept besides the current one (the oldest is dropped). */
  rotatedFiles: 4,
} as const

export type EventJournalLimits = { fileBytesMax: number; rotatedFiles: number }

const fileName = (n: number) => (n === 0 ? 'events.jsonl' : `events.${n}.jsonl`)

export class EventJournal {
  readonly dir: string
  private readonly limits: EventJournalLimits
  private readonly onError: (error: Error) => void
  private fd: number | null = null
  private size = 0
  /** A write failed and the operator has been told; the next success clears it. */
  private failing = false

  constructor(
    dir: string,
    opts: { limits?: Partial<EventJournalLimits>; onError?: (error: Error) => void } = {},
  ) {
    this.dir = dir
    this.limits = { ...eventJournalDefaults, ...opts.limits }
    assert(this.limits.fileBytesMax >= 1024, 'an event journal file holds at least 1 KiB')
    assert(this.limits.rotatedFiles >= 0, 'rotated files are not negative')
    this.onError = opts.onError ?? (() => {})
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  }

  /**
   * The newest `limit` events of the journal, oldest first, each with a greater `seq` than the
   * one before (a line that is torn, not JSON or not an event is skipped).
   */
  recent(limit: number): ClusterEvent[] {
    const newestFirst: ClusterEvent[][] = []
    let count = 0
    for (let n = 0; n <= this.limits.rotatedFiles && count < limit; n++) {
      const events = this.readFile(join(this.dir, fileName(n)))
      newestFirst.push(events)
      count += events.length
    }
    const out: ClusterEvent[] = []
    for (const e of newestFirst.reverse().flat())
      if (out.length === 0 || e.seq > out[out.length - 1]!.seq) out.push(e)
    return out.slice(Math.max(0, out.length - limit))
  }

  append(event: ClusterEvent): void {
    try {
      const line = Buffer.from(`${JSON.stringify(event)}\n`)
      if (this.fd === null) this.open()
      if (this.size > 0 && this.size + line.length > this.limits.fileBytesMax) this.rotate()
      writeSync(this.fd!, line)
      this.size += line.length
      this.failing = false
    } catch (error) {
      // A full or failing disk must not stop the node: the event is still in memory and logged.
      if (!this.failing) this.onError(error as Error)
      this.failing = true
      this.closeFile()
    }
  }

  close(): void {
    this.closeFile()
  }

  private open(): void {
    this.fd = openSync(join(this.dir, fileName(0)), 'a', 0o600)
    this.size = fstatSync(this.fd).size
  }

  private rotate(): void {
    this.closeFile()
    // events.(N-1) → events.N … events → events.1; the rename over the oldest drops it.
    for (let n = this.limits.rotatedFiles; n >= 1; n--) {
      const from = join(this.dir, fileName(n - 1))
      if (existsSync(from)) renameSync(from, join(this.dir, fileName(n)))
    }
    this.open()
  }

  private closeFile(): void {
    if (this.fd === null) return
    try {
      closeSync(this.fd)
    } catch {
      // already unusable: nothing more to lose
    }
    this.fd = null
  }

  private readFile(file: string): ClusterEvent[] {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      return []
    }
    const out: ClusterEvent[] = []
    for (const line of text.split('\n')) {
      if (line === '') continue
      let json: unknown
      try {
        json = JSON.parse(line)
      } catch {
        continue
      }
      const event = readClusterEvent(json)
      if (event !== null) out.push(event)
    }
    return out
  }
}
