/**
 * Changing a group's or a resource's settings in place (WSFC `Set-ClusterOwnerNode`, Pacemaker
 * `pcs resource update`): the record as it becomes, or why not. Pure, and run by
 * `ClusterDatabase.apply` on every node, so every node takes or refuses a change alike.
 *
 * Two rules an operator can rely on:
 * - A group is never left unplaceable or running where it may no longer run: owner lists name
 *   members only, preferred owners stay among the possible ones, and the node that runs the
 *   group now stays a possible owner (move the group first).
 * - A running resource never runs with other parameters than the database says: a resource
 *   starts with its parameters, so changing them while it runs restarts it, and only when the
 *   operator asked for that (`restart`). Otherwise the change is refused as `restart-needed`.
 */
import type { Refusal } from './clusterDatabase.ts'
import type { Command } from './commands.ts'
import type { GroupRecord, NodeRecord, ResourceRecord } from './entities.ts'
import { parseResourceParams } from './resourceTypes.ts'

type GroupUpdate = Extract<Command, { op: 'group.update' }>
type ResourceUpdate = Extract<Command, { op: 'resource.update' }>

/** A change taken: the record as it becomes, which of its fields differ, and whether it restarts. */
export interface SettingsChange<R> {
  record: R
  /** Field names that differ (`params.<name>` for a resource's parameters), sorted. */
  fields: string[]
  /** The resource restarts where it runs to take its new parameters. */
  restarting: boolean
}

const refuse = (reason: Refusal['reason'], message: string, path: string): Refusal => ({
  ok: false,
  reason,
  message,
  path,
})

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Why a list of owner nodes cannot stand, or null: a name twice, a name that is no node, or an
 * evicted node (it can never own anything again: a group left to it could never be placed).
 */
export function ownerListProblem(list: readonly string[], node: (name: string) => NodeRecord | undefined) {
  if (new Set(list).size !== list.length) return 'node names repeat'
  const unknown = list.filter((n) => node(n) === undefined)
  if (unknown.length > 0) return `unknown nodes: ${unknown.join(', ')}`
  const evicted = list.filter((n) => node(n)?.evicted === true)
  if (evicted.length > 0) return `evicted nodes cannot own groups: ${evicted.join(', ')}`
  return null
}

/** Preferred owners must be possible owners when these are limited; why not, or null. */
export function preferredOutsidePossible(preferred: readonly string[], possible: readonly string[]) {
  if (possible.length === 0) return null
  const outside = preferred.filter((n) => !possible.includes(n))
  return outside.length === 0 ? null : `preferred owners not among possible owners: ${outside.join(', ')}`
}

export function updatedGroup(
  group: GroupRecord,
  c: GroupUpdate,
  node: (name: string) => NodeRecord | undefined,
): SettingsChange<GroupRecord> | Refusal {
  for (const field of ['preferredOwners', 'possibleOwners'] as const) {
    const list = c[field]
    const problem = list === undefined ? null : ownerListProblem(list, node)
    if (problem !== null) return refuse('invalid', problem, field)
  }
  if (c.antiAffinity !== undefined && new Set(c.antiAffinity).size !== c.antiAffinity.length)
    return refuse('invalid', 'anti-affinity classes repeat', 'antiAffinity')
  const next: GroupRecord = {
    ...group,
    ...(c.preferredOwners === undefined ? {} : { preferredOwners: [...c.preferredOwners] }),
    ...(c.possibleOwners === undefined ? {} : { possibleOwners: [...c.possibleOwners] }),
    ...(c.failback === undefined ? {} : { failback: c.failback }),
    ...(c.antiAffinity === undefined ? {} : { antiAffinity: [...c.antiAffinity] }),
    ...(c.failoverThreshold === undefined ? {} : { failoverThreshold: c.failoverThreshold }),
    ...(c.failoverPeriodMs === undefined ? {} : { failoverPeriodMs: c.failoverPeriodMs }),
  }
  const outside = preferredOutsidePossible(next.preferredOwners, next.possibleOwners)
  if (outside !== null)
    return refuse(
      'invalid',
      `${outside}${c.preferredOwners === undefined ? ' (change --preferred-owners too)' : ''}`,
      c.preferredOwners === undefined ? 'possibleOwners' : 'preferredOwners',
    )
  // Where it runs now must stay allowed: the planner moves a group only for a reason (a failure,
  // a drain, a failback), so it would go on running where the operator just said it may not.
  const owner = group.owner
  if (
    owner !== null &&
    group.target === 'online' &&
    group.moving === null &&
    next.possibleOwners.length > 0 &&
    !next.possibleOwners.includes(owner)
  )
    return refuse(
      'conflict',
      `group ${group.name} runs on ${owner}, which would no longer be a possible owner: move it first (geocluster group move ${group.name} --to ${next.possibleOwners[0]}) or take it offline`,
      'possibleOwners',
    )
  const fields: string[] = []
  for (const f of ['preferredOwners', 'possibleOwners', 'antiAffinity'] as const)
    if (!sameList(group[f], next[f])) fields.push(f)
  for (const f of ['failback', 'failoverThreshold', 'failoverPeriodMs'] as const)
    if (group[f] !== next[f]) fields.push(f)
  return { record: next, fields: fields.sort(), restarting: false }
}

