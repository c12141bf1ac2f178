/**
 * Applying an operator's placement constraints to the cluster database: one record per group and
 * node (`constraints/<group>/<node>`), at most one preference per group. Pure and deterministic
 * like the rest of the database: time comes only from the command (`at`, the proposer's wall
 * clock), so every node decides alike whether a ban still holds.
 */
import type { Command } from './commands.ts'
import type { ConstraintRecord, DbRecord, GroupRecord, NodeRecord } from './entities.ts'
import { paths } from './keySpace.ts'

type ConstraintCommand = Extract<Command, { op: `constraint.${string}` }>

type ConstraintResult =
  | { ok: true; changed: string[] }
  | { ok: false; reason: 'invalid' | 'not-found' | 'conflict' | 'quota'; message: string; path?: string }

/** Constraints the cluster holds at most (each group has at most one per node). */
export const constraintsMax = 10_000

/** What applying a constraint command reads and changes of the database. */
export interface ConstraintStore {
  group(name: string): GroupRecord | undefined
  node(name: string): NodeRecord | undefined
  nodes(): NodeRecord[]
  /** The group's constraints, or every constraint. */
  constraints(group?: string): ConstraintRecord[]
  get(path: string): DbRecord | undefined
  set(path: string, record: DbRecord): void
  delete(path: string): boolean
}

/** Whether a constraint still holds at wall-clock `atMs` (an expired one is as good as gone). */
export function constraintHolds(c: Pick<ConstraintRecord, 'expiresAt'>, atMs: number): boolean {
  return c.expiresAt === null || atMs < c.expiresAt
}

const refuse = (
  reason: 'invalid' | 'not-found' | 'conflict' | 'quota',
  message: string,
  path?: string,
): ConstraintResult =>
  path === undefined ? { ok: false, reason, message } : { ok: false, reason, message, path }

/**
 * A wall-clock instant as UTC ISO 8601 to the second, for messages. Computed here (civil from
 * days, H. Hinnant) because the pure modules may not touch the `Date` global.
 */
export function utcInstant(ms: number): string {
  const days = Math.floor(ms / 86_400_000)
  const secondOfDay = Math.floor((ms - days * 86_400_000) / 1000)
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  const two = (n: number) => String(n).padStart(2, '0')
  const time = `${two(Math.floor(secondOfDay / 3600))}:${two(Math.floor(secondOfDay / 60) % 60)}:${two(secondOfDay % 60)}`
  return `${year}-${two(month)}-${two(day)}T${time}Z`
}

/** How long a constraint holds, for messages. */
export const holdsUntil = (expiresAt: number | null) =>
  expiresAt === null ? 'until cleared' : `until ${utcInstant(expiresAt)}`

export function applyConstraintCommand(
  store: ConstraintStore,
  index: number,
  c: ConstraintCommand,
): ConstraintResult {
  switch (c.op) {
    case 'constraint.add':
      return add(store, index, c)
    case 'constraint.clear':
      return clear(store, c.name, c.node)
    case 'constraint.expire':
      return expire(store, c)
  }
}

/**
 * The nodes a group may still run on if `node` were banned too: its possible owners (every
 * member when the list is empty), less evicted ones and those banned at `atMs`.
 */
function leftAfterBan(store: ConstraintStore, group: GroupRecord, node: string, atMs: number): string[] {
  const banned = new Set(
    store
      .constraints(group.name)
      .filter((c) => c.rule === 'ban' && constraintHolds(c, atMs))
      .map((c) => c.node),
  )
  banned.add(node)
  const members = store.nodes().filter((n) => n.evicted !== true)
  const possible =
    group.possibleOwners.length === 0
      ? members.map((n) => n.name)
      : group.possibleOwners.filter((n) => members.some((m) => m.name === n))
  return possible.filter((n) => !banned.has(n))
}

function add(
  store: ConstraintStore,
  index: number,
  c: Extract<ConstraintCommand, { op: 'constraint.add' }>,
): ConstraintResult {
  const group = store.group(c.name)
  if (group === undefined) return refuse('not-found', `no group ${c.name}`, 'name')
  const node = store.node(c.node)
  if (node === undefined || node.evicted === true) return refuse('not-found', `no node ${c.node}`, 'node')
  if (c.expiresAt !== null && c.expiresAt <= c.at)
    return refuse('invalid', 'the constraint would expire before it is added', 'expiresAt')
  if (group.possibleOwners.length > 0 && !group.possibleOwners.includes(c.node))
    return refuse(
      'conflict',
      `node ${c.node} is not a possible owner of group ${c.name} (${group.possibleOwners.join(', ')})`,
      'node',
    )
  const path = paths.constraint(c.name, c.node)
  const existing = store.get(path) as ConstraintRecord | undefined
  if (existing === undefined && store.constraints().length >= constraintsMax)
    return refuse('quota', `the cluster holds ${constraintsMax} constraints, the most it may`, 'name')
  const changed: string[] = []
  if (c.rule === 'ban') {
    const left = leftAfterBan(store, group, c.node, c.at)
    if (left.length === 0)
      return refuse(
        'conflict',
        `banning ${c.node} would leave group ${c.name} no node to run on (it may run on ${
          group.possibleOwners.join(', ') || 'any node'
        }, and the others are banned)`,
        'node',
      )
  } else {
    if (existing?.rule === 'ban' && constraintHolds(existing, c.at))
      return refuse(
        'conflict',
        `node ${c.node} is banned for group ${c.name} ${holdsUntil(existing.expiresAt)}; clear it first (geocluster group clear ${c.name})`,
        'node',
      )
    // One preference at a time: the newest move says where the group should be.
    for (const other of store.constraints(c.name)) {
      if (other.rule !== 'prefer' || other.node === c.node) continue
      const otherPath = paths.constraint(c.name, other.node)
      store.delete(otherPath)
      changed.push(otherPath)
    }
  }
  const record: ConstraintRecord = {
    kind: 'constraint',
    group: c.name,
    node: c.node,
    rule: c.rule,
    expiresAt: c.expiresAt,
    at: c.at,
    index,
  }
  store.set(path, record)
  changed.push(path)
  return { ok: true, changed }
}

function clear(store: ConstraintStore, group: string, node: string | null): ConstraintResult {
  if (store.group(group) === undefined) return refuse('not-found', `no group ${group}`, 'name')
  const changed: string[] = []
  for (const c of store.constraints(group)) {
    if (node !== null && c.node !== node) continue
    const path = paths.constraint(group, c.node)
    store.delete(path)
    changed.push(path)
  }
  return { ok: true, changed }
}

function expire(
  store: ConstraintStore,
  c: Extract<ConstraintCommand, { op: 'constraint.expire' }>,
): ConstraintResult {
  const path = paths.constraint(c.name, c.node)
  const existing = store.get(path) as ConstraintRecord | undefined
  if (existing === undefined) return refuse('not-found', `no constraint of ${c.name} on ${c.node}`, 'node')
  if (existing.expiresAt !== c.expiresAt)
    return refuse(
      'conflict',
      `the constraint of ${c.name} on ${c.node} changed meanwhile (it holds ${holdsUntil(existing.expiresAt)})`,
      'expiresAt',
    )
  if (c.at < c.expiresAt)
    return refuse('conflict', `the constraint of ${c.name} on ${c.node} has not expired`, 'at')
  store.delete(path)
  return { ok: true, changed: [path] }
}
