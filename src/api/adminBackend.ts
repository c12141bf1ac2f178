/** What the admin API needs from a node: the narrow interface it is built and tested against. */
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import type { ClusterEvents, SupportBundle } from '../events/clusterLogReport.ts'
import type { EventLog } from '../events/eventLog.ts'
import type { MemberReport } from '../membership/memberReport.ts'
import type { FrameCount } from '../mesh/meshTraffic.ts'
import type { LevelUpgrade } from '../runtime/levelUpgrade.ts'
import type { StatusDocument } from '../runtime/statusDocument.ts'

export interface AdminBackend {
  readonly name: string
  readonly adminToken: string
  /** geocluster's release the node runs (backups record it). */
  readonly version?: string
  readonly events: EventLog
  status(): StatusDocument
  propose(command: Command, by: string): Promise<AppliedCommand>
  /**
   * A linearizable read (fails with GC_ERR_NO_QUORUM when it cannot be one). `bulk`: it may
   * list much of the database, so it waits for an event-loop turn of its own.
   */
  read<T>(fn: (db: ClusterDatabase) => T, opts?: { bulk?: boolean }): Promise<T>
  /** This node's copy, possibly stale. */
  readLocal<T>(fn: (db: ClusterDatabase) => T): T
  failResource(name: string): Promise<void>
  addNode(
    spec: { name: string; site: string; address: string; peerId: string; votes: number },
    by: string,
  ): Promise<AppliedCommand>
  evictNode(name: string, by: string): Promise<AppliedCommand>
  /** On the leader of an unconfirmed forced epoch: the operator asserts the other side is down. */
  confirmForced(by: string): Promise<{ epoch: string; index: number }>
  /** Raises the cluster functional level when every member supports it (levelUpgrade.ts). */
  upgradeLevel(level: number | undefined, by: string): Promise<LevelUpgrade>
  /** Smoothed heartbeat round trip to each member, ms (null before the first answer). */
  peerRtts(): Record<string, number | null>
  /** Every member's word about itself (version, clock offset, its view of the others). */
  membersReport(): Promise<MemberReport[]>
  /** Every member's newest `limit` events merged in time order; who did not answer, and why. */
  clusterEvents(limit: number): Promise<ClusterEvents>
  /** Every member's events, status, topology and version, secrets removed (`log collect`). */
  supportBundle(): Promise<SupportBundle>
  /**
   * Why the node should take no more API work just now (its consensus tick is overdue: the
   * event loop is saturated), or null. The API sheds load while this holds.
   */
  busy?(): string | null
  /** The largest delay of the consensus tick over the last minute, ms. */
  tickDelayMaxMs?(): number
  /** Per alert: what this node delivered, gave up, dropped, and what waits. */
  alertDeliveries?(): Record<string, { queued: number; delivered: number; failed: number; dropped: number }>
  /** Frames this node sent and received on the mesh since it started (none without a mesh). */
  meshFrames?(): FrameCount[]
}
