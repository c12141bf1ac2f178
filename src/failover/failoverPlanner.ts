/**
 * The cluster half of the Failover Manager, run by the leader: from the committed database and
 * what the leader knows of each node, which groups go where, and why. Pure: the runtime proposes
 * the actions as commands and calls again when anything changes. Every action carries its
 * reason, and so does every group that cannot be placed.
 *
 * Placement (seed 000, WSFC): preferred owners in order, cascading from the current one; then
 * the other possible owners — same site as the group's last owner first, no anti-affinity
 * conflict first, fewest groups first, random among equals. Anti-affinity is soft, as WSFC's
 * default: ignored when nothing else is left. N+1 standby is the preferred- and possible-owner
 * lists pointing at the spare. Paused and draining nodes take no new group. Operators'
 * constraints (placementConstraints.ts) come first: never on a banned node, on the preferred
 * node whenever it can take the group.
 */
import type { Command } from '../database/commands.ts'
import {
  type ConstraintRecord,
  type GroupRecord,
  groupDefaults,
  type MoveKind,
  type ResourceRecord,
} from '../database/entities.ts'
import {
  bannedReason,
  type GroupRules,
  noRules,
  preferenceMove,
  rulesByGroup,
} from './placementConstraints.ts'

export interface NodeView {
  name: string
  site: string
  /** up: heard from within its detection time; down: its lease has certainly ended (its groups
   * may start elsewhere); suspect: neither yet. */
  state: 'up' | 'suspect' | 'down'
  /** How long it has been up without a break (ms), for failback. */
  upForMs: number
  paused: boolean
  draining: boolean
  evicted: boolean
}

export interface PlanInput {
  groups: readonly GroupRecord[]
  resources: readonly ResourceRecord[]
  nodes: readonly NodeView[]
  /** The leader's wall clock (ms since the epoch) and its local hour of day (0–23). */
  nowMs: number
  hourOfDay: number
  /** A failback target must have been up this long ("correctly recovered"). */
  failbackAfterUpMs: number
  /** Groups with a decision in flight (proposed, not yet applied): left alone. */
  inFlight: ReadonlySet<string>
  /** Uniform in [0, 1): ties between equal candidates. */
  random: () => number
  /** Operators' moves and bans; those expired at `nowMs` count as gone. */
  constraints?: readonly ConstraintRecord[]
}

/** Who holds a group and with which fencing token: what a change of owner compares and sets. */
export interface Holding {
  owner: string | null
  token: number
}

export type PlanAction =
  | { kind: 'assign'; group: string; expect: Holding; owner: string; move: MoveKind; reason: string }
  | {
      kind: 'move'
      group: string
      expect: Holding
      to: string | null
      avoid: string | null
      move: MoveKind
      reason: string
    }
  | { kind: 'fail'; group: string; reason: string }
  /** Its holder's lease has certainly ended and nothing is to run it: let it go for it. */
  | { kind: 'release'; group: string; token: number; reason: string }
  /** Nothing can be done for the group now; the reason is for the event log. */
  | { kind: 'stuck'; group: string; reason: string }

/** The command that carries out a decision (`at`: the deciding leader's wall clock, ms). */
export function commandFor(action: Exclude<PlanAction, { kind: 'stuck' }>, at: number): Command {
  switch (action.kind) {
    case 'assign':
      return {
        op: 'group.assign',
        name: action.group,
        expect: action.expect,
        owner: action.owner,
        kind: action.move,
        reason: action.reason,
        at,
      }
    case 'move':
      return {
        op: 'group.move',
        name: action.group,
        expect: action.expect,
        to: action.to,
        avoid: action.avoid,
        kind: action.move,
        reason: action.reason,
        at,
      }
    case 'release':
      return { op: 'group.release', name: action.group, token: action.token }
    case 'fail':
      return { op: 'group.fail', name: action.group, reason: action.reason }
  }
}

