/**
 * The admin API driven without a socket (`app.request`) against a real node in a temp dir:
 * token auth, the error shape, schema checks, and 1,000 random requests that must never get
 * a 500 or crash the node.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import type { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildAdminApi, requestBodyBytesMax } from '../../src/api/adminApi.ts'
import { labTopology } from '../../src/cli/commands/labCommand.ts'
import { ClusterNode } from '../../src/runtime/clusterNode.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import { tempDir } from '../support/processes.ts'

let node: ClusterNode
let app: Hono
let dir: string

beforeAll(async () => {
  dir = tempDir()
  node = await ClusterNode.start({
    dataDir: join(dir, 'data'),
    topology: labTopology,
    nodeName: 'lab-1',
    logger: createLogger({ pretty: false, level: 'silent' }),
    command: 'adminApi.test',
  })
  app = buildAdminApi(node)
})

afterAll(async () => {
  await node.stop()
  rmSync(dir, { recursive: true, force: true })
})

function call(method: string, path: string, body?: string | object, token: string | null = node.adminToken) {
  const headers: Record<string, string> = {}
  if (token !== null) headers.Authorization = `Bearer ${token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  return app.request(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  })
}

async function errorOf(res: Response): Promise<{ code: string; message: string; path?: string }> {
  const body = (await res.json()) as { error: { code: string; message: string; path?: string } }
  expect(body.error.code).toMatch(/^GC_ERR_/)
  expect(typeof body.error.message).toBe('string')
  return body.error
}

describe('auth', () => {
  it('answers 401 with the error shape without a token or with a wrong one', async () => {
    for (const token of [null, 'wrong-token', `${node.adminToken}x`]) {
      const res = await call('GET', '/v1/status', undefined, token)
      expect(res.status).toBe(401)
      expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer/)
      expect((await errorOf(res)).code).toBe('GC_ERR_UNAUTHORIZED')
    }
    const write = await call('PUT', '/v1/config/x', { value: '1' }, null)
    expect(write.status).toBe(401)
    expect((await call('GET', '/v1/config/x')).status).toBe(404) // the unauthorised write did nothing
  })

  it('serves /healthz without a token', async () => {
    const res = await call('GET', '/healthz', undefined, null)
    expect(res.status).toBe(200)
  })
})

describe('bad input', () => {
  it('answers malformed JSON with 400 GC_ERR_BAD_JSON', async () => {
    const res = await call('POST', '/v1/groups', '{"name": "web",')
    expect(res.status).toBe(400)
    expect(await errorOf(res)).toMatchObject({ code: 'GC_ERR_BAD_JSON', path: 'body' })
  })

  it('names the field of a schema miss', async () => {
    const missing = await call('POST', '/v1/groups', {})
    expect(missing.status).toBe(400)
    expect(await errorOf(missing)).toMatchObject({
      code: 'GC_ERR_BAD_REQUEST',
      path: 'body.name',
      message: 'body.name: required field is missing',
    })
    const wrongType = await call('POST', '/v1/resources', {
      name: 'r',
      group: 'g',
      type: 'generic-app',
      restartThreshold: 'three',
    })
    expect(await errorOf(wrongType)).toMatchObject({ path: 'body.restartThreshold' })
    const unknown = await call('POST', '/v1/groups', { name: 'g', colour: 'red' })
    expect((await errorOf(unknown)).message).toMatch(/unknown field\(s\): colour/)
  })

  it('refuses member addresses the mesh could not dial (they once crashed every node), naming the field', async () => {
    const peerId = '12D3KooWSn2HSHAtFHpEsEQBJFGRL4UPAKgc5Te4CGfBusA63g4Z'
    for (const address of ['/ip4/127.0.0.1/tcp/99999', '/ip4/999.1.1.1/tcp/7400', '/ip6/zz/tcp/7400']) {
      const add = await call('POST', '/v1/nodes', { name: 'n9', site: 'lab', address, peerId })
      expect(add.status).toBe(400)
      expect(await errorOf(add)).toMatchObject({
        path: 'body.address',
        message: expect.stringContaining('expected a TCP multiaddr'),
      })
      const set = await call('POST', '/v1/nodes/lab-1/address', { address })
      expect(set.status).toBe(400)
      expect((await errorOf(set)).path).toBe('body.address')
    }
    const badPeer = await call('POST', '/v1/nodes', {
      name: 'n9',
      site: 'lab',
      address: '/ip4/127.0.0.9/tcp/7400',
      peerId: '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    })
    expect(badPeer.status).toBe(400)
    expect((await errorOf(badPeer)).path).toBe('body.peerId')
  })

  it('refuses bodies over the size limit with 413', async () => {
    const res = await call('PUT', '/v1/config/big', { value: 'x'.repeat(requestBodyBytesMax + 1) })
    expect(res.status).toBe(413)
    expect((await errorOf(res)).code).toBe('GC_ERR_TOO_LARGE')
  })

  it('answers unknown routes with 404 in the error shape', async () => {
    const res = await call('GET', '/v1/nope')
    expect(res.status).toBe(404)
    expect((await errorOf(res)).code).toBe('GC_ERR_NOT_FOUND')
  })

  it("maps the database's refusals: not found 404, conflict 409, invalid 400", async () => {
    expect((await call('POST', '/v1/groups/ghost/online')).status).toBe(404)
    expect((await call('POST', '/v1/groups', { name: 'dup' })).status).toBe(201)
    const again = await call('POST', '/v1/groups', { name: 'dup' })
    expect(again.status).toBe(409)
    expect((await errorOf(again)).message).toBe('group dup already exists')
    const badType = await call('POST', '/v1/resources', { name: 'r1', group: 'dup', type: 'tape-drive' })
    expect(badType.status).toBe(400)
    expect(await errorOf(badType)).toMatchObject({
      path: 'body.type',
      message: expect.stringMatching(/generic-app, generic-script, ip-address, network-name/),
    })
    const noCommand = await call('POST', '/v1/resources', { name: 'r1', group: 'dup', type: 'generic-app' })
    expect(await errorOf(noCommand)).toMatchObject({
      path: 'body.params.command',
      message: 'required for generic-app',
    })
  })
})

describe('event stream', () => {
  it('cuts off an SSE client that stops reading, instead of waiting on it for good', async () => {
    const slow = buildAdminApi(node, undefined, { sseWriteTimeoutMs: 300 })
    const res = await slow.request('/v1/events', { headers: { Authorization: `Bearer ${node.adminToken}` } })
    expect(res.status).toBe(200)
    // The client reads nothing while events keep coming.
    for (let i = 0; i < 5; i++)
      expect((await call('PUT', `/v1/config/sse/k${i}`, { value: 'x' })).status).toBe(200)
    await new Promise((r) => setTimeout(r, 1_000))
    // What was written before the cut can still be read; then the stream ends.
    const reader = res.body!.getReader()
    const ended = await Promise.race([
      (async () => {
        for (;;) {
          const { done } = await reader.read().catch(() => ({ done: true }))
          if (done) return 'ended'
        }
      })(),
      new Promise<string>((r) => setTimeout(() => r('still open'), 5_000)),
    ])
    expect(ended).toBe('ended')
  })
})

describe('config', () => {
  it('sets, gets, lists and deletes keys with versions from the log', async () => {
    const set = await call('PUT', '/v1/config/app/db/url', { value: 'postgres://x' })
    expect(set.status).toBe(200)
    const { version } = (await set.json()) as { version: number }
    const got = await call('GET', '/v1/config/app/db/url')
    expect(await got.json()).toEqual({ key: 'app/db/url', value: 'postgres://x', version })
    await call('PUT', '/v1/config/app/name', { value: 'shop' })
    const list = (await (await call('GET', '/v1/config?prefix=app/')).json()) as {
      entries: { key: string }[]
    }
    expect(list.entries.map((e) => e.key)).toEqual(['app/db/url', 'app/name'])
    expect((await call('DELETE', '/v1/config/app/name')).status).toBe(200)
    expect((await call('DELETE', '/v1/config/app/name')).status).toBe(404)
    const badKey = await call('PUT', '/v1/config/a//b', { value: '1' })
    expect(badKey.status).toBe(400)
  })
})

describe('fuzz', () => {
  // Values that are safe to run if a random request happens to create a runnable resource.
  const safeCommands = ['true', 'exit 3', 'sleep 0.2']
  const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
    fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: bad })
  const name = mostly(fc.constantFrom('web', 'db', 'app', 'lab-1', 'dup', 'g1'), fc.string({ maxLength: 12 }))
  const anyValue = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.object({ maxDepth: 1 }),
  )
  const params = fc.dictionary(
    fc.oneof(
      fc.constantFrom('command', 'script', 'isAliveCommand', 'stopTimeoutMs', 'cwd'),
      fc.string({ maxLength: 10 }),
    ),
    fc.oneof(fc.constantFrom(...safeCommands), fc.constantFrom('0', '100', '-1', '99999999999', 'abc')),
    { maxKeys: 4 },
  )
  const names = mostly(fc.array(fc.constantFrom('lab-1', 'web', 'db', 'app'), { maxLength: 2 }), anyValue)
  const groupBody = fc.record(
    {
      name,
      preferredOwners: names,
      possibleOwners: fc.array(fc.constantFrom('lab-1', 'x'), { maxLength: 2 }),
      failback: mostly(fc.constantFrom('never', 'immediate', '22-06', '24-01'), fc.string({ maxLength: 6 })),
      antiAffinity: names,
    },
    { requiredKeys: ['name'] },
  )
  const resourceBody = fc.record(
    {
      name,
      group: name,
      type: mostly(
        fc.constantFrom('generic-app', 'generic-script', 'ip-address'),
        fc.string({ maxLength: 8 }),
      ),
      params: mostly(
        fc.oneof(
          fc.constantFrom(...safeCommands).map((command) => ({ command })),
          params,
        ),
        anyValue,
      ),
      dependsOn: names,
      restartThreshold: mostly(
        fc.integer({ min: 0, max: 5 }),
        fc.oneof(fc.integer({ min: -5, max: 2000 }), anyValue),
      ),
      restartPeriodMs: mostly(fc.integer({ min: 1000, max: 1_000_000 }), fc.oneof(fc.integer(), anyValue)),
    },
    { requiredKeys: ['name', 'group', 'type'] },
  )
  // group set / resource set: any subset of the fields.
  const groupSetBody = fc.record(
    {
      preferredOwners: names,
      possibleOwners: mostly(fc.array(fc.constantFrom('lab-1', 'x'), { maxLength: 2 }), anyValue),
      failback: mostly(fc.constantFrom('never', 'immediate', '22-06'), fc.string({ maxLength: 6 })),
      antiAffinity: names,
      failoverThreshold: mostly(fc.option(fc.integer({ min: 0, max: 3 })), anyValue),
      failoverPeriodMs: mostly(fc.integer({ min: 60_000, max: 10_000_000 }), anyValue),
    },
    { requiredKeys: [] },
  )
  const resourceSetBody = fc.record(
    {
      params: mostly(params, anyValue),
      unset: mostly(fc.array(fc.constantFrom('cwd', 'command', 'stopTimeoutMs'), { maxLength: 2 }), anyValue),
      restartThreshold: mostly(fc.integer({ min: 0, max: 5 }), anyValue),
      restartPeriodMs: mostly(fc.integer({ min: 1000, max: 1_000_000 }), anyValue),
      restart: mostly(fc.boolean(), anyValue),
    },
    { requiredKeys: [] },
  )
  // Mostly well-formed bodies (so requests reach the database), sometimes anything at all.
  const withJunk = (arb: fc.Arbitrary<object>) =>
    fc.oneof(
      { weight: 6, arbitrary: arb.map((b) => JSON.stringify(b)) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(arb, fc.string({ maxLength: 5 }), anyValue)
          .map(([b, k, v]) => JSON.stringify({ ...b, [k]: v })),
      },
      { weight: 1, arbitrary: fc.json() },
      { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
      {
        weight: 1,
        arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('latin1')),
      },
      { weight: 1, arbitrary: fc.constant('') },
    )
  const bodies = {
    group: withJunk(groupBody),
    resource: withJunk(resourceBody),
    config: withJunk(fc.record({ value: mostly(fc.string({ maxLength: 40 }), anyValue) })),
    move: withJunk(fc.record({ to: mostly(name, anyValue) }, { requiredKeys: [] })),
    deps: withJunk(fc.record({ dependsOn: names })),
    groupSet: withJunk(groupSetBody),
    resourceSet: withJunk(resourceSetBody),
    none: withJunk(fc.constant({})),
  }
  const segment = fc.oneof(
    name,
    fc.constantFrom('%00', '..', '%2F', 'a%20b', '%E0%A4%A'),
    fc.string({ maxLength: 6 }).map(encodeURIComponent),
  )
  const route = (
    method: string | fc.Arbitrary<string>,
    path: fc.Arbitrary<string>,
    body: fc.Arbitrary<string>,
  ) => fc.tuple(typeof method === 'string' ? fc.constant(method) : method, path, body)
  const suffixed = (base: string, verbs: string[]) =>
    fc.tuple(segment, fc.constantFrom(...verbs)).map(([s, v]) => `${base}/${s}/${v}`)
  const endpoint = fc.oneof(
    { weight: 3, arbitrary: route('POST', fc.constant('/v1/groups'), bodies.group) },
    { weight: 4, arbitrary: route('POST', fc.constant('/v1/resources'), bodies.resource) },
    { weight: 3, arbitrary: route('POST', suffixed('/v1/groups', ['online', 'offline']), bodies.none) },
    {
      weight: 1,
      arbitrary: route(
        'POST',
        segment.map((s) => `/v1/groups/${s}/move`),
        bodies.move,
      ),
    },
    {
      weight: 3,
      arbitrary: route('POST', suffixed('/v1/resources', ['online', 'offline', 'fail']), bodies.none),
    },
    {
      weight: 2,
      arbitrary: route(
        'PUT',
        segment.map((s) => `/v1/resources/${s}/dependencies`),
        bodies.deps,
      ),
    },
    {
      weight: 2,
      arbitrary: route(
        'PATCH',
        segment.map((s) => `/v1/groups/${s}`),
        bodies.groupSet,
      ),
    },
    {
      weight: 2,
      arbitrary: route(
        'PATCH',
        segment.map((s) => `/v1/resources/${s}`),
        bodies.resourceSet,
      ),
    },
    {
      weight: 2,
      arbitrary: route(
        'DELETE',
        fc.tuple(fc.constantFrom('groups', 'resources'), segment).map(([k, s]) => `/v1/${k}/${s}`),
        bodies.none,
      ),
    },
    {
      weight: 3,
      arbitrary: route(
        fc.constantFrom('PUT', 'DELETE', 'GET'),
        fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/v1/config/${s.join('/')}`),
        bodies.config,
      ),
    },
    {
      weight: 2,
      arbitrary: route(
        'GET',
        fc.oneof(
          fc.constantFrom(
            '/v1/status',
            '/v1/nodes',
            '/v1/groups',
            '/v1/resources',
            '/v1/config',
            '/v1/database',
          ),
          fc
            .tuple(
              fc.constantFrom(
                'config?prefix',
                'database?prefix',
                'events/history?limit',
                'events/history?since',
              ),
              fc.string({ maxLength: 8 }),
            )
            .map(([k, v]) => `/v1/${k}=${encodeURIComponent(v)}`),
          segment.map((s) => `/v1/groups/${s}`),
          segment.map((s) => `/v1/resources/${s}`),
        ),
        fc.constant(''),
      ),
    },
    {
      weight: 1,
      arbitrary: route(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        fc.string({ maxLength: 20 }).map((s) => `/v1/${encodeURIComponent(s)}`),
        bodies.none,
      ),
    },
  )

  it('answers 3,000 random requests without a 500, always in the error shape on failure', async () => {
    let checked = 0
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(endpoint, async ([method, p, b]) => {
        const res = await call(method, p, method === 'GET' ? undefined : b)
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        expect(res.status, `${method} ${p} ${b}`).toBeLessThan(500)
        if (res.status >= 400) await errorOf(res)
        else await res.arrayBuffer()
        checked++
      }),
      { numRuns: 3000, seed: 20261121 },
    )
    console.log(`API fuzz: ${checked} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`)
    expect(checked).toBe(3000)
    // The run reached past validation into the database: objects were created, and requests
    // were refused for several different reasons.
    expect(statuses.get(201) ?? 0).toBeGreaterThan(0)
    expect([...statuses.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(3)
    // And the node still works.
    expect((await call('GET', '/v1/status')).status).toBe(200)
  })
})
