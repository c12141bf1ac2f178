/**
 * The admin HTTP API: built apart from `listen()` so tests drive it with `app.request()` and
 * no socket (fastify's lesson). Every /v1 route needs the bearer token; every body is checked
 * against a schema; every failure answers with the one error shape, never a bare 500.
 */
import { type Context, Hono, type Next } from 'hono'
import { InvariantError } from '../errors/assert.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { Logger } from '../events/logger.ts'
import { tokensEqual } from '../runtime/adminToken.ts'
import type { AdminBackend } from './adminBackend.ts'
import { errorResponse } from './apiError.ts'
import { ClusterMetrics } from './clusterMetrics.ts'
import { dashboardRoutes } from './dashboardAssets.ts'
import { openApiDocument } from './openApiDocument.ts'
import { hostOf, isLoopbackAddress, peerAddress } from './requestOrigin.ts'
import { backupRoutes } from './routes/backupRoutes.ts'
import { configRoutes } from './routes/configRoutes.ts'
import { eventRoutes } from './routes/eventRoutes.ts'
import { groupRoutes } from './routes/groupRoutes.ts'
import { maintenanceRoutes } from './routes/maintenanceRoutes.ts'
import { nodeRoutes } from './routes/nodeRoutes.ts'
import { resourceRoutes } from './routes/resourceRoutes.ts'
import { statusRoutes } from './routes/statusRoutes.ts'

export { requestBodyBytesMax } from './requestContext.ts'

/** Requests handled at once (an event stream counts until it ends); beyond it, 503 busy. */
export const requestsInFlightMax = 4_096

export interface AdminApiOptions {
  /**
   * Names the API answers to (the Host header); others are refused (DNS rebinding). Absent: any
   * (the API driven in-process, in tests).
   */
  hostNames?: ReadonlySet<string>
  /** geocluster's version, for the OpenAPI document. */
  version?: string
  /** An SSE client that has not taken a write within this is cut off (default 10 s). */
  sseWriteTimeoutMs?: number
}

export function buildAdminApi(node: AdminBackend, log?: Logger, options: AdminApiOptions = {}): Hono {
  const app = new Hono()
  const metrics = new ClusterMetrics(node)
  if (options.hostNames !== undefined) {
    const names = options.hostNames
    app.use('*', async (c, next) => {
      const host = hostOf(c.req.header('Host') ?? '')
      if (!names.has(host)) {
        return errorResponse(
          c,
          new GeoclusterError(
            'GC_ERR_FORBIDDEN',
            `Host "${host}" is not a name of this node's API (add it with --api-name)`,
          ),
        )
      }
      await next()
    })
  }

  app.get('/healthz', (c) => c.json({ ok: true, node: node.name }))
  dashboardRoutes(app)

  const requireToken = async (c: Context, next: Next) => {
    const header = c.req.header('Authorization') ?? ''
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (match === null || !tokensEqual(match[1]!, node.adminToken)) {
      c.header('WWW-Authenticate', 'Bearer realm="geocluster"')
      return errorResponse(
        c,
        new GeoclusterError(
          'GC_ERR_UNAUTHORIZED',
          match === null ? 'missing bearer token (Authorization: Bearer <token>)' : 'invalid admin token',
        ),
      )
    }
    await next()
  }
  // Metrics need no token only for a peer on loopback: the socket's peer, whatever the bind.
  app.use('/metrics', async (c, next) => (isLoopbackAddress(peerAddress(c)) ? next() : requireToken(c, next)))
  app.get('/metrics', async (c) => {
    const { contentType, body } = await metrics.text()
    return c.body(body, 200, { 'Content-Type': contentType })
  })
  app.use('/v1/*', requireToken)
  // Load shedding: API work never starves the consensus tick (heartbeats, elections, leases).
  let inFlight = 0
  app.use('/v1/*', async (c, next) => {
    const why = node.busy?.() ?? (inFlight >= requestsInFlightMax ? `${inFlight} requests under way` : null)
    if (why !== null) {
      c.header('Retry-After', '1')
      return errorResponse(
        c,
        new GeoclusterError('GC_ERR_BUSY', `${node.name} is busy (${why}); retry shortly`),
      )
    }
    inFlight++
    try {
      await next()
    } finally {
      inFlight--
    }
  })
  // Built on the first request: most nodes are never asked for it.
  let document: ReturnType<typeof openApiDocument> | null = null
  app.get('/v1/openapi.json', (c) => {
    document ??= openApiDocument(options.version ?? 'unknown')
    return c.json(document)
  })
  statusRoutes(app, node)
  nodeRoutes(app, node)
  configRoutes(app, node)
  backupRoutes(app, node)
  maintenanceRoutes(app, node)
  groupRoutes(app, node)
  resourceRoutes(app, node)
  eventRoutes(
    app,
    node,
    options.sseWriteTimeoutMs === undefined ? {} : { writeTimeoutMs: options.sseWriteTimeoutMs },
  )

  app.notFound((c) =>
    errorResponse(c, new GeoclusterError('GC_ERR_NOT_FOUND', `no route ${c.req.method} ${c.req.path}`)),
  )
  app.onError((error, c) => {
    if (error instanceof GeoclusterError) return errorResponse(c, error)
    // Anything else is a bug; an invariant failure additionally means the node must not go on.
    log?.error({ err: error, method: c.req.method, path: c.req.path }, 'internal error in the admin API')
    if (error instanceof InvariantError) setImmediate(() => process.exit(70))
    return errorResponse(c, new GeoclusterError('GC_ERR_INTERNAL', `internal error: ${error.message}`))
  })
  return app
}
