/**
 * One contract, two log storages: the write-ahead log in a temporary directory and its twin in
 * memory pass the same suite, so a simulator that runs on the twin runs what the node runs.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Entry } from '../../src/consensus/types.ts'
import type { LogRecovery, LogStorage } from '../../src/runtime/logStorage.ts'
import { MemoryLogDisk } from '../../src/runtime/memoryLogStorage.ts'
import { WriteAheadLog } from '../../src/storage/writeAheadLog.ts'

/** Opens the same storage again and again, as a restarted voter does. */
interface LogSite {
  open(): { storage: LogStorage; recovery: LogRecovery }
  dispose(): void
}

const sites: Record<string, () => LogSite> = {
  'the write-ahead log': () => {
    const dir = mkdtempSync(join(tmpdir(), 'gc-log-compliance-'))
    return {
      open: () => {
        const { wal, recovery } = WriteAheadLog.open(dir, { segmentBytesMax: 4096 })
        return { storage: wal, recovery }
      },
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    }
  },
  'the in-memory twin': () => {
    const disk = new MemoryLogDisk()
    return { open: () => disk.open(), dispose: () => {} }
  },
}

const entry = (index: number, term: number, text = `e${index}`): Entry => ({
  index,
  term,
  kind: 'command',
  data: new TextEncoder().encode(text),
})
const texts = (r: LogRecovery) =>
  r.entries.map((e) => `${e.index}/${e.term}:${new TextDecoder().decode(e.data)}`)

for (const [name, make] of Object.entries(sites)) {
  describe(`log storage compliance: ${name}`, () => {
    let site: LogSite
    const opened: LogStorage[] = []
    const open = () => {
      const o = site.open()
      opened.push(o.storage)
      return o
    }
    const reopen = () => {
      opened.pop()?.close()
      return open().recovery
    }
    afterEach(() => {
      for (const s of opened.splice(0)) s.close()
      site.dispose()
    })

    it('starts empty: term 0, no vote, nothing committed, no entries', () => {
      site = make()
      const { recovery } = open()
      expect(recovery.hardState).toMatchObject({ term: 0, vote: null, commit: 0 })
      expect(recovery.entries).toEqual([])
      expect(recovery.snapshots).toEqual([])
    })

    it('keeps synced entries and the hard state across a restart', async () => {
      site = make()
      const { storage } = open()
      storage.append({ hardState: { term: 2, vote: 'a', commit: 1 }, entries: [entry(1, 1), entry(2, 2)] })
      await storage.sync()
      const r = reopen()
      expect(r.hardState).toMatchObject({ term: 2, vote: 'a', commit: 1 })
      expect(texts(r)).toEqual(['1/1:e1', '2/2:e2'])
    })

    it("keeps a witness's mark in its hard state", async () => {
      site = make()
      const { storage } = open()
      storage.append({
        hardState: { term: 3, vote: null, commit: 0, mark: { term: 3, index: 7 } },
        entries: [],
      })
      await storage.sync()
      expect(reopen().hardState.mark).toEqual({ term: 3, index: 7 })
    })

    it('an entry at or below the last one replaces the suffix from there (log truncation)', async () => {
      site = make()
      const { storage } = open()
      storage.append({ hardState: null, entries: [entry(1, 1), entry(2, 1), entry(3, 1)] })
      storage.append({ hardState: null, entries: [entry(2, 2, 'new')] })
      await storage.sync()
      expect(texts(reopen())).toEqual(['1/1:e1', '2/2:new'])
    })

    it('a hard state alone leaves the entries as they are', async () => {
      site = make()
      const { storage } = open()
      storage.append({ hardState: { term: 1, vote: null, commit: 0 }, entries: [entry(1, 1)] })
      storage.append({ hardState: { term: 1, vote: null, commit: 1 }, entries: [] })
      await storage.sync()
      const r = reopen()
      expect(r.hardState.commit).toBe(1)
      expect(texts(r)).toEqual(['1/1:e1'])
    })

    it('reset discards every entry and snapshot mark and starts from the hard state given', async () => {
      site = make()
      const { storage } = open()
      storage.append({ hardState: { term: 4, vote: 'b', commit: 2 }, entries: [entry(1, 4), entry(2, 4)] })
      storage.markSnapshot({ index: 1, term: 4 })
      storage.reset({ term: 5, vote: null, commit: 0 })
      await storage.sync()
      const r = reopen()
      expect(r.hardState).toMatchObject({ term: 5, vote: null, commit: 0 })
      expect(r.entries).toEqual([])
      expect(r.snapshots).toEqual([])
    })

    it('remembers snapshot marks, and releasing keeps every entry after the snapshot', async () => {
      site = make()
      const { storage } = open()
      for (let i = 1; i <= 40; i++)
        storage.append({ hardState: null, entries: [entry(i, 1, 'x'.repeat(200))] })
      storage.markSnapshot({ index: 30, term: 1 })
      storage.rollForCompaction()
      storage.releaseTo(30)
      storage.append({ hardState: null, entries: [entry(41, 1)] })
      await storage.sync()
      const r = reopen()
      expect(r.snapshots.at(-1)).toEqual({ index: 30, term: 1 })
      const indexes = r.entries.map((e) => e.index)
      expect(indexes.filter((i) => i > 30)).toEqual([31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41])
      // Whatever is left is contiguous.
      expect(indexes).toEqual(indexes.map((_, n) => indexes[0]! + n))
    })

    it('counts its syncs', async () => {
      site = make()
      const { storage } = open()
      const before = storage.statistics().syncs
      storage.append({ hardState: { term: 1, vote: null, commit: 0 }, entries: [] })
      await storage.sync()
      await storage.sync()
      expect(storage.statistics().syncs - before).toBe(2)
      expect(storage.statistics().segments).toBeGreaterThan(0)
    })

    it('refuses to append once closed', () => {
      site = make()
      const { storage } = open()
      storage.close()
      opened.pop()
      expect(() => storage.append({ hardState: null, entries: [entry(1, 1)] })).toThrow()
    })
  })
}
