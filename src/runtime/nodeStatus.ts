/**
 * The status document as this node sees the cluster: the quorum as its model tells it, each
 * member by the one node-state classification, and every resource's state as its group's owner
 * last said (this node's own, the others' from their answers to its heartbeats).
 */
import type { ConsensusCore } from '../consensus/consensusCore.ts'
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { ActualState } from '../failover/groupReconciler.ts'
import { classifyNode, type NodeState } from '../membership/nodeState.ts'
import type { CloudWitness } from './cloudWitness.ts'
import type { FileShareWitness } from './fileShareWitness.ts'
import type { NodeMesh } from './nodeMesh.ts'
import type { QuorumProvider } from './quorumProvider.ts'
import { buildStatus, type StatusDocument } from './statusDocument.ts'

const actualStates: ReadonlySet<string> = new Set<ActualState>([
  'offline',
  'starting',
  'online',
  'stopping',
  'failed',
])

export interface NodeStatusView {
  self: string
  core: ConsensusCore
  quorum: QuorumProvider
  db: ClusterDatabase
  mesh: NodeMesh | null
  /** The file-share witness and its name (null: the topology has none). */
  shareWitness: { witness: FileShareWitness; name: string } | null
  /** The cloud witness this node acts for (null: the topology has none). */
  cloudWitness: CloudWitness | null
  resources: { actual: ReadonlyMap<string, ActualState>; recentRestarts(): ReadonlyMap<string, number> }
  /** This node's wall clock (ms). */
  nowMs: number
  wal: { segments: number; syncs: number }
  stopping: boolean
}

export function nodeStatus(v: NodeStatusView): StatusDocument {
  const raft = v.core.status()
  const quorate = v.core.quorate() && !v.stopping
  // A member taking a snapshot (from this leader, or this node itself) is still joining.
  const catchingUp = new Set(
    (v.mesh?.catchUpTransfers() ?? []).map((t) => (t.direction === 'sending' ? t.peer : v.self)),
  )
  const stateOf = (name: string): NodeState => {
    const w = v.shareWitness
    const fact = { self: false, catchingUp: false, leaseEnded: false, paused: false, evicted: false }
    // A file-share witness is up while some node serves it.
    if (w !== null && name === w.name)
      return classifyNode({ ...fact, seen: w.witness.host() === null ? 'down' : 'up' })
    // A cloud witness is up while this node reaches its blob and finds it sane.
    const cloud = v.cloudWitness
    if (cloud !== null && name === cloud.name) return classifyNode({ ...fact, seen: cloud.view().state })
    const record = v.db.node(name)
    return classifyNode({
      ...fact,
      self: name === v.self,
      seen: v.mesh?.peerState(name),
      catchingUp: catchingUp.has(name),
      paused: record?.paused === true,
      evicted: record?.evicted === true,
    })
  }
  const present = Object.entries(raft.config.incoming)
    .filter(([id, weight]) => weight > 0 && stateOf(id).present)
    .reduce((sum, [, weight]) => sum + weight, 0)
  return buildStatus({
    db: v.db,
    self: v.self,
    term: raft.term,
    leader: raft.leader,
    quorum: v.quorum.quorumStatus(raft, quorate, present),
    nodeState: (name) => stateOf(name).shown,
    votesOf: (name) => v.quorum.votesOf(name),
    witnessProblem: v.cloudWitness?.view().problem ?? null,
    actual: clusterResourceStates(v),
    restarts: v.resources.recentRestarts(),
    peerRestarts: (name) => v.mesh?.peerResourceRestarts(name) ?? null,
    nowMs: v.nowMs,
    storage: {
      commitIndex: raft.commit,
      appliedIndex: v.db.appliedIndex,
      snapshotIndex: raft.snapshotIndex,
      walSegments: v.wal.segments,
      walSyncs: v.wal.syncs,
    },
    catchUp: v.mesh?.catchUpTransfers() ?? [],
  })
}

/**
 * Every resource's state as its group's owner last said: this node's own, and the others' from
 * their answers to its heartbeats — so status through any node shows groups wherever they run.
 */
function clusterResourceStates(v: NodeStatusView): ReadonlyMap<string, ActualState> {
  const states = new Map(v.resources.actual)
  for (const g of v.db.groups()) {
    if (g.owner === null || g.owner === v.self) continue
    const remote = v.mesh?.peerResourceStates(g.owner) ?? null
    for (const r of v.db.resources(g.name)) {
      const reported = remote?.get(r.name)
      if (reported !== undefined && actualStates.has(reported)) states.set(r.name, reported as ActualState)
      else states.delete(r.name)
    }
  }
  return states
}
