/**
 * The node's composition root: every part that owns a piece of the node's state, built and wired
 * here (js-libp2p's components), each handed only what it uses. The node (clusterNode.ts) keeps
 * the lifecycle — the data dir, the sockets, starting and stopping — and its run state, which the
 * parts read through `NodeRunState`.
 */
import type { ConsensusCore } from '../consensus/consensusCore.ts'
import { functionalLevelMax } from '../database/functionalLevel.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { EventLog } from '../events/eventLog.ts'
import type { FencingTiming } from '../topology/clusterTiming.ts'
import { AlertRunner } from './alertRunner.ts'
import { ClientRequests, forwardedApplyWaitMs } from './clientRequests.ts'
import { type Clock, systemTimers } from './clock.ts'
import { ClusterBootstrap } from './clusterBootstrap.ts'
import { ClusterLog } from './clusterLog.ts'
import { clusterMembers } from './clusterMembers.ts'
import type { ClusterNodeInit } from './clusterNodeInit.ts'
import type { ConsensusTiming } from './consensusTiming.ts'
import { constraintEvent } from './constraintEvent.ts'
import { EpochGuard } from './epochGuard.ts'
import { FailoverDriver } from './failoverDriver.ts'
import { LeaderDesk } from './leaderDesk.ts'
import { LeadershipWatch } from './leadershipWatch.ts'
import { LeaseGrants } from './leaseGrants.ts'
import { MemberReports } from './memberReports.ts'
import { MembershipChanges } from './membershipChanges.ts'
import type { NodeContext } from './nodeContext.ts'
import type { NodeMesh } from './nodeMesh.ts'
import { NodeReplica } from './nodeReplica.ts'
import type { NodeTiming } from './nodeTiming.ts'
import type { QuorumProvider } from './quorumProvider.ts'
import type { RecoveredStorage } from './recoverStorage.ts'
import { ResourceHost } from './resourceHost.ts'
import { TickHistory } from './tickHistory.ts'
import { TickLoop } from './tickLoop.ts'

/** What the node's lifecycle sets and the parts read. */
export interface NodeRunState {
  /** A planned stop is under way: no new work, no groups taken, no leases granted. */
  stopping: boolean
  /** Storage is closing: no more Ready cycles, no more messages taken. */
  closed: boolean
  /** What made the node fail, if it did. */
  fatal: Error | null
  /** The mesh, once it runs (null in a one-node lab). */
  mesh: NodeMesh | null
  /** Where the admin API listens and how (for validate --live). */
  api: { url: string; tlsFingerprint: string | null } | null
}

export interface NodePartsInit {
  init: ClusterNodeInit
  site: string
  clock: Clock
  timing: NodeTiming
  consensus: ConsensusTiming
  fencing: FencingTiming
  recovered: RecoveredStorage
  emit: (e: ClusterEventInput) => void
  crash: (error: Error) => void
  run: NodeRunState
  /** What the node itself holds that the cluster log reports. */
  local: { events: EventLog; status: () => unknown; adminToken: string }
}

export interface NodeParts {
  replica: NodeReplica
  core: ConsensusCore
  quorum: QuorumProvider
  epochs: EpochGuard
  leases: LeaseGrants
  failover: FailoverDriver
  desk: LeaderDesk
  requests: ClientRequests
  membership: MembershipChanges
  reports: MemberReports
  clusterLog: ClusterLog
  alerts: AlertRunner
  bootstrap: ClusterBootstrap
  leadership: LeadershipWatch
  ticks: TickHistory
  tickLoop: TickLoop
  resources: ResourceHost
  /** Throws when this node may not serve now (failed, stopping, its storage refusing writes). */
  assertServing(): void
  /** The node's periodic jobs, after its core ticked. */
  everyTick(): void
}

