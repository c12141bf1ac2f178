/** What is checked before a node starts: the topology before it touches its data dir, then what it recovered. */
import { existsSync, statSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { decodeEnvelope } from '../database/commands.ts'
import { commandLevel, unsupportedLevelProblem } from '../database/functionalLevel.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { Topology } from '../topology/topologySchema.ts'
import type { RecoveredStorage } from './recoverStorage.ts'

/** The site of node `name`; a node the topology does not list does not start. */
export function siteOf(topology: Topology, name: string): string {
  const site = topology.sites.find((s) => s.nodes.some((n) => n.name === name))?.name
  if (site !== undefined) return site
  const names = topology.sites.flatMap((s) => s.nodes.map((n) => n.name)).join(', ')
  throw new GeoclusterError('GC_ERR_CONFIG', `node ${name} is not in the topology (nodes: ${names})`, {
    path: 'node',
  })
}

/** A quorum disk that is a block device needs a directory on shared storage for its recovery log. */
export function checkQuorumDisk(topology: Topology, topologyDir: string): void {
  const disk = topology.quorum.disk
  if (topology.quorum.model !== 'disk' || disk === undefined || disk.logDir !== undefined) return
  const path = resolvePath(topologyDir, disk.path)
  if (existsSync(path) && statSync(path).isBlockDevice())
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `quorum.disk.logDir: required when quorum.disk.path (${path}) is a block device: the recovery log needs a directory on shared storage`,
      { path: 'quorum.disk.logDir' },
    )
}

/**
 * The cluster's functional level as this node recovered it — its snapshot's, raised by any
 * committed entry after it — must be one this node supports: else it could not follow the
 * others (the operator installed an older release, or started one after the level was raised).
 */
export function checkSupportsLevel(
  recovered: Pick<RecoveredStorage, 'db' | 'restore'>,
  supported: number,
): void {
  let level = recovered.db.functionalLevel()
  const commit = recovered.restore.hardState.commit
  for (const e of recovered.restore.entries) {
    if (e.index > commit || e.kind !== 'command') continue
    const decoded = decodeEnvelope(e.data)
    if (decoded.ok) level = Math.max(level, commandLevel(decoded.envelope.command))
  }
  if (level > supported)
    throw new GeoclusterError('GC_ERR_FUNCTIONAL_LEVEL', unsupportedLevelProblem(level, supported), {
      path: 'functionalLevel',
    })
}
