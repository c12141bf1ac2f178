/**
 * Maintenance mode (Pacemaker's maintenance-mode and is-managed=false, WSFC's "turn off
 * monitoring"): what it holds back, from the committed flags. Pure: the resource host and the
 * failover driver ask it, on every node alike.
 *
 * - A resource in maintenance — its own flag, its group's, the node it runs on, or the
 *   cluster's — is left as it is: no health checks, no restart, no failure recorded, no start
 *   and no stop. Only the lease still fences it: a node that loses its lease stops everything,
 *   in maintenance or not, so that a group is never online on two nodes.
 * - The planner moves no group in maintenance (the group's flag, a resource's, its owner's, or
 *   the cluster's) and places nothing on a node in maintenance.
 * - Leaving it, a resource is probed again (the monitor checks it) before anything acts on it.
 */
import type { ClusterRecord, GroupRecord, NodeRecord, ResourceRecord } from '../database/entities.ts'

export interface MaintenanceFacts {
  cluster: Pick<ClusterRecord, 'maintenance'> | undefined
  node(name: string): Pick<NodeRecord, 'maintenance'> | undefined
  group(name: string): Pick<GroupRecord, 'maintenance'> | undefined
}

/** Why `resource` running on `node` is left alone, or null when it is managed. */
export function resourceMaintenance(
  facts: MaintenanceFacts,
  resource: Pick<ResourceRecord, 'name' | 'group' | 'maintenance'>,
  node: string,
): string | null {
  if (facts.cluster?.maintenance === true) return 'the cluster is in maintenance'
  if (facts.node(node)?.maintenance === true) return `${node} is in maintenance`
  if (facts.group(resource.group)?.maintenance === true) return `group ${resource.group} is in maintenance`
  if (resource.maintenance === true) return `${resource.name} is in maintenance`
  return null
}

/** Why the planner leaves `group` where it is, or null. */
export function groupMaintenance(
  facts: MaintenanceFacts,
  group: Pick<GroupRecord, 'name' | 'owner' | 'maintenance'>,
  resources: readonly Pick<ResourceRecord, 'name' | 'maintenance'>[],
): string | null {
  if (facts.cluster?.maintenance === true) return 'the cluster is in maintenance'
  if (group.maintenance === true) return `group ${group.name} is in maintenance`
  if (group.owner !== null && facts.node(group.owner)?.maintenance === true)
    return `its owner ${group.owner} is in maintenance`
  const held = resources.find((r) => r.maintenance === true)
  return held === undefined ? null : `its resource ${held.name} is in maintenance`
}

/**
 * What the planner is to leave alone: groups in maintenance (added to its in-flight set, which it
 * never touches) and nodes in maintenance (shown to it as paused: they take no new group).
 */
export function heldBackFromPlanning(
  facts: MaintenanceFacts,
  groups: readonly Pick<GroupRecord, 'name' | 'owner' | 'maintenance'>[],
  resources: readonly Pick<ResourceRecord, 'name' | 'group' | 'maintenance'>[],
  nodes: readonly Pick<NodeRecord, 'name' | 'maintenance'>[],
): { groups: Set<string>; nodes: Set<string> } {
  // Runs every planner tick on the leader: resources in maintenance are few, so index those once
  // rather than filtering every resource for every group.
  const held = new Map<string, Pick<ResourceRecord, 'name' | 'maintenance'>[]>()
  for (const r of resources) if (r.maintenance === true) held.set(r.group, [...(held.get(r.group) ?? []), r])
  const frozen = new Set<string>()
  for (const g of groups) if (groupMaintenance(facts, g, held.get(g.name) ?? []) !== null) frozen.add(g.name)
  return { groups: frozen, nodes: new Set(nodes.filter((n) => n.maintenance === true).map((n) => n.name)) }
}
