/**
 * The cloud witness against a real Azure-compatible server: Azurite's blob service on a free
 * loopback port (blobs in a temp dir, so a restart keeps them), behind a loopback HTTP proxy
 * that can throttle (503) or delay answers. Two sites of one node each and the witness's blob:
 * - the witness breaks the 50/50 split: cut the sites apart, one side keeps quorum and writes;
 * - a node with a stale log cannot take the witness's vote (the temporal partition);
 * - storage unreachable (Azurite stopped): the two nodes keep quorum, status says why the
 *   witness is down; back when Azurite is;
 * - throttled and slow answers: retried within the election timeout, the witness still counts;
 * - wrong credentials: a clear error at start, status and `validate --live` name it; a
 *   credentials file others can read stops the start (exit 2), naming the file;
 * - two members racing for the witness's vote in one term through the real server: one wins.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Message } from '../../src/consensus/types.ts'
import { AzuriteServer, azuriteAccount, writeAzuriteCredentials } from '../../src/lab/azuriteServer.ts'
import { StorageFaultProxy } from '../../src/lab/storageFaultProxy.ts'
import { decodeWitnessBlob } from '../../src/quorum/cloud/witnessBlob.ts'
import { CloudWitness } from '../../src/runtime/cloudWitness.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { AzureBlobStore } from '../../src/storage/azureBlobStore.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, runCli, tempDir, waitFor } from '../support/processes.ts'

let azurite: AzuriteServer
let proxy: StorageFaultProxy
let c: GeoCluster
let blobDir: string
let credentialsFile: string
const [east, west] = ['east-1', 'west-1'] as const

const store = () =>
  new AzureBlobStore({
    endpoint: azurite.endpoint,
    container: 'geocluster',
    blob: 'geo/w1.json',
    credentials: { kind: 'shared-key', accountName: azuriteAccount.name, accountKey: azuriteAccount.key },
    budgetMs: 5_000,
    bytesMax: 16_384,
  })

/** The witness's blob as it is now. */
async function witnessBlob() {
  const r = await store().read(AbortSignal.timeout(5_000))
  if (r.kind === 'absent') return null
  const d = decodeWitnessBlob(r.body, { cluster: 'geo', witness: 'w1' })
  if (!d.ok) throw new Error(d.problem)
  return d.doc
}

const quorumOf = async (name: string) => (await c.status(name))?.cluster.quorum.state

async function write(name: string, key: string, value: string, timeoutMs = 20_000) {
  return waitFor(
    `${name} takes the write ${key}`,
    async () => {
      const r = await c.api(name, 'PUT', `/v1/config/cloud/${key}`, { value }).catch(() => null)
      return r?.status === 200 ? r : undefined
    },
    timeoutMs,
  )
}

beforeAll(async () => {
  blobDir = tempDir('gc-azurite-')
  azurite = await AzuriteServer.start({ dataDir: blobDir })
  proxy = await StorageFaultProxy.start({ host: '127.0.0.1', port: azurite.port })
  credentialsFile = join(tempDir('gc-cloud-cred-'), 'witness.credentials')
  writeAzuriteCredentials(credentialsFile)
  c = await GeoCluster.create({
    sites: [
      { name: 'east', nodes: 1 },
      { name: 'west', nodes: 1 },
    ],
    cloudWitness: { endpoint: proxy.endpointFor(azuriteAccount.name), credentialsFile },
  })
  await c.startAll()
  await c.waitQuorate(c.names(), 30_000)
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await proxy?.stop()
  await azurite?.stop()
  await cleanUp()
})

