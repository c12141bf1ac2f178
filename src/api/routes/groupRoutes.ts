import type { Context, Hono } from 'hono'
import { GeoclusterError } from '../../errors/errors.ts'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody, pathName } from '../requestContext.ts'
import { emptyBody, groupCreateBody, groupMoveBody, groupUpdateBody } from '../requestSchemas.ts'
import { preferFor, refuseBannedTarget } from './constraintRoutes.ts'
import { groupView } from './groupView.ts'

const nameOf = (c: Context) => pathName(c, 'group')

/** How long a delete waits for an offline group's holder to stop it and let it go. */
const releaseWaitMs = 20_000

/**
 * A group taken offline is still held by its owner until everything of it has stopped there
 * (the database refuses to delete it before: a new group of the same name could start elsewhere
 * meanwhile). `group offline web && group delete web` should still just work: wait for that.
 */
async function releaseOfOffline(node: AdminBackend, name: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + releaseWaitMs
  for (;;) {
    const group = await node.read((db) => db.group(name))
    if (group === undefined || group.target !== 'offline' || group.owner === null) return
    if (Date.now() >= deadline || signal.aborted) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export function groupRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/groups', (c) => c.json({ groups: node.status().groups }))
  app.get('/v1/groups/:name', (c) => c.json(groupView(node, nameOf(c))))
  app.post('/v1/groups', async (c) => {
    const body = await parseBody(c, groupCreateBody)
    accepted(await node.propose({ op: 'group.create', ...body }, 'admin'))
    return c.json(groupView(node, body.name), 201)
  })
  // Settings changed in place (group set, WSFC Set-ClusterOwnerNode): the answer names what differs.
  app.patch('/v1/groups/:name', async (c) => {
    const name = nameOf(c)
    const body = await parseBody(c, groupUpdateBody)
    const applied = await node.propose({ op: 'group.update', name, ...body }, 'admin')
    accepted(applied)
    return c.json({
      ...groupView(node, name),
      changed: applied.result.ok ? (applied.result.fields ?? []) : [],
    })
  })
  app.delete('/v1/groups/:name', async (c) => {
    const name = nameOf(c)
    await parseBody(c, emptyBody)
    await releaseOfOffline(node, name, c.req.raw.signal)
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
  // A planned move (WSFC Move-ClusterGroup): the owner stops the group in dependency order and
  // releases it; then it starts on the target (or where placement chooses).
  app.post('/v1/groups/:name/move', async (c) => {
    const name = nameOf(c)
    const { to, lifetimeMs } = await parseBody(c, groupMoveBody)
    await refuseBannedTarget(node, name, to)
    if (lifetimeMs !== undefined) await preferFor(node, name, to, lifetimeMs)
    const group = await node.read((db) => db.group(name))
    if (group === undefined)
      throw new GeoclusterError('GC_ERR_NOT_FOUND', `no group ${name}`, { path: 'name' })
    if (to !== undefined && to === group.owner) {
      // With a lifetime, the preference that keeps it there is what was asked for.
      if (lifetimeMs !== undefined) return c.json(groupView(node, name), 202)
      throw new GeoclusterError('GC_ERR_CONFLICT', `group ${name} is already owned by ${to}`, {
        path: 'body.to',
      })
    }
    if (group.owner === null) {
      // Not placed yet (offline): record where it should go when it is.
      if (to === undefined)
        throw new GeoclusterError(
          'GC_ERR_CONFLICT',
          `group ${name} has no owner to move it from; give --to`,
          {
            path: 'body.to',
          },
        )
      accepted(
        await node.propose(
          {
            op: 'group.assign',
            name,
            expect: { owner: null, token: group.fencingToken },
            owner: to,
            kind: 'move',
            reason: 'moved by an operator',
          },
          'admin',
        ),
      )
      return c.json(groupView(node, name), 202)
    }
    accepted(
      await node.propose(
        {
          op: 'group.move',
          name,
          expect: { owner: group.owner, token: group.fencingToken },
          to: to ?? null,
          avoid: group.owner,
          kind: 'move',
          reason: `moved by an operator${to === undefined ? '' : ` to ${to}`}`,
        },
        'admin',
      ),
    )
    return c.json(groupView(node, name), 202)
  })
}
