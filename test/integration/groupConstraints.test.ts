/**
 * Moves and bans with a lifetime on a real three-node cluster, through the CLI (issue 15, item 3):
 * a ban moves the group off the node as a planned move, a ban that would leave it nowhere is
 * refused with the reason, the leader expires a ban on its clock, `group clear` removes them,
 * `group move --to X --lifetime` keeps it preferred on X; status and events say so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterEvent } from '../../src/events/clusterEvent.ts'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, jsonOf, waitFor } from '../support/processes.ts'

type GroupView = StatusDocument['groups'][number]

let c: GeoCluster
let leader: string

beforeAll(async () => {
  c = await GeoCluster.create({ sites: [{ name: 'dc', nodes: 3 }] })
  await c.startAll()
  leader = await c.waitQuorate(c.names())
  expect((await c.api(leader, 'POST', '/v1/groups', { name: 'web', preferredOwners: ['dc-1'] })).status).toBe(
    201,
  )
  const app = { name: 'web-app', group: 'web', type: 'generic-app', params: { command: 'sleep 1000' } }
  expect((await c.api(leader, 'POST', '/v1/resources', app)).status).toBe(201)
  expect((await c.api(leader, 'POST', '/v1/groups/web/online', {})).status).toBe(202)
  await onlineOn('dc-1')
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

const web = async () => (await c.api<GroupView>(leader, 'GET', '/v1/groups/web')).body

/** Waits until web runs, online, on `node`. */
const onlineOn = (node: string) =>
  waitFor(
    `web online on ${node}`,
    async () => {
      const g = await web()
      return g.owner === node && g.state === 'online' && g.moving === null
    },
    30_000,
  )

async function events(type: string): Promise<ClusterEvent[]> {
  const r = await c.api<{ events: ClusterEvent[] }>(leader, 'GET', '/v1/events/history?limit=1000')
  return r.body.events.filter((e) => e.type === type && e.group === 'web')
}

describe('group ban, clear and move --lifetime', () => {
  it('a ban moves the group off the node as a planned move and shows in status with its expiry', async () => {
    const before = Date.now()
    const r = await c.cli(leader, ['group', 'ban', 'web', '--node', 'dc-1', '--lifetime', '1h', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const g = jsonOf<GroupView>(r)
    expect(g.constraints).toEqual([{ node: 'dc-1', kind: 'ban', expiresAt: expect.any(Number) }])
    const expiresAt = g.constraints[0]!.expiresAt!
    expect(expiresAt - before).toBeGreaterThanOrEqual(3_600_000)
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(3_600_000)
    const to = await waitFor(
      'web moved off dc-1',
      async () => {
        const now = await web()
        return now.owner !== 'dc-1' && now.owner !== null && now.state === 'online' ? now.owner : false
      },
      30_000,
    )
    await waitFor('the planned move said why', async () =>
      (
        await c.api<{ events: ClusterEvent[] }>(leader, 'GET', '/v1/events/history?limit=1000')
      ).body.events.some(
        (e) =>
          e.type === 'group:moving' && e.group === 'web' && /dc-1 is banned for it until/.test(e.message),
      ),
    )
    expect((await events('constraint:added')).map((e) => e.data)).toContainEqual({
      node: 'dc-1',
      kind: 'ban',
      expiresAt,
    })
    const status = jsonOf<StatusDocument>(await c.cli(leader, ['status', '--json']))
    expect(status.groups.find((x) => x.name === 'web')?.constraints).toEqual(g.constraints)
    const text = await c.cli(leader, ['status'])
    expect(text.stdout).toMatch(/group web banned from dc-1 until \S+ \(\d+m left\)/)
    // A plain move back there is refused while the ban holds.
    const back = await c.cli(leader, ['group', 'move', 'web', '--to', 'dc-1'])
    expect(back.code).toBe(1)
    expect(back.stderr).toMatch(/node dc-1 is banned for group web until .*geocluster group clear web/)
    expect((await web()).owner).toBe(to)
  })

  it('refuses a ban that would leave the group no node, with the reason', async () => {
    const owner = (await web()).owner!
    const other = c.names().find((n) => n !== 'dc-1' && n !== owner)!
    expect((await c.cli(leader, ['group', 'ban', 'web', '--node', other])).code).toBe(0)
    const r = await c.cli(leader, ['group', 'ban', 'web', '--node', owner])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^geocluster: banning \S+ would leave group web no node to run on .*\n$/)
    expect((await web()).owner).toBe(owner)
  })

  it('group clear removes the bans (of one node, then all) and says so', async () => {
    const one = await c.cli(leader, ['group', 'clear', 'web', '--node', 'dc-1', '--json'])
    expect(one.code, one.stderr).toBe(0)
    expect(jsonOf<GroupView>(one).constraints.map((x) => x.node)).not.toContain('dc-1')
    const all = await c.cli(leader, ['group', 'clear', 'web'])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout).toBe('group web: no moves or bans left\n')
    expect((await web()).constraints).toEqual([])
    expect((await events('constraint:cleared')).length).toBeGreaterThanOrEqual(2)
  })

  it('the leader expires a ban on its clock', async () => {
    const owner = (await web()).owner!
    const r = await c.cli(leader, ['group', 'ban', 'web', '--node', owner, '--lifetime', '2s'])
    expect(r.code, r.stderr).toBe(0)
    await waitFor(
      'the ban expired and was removed',
      async () => (await web()).constraints.length === 0,
      20_000,
    )
    expect((await events('constraint:expired')).map((e) => e.data?.node)).toContain(owner)
  })

  it('group move --to X --lifetime moves the group and keeps it preferred on X', async () => {
    const owner = (await web()).owner!
    const to = c.names().find((n) => n !== owner)!
    const r = await c.cli(leader, ['group', 'move', 'web', '--to', to, '--lifetime', '30m', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(jsonOf<GroupView>(r).constraints).toEqual([
      { node: to, kind: 'prefer', expiresAt: expect.any(Number) },
    ])
    await onlineOn(to)
    const show = await c.cli(leader, ['group', 'show', 'web'])
    expect(show.stdout).toMatch(new RegExp(`preferred on ${to} until \\S+ \\((30|29)m left\\)`))
    // A lifetime without a destination is a usage error of the API (400): exit 1 with the path.
    const bad = await c.api(leader, 'POST', '/v1/groups/web/move', { lifetimeMs: 60_000 })
    expect(bad.status).toBe(400)
    expect((await c.cli(leader, ['group', 'move', 'web', '--to', to, '--lifetime', 'soon'])).code).toBe(2)
  })
})
