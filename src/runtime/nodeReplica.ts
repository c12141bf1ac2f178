/**
 * This node's replica of the cluster's log and database: the quorum model and the consensus core
 * it provides, the storage behind them (and whether it takes writes), the database copy, who
 * waits on the core, the file-share witness this node may serve or the cloud witness it acts
 * for, the routing of consensus messages, and the one Ready loop that drives it all in etcd's
 * order.
 */
import type { ConsensusCore } from '../consensus/consensusCore.ts'
import type { Topology } from '../topology/topologySchema.ts'
import { systemTimers, type Timers } from './clock.ts'
import { type CloudWitness, cloudWitnessFor } from './cloudWitness.ts'
import { ConsensusRouting } from './consensusRouting.ts'
import type { ConsensusTiming } from './consensusTiming.ts'
import { type FileShareWitness, fileShareWitnessFor } from './fileShareWitness.ts'
import type { NodeContext } from './nodeContext.ts'
import { NodeDatabase, type NodeDatabaseParts } from './nodeDatabase.ts'
import { ProposalTracker } from './proposalTracker.ts'
import { quorumFor } from './quorumFor.ts'
import type { QuorumProvider } from './quorumProvider.ts'
import { ReadyDriver } from './readyDriver.ts'
import type { RecoveredStorage } from './recoverStorage.ts'
import { StorageHealth } from './storageHealth.ts'

export interface NodeReplicaInit
  extends Pick<NodeContext, 'name' | 'clock' | 'monotonic' | 'random' | 'log' | 'emit' | 'crash' | 'mesh'> {
  topology: Topology
  /** Relative paths of the topology (quorum disk, file share) resolve from here. */
  topologyDir: string
  dataDir: string
  timing: ConsensusTiming
  /** Take a snapshot after this many applied entries. */
  snapshotEntries: number
  preventQuorum: boolean
  /** The highest cluster functional level this node supports: entries above it are unreadable here. */
  supportedLevel: number
  /** Timers for waits on the core (Node's own when absent). */
  timers?: Timers
  recovered: RecoveredStorage
  /** Does the mesh think this member went down (heard, then silent)? */
  peerDown: (name: string) => boolean
  /** The node no longer takes messages (it is closing). */
  closed: () => boolean
  /** What follows from the Ready loop's cycles. */
  follow: NodeDatabaseParts['follow'] & {
    /** The core gave its history up: keep what must outlive it (the fencing floor), say so. */
    givingUpHistory(): void
    /** The core's soft state: whether this node leads, and who does. */
    leaderChanged(leading: boolean, leader: string | null): void
    /** After each cycle (snapshots, a lone voter's first lead, the bootstrap). */
    afterCycle(): void
  }
}

export class NodeReplica {
  readonly storage: StorageHealth
  readonly quorum: QuorumProvider
  readonly core: ConsensusCore
  readonly shareWitness: { witness: FileShareWitness; name: string } | null
  readonly cloudWitness: CloudWitness | null
  readonly tracker: ProposalTracker
  readonly database: NodeDatabase
  readonly routing: ConsensusRouting
  readonly driver: ReadyDriver

  constructor(o: NodeReplicaInit) {
    const { recovered, follow } = o
    const scheduleDrive = () => this.driver.schedule()
    this.storage = new StorageHealth(o)
    this.quorum = quorumFor({
      ...o,
      self: o.name,
      restore: recovered.restore,
      wal: recovered.wal,
      storage: this.storage,
      logger: o.log,
      changed: scheduleDrive,
    })
    this.core = this.quorum.core
    this.shareWitness = fileShareWitnessFor(o.topology, {
      ...o,
      self: o.name,
      electionTicks: o.timing.electionTicks,
      logger: o.log,
      send: (m) => this.routing.fromWitness(m),
    })
    this.cloudWitness = cloudWitnessFor(o.topology, {
      ...o,
      self: o.name,
      logger: o.log,
      deliver: (m) => this.routing.fromWitness(m),
    })
    this.tracker = new ProposalTracker({
      name: o.name,
      timers: o.timers ?? systemTimers,
      applied: () => this.database.current.appliedIndex,
    })
    this.database = new NodeDatabase({
      ...o,
      core: this.core,
      scheduleDrive,
      initial: this.quorum.startingDatabase(recovered.db),
      wal: recovered.wal,
      snapshots: recovered.snapshots,
      snapshotIndex: recovered.report.snapshotIndex,
      quorum: this.quorum,
      tracker: this.tracker,
      storage: this.storage,
      givingUpHistory: () => follow.givingUpHistory(),
    })
    this.routing = new ConsensusRouting({
      ...o,
      self: o.name,
      shareWitness: this.shareWitness,
      cloudWitness: this.cloudWitness,
    })
    this.routing.deliverTo((m) => {
      this.core.step(m)
      scheduleDrive()
      return true
    })
    this.driver = new ReadyDriver({
      core: this.core,
      persist: (rd) => this.quorum.persist(rd),
      transport: this.routing,
      machine: {
        reset: (rd) => this.database.reset(rd),
        installSnapshot: (snapshot) => this.database.installSnapshot(snapshot),
        apply: (rd) => this.database.apply(rd),
        readState: (r) => this.tracker.readState(r),
        softState: (soft) => follow.leaderChanged(soft.role === 'leader', soft.leader),
      },
      advanced: () => follow.afterCycle(),
      crash: o.crash,
    })
  }
}
