/**
 * `GET /v1/openapi.json`: the admin API as an OpenAPI 3.1 document, its request bodies and query
 * parameters generated (zod's JSON Schema output) from the very schemas that validate requests.
 * A test checks that every route the API serves is here and nothing else is.
 */
import { z } from 'zod'
import { backupSchema } from '../runtime/backupDocument.ts'
import {
  alertAddBody,
  configSetBody,
  confirmForcedBody,
  emptyBody,
  groupBanBody,
  groupClearBody,
  groupCreateBody,
  groupMoveBody,
  groupUpdateBody,
  listQuery,
  maintenanceBody,
  nodeAddBody,
  nodeAddressBody,
  resourceCleanupBody,
  resourceCreateBody,
  resourceDependenciesBody,
  resourceUpdateBody,
  upgradeLevelBody,
} from './requestSchemas.ts'

interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete'
  /** OpenAPI path (`{name}` parameters). */
  path: string
  summary: string
  body?: z.ZodType
  query?: Record<string, z.ZodType>
  /** Success status, when not 200. */
  status?: number
}

const nameParam = (what: string) => ({
  name: 'name',
  in: 'path',
  required: true,
  description: `the ${what}'s name`,
  schema: { type: 'string' },
})
const list = { limit: listQuery.limit, since: listQuery.since }

export const apiOperations: Operation[] = [
  { method: 'get', path: '/healthz', summary: 'liveness (no token)' },
  { method: 'get', path: '/', summary: 'the dashboard (no token: the page asks for it)' },
  { method: 'get', path: '/assets/{file}', summary: "the dashboard's files" },
  { method: 'get', path: '/metrics', summary: 'Prometheus text (no token when the API listens on loopback)' },
  { method: 'get', path: '/v1/openapi.json', summary: 'this document' },
  { method: 'get', path: '/v1/status', summary: 'the status document' },
  {
    method: 'get',
    path: '/v1/diagnostics',
    summary: "every member's version, clock offset and view of the others (validate --live)",
  },
  {
    method: 'post',
    path: '/v1/cluster/confirm-forced',
    summary:
      'on the leader of a forced epoch: assert that the other side is down, so the epoch takes writes and runs groups',
    body: confirmForcedBody,
  },
  {
    method: 'post',
    path: '/v1/cluster/upgrade-level',
    summary:
      'raise the cluster functional level (to `level`, or the highest this node supports) once every node and the witness support it; never lowered',
    body: upgradeLevelBody,
  },
  { method: 'get', path: '/v1/nodes', summary: 'nodes' },
  {
    method: 'post',
    path: '/v1/nodes',
    summary: 'add a node (a record and a vote)',
    body: nodeAddBody,
    status: 201,
  },
  {
    method: 'post',
    path: '/v1/nodes/{name}/address',
    summary: "change a node's mesh address",
    body: nodeAddressBody,
  },
  { method: 'post', path: '/v1/nodes/{name}/evict', summary: 'evict a node', body: emptyBody },
  ...(['pause', 'resume', 'drain'] as const).map(
    (verb): Operation => ({
      method: 'post',
      path: `/v1/nodes/{name}/${verb}`,
      summary: `${verb} a node`,
      body: emptyBody,
    }),
  ),
  { method: 'get', path: '/v1/groups', summary: 'groups with their resources' },
  { method: 'post', path: '/v1/groups', summary: 'create a group', body: groupCreateBody, status: 201 },
  { method: 'get', path: '/v1/groups/{name}', summary: 'one group' },
  {
    method: 'patch',
    path: '/v1/groups/{name}',
    summary:
      "change a group's settings in place (group set): the fields given change; the answer is the group with `changed`, the fields that differ. Refused when the group could not be placed or runs on a node no longer allowed",
    body: groupUpdateBody,
  },
  { method: 'delete', path: '/v1/groups/{name}', summary: 'delete a group', body: emptyBody },
  ...(['online', 'offline'] as const).map(
    (target): Operation => ({
      method: 'post',
      path: `/v1/groups/{name}/${target}`,
      summary: `bring a group ${target}`,
      body: emptyBody,
    }),
  ),
  {
    method: 'post',
    path: '/v1/groups/{name}/move',
    summary:
      'planned move (the owner stops it, then it starts on `to` or where placement says); with `lifetimeMs` it is preferred on `to` until then',
    body: groupMoveBody,
    status: 202,
  },
  {
    method: 'post',
    path: '/v1/groups/{name}/ban',
    summary:
      'ban a group from a node (until cleared, or for `lifetimeMs`); it moves off the node if it runs there',
    body: groupBanBody,
    status: 202,
  },
  {
    method: 'post',
    path: '/v1/groups/{name}/clear',
    summary: "remove the group's moves and bans (only those on `node` when given)",
    body: groupClearBody,
  },
  { method: 'get', path: '/v1/resources', summary: 'resources' },
  {
    method: 'post',
    path: '/v1/resources',
    summary: 'create a resource',
    body: resourceCreateBody,
    status: 201,
  },
  { method: 'get', path: '/v1/resources/{name}', summary: 'one resource' },
  {
    method: 'patch',
    path: '/v1/resources/{name}',
    summary:
      "change a resource's settings in place (resource set): set and unset parameters, the restart policy. New parameters of a running resource need `restart: true` (it restarts with what depends on it), else 409 GC_ERR_RESTART_NEEDED; the answer is the resource with `changed` and `restarting`",
    body: resourceUpdateBody,
  },
  { method: 'delete', path: '/v1/resources/{name}', summary: 'delete a resource', body: emptyBody },
  ...(['online', 'offline'] as const).map(
    (target): Operation => ({
      method: 'post',
      path: `/v1/resources/{name}/${target}`,
      summary: `bring a resource ${target}`,
      body: emptyBody,
    }),
  ),
  {
    method: 'post',
    path: '/v1/resources/{name}/fail',
    summary: 'fail a resource now (the restart policy applies)',
    body: emptyBody,
  },
  {
    method: 'post',
    path: '/v1/resources/{name}/cleanup',
    summary:
      "forget a resource's failure counts (its failure, its group's failovers; each node's restarts, or `node`'s) and re-probe it",
    body: resourceCleanupBody,
  },
  {
    method: 'post',
    path: '/v1/resources/cleanup',
    summary: "forget every resource's failure counts and re-probe them (only `node`'s restarts when given)",
    body: resourceCleanupBody,
  },
  {
    method: 'put',
    path: '/v1/resources/{name}/dependencies',
    summary: "replace a resource's dependencies (cycles refused)",
    body: resourceDependenciesBody,
  },
  { method: 'get', path: '/v1/config', summary: "operators' keys", query: { prefix: z.string().optional() } },
  { method: 'get', path: '/v1/config/{key}', summary: 'one key (a path: a/b/c)' },
  { method: 'put', path: '/v1/config/{key}', summary: 'set a key', body: configSetBody },
  { method: 'delete', path: '/v1/config/{key}', summary: 'delete a key' },
  {
    method: 'post',
    path: '/v1/maintenance',
    summary:
      'maintenance mode on or off for the cluster, a node, a group or a resource: left as it is (no checks, restarts, starts, stops or moves) until off, then probed',
    body: maintenanceBody,
  },
  {
    method: 'get',
    path: '/v1/backup',
    summary:
      'a backup of the cluster database: its configuration at a linearizable point, with index, term and checksum',
  },
  {
    method: 'post',
    path: '/v1/restore',
    summary:
      'authoritative restore of a backup of this cluster (every group offline and released first); refused when damaged or foreign',
    body: backupSchema,
  },
  {
    method: 'get',
    path: '/v1/events',
    summary: 'Server-Sent Events: the backlog after Last-Event-ID or since, then live',
    query: { since: listQuery.since },
  },
  { method: 'get', path: '/v1/events/history', summary: 'past events as JSON', query: list },
  {
    method: 'get',
    path: '/v1/events/cluster',
    summary: "every member's events merged in time order; members that did not answer are named",
    query: { limit: listQuery.limit },
  },
  {
    method: 'get',
    path: '/v1/alerts',
    summary: 'alerts, with what the answering node delivered, gave up and dropped for each',
  },
  {
    method: 'post',
    path: '/v1/alerts',
    summary: 'add an alert: a script or a webhook every node runs for the events it sees',
    body: alertAddBody,
    status: 201,
  },
  { method: 'delete', path: '/v1/alerts/{name}', summary: 'delete an alert' },
  {
    method: 'get',
    path: '/v1/log/collect',
    summary: "every member's events, status, topology and version, secrets removed (log collect)",
  },
  {
    method: 'get',
    path: '/v1/audit',
    summary: 'the audit trail: who changed the cluster database, when',
    query: list,
  },
  {
    method: 'get',
    path: '/v1/database',
    summary: 'the raw key space, read-only',
    query: { prefix: z.string().optional() },
  },
]