export function planFailover(input: PlanInput): PlanAction[] {
  const nodes = new Map(input.nodes.map((n) => [n.name, n]))
  const load = new Map<string, number>()
  for (const g of input.groups) {
    if (g.owner !== null && g.target === 'online') load.set(g.owner, (load.get(g.owner) ?? 0) + 1)
  }
  const actions: PlanAction[] = []
  const rules = rulesByGroup(input.constraints ?? [], input.nowMs)
  for (const group of input.groups) {
    if (input.inFlight.has(group.name)) continue
    const action =
      group.target !== 'online' || group.failed !== null
        ? releaseForDownHolder(group, nodes)
        : planGroup(group, input, nodes, load, rules.get(group.name) ?? noRules)
    if (action === null) continue
    actions.push(action)
    // Later groups in this round see the load this decision adds.
    if (action.kind === 'assign') load.set(action.owner, (load.get(action.owner) ?? 0) + 1)
  }
  return actions
}

/**
 * A group nothing is to run (offline or failed) that a node still holds is released by that
 * node once it has stopped it; a holder that is down (its lease has certainly ended) cannot,
 * so the leader releases it for it.
 */
function releaseForDownHolder(group: GroupRecord, nodes: ReadonlyMap<string, NodeView>): PlanAction | null {
  if (group.owner === null) return null
  const holder = nodes.get(group.owner)
  if (holder !== undefined && holder.state !== 'down') return null
  return {
    kind: 'release',
    group: group.name,
    token: group.fencingToken,
    reason: `${group.owner} is down: released for it`,
  }
}

function planGroup(
  group: GroupRecord,
  input: PlanInput,
  nodes: ReadonlyMap<string, NodeView>,
  load: ReadonlyMap<string, number>,
  rules: GroupRules,
): PlanAction | null {
  const owner = group.owner === null ? undefined : nodes.get(group.owner)
  const place = (avoid: string | null, near: string | null) =>
    placement(group, input, nodes, load, avoid, near, rules)
  const may = (n: NodeView | undefined, avoid: string | null) => eligible(group, n, avoid, rules)
  const stuck = (avoid: string | null, context?: string) => stuckAction(group, nodes, avoid, rules, context)

  const holding: Holding = { owner: group.owner, token: group.fencingToken }
  // Nobody owns it: first placement, started again (back where it last ran, WSFC's owner node),
  // or the next step of a move (its owner released it).
  if (group.owner === null) {
    const move = group.moving
    const prefer = rules.prefer?.node ?? null
    const target =
      move?.to !== null && move?.to !== undefined && may(nodes.get(move.to), move.avoid)
        ? move.to
        : move === null && prefer !== null && may(nodes.get(prefer), null)
          ? prefer
          : move === null && group.lastOwner !== null && may(nodes.get(group.lastOwner), null)
            ? group.lastOwner
            : place(move?.avoid ?? null, siteOf(nodes, group.lastOwner))
    if (target === null) return stuck(move?.avoid ?? null)
    return {
      kind: 'assign',
      group: group.name,
      expect: holding,
      owner: target,
      move: move?.kind ?? 'place',
      reason: move?.reason ?? `placed on ${target}`,
    }
  }

  // An evicted owner may still run the group until its lease has certainly ended: wait.
  if (owner?.evicted === true && owner.state !== 'down') return null
  // Its owner is gone for certain (its lease has ended): fail over, unless it has failed over
  // too often within the period.
  if (owner === undefined || owner.state === 'down') {
    const why =
      owner === undefined || owner.evicted ? `${group.owner} left the cluster` : `${group.owner} is down`
    const over = failoverOverThreshold(group, input, nodes)
    if (over !== null) return { kind: 'fail', group: group.name, reason: `${why}; ${over}` }
    // A move it was stopping for still says where to.
    const to = group.moving?.to ?? null
    const target =
      to !== null && may(nodes.get(to), group.owner) ? to : place(group.owner, owner?.site ?? null)
    if (target === null) return stuck(group.owner, why)
    return {
      kind: 'assign',
      group: group.name,
      expect: holding,
      owner: target,
      move: 'failover',
      reason: `${why}: failed over to ${target}`,
    }
  }
  // A move is under way: the owner is stopping the group and will release it.
  if (group.moving !== null || owner.state !== 'up') return null
  // A planned move away from the owner, to where placement says.
  const moveAway = (move: MoveKind, why: string): PlanAction => {
    const target = place(owner.name, owner.site)
    if (target === null) return stuck(owner.name, why)
    const reason = `${why}: moving to ${target}`
    return { kind: 'move', group: group.name, expect: holding, to: target, avoid: owner.name, move, reason }
  }

  // A resource gave up after its restarts (its threshold): move the group away.
  const failed = input.resources.find((r) => r.group === group.name && r.failed !== null)
  if (failed !== undefined) {
    const over = failoverOverThreshold(group, input, nodes)
    const why = `${failed.name} failed on ${owner.name} (${failed.failed!.reason})`
    if (over !== null) return { kind: 'fail', group: group.name, reason: `${why}; ${over}` }
    return moveAway('failover', why)
  }
  if (owner.draining) return moveAway('drain', `${owner.name} is draining`)
  // Banned where it runs: a planned move away (Pacemaker's `crm_resource --ban`).
  const banned = bannedReason(rules, owner.name)
  if (banned !== null) return moveAway('move', banned)

  // Preferred elsewhere (`group move --lifetime`): no failback goes anywhere else meanwhile.
  if (rules.prefer !== null) {
    const home = nodes.get(rules.prefer.node)
    return preferenceMove(group, owner.name, rules.prefer, may(home, null) ? home : null, input)
  }

  return failback(group, input, nodes, owner, rules)
}

