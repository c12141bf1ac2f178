import type { Context, Hono } from 'hono'
import { GeoclusterError } from '../../errors/errors.ts'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody, pathName } from '../requestContext.ts'
import {
  emptyBody,
  resourceCreateBody,
  resourceDependenciesBody,
  resourceUpdateBody,
} from '../requestSchemas.ts'

const nameOf = (c: Context) => pathName(c, 'resource')

function resourceViews(node: AdminBackend) {
  return node
    .status()
    .groups.flatMap((g) => g.resources.map((r) => ({ ...r, group: g.name, owner: g.owner })))
}

/** One resource as the status has it, with its parameters (what `resource set` changes). */
function resourceView(node: AdminBackend, name: string) {
  const r = resourceViews(node).find((x) => x.name === name)
  if (r === undefined) throw new GeoclusterError('GC_ERR_NOT_FOUND', `no resource ${name}`, { path: 'name' })
  return { ...r, params: node.readLocal((db) => db.resource(name)?.params) ?? {} }
}

export function resourceRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/resources', (c) => c.json({ resources: resourceViews(node) }))
  app.get('/v1/resources/:name', (c) => c.json(resourceView(node, nameOf(c))))
  app.post('/v1/resources', async (c) => {
    const body = await parseBody(c, resourceCreateBody)
    accepted(await node.propose({ op: 'resource.create', ...body }, 'admin'))
    return c.json(resourceView(node, body.name), 201)
  })
  // Settings changed in place (resource set, pcs resource update): the answer names what differs
  // and whether the resource restarts where it runs to take its new parameters.
  app.patch('/v1/resources/:name', async (c) => {
    const name = nameOf(c)
    const body = await parseBody(c, resourceUpdateBody)
    const applied = await node.propose({ op: 'resource.update', name, ...body }, 'admin')
    accepted(applied)
    const result = applied.result.ok ? applied.result : null
    return c.json({
      ...resourceView(node, name),
      changed: result?.fields ?? [],
      restarting: result?.restarting === true,
    })
  })
  app.put('/v1/resources/:name/dependencies', async (c) => {
    const name = nameOf(c)
    const { dependsOn } = await parseBody(c, resourceDependenciesBody)
    accepted(await node.propose({ op: 'resource.setDependencies', name, dependsOn }, 'admin'))
    return c.json(resourceView(node, name))
  })
  app.delete('/v1/resources/:name', async (c) => {
    const name = nameOf(c)
    await parseBody(c, emptyBody)
    accepted(await node.propose({ op: 'resource.delete', name }, 'admin'))
    return c.json({ name, deleted: true })
  })
  for (const target of ['online', 'offline'] as const) {
    app.post(`/v1/resources/:name/${target}`, async (c) => {
      const name = nameOf(c)
      await parseBody(c, emptyBody)
      accepted(await node.propose({ op: 'resource.setTarget', name, target }, 'admin'))
      return c.json(resourceView(node, name), 202)
    })
  }
  app.post('/v1/resources/:name/fail', async (c) => {
    const name = nameOf(c)
    await parseBody(c, emptyBody)
    await node.failResource(name)
    return c.json(resourceView(node, name), 202)
  })
}
