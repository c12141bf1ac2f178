/**
 * The mesh a node joins, built from the topology and the data dir: the cluster secret (the
 * pre-shared key), this node's key (whose peer ID the topology must list), its listen and dial
 * addresses. Returned unstarted: the node keeps it before it starts, so that answers to the
 * first messages can go out on it.
 */
import { resolve as resolvePath } from 'node:path'
import { GeoclusterError } from '../errors/errors.ts'
import type { Logger } from '../events/logger.ts'
import { loadSecret } from '../mesh/clusterSecret.ts'
import { loadOrCreateIdentity } from '../mesh/nodeIdentity.ts'
import type { Topology } from '../topology/topologySchema.ts'
import { dialFromOf, NodeMesh, type NodeMeshInit } from './nodeMesh.ts'

export interface NodeMeshOptions
  extends Pick<
    NodeMeshInit,
    | 'onRaft'
    | 'resourceStates'
    | 'resourceRestarts'
    | 'relayedWitness'
    | 'leaderView'
    | 'epoch'
    | 'leaseFor'
    | 'onLease'
    | 'onAdmin'
  > {
  name: string
  site: string
  dataDir: string
  topology: Topology
  /** Relative paths of the topology (the secret) resolve from here. */
  topologyDir: string
  logger: Logger
  monotonic: () => number
}

export async function nodeMeshFor(o: NodeMeshOptions): Promise<NodeMesh> {
  const t = o.topology
  const self = t.sites.flatMap((s) => s.nodes).find((n) => n.name === o.name)!
  if (t.cluster.secret === undefined) {
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `quorum model ${t.quorum.model} needs cluster.secret (a file from geocluster secret)`,
      { path: 'cluster.secret' },
    )
  }
  const psk = loadSecret(resolvePath(o.topologyDir, t.cluster.secret))
  const identity = await loadOrCreateIdentity(o.dataDir)
  if (self.peerId !== undefined && self.peerId !== identity.peerId) {
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `${identity.file} holds peer ID ${identity.peerId}, but the topology lists ${self.peerId} for node ${o.name} (run geocluster keygen --data-dir on this node and copy its peer ID)`,
      { path: 'peerId' },
    )
  }
  const { name, site, topology, topologyDir, dataDir, ...handlers } = o
  return new NodeMesh({
    ...handlers,
    self: name,
    site,
    privateKey: identity.privateKey,
    psk,
    listen: [self.listen ?? self.address!],
    ...dialFromOf(self.listen ?? self.address!),
    timing: t.timing,
  })
}
