/** The `geocluster status --json` document (INTERFACE.md), built from this node's view. */
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { CheckpointRecord, QuorumModel } from '../database/entities.ts'
import { failoverThresholdOf } from '../failover/failoverPlanner.ts'
import {
  type ActualState,
  type GroupState,
  groupState,
  type ResourceState,
  resourceState,
  runsHere,
} from '../failover/groupReconciler.ts'
import { groupMaintenance, resourceMaintenance } from '../failover/maintenance.ts'
import type { NodeState } from '../membership/nodeState.ts'
import type { CatchUpTransfer } from './catchUpTransfers.ts'

export interface StatusDocument {
  cluster: {
    name: string
    leader: string | null
    term: number
    quorum: {
      model: QuorumModel
      state: 'quorate' | 'no-quorum'
      votesPresent: number
      votesTotal: number
      votesNeeded: number
      /** Grows with every forced quorum; `forced` while a forced configuration is in effect. */
      epoch: number
      forced: boolean
      /** Who forced the epoch and its nonce (`atl-1/k3j9x0aa`); '' for the bootstrap history. */
      epochId: string
      /**
       * False while a forced epoch waits for the operator to confirm that the other side is down:
       * it serves reads, takes no writes and runs no groups.
       */
      confirmed: boolean
      /** Another confirmed epoch of the same number was met: this side takes no writes. */
      conflict: string | null
      /**
       * This node gave its history up to follow `epoch` and has not caught up yet: it neither
       * campaigns nor (if it held that history before) votes; forcing quorum on it is refused.
       */
      rebuilding: boolean
    }
    /** The whole cluster is in maintenance (failover/maintenance.ts). */
    maintenance: boolean
    /** The cluster functional level: which command kinds it takes (database/functionalLevel.ts). */
    functionalLevel: number
  }
  /** The node that answered. */
  node: string
  nodes: {
    name: string
    site: string
    state: 'up' | 'down' | 'paused' | 'joining' | 'evicted'
    votes: number
    /** In maintenance: what runs there is left alone, and nothing is placed there. */
    maintenance: boolean
  }[]
  witness: {
    name: string
    site: string
    type: string
    state: 'up' | 'down'
    votes: number
    /** Why this node finds the witness down, when it can tell (a cloud witness: unreachable, credentials, a refused blob). */
    problem?: string
  } | null
  groups: {
    name: string
    state: GroupState
    target: 'online' | 'offline'
    owner: string | null
    fencingToken: number
    /** A planned move under way: the owner is stopping the group to release it. */
    moving: { to: string | null; kind: string; reason: string } | null
    /** Why the group is failed (too many failovers), if it is. */
    failure: string | null
    /** Its own maintenance flag. */
    maintenance: boolean
    /** Why the planner leaves it where it is (maintenance of the group, a resource, its owner, the cluster), or null. */
    unmanaged: string | null
    /** Failovers within `failoverPeriodMs`; one more than `failoverThreshold` and the group is failed. */
    failovers: number
    failoverThreshold: number
    failoverPeriodMs: number
    preferredOwners: string[]
    possibleOwners: string[]
    failback: string
    antiAffinity: string[]
    /** Operators' moves and bans (`expiresAt`: wall-clock ms, null until cleared). */
    constraints: { node: string; kind: 'prefer' | 'ban'; expiresAt: number | null }[]
    /** The failover threshold as configured (`failoverThreshold` is the one in effect); null: the default. */
    failoverThresholdSet: number | null
    resources: {
      name: string
      type: string
      state: ResourceState
      target: 'online' | 'offline'
      dependsOn: string[]
      restartThreshold: number
      restartPeriodMs: number
      /** Restarts within the restart period on the answering node. */
      restarts: number
      /** Its own maintenance flag. */
      maintenance: boolean
      /** Why it is left alone where it runs (checked, restarted, started or stopped by nobody), or null. */
      unmanaged: string | null
      /** Restarts within the restart period on each node that restarted it (as each last said). */
      restartsByNode: Record<string, number>
      failure: string | null
      /** The last saved checkpoint: where, when (ms since the epoch) and how big. */
      checkpoint: { node: string; at: number; bytes: number; files: number } | null
    }[]
  }[]
  /** This node's copy of the log: how far it is committed, applied and snapshotted; fsyncs so far. */
  storage: {
    commitIndex: number
    appliedIndex: number
    snapshotIndex: number
    walSegments: number
    walSyncs: number
  }
  /** Snapshots on their way to or from this node (a member catching up), with progress. */
  catchUp: CatchUpTransfer[]
}

