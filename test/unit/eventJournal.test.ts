import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { ClusterEvent } from '../../src/events/clusterEvent.ts'
import { EventLog } from '../../src/events/eventLog.ts'
import { EventJournal } from '../../src/storage/eventJournal.ts'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})
function journalDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gc-journal-'))
  dirs.push(d)
  return join(d, 'events')
}

const event = (seq: number, message = `m${seq}`): ClusterEvent => ({
  seq,
  time: new Date(1_700_000_000_000 + seq).toISOString(),
  node: 'n1',
  type: 'resource:failed',
  severity: 'warning',
  message,
  resource: 'web-app',
})

describe('EventJournal', () => {
  it('reads back what it wrote, after the file is closed and opened again', () => {
    const dir = journalDir()
    const j = new EventJournal(dir)
    for (let s = 1; s <= 5; s++) j.append(event(s))
    j.close()
    const again = new EventJournal(dir)
    expect(again.recent(100)).toEqual([1, 2, 3, 4, 5].map((s) => event(s)))
    expect(again.recent(2).map((e) => e.seq)).toEqual([4, 5])
    again.close()
  })

  it('rotates past the size limit and keeps at most the rotated files it is allowed', () => {
    const dir = journalDir()
    const limits = { fileBytesMax: 2048, rotatedFiles: 2 }
    const j = new EventJournal(dir, { limits })
    const padding = 'x'.repeat(200)
    for (let s = 1; s <= 200; s++) j.append(event(s, padding))
    j.close()
    const files = readdirSync(dir).sort()
    expect(files).toEqual(['events.1.jsonl', 'events.2.jsonl', 'events.jsonl'])
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(limits.fileBytesMax)
    // The newest survive, in order, ending with the last one written.
    const kept = new EventJournal(dir, { limits }).recent(1_000).map((e) => e.seq)
    expect(kept.at(-1)).toBe(200)
    expect(kept.length).toBeGreaterThan(10)
    expect(kept.length).toBeLessThan(200)
    expect(kept).toEqual([...kept].sort((a, b) => a - b))
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, i) => 200 - kept.length + 1 + i))
  })

  it('skips a torn last line, lines that are not JSON, unknown event types and seqs that go back', () => {
    const dir = journalDir()
    const j = new EventJournal(dir)
    j.append(event(1))
    j.append(event(2))
    j.close()
    const file = join(dir, 'events.jsonl')
    appendFileSync(file, 'not json\n')
    appendFileSync(file, `${JSON.stringify({ ...event(3), type: 'bogus:kind' })}\n`)
    appendFileSync(file, `${JSON.stringify(event(1, 'again'))}\n`)
    appendFileSync(file, `${JSON.stringify(event(4))}\n`)
    appendFileSync(file, JSON.stringify(event(5)).slice(0, 30))
    expect(new EventJournal(dir).recent(100).map((e) => e.seq)).toEqual([1, 2, 4])
  })

  it('a write that fails is reported once and does not throw', () => {
    const dir = journalDir()
    const errors: string[] = []
    const j = new EventJournal(dir, { onError: (e) => errors.push(e.message) })
    rmSync(dir, { recursive: true })
    // The directory is gone: opening the file fails, every time, but is reported once.
    j.append(event(1))
    j.append(event(2))
    expect(errors).toHaveLength(1)
  })
})

describe('EventLog with history', () => {
  it('goes on numbering after the journal and answers since() across gaps', () => {
    const history = [event(3), event(7), event(8)]
    const log = new EventLog({ node: 'n1', now: () => 0, capacity: 10, history })
    const next = log.emit({ type: 'node:started', severity: 'info', message: 'up again' })
    expect(next.seq).toBe(9)
    expect(log.since(0).map((e) => e.seq)).toEqual([3, 7, 8, 9])
    expect(log.since(3).map((e) => e.seq)).toEqual([7, 8, 9])
    expect(log.since(5).map((e) => e.seq)).toEqual([7, 8, 9])
    expect(log.since(9)).toEqual([])
    expect(log.since(0, 2).map((e) => e.seq)).toEqual([8, 9])
  })

  it('keeps only the newest `capacity` events of a long history', () => {
    const history = Array.from({ length: 20 }, (_, i) => event(i + 1))
    const log = new EventLog({ node: 'n1', now: () => 0, capacity: 5, history })
    expect(log.since(0).map((e) => e.seq)).toEqual([16, 17, 18, 19, 20])
    for (let i = 0; i < 3; i++) log.emit({ type: 'node:up', severity: 'info', message: 'x' })
    expect(log.since(0).map((e) => e.seq)).toEqual([19, 20, 21, 22, 23])
  })
})
