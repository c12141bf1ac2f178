/**
 * What operators' placement constraints say to the planner (Pacemaker's `cli-prefer`/`cli-ban`
 * location constraints, WSFC has none): a group never runs on a node banned for it, and runs on
 * its preferred node whenever that node can take it. Pure: time comes in as the leader's wall
 * clock. A constraint past its expiry counts as gone at once, before the leader's removal of it
 * (`expiredConstraints`) is committed.
 */
import type { Command } from '../database/commands.ts'
import { type ConstraintRecord, type GroupRecord, groupDefaults } from '../database/entities.ts'
import { constraintHolds, holdsUntil } from '../database/groupConstraints.ts'
import type { NodeView, PlanAction, PlanInput } from './failoverPlanner.ts'

/** What the constraints that hold now say of one group. */
export interface GroupRules {
  /** Nodes it must not run on, with how long each ban holds (for reasons). */
  banned: ReadonlyMap<string, number | null>
  /** The node it should run on whenever it can, and until when. */
  prefer: { node: string; expiresAt: number | null } | null
}

export const noRules: GroupRules = { banned: new Map(), prefer: null }

/** The rules of every group with a constraint that holds at `nowMs`. */
export function rulesByGroup(
  constraints: readonly ConstraintRecord[],
  nowMs: number,
): Map<string, GroupRules> {
  const out = new Map<string, { banned: Map<string, number | null>; prefer: GroupRules['prefer'] }>()
  for (const c of constraints) {
    if (!constraintHolds(c, nowMs)) continue
    const rules = out.get(c.group) ?? { banned: new Map<string, number | null>(), prefer: null }
    if (c.rule === 'ban') rules.banned.set(c.node, c.expiresAt)
    else rules.prefer = { node: c.node, expiresAt: c.expiresAt }
    out.set(c.group, rules)
  }
  return out
}

/** Why `node` may not take the group under its rules, or null. */
export function bannedReason(rules: GroupRules, node: string): string | null {
  if (!rules.banned.has(node)) return null
  return `${node} is banned for it ${holdsUntil(rules.banned.get(node) ?? null)}`
}

/**
 * A group running away from its preferred node goes back there as a failback: once that node
 * (`home`, null when it may not take the group) has been up long enough, and within the failback
 * limit — a resource failing there would otherwise bounce the group back and forth. Null: stay.
 */
export function preferenceMove(
  group: GroupRecord,
  owner: string,
  prefer: NonNullable<GroupRules['prefer']>,
  home: NodeView | null,
  input: Pick<PlanInput, 'nowMs' | 'failbackAfterUpMs'>,
): PlanAction | null {
  if (home === null || home.name === owner || home.upForMs < input.failbackAfterUpMs) return null
  const recent = group.failbacks.filter((t) => input.nowMs - t < group.failoverPeriodMs).length
  if (recent >= groupDefaults.failbackLimit) return null
  return {
    kind: 'move',
    group: group.name,
    expect: { owner, token: group.fencingToken },
    to: home.name,
    avoid: null,
    move: 'failback',
    reason: `moved by an operator to ${prefer.node}, preferred there ${holdsUntil(prefer.expiresAt)}`,
  }
}

/** Constraints whose expiry has passed at `nowMs`: the leader proposes their removal. */
export function expiredConstraints(
  constraints: readonly ConstraintRecord[],
  nowMs: number,
): (ConstraintRecord & { expiresAt: number })[] {
  return constraints.filter((c): c is ConstraintRecord & { expiresAt: number } => !constraintHolds(c, nowMs))
}

/** The command that removes an expired constraint (`at`: the leader's wall clock, ms). */
export function expiryCommand(c: ConstraintRecord & { expiresAt: number }, at: number): Command {
  return { op: 'constraint.expire', name: c.group, node: c.node, expiresAt: c.expiresAt, at }
}