export interface StatusInput {
  db: ClusterDatabase
  self: string
  /** What this node sees of a member (nodeState.ts: the one classification). */
  nodeState: (name: string) => NodeState['shown']
  /** A member's vote in the configuration in effect (dynamic quorum may have lowered it). */
  votesOf: (name: string) => number
  /** Why the witness is down as this node sees it (null: up, or not known). */
  witnessProblem?: string | null
  term: number
  leader: string | null
  quorum: StatusDocument['cluster']['quorum']
  actual: ReadonlyMap<string, ActualState>
  /** Restarts within their periods on this node (those restarted). */
  restarts: ReadonlyMap<string, number>
  /** The same of another member, as its last answer said (null: not known now). */
  peerRestarts: (node: string) => ReadonlyMap<string, number> | null
  /** The answering node's wall clock (ms): what counts as within a failover period. */
  nowMs: number
  storage: StatusDocument['storage']
  catchUp: CatchUpTransfer[]
}

export function buildStatus(s: StatusInput): StatusDocument {
  const { db } = s
  const witness = db.witness()
  const facts = { cluster: db.cluster(), node: (n: string) => db.node(n), group: (g: string) => db.group(g) }
  const restartsByNode = restartCounts(s)
  const members = db.nodes().filter((n) => n.evicted !== true)
  return {
    cluster: {
      name: db.cluster()?.name ?? '',
      leader: s.leader,
      term: s.term,
      quorum: s.quorum,
      maintenance: db.cluster()?.maintenance === true,
      functionalLevel: db.functionalLevel(),
    },
    node: s.self,
    nodes: db.nodes().map((n) => ({
      name: n.name,
      site: n.site,
      state: s.nodeState(n.name),
      votes: s.votesOf(n.name),
      maintenance: n.maintenance === true,
    })),
    witness:
      witness === undefined
        ? null
        : {
            name: witness.name,
            site: witness.site,
            type: witness.type,
            state: s.nodeState(witness.name) === 'up' ? 'up' : 'down',
            votes: s.votesOf(witness.name),
            ...(s.witnessProblem == null ? {} : { problem: s.witnessProblem }),
          },
    groups: db.groups().map((g) => {
      const resources = db.resources(g.name)
      const here = runsHere(g, s.self)
      return {
        name: g.name,
        state: groupState(g, resources, s.actual, here),
        target: g.target,
        owner: g.owner,
        fencingToken: g.fencingToken,
        moving: g.moving === null ? null : { to: g.moving.to, kind: g.moving.kind, reason: g.moving.reason },
        failure: g.failed?.reason ?? null,
        maintenance: g.maintenance === true,
        unmanaged: groupMaintenance(facts, g, resources),
        failovers: g.failovers.filter((t) => s.nowMs - t < g.failoverPeriodMs).length,
        failoverThreshold: failoverThresholdOf(
          g,
          members.filter((n) => g.possibleOwners.length === 0 || g.possibleOwners.includes(n.name)).length,
        ),
        failoverPeriodMs: g.failoverPeriodMs,
        preferredOwners: g.preferredOwners,
        possibleOwners: g.possibleOwners,
        failback: g.failback,
        antiAffinity: g.antiAffinity,
        constraints: db
          .constraints(g.name)
          .map((c) => ({ node: c.node, kind: c.rule, expiresAt: c.expiresAt })),
        failoverThresholdSet: g.failoverThreshold,
        resources: resources.map((r) => ({
          name: r.name,
          type: r.type,
          state: resourceState(r, s.actual.get(r.name)),
          target: r.target,
          dependsOn: r.dependsOn,
          restartThreshold: r.restartThreshold,
          restartPeriodMs: r.restartPeriodMs,
          maintenance: r.maintenance === true,
          unmanaged: resourceMaintenance(facts, r, g.owner ?? s.self),
          restarts: s.restarts.get(r.name) ?? 0,
          restartsByNode: restartsByNode.get(r.name) ?? {},
          failure: r.failed?.reason ?? null,
          checkpoint: checkpointSummary(db.checkpoint(r.name)),
        })),
      }
    }),
    storage: s.storage,
    catchUp: s.catchUp,
  }
}

/** Per resource, the nodes that restarted it within its period and how often. */
function restartCounts(s: StatusInput): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>()
  const add = (node: string, counts: ReadonlyMap<string, number> | null) => {
    for (const [resource, n] of counts ?? []) {
      if (!Number.isSafeInteger(n) || n <= 0) continue
      out.set(resource, { ...out.get(resource), [node]: n })
    }
  }
  for (const n of s.db.nodes()) add(n.name, n.name === s.self ? s.restarts : s.peerRestarts(n.name))
  return out
}

function checkpointSummary(
  c: CheckpointRecord | undefined,
): StatusDocument['groups'][number]['resources'][number]['checkpoint'] {
  return c === undefined ? null : { node: c.node, at: c.at, bytes: c.bytes, files: c.files.length }
}
