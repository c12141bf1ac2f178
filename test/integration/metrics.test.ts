/**
 * `GET /metrics` in Prometheus text format, parsed with a Prometheus text-format parser: a
 * three-site cluster's member reports quorum, votes, term, indexes, apply lag, heartbeat RTT per
 * peer, groups, and counters of events, assignments and restarts. Served without the token only
 * when the API listens on loopback (every test node does, so the token rule is checked on the
 * route itself).
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildAdminApi } from '../../src/api/adminApi.ts'
import { apiHostNames } from '../../src/api/requestOrigin.ts'
import { destroyGeoClusters, GeoCluster, threeSites } from '../support/geoCluster.ts'
import { cleanUp, waitFor } from '../support/processes.ts'

let c: GeoCluster

beforeAll(async () => {
  c = await GeoCluster.create({ sites: threeSites })
  await c.startAll()
  await c.waitQuorate(c.names(), 30_000)
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

interface Family {
  name: string
  type: string
  metrics: { value?: string; labels?: Record<string, string> }[]
}

async function scrape(node: string): Promise<Map<string, Family>> {
  const res = await fetch(`${c.member(node).url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const families = parsePrometheusTextFormat(await res.text()) as Family[]
  return new Map(families.map((f) => [f.name, f]))
}

const value = (f: Family | undefined, labels: Record<string, string> = {}) =>
  Number(
    f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value ??
      Number.NaN,
  )

describe('/metrics', () => {
  it('parses, and says what an operator graphs and alerts on', async () => {
    const name = c.names()[0]!
    await c.api(name, 'POST', '/v1/groups', { name: 'm', preferredOwners: [name] })
    await c.api(name, 'PUT', '/v1/config/metrics/x', { value: '1' })
    const m = await waitFor('RTTs to both peers', async () => {
      const got = await scrape(name)
      return (got.get('geocluster_peer_rtt_seconds')?.metrics.length ?? 0) === 2 ? got : undefined
    })
    expect(value(m.get('geocluster_quorate'))).toBe(1)
    expect(value(m.get('geocluster_votes'), { kind: 'total' })).toBe(3)
    expect(value(m.get('geocluster_votes'), { kind: 'needed' })).toBe(2)
    expect(value(m.get('geocluster_votes'), { kind: 'present' })).toBe(3)
    expect(value(m.get('geocluster_term'))).toBeGreaterThan(0)
    expect(value(m.get('geocluster_commit_index'))).toBeGreaterThan(0)
    expect(value(m.get('geocluster_apply_lag'))).toBeGreaterThanOrEqual(0)
    for (const r of m.get('geocluster_peer_rtt_seconds')!.metrics) {
      expect(c.names()).toContain(r.labels!.peer)
      expect(Number(r.value)).toBeGreaterThan(0)
      expect(Number(r.value)).toBeLessThan(1)
    }
    expect(value(m.get('geocluster_groups'), { state: 'offline' })).toBe(1)
    expect(value(m.get('geocluster_node_up'), { node: name })).toBe(1)
    expect(
      value(m.get('geocluster_events_total'), { type: 'database:changed', severity: 'info' }),
    ).toBeGreaterThan(0)
    expect(m.get('geocluster_resource_restarts_total')?.type).toBe('COUNTER')
    expect(m.get('geocluster_process_resident_memory_bytes')).toBeDefined()
    const leaders = await Promise.all(
      c.names().map(async (n) => value((await scrape(n)).get('geocluster_is_leader'))),
    )
    expect(leaders.reduce((a, b) => a + b, 0)).toBe(1)
  })

  it("asks for the token unless the socket's peer is on loopback, whatever the API is bound to", async () => {
    const fake = {
      name: 'n1',
      adminToken: 'secret-token',
      events: { subscribe: () => () => {} },
      status: () => {
        throw new Error('not reached')
      },
      peerRtts: () => ({}),
    } as unknown as Parameters<typeof buildAdminApi>[0]
    const app = buildAdminApi(fake)
    const from = (remoteAddress: string | undefined) =>
      app.request('/metrics', {}, { incoming: { socket: { remoteAddress } } })
    expect((await app.request('/metrics')).status).toBe(401)
    expect((await from('10.0.0.7')).status).toBe(401)
    expect((await from('::ffff:192.168.1.9')).status).toBe(401)
    // Past the token check (the fake node cannot answer the gauges).
    for (const peer of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1'])
      expect((await from(peer)).status, peer).not.toBe(401)
  })

  it('refuses a Host header that is not one of the names of the API (DNS rebinding)', async () => {
    const fake = {
      name: 'n1',
      adminToken: 'secret-token',
      events: { subscribe: () => () => {} },
    } as unknown as Parameters<typeof buildAdminApi>[0]
    const app = buildAdminApi(fake, undefined, { hostNames: apiHostNames('127.0.0.1', ['node-1.example']) })
    for (const host of ['127.0.0.1:7480', 'localhost', '[::1]:7480', 'NODE-1.example:7480'])
      expect((await app.request('http://x/healthz', { headers: { Host: host } })).status, host).toBe(200)
    const rebound = await app.request('http://x/healthz', { headers: { Host: 'attacker.example' } })
    expect(rebound.status).toBe(403)
    expect(((await rebound.json()) as { error: { message: string } }).error.message).toMatch(
      /Host "attacker\.example" is not a name of this node's API/,
    )
  })
})

describe('validate --live', () => {
  it('checks the running cluster: every pair hears each other, round trips per site pair, clocks, versions', async () => {
    const name = c.names()[0]!
    const r = await c.cli(name, ['validate', '--config', c.topologyFile, '--live', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const live = JSON.parse(r.stdout).live as {
      members: { node: string; offsetMs: number; error: string | null }[]
      pairs: { checked: number; failed: string[] }
      rtt: { sites: string; maxMs: number; ok: boolean }[]
      versions: string[]
      errors: string[]
    }
    expect(live.errors).toEqual([])
    expect(live.members.map((m) => m.node).sort()).toEqual([...c.names()].sort())
    expect(live.pairs).toEqual({ checked: 6, failed: [] })
    expect(live.rtt.map((x) => x.sites).sort()).toEqual(['east ↔ south', 'east ↔ west', 'south ↔ west'])
    expect(live.versions).toHaveLength(1)
    for (const m of live.members) expect(Math.abs(m.offsetMs)).toBeLessThan(500)
    const human = await c.cli(name, ['validate', '--config', c.topologyFile, '--live'])
    expect(human.stdout).toMatch(/live:\n/)
    expect(human.stdout).toMatch(/node pairs that hear each other: 6 of 6/)
    expect(human.stdout).toMatch(/round trip east ↔ west: [\d.]+ ms average/)
  })

  it('fails (exit 1) naming a member that does not answer', async () => {
    const [asker, lost] = c.names()
    await c.kill(lost!)
    const r = await c.cli(asker!, ['validate', '--config', c.topologyFile, '--live'])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`${lost}: did not answer`))
  }, 60_000)
})