/** Back to the most preferred owner, if the policy, the window and the attempt limit allow. */
function failback(
  group: GroupRecord,
  input: PlanInput,
  nodes: ReadonlyMap<string, NodeView>,
  owner: NodeView,
  rules: GroupRules,
): PlanAction | null {
  if (group.failback === 'never' || group.preferredOwners.length === 0) return null
  const home = group.preferredOwners.find((name) => {
    const n = nodes.get(name)
    return n !== undefined && eligible(group, n, null, rules) && n.upForMs >= input.failbackAfterUpMs
  })
  if (home === undefined || home === owner.name) return null
  const ownerRank = group.preferredOwners.indexOf(owner.name)
  if (ownerRank !== -1 && ownerRank < group.preferredOwners.indexOf(home)) return null
  if (!inWindow(group.failback, input.hourOfDay)) return null
  const recent = group.failbacks.filter((t) => input.nowMs - t < group.failoverPeriodMs)
  if (recent.length >= groupDefaults.failbackLimit) return null
  return {
    kind: 'move',
    group: group.name,
    expect: { owner: owner.name, token: group.fencingToken },
    to: home,
    avoid: null,
    move: 'failback',
    reason: `failback to preferred owner ${home} (policy ${group.failback})`,
  }
}

/** `immediate`, or a window `HH-HH` of local hours (start inclusive, end exclusive; may wrap midnight). */
export function inWindow(policy: string, hour: number): boolean {
  if (policy === 'immediate') return true
  const m = /^(\d\d)-(\d\d)$/.exec(policy)
  if (m === null) return false
  const start = Number(m[1])
  const end = Number(m[2])
  return start <= end ? hour >= start && hour < end : hour >= start || hour < end
}

/** The group's failover threshold: its own, or one less than the `possible` nodes that may own it (WSFC). */
export function failoverThresholdOf(group: GroupRecord, possible: number): number {
  return group.failoverThreshold ?? Math.max(1, possible - 1)
}

/** Why one more failover is not allowed, or null. */
function failoverOverThreshold(
  group: GroupRecord,
  input: PlanInput,
  nodes: ReadonlyMap<string, NodeView>,
): string | null {
  const recent = group.failovers.filter((t) => input.nowMs - t < group.failoverPeriodMs)
  const possible = [...nodes.values()].filter(
    (n) => !n.evicted && (group.possibleOwners.length === 0 || group.possibleOwners.includes(n.name)),
  ).length
  const threshold = failoverThresholdOf(group, possible)
  if (recent.length < threshold) return null
  const hours = Math.round((group.failoverPeriodMs / 3_600_000) * 10) / 10
  return `${recent.length} failovers within ${hours} h reached the threshold of ${threshold}: the group is failed`
}

