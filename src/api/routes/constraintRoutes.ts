/**
 * Operators' placement constraints (Pacemaker's `pcs resource move --lifetime`, `ban`,
 * `crm_resource --clear`): records in the cluster database that the leader's planner obeys and
 * expires. The expiry is a wall-clock instant taken here, where the operator asked.
 */
import type { Context, Hono } from 'hono'
import { constraintHolds, holdsUntil } from '../../database/groupConstraints.ts'
import { GeoclusterError } from '../../errors/errors.ts'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody, pathName } from '../requestContext.ts'
import { groupBanBody, groupClearBody } from '../requestSchemas.ts'
import { groupView } from './groupView.ts'

const nameOf = (c: Context) => pathName(c, 'group')

/** Adds `rule` for group `name` on `target`, holding for `lifetimeMs` from now (absent: until cleared). */
async function addConstraint(
  node: AdminBackend,
  name: string,
  target: string,
  rule: 'prefer' | 'ban',
  lifetimeMs: number | undefined,
): Promise<void> {
  const at = Date.now()
  const expiresAt = lifetimeMs === undefined ? null : at + lifetimeMs
  accepted(await node.propose({ op: 'constraint.add', name, node: target, rule, expiresAt, at }, 'admin'))
}

/**
 * `group move --to X --lifetime`: the group is preferred on `to` until the lifetime ends. Added
 * before the move itself, so a move to a banned node is refused before anything moves.
 */
export async function preferFor(
  node: AdminBackend,
  name: string,
  to: string | undefined,
  lifetimeMs: number,
): Promise<void> {
  if (to === undefined)
    throw new GeoclusterError('GC_ERR_BAD_REQUEST', 'body.lifetimeMs: a move with a lifetime needs `to`', {
      path: 'body.to',
    })
  await addConstraint(node, name, to, 'prefer', lifetimeMs)
}

/** A move to a node banned for the group is refused: the planner would never place it there. */
export async function refuseBannedTarget(
  node: AdminBackend,
  name: string,
  to: string | undefined,
): Promise<void> {
  if (to === undefined) return
  const ban = await node.read((db) => db.constraints(name).find((c) => c.node === to && c.rule === 'ban'))
  if (ban === undefined || !constraintHolds(ban, Date.now())) return
  throw new GeoclusterError(
    'GC_ERR_CONFLICT',
    `node ${to} is banned for group ${name} ${holdsUntil(ban.expiresAt)}; clear it first (geocluster group clear ${name})`,
    { path: 'body.to' },
  )
}

export function constraintRoutes(app: Hono, node: AdminBackend): void {
  // The planner moves the group off the node if it runs there (a planned move).
  app.post('/v1/groups/:name/ban', async (c) => {
    const name = nameOf(c)
    const { node: banned, lifetimeMs } = await parseBody(c, groupBanBody)
    await addConstraint(node, name, banned, 'ban', lifetimeMs)
    return c.json(groupView(node, name), 202)
  })
  app.post('/v1/groups/:name/clear', async (c) => {
    const name = nameOf(c)
    const { node: only } = await parseBody(c, groupClearBody)
    accepted(await node.propose({ op: 'constraint.clear', name, node: only ?? null }, 'admin'))
    return c.json(groupView(node, name))
  })
}
