/**
 * The cluster log (issue 15, item 6): a node's events survive its restart; `events --cluster`
 * merges every member's events in time order and names a member that does not answer;
 * `log collect` writes one archive of every member's events, status, topology and version with
 * no admin token and no cluster secret in it. On the same cluster: an alert, committed once, is
 * run by every member for its own events (issue 15, item 5).
 */
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { extract } from 'tar'
import { afterAll, describe, expect, it } from 'vitest'
import type { ClusterEvent } from '../../src/events/clusterEvent.ts'
import type { ClusterEvents } from '../../src/events/clusterLogReport.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, jsonOf, startLab, tempDir, waitFor } from '../support/processes.ts'

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

describe('a node’s events on disk', () => {
  it('shows the events from before a restart, numbered on after them', async () => {
    const dataDir = join(tempDir(), 'data')
    const first = await startLab(dataDir)
    const before = jsonOf<{ events: ClusterEvent[] }>(await first.cli(['events', '--json']))
    expect(before.events.map((e) => e.type)).toContain('node:started')
    first.proc.kill('SIGINT')
    expect(await first.exited).toEqual({ code: 0, signal: null })
    const journal = readFileSync(join(dataDir, 'events', 'events.jsonl'), 'utf8')
    expect(journal).toMatch(/"type":"node:stopped"/)

    const second = await startLab(dataDir)
    const after = jsonOf<{ events: ClusterEvent[] }>(await second.cli(['events', '--json', '--limit', '500']))
    const types = after.events.map((e) => e.type)
    // The first run's start and stop, then the second run's start.
    expect(types.indexOf('node:stopped')).toBeGreaterThan(types.indexOf('node:started'))
    expect(types.lastIndexOf('node:started')).toBeGreaterThan(types.indexOf('node:stopped'))
    const seqs = after.events.map((e) => e.seq)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(after.events[0]).toEqual(before.events[0])
    // A one-node lab's cluster log is its own.
    const alone = jsonOf<ClusterEvents>(await second.cli(['events', '--cluster', '--json', '--limit', '500']))
    expect(alone.members).toEqual([{ node: 'lab-1', error: null, events: expect.any(Number) }])
    expect(alone.events.map((e) => e.seq).slice(0, seqs.length)).toEqual(seqs)
  }, 90_000)
})

describe('every member’s events and the support archive', () => {
  let c: GeoCluster

  it('merges every member’s events in time order', async () => {
    c = await GeoCluster.create({ sites: [{ name: 'dc', nodes: 3 }] })
    await c.startAll()
    await c.waitQuorate(c.names(), 30_000)
    const r = await c.cli('dc-1', ['events', '--cluster', '--json', '--limit', '1000'])
    expect(r.code, r.stderr).toBe(0)
    const merged = jsonOf<ClusterEvents>(r)
    expect(merged.members).toEqual(
      ['dc-1', 'dc-2', 'dc-3'].map((node) => ({ node, error: null, events: expect.any(Number) })),
    )
    expect(new Set(merged.events.map((e) => e.node))).toEqual(new Set(['dc-1', 'dc-2', 'dc-3']))
    const times = merged.events.map((e) => e.time)
    expect(times).toEqual([...times].sort())
    // The people's view prints the same events, one line each.
    const text = await c.cli('dc-2', ['events', '--cluster', '--limit', '1000'])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/dc-3 node:started/)
  }, 120_000)

  it('collects one archive with every member’s parts and no secret in it', async () => {
    const out = join(tempDir(), 'case.tar.gz')
    const r = await c.cli('dc-1', ['log', 'collect', '--out', out, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const summary = jsonOf<{ out: string; bytes: number; members: { node: string; answered: boolean }[] }>(r)
    expect(summary.members.every((m) => m.answered)).toBe(true)
    expect(summary.bytes).toBe(statSync(out).size)
    const dir = tempDir()
    await extract({ file: out, cwd: dir })
    const [root] = readdirSync(dir)
    expect(root).toMatch(/^geocluster-support-geo-\d{8}T\d{6}Z$/)
    const files = filesUnder(join(dir, root!))
    for (const n of ['dc-1', 'dc-2', 'dc-3'])
      expect(files).toEqual(
        expect.arrayContaining(
          ['status.json', 'topology.json', 'version.json', 'events.jsonl'].map((f) => `${n}/${f}`),
        ),
      )
    expect(files).toEqual(expect.arrayContaining(['manifest.json', 'events.jsonl']))
    const read = (f: string) => readFileSync(join(dir, root!, f), 'utf8')
    const topology = JSON.parse(read('dc-2/topology.json')) as { cluster: { name: string; secret: string } }
    expect(topology.cluster).toEqual({ name: 'geo', secret: '<redacted>' })
    expect(JSON.parse(read('dc-3/status.json'))).toMatchObject({ cluster: { name: 'geo' } })
    expect(read('dc-3/events.jsonl')).toMatch(/"node":"dc-3"/)
    // No member's admin token, no node key, and not the cluster secret, anywhere in it.
    const psk = readFileSync(join(c.dir, 'cluster.psk'), 'utf8').trim().split('\n').at(-1)!
    const tokens = c.names().map((n) => c.token(n))
    for (const f of files) {
      const text = read(f)
      for (const secret of [psk, ...tokens]) expect(text, f).not.toContain(secret)
    }
  }, 60_000)

  it('runs an alert on every member, each for its own events', async () => {
    const dir = tempDir()
    const script = join(dir, 'alert.sh')
    writeFileSync(script, `#!/bin/sh\ncat > "${dir}/$GEOCLUSTER_EVENT_NODE-$GEOCLUSTER_EVENT_SEQ.json"\n`)
    chmodSync(script, 0o755)
    const add = await c.cli('dc-2', [
      'alert',
      'add',
      'everywhere',
      '--script',
      script,
      '--events',
      'database:changed',
    ])
    expect(add.code, add.stderr).toBe(0)
    expect((await c.cli('dc-3', ['config', 'set', 'alerted', 'yes'])).code).toBe(0)
    const ran = await waitFor('every member to run the alert for its own event', () => {
      const seen = readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ClusterEvent)
        .filter((e) => e.message === 'config.set alerted')
      return new Set(seen.map((e) => e.node)).size === 3 ? seen : undefined
    })
    // Each member ran it once, for the event it saw itself.
    expect(ran.map((e) => e.node).sort()).toEqual(['dc-1', 'dc-2', 'dc-3'])
    expect((await c.cli('dc-1', ['alert', 'delete', 'everywhere'])).code).toBe(0)
  }, 60_000)

  it('names a member that does not answer, and still gives the others', async () => {
    await c.kill('dc-3')
    await c.waitQuorate(['dc-1', 'dc-2'], 30_000)
    const r = await c.cli('dc-1', ['events', '--cluster', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const merged = jsonOf<ClusterEvents>(r)
    expect(merged.members.find((m) => m.node === 'dc-3')?.error).toEqual(expect.any(String))
    expect(merged.members.filter((m) => m.error === null).map((m) => m.node)).toEqual(['dc-1', 'dc-2'])
    expect(r.stderr).toMatch(/dc-3 did not answer/)
    const out = join(tempDir(), 'partial.tar.gz')
    const collected = await waitFor('a collect without dc-3', async () => {
      const x = await c.cli('dc-2', ['log', 'collect', '--out', out])
      return x.code === 0 ? x : undefined
    })
    expect(collected.stdout).toMatch(/2 of 3 members/)
    expect(collected.stderr).toMatch(/dc-3 did not answer/)
  }, 60_000)
})
