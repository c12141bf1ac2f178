/**
 * Backup and authoritative restore of the cluster database (WSFC's and the seeds' terms): what
 * the database itself decides. A backup is the configuration at one applied index — groups,
 * resources, config keys, checkpoints. Who runs what (owners, fencing tokens, failover history)
 * and membership are not in it: those belong to the running cluster, and the log alone decides
 * them. A restore is one command (`cluster.restore`) through the log, so every node replaces
 * its configuration at the same index. The file around it (format, checksum) is
 * src/runtime/backupDocument.ts.
 */
import type { ClusterDatabase } from './clusterDatabase.ts'
import type { BackupSource, Command, RestoreContent } from './commands.ts'
import type { ClusterRecord } from './entities.ts'

/** The id a backup names its cluster by: the random id, or for clusters from before it, name and bootstrap index. */
export function clusterIdOf(cluster: ClusterRecord): string {
  return cluster.id ?? `${cluster.name}@${cluster.bootstrapIndex}`
}

/** The configuration the database holds now, in a stable order. */
export function backupContent(db: ClusterDatabase): RestoreContent {
  const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const resources = db.resources().sort(byName)
  return {
    groups: db
      .groups()
      .sort(byName)
      .map((g) => ({
        name: g.name,
        preferredOwners: [...g.preferredOwners],
        possibleOwners: [...g.possibleOwners],
        failback: g.failback,
        antiAffinity: [...g.antiAffinity],
        failoverThreshold: g.failoverThreshold,
        failoverPeriodMs: g.failoverPeriodMs,
        target: g.target,
      })),
    resources: resources.map((r) => ({
      name: r.name,
      group: r.group,
      type: r.type,
      params: { ...r.params },
      dependsOn: [...r.dependsOn],
      restartThreshold: r.restartThreshold,
      restartPeriodMs: r.restartPeriodMs,
      target: r.target,
    })),
    config: db.configList().map((c) => ({ key: c.key, value: c.value })),
    checkpoints: resources.flatMap((r) => {
      const c = db.checkpoint(r.name)
      return c === undefined
        ? []
        : [{ resource: c.resource, node: c.node, at: c.at, files: c.files.map((f) => ({ ...f })) }]
    }),
  }
}

/** Why a backup of `from` may not be restored into `into` (another cluster), or null. */
export function foreignProblem(
  from: BackupSource['cluster'],
  into: ClusterRecord | undefined,
): string | null {
  if (into === undefined) return 'the cluster is not bootstrapped yet'
  const id = clusterIdOf(into)
  if (from.name !== into.name || from.id !== id)
    return `the backup is of cluster ${from.name} (id ${from.id}), this is ${into.name} (id ${id}): a restore takes only this cluster's own backups`
  return null
}

/**
 * The ordinary commands that rebuild `content` on a database holding only membership, in an
 * order each is valid in: groups, resources, then their dependencies (any order of creation
 * works), config, groups' targets (bringing a group online brings all its resources online),
 * then resources the backup had offline in online groups. Checkpoints come last: they are
 * installed, not saved by an owner (the restore's own rule, see ClusterDatabase).
 */
export function restoreSteps(content: RestoreContent): Command[] {
  const steps: Command[] = []
  for (const { target: _, ...g } of content.groups) steps.push({ op: 'group.create', ...g })
  for (const { target: _, ...r } of content.resources)
    steps.push({ op: 'resource.create', ...r, dependsOn: [] })
  for (const r of content.resources)
    if (r.dependsOn.length > 0)
      steps.push({ op: 'resource.setDependencies', name: r.name, dependsOn: r.dependsOn })
  for (const c of content.config) steps.push({ op: 'config.set', key: c.key, value: c.value })
  const online = new Set(content.groups.filter((g) => g.target === 'online').map((g) => g.name))
  for (const name of online) steps.push({ op: 'group.setTarget', name, target: 'online' })
  for (const r of content.resources)
    if (online.has(r.group) && r.target === 'offline')
      steps.push({ op: 'resource.setTarget', name: r.name, target: 'offline' })
  for (const c of content.checkpoints)
    steps.push({ op: 'resource.checkpoint', name: c.resource, node: c.node, at: c.at, files: c.files })
  return steps
}
