/** Maintenance mode (failover/maintenance.ts): for the whole cluster, a node, a group or a resource. */
import type { Hono } from 'hono'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody } from '../requestContext.ts'
import { maintenanceBody } from '../requestSchemas.ts'

export function maintenanceRoutes(app: Hono, node: AdminBackend): void {
  app.post('/v1/maintenance', async (c) => {
    const body = await parseBody(c, maintenanceBody)
    const [scope, subject] =
      body.node !== undefined
        ? (['node', body.node] as const)
        : body.group !== undefined
          ? (['group', body.group] as const)
          : body.resource !== undefined
            ? (['resource', body.resource] as const)
            : (['cluster', null] as const)
    const index = accepted(
      await node.propose({ op: 'maintenance.set', scope, subject, on: body.on }, 'admin'),
    )
    return c.json({ scope, name: subject, maintenance: body.on, index })
  })
}
