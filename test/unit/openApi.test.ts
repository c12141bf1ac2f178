/**
 * The OpenAPI document (src/api/openApiDocument.ts): every route the admin API serves is in it
 * and nothing else, and its request bodies come from the schemas that validate requests.
 */
import { describe, expect, it } from 'vitest'
import { buildAdminApi } from '../../src/api/adminApi.ts'
import { apiOperations } from '../../src/api/openApiDocument.ts'

const fake = {
  name: 'n1',
  adminToken: 'secret-token',
  events: { subscribe: () => () => {} },
  peerRtts: () => ({}),
} as unknown as Parameters<typeof buildAdminApi>[0]

/** Hono's `:name` and `:key{.+}` as OpenAPI's `{name}` and `{key}`. */
const openApiPath = (p: string) =>
  p.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}').replace('/assets/*', '/assets/{file}')

describe('GET /v1/openapi.json', () => {
  const app = buildAdminApi(fake, undefined, { version: '9.9.9' })

  it('lists exactly the routes the API serves', () => {
    const served = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`),
    )
    const documented = new Set(apiOperations.map((o) => `${o.method} ${o.path}`))
    expect([...served].filter((r) => !documented.has(r))).toEqual([])
    expect([...documented].filter((r) => !served.has(r))).toEqual([])
    expect(documented.size).toBeGreaterThan(25)
  })

  it('is served behind the token, with bodies from the validating schemas', async () => {
    expect((await app.request('/v1/openapi.json')).status).toBe(401)
    const res = await app.request('/v1/openapi.json', { headers: { Authorization: 'Bearer secret-token' } })
    expect(res.status).toBe(200)
    const doc = (await res.json()) as {
      openapi: string
      info: { version: string }
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
            responses: object
            security?: unknown[]
          }
        >
      >
    }
    expect(doc).toMatchObject({ openapi: '3.1.0', info: { version: '9.9.9' } })
    const create = doc.paths['/v1/groups']!.post!.requestBody!.content['application/json']!.schema
    expect(create).toMatchObject({ type: 'object', required: ['name'], additionalProperties: false })
    expect(Object.keys(create.properties as object)).toEqual(
      expect.arrayContaining(['name', 'preferredOwners', 'possibleOwners', 'failback', 'failoverThreshold']),
    )
    const resource = doc.paths['/v1/resources']!.post!.requestBody!.content['application/json']!.schema
    expect(resource.required).toEqual(expect.arrayContaining(['name', 'group', 'type']))
    const groupSet = doc.paths['/v1/groups/{name}']!.patch!.requestBody!.content['application/json']!.schema
    expect(Object.keys(groupSet.properties as object).sort()).toEqual([
      'antiAffinity',
      'failback',
      'failoverPeriodMs',
      'failoverThreshold',
      'possibleOwners',
      'preferredOwners',
    ])
    const resourceSet =
      doc.paths['/v1/resources/{name}']!.patch!.requestBody!.content['application/json']!.schema
    expect(Object.keys(resourceSet.properties as object).sort()).toEqual([
      'params',
      'restart',
      'restartPeriodMs',
      'restartThreshold',
      'unset',
    ])
    expect(doc.paths['/healthz']!.get!.security).toEqual([])
    for (const ops of Object.values(doc.paths))
      for (const op of Object.values(ops)) expect(op.responses).toBeDefined()
  })
})