function eligible(
  group: GroupRecord,
  n: NodeView | undefined,
  avoid: string | null,
  rules: GroupRules,
): n is NodeView {
  return (
    n !== undefined &&
    n.state === 'up' &&
    !n.paused &&
    !n.draining &&
    !n.evicted &&
    n.name !== avoid &&
    !rules.banned.has(n.name) &&
    (group.possibleOwners.length === 0 || group.possibleOwners.includes(n.name))
  )
}

function siteOf(nodes: ReadonlyMap<string, NodeView>, name: string | null): string | null {
  return name === null ? null : (nodes.get(name)?.site ?? null)
}

/** Where the group should go, or null when no node can take it. */
export function placement(
  group: GroupRecord,
  input: Pick<PlanInput, 'groups' | 'random'>,
  nodes: ReadonlyMap<string, NodeView>,
  load: ReadonlyMap<string, number>,
  avoid: string | null,
  nearSite: string | null,
  rules: GroupRules = noRules,
): string | null {
  const candidates = [...nodes.values()].filter((n) => eligible(group, n, avoid, rules))
  if (candidates.length === 0) return null
  // An operator's preference comes before every other (it is never banned: see groupConstraints).
  const prefer = candidates.find((n) => n.name === rules.prefer?.node)
  if (prefer !== undefined) return prefer.name
  const classes = new Set(group.antiAffinity)
  const conflicts = (n: NodeView) =>
    classes.size > 0 &&
    input.groups.some(
      (o) =>
        o.name !== group.name &&
        o.owner === n.name &&
        o.target === 'online' &&
        o.antiAffinity.some((c) => classes.has(c)),
    )
  // Cascading: the preferred list from the one after the current owner (or the top), wrapping.
  const preferred = group.preferredOwners
  const from = avoid === null ? 0 : preferred.indexOf(avoid) + 1
  const cascade = [...preferred.slice(from), ...preferred.slice(0, from)]
  const byName = new Map(candidates.map((n) => [n.name, n]))
  const preferredOk = cascade.map((name) => byName.get(name)).filter((n) => n !== undefined)
  const first = preferredOk.find((n) => !conflicts(n))
  if (first !== undefined) return first.name
  // The rest: same site first, no conflict first, least loaded, random among equals.
  const rest = candidates
    .filter((n) => !preferred.includes(n.name))
    .map((n) => ({
      n,
      key: [nearSite !== null && n.site !== nearSite ? 1 : 0, conflicts(n) ? 1 : 0, load.get(n.name) ?? 0],
      tie: input.random(),
    }))
    .sort((a, b) => a.key[0]! - b.key[0]! || a.key[1]! - b.key[1]! || a.key[2]! - b.key[2]! || a.tie - b.tie)
  const free = rest.find((x) => x.key[1] === 0)
  if (free !== undefined) return free.n.name
  // Only conflicting nodes are left: anti-affinity gives way (WSFC's soft rule).
  return preferredOk[0]?.name ?? rest[0]?.n.name ?? null
}

function stuckAction(
  group: GroupRecord,
  nodes: ReadonlyMap<string, NodeView>,
  avoid: string | null,
  rules: GroupRules,
  context?: string,
): PlanAction {
  const reasons: string[] = []
  for (const n of nodes.values()) {
    if (group.possibleOwners.length > 0 && !group.possibleOwners.includes(n.name)) continue
    if (n.evicted) continue
    const why =
      n.name === avoid
        ? 'where it was'
        : rules.banned.has(n.name)
          ? 'banned'
          : n.state !== 'up'
            ? n.state
            : n.paused
              ? n.draining
                ? 'draining'
                : 'paused'
              : null
    if (why !== null) reasons.push(`${n.name} ${why}`)
  }
  const detail = reasons.length === 0 ? 'no node may own it' : reasons.join(', ')
  return {
    kind: 'stuck',
    group: group.name,
    reason: `${context === undefined ? '' : `${context}; `}no node can take group ${group.name} (${detail})`,
  }
}
