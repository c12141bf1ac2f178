/**
 * Requests between members ride one long-lived call stream per peer (callStreams.ts), so a
 * forwarded write costs one round trip, not a stream negotiation and then a round trip. A peer
 * of an older release, which does not speak the call protocol, is still asked, one request per
 * stream on the admin protocol. Two real meshes on loopback.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createSecret, loadSecret } from '../../src/mesh/clusterSecret.ts'
import { Mesh, type ProtocolName, protocols } from '../../src/mesh/mesh.ts'
import { loadOrCreateIdentity } from '../../src/mesh/nodeIdentity.ts'

const dirs: string[] = []
const meshes: Mesh[] = []
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.stop()))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** Caller `a` and callee `b`, b answering each request with `b:` and its bytes; b's inbound streams counted. */
async function twoMeshes() {
  const dir = mkdtempSync(join(tmpdir(), 'gc-meshcalls-'))
  dirs.push(dir)
  createSecret(join(dir, 'cluster.psk'))
  for (const n of ['a', 'b']) mkdirSync(join(dir, n))
  const [a, b] = await Promise.all(['a', 'b'].map((n) => loadOrCreateIdentity(join(dir, n))))
  const make = (
    self: string,
    key: typeof a,
    onRequest: (from: string, f: Uint8Array) => Promise<Uint8Array>,
  ) => {
    const mesh = new Mesh({
      self,
      privateKey: key!.privateKey,
      psk: loadSecret(join(dir, 'cluster.psk')),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logger: pino({ level: 'silent' }),
      onFrame: () => true,
      onRequest,
      onCatchUp: () => ({ frame: () => 'refused', closed: () => {} }),
    })
    meshes.push(mesh)
    return mesh
  }
  const inbound: Partial<Record<ProtocolName, number>> = {}
  const callee = make('b', b, async (from, f) =>
    new TextEncoder().encode(`b:${from}:${new TextDecoder().decode(f)}`),
  )
  const accept = callee.accept.bind(callee)
  callee.accept = (protocol, stream, connection) => {
    inbound[protocol] = (inbound[protocol] ?? 0) + 1
    accept(protocol, stream, connection)
  }
  // Nothing dials a: its address is loopback on a port nobody listens on.
  await callee.start([
    { name: 'a', peerId: a!.peerId, address: '/ip4/127.0.0.1/tcp/9' },
    { name: 'b', peerId: b!.peerId, address: '/ip4/127.0.0.1/tcp/9' },
  ])
  const port = /\/tcp\/(\d+)/.exec(callee.listening[0]!)![1]
  const caller = make('a', a, async () => new Uint8Array())
  await caller.start([
    { name: 'a', peerId: a!.peerId, address: '/ip4/127.0.0.1/tcp/9' },
    { name: 'b', peerId: b!.peerId, address: `/ip4/127.0.0.1/tcp/${port}` },
  ])
  return { caller, callee, inbound }
}

const text = (s: string) => new TextEncoder().encode(s)
const read = (b: Uint8Array) => new TextDecoder().decode(b)

describe('requests between members', () => {
  it('share one call stream per peer, in parallel and in sequence', async () => {
    const { caller, inbound } = await twoMeshes()
    const together = await Promise.all(
      Array.from({ length: 20 }, (_, i) => caller.request('b', text(`p${i}`))),
    )
    expect(together.map(read)).toEqual(Array.from({ length: 20 }, (_, i) => `b:a:p${i}`))
    for (let i = 0; i < 10; i++) expect(read(await caller.request('b', text(`s${i}`)))).toBe(`b:a:s${i}`)
    expect(inbound).toEqual({ call: 1 })
    expect(caller.callsInFlight()).toEqual(new Map([['b', 0]]))
  })

  it('ask a peer without the call protocol (an older release) one request per stream', async () => {
    const { caller, callee, inbound } = await twoMeshes()
    await (callee as unknown as { node: Libp2p }).node.unhandle(protocols.call)
    for (let i = 0; i < 3; i++) expect(read(await caller.request('b', text(`old${i}`)))).toBe(`b:a:old${i}`)
    expect(inbound).toEqual({ admin: 3 })
  })

  it('refuse requests to a member that was removed, and drop its call stream', async () => {
    const { caller } = await twoMeshes()
    expect(read(await caller.request('b', text('first')))).toBe('b:a:first')
    caller.setPeers([])
    await expect(caller.request('b', text('after'))).rejects.toThrow('b is not a member')
    expect(caller.callsInFlight()).toEqual(new Map())
  })
})
