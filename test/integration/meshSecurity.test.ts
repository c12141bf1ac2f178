/**
 * Intruders get nowhere (issue "Authenticated geo mesh"): a peer with the right pre-shared key
 * but a key that is not a member's, a peer without the key (even at a member's own address), and
 * an evicted member. None opens a stream; nothing in the cluster changes.
 */
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { generateKey, preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, waitFor } from '../support/processes.ts'

let c: GeoCluster
const intruders: Libp2p[] = []

beforeAll(async () => {
  c = await GeoCluster.create({ sites: [{ name: 'dc', nodes: 3 }] })
  await c.startAll()
  await c.waitQuorate(c.names())
}, 90_000)

afterAll(async () => {
  await Promise.all(intruders.map((n) => n.stop()))
  await destroyGeoClusters()
  await cleanUp()
})

async function intruder(
  psk: Uint8Array | null,
  listen: string[] = ['/ip4/127.0.0.1/tcp/0'],
): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(psk === null ? {} : { connectionProtector: preSharedKey({ psk }) }),
  })
  intruders.push(node)
  return node
}

/** What must not change: the term, the log, and the membership. */
async function fingerprint(): Promise<string> {
  const s = (await Promise.all(c.names().map((n) => c.status(n)))) as StatusDocument[]
  return JSON.stringify(
    s.map((x) => [
      x.cluster.term,
      x.cluster.leader,
      x.storage.commitIndex,
      x.nodes.map((n) => `${n.name}:${n.state}`),
    ]),
  )
}

async function tryStreams(node: Libp2p, address: string): Promise<string[]> {
  const outcomes: string[] = []
  for (const protocol of [
    '/geocluster/raft/1.0.0',
    '/geocluster/heartbeat/1.0.0',
    '/geocluster/admin/1.0.0',
  ]) {
    try {
      const stream = await node.dialProtocol(multiaddr(address), protocol, {
        signal: AbortSignal.timeout(8_000),
      })
      // The dial may resolve before the member's gater aborts the connection: try to use it.
      stream.send(new Uint8Array([3, 1, 2, 3]))
      const answer = await Promise.race([
        (async () => {
          for await (const chunk of stream) return `answered ${chunk.byteLength} bytes`
          return 'closed'
        })(),
        new Promise<string>((r) => setTimeout(() => r('silence'), 1_000)),
      ])
      outcomes.push(`${protocol}: opened, ${answer}`)
    } catch (error) {
      outcomes.push(`${protocol}: refused (${(error as Error).name})`)
    }
  }
  return outcomes
}

