/**
 * One contract, two transports: two members of a real mesh on loopback (libp2p, Noise, the
 * pre-shared key) and two members of the in-memory network pass the same suite.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Message } from '../../src/consensus/types.ts'
import { createSecret, loadSecret } from '../../src/mesh/clusterSecret.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import { MemoryNetwork } from '../../src/runtime/memoryTransport.ts'
import { type Member, NodeMesh } from '../../src/runtime/nodeMesh.ts'
import type { Transport } from '../../src/runtime/transport.ts'

interface TransportSite {
  a: Transport
  b: Transport
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const address = server.address()
  await new Promise((r) => server.close(r))
  return typeof address === 'object' && address !== null ? address.port : 0
}

async function meshSite(): Promise<TransportSite> {
  const dir = mkdtempSync(join(tmpdir(), 'gc-transport-'))
  createSecret(join(dir, 'secret'))
  const psk = loadSecret(join(dir, 'secret'))
  const keys = { a: await generateKeyPair('Ed25519'), b: await generateKeyPair('Ed25519') }
  const members: Member[] = []
  for (const name of ['a', 'b'] as const)
    members.push({
      name,
      site: 's',
      peerId: peerIdFromPrivateKey(keys[name]).toString(),
      address: `/ip4/127.0.0.1/tcp/${await freePort()}`,
    })
  const mesh = (name: 'a' | 'b') =>
    new NodeMesh({
      self: name,
      site: 's',
      privateKey: keys[name],
      psk,
      listen: [members.find((m) => m.name === name)!.address],
      logger: createLogger({ pretty: false, level: 'silent' }),
      timing: {
        sameSite: { heartbeatMs: 100, threshold: 10 },
        crossSite: { heartbeatMs: 100, threshold: 10 },
      },
      monotonic: () => performance.now(),
      leaderView: () => ({ leader: '', term: 0 }),
      onAdmin: async () => ({ status: 503, body: new Uint8Array([123, 125]) }),
    })
  const a = mesh('a')
  const b = mesh('b')
  await Promise.all([a.start(members), b.start(members)])
  return {
    a,
    b,
    stop: async () => {
      await Promise.all([a.stop(), b.stop()])
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const sites: Record<string, () => Promise<TransportSite>> = {
  'the mesh on loopback': meshSite,
  'the in-memory network': async () => {
    const net = new MemoryNetwork()
    return { a: net.endpoint('a'), b: net.endpoint('b'), stop: async () => {} }
  },
}

const heartbeat = (from: string, to: string, commit: number): Message => ({
  type: 'heartbeat',
  from,
  to,
  term: 1,
  epoch: 0,
  commit,
  ctx: null,
})

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

for (const [name, make] of Object.entries(sites)) {
  describe(`transport compliance: ${name}`, () => {
    let site: TransportSite
    const got: Record<'a' | 'b', Message[]> = { a: [], b: [] }
    beforeAll(async () => {
      site = await make()
      site.a.deliverTo((m) => {
        got.a.push(m)
        return true
      })
      site.b.deliverTo((m) => {
        got.b.push(m)
        return true
      })
    })
    afterAll(async () => {
      await site.stop()
    })

    it('delivers a message to its member as it was sent, in order per pair', async () => {
      got.b.length = 0
      for (let i = 1; i <= 20; i++) site.a.send(heartbeat('a', 'b', i))
      await until('20 messages at b', () => got.b.length === 20)
      expect(got.b.map((m) => m.type === 'heartbeat' && m.commit)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      )
      expect(got.b.every((m) => m.from === 'a' && m.to === 'b' && m.term === 1)).toBe(true)
    })

    it('carries both ways', async () => {
      got.a.length = 0
      site.b.send(heartbeat('b', 'a', 7))
      await until('a message at a', () => got.a.length === 1)
      expect(got.a[0]).toMatchObject({ type: 'heartbeat', from: 'b', to: 'a', commit: 7 })
    })

    it('never delivers a message sent in another member’s name (and the link comes back)', async () => {
      got.b.length = 0
      site.a.send(heartbeat('c', 'b', 1))
      // The mesh closes the link a forgery came on: honest messages go through again once redialled.
      const again = setInterval(() => site.a.send(heartbeat('a', 'b', 2)), 50)
      try {
        await until('an honest message', () => got.b.some((m) => m.type === 'heartbeat' && m.commit === 2))
      } finally {
        clearInterval(again)
      }
      expect(got.b.some((m) => m.from === 'c')).toBe(false)
    })

    it('loses a message to a member that is not there, and goes on', async () => {
      got.b.length = 0
      site.a.send(heartbeat('a', 'nobody', 1))
      site.a.send(heartbeat('a', 'b', 3))
      await until('the next message', () => got.b.length >= 1)
      expect(got.b.at(-1)).toMatchObject({ commit: 3 })
    })
  })
}
