/** What is checked of the topology before a node touches its data dir. */
import { existsSync, statSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { GeoclusterError } from '../errors/errors.ts'
import type { Topology } from '../topology/topologySchema.ts'

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