describe('cloud witness (Azurite)', () => {
  it('counts as the third vote; its state is one blob that the leader stamps', async () => {
    const s = await waitFor('the witness counted', async () => {
      const st = await c.status(east)
      return st?.cluster.quorum.votesPresent === 3 ? (st as StatusDocument) : undefined
    })
    expect(s.cluster.quorum).toMatchObject({ model: 'node-and-witness', state: 'quorate', votesTotal: 3 })
    expect(s.witness).toMatchObject({ name: 'w1', type: 'cloud', state: 'up', votes: 1 })
    expect(s.witness?.problem).toBeUndefined()
    const doc = await waitFor('the leader stamped the blob', async () => {
      const d = await witnessBlob()
      return d?.heard?.leader === s.cluster.leader ? d : undefined
    })
    expect(doc).toMatchObject({ format: 'geocluster-witness/1', cluster: 'geo', witness: 'w1' })
  })

  it('breaks the 50/50 split: the sites cut apart, one side keeps quorum and takes writes', async () => {
    const leader = await c.waitQuorate(c.names())
    const other = leader === east ? west : east
    c.wan.cut(['east'], ['west'])
    try {
      // The side that holds the witness's vote goes on; the other has one vote of three.
      const keeper = await waitFor(
        'one side quorate, the other not',
        async () => {
          const [a, b] = [await quorumOf(leader), await quorumOf(other)]
          if (a === 'quorate' && b === 'no-quorum') return leader
          if (b === 'quorate' && a === 'no-quorum') return other
          return undefined
        },
        20_000,
      )
      const loser = keeper === leader ? other : leader
      await write(keeper, 'split', 'kept')
      const r = await c.api(loser, 'PUT', '/v1/config/cloud/split-lost', { value: 'no' }).catch(() => null)
      expect(r?.status).not.toBe(200)
      // It stays that way: the cut-off side does not take the witness away from the keeper.
      const doc = await witnessBlob()
      expect(doc?.heard?.leader).toBe(keeper)
      const termNow = (await c.status(keeper))!.cluster.term
      await new Promise((r) => setTimeout(r, 3_000))
      const later = (await c.status(keeper))!
      expect(later.cluster).toMatchObject({ leader: keeper, term: termNow, quorum: { state: 'quorate' } })
      expect(await quorumOf(loser)).toBe('no-quorum')
    } finally {
      c.wan.restore()
    }
    await c.waitQuorate(c.names(), 20_000)
    const back = await c.api<{ value: string }>(
      leader === east ? west : east,
      'GET',
      '/v1/config/cloud/split',
    )
    expect(back.body.value).toBe('kept')
  }, 60_000)

  it('a node with a stale log cannot take the witness’s vote (no temporal partition)', async () => {
    const leader = await c.waitQuorate(c.names())
    const stale = leader === east ? west : east
    await c.kill(stale)
    // The leader commits with the witness alone: W moves past what the stopped node holds.
    for (let i = 0; i < 5; i++) await write(leader, `alone-${i}`, `v${i}`)
    const w = (await witnessBlob())!.state.mark!
    await c.kill(leader)
    await c.start(stale)
    // Alone with the witness, the stale node asks for its vote and is refused every time.
    await new Promise((r) => setTimeout(r, 4_000))
    const s = await waitFor(`${stale}'s status`, () => c.status(stale).then((x) => x ?? undefined))
    expect(s.cluster.quorum.state).toBe('no-quorum')
    const doc = (await witnessBlob())!
    expect(doc.state.mark).toEqual(w)
    expect(doc.state.vote === stale && doc.state.term > 0).toBe(false)
    // The node that holds every committed write comes back: one history, nothing lost.
    await c.start(leader)
    await c.waitQuorate(c.names(), 30_000)
    for (let i = 0; i < 5; i++) {
      const value = await waitFor(`${stale} has alone-${i}`, async () => {
        const g = await c.api<{ value?: string }>(stale, 'GET', `/v1/config/cloud/alone-${i}`)
        return g.status === 200 ? g.body.value : undefined
      })
      expect(value).toBe(`v${i}`)
    }
  }, 120_000)

  it('throttled (503) and slow answers are retried within the election timeout; the witness still counts', async () => {
    const leader = await c.waitQuorate(c.names())
    const other = leader === east ? west : east
    proxy.set({ delayMs: 150 })
    const before = proxy.throttled
    proxy.set({ throttleNext: 2 })
    await c.kill(other)
    try {
      // Every commit now needs the witness: through a slow proxy that throttles now and then.
      for (let i = 0; i < 3; i++) {
        proxy.set({ throttleNext: 1 })
        await write(leader, `slow-${i}`, `v${i}`)
      }
      expect(proxy.throttled - before).toBeGreaterThanOrEqual(3)
      const s = (await c.status(leader))!
      expect(s.witness).toMatchObject({ state: 'up' })
      expect(s.cluster.quorum).toMatchObject({ state: 'quorate', votesPresent: 2 })
    } finally {
      proxy.set({ delayMs: 0, throttleNext: 0 })
      await c.start(other)
    }
    await c.waitQuorate(c.names(), 30_000)
  }, 90_000)

  it('throttled beyond its retries: the witness is down for status, the two nodes keep quorum', async () => {
    await c.waitQuorate(c.names())
    proxy.set({ throttleNext: 1_000_000 })
    try {
      const s = await waitFor(
        'status says the witness is busy',
        async () => {
          const st = await c.status(east)
          return st?.witness?.state === 'down' ? st : undefined
        },
        20_000,
      )
      expect(s.witness?.problem).toMatch(/busy or failing \(503 ServerBusy\)/)
      expect(s.cluster.quorum).toMatchObject({ state: 'quorate', votesPresent: 2 })
      await write(east, 'throttled', 'yes')
    } finally {
      proxy.set({ throttleNext: 0 })
    }
    await waitFor('the witness up again', async () =>
      (await c.status(east))?.witness?.state === 'up' ? 1 : undefined,
    )
  }, 60_000)

  it('storage unreachable: the cluster keeps its majority, status says the witness is down; back with the storage', async () => {
    await c.waitQuorate(c.names())
    const port = azurite.port
    await azurite.stop()
    try {
      const s = await waitFor(
        'status says the witness is unreachable',
        async () => {
          const st = await c.status(west)
          return st?.witness?.state === 'down' ? st : undefined
        },
        20_000,
      )
      expect(s.witness?.problem).toMatch(/cannot|socket hang up|ECONNRESET|no answer|reading/)
      expect(s.cluster.quorum).toMatchObject({ state: 'quorate', votesPresent: 2, votesNeeded: 2 })
      await write(west, 'no-storage', 'fine')
      const text = await c.cli(east, ['status'])
      expect(text.stdout).toMatch(/witness w1 \(cloud, site cloud\): down — /)
    } finally {
      azurite = await AzuriteServer.start({ dataDir: blobDir, port })
    }
    await waitFor(
      'the witness up again',
      async () => ((await c.status(west))?.witness?.state === 'up' ? 1 : undefined),
      20_000,
    )
  }, 60_000)

  it('wrong credentials: a clear error at start, in status and in validate --live; a readable file stops the start', async () => {
    await c.waitQuorate(c.names())
    const good = readFileSync(credentialsFile, 'utf8')
    const wrongKey = Buffer.from('not the account key, not at all').toString('base64')
    await c.kill(west, 'SIGTERM')
    writeFileSync(credentialsFile, `accountName: ${azuriteAccount.name}\naccountKey: ${wrongKey}\n`, {
      mode: 0o600,
    })
    try {
      await c.start(west)
      expect(c.member(west).output).toMatch(
        /cannot use the cloud witness w1: .*refused the credentials \(403/,
      )
      const s = await waitFor('west says why', async () => {
        const st = await c.status(west)
        return st?.witness?.state === 'down' ? st : undefined
      })
      expect(s.witness?.problem).toMatch(/refused the credentials/)
      const v = await runCli([
        'validate',
        '--config',
        c.topologyFile,
        '--live',
        '--api',
        c.member(east).url!,
        '--token',
        c.token(east),
      ])
      expect(v.code).toBe(1)
      expect(v.stdout).toMatch(/error: west-1 cannot use the cloud witness w1: .*refused the credentials/)
      expect(v.stdout).not.toMatch(/error: east-1 cannot use/)
      // A credentials file others may read: the node refuses to start, naming it.
      await c.kill(west, 'SIGTERM')
      writeFileSync(credentialsFile, good)
      chmodSync(credentialsFile, 0o644)
      await expect(c.start(west)).rejects.toThrow(/exited during start/)
      expect(c.member(west).lastExit?.code).toBe(2)
      expect(c.member(west).output).toContain(
        `cloud witness credentials ${credentialsFile}: mode 0644 lets others read it; it must be 0600`,
      )
    } finally {
      writeFileSync(credentialsFile, good)
      chmodSync(credentialsFile, 0o600)
    }
    await c.start(west)
    await c.waitQuorate(c.names(), 30_000)
  }, 90_000)
})

describe('cloud witness: members racing through the real server', () => {
  it('two candidates asking for the vote in the same term: exactly one wins, every term', async () => {
    const logger = createLogger({ pretty: false, level: 'silent' })
    const answers = new Map<string, Message[]>()
    const witnessFor = (self: string) =>
      new CloudWitness({
        self,
        witness: 'race',
        cluster: 'race',
        openStore: async () =>
          new AzureBlobStore({
            endpoint: azurite.endpoint,
            container: 'race',
            blob: `race-${process.pid}.json`,
            credentials: {
              kind: 'shared-key',
              accountName: azuriteAccount.name,
              accountKey: azuriteAccount.key,
            },
            budgetMs: 5_000,
            bytesMax: 16_384,
          }),
        electionTicks: 10,
        budgetMs: 5_000,
        probeEveryMs: 60_000,
        beatEveryMs: 60_000,
        stickyMs: 1,
        monotonic: () => performance.now(),
        logger,
        emit: () => {},
        deliver: (m) => answers.set(m.to, [...(answers.get(m.to) ?? []), m]),
      })
    const [a, b] = [witnessFor('a'), witnessFor('b')]
    await Promise.all([a.start(), b.start()])
    try {
      const terms = 15
      for (let term = 1; term <= terms; term++) {
        const ask = (from: string): Message => ({
          type: 'vote',
          from,
          to: 'race',
          term,
          epoch: 0,
          last: { term: 0, index: 0 },
          transfer: false,
        })
        a.submit(ask('a'))
        b.submit(ask('b'))
        await waitFor(
          `both answered in term ${term}`,
          () => [...answers.values()].every((xs) => xs.some((m) => m.term === term)) && answers.size === 2,
        )
      }
      for (let term = 1; term <= terms; term++) {
        const winners = [...answers.entries()].filter(([, xs]) =>
          xs.some((m) => m.term === term && m.type === 'vote-resp' && m.granted),
        )
        expect(winners.length, `term ${term}`).toBe(1)
      }
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  }, 60_000)
})
