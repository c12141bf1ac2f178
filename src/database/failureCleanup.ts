/**
 * `resource cleanup` in the cluster database (Pacemaker's `crm_resource --cleanup`): forgets the
 * cluster-wide failure counts of the named resources — their failure marks, and the failovers
 * (and a failure for too many of them) of their groups — so the failover threshold counts afresh.
 * Each node forgets its own restart history when it applies the same entry (resourceCleanup.ts).
 */
import type { Command } from './commands.ts'
import type { DbRecord, GroupRecord, NodeRecord, ResourceRecord } from './entities.ts'
import { paths } from './keySpace.ts'

type CleanupResult =
  | { ok: true; changed: string[] }
  | { ok: false; reason: 'not-found'; message: string; path: string }

export interface CleanupStore {
  resource(name: string): ResourceRecord | undefined
  resources(): ResourceRecord[]
  group(name: string): GroupRecord | undefined
  node(name: string): NodeRecord | undefined
  set(path: string, record: DbRecord): void
}

export function applyResourceCleanup(
  store: CleanupStore,
  c: Extract<Command, { op: 'resource.cleanup' }>,
): CleanupResult {
  if (c.node !== null && (store.node(c.node) === undefined || store.node(c.node)?.evicted === true))
    return { ok: false, reason: 'not-found', message: `no node ${c.node}`, path: 'node' }
  const targets: ResourceRecord[] = []
  for (const [i, name] of (c.names ?? store.resources().map((r) => r.name)).entries()) {
    const r = store.resource(name)
    if (r === undefined)
      return { ok: false, reason: 'not-found', message: `no resource ${name}`, path: `names[${i}]` }
    targets.push(r)
  }
  const changed: string[] = []
  for (const r of targets) {
    if (r.failed === null) continue
    store.set(paths.resource(r.group, r.name), { ...r, failed: null })
    changed.push(paths.resource(r.group, r.name))
  }
  for (const name of new Set(targets.map((r) => r.group))) {
    const g = store.group(name)
    if (g === undefined || (g.failovers.length === 0 && g.failed === null)) continue
    store.set(paths.group(name), { ...g, failovers: [], failed: null })
    changed.push(paths.group(name))
  }
  return { ok: true, changed }
}
