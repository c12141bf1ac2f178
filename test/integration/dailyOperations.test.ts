/**
 * What operators do every day (issue 15), on a real three-node cluster through the CLI.
 * Moves and bans with a lifetime: a ban moves the group off the node as a planned move, a ban
 * that would leave it nowhere is refused with the reason, the leader expires a ban on its clock,
 * `group clear` removes them, `group move --to X --lifetime` keeps it preferred on X. Failure
 * counts: status shows restarts per node and failovers, `resource cleanup` resets them (so the
 * restart policy counts afresh) and re-probes; status and events say so.
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
  const app = {
    name: 'web-app',
    group: 'web',
    type: 'generic-app',
    params: { command: 'sleep 1000' },
    restartThreshold: 1,
  }
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

type ResourceView = GroupView['resources'][number]

const app = async (via = leader) =>
  (await c.api<ResourceView & { owner: string }>(via, 'GET', '/v1/resources/web-app')).body

/** Fails web-app where it runs, once it is online there again. */
async function failApp(): Promise<string> {
  const owner = await waitFor(
    'web-app online',
    async () => {
      const r = await app()
      return r.state === 'online' ? r.owner : false
    },
    30_000,
  )
  const r = await c.cli(owner, ['resource', 'fail', 'web-app'])
  expect(r.code, r.stderr).toBe(0)
  return owner
}

describe('failure counts and resource cleanup', () => {
  it('status shows restarts per node; cleanup resets them so the restart policy counts afresh', async () => {
    expect((await c.cli(leader, ['group', 'clear', 'web'])).code).toBe(0)
    const owner = await failApp()
    const other = c.names().find((n) => n !== owner)!
    // Seen from another node too: the owner's count comes with its heartbeat replies.
    await waitFor(
      'the restart counted on every node',
      async () => {
        const [here, there] = await Promise.all([app(owner), app(other)])
        return here.restarts === 1 && there.restartsByNode[owner] === 1 && here.state === 'online'
      },
      30_000,
    )
    const text = await c.cli(other, ['status'])
    expect(text.stdout).toContain(`resource web-app: restarts 1 on ${owner} (of 1 within 900 s)`)
    const r = await c.cli(other, ['resource', 'cleanup', 'web-app', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(jsonOf<{ cleaned: string[]; node: string | null }>(r)).toMatchObject({
      cleaned: ['web-app'],
      node: null,
    })
    await waitFor(
      'the counts forgotten everywhere',
      async () => {
        const [here, there] = await Promise.all([app(owner), app(other)])
        return here.restarts === 0 && Object.keys(there.restartsByNode).length === 0
      },
      30_000,
    )
    const said = await c.api<{ events: ClusterEvent[] }>(owner, 'GET', '/v1/events/history?limit=1000')
    expect(said.body.events.filter((e) => e.type === 'resource:cleanup').map((e) => e.message)).toContain(
      `failure counts of web-app reset on ${owner}, restarts forgotten: web-app (1); re-probing`,
    )
    // Threshold 1: without the cleanup this failure would have failed it; now it restarts in place.
    expect(await failApp()).toBe(owner)
    await waitFor(
      'restarted in place',
      async () => {
        const now = await app(owner)
        return now.owner === owner && now.restarts === 1 && now.state === 'online'
      },
      30_000,
    )
  })

  it('a failover counts against the group; cleanup --all resets it', async () => {
    // A second failure within the period: the resource gives up and its group fails over.
    const from = await failApp()
    const g = await waitFor(
      'web failed over',
      async () => {
        const now = await web()
        return now.owner !== from && now.owner !== null && now.state === 'online' ? now : false
      },
      30_000,
    )
    expect(g).toMatchObject({ failovers: 1, failoverThreshold: 2, failoverPeriodMs: 6 * 3_600_000 })
    expect((await c.cli(leader, ['status'])).stdout).toContain(
      'group web: 1 failover(s) of 2 allowed within 21600 s',
    )
    const r = await c.cli(leader, ['resource', 'cleanup', '--all'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('failure counts of 1 resource(s) reset on every node; re-probing\n')
    expect((await web()).failovers).toBe(0)
    // Name one resource or --all, not both, not neither: a usage error.
    expect((await c.cli(leader, ['resource', 'cleanup'])).code).toBe(2)
    expect((await c.cli(leader, ['resource', 'cleanup', 'web-app', '--all'])).code).toBe(2)
    const unknown = await c.cli(leader, ['resource', 'cleanup', 'web-app', '--node', 'nope'])
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/no node nope/)
  })
})
