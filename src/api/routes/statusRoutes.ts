import type { Hono } from 'hono'
import type { AdminBackend } from '../adminBackend.ts'
import { parseQuery } from '../requestContext.ts'
import { listQuery } from '../requestSchemas.ts'

export function statusRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/status', (c) => c.json(node.status()))
  // validate's live checks: each member's version, clock offset and view of the others.
  app.get('/v1/diagnostics', async (c) => c.json({ members: await node.membersReport() }))
  // The raw hierarchical key space, read-only: what `regedit` on the cluster hive showed.
  app.get('/v1/database', async (c) => {
    const prefix = parseQuery(c, 'prefix', listQuery.prefix)
    return c.json({
      records: await node.read((db) => db.list(prefix).map(([path, record]) => ({ path, record })), {
        bulk: true,
      }),
    })
  })
}
