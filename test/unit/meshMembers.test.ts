/**
 * A member that leaves between a send and the end of the turn (eviction: the mesh gets the new
 * members while frames to the old one are queued) takes its queue with it. Frames leave at the
 * end of the turn (frameBatch.ts); once, the flush then dialled a member with no address any
 * more and the exception took the node down (ownership and meshSecurity tests, evict).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createSecret, loadSecret } from '../../src/mesh/clusterSecret.ts'
import { Mesh } from '../../src/mesh/mesh.ts'
import { loadOrCreateIdentity } from '../../src/mesh/nodeIdentity.ts'

const dirs: string[] = []
const meshes: Mesh[] = []
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.stop()))
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('the mesh when members change', () => {
  it('drops what was queued for a member that left in the same turn, and does not dial it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gc-meshmembers-'))
    dirs.push(dir)
    createSecret(join(dir, 'cluster.psk'))
    for (const n of ['a', 'b']) mkdirSync(join(dir, n))
    const [a, b] = await Promise.all(['a', 'b'].map((n) => loadOrCreateIdentity(join(dir, n))))
    const mesh = new Mesh({
      self: 'a',
      privateKey: a!.privateKey,
      psk: loadSecret(join(dir, 'cluster.psk')),
      listen: [],
      logger: pino({ level: 'silent' }),
      onFrame: () => true,
      onRequest: async () => new Uint8Array(),
      onCatchUp: () => ({ frame: () => 'refused', closed: () => {} }),
    })
    meshes.push(mesh)
    // b's address is loopback on a port nobody listens on: nothing leaves this machine.
    const members = [
      { name: 'a', peerId: a!.peerId, address: '/ip4/127.0.0.1/tcp/9' },
      { name: 'b', peerId: b!.peerId, address: '/ip4/127.0.0.1/tcp/9' },
    ]
    await mesh.start(members)
    expect(mesh.send('raft', 'b', new Uint8Array([1, 2, 3]))).toBe(true)
    mesh.setPeers(members.slice(0, 1))
    await new Promise((r) => setTimeout(r, 50))
    expect(mesh.linkStats()).toEqual([])
  })
})
