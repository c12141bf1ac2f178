/**
 * `resource cleanup` (Pacemaker's `crm_resource --cleanup`, `pcs resource cleanup`): one entry
 * in the cluster database forgets the cluster-wide failure counts, and each node (or only
 * `node`) forgets its restart history of the resources and re-probes them as it applies it.
 */
import type { Context, Hono } from 'hono'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody, pathName } from '../requestContext.ts'
import { resourceCleanupBody } from '../requestSchemas.ts'

const nameOf = (c: Context) => pathName(c, 'resource')

async function cleanup(node: AdminBackend, names: string[] | null, only: string | undefined) {
  const at = accepted(await node.propose({ op: 'resource.cleanup', names, node: only ?? null }, 'admin'))
  const cleaned = new Set(names ?? node.readLocal((db) => db.resources().map((r) => r.name)))
  const resources = node
    .status()
    .groups.flatMap((g) => g.resources.map((r) => ({ ...r, group: g.name, owner: g.owner })))
    .filter((r) => cleaned.has(r.name))
  return { cleaned: [...cleaned], node: only ?? null, index: at, resources }
}

export function cleanupRoutes(app: Hono, node: AdminBackend): void {
  app.post('/v1/resources/cleanup', async (c) => {
    const { node: only } = await parseBody(c, resourceCleanupBody)
    return c.json(await cleanup(node, null, only))
  })
  app.post('/v1/resources/:name/cleanup', async (c) => {
    const name = nameOf(c)
    const { node: only } = await parseBody(c, resourceCleanupBody)
    return c.json(await cleanup(node, [name], only))
  })
}
