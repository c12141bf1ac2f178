/**
 * Disaster recovery with `node start --force-quorum` (WSFC /forcequorum): two of three sites are
 * lost; the survivor refuses writes until the operator forces quorum on it and confirms that the
 * other side is down, then takes writes alone in a new epoch, and the lost members, when they
 * come back, follow that epoch and get their votes back (the forced copy is authoritative, as in
 * WSFC). Forcing the wrong side is test/integration/forcedMinority.test.ts.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destroyGeoClusters, GeoCluster, threeSites } from '../support/geoCluster.ts'
import { cleanUp, waitFor } from '../support/processes.ts'

let c: GeoCluster

beforeAll(async () => {
  c = await GeoCluster.create({
    sites: threeSites,
  })
  await c.startAll()
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

describe('force quorum', () => {
  it('a lone survivor forced into quorum takes writes; the others come back into its epoch', async () => {
    const names = c.names()
    await c.waitQuorate(names)
    expect((await c.api('east-1', 'PUT', '/v1/config/before', { value: 'b' })).status).toBe(200)
    await waitFor('before on every node', async () =>
      (await Promise.all(names.map((n) => c.api<{ value: string }>(n, 'GET', '/v1/config/before')))).every(
        (r) => r.body.value === 'b',
      ),
    )
    await c.kill('west-1')
    await c.kill('south-1')
    await waitFor(
      'east-1 without quorum',
      async () => (await c.status('east-1'))?.cluster.quorum.state === 'no-quorum',
    )
    const refused = await c.cli('east-1', ['config', 'set', 'lost', 'x'])
    expect(refused.code).toBe(3)

    await c.kill('east-1', 'SIGTERM')
    await c.start('east-1', ['--force-quorum'])
    expect(c.member('east-1').output).toMatch(
      /FORCED QUORUM \(not confirmed\): it alone forms epoch 1 \(east-1\//,
    )
    await c.waitQuorate(['east-1'])
    const forced = (await c.status('east-1'))!
    expect(forced.cluster.quorum).toMatchObject({
      state: 'quorate',
      forced: true,
      epoch: 1,
      epochId: expect.stringMatching(/^east-1\/[0-9a-z]{8}$/),
      confirmed: false,
      votesNeeded: 1,
    })
    // Read-only until the operator says what they assert.
    expect((await c.api('east-1', 'PUT', '/v1/config/after', { value: 'a' })).status).toBe(409)
    expect((await c.api('east-1', 'GET', '/v1/config/before')).status).toBe(200)
    const vague = await c.cli('east-1', ['cluster', 'confirm-forced'])
    expect(vague.code).toBe(2)
    expect(vague.stderr).toMatch(/--other-side-is-down/)
    const confirm = await c.cli('east-1', ['cluster', 'confirm-forced', '--other-side-is-down', '--json'])
    expect(confirm.code, confirm.stderr).toBe(0)
    expect(JSON.parse(confirm.stdout)).toMatchObject({ epoch: expect.stringMatching(/^1 \(east-1\//) })
    expect((await c.status('east-1'))!.cluster.quorum.confirmed).toBe(true)
    expect((await c.cli('east-1', ['status'])).stdout).toMatch(/FORCED QUORUM in effect \(epoch 1, east-1\//)
    expect((await c.api('east-1', 'PUT', '/v1/config/after', { value: 'a' })).status).toBe(200)
    const events = JSON.parse((await c.cli('east-1', ['events', '--json', '--limit', '500'])).stdout)
      .events as {
      type: string
    }[]
    expect(events.some((e) => e.type === 'quorum:forced')).toBe(true)
    expect(events.some((e) => e.type === 'quorum:confirmed')).toBe(true)

    // One comes back told to join, not form (WSFC /pq); the other without: both end in epoch 1.
    await c.start('west-1', ['--prevent-quorum'])
    await c.start('south-1')
    await c.waitQuorate(names, 20_000)
    await waitFor(
      'every node in epoch 1, unforced, with all three votes',
      async () => {
        const all = await Promise.all(names.map((n) => c.status(n)))
        return all.every(
          (s) =>
            s?.cluster.quorum.epoch === 1 &&
            s.cluster.quorum.forced === false &&
            s.cluster.quorum.votesTotal === 3,
        )
      },
      20_000,
    )
    for (const n of names) {
      const r = await c.api<{ value: string }>(n, 'GET', '/v1/config/after')
      expect(r.body.value, n).toBe('a')
      expect((await c.api<{ value: string }>(n, 'GET', '/v1/config/before')).body.value, n).toBe('b')
    }
    expect((await c.api('west-1', 'PUT', '/v1/config/later', { value: 'l' })).status).toBe(200)
  }, 120_000)

  it('tokens never go back: the side that yields to a confirmed forced epoch carries its highest token in', async () => {
    const names = c.names()
    const leader = await c.waitQuorate(names, 20_000)
    const group = async (n: string) =>
      (await c.api<{ owner: string | null; fencingToken: number }>(n, 'GET', '/v1/groups/tok')).body
    expect((await c.api(leader, 'POST', '/v1/groups', { name: 'tok' })).status).toBe(201)
    // A group with no resources: placing and moving it issues tokens, and nothing runs.
    expect((await c.api(leader, 'POST', '/v1/groups/tok/online', {})).status).toBe(202)
    await waitFor('tok placed', async () => (await group(leader)).owner !== null)
    c.wan.cut(['east'], ['west', 'south'])
    let majorityToken = 0
    try {
      await waitFor(
        'west and south quorate without east',
        async () =>
          (await c.status('west-1'))?.cluster.quorum.state === 'quorate' &&
          (await c.status('west-1'))?.cluster.leader !== 'east-1',
        20_000,
      )
      // The majority side goes on issuing tokens: moves between west-1 and south-1.
      for (let i = 0; i < 6; i++) {
        const g = await group('west-1')
        const to = g.owner === 'west-1' ? 'south-1' : 'west-1'
        await waitFor(
          `tok moved to ${to}`,
          async () => {
            const r = await c.api('west-1', 'POST', '/v1/groups/tok/move', { to })
            return r.status === 202 || (await group('west-1')).owner === to
          },
          20_000,
          200,
        )
        await waitFor(`tok on ${to}`, async () => (await group('west-1')).owner === to, 20_000)
      }
      majorityToken = (await group('west-1')).fencingToken
      // The operator forces east (wrongly asserting the others are down).
      await c.kill('east-1', 'SIGTERM')
      await c.start('east-1', ['--force-quorum', '--other-side-is-down'])
      await waitFor(
        'east-1 leading its confirmed epoch',
        async () => {
          const q = (await c.status('east-1'))?.cluster.quorum
          return q?.state === 'quorate' && q.epoch === 2 && q.confirmed
        },
        20_000,
      )
      expect((await group('east-1')).fencingToken).toBeLessThan(majorityToken)
    } finally {
      c.wan.restore()
    }
    // West and south meet the confirmed epoch, give their history up and carry their floor in.
    await c.waitQuorate(names, 30_000)
    await waitFor(
      'every node in epoch 2',
      async () =>
        (await Promise.all(names.map((n) => c.status(n)))).every((s) => s?.cluster.quorum.epoch === 2),
      30_000,
    )
    // Each of them hands the highest token of the history it gave up to the cluster it joined.
    await waitFor(
      'west-1 and south-1 to carry their fencing floor in',
      () => ['west-1', 'south-1'].every((n) => !existsSync(join(c.member(n).dataDir, 'token-floor'))),
      20_000,
    )
    const start = (await group('east-1')).owner
    await waitFor(
      'tok moved after healing',
      async () => {
        const g = await group('east-1')
        if (g.owner !== start && g.owner !== null) return true
        const to = names.find((n) => n !== g.owner)
        await c.api('east-1', 'POST', '/v1/groups/tok/move', { to })
        return false
      },
      30_000,
      500,
    )
    const after = await group('east-1')
    expect(after.fencingToken).toBeGreaterThan(majorityToken)
  }, 180_000)
})
