/**
 * A file-share witness with real processes: two nodes (one per site) and a witness that is a
 * directory both can reach. The witness's vote goes with the share's lease; its state (term,
 * vote, W) is in the share, so whichever node serves it next continues from it. Checked: quorate
 * with 3 votes; kill -9 of the node serving the witness → the other node takes the share and,
 * with the witness's vote, leads alone and takes writes; acknowledged writes survive.
 */
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { SharedRecoveryLog } from '../../src/storage/sharedRecoveryLog.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, waitFor } from '../support/processes.ts'

let c: GeoCluster
const now = () => Number(process.hrtime.bigint() / 1_000_000n)

beforeAll(async () => {
  c = await GeoCluster.create({
    sites: [
      { name: 'east', nodes: 1 },
      { name: 'west', nodes: 1 },
    ],
    shareWitnessSite: 'share',
  })
  await c.startAll()
  await c.waitQuorate(c.names(), 30_000)
  // A blank share costs a full challenge wait before anyone serves the witness.
  await waitFor('the witness served from the share', async () => (await witnessHost()) ?? undefined, 20_000)
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

/** Whose events say it serves the witness now. */
async function witnessHost(): Promise<string | null> {
  const chain = new SharedRecoveryLog(join(c.dir, 'witness-share', 'state.log')).read()
  return chain.head?.holder ?? null
}

describe('file-share witness', () => {
  it('counts as the third vote, served by one node from the share', async () => {
    const s = await waitFor('the witness counted', async () => {
      const st = await c.status(c.names()[0]!)
      return st?.cluster.quorum.votesPresent === 3 ? (st as StatusDocument) : undefined
    })
    expect(s.cluster.quorum).toMatchObject({
      model: 'node-and-witness',
      state: 'quorate',
      votesTotal: 3,
      votesNeeded: 2,
      votesPresent: 3,
    })
    expect(s.witness).toMatchObject({ name: 'w1', type: 'file-share', state: 'up', votes: 1 })
    expect(readdirSync(join(c.dir, 'witness-share')).sort()).toEqual(['lease', 'state.log'])
    expect(c.names()).toContain(await witnessHost())
  })

  it('kill -9 of the node serving the witness: the other takes the share and leads alone with its vote', async () => {
    const host = (await witnessHost())!
    const other = c.names().find((n) => n !== host)!
    for (let i = 0; i < 10; i++)
      expect((await c.api(other, 'PUT', `/v1/config/share/k${i}`, { value: `v${i}` })).status).toBe(200)
    const killedAt = now()
    await c.kill(host)
    // The other node takes the share (a challenge), then leads with the witness's vote: a write
    // through it is acknowledged by itself and the witness alone.
    await waitFor(
      `${other} serves the witness`,
      async () => ((await witnessHost()) === other ? true : undefined),
      30_000,
    )
    await waitFor(
      `${other} takes a write with the witness`,
      async () => {
        const r = await c.api(other, 'PUT', '/v1/config/share/after', { value: 'yes' }).catch(() => null)
        return r?.status === 200 ? r : undefined
      },
      30_000,
    )
    console.log(
      `file-share witness: kill -9 of ${host} → ${other} serves the witness and takes writes after ${now() - killedAt} ms`,
    )
    // Status may be refused for a moment (load shedding answers 503 while ticks run late on a
    // loaded machine): ask until it answers.
    const s = await waitFor(`${other}'s status`, () => c.status(other).then((x) => x ?? undefined), 15_000)
    expect(s.cluster).toMatchObject({ leader: other, quorum: { state: 'quorate', votesPresent: 2 } })
    for (let i = 0; i < 10; i++) {
      const g = await c.api<{ value: string }>(other, 'GET', `/v1/config/share/k${i}`)
      expect(g.body.value).toBe(`v${i}`)
    }
    // The killed node returns and follows: one history.
    await c.start(host)
    await c.waitQuorate(c.names(), 30_000)
    const back = await c.api<{ value: string }>(host, 'GET', '/v1/config/share/after')
    expect(back.body.value).toBe('yes')
  }, 120_000)
})
