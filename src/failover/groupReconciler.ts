/**
 * The local half of the Failover Manager: compares what the committed database says should run
 * on this node with what the resource monitor reports, and returns the actions that close the
 * gap. Pure: the runtime executes the actions and calls again whenever either side changes.
 *
 * Ownership comes from the leader (failoverPlanner.ts); a node runs what it owns only while it
 * holds a lease, and starts anything only once it has applied what the granting leader had
 * (lease.ts). A group being moved, failed or taken offline is stopped here and then released,
 * so its next owner never overlaps it. Dependencies order everything: a resource starts only when all it depends on are
 * online, and stops only when everything depending on it is down.
 */
import type { GroupRecord, ResourceRecord } from '../database/entities.ts'

export type ActualState = 'offline' | 'starting' | 'online' | 'stopping' | 'failed'

export interface ReconcileInput {
  node: string
  groups: readonly GroupRecord[]
  resources: readonly ResourceRecord[]
  /** This node may keep running what it owns: it holds a lease and is not stopping. */
  mayRun: boolean
  /** It may start what it owns: `mayRun`, and it has applied what the granting leader had. */
  mayStart: boolean
  /** Why not `mayRun`, for stop reasons (no lease, stopping). */
  withheld?: string
  /** Releases proposed and not yet applied. */
  pendingReleases: ReadonlySet<string>
  /** Resources whose checkpoint is being saved: their group is not released before it is. */
  savingCheckpoints?: ReadonlySet<string>
  /** Resources the monitor is checking again (a cleanup): neither started nor stopped until it answers. */
  probing?: ReadonlySet<string>
  /** What the resource monitor reports, per resource running or known here. */
  actual: ReadonlyMap<string, ActualState>
  /**
   * Resources left as they are (maintenance.ts: in maintenance, or probed again after it):
   * neither started nor stopped while this node may run — losing the lease still stops them.
   */
  unmanaged?: ReadonlySet<string>
  /**
   * The parameters (`paramsKey`) each resource was last started with here. One running with
   * other parameters than the database's is restarted to take them (`resource set --restart`),
   * and what depends on it with it: stopped dependents first, started again providers first.
   */
  startedWith?: ReadonlyMap<string, string>
}

