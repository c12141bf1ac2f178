import type { Context, Hono } from 'hono'
import { z } from 'zod'
import { namePattern } from '../../database/keySpace.ts'
import { GeoclusterError } from '../../errors/errors.ts'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody, parseValue } from '../requestContext.ts'
import { emptyBody, groupCreateBody, groupMoveBody } from '../requestSchemas.ts'

const nameParam = z.string().regex(namePattern, 'not a valid group name')

function groupView(node: AdminBackend, name: string) {
  const group = node.status().groups.find((g) => g.name === name)
  if (group === undefined) throw new GeoclusterError('GC_ERR_NOT_FOUND', `no group ${name}`, { path: 'name' })
  return group
}

const nameOf = (c: Context) => parseValue(nameParam, c.req.param('name'), 'name')

export function groupRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/groups', (c) => c.json({ groups: node.status().groups }))
  app.get('/v1/groups/:name', (c) => c.json(groupView(node, nameOf(c))))
  app.post('/v1/groups', async (c) => {
    const body = await parseBody(c, groupCreateBody)
    accepted(await node.propose({ op: 'group.create', ...body }, 'admin'))
    return c.json(groupView(node, body.name), 201)
  })
  app.delete('/v1/groups/:name', async (c) => {
    const name = nameOf(c)
    await parseBody(c, emptyBody)
    accepted(await node.propose({ op: 'group.delete', name }, 'admin'))
    return c.json({ name, deleted: true })
  })
  for (const target of ['online', 'offline'] as const) {
    app.post(`/v1/groups/:name/${target}`, async (c) => {
      const name = nameOf(c)
      await parseBody(c, emptyBody)
      accepted(await node.propose({ op: 'group.setTarget', name, target }, 'admin'))
      return c.json(groupView(node, name), 202)
    })
  }
  app.post('/v1/groups/:name/move', async (c) => {
    const name = nameOf(c)
    const { to } = await parseBody(c, groupMoveBody)
    const group = await node.read((db) => db.group(name))
    if (group === undefined)
      throw new GeoclusterError('GC_ERR_NOT_FOUND', `no group ${name}`, { path: 'name' })
    const target = to ?? (await pickMoveTarget(node, name, group.owner, group.possibleOwners))
    if (target === group.owner)
      throw new GeoclusterError('GC_ERR_CONFLICT', `group ${name} is already owned by ${target}`, {
        path: 'body.to',
      })
    accepted(await node.propose({ op: 'group.assign', name, owner: target }, 'admin'))
    return c.json(groupView(node, name), 202)
  })
}

/** Without --to: the first other node that may own the group (placement policies come with the failover manager). */
async function pickMoveTarget(
  node: AdminBackend,
  group: string,
  owner: string | null,
  possible: string[],
): Promise<string> {
  const names = await node.read((db) =>
    db
      .nodes()
      .filter((n) => n.evicted !== true)
      .map((n) => n.name),
  )
  const candidates = names.filter((n) => n !== owner && (possible.length === 0 || possible.includes(n)))
  const target = candidates[0]
  if (target === undefined)
    throw new GeoclusterError('GC_ERR_CONFLICT', `no other node can own group ${group}`, { path: 'body.to' })
  return target
}