export function nodeParts(o: NodePartsInit): NodeParts {
  const { init, run } = o
  const supportedLevel = init.supportedLevel ?? functionalLevelMax
  const p = { ticks: new TickHistory() } as NodeParts
  const base = {
    name: init.nodeName,
    clock: o.clock,
    monotonic: () => o.clock.monotonic(),
    random: init.random ?? Math.random,
    log: init.logger,
    emit: o.emit,
    crash: o.crash,
    mesh: () => run.mesh,
    stopping: () => run.stopping,
  }
  p.replica = new NodeReplica({
    ...base,
    topology: init.topology,
    topologyDir: init.topologyDir ?? '.',
    dataDir: init.dataDir,
    timing: o.consensus,
    snapshotEntries: o.timing.snapshotEntries,
    preventQuorum: init.preventQuorum === true,
    supportedLevel,
    ...(init.timers === undefined ? {} : { timers: init.timers }),
    recovered: o.recovered,
    // A member this node heard from and then stopped hearing (not one it has yet to meet).
    peerDown: (peer) => run.mesh?.peerState(peer) === 'down' && run.mesh.detector.lastHeard(peer) !== null,
    closed: () => run.closed,
    follow: {
      givingUpHistory: () => p.epochs.gaveUpHistory(),
      leaderChanged: (leading, leader) => {
        p.failover.leading(leading)
        p.leadership.leaderIs(leader)
      },
      afterCycle: () => {
        p.replica.database.maybeSnapshot()
        p.resources.startsAllowed()
        p.leadership.cycled()
        if (!p.quorum.soleVoter)
          p.bootstrap.maybe().catch((e: Error) => init.logger.warn({ err: e.message }, 'bootstrap failed'))
      },
      membersChanged: () => p.failover.setMeshMembers(),
      applied: (envelope, result) => {
        p.resources.afterApply(envelope, result)
        const said = constraintEvent(envelope.command, result)
        if (said !== null) o.emit(said)
      },
      changed: () => {
        p.resources.schedule()
        p.failover.planSoon()
      },
      // Ownership may have changed in it: the reconciler looks again.
      snapshotInstalled: () => {
        p.failover.setMeshMembers()
        p.resources.schedule()
      },
    },
  })
  const { core, quorum, database, tracker, driver } = p.replica
  p.core = core
  p.quorum = quorum
  const ctx: NodeContext = {
    ...base,
    core,
    db: () => database.current,
    members: () => clusterMembers(database.current, init.topology),
    scheduleDrive: () => driver.schedule(),
    proposeHere: (command, by) => p.requests.proposeHere(command, by),
    propose: (command, by) => p.requests.propose(command, by),
    appliedThrough: (index, ms) => tracker.appliedThrough(index, ms),
  }
  p.epochs = new EpochGuard({
    ...ctx,
    dataDir: init.dataDir,
    quorum,
    tickMs: o.consensus.tickMs,
    ticksDone: () => p.ticks.done,
  })
  p.leases = new LeaseGrants({
    ...ctx,
    fencing: o.fencing,
    quorum,
    ticks: p.ticks,
    resources: lazyResources(p),
  })
  p.failover = new FailoverDriver({
    ...ctx,
    downAfterMs: o.fencing.downAfterMs,
    leases: p.leases,
    halted: () => run.closed || run.fatal !== null,
  })
  p.desk = new LeaderDesk({
    ...ctx,
    here: {
      propose: (command, by) => p.requests.proposeHere(command, by),
      // As the node's own addNode/evictNode: on the leader, or on to whoever leads now.
      addNode: (spec, by) =>
        p.requests.onLeader({ method: 'addNode', spec }, by, () => p.membership.add(spec, by)),
      evictNode: (name, by) =>
        p.requests.onLeader({ method: 'evictNode', name }, by, () => p.membership.evict(name, by)),
      selfReport: () => p.reports.selfReport(),
      recentEvents: (limit) => p.clusterLog.ownEvents(limit),
      supportReport: () => p.clusterLog.ownReport(),
    },
  })
  p.assertServing = () => {
    if (run.fatal !== null)
      throw new GeoclusterError('GC_ERR_FAILED', `node has failed: ${run.fatal.message}`)
    const refused = p.replica.storage.refused
    if (refused !== null && core.status().role === 'leader')
      throw new GeoclusterError('GC_ERR_STORAGE_FULL', refused.message)
    if (run.stopping) throw new GeoclusterError('GC_ERR_UNREACHABLE', 'the node is shutting down')
  }
  p.requests = new ClientRequests({
    ...ctx,
    timing: o.consensus,
    supportedLevel,
    tracker,
    desk: p.desk,
    assertServing: () => p.assertServing(),
    failed: () => run.fatal !== null,
    busy: () => p.tickLoop.busy(),
  })
  p.membership = new MembershipChanges({
    ...ctx,
    timing: o.consensus,
    setMeshMembers: () => p.failover.setMeshMembers(),
    applyWaitMs: forwardedApplyWaitMs,
  })
  p.reports = new MemberReports({
    ...ctx,
    site: o.site,
    version: init.version ?? 'unknown',
    supportedLevel,
    witness: init.topology.witness?.name,
    witnessProcess: init.topology.witness?.type === 'node' ? init.topology.witness.name : undefined,
    desk: p.desk,
    api: () => run.api,
    cloudWitness: () => {
      const v = p.replica.cloudWitness?.view()
      return v === undefined ? null : { name: v.name, state: v.state, problem: v.problem, where: v.where }
    },
  })
  p.clusterLog = new ClusterLog({
    ...ctx,
    site: o.site,
    version: init.version ?? 'unknown',
    cluster: () => database.current.cluster()?.name ?? init.topology.cluster.name,
    witness: init.topology.witness?.name,
    events: o.local.events,
    desk: p.desk,
    status: o.local.status,
    topology: init.topology,
    secrets: () => [o.local.adminToken],
  })
  p.alerts = new AlertRunner({ ...ctx, events: o.local.events, version: init.version ?? 'unknown' })
  p.bootstrap = new ClusterBootstrap({ ...ctx, topology: init.topology, supportedLevel })
  p.leadership = new LeadershipWatch({ ...ctx, reconcile: () => p.resources.schedule() })
  p.tickLoop = new TickLoop({
    ...ctx,
    ticks: p.ticks,
    timers: init.timers ?? systemTimers,
    tickMs: o.consensus.tickMs,
    electionTicks: o.consensus.electionTicks,
    shedsLoad: !quorum.soleVoter,
  })
  p.resources = new ResourceHost({
    ...ctx,
    site: o.site,
    dataDir: init.dataDir,
    logger: init.logger,
    restartDelayMs: o.timing.restartDelayMs,
    fenceStopMs: o.fencing.stopTimeoutMs,
    // The monitor fences at most an eighth of the lease early (250 ms by default), and hears
    // every third or fifth renewal instead of every one.
    leaseStepMs: o.fencing.fenceAfterMs / 8,
    // Releases must still go out while the node stops (that is when it releases its groups).
    propose: (command, by) => p.requests.propose(command, by, { whileStopping: true }),
    mayRun: () => p.leases.mayRun(),
    mayStart: () => p.leases.mayStart(),
  })
  p.everyTick = () => {
    p.epochs.watch()
    p.replica.shareWitness?.witness.tick()
    p.replica.cloudWitness?.tick()
    p.leases.renewOwn()
    p.leases.watch()
    p.failover.plan()
    run.mesh?.heartbeat()
    p.failover.notePeerChanges()
    driver.schedule()
    p.leadership.watchQuorum()
  }
  return p
}

/** The resource host, for parts built before it. */
function lazyResources(p: NodeParts) {
  return {
    leaseRenewed: (ms: number) => p.resources.leaseRenewed(ms),
    schedule: () => p.resources.schedule(),
  }
}
