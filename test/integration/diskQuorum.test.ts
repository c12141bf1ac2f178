/**
 * The disk quorum model with real processes: three nodes share a quorum file on local disk (the
 * lease block, and the recovery log beside it), a probe `generic-app` group appends
 * `node token ms` every 20 ms. Checked: one holder at a time (the lease history from every
 * node's events, and the probe's runs never overlap); kill -9 of the holder → another takes over
 * and every acknowledged config write is still there; SIGSTOP of the holder past the challenge
 * wait → its groups are offline before the new holder's come online and nothing it writes after
 * waking sticks; a damaged lease block is defended, never taken as free.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeLeaseRecord } from '../../src/quorum/disk/leaseRecord.ts'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { SharedRecoveryLog } from '../../src/storage/sharedRecoveryLog.ts'
import { diskTiming } from '../../src/topology/clusterTiming.ts'
import { loadTopology } from '../../src/topology/loadTopology.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { episodes, overlaps, readProbe, tokensIncrease } from '../support/probeLog.ts'
import { cleanUp, jsonOf, repoRoot, waitFor } from '../support/processes.ts'

let c: GeoCluster
const probe = join(repoRoot, 'test/support/probe.ts')
const now = () => Number(process.hrtime.bigint() / 1_000_000n)
const file = (g: string) => join(c.dir, `${g}.probe`)

beforeAll(async () => {
  // Snapshots every 10 entries, so restarts and takeovers start from the disk's snapshots.
  c = await GeoCluster.create({ sites: [{ name: 'dc', nodes: 3 }], quorumDisk: true, snapshotEvery: 10 })
  await c.startAll()
  await c.waitQuorate(c.names(), 30_000)
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const n of c.names()) {
      if (c.member(n).proc === null) continue
      const r = await c.api<T>(n, method, path, body).catch(() => null)
      if (r !== null && r.status < 300) return r.body
      if (r !== null && r.status < 500 && r.status !== 503)
        throw new Error(`${method} ${path}: ${JSON.stringify(r.body)}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${method} ${path}: no node answered`)
}

const holder = async () => (await api<StatusDocument>('GET', '/v1/status')).cluster.leader!

function expectOneOwnerAtATime(g: string) {
  const eps = episodes(readProbe(file(g)))
  expect(overlaps(eps), JSON.stringify(eps)).toEqual([])
  expect(tokensIncrease(eps), JSON.stringify(eps)).toBe(true)
  return eps
}

async function probeGroup(name: string, preferredOwners: string[]) {
  await api('POST', '/v1/groups', { name, preferredOwners, failback: 'never' })
  await api('POST', '/v1/resources', {
    name: `${name}-probe`,
    group: name,
    type: 'generic-app',
    params: { command: `${process.execPath} ${probe} ${file(name)}`, stopTimeoutMs: '3000' },
  })
  await api('POST', `/v1/groups/${name}/online`, {})
}

const linesFrom = (g: string, node: string, since: number, timeoutMs = 30_000) =>
  waitFor(
    `${g} running on ${node}`,
    () => readProbe(file(g)).find((l) => l.node === node && l.ms > since),
    timeoutMs,
  )

describe('disk quorum: three nodes, one quorum file', () => {
  it('reports the disk as the one vote, held by one node', async () => {
    const statuses = await Promise.all(c.names().map((n) => c.status(n)))
    const leaders = new Set(statuses.map((s) => s!.cluster.leader))
    expect(leaders.size).toBe(1)
    for (const s of statuses)
      expect(s!.cluster.quorum).toMatchObject({
        model: 'disk',
        state: 'quorate',
        votesTotal: 1,
        votesNeeded: 1,
      })
    // The block names the holder (a challenge a loaded machine provokes is defended within a renewal).
    await waitFor('the block names the holder', () => {
      const block = decodeLeaseRecord(readFileSync(join(c.dir, 'quorum.img')))
      return block.kind === 'record' &&
        block.record.state === 'held' &&
        block.record.writer === [...leaders][0]
        ? block
        : undefined
    })
  })

  it('kill -9 of the holder: another node takes over within the bound, every acknowledged write is there', async () => {
    const first = await holder()
    await probeGroup('app', [first, ...c.names().filter((n) => n !== first)])
    await linesFrom('app', first, 0)
    // Acknowledged writes, through every node (followers forward them to the holder).
    const acked: string[] = []
    for (let i = 0; i < 30; i++) {
      const via = c.names()[i % 3]!
      const r = await c.api(via, 'PUT', `/v1/config/disk/k${i}`, { value: `v${i}` })
      expect(r.status).toBe(200)
      acked.push(`k${i}`)
    }
    const killedAt = now()
    await c.kill(first)
    const others = c.names().filter((n) => n !== first)
    const next = await waitFor(
      'a new holder',
      async () => {
        const s = await c.status(others[0]!)
        return s !== null && s.cluster.leader !== null && s.cluster.leader !== first
          ? s.cluster.leader
          : undefined
      },
      30_000,
    )
    const tookMs = now() - killedAt
    const t = diskTiming(loadTopology(c.topologyFile).topology)
    const bound = t.renewMs + t.suspectAfterMs + t.challengeWaitMs + 4 * t.ioTimeoutMs + 1_000
    console.log(
      `disk: kill -9 of holder ${first} → ${next} holds the disk after ${tookMs} ms (bound ${bound} ms)`,
    )
    expect(tookMs).toBeLessThan(bound)
    for (const [i, key] of acked.entries()) {
      const r = await c.api<{ value: string }>(next, 'GET', `/v1/config/disk/${key}`)
      expect(r.status).toBe(200)
      expect(r.body.value).toBe(`v${i}`)
    }
    await waitFor(
      'app elsewhere',
      () => readProbe(file('app')).find((l) => l.node !== first && l.ms > killedAt),
      30_000,
    )
    expectOneOwnerAtATime('app')
    await c.start(first)
    await c.waitQuorate(c.names(), 30_000)
  }, 120_000)

  it('SIGSTOP of the holder past the challenge wait: its groups stop before the new holder starts them; nothing it writes on waking sticks', async () => {
    const h = await holder()
    await probeGroup('paused', [h, ...c.names().filter((n) => n !== h)])
    await linesFrom('paused', h, 0)
    const stoppedAt = now()
    await c.kill(h, 'SIGSTOP')
    let next: string
    try {
      next = await waitFor(
        'a new holder',
        async () => {
          const s = await c.status(c.names().find((n) => n !== h)!)
          return s?.cluster.leader !== null && s?.cluster.leader !== h ? s?.cluster.leader : undefined
        },
        30_000,
      )
      await waitFor('paused elsewhere', () =>
        readProbe(file('paused')).find((l) => l.node !== h && l.ms > stoppedAt),
      )
      // Its monitor fenced the app on its own before anyone else started it.
      expectOneOwnerAtATime('paused')
      // A config write the new holder acknowledged while the old one slept.
      expect((await c.api(next, 'PUT', '/v1/config/disk/during-pause', { value: 'yes' })).status).toBe(200)
    } finally {
      await c.kill(h, 'SIGCONT')
    }
    const resumedAt = now()
    await new Promise((r) => setTimeout(r, 3_000))
    // The old holder woke up: the lease block and the recovery log still name the new holder.
    const block = decodeLeaseRecord(readFileSync(join(c.dir, 'quorum.img')))
    expect(block).toMatchObject({ kind: 'record', record: { state: 'held', writer: next } })
    const chain = new SharedRecoveryLog(join(c.dir, 'quorum.img.log')).read()
    expect(chain.head?.holder).toBe(next)
    expect(readProbe(file('paused')).filter((l) => l.node === h && l.ms > resumedAt)).toEqual([])
    expectOneOwnerAtATime('paused')
    // It follows now, and its view includes what was written while it slept.
    await waitFor('the old holder follows', async () => (await c.status(h))?.cluster.leader === next)
    const r = await c.api<{ value: string }>(h, 'GET', '/v1/config/disk/during-pause')
    expect(r.body.value).toBe('yes')
  }, 120_000)

  it('a damaged lease block is defended by the holder, never taken as free', async () => {
    const h = await holder()
    const quorumFile = join(c.dir, 'quorum.img')
    const defended = async () => {
      const r = await c.cli(h, ['events', '--json', '--limit', '1000'])
      const events = jsonOf<{ events: unknown[] }>(r).events as { type: string; message: string }[]
      return events.filter((e) => e.type === 'quorum:disk-defended' && /checksum mismatch/.test(e.message))
        .length
    }
    const before = await defended()
    // Two bytes flipped in place (as a bad sector or a stray write would). The holder may rewrite
    // the block between its read and our flip, so flip until it has had to defend once.
    let flips = 0
    while ((await defended()) === before && flips < 20) {
      const bytes = readFileSync(quorumFile).subarray(40, 42)
      const fd = openSync(quorumFile, 'r+')
      writeSync(fd, Buffer.from([bytes[0]! ^ 0x5a, bytes[1]! ^ 0xa5]), 0, 2, 40)
      closeSync(fd)
      flips++
      await new Promise((r) => setTimeout(r, 700))
    }
    expect(await defended()).toBeGreaterThan(before)
    const d = decodeLeaseRecord(readFileSync(quorumFile))
    expect(d).toMatchObject({ kind: 'record', record: { state: 'held', writer: h } })
    await new Promise((r) => setTimeout(r, 3_000))
    expect(await holder()).toBe(h)
  }, 60_000)

  it('the lease history is one line: each ballot had one holder, and each continued from the one before', async () => {
    const dir = join(c.dir, 'quorum.img.log', 'ballots')
    const headers = readdirSync(dir)
      .sort()
      .map((b) => join(dir, b, 'header.json'))
      .filter((f) => existsSync(f))
      .map(
        (f) =>
          JSON.parse(readFileSync(f, 'utf8')) as {
            ballot: number
            holder: string
            adopts: { ballot: number } | null
          },
      )
    // Started, killed, paused, and the damaged block: at least three holders so far.
    expect(headers.length).toBeGreaterThanOrEqual(3)
    // Holders saved snapshots beside their entries (every 10 entries here).
    const snapshots = readdirSync(dir).flatMap((b) =>
      readdirSync(join(dir, b)).filter((f) => f.endsWith('.snap')),
    )
    expect(snapshots.length).toBeGreaterThan(0)
    for (const [i, h] of headers.entries()) {
      if (i === 0) expect(h.adopts).toBeNull()
      else expect(h.adopts?.ballot).toBe(headers[i - 1]!.ballot)
    }
    // Every node's events agree: each ballot acquired once, by the holder its header names.
    const acquired = new Map<number, string[]>()
    for (const n of c.names()) {
      const r = await c.cli(n, ['events', '--json', '--limit', '1000'])
      for (const e of jsonOf<{ events: unknown[] }>(r).events as { type: string; message: string }[]) {
        const m = /^(\S+) holds the quorum disk \(ballot (\d+)\)/.exec(e.message)
        if (e.type === 'quorum:disk-acquired' && m !== null)
          acquired.set(Number(m[2]), [...(acquired.get(Number(m[2])) ?? []), m[1]!])
      }
    }
    for (const h of headers) if (acquired.has(h.ballot)) expect(acquired.get(h.ballot)).toEqual([h.holder])
    expect(acquired.size).toBeGreaterThan(0)
  }, 60_000)
})
