/**
 * What every part of a node may be handed: its name, time, logs and events, the consensus core,
 * the database as it is now, the mesh once it runs, and the node's ways to propose and wait.
 * Each part names the few it uses (`Pick<NodeContext, ...>`), so its dependencies stay narrow
 * and the composition root hands them over in one line.
 */
import type { ConsensusCore } from '../consensus/consensusCore.ts'
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { Logger } from '../events/logger.ts'
import type { Clock } from './clock.ts'
import type { Member, NodeMesh } from './nodeMesh.ts'

export interface NodeContext {
  name: string
  clock: Clock
  /** `clock.monotonic`, for parts that need no more of the clock. */
  monotonic: () => number
  random: () => number
  log: Logger
  emit: (e: ClusterEventInput) => void
  /** Storage or an invariant failed: the node stops to protect the cluster database. */
  crash: (error: Error) => void
  core: ConsensusCore
  /** The database as this node has it now (a reset or a leader's snapshot replaces it). */
  db: () => ClusterDatabase
  /** The mesh, once it runs (null in a one-node lab). */
  mesh: () => NodeMesh | null
  /** Members to talk to now (from the database, else the topology). */
  members: () => Member[]
  /** Runs the Ready loop (now, or after the cycle under way). */
  scheduleDrive: () => void
  /** Proposes on this node as leader; resolves once applied. */
  proposeHere: (command: Command, by: string) => Promise<AppliedCommand>
  /** Proposes from any node (through the leader); resolves once applied here. */
  propose: (command: Command, by: string) => Promise<AppliedCommand>
  appliedThrough: (index: number, timeoutMs: number) => Promise<void>
  /** The node is stopping (it takes no groups and grants no leases). */
  stopping: () => boolean
}
