/** Alerts: records of the cluster database (committed through the log); every node runs them. */
import type { Hono } from 'hono'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody, pathName } from '../requestContext.ts'
import { alertAddBody } from '../requestSchemas.ts'

export function alertRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/alerts', async (c) => {
    const alerts = await node.read((db) => db.alerts(), { bulk: true })
    const deliveries = node.alertDeliveries?.() ?? {}
    return c.json({
      node: node.name,
      alerts: alerts.map(({ kind: _, ...a }) => ({ ...a, deliveries: deliveries[a.name] ?? null })),
    })
  })
  app.post('/v1/alerts', async (c) => {
    const b = await parseBody(c, alertAddBody)
    const to =
      b.script !== undefined
        ? { kind: 'script' as const, path: b.script }
        : { kind: 'webhook' as const, url: b.webhook! }
    const alert = {
      name: b.name,
      to,
      events: b.events,
      severities: b.severities,
      timeoutMs: b.timeoutMs,
      attempts: b.attempts,
    }
    const index = accepted(await node.propose({ op: 'alert.add', ...alert }, 'admin'))
    return c.json({ ...alert, index }, 201)
  })
  app.delete('/v1/alerts/:name', async (c) => {
    const name = pathName(c, 'alert')
    accepted(await node.propose({ op: 'alert.delete', name }, 'admin'))
    return c.json({ name, deleted: true })
  })
}
