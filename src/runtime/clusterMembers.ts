/** The members a node talks to: from the replicated database once there is one, else the topology. */
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Topology } from '../topology/topologySchema.ts'
import type { Member } from './nodeMesh.ts'

export function clusterMembers(db: ClusterDatabase, topology: Topology): Member[] {
  const out: Member[] = []
  if (db.cluster() !== undefined) {
    for (const n of db.nodes()) {
      if (n.evicted !== true && n.peerId !== null && n.address !== null)
        out.push({ name: n.name, site: n.site, peerId: n.peerId, address: n.address })
    }
    const w = db.witness()
    if (w !== undefined && w.peerId !== null && w.address !== null)
      out.push({ name: w.name, site: w.site, peerId: w.peerId, address: w.address })
    return out
  }
  for (const s of topology.sites) {
    for (const n of s.nodes)
      if (n.peerId !== undefined && n.address !== undefined)
        out.push({ name: n.name, site: s.name, peerId: n.peerId, address: n.address })
  }
  const w = topology.witness
  if (w?.peerId !== undefined && w.address !== undefined)
    out.push({ name: w.name, site: w.site, peerId: w.peerId, address: w.address })
  return out
}