/**
 * Whether the resource is meant to be running now: wanted online in an online group that has an
 * owner and is neither moving nor failed. (What actually runs is the owner's business; this is
 * what every node can judge alike from the database.)
 */
export function runsNow(group: GroupRecord, r: ResourceRecord): boolean {
  return (
    group.target === 'online' &&
    group.owner !== null &&
    group.moving === null &&
    group.failed === null &&
    r.target === 'online' &&
    r.failed === null
  )
}

export function updatedResource(
  r: ResourceRecord,
  group: GroupRecord,
  c: ResourceUpdate,
): SettingsChange<ResourceRecord> | Refusal {
  const set = c.params ?? {}
  const unset = c.unset ?? []
  if (new Set(unset).size !== unset.length) return refuse('invalid', 'parameters to unset repeat', 'unset')
  const both = unset.filter((k) => Object.hasOwn(set, k))
  if (both.length > 0) return refuse('invalid', `both set and unset: ${both.join(', ')}`, 'unset')
  const absent = unset.filter((k) => !Object.hasOwn(r.params, k))
  if (absent.length > 0)
    return refuse('invalid', `${r.name} has no parameter ${absent.join(', ')} to unset`, 'unset')
  const kept = Object.fromEntries(Object.entries(r.params).filter(([k]) => !unset.includes(k)))
  // Spread, not assignment: a key such as `__proto__` stays a key (and is then refused as unknown).
  const params: Record<string, string> = { ...kept, ...set }
  const parsed = parseResourceParams(r.type, params)
  if (!parsed.ok) return refuse('invalid', parsed.problem.message, `params.${parsed.problem.param}`)
  const names = [...new Set([...Object.keys(r.params), ...Object.keys(params)])]
  const fields = names.filter((k) => r.params[k] !== params[k]).map((k) => `params.${k}`)
  const paramsChanged = fields.length > 0
  if (c.restartThreshold !== undefined && c.restartThreshold !== r.restartThreshold)
    fields.push('restartThreshold')
  if (c.restartPeriodMs !== undefined && c.restartPeriodMs !== r.restartPeriodMs)
    fields.push('restartPeriodMs')
  const restarting = paramsChanged && runsNow(group, r)
  if (restarting && c.restart !== true)
    return refuse(
      'restart-needed',
      `resource ${r.name} runs on ${group.owner}: its new parameters (${fields.filter((f) => f.startsWith('params.')).join(', ')}) take effect only when it restarts (it stops, and what depends on it, then starts again with them); repeat with --restart (API: "restart": true), or take it offline first`,
      'restart',
    )
  const record: ResourceRecord = {
    ...r,
    params,
    ...(c.restartThreshold === undefined ? {} : { restartThreshold: c.restartThreshold }),
    ...(c.restartPeriodMs === undefined ? {} : { restartPeriodMs: c.restartPeriodMs }),
  }
  return { record, fields: fields.sort(), restarting }
}
