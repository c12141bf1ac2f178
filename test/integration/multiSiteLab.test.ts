/**
 * `geocluster lab --sites 3 --nodes-per-site 1 --witness`: a whole geo cluster from one command —
 * quorate in under 30 s with keys, PSK and topology generated; Ctrl-C (SIGINT) stops every
 * process it started, nothing left behind.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { cleanUp, cliMain, tempDir, waitFor } from '../support/processes.ts'

afterAll(async () => {
  await cleanUp()
})

/** Processes whose command line mentions `text` (the lab's data dir). */
function processesWith(text: string): number[] {
  const out: number[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) out.push(Number(pid))
    } catch {}
  }
  return out
}

describe('geocluster lab --sites', () => {
  it('runs three sites and a witness, quorate within 30 s; Ctrl-C leaves nothing behind', async () => {
    const dataDir = join(tempDir(), 'lab3')
    const child = spawn(
      process.execPath,
      [
        cliMain,
        'lab',
        '--sites',
        '3',
        '--nodes-per-site',
        '1',
        '--witness',
        '--rtt-ms',
        '20',
        '--data-dir',
        dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      const banner = await waitFor(
        'the lab banner',
        () =>
          /geocluster lab is running: 3 site\(s\) × 1 node\(s\) \+ witness.*quorate after ([\d.]+) s/.exec(
            out,
          ) ?? undefined,
        60_000,
      )
      expect(Number(banner[1])).toBeLessThan(30)
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)![1]!
      const token = readFileSync(join(dataDir, 'east-1', 'admin.token'), 'utf8').trim()
      const s = (await (
        await fetch(`${url}/v1/status`, { headers: { Authorization: `Bearer ${token}` } })
      ).json()) as StatusDocument
      expect(s.nodes.map((n) => `${n.name}@${n.site}`).sort()).toEqual([
        'east-1@east',
        'south-1@south',
        'west-1@west',
      ])
      expect(s.witness).toMatchObject({ name: 'w1', site: 'tiebreak' })
      // Dynamic witness: with three nodes (odd) the witness holds its vote in reserve.
      expect(s.cluster.quorum).toMatchObject({ state: 'quorate', votesTotal: 3, votesNeeded: 2 })
      // The merged log: one compact line per event, named by member.
      expect(out).toMatch(/\d\d:\d\d:\d\d\.\d{3} west-1 +/)
      expect(processesWith(dataDir).length).toBeGreaterThanOrEqual(4)
      // The banner shows how to reach each node without putting its token in a command line.
      expect(out).toMatch(
        /east-1 +http:\/\/127\.0\.0\.1:\d+ +npx geocluster status --api \S+ --data-dir \S+east-1/,
      )
      expect(out).not.toMatch(/--token/)
    } finally {
      child.kill('SIGINT')
    }
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code, out.slice(-2000)).toBe(0)
    await waitFor(
      'every lab process gone',
      () => (processesWith(dataDir).length === 0 ? true : undefined),
      30_000,
    )
  }, 120_000)

  it('--witness cloud: Azurite started for the lab, the witness a blob 20 ms away; Ctrl-C stops Azurite too', async () => {
    const dataDir = join(tempDir(), 'lab-cloud')
    const child = spawn(
      process.execPath,
      [cliMain, 'lab', '--sites', '2', '--witness', 'cloud', '--rtt-ms', '20', '--data-dir', dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      await waitFor(
        'the lab banner',
        () => /geocluster lab is running: 2 site\(s\) × 1 node\(s\) \+ cloud witness/.test(out),
        60_000,
      )
      expect(out).toMatch(/azurite +blob service on http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1, 20 ms away/)
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)![1]!
      const token = readFileSync(join(dataDir, 'east-1', 'admin.token'), 'utf8').trim()
      const s = await waitFor('the witness counted', async () => {
        const st = (await (
          await fetch(`${url}/v1/status`, { headers: { Authorization: `Bearer ${token}` } })
        ).json()) as StatusDocument
        return st.cluster.quorum.votesPresent === 3 ? st : undefined
      })
      expect(s.witness).toMatchObject({ name: 'w1', type: 'cloud', state: 'up', votes: 1 })
      expect(s.cluster.quorum).toMatchObject({ state: 'quorate', votesTotal: 3, votesNeeded: 2 })
      // Azurite runs with its blobs in the lab's data dir.
      expect(processesWith(join(dataDir, 'azurite')).length).toBe(1)
    } finally {
      child.kill('SIGINT')
    }
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code, out.slice(-2000)).toBe(0)
    expect(processesWith(dataDir)).toEqual([])
  }, 120_000)
})
