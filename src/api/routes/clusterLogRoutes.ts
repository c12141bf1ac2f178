/** The cluster log: every member's events merged in time order, and the support bundle. */
import type { Hono } from 'hono'
import type { AdminBackend } from '../adminBackend.ts'
import { parseQuery } from '../requestContext.ts'
import { listQuery } from '../requestSchemas.ts'

export function clusterLogRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/events/cluster', async (c) => {
    const limit = parseQuery(c, 'limit', listQuery.limit)
    return c.json(await node.clusterEvents(limit))
  })
  app.get('/v1/log/collect', async (c) => c.json(await node.supportBundle()))
}
