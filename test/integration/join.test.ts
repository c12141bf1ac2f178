/**
 * A member joins a running geo cluster: `node add` through any member (the sponsor) puts it in
 * the cluster database and the voting configuration; the new node starts with an empty data dir
 * and takes the leader's snapshot, streamed in chunks, because the log it would need has been
 * compacted away. A stale copy of another member's data is refused, never merged. Then an
 * operator pauses and resumes it.
 */
import { cpSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { catchUpLimits } from '../../src/mesh/snapshotTransfer.ts'
import { destroyGeoClusters, GeoCluster, threeSites } from '../support/geoCluster.ts'
import { cleanUp, waitFor } from '../support/processes.ts'

let c: GeoCluster

beforeAll(async () => {
  c = await GeoCluster.create({
    sites: threeSites,
    spares: [{ name: 'west-2', site: 'west' }],
    snapshotEvery: 40,
  })
  await c.startAll()
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

// Enough data that the snapshot spans several chunks.
const bigValue = (i: number) => `${i}:`.padEnd(60_000, String.fromCharCode(97 + (i % 26)))
const bigKeys = 30

describe('a member added through the log', () => {
  it('joins through any member, catches up by a chunked snapshot, and then serves linearizable reads', async () => {
    const leader = await c.waitQuorate(c.names())
    const sponsor = c.names().find((n) => n !== leader)!
    for (let i = 0; i < bigKeys; i++) {
      const r = await c.api(sponsor, 'PUT', `/v1/config/big/${i}`, { value: bigValue(i) })
      expect(r.status).toBe(200)
    }
    // Past the snapshot interval twice over, so the log that would replay from the start is gone.
    for (let i = 0; i < 60; i++)
      expect((await c.api(leader, 'PUT', `/v1/config/small/${i}`, { value: `${i}` })).status).toBe(200)

    const spare = c.member('west-2')
    // A copy of a member's data taken before the add does not list west-2: refused, not trusted.
    cpSync(join(c.member(sponsor).dataDir, 'wal'), join(spare.dataDir, 'wal'), { recursive: true })
    cpSync(join(c.member(sponsor).dataDir, 'snap'), join(spare.dataDir, 'snap'), { recursive: true })

    const add = await c.cli(sponsor, [
      'node',
      'add',
      'west-2',
      '--site',
      'west',
      '--address',
      `/ip4/${spare.proxyIp}/tcp/${spare.port}`,
      '--peer-id',
      spare.peerId,
      '--json',
    ])
    expect(add.code, add.stderr).toBe(0)
    c.admit('west-2')
    await expect(c.start('west-2')).rejects.toThrow(/node west-2 is not a member of cluster geo/)
    rmSync(join(spare.dataDir, 'wal'), { recursive: true })
    rmSync(join(spare.dataDir, 'snap'), { recursive: true })

    await c.start('west-2')
    const names = c.names()
    await c.waitQuorate(names, 20_000)
    const joined = await waitFor(
      'west-2 to read what was written before it joined',
      async () => {
        const r = await c
          .api<{ value: string }>('west-2', 'GET', `/v1/config/big/${bigKeys - 1}`)
          .catch(() => null)
        return r?.status === 200 && r.body.value === bigValue(bigKeys - 1) ? r : undefined
      },
      20_000,
    )
    expect(joined.status).toBe(200)
    expect((await c.api<{ value: string }>('west-2', 'GET', '/v1/config/small/59')).body.value).toBe('59')

    // It came by snapshot, in several chunks, with progress logged at both ends.
    const leaderNow = await c.waitQuorate(names)
    const received = /"totalBytes":(\d+),"ms":\d+,"mbPerS":[\d.]+,"msg":"catch-up: snapshot received"/.exec(
      c.member('west-2').output,
    )
    expect(received, c.member('west-2').output.slice(-3000)).not.toBeNull()
    expect(Number(received![1])).toBeGreaterThan(3 * catchUpLimits.chunkBytes)
    expect(c.member('west-2').output).toMatch(/catch-up: receiving a snapshot/)
    expect(names.map((n) => c.member(n).output).join('')).toMatch(/catch-up: snapshot sent/)

    // Every member sees it up with its vote; four votes, three needed.
    for (const n of names) {
      await waitFor(`${n} to see west-2 up`, async () => {
        const s = await c.status(n)
        return s?.nodes.find((x) => x.name === 'west-2')?.state === 'up' ? s : undefined
      })
    }
    const status = (await c.status(leaderNow))!
    expect(status.nodes.find((n) => n.name === 'west-2')).toMatchObject({ site: 'west', votes: 1 })
    expect(status.cluster.quorum).toMatchObject({ votesTotal: 4, votesNeeded: 3 })
    expect(status.catchUp).toEqual([])
    // Writes through the new member reach everyone.
    expect((await c.api('west-2', 'PUT', '/v1/config/from/west-2', { value: 'hi' })).status).toBe(200)
    for (const n of names) {
      const r = await c.api<{ value: string }>(n, 'GET', '/v1/config/from/west-2')
      expect(r.body.value, n).toBe('hi')
    }
  }, 120_000)

  it('pauses and resumes a member from any node; everyone shows it paused meanwhile', async () => {
    const names = c.names()
    const via = names.find((n) => n !== 'west-2')!
    const pause = await c.cli(via, ['node', 'pause', 'west-2'])
    expect(pause.code, pause.stderr).toBe(0)
    expect(pause.stdout).toMatch(/node west-2 paused/)
    for (const n of names) {
      await waitFor(`${n} to show west-2 paused`, async () => {
        const s = await c.status(n)
        return s?.nodes.find((x) => x.name === 'west-2')?.state === 'paused'
      })
    }
    // Paused keeps its vote: still four votes.
    expect((await c.status(via))!.cluster.quorum.votesTotal).toBe(4)
    const list = await c.cli('west-2', ['node', 'list', '--json'])
    expect(JSON.parse(list.stdout).nodes.find((n: { name: string }) => n.name === 'west-2').state).toBe(
      'paused',
    )
    const resume = await c.cli('west-2', ['node', 'resume', 'west-2', '--json'])
    expect(resume.code, resume.stderr).toBe(0)
    expect(JSON.parse(resume.stdout)).toEqual({ name: 'west-2', paused: false })
    for (const n of names) {
      await waitFor(`${n} to show west-2 up again`, async () => {
        const s = await c.status(n)
        return s?.nodes.find((x) => x.name === 'west-2')?.state === 'up'
      })
    }
    const unknown = await c.cli(via, ['node', 'pause', 'nobody'])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toMatch(/no node nobody/)
  }, 60_000)
})