const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, path: { type: 'string' } },
    },
  },
}

function jsonSchema(schema: z.ZodType): unknown {
  // Inputs as a client sends them (defaults optional); `io: 'input'` keeps coercions honest.
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >
  return rest
}

export function openApiDocument(version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const op of apiOperations) {
    const params: unknown[] = []
    if (op.path.includes('{name}'))
      params.push(
        nameParam(
          op.path.startsWith('/v1/nodes')
            ? 'node'
            : op.path.startsWith('/v1/groups')
              ? 'group'
              : op.path.startsWith('/v1/alerts')
                ? 'alert'
                : 'resource',
        ),
      )
    if (op.path.includes('{file}'))
      params.push({
        name: 'file',
        in: 'path',
        required: true,
        description: 'a built asset',
        schema: { type: 'string' },
      })
    if (op.path.includes('{key}'))
      params.push({
        name: 'key',
        in: 'path',
        required: true,
        description: 'a key path (a/b/c)',
        schema: { type: 'string' },
      })
    for (const [name, schema] of Object.entries(op.query ?? {}))
      params.push({ name, in: 'query', required: false, schema: jsonSchema(schema) })
    const open =
      op.path === '/healthz' || op.path === '/metrics' || op.path === '/' || op.path.startsWith('/assets/')
    paths[op.path] = {
      ...paths[op.path],
      [op.method]: {
        summary: op.summary,
        ...(params.length === 0 ? {} : { parameters: params }),
        ...(op.body === undefined
          ? {}
          : {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: jsonSchema(op.body) } },
              },
            }),
        ...(open ? { security: [] } : {}),
        responses: {
          [String(op.status ?? 200)]: { description: 'done' },
          default: { description: 'an error', content: { 'application/json': { schema: errorSchema } } },
        },
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'geocluster admin API',
      version,
      description:
        "Every /v1 route needs `Authorization: Bearer <token>` (the node's <data-dir>/admin.token).",
    },
    components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
    security: [{ token: [] }],
    paths,
  }
}
