/**
 * No member is an administrator by holding its key and the pre-shared key (issue: hardening,
 * item 2). A host that has a member's key and the PSK opens the admin protocol with the
 * production mesh code, as a compromised host could: the witness is refused every admin call;
 * a node's calls are recorded as that node's whatever it claims, and it cannot release a group
 * it does not own or save a checkpoint for another node.
 */
import { join } from 'node:path'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadSecret } from '../../src/mesh/clusterSecret.ts'
import { AdminRequestSchema, AdminResponseSchema } from '../../src/mesh/gen/geocluster_pb.ts'
import { Mesh } from '../../src/mesh/mesh.ts'
import { loadOrCreateIdentity } from '../../src/mesh/nodeIdentity.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, waitFor } from '../support/processes.ts'

let c: GeoCluster
let leader: string
const meshes: Mesh[] = []

beforeAll(async () => {
  c = await GeoCluster.create({ sites: [{ name: 'dc', nodes: 3 }], witnessSite: 'tie' })
  await c.startAll()
  leader = await c.waitQuorate(c.names())
}, 90_000)

afterAll(async () => {
  await Promise.all(meshes.map((m) => m.stop()))
  await destroyGeoClusters()
  await cleanUp()
})

/** The production mesh, holding member `name`'s key and the cluster's PSK, dialling every node. */
async function impersonate(name: string): Promise<Mesh> {
  const m = c.member(name)
  const identity = await loadOrCreateIdentity(m.dataDir)
  const mesh = new Mesh({
    self: name,
    privateKey: identity.privateKey,
    psk: loadSecret(join(c.dir, 'cluster.psk')),
    listen: [],
    logger: pino({ level: 'silent' }),
    onFrame: () => false,
    onRequest: async () => new Uint8Array(),
    onCatchUp: () => ({ frame: () => 'refused', closed: () => {} }),
  })
  meshes.push(mesh)
  await mesh.start(
    c.names().map((n) => {
      const p = c.member(n)
      return { name: n, peerId: p.peerId, address: `/ip4/${p.ip}/tcp/${p.port}` }
    }),
  )
  return mesh
}

async function adminCall(
  mesh: Mesh,
  to: string,
  method: string,
  body: unknown,
  by: string,
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const frame = toBinary(
    AdminRequestSchema,
    create(AdminRequestSchema, {
      method,
      path: '',
      body: new TextEncoder().encode(JSON.stringify(body)),
      by,
    }),
  )
  const answer = fromBinary(AdminResponseSchema, await mesh.request(to, frame))
  return { status: answer.status, body: JSON.parse(new TextDecoder().decode(answer.body)) }
}

const evilResource = {
  op: 'resource.create',
  name: 'evil',
  group: 'g',
  type: 'generic-app',
  params: { command: 'touch /tmp/pwned' },
  dependsOn: [],
  restartThreshold: 1,
  restartPeriodMs: 60_000,
}

describe('admin calls over the mesh', () => {
  it('the witness, holding its key and the PSK, is refused every admin call on every node', async () => {
    const mesh = await impersonate('w1')
    for (const to of c.names()) {
      for (const [method, body] of [
        ['propose', { command: { op: 'config.set', key: 'owned/by', value: 'witness' } }],
        ['propose', { command: evilResource }],
        [
          'addNode',
          {
            name: 'n9',
            site: 'dc',
            votes: 1,
            peerId: c.member('w1').peerId,
            address: '/ip4/127.0.0.1/tcp/1',
          },
        ],
        ['evictNode', { name: to }],
        ['selfReport', {}],
      ] as const) {
        const answer = await adminCall(mesh, to, method, body, `admin@${to}`)
        expect(answer.status, `${method} to ${to}`).toBe(403)
        expect(answer.body.error?.code).toBe('GC_ERR_FORBIDDEN')
      }
    }
    const r = await c.api(leader, 'GET', '/v1/config/owned/by')
    expect(r.status).toBe(404)
    const nodes = await c.api<{ nodes: { name: string }[] }>(leader, 'GET', '/v1/nodes')
    expect(nodes.body.nodes.map((n) => n.name).sort()).toEqual(c.names().sort())
    const audit = await c.api<{ entries: { by: string }[] }>(leader, 'GET', '/v1/audit')
    expect(audit.body.entries.some((a) => a.by.includes('w1'))).toBe(false)
  }, 60_000)

  it("a node's forwarded calls are stamped with its own name, and it speaks only for itself", async () => {
    const caller = c.names().find((n) => n !== leader)!
    const other = c.names().find((n) => n !== leader && n !== caller)!
    const mesh = await impersonate(caller)
    // It claims to be the leader's API: the audit trail says who it really is.
    const set = await adminCall(
      mesh,
      leader,
      'propose',
      { command: { op: 'config.set', key: 'stamped/by', value: '1' } },
      `admin@${leader}`,
    )
    expect(set.status).toBe(200)
    await waitFor('the audit record', async () => {
      const audit = await c.api<{ entries: { subject: string; by: string }[] }>(leader, 'GET', '/v1/audit')
      return audit.body.entries.find((a) => a.subject === 'stamped/by')
    })
    const audit = await c.api<{ entries: { subject: string; by: string }[] }>(leader, 'GET', '/v1/audit')
    expect(audit.body.entries.find((a) => a.subject === 'stamped/by')?.by).toBe(`admin@${caller}`)

    // A group owned by another node: the caller can neither release it nor checkpoint for it.
    await c.api(leader, 'POST', '/v1/groups', {
      name: 'g',
      preferredOwners: [other],
      possibleOwners: [other],
    })
    await c.api(leader, 'POST', '/v1/resources', {
      name: 'r',
      group: 'g',
      type: 'generic-app',
      params: { command: 'sleep 600', checkpoint: '/tmp/gc-mesh-admin-state' },
    })
    await c.api(leader, 'POST', '/v1/groups/g/online', {})
    const owned = await waitFor('g placed', async () => {
      const s = await c.api<{ groups: { name: string; owner: string | null; fencingToken: number }[] }>(
        leader,
        'GET',
        '/v1/status',
      )
      const g = s.body.groups.find((x) => x.name === 'g')
      return g?.owner === other ? g : undefined
    })
    const release = await adminCall(
      mesh,
      leader,
      'propose',
      { command: { op: 'group.release', name: 'g', token: owned.fencingToken } },
      `node:${caller}`,
    )
    expect(release.status).toBe(403)
    expect(release.body.error?.message).toMatch(/does not own it/)
    const checkpoint = await adminCall(
      mesh,
      leader,
      'propose',
      { command: { op: 'resource.checkpoint', name: 'r', node: other, at: 1, files: [] } },
      `node:${caller}`,
    )
    expect(checkpoint.status).toBe(403)
    const s = await c.api<{ groups: { name: string; owner: string | null }[] }>(leader, 'GET', '/v1/status')
    expect(s.body.groups.find((x) => x.name === 'g')?.owner).toBe(other)
  }, 60_000)
})
