/** What the cluster benchmarks share: API calls that find a live node, the leader's view, probe groups. */
import { join } from 'node:path'
import type { GeoCluster } from '../support/geoCluster.ts'
import { readProbe } from '../support/probeLog.ts'
import { repoRoot } from '../support/processes.ts'

export const probe = join(repoRoot, 'test/support/probe.ts')
export const now = () => Number(process.hrtime.bigint() / 1_000_000n)
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function api(c: GeoCluster, method: string, path: string, body?: unknown): Promise<unknown> {
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const n of c.names()) {
      if (c.member(n).proc === null) continue
      const r = await c.api(n, method, path, body).catch(() => null)
      if (r !== null && r.status < 300) return r.body
      if (r !== null && r.status < 500 && r.status !== 503)
        throw new Error(`${method} ${path}: ${JSON.stringify(r.body)}`)
    }
    await sleep(100)
  }
  throw new Error(`${method} ${path}: no node answered`)
}

export interface LeaderView {
  node: string
  cluster: { leader: string | null }
  groups: { name: string; owner: string | null; moving: unknown }[]
}

/** The leader's own status: a node that has just restarted may not have caught up yet. */
export async function leaderView(c: GeoCluster): Promise<LeaderView> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const leader = ((await api(c, 'GET', '/v1/status')) as LeaderView).cluster.leader
    if (leader !== null && c.member(leader).proc !== null) {
      const r = await c.api(leader, 'GET', '/v1/status').catch(() => null)
      const s = r?.status === 200 ? (r.body as LeaderView) : null
      if (s !== null && s.node === s.cluster.leader) return s
    }
    await sleep(50)
  }
  throw new Error('no leader answered')
}

export async function owner(
  c: GeoCluster,
  group: string,
): Promise<{ owner: string | null; leader: string | null }> {
  const s = await leaderView(c)
  const g = s.groups.find((x) => x.name === group)!
  return { owner: g.moving === null ? g.owner : null, leader: s.cluster.leader }
}

export async function firstLineFrom(
  file: string,
  node: string,
  since: number,
  timeoutMs = 30_000,
): Promise<number> {
  const deadline = now() + timeoutMs
  for (;;) {
    const line = readProbe(file).find((l) => l.node === node && l.ms > since)
    if (line !== undefined) return line.ms
    if (now() > deadline) throw new Error(`no probe line from ${node} within ${timeoutMs} ms`)
    await sleep(5)
  }
}

export async function createGroup(c: GeoCluster, name: string, possibleOwners: string[], file: string) {
  await api(c, 'POST', '/v1/groups', {
    name,
    preferredOwners: possibleOwners,
    possibleOwners,
    failback: 'never',
    failoverThreshold: 1000,
  })
  await api(c, 'POST', '/v1/resources', {
    name: `${name}-probe`,
    group: name,
    type: 'generic-app',
    params: { command: `${process.execPath} ${probe} ${file}`, stopTimeoutMs: '3000' },
  })
  await api(c, 'POST', `/v1/groups/${name}/online`, {})
  await firstLineFrom(file, possibleOwners[0]!, 0)
}

export const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return { runs: s.length, p50Ms: s[Math.floor(s.length / 2)]!, maxMs: s.at(-1)!, minMs: s[0]! }
}
