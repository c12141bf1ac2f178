/**
 * Force quorum on the wrong side (issue: never online twice): site atl is cut off from phx and
 * the witness, and an operator starts atl-1 with `--force-quorum` while the majority is alive.
 * Not confirmed, the forced epoch serves reads but takes no writes and runs no groups; when the
 * WAN heals it meets the working majority and gives its epoch up. Nothing the majority
 * acknowledged is lost, the group never runs on both sides, and its tokens only grow.
 * Real processes behind the WAN emulator; a probe app writes who ran when.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destroyGeoClusters, GeoCluster, twoByTwoWithWitness } from '../support/geoCluster.ts'
import { episodes, overlaps, readProbe, tokensIncrease } from '../support/probeLog.ts'
import { cleanUp, repoRoot, waitFor } from '../support/processes.ts'

let c: GeoCluster
const probe = join(repoRoot, 'test/support/probe.ts')
const now = () => Number(process.hrtime.bigint() / 1_000_000n)

beforeAll(async () => {
  c = await GeoCluster.create(twoByTwoWithWitness)
  await c.startAll()
  await c.waitQuorate(c.names())
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

describe('force quorum on a live minority', () => {
  it('not confirmed: no write, no group there; on healing it yields and the majority loses nothing', async () => {
    const file = join(c.dir, 'web.probe')
    const leader = await c.waitQuorate(c.names())
    expect(
      (await c.api(leader, 'POST', '/v1/groups', { name: 'web', preferredOwners: ['phx-1'] })).status,
    ).toBe(201)
    const created = await c.api(leader, 'POST', '/v1/resources', {
      name: 'web-probe',
      group: 'web',
      type: 'generic-app',
      params: { command: `${process.execPath} ${probe} ${file} 2000`, stopTimeoutMs: '3000' },
    })
    expect(created.status).toBe(201)
    await c.api(leader, 'POST', '/v1/groups/web/online', {})
    await waitFor('web running on phx-1', () => readProbe(file).some((l) => l.node === 'phx-1'), 30_000)

    c.wan.cut(['atl'], ['phx', 'tie'])
    let forcedAt = 0
    try {
      await waitFor(
        'atl without quorum',
        async () => (await c.status('atl-1'))?.cluster.quorum.state === 'no-quorum',
        15_000,
      )
      // The operator forces the wrong side.
      await c.kill('atl-1', 'SIGTERM')
      await c.start('atl-1', ['--force-quorum'])
      forcedAt = now()
      expect(c.member('atl-1').output).toMatch(
        /FORCED QUORUM \(not confirmed\): it alone forms epoch 1 \(atl-1\//,
      )
      await waitFor(
        'atl-1 leading its unconfirmed epoch',
        async () => {
          const q = (await c.status('atl-1'))?.cluster.quorum
          return q?.state === 'quorate' && q.epoch === 1 && !q.confirmed
        },
        15_000,
      )
      expect((await c.cli('atl-1', ['status'])).stdout).toMatch(
        /FORCED QUORUM NOT CONFIRMED \(epoch 1, atl-1\//,
      )
      // (atl-2, long without a leader, stays in epoch 0: nobody gives anything up for an unconfirmed epoch.)
      const refused = await waitFor(
        'an answer from the forced epoch',
        async () => {
          const r = await c.api<{ error: { code: string; message: string } }>(
            'atl-1',
            'PUT',
            '/v1/config/forced',
            {
              value: 'x',
            },
          )
          return r.status !== 503 && r
        },
        15_000,
        200,
      )
      expect(refused.status, JSON.stringify(refused.body)).toBe(409)
      expect(refused.body.error.message).toMatch(/not confirmed/)
      // The majority goes on and acknowledges a write.
      const majority = await c.api('phx-1', 'PUT', '/v1/config/majority', { value: 'kept' })
      expect(majority.status).toBe(200)
      // Long enough for a lease granted by the forced epoch to have started the group there.
      await new Promise((r) => setTimeout(r, 4_000))
      expect(readProbe(file).filter((l) => l.node.startsWith('atl') && l.ms >= forcedAt)).toEqual([])
    } finally {
      c.wan.restore()
    }
    await waitFor(
      'atl-1 back in epoch 0 with the majority',
      async () => {
        const s = await c.status('atl-1')
        return (
          s?.cluster.quorum.state === 'quorate' && s.cluster.quorum.epoch === 0 && s.cluster.quorum.confirmed
        )
      },
      30_000,
    )
    await waitFor(
      "the majority's write on every node",
      async () =>
        (
          await Promise.all(c.names().map((n) => c.api<{ value?: string }>(n, 'GET', '/v1/config/majority')))
        ).every((r) => r.body.value === 'kept'),
      30_000,
    )
    const events = JSON.parse((await c.cli('atl-1', ['events', '--json', '--limit', '1000'])).stdout)
      .events as {
      type: string
      message: string
    }[]
    expect(events.find((e) => e.type === 'quorum:yielded')?.message).toMatch(
      /gave its forced epoch 1 \(atl-1\/[0-9a-z]+, unconfirmed\) up/,
    )
    const eps = episodes(readProbe(file))
    expect(overlaps(eps)).toEqual([])
    expect(tokensIncrease(eps)).toBe(true)
  }, 180_000)
})
