import { randomUUID } from 'node:crypto'
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { Topology } from '../topology/topologySchema.ts'
import type { NodeContext } from './nodeContext.ts'

/**
 * The command that writes the cluster as the topology describes it, with a new cluster id, at
 * the highest functional level this node supports (level 1 is left unsaid, as older releases wrote it).
 */
export function bootstrapCommand(t: Topology, id: string, functionalLevel: number): Command {
  return {
    op: 'cluster.bootstrap',
    cluster: {
      name: t.cluster.name,
      quorumModel: t.quorum.model,
      id,
      ...(functionalLevel > 1 ? { functionalLevel } : {}),
    },
    sites: t.sites.map((s) => ({
      name: s.name,
      nodes: s.nodes.map((n) => ({
        name: n.name,
        votes: n.votes,
        peerId: n.peerId ?? null,
        address: n.address ?? null,
      })),
    })),
    witness:
      t.witness === undefined
        ? null
        : {
            name: t.witness.name,
            site: t.witness.site,
            type: t.witness.type,
            votes: t.witness.votes,
            peerId: t.witness.peerId ?? null,
            address: t.witness.address ?? null,
            path: t.witness.path ?? null,
          },
  }
}

/** The database, once there is one, must be this cluster's and list this node. */
export function checkBelongs(db: ClusterDatabase, t: Topology, self: string, dataDir: string): void {
  const cluster = db.cluster()
  if (cluster === undefined) return
  if (cluster.name !== t.cluster.name)
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `data dir ${dataDir} belongs to cluster ${cluster.name}, but the topology names ${t.cluster.name}`,
      { path: 'cluster.name' },
    )
  const me = db.node(self)
  if (me === undefined)
    throw new GeoclusterError('GC_ERR_CONFIG', `node ${self} is not a member of cluster ${cluster.name}`, {
      path: 'node',
    })
  if (me.evicted === true)
    throw new GeoclusterError('GC_ERR_CONFIG', `node ${self} was evicted from cluster ${cluster.name}`, {
      path: 'node',
    })
}

export class ClusterBootstrap {
  private readonly p: Pick<NodeContext, 'name' | 'core' | 'db' | 'proposeHere' | 'log'> & {
    topology: Topology
    /** The highest cluster functional level this node supports: a new cluster starts there. */
    supportedLevel: number
  }
  private proposed = false

  constructor(parts: ClusterBootstrap['p']) {
    this.p = parts
  }

  /** The first leader writes the cluster database's first entry, from the topology. */
  async maybe(): Promise<void> {
    const { core, topology: t } = this.p
    const db = this.p.db()
    if (this.proposed || db.cluster() !== undefined || !core.committedInTerm()) return
    if (db.appliedIndex < core.status().commit) return
    this.proposed = true
    const result = await this.p
      .proposeHere(bootstrapCommand(t, randomUUID(), this.p.supportedLevel), `node:${this.p.name}`)
      .catch((error: Error) => {
        this.proposed = false
        throw error
      })
    if (!result.result.ok)
      throw new GeoclusterError('GC_ERR_FAILED', `bootstrap refused: ${result.result.message}`)
    this.p.log.info({ cluster: t.cluster.name, index: result.index }, 'cluster bootstrapped')
  }
}