/** A resource's parameters as one comparable string (key order does not matter). */
export function paramsKey(params: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

export type ReconcileAction =
  | { kind: 'start'; group: string; resource: string; fencingToken: number }
  | { kind: 'stop'; group: string | null; resource: string; reason: string }
  /** Every resource of a group being moved away is down: give it up under this token. */
  | { kind: 'release'; group: string; token: number }

/** The group is this node's to run: it owns it, and it is not being moved away or failed. */
export function runsHere(group: GroupRecord, node: string): boolean {
  return group.owner === node && group.fencingToken > 0 && group.moving === null && group.failed === null
}

/** Its holder is to stop it and release it: moved away, failed or taken offline. */
export function givenUp(group: GroupRecord): boolean {
  return group.moving !== null || group.failed !== null || group.target !== 'online'
}

export function reconcile(input: ReconcileInput): ReconcileAction[] {
  const actions: ReconcileAction[] = []
  const byName = new Map(input.resources.map((r) => [r.name, r]))
  const groups = new Map(input.groups.map((g) => [g.name, g]))
  const state = (name: string): ActualState => input.actual.get(name) ?? 'offline'

  const desiredMemo = new Map<string, boolean>()
  const desired = (r: ResourceRecord, seen: Set<string> = new Set()): boolean => {
    const memo = desiredMemo.get(r.name)
    if (memo !== undefined) return memo
    if (seen.has(r.name)) return false // a cycle cannot be satisfied; the database refuses them anyway
    seen.add(r.name)
    const group = groups.get(r.group)
    const value =
      input.mayRun &&
      group !== undefined &&
      group.target === 'online' &&
      runsHere(group, input.node) &&
      r.target === 'online' &&
      r.failed === null &&
      r.dependsOn.every((d) => {
        const provider = byName.get(d)
        return provider !== undefined && desired(provider, seen)
      })
    desiredMemo.set(r.name, value)
    return value
  }
  // The resource running with old parameters that `r` restarts for (itself or a provider), or null.
  const restartMemo = new Map<string, string | null>()
  const restartFor = (r: ResourceRecord, seen: Set<string> = new Set()): string | null => {
    const memo = restartMemo.get(r.name)
    if (memo !== undefined) return memo
    if (seen.has(r.name)) return null
    seen.add(r.name)
    const s = state(r.name)
    const started = input.startedWith?.get(r.name)
    let value: string | null =
      (s === 'online' || s === 'starting') && started !== undefined && started !== paramsKey(r.params)
        ? r.name
        : null
    for (const d of r.dependsOn) {
      const provider = byName.get(d)
      value ??= provider === undefined ? null : restartFor(provider, seen)
    }
    restartMemo.set(r.name, value)
    return value
  }
  const providersOnline = (r: ResourceRecord) => r.dependsOn.every((d) => state(d) === 'online')
  const dependentsDown = (r: ResourceRecord) =>
    input.resources.every(
      (o) => !o.dependsOn.includes(r.name) || state(o.name) === 'offline' || state(o.name) === 'failed',
    )

  for (const r of input.resources) {
    if (input.mayRun && (input.unmanaged?.has(r.name) === true || input.probing?.has(r.name) === true))
      continue
    const s = state(r.name)
    const want = desired(r)
    const restart = restartFor(r)
    if (want && s === 'offline' && providersOnline(r) && restart === null && input.mayStart) {
      actions.push({
        kind: 'start',
        group: r.group,
        resource: r.name,
        fencingToken: groups.get(r.group)!.fencingToken,
      })
    } else if (
      (s === 'online' || s === 'starting') &&
      (!want || !providersOnline(r) || restart !== null) &&
      dependentsDown(r)
    ) {
      actions.push({
        kind: 'stop',
        group: r.group,
        resource: r.name,
        reason:
          want && restart !== null
            ? restart === r.name
              ? 'its parameters changed: restarting to take them'
              : `restarting with ${restart}, which it depends on`
            : stopReason(r, want, groups.get(r.group), input),
      })
    }
  }
  // Resources the monitor runs that the database no longer has.
  for (const [name, s] of input.actual) {
    if (!byName.has(name) && (s === 'online' || s === 'starting')) {
      actions.push({ kind: 'stop', group: null, resource: name, reason: 'resource was deleted' })
    }
  }
  // A group this node holds but is not to run (moved away, failed, taken offline) is released
  // once nothing of it runs here any more: only then may it start anywhere else. A resource
  // deleted while it runs belonged to some group the database no longer says: nothing is
  // released until it is down (its stop timeout bounds the wait).
  const deletedStillRunning = [...input.actual].some(
    ([name, s]) => !byName.has(name) && s !== 'offline' && s !== 'failed',
  )
  for (const g of input.groups) {
    if (g.owner !== input.node || !givenUp(g) || input.pendingReleases.has(g.name)) continue
    if (deletedStillRunning) continue
    const members = input.resources.filter((r) => r.group === g.name)
    const saving = members.some((r) => input.savingCheckpoints?.has(r.name) === true)
    if (!saving && members.every((r) => state(r.name) === 'offline' || state(r.name) === 'failed'))
      actions.push({ kind: 'release', group: g.name, token: g.fencingToken })
  }
  return actions
}

function stopReason(
  r: ResourceRecord,
  want: boolean,
  group: GroupRecord | undefined,
  input: ReconcileInput,
): string {
  if (!want) {
    if (group === undefined) return 'group was deleted'
    if (!input.mayRun) return input.withheld ?? 'this node may not run groups now'
    if (group.target !== 'online') return 'group taken offline'
    if (group.owner !== input.node) return `group now owned by ${group.owner ?? 'nobody'}`
    if (group.moving !== null) return `group moving away: ${group.moving.reason}`
    if (group.failed !== null) return `group failed: ${group.failed.reason}`
    if (r.target !== 'online') return 'resource taken offline'
    if (r.failed !== null) return 'resource failed'
    return 'a resource it depends on is not wanted online'
  }
  return 'a resource it depends on is not online'
}

export type GroupState = 'online' | 'offline' | 'pending' | 'partial' | 'failed'
export type ResourceState = 'online' | 'offline' | 'pending' | 'failed'

export function resourceState(r: ResourceRecord, actual: ActualState | undefined): ResourceState {
  if (r.failed !== null || actual === 'failed') return 'failed'
  if (actual === 'starting' || actual === 'stopping') return 'pending'
  return actual === 'online' ? 'online' : 'offline'
}

export function groupState(
  group: GroupRecord,
  resources: readonly ResourceRecord[],
  actual: ReadonlyMap<string, ActualState>,
  hostedHere: boolean,
): GroupState {
  // WSFC's group states: Failed, Pending while anything is in transition, Online when every
  // resource is, Partial Online when some are, else Offline.
  if (group.failed !== null || resources.some((r) => r.failed !== null)) return 'failed'
  if (resources.length === 0) return group.target === 'online' && hostedHere ? 'online' : 'offline'
  const states = resources.map((r) => actual.get(r.name) ?? 'offline')
  if (states.some((s) => s === 'starting' || s === 'stopping' || s === 'failed')) return 'pending'
  const online = states.filter((s) => s === 'online').length
  if (online === states.length) return 'online'
  if (online === 0) return 'offline'
  return 'partial'
}
