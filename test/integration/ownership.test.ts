/**
 * Never online twice, by the ways a group changes hands other than a crash (issue: never online
 * twice). Real processes; a probe app that goes on writing for 2 s after SIGTERM, as an
 * application that takes its time to stop does; its lines, stamped with one monotonic clock,
 * show who ran when. Runs of different owners never overlap, and fencing tokens only grow.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { episodes, overlaps, readProbe, tokensIncrease } from '../support/probeLog.ts'
import { cleanUp, repoRoot, waitFor } from '../support/processes.ts'

const probe = join(repoRoot, 'test/support/probe.ts')
let c: GeoCluster
let leader: string

beforeAll(async () => {
  c = await GeoCluster.create({ sites: [{ name: 'dc', nodes: 3 }] })
  await c.startAll()
  leader = await c.waitQuorate(c.names())
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

/** A group with one probe app that goes on writing for `lingerMs` after SIGTERM. */
async function probeGroup(name: string, preferred: string[], lingerMs = 2000): Promise<string> {
  const file = join(c.dir, `${name}.probe`)
  expect((await c.api(leader, 'POST', '/v1/groups', { name, preferredOwners: preferred })).status).toBe(201)
  const created = await c.api(leader, 'POST', '/v1/resources', {
    name: `${name}-probe`,
    group: name,
    type: 'generic-app',
    params: {
      command: `${process.execPath} ${probe} ${file} ${lingerMs}`,
      stopTimeoutMs: `${lingerMs + 1000}`,
    },
  })
  expect(created.status).toBe(201)
  await c.api(leader, 'POST', `/v1/groups/${name}/online`, {})
  await waitFor(
    `${name} running on ${preferred[0]}`,
    () => readProbe(file).some((l) => l.node === preferred[0]),
    30_000,
  )
  return file
}

describe('a group changes hands only once its owner has stopped', () => {
  it('an operator move racing the planner: one of them wins, the other is refused, runs never overlap', async () => {
    const [first, second, third] = c.names()
    const file = await probeGroup('race', [first!])
    const outcomes: number[] = []
    let owner = first!
    for (let round = 0; round < 4; round++) {
      const [to, racer] = c.names().filter((n) => n !== owner)
      const move = await c.api(leader, 'POST', '/v1/groups/race/move', { to })
      expect(move.status).toBe(202)
      // The moment the owner has released it, the planner places it on `to`; an operator who
      // saw it unowned then asks for `racer`. Both decisions expect the released holding.
      await waitFor(
        'the group released',
        async () =>
          (await c.api<{ owner: string | null }>(leader, 'GET', '/v1/groups/race')).body.owner === null,
        30_000,
        5,
      )
      const race = await c.api(leader, 'POST', '/v1/groups/race/move', { to: racer })
      outcomes.push(race.status)
      expect([202, 409]).toContain(race.status)
      await waitFor(
        'the group settled on one owner',
        async () => {
          const g = (
            await c.api<{ owner: string | null; moving: unknown; state: string }>(
              leader,
              'GET',
              '/v1/groups/race',
            )
          ).body
          if (g.owner === null || g.moving !== null) return false
          owner = g.owner
          return readProbe(file).some((l) => l.node === g.owner)
        },
        30_000,
      )
    }
    await new Promise((r) => setTimeout(r, 3_000))
    const eps = episodes(readProbe(file))
    expect(overlaps(eps)).toEqual([])
    expect(tokensIncrease(eps)).toBe(true)
    expect(new Set([first, second, third]).size).toBe(3)
    expect(outcomes.length).toBe(4)
  }, 240_000)

  it('delete and create again elsewhere: the new group starts only after the old one has stopped', async () => {
    const [first, second] = c.names()
    // An app that takes 10 s to stop: far longer than deleting and creating the group again.
    const file = await probeGroup('dr', [first!], 10_000)
    expect((await c.api(leader, 'POST', '/v1/groups/dr/offline', {})).status).toBe(202)
    // The resource goes while its app may still be writing for up to 2 s after SIGTERM.
    expect((await c.api(leader, 'DELETE', '/v1/resources/dr-probe', {})).status).toBe(200)
    const deleted = await c.cli(leader, ['group', 'delete', 'dr'])
    expect(deleted.code, deleted.stderr).toBe(0)
    const again = join(c.dir, 'dr.probe')
    expect(again).toBe(file)
    const recreated = await probeGroup('dr', [second!], 10_000)
    expect(recreated).toBe(file)
    const eps = episodes(readProbe(file))
    expect(eps.map((e) => e.node)).toEqual([first, second])
    expect(overlaps(eps)).toEqual([])
    expect(tokensIncrease(eps)).toBe(true)
  }, 120_000)

  // Last: the evicted node is gone for good.
  it('evicting the owner of a running group: the next owner starts after the evicted one is certainly done', async () => {
    const victim = c.names().find((n) => n !== leader)!
    const file = await probeGroup('ev', [victim, leader])
    const evict = await c.cli(leader, ['node', 'evict', victim])
    expect(evict.code, evict.stderr).toBe(0)
    await waitFor(
      'the group running on another node',
      () => readProbe(file).some((l) => l.node !== victim),
      45_000,
    )
    // Let the evicted owner's lingering writes (if any) land before checking.
    await new Promise((r) => setTimeout(r, 3_000))
    const eps = episodes(readProbe(file))
    expect(eps.length).toBeGreaterThanOrEqual(2)
    expect(overlaps(eps)).toEqual([])
    expect(tokensIncrease(eps)).toBe(true)
  }, 120_000)
})
