/**
 * A flood of authenticated API requests never starves the consensus tick (issue: hardening,
 * "the admin API off loopback"): heavy requests from many clients at once at the leader (64 clients, 12 s, 2.5 MB each), and
 * the leader stays the leader, in the same term, on every node — heartbeats kept going out.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, repoRoot } from '../support/processes.ts'

let c: GeoCluster
let leader: string

beforeAll(async () => {
  // A 2 s detection window, as a production LAN would have: the test is about the API's load,
  // not about how a busy test machine schedules five processes on two cores.
  c = await GeoCluster.create({ sites: [{ name: 'dc', nodes: 3 }], sameSiteThreshold: 20 })
  await c.startAll()
  leader = await c.waitQuorate(c.names())
  // Something heavy to ask for: 5,000 keys (2.5 MB), read back whole by /v1/database.
  const value = 'v'.repeat(400)
  for (let batch = 0; batch < 10; batch++)
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        c.api(leader, 'PUT', `/v1/config/flood/k${batch * 500 + i}`, { value }),
      ),
    )
}, 180_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

describe('a flood of API requests', () => {
  it('keeps the leader in place and every node in the same term', async () => {
    const before = (await c.status(leader))!
    const term = before.cluster.term
    // From a process of its own, waited on without blocking this one (it hosts the WAN proxies).
    const flood = spawn(
      process.execPath,
      [
        join(repoRoot, 'test/support/apiFlood.ts'),
        c.member(leader).url!,
        c.token(leader),
        '/v1/database?prefix=config/',
        '64',
        '12',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    flood.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const [code] = (await once(flood, 'exit')) as [number | null]
    expect(code).toBe(0)
    const counts = JSON.parse(out.trim()) as { ok: number; busy: number; other: number; failed: number }
    console.log(`API flood at ${leader}: ${JSON.stringify(counts)}`)
    expect(counts.ok).toBeGreaterThan(50)
    expect(counts.other).toBe(0)
    // The leader's consensus tick stayed on time: its worst delay over the flood, from /metrics.
    const text = await (
      await fetch(`${c.member(leader).url}/metrics`, {
        headers: { Authorization: `Bearer ${c.token(leader)}` },
      })
    ).text()
    const delayS = Number(/^geocluster_tick_delay_max_seconds (\S+)$/m.exec(text)?.[1])
    console.log(`worst tick delay at the leader during the flood: ${Math.round(delayS * 1000)} ms`)
    expect(delayS).toBeLessThan(1)
    for (const n of c.names()) {
      const s = (await c.status(n))!
      expect(s.cluster.leader, n).toBe(leader)
      expect(s.cluster.term, n).toBe(term)
    }
  }, 120_000)
})