describe('intruders', () => {
  it('a fresh key with the right pre-shared key opens no stream and changes nothing', async () => {
    const before = await fingerprint()
    const psk = new Uint8Array(readFileSync(join(c.dir, 'cluster.psk')))
    const node = await intruder(psk)
    const target = c.member('dc-1')
    const outcomes = await tryStreams(node, `/ip4/${target.ip}/tcp/${target.port}/p2p/${target.peerId}`)
    for (const o of outcomes) expect(o).not.toMatch(/answered/)
    // The gater aborts the connection: nothing stays open.
    await waitFor('no connection left', () => node.getConnections().length === 0, 5_000)
    expect(await fingerprint()).toBe(before)
  }, 60_000)

  it("a peer without the pre-shared key fails before the handshake, even at a member's own address", async () => {
    const before = await fingerprint()
    const target = c.member('dc-2')
    // No key at all, then a wrong one.
    for (const psk of [
      null,
      (() => {
        const k = new Uint8Array(95)
        generateKey(k)
        return k
      })(),
    ]) {
      const node = await intruder(psk)
      const outcomes = await tryStreams(node, `/ip4/${target.ip}/tcp/${target.port}/p2p/${target.peerId}`)
      for (const o of outcomes) expect(o).toMatch(/refused/)
    }
    // A member stops; an impostor without the key takes its address; the others cannot talk to it.
    const victim = c.member('dc-3')
    await c.kill('dc-3')
    const impostor = await intruder(null, [`/ip4/${victim.ip}/tcp/${victim.port}`])
    await new Promise((r) => setTimeout(r, 2_500))
    expect(impostor.getConnections().length).toBe(0)
    const s = (await c.status('dc-1'))!
    expect(s.nodes.find((n) => n.name === 'dc-3')?.state).toBe('down')
    await impostor.stop()
    await c.start('dc-3')
    await c.waitQuorate(c.names())
    expect(JSON.parse(await fingerprint()).map((x: unknown[]) => x[3])).toEqual(
      JSON.parse(before).map((x: unknown[]) => x[3]),
    )
  }, 90_000)

  it('50 idle sockets from outside, kept open, lock no member out: a restarted member still rejoins', async () => {
    // An attacker without the key, on ten addresses (each under libp2p's per-host rate limit),
    // keeps 50 idle TCP connections open to every member, reopening each as soon as it closes.
    const targets = c.names().map((n) => c.member(n))
    const sockets = new Set<Socket>()
    const opened = new Map<string, number>()
    const heldMs: number[] = []
    let stop = false
    const attacker = async (source: string, target: (typeof targets)[number]) => {
      const open = new Set<Socket>()
      while (!stop) {
        while (open.size < 5 && !stop) {
          const openedAt = performance.now()
          const s = connect({ host: target.ip, port: target.port, localAddress: source })
          s.on('error', () => {})
          s.on('close', () => {
            open.delete(s)
            sockets.delete(s)
            if (!stop) heldMs.push(performance.now() - openedAt)
          })
          open.add(s)
          sockets.add(s)
          opened.set(target.name, (opened.get(target.name) ?? 0) + 1)
          await sleep(260) // under 5 new connections per second per host
        }
        await sleep(50)
      }
    }
    const attackers = targets.flatMap((t) =>
      Array.from({ length: 10 }, (_, i) => attacker(`127.0.60.${i + 1}`, t)),
    )
    try {
      await waitFor(
        '50 idle sockets opened to every member',
        () => targets.every((t) => (opened.get(t.name) ?? 0) >= 50),
        20_000,
      )
      const victim = c.names()[2]!
      await c.kill(victim)
      await c.start(victim)
      await c.waitQuorate(c.names(), 20_000)
      // Writes still commit everywhere while the sockets keep coming.
      const write = await c.api(victim, 'PUT', '/v1/config/under/attack', { value: 'ok' })
      expect(write.status).toBe(200)
    } finally {
      stop = true
      await Promise.all(attackers)
      for (const s of sockets) s.destroy()
    }
    // The members hang up on idle sockets about when the key exchange times out (1 s), not later.
    const sorted = [...heldMs].sort((a, b) => a - b)
    expect(sorted.length).toBeGreaterThan(100)
    expect(sorted[Math.floor(sorted.length / 2)]!).toBeLessThan(3_000)
  }, 120_000)

  it('an evicted member is refused afterwards', async () => {
    const leader = await c.waitQuorate(c.names())
    const victim = c.names().find((n) => n !== leader)!
    const evict = await c.cli(leader, ['node', 'evict', victim])
    expect(evict.code, evict.stderr).toBe(0)
    const others = c.names().filter((n) => n !== victim)
    await waitFor(
      'the eviction everywhere',
      async () => {
        const s = await Promise.all(others.map((n) => c.status(n)))
        return s.every((x) => x?.nodes.find((n) => n.name === victim)?.state === 'evicted')
      },
      10_000,
    )
    await c.kill(victim)
    // Restarted with its old key and data: it is told it was evicted, or it stays outside.
    const restarted = await c.start(victim).then(
      () => 'started',
      (e: Error) => e.message,
    )
    if (restarted === 'started') {
      await new Promise((r) => setTimeout(r, 3_000))
      const s = await c.status(victim)
      expect(s?.cluster.quorum.state).toBe('no-quorum')
      const write = await c.api(victim, 'PUT', '/v1/config/from-evicted', { value: 'x' })
      expect(write.status).toBe(503)
    } else {
      expect(restarted).toMatch(/was evicted from cluster geo/)
    }
    // The others carry on without it, and never see it up again.
    const status = (await c.status(others[0]!))!
    expect(status.cluster.quorum.state).toBe('quorate')
    expect(status.nodes.find((n) => n.name === victim)?.state).toBe('evicted')
    expect((await c.api(others[0]!, 'PUT', '/v1/config/after-evict', { value: 'ok' })).status).toBe(200)
  }, 90_000)
})
