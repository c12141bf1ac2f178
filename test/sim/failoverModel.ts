/**
 * The failover model of the simulator: what `src/runtime/clusterNode.ts` and
 * `src/runtime/resourceHost.ts` do around the pure cores, redone on simulated time, so that the
 * real planner, lease rules, reconciler and cluster database run under the simulator's faults.
 * How each part maps to the runtime is in the top comment of runSim.ts.
 *
 * Time. Real time is the simulator's tick count × `tickMs`. Every host has a monotonic clock of
 * its own, `offset + rate × real`, with `rate` within ±driftPpm (a fixed rate per host: the
 * host's crystal). A node ticks when its clock passes its next tick time, as the runtime's timer
 * does; after a pause it ticks once and goes on from there (a timer overdue fires once).
 *
 * Processes. Per host: the node process (the consensus core, the database, the lease, the
 * planner when it leads, the reconciler), its resource monitor, and the resources themselves,
 * which are the ground truth the safety checks read: a run of a resource lasts from its start to
 * the real instant its process is dead. A crash kills node and monitor (the resources live on
 * until their keeper's deadline or the next monitor's reaper at restart); a pause stops the node
 * (and, for some pauses, its monitor) while the resources keep running; a power-off kills
 * everything on the host at once.
 */

import type { ConsensusCore } from '../../src/consensus/consensusCore.ts'
import { RaftCore, type RaftStatus } from '../../src/consensus/raftCore.ts'
import type { Message } from '../../src/consensus/types.ts'
import { type Command, type CommandEnvelope, encodeEnvelope } from '../../src/database/commands.ts'
import type { CommittedOutcome } from '../../src/database/committedCommand.ts'
import type { GroupRecord } from '../../src/database/entities.ts'
import { commandFor, type NodeView, planFailover } from '../../src/failover/failoverPlanner.ts'
import { type ActualState, reconcile, runsHere } from '../../src/failover/groupReconciler.ts'
import { Lease, type LeaseUnsafe } from '../../src/failover/lease.ts'
import { earlierLeadersByVotes, type LeaseEpoch } from '../../src/failover/leaseAuthority.ts'
import { placementViews } from '../../src/failover/placementViews.ts'
import { decideAfterFailure } from '../../src/failover/restartPolicy.ts'
import { LeaseGrants } from '../../src/runtime/leaseGrants.ts'
import type { QuorumProvider } from '../../src/runtime/quorumProvider.ts'
import { TickHistory } from '../../src/runtime/tickHistory.ts'
import { timingProfiles } from '../../src/topology/timingProfiles.ts'
import { Violation } from './invariants.ts'
import type { Prng } from './prng.ts'
import type { SimNode } from './simNode.ts'

/** The fencing timing, in ms, derived as src/topology/clusterTiming.ts derives it. */
export interface FailoverTiming {
  tickMs: number
  heartbeatMs: number
  /** Failure detection window: heartbeat × threshold (the election timeout). */
  detectionMs: number
  electionMs: number
  fenceAfterMs: number
  stopTimeoutMs: number
  marginMs: number
  downAfterMs: number
  grantWindowMs: number
}

export function failoverTiming(
  electionTicks: number,
  heartbeatTicks: number,
  tickMs: number,
): FailoverTiming {
  const heartbeatMs = heartbeatTicks * tickMs
  const electionMs = electionTicks * tickMs
  // clusterTiming.ts: fenceAfter = max(2 × election, 1.5 × election + 2 heartbeats); stop and
  // margin of the default timing profile; downAfter = fenceAfter + stop + margin + a heartbeat;
  // W = 3 heartbeats.
  const fenceAfterMs = Math.max(2 * electionMs, Math.ceil(1.5 * electionMs + 2 * heartbeatMs))
  const { stopTimeoutMs, marginMs } = timingProfiles.default
  return {
    tickMs,
    heartbeatMs,
    detectionMs: electionMs,
    electionMs,
    fenceAfterMs,
    stopTimeoutMs,
    marginMs,
    downAfterMs: fenceAfterMs + stopTimeoutMs + marginMs + heartbeatMs,
    grantWindowMs: 3 * heartbeatMs,
  }
}

/** Failover-model switches that remove one rule (the raft ones are in SimConfig.unsafe). */
export interface FailoverUnsafe {
  lease?: LeaseUnsafe
  /** downAfter shorter than fenceAfter + stopTimeout + margin (here: equal to fenceAfter / 2). */
  shortDownAfter?: boolean
}

export interface FailoverConfig {
  groups: number
  tickMs: number
  /** Clock rates within 1 ± driftPpm / 1e6. */
  driftPpm: number
  unsafe: FailoverUnsafe
}

export const failoverDefaults: FailoverConfig = { groups: 3, tickMs: 100, driftPpm: 10_000, unsafe: {} }

/** The failover layer's own messages (the mesh's heartbeats and forwarded proposals). */
export type FailoverMessage =
  /** `epoch`: the asker's and the responder's epoch, as the mesh's Ping and Pong carry them. */
  | { type: 'ping'; from: string; to: string; seq: number; epoch: LeaseEpoch }
  | {
      type: 'pong'
      from: string
      to: string
      seq: number
      granted: boolean
      mustApply: number
      epoch: LeaseEpoch
    }
  | { type: 'forward'; from: string; to: string; data: Uint8Array }

export type SimMessage = Message | FailoverMessage

export function isFailoverMessage(m: SimMessage): m is FailoverMessage {
  return m.type === 'ping' || m.type === 'pong' || m.type === 'forward'
}

/** One run of a resource: from its start to the real instant its process is dead. */
export interface Run {
  id: number
  group: string
  resource: string
  node: string
  token: number
  /** The epoch of the runner's history, and the log index that gave it the holding. */
  epoch: string
  holdingIndex: number
  /** Real ms. */
  start: number
  /** Real ms by which it is dead (a stop under way, a fence, the keeper); null: running. */
  stopEnd: number | null
  end: number | null
  failed: boolean
  /** Why it ended (stop, fence, keeper, reaped, power, failed), for traces. */
  how: string
}

/** What the cluster lets the model do (the simulator implements it). */
export interface FailoverEnv {
  readonly rng: Prng
  now(): number
  nodes(): ReadonlyMap<string, SimNode>
  send(m: SimMessage): void
  note(line: string): void
  /** The epoch of a node's history (the invariants' view). */
  epochOf(node: string): string
  /** Token checks across epochs: may a run of `later` compare with `earlier`? (see epochs in simCluster). */
  lostBetween(earlier: { epoch: string; holdingIndex: number }, laterEpoch: string): boolean | 'unrelated'
}

interface GroupSpec {
  name: string
  preferredOwners: string[]
  failback: string
  antiAffinity: string[]
  resources: { name: string; dependsOn: string[]; restartThreshold: number }[]
}

/** What one node process holds in memory: all of it is lost in a crash. */
class NodeMemory {
  /** The runtime's lease grants and lease (src/runtime/leaseGrants.ts), run as they are. */
  readonly leases: LeaseGrants
  readonly ticks = new TickHistory()
  readonly actual = new Map<string, ActualState>()
  readonly restartHistory = new Map<string, number[]>()
  /** resource -> clock ms when its restart delay is over */
  readonly restartAt = new Map<string, number>()
  /** group -> clock ms after which a release with no outcome is given up */
  readonly pendingReleases = new Map<string, number>()
  readonly planning = new Set<string>()
  readonly waiters = new Map<number, { term: number; group: string }>()
  readonly heard = new Map<string, number>()
  readonly upSince = new Map<string, number>()
  readonly wasUp = new Set<string>()
  readonly lastPing = new Map<string, number>()
  pingSeq = 0
  readonly pingsSent = new Map<number, number>()
  leaderSince: number | null = null
  readonly startedAt: number
  /** A carried floor proposal in flight until this clock ms. */
  carryingUntil = Number.NEGATIVE_INFINITY
  /** Setup commands proposed, by what, in which term. */
  readonly setupProposed = new Map<string, number>()
  /** Failed resources the monitor reported: handled once. */
  readonly failedSeen = new Set<string>()

  constructor(startedAt: number, leases: (ticks: TickHistory) => LeaseGrants) {
    this.startedAt = startedAt
    this.leases = leases(this.ticks)
  }
}

export class Host {
  readonly id: string
  readonly site: string
  readonly rate: number
  readonly offset: number
  nextTickAt = 0
  /** Sim tick the pause ends; null: running. */
  pausedUntil: number | null = null
  pauseStopsMonitor = false
  /** The node process (and its monitor) runs: false while crashed or powered off. */
  up = true
  /** Real ms since when the monitor runs (it fences only from then on). */
  monitorSince = 0
  /** The lease end the monitor and the keepers hold (host clock ms). */
  leaseUntil = Number.NEGATIVE_INFINITY
  /** resource -> its live run */
  readonly runs = new Map<string, Run>()
  /** Resources whose process died on its own since the node last looked. */
  readonly died = new Set<string>()
  /** The highest token of a history this node gave up (kept on disk until carried in). */
  carriedFloor: number | null = null
  /** Start with --prevent-quorum next time (after a confirmed force powered it off). */
  preventNextStart = false
  mem: NodeMemory | null
  rng: Prng

  constructor(
    id: string,
    site: string,
    rate: number,
    offset: number,
    rng: Prng,
    memory: (h: Host) => NodeMemory,
  ) {
    this.id = id
    this.site = site
    this.rate = rate
    this.offset = offset
    this.rng = rng
    this.mem = memory(this)
  }

  clock(realMs: number): number {
    return this.offset + this.rate * realMs
  }

  realAt(clockMs: number): number {
    return (clockMs - this.offset) / this.rate
  }

  get paused(): boolean {
    return this.pausedUntil !== null
  }
}

export interface FailoverCounts {
  /** Run starts checked against every other run of the group (at most one runner). */
  runStarts: number
  overlapComparisons: number
  /** Token comparisons between runs of a group (never decreasing), and those excused across a confirmed force. */
  runTokenChecks: number
  runTokenExcused: number
  /** Token comparisons in a node's database over its applies, and restarts of that count after a wipe. */
  dbTokenChecks: number
  dbTokenResets: number
  stops: number
  fences: number
  keeperKills: number
  reaped: number
  resourceFailures: number
  leaseGrants: number
  /** Pings a leader answered without a grant (it did not hear a majority within the window, or across epochs). */
  leaseRefusals: number
  plannerActions: Record<string, number>
  releases: number
  operatorCommands: number
  operatorRaces: number
  stuck: number
}

const wall0 = 1_800_000_000_000

export class FailoverWorld {
  readonly config: FailoverConfig
  readonly timing: FailoverTiming
  readonly hosts = new Map<string, Host>()
  readonly runs = new Map<string, Run[]>()
  readonly groups: GroupSpec[]
  readonly counts: FailoverCounts = {
    runStarts: 0,
    overlapComparisons: 0,
    runTokenChecks: 0,
    runTokenExcused: 0,
    dbTokenChecks: 0,
    dbTokenResets: 0,
    stops: 0,
    fences: 0,
    keeperKills: 0,
    reaped: 0,
    resourceFailures: 0,
    leaseGrants: 0,
    leaseRefusals: 0,
    plannerActions: {},
    releases: 0,
    operatorCommands: 0,
    operatorRaces: 0,
    stuck: 0,
  }
  /** Groups the setup has seen online once (then the operator owns their target). */
  private readonly setupOnline = new Set<string>()
  /** Per node: per group, the last token its database showed. */
  private readonly dbTokens = new Map<string, Map<string, number>>()
  private nextRunId = 1
  private readonly env: FailoverEnv
  private readonly clusterNodes: string[]

  constructor(
    env: FailoverEnv,
    config: FailoverConfig,
    timing: FailoverTiming,
    ids: { id: string; site: string; kind: 'node' | 'witness' }[],
    clusterNodes: string[],
  ) {
    this.env = env
    this.config = config
    this.timing = config.unsafe.shortDownAfter
      ? { ...timing, downAfterMs: Math.floor(timing.fenceAfterMs / 2) }
      : timing
    this.clusterNodes = clusterNodes
    const r = env.rng
    for (const { id, site } of ids) {
      const ppm = (r.next() * 2 - 1) * config.driftPpm
      const offset = r.int(0, 1_000_000)
      this.hosts.set(
        id,
        new Host(
          id,
          site,
          1 + ppm / 1e6,
          offset,
          r.fork(),
          (h) => new NodeMemory(offset, (ticks) => this.leaseGrants(id, h, ticks)),
        ),
      )
    }
    const n = clusterNodes
    const specs: GroupSpec[] = [
      {
        name: 'g1',
        preferredOwners: [n[0]!],
        failback: 'immediate',
        antiAffinity: [],
        resources: [{ name: 'g1-app', dependsOn: [], restartThreshold: 1 }],
      },
      {
        name: 'g2',
        preferredOwners: n.length > 2 ? [n[1]!, n[2]!] : [],
        failback: 'never',
        antiAffinity: ['db'],
        resources: [
          { name: 'g2-ip', dependsOn: [], restartThreshold: 2 },
          { name: 'g2-app', dependsOn: ['g2-ip'], restartThreshold: 0 },
        ],
      },
      {
        name: 'g3',
        preferredOwners: [],
        failback: 'never',
        antiAffinity: ['db'],
        resources: [{ name: 'g3-app', dependsOn: [], restartThreshold: 1 }],
      },
      {
        name: 'g4',
        preferredOwners: [n.at(-1)!],
        failback: 'immediate',
        antiAffinity: [],
        resources: [{ name: 'g4-app', dependsOn: [], restartThreshold: 3 }],
      },
    ]
    this.groups = specs.slice(0, config.groups)
  }

  realNow(): number {
    return this.env.now() * this.timing.tickMs
  }

  host(id: string): Host {
    return this.hosts.get(id)!
  }

  isPaused(id: string): boolean {
    return this.hosts.get(id)?.paused === true
  }

  /** How many times node `id` ticks in this step (its clock passed its tick time), and wakes it. */
  ticksDue(id: string): number {
    const h = this.host(id)
    if (h.pausedUntil !== null) {
      if (h.pausedUntil > this.env.now()) return 0
      h.pausedUntil = null
      h.monitorSince = Math.max(h.monitorSince, this.realNow())
      // An overdue timer fires once at once, then keeps its period from there.
      h.nextTickAt = h.clock(this.realNow())
    }
    const now = h.clock(this.realNow())
    let n = 0
    while (now >= h.nextTickAt && n < 2) {
      n++
      h.nextTickAt += this.timing.tickMs
    }
    if (now >= h.nextTickAt) h.nextTickAt = now + this.timing.tickMs
    return n
  }

  // ---- the world: processes die on their own time ------------------------------------------

  /** Start of a step: monitors fence expired leases, keepers kill, stops complete. */
  beforeStep(): void {
    const real = this.realNow()
    const S = this.timing.stopTimeoutMs
    for (const h of this.hosts.values()) {
      if (h.runs.size === 0) continue
      const clock = h.clock(real)
      const monitorRuns = h.up && !(h.paused && h.pauseStopsMonitor)
      if (monitorRuns && clock >= h.leaseUntil) {
        for (const run of h.runs.values()) {
          if (run.stopEnd !== null) continue
          const from = Math.max(h.realAt(h.leaseUntil), h.monitorSince)
          run.stopEnd = from + (h.rng.next() * S) / h.rate
          run.how = 'fence'
          this.counts.fences++
        }
      }
      const deadline = h.leaseUntil + S
      if (clock >= deadline) {
        const at = h.realAt(deadline)
        for (const run of h.runs.values()) {
          if (run.stopEnd === null || run.stopEnd > at) {
            run.stopEnd = at
            run.how = 'keeper'
            this.counts.keeperKills++
          }
        }
      }
      for (const [resource, run] of h.runs) {
        if (run.stopEnd !== null && run.stopEnd <= real) this.endRun(h, resource, run.stopEnd, run.how)
      }
    }
  }

  private endRun(h: Host, resource: string, at: number, how: string): void {
    const run = h.runs.get(resource)
    if (run === undefined) return
    run.end = at
    run.how = how
    h.runs.delete(resource)
  }

  /** Everything on the host dies now (power off, or the reaper of a new monitor). */
  private killAll(h: Host, how: string): void {
    const real = this.realNow()
    for (const resource of [...h.runs.keys()]) {
      this.endRun(h, resource, real, how)
      if (how === 'reaped') this.counts.reaped++
    }
  }

  // ---- the safety checks on runs -----------------------------------------------------------

  private startRun(h: Host, node: SimNode, group: string, resource: string, token: number): void {
    const real = this.realNow()
    const run: Run = {
      id: this.nextRunId++,
      group,
      resource,
      node: h.id,
      token,
      epoch: this.env.epochOf(h.id),
      holdingIndex: node.holdings.get(group) ?? 0,
      start: real,
      stopEnd: null,
      end: null,
      failed: false,
      how: 'running',
    }
    this.counts.runStarts++
    const list = this.runs.get(group) ?? []
    for (const other of list) {
      this.counts.overlapComparisons++
      if (other.node !== h.id || other.resource === resource) {
        if (other.end === null || other.end > real) {
          throw new Violation(
            `at most one node runs ${group}: ${h.id} starts ${resource} (token ${token}) at ${real.toFixed(1)} ms while ${other.node}'s ${other.resource} (token ${other.token}, since ${other.start.toFixed(1)} ms) ${other.stopEnd === null ? 'still runs' : `is dead only at ${other.stopEnd.toFixed(1)} ms (${other.how})`}`,
          )
        }
      }
      const lost = this.env.lostBetween(other, run.epoch)
      if (lost !== false) {
        this.counts.runTokenExcused++
        continue
      }
      this.counts.runTokenChecks++
      if (token < other.token)
        throw new Violation(
          `fencing token of ${group} went back: ${h.id} runs it with token ${token} after ${other.node} ran it with ${other.token}`,
        )
    }
    list.push(run)
    if (list.length > 40) list.splice(0, list.length - 40)
    this.runs.set(group, list)
    h.runs.set(resource, run)
    this.env.note(`RUN ${resource} on ${h.id} token ${token}`)
  }

  /** A node's database never shows a group's token going back (a wipe starts the count again). */
  checkDbTokens(node: SimNode): void {
    let seen = this.dbTokens.get(node.id)
    if (seen === undefined) {
      seen = new Map()
      this.dbTokens.set(node.id, seen)
    }
    for (const g of node.db.groups()) {
      this.counts.dbTokenChecks++
      const before = seen.get(g.name)
      if (before !== undefined && g.fencingToken < before)
        throw new Violation(
          `${node.id}'s database: fencing token of ${g.name} went back from ${before} to ${g.fencingToken}`,
        )
      seen.set(g.name, g.fencingToken)
    }
  }

  // ---- node lifecycle ----------------------------------------------------------------------

  crashed(id: string): void {
    const h = this.host(id)
    h.up = false
    h.mem = null
    h.pausedUntil = null
  }

  powerOff(id: string): void {
    const h = this.host(id)
    this.killAll(h, 'power')
    h.leaseUntil = Number.NEGATIVE_INFINITY
    this.crashed(id)
  }

  restarted(id: string): void {
    const h = this.host(id)
    // Its database is rebuilt from its snapshot and log: its token history starts again there.
    this.dbTokens.delete(id)
    // The new monitor kills whatever an earlier one left running.
    this.killAll(h, 'reaped')
    h.leaseUntil = Number.NEGATIVE_INFINITY
    h.up = true
    h.monitorSince = this.realNow()
    h.mem = new NodeMemory(h.clock(this.realNow()), (ticks) => this.leaseGrants(id, h, ticks))
    h.nextTickAt = h.clock(this.realNow())
    h.died.clear()
  }

  /** Every paused node wakes at the next tick. */
  wakeAll(): void {
    for (const h of this.hosts.values()) if (h.pausedUntil !== null) h.pausedUntil = this.env.now()
  }

  pause(id: string, untilTick: number, withMonitor: boolean): void {
    const h = this.host(id)
    if (!h.up || h.paused) return
    h.pausedUntil = untilTick
    h.pauseStopsMonitor = withMonitor
  }

  /** The node wiped its state to follow another epoch: what it proposed will never be answered. */
  resetting(node: SimNode): void {
    const h = this.host(node.id)
    const floor = node.db.highestToken()
    if (floor > 0) h.carriedFloor = Math.max(h.carriedFloor ?? 0, floor)
    this.dbTokens.delete(node.id)
    this.counts.dbTokenResets++
    const mem = h.mem
    if (mem === null) return
    mem.planning.clear()
    mem.waiters.clear()
    mem.pendingReleases.clear()
    mem.carryingUntil = Number.NEGATIVE_INFINITY
  }

  snapshotInstalled(node: SimNode): void {
    this.checkDbTokens(node)
    // As ProposalTracker.snapshotCovers: proposals at or below the snapshot end with it (the
    // planner's in-flight set lets those groups go).
    const mem = this.hosts.get(node.id)?.mem
    if (mem == null) return
    for (const [index, w] of mem.waiters) {
      if (index > node.appliedIndex) continue
      mem.waiters.delete(index)
      mem.planning.delete(w.group)
    }
  }

  /** A resource process dies on its own (the monitor will report it failed). */
  failResource(): void {
    const live = [...this.hosts.values()].flatMap((h) =>
      [...h.runs.values()].filter((r) => r.stopEnd === null).map((r) => ({ h, r })),
    )
    if (live.length === 0) return
    const { h, r } = this.env.rng.pick(live)
    this.counts.resourceFailures++
    this.env.note(`RESOURCE ${r.resource} dies on ${h.id}`)
    r.failed = true
    this.endRun(h, r.resource, this.realNow(), 'failed')
    h.died.add(r.resource)
  }

  // ---- messages ----------------------------------------------------------------------------

  /** Anything from `from` reached `to`: its failure detector heard it. */
  heard(to: string, from: string): void {
    const h = this.hosts.get(to)
    if (h?.mem == null) return
    h.mem.heard.set(from, h.clock(this.realNow()))
  }

  deliver(node: SimNode, m: FailoverMessage): void {
    const h = this.host(node.id)
    const mem = h.mem
    if (mem === null || !node.alive) return
    this.heard(node.id, m.from)
    const core = node.core
    if (!(core instanceof RaftCore)) return
    if (m.type === 'ping') {
      const grant = mem.leases.leaseFor(m.from, m.epoch)
      if (grant !== null) this.counts.leaseGrants++
      else if (core.status().role === 'leader') this.counts.leaseRefusals++
      this.env.send({
        type: 'pong',
        from: node.id,
        to: m.from,
        seq: m.seq,
        granted: grant !== null,
        mustApply: grant?.mustApply ?? 0,
        epoch: core.epochIdentity(),
      })
      return
    }
    if (m.type === 'pong') {
      // The lease counts from when this node asked, by its own record of the ping.
      const askedAt = mem.pingsSent.get(m.seq)
      if (m.granted && askedAt !== undefined) mem.leases.grantedBy(m.epoch, askedAt, m.mustApply)
      return
    }
    // A proposal forwarded to the leader.
    if (core.status().role === 'leader') {
      core.propose(m.data)
      node.drain()
    }
  }

  // ---- the lease authority: the runtime's LeaseGrants, on the host's clock -------------------

  private leaseGrants(id: string, h: Host, ticks: TickHistory): LeaseGrants {
    const timing = this.timing
    const node = () => this.env.nodes().get(id)!
    // The node's current core (a restart makes a new one, and a new memory with it).
    const core = {
      status: () => (node().core as RaftCore).status(),
      epochRefusal: () => (node().core as RaftCore).epochRefusal(),
      epochIdentity: () => (node().core as RaftCore).epochIdentity(),
    } as unknown as ConsensusCore
    const quorum = {
      holdsDisk: () => null,
      earlierLeaders: (raft: RaftStatus) => earlierLeadersByVotes(raft, timing.tickMs),
    } as unknown as QuorumProvider
    return new LeaseGrants({
      name: id,
      monotonic: () => h.clock(this.realNow()),
      core,
      db: () => node().db,
      stopping: () => false,
      emit: () => {},
      fencing: {
        fenceAfterMs: timing.fenceAfterMs,
        stopTimeoutMs: timing.stopTimeoutMs,
        marginMs: timing.marginMs,
        downAfterMs: timing.downAfterMs,
        grantWindowMs: timing.grantWindowMs,
      },
      quorum,
      ticks,
      // The monitor and the keepers get the lease's end on the host's clock.
      resources: {
        leaseRenewed: (remainingMs: number) => {
          h.leaseUntil = h.clock(this.realNow()) + remainingMs
        },
        schedule: () => {},
      },
      lease: new Lease({ unsafe: this.config.unsafe.lease ?? {} }),
    })
  }

  // ---- a node's tick -----------------------------------------------------------------------

  /** Runs after every step or tick of a live node: leadership start, as onSoftState does. */
  afterNode(node: SimNode): void {
    const mem = this.hosts.get(node.id)?.mem
    if (mem == null || !(node.core instanceof RaftCore)) return
    const leading = node.core.status().role === 'leader'
    if (leading && mem.leaderSince === null) mem.leaderSince = this.host(node.id).clock(this.realNow())
    if (!leading) mem.leaderSince = null
  }

  /** One tick of node `node`: the runtime's timer (tickCore, leases, planner, heartbeat, reconcile). */
  tick(node: SimNode): void {
    const h = this.host(node.id)
    const mem = h.mem
    if (mem === null) return
    const real = this.realNow()
    const now = h.clock(real)
    this.syncFromMonitor(node, h)
    node.tick()
    mem.ticks.note(now)
    const core = node.core
    if (!(core instanceof RaftCore) || h.mem !== mem) return
    this.afterNode(node)
    // Each part may drive the node's Ready loop, and a crash may land in it (the leader's early
    // appends): the rest of the tick is the dead process's, and does not happen.
    const parts = [
      () => this.watchEpoch(node, h, now),
      () => mem.leases.renewOwn(),
      () => this.planFailover(node, h, now),
      () => this.setup(node, now),
      () => this.heartbeat(node, h, now),
      () => this.watchPeers(h, now),
      () => this.reconcileNow(node, h, now),
    ]
    for (const part of parts) {
      if (h.mem !== mem || !node.alive) return
      part()
    }
  }

  private heartbeat(node: SimNode, h: Host, now: number): void {
    const mem = h.mem!
    for (const peer of this.clusterNodes) {
      if (peer === node.id) continue
      const last = mem.lastPing.get(peer)
      if (last !== undefined && now - last < this.timing.heartbeatMs) continue
      mem.lastPing.set(peer, now)
      const seq = ++mem.pingSeq
      mem.pingsSent.set(seq, now)
      mem.pingsSent.delete(seq - 1024)
      const epoch = node.core instanceof RaftCore ? node.core.epochIdentity() : { epoch: 0, epochId: '' }
      this.env.send({ type: 'ping', from: node.id, to: peer, seq, epoch })
    }
  }

  private peerState(mem: NodeMemory, peer: string, now: number): 'up' | 'down' | 'joining' {
    const heard = mem.heard.get(peer)
    const window = this.timing.detectionMs
    if (heard === undefined) return now - mem.startedAt < window ? 'joining' : 'down'
    return now - heard < window ? 'up' : 'down'
  }

  private watchPeers(h: Host, now: number): void {
    const mem = h.mem!
    for (const peer of this.clusterNodes) {
      if (peer === h.id) continue
      const up = this.peerState(mem, peer, now) === 'up'
      if (up && !mem.wasUp.has(peer)) {
        mem.wasUp.add(peer)
        mem.upSince.set(peer, now)
      } else if (!up && mem.wasUp.has(peer)) {
        mem.wasUp.delete(peer)
        mem.upSince.delete(peer)
      }
    }
  }

  /** The monitor's reports reach the node: runs ended, started, being fenced. */
  private syncFromMonitor(node: SimNode, h: Host): void {
    const mem = h.mem!
    const now = h.clock(this.realNow())
    for (const [resource, at] of mem.restartAt) {
      if (at > now) continue
      mem.restartAt.delete(resource)
      if (mem.actual.get(resource) === 'failed') mem.actual.delete(resource)
    }
    for (const [resource, state] of [...mem.actual]) {
      const run = h.runs.get(resource)
      if (run === undefined) {
        if (state === 'failed') continue
        if (h.died.delete(resource)) {
          mem.actual.set(resource, 'failed')
          this.handleFailure(node, h, resource, now)
        } else mem.actual.delete(resource)
      } else if (state === 'starting') mem.actual.set(resource, 'online')
      else if (run.stopEnd !== null && state !== 'stopping') mem.actual.set(resource, 'stopping')
    }
  }

  /** ResourceHost.handleFailure: restart in place while under the threshold, else mark it failed. */
  private handleFailure(node: SimNode, h: Host, resource: string, now: number): void {
    const mem = h.mem!
    const r = node.db.resource(resource)
    const g = r === undefined ? undefined : node.db.group(r.group)
    if (r === undefined || g === undefined || !runsHere(g, node.id)) {
      mem.actual.delete(resource)
      return
    }
    const decision = decideAfterFailure(mem.restartHistory.get(resource) ?? [], now, r)
    if (decision.action === 'restart') {
      mem.restartHistory.set(resource, decision.restarts)
      mem.restartAt.set(resource, now + 500)
      return
    }
    this.propose(node, h, {
      op: 'resource.markFailed',
      name: resource,
      reason: `died; ${decision.restartsInPeriod} restarts reached the threshold of ${r.restartThreshold}`,
    })
  }

  private reconcileNow(node: SimNode, h: Host, now: number): void {
    const mem = h.mem!
    for (const [group, until] of mem.pendingReleases) if (until <= now) mem.pendingReleases.delete(group)
    const mayRun = mem.leases.valid()
    const actions = reconcile({
      node: node.id,
      groups: node.db.groups(),
      resources: node.db.resources(),
      mayRun,
      mayStart: mayRun && mem.leases.mayStart(),
      ...(mayRun ? {} : { withheld: `${node.id} holds no lease` }),
      pendingReleases: new Set(mem.pendingReleases.keys()),
      actual: mem.actual,
    })
    for (const action of actions) {
      if (action.kind === 'release') {
        mem.pendingReleases.set(action.group, now + 3_000)
        this.counts.releases++
        this.propose(node, h, { op: 'group.release', name: action.group, token: action.token })
      } else if (action.kind === 'start') {
        mem.actual.set(action.resource, 'starting')
        this.startRun(h, node, action.group, action.resource, action.fencingToken)
      } else {
        mem.actual.set(action.resource, 'stopping')
        const run = h.runs.get(action.resource)
        if (run !== undefined && run.stopEnd === null) {
          this.counts.stops++
          // A graceful stop takes up to twice the fencing stop timeout (the keeper still bounds it).
          run.stopEnd = this.realNow() + (h.rng.next() * 2 * this.timing.stopTimeoutMs) / h.rate
          run.how = 'stop'
        }
      }
    }
  }

  /** Every tick: a fencing floor carried from a history this node gave up is handed to its cluster. */
  private watchEpoch(node: SimNode, h: Host, now: number): void {
    const mem = h.mem!
    const core = node.core as RaftCore
    if (h.carriedFloor === null || mem.carryingUntil > now || node.db.cluster() === undefined) return
    if (!core.quorate() || mem.ticks.done % 20 !== 0) return
    mem.carryingUntil = now + 3_000
    this.propose(node, h, { op: 'cluster.raiseTokenFloor', floor: h.carriedFloor }, `floor:${node.id}`)
  }

  /** Proposes as the runtime does: on the leader directly, else forwarded to the leader it knows. */
  propose(
    node: SimNode,
    h: Host,
    command: Command,
    by = `node:${node.id}`,
  ): { index: number; term: number } | null {
    const core = node.core
    if (!(core instanceof RaftCore)) return null
    const envelope: CommandEnvelope = { v: 1, by, at: wall0 + Math.floor(this.realNow()), command }
    const data = encodeEnvelope(envelope)
    const st = core.status()
    if (st.role === 'leader') {
      const r = core.propose(data)
      node.drain()
      return r.ok ? r.ticket : null
    }
    if (st.leader !== null && st.leader !== node.id)
      this.env.send({ type: 'forward', from: node.id, to: st.leader, data })
    void h
    return null
  }

  /** An entry was applied on `node`: settle what waited for it; watch the tokens. */
  applied(node: SimNode, index: number, term: number, outcome: CommittedOutcome | undefined): void {
    const h = this.hosts.get(node.id)
    const mem = h?.mem
    if (mem != null) {
      const waiter = mem.waiters.get(index)
      if (waiter !== undefined) {
        mem.waiters.delete(index)
        mem.planning.delete(waiter.group)
      }
    }
    if (outcome?.kind !== 'applied') return
    const c = outcome.envelope.command
    if (mem != null && c.op === 'group.release') mem.pendingReleases.delete(c.name)
    if (mem != null && outcome.result.ok) {
      // ResourceHost.afterApply: bringing a resource back online forgets its failures and its
      // restart history (WSFC Start-*); a resource marked failed is no longer "failed here".
      const cleared =
        c.op === 'group.setTarget' && c.target === 'online'
          ? node.db.resources(c.name).map((r) => r.name)
          : c.op === 'resource.setTarget' && c.target === 'online'
            ? outcome.result.changed.flatMap((p) =>
                p.includes('/resources/') ? [p.slice(p.lastIndexOf('/') + 1)] : [],
              )
            : c.op === 'resource.markFailed'
              ? [c.name]
              : []
      for (const name of cleared) {
        if (c.op !== 'resource.markFailed') mem.restartHistory.delete(name)
        if (mem.actual.get(name) === 'failed') mem.actual.delete(name)
      }
    }
    if (h !== undefined && c.op === 'cluster.raiseTokenFloor' && outcome.envelope.by === `floor:${node.id}`) {
      if (outcome.result.ok && h.carriedFloor !== null && c.floor >= h.carriedFloor) h.carriedFloor = null
      if (mem != null) mem.carryingUntil = Number.NEGATIVE_INFINITY
    }
    if (c.op === 'group.assign' || c.op === 'cluster.raiseTokenFloor') this.checkDbTokens(node)
    void term
    // The racing operator of the real-process test: watching the leader's events, they assign a
    // group the moment its holder released it — here before the planner's next tick.
    if (
      c.op === 'group.release' &&
      outcome.result.ok &&
      this.operatorRacing &&
      node.core instanceof RaftCore &&
      node.core.status().role === 'leader'
    ) {
      const g = node.db.group(c.name)
      if (
        g !== undefined &&
        g.owner === null &&
        g.target === 'online' &&
        g.moving !== null &&
        this.env.rng.chance(0.5)
      ) {
        const nodes = node.db.nodes().map((n) => n.name)
        const to = this.env.rng.pick(nodes)
        this.counts.operatorCommands++
        this.counts.operatorRaces++
        this.env.note(`OPERATOR RACE via ${node.id}: assign ${g.name} to ${to}`)
        const envelope: CommandEnvelope = {
          v: 1,
          by: 'admin',
          at: wall0 + Math.floor(this.realNow()),
          command: operatorAssign(g, to),
        }
        // Inside the leader's apply loop: the entry goes out with its next Ready.
        node.core.propose(encodeEnvelope(envelope))
      }
    }
  }

  /** The operator races the planner after releases (set by the simulator for part of the run). */
  operatorRacing = false

  // ---- the leader: placement (clusterNode.ts nodeViews / planFailover) -----------------------

  private nodeViews(node: SimNode, h: Host, now: number): NodeView[] {
    const mem = h.mem!
    // The runtime's own placement views (src/failover/placementViews.ts), on this host's facts.
    return placementViews({
      nodes: node.db.nodes(),
      self: node.id,
      nowMs: now,
      stopping: false,
      seen: (name) => this.peerState(mem, name, now),
      lastHeardMs: (name) => mem.heard.get(name) ?? null,
      upSinceMs: (name) => (name === node.id ? mem.startedAt : mem.upSince.get(name)),
      earlierLeasesAskedBeforeMs: mem.leases.earlierLeasesAskedBefore(mem.leaderSince ?? now),
      downAfterMs: this.timing.downAfterMs,
    })
  }

  private planFailover(node: SimNode, h: Host, now: number): void {
    const core = node.core as RaftCore
    const raft = core.status()
    const mem = h.mem!
    if (raft.role !== 'leader' || !core.committedInTerm() || node.db.cluster() === undefined) return
    if (node.db.appliedIndex < raft.commit) return
    const wall = wall0 + Math.floor(this.realNow())
    const actions = planFailover({
      groups: node.db.groups(),
      resources: node.db.resources(),
      nodes: this.nodeViews(node, h, now),
      nowMs: wall,
      hourOfDay: 12,
      failbackAfterUpMs: this.timing.downAfterMs,
      inFlight: mem.planning,
      random: () => h.rng.next(),
    })
    for (const action of actions) {
      this.counts.plannerActions[action.kind] = (this.counts.plannerActions[action.kind] ?? 0) + 1
      if (action.kind === 'stuck') {
        this.counts.stuck++
        continue
      }
      const command = commandFor(action, wall)
      mem.planning.add(action.group)
      const envelope: CommandEnvelope = { v: 1, by: `node:${node.id}`, at: wall, command }
      const r = core.epochRefusal() === null ? core.propose(encodeEnvelope(envelope)) : null
      if (r?.ok === true) {
        mem.waiters.set(r.ticket.index, { term: r.ticket.term, group: action.group })
        this.env.note(
          `PLAN ${node.id}: ${action.kind} ${action.group} @${r.ticket.index}: ${'reason' in action ? action.reason : ''}`,
        )
      } else mem.planning.delete(action.group)
    }
    node.drain()
  }

  // ---- the cluster's setup (bootstrap, groups, resources), as an operator would --------------

  private setup(node: SimNode, _now: number): void {
    const core = node.core as RaftCore
    const raft = core.status()
    if (raft.role !== 'leader' || !core.committedInTerm() || node.db.appliedIndex < raft.commit) return
    if (core.epochRefusal() !== null) return
    const mem = this.host(node.id).mem!
    const once = (what: string, command: Command) => {
      if (mem.setupProposed.get(what) === raft.term) return
      mem.setupProposed.set(what, raft.term)
      this.propose(node, this.host(node.id), command, 'admin')
    }
    const db = node.db
    if (db.cluster() === undefined) {
      const sites = new Map<string, string[]>()
      for (const id of this.clusterNodes) {
        const site = this.host(id).site
        sites.set(site, [...(sites.get(site) ?? []), id])
      }
      once('bootstrap', {
        op: 'cluster.bootstrap',
        cluster: { name: 'sim', quorumModel: 'node-majority' },
        sites: [...sites].map(([name, nodes]) => ({
          name,
          nodes: nodes.map((n) => ({ name: n, votes: 1, peerId: null, address: null })),
        })),
        witness: null,
      })
      return
    }
    for (const g of this.groups) {
      if (db.group(g.name) === undefined) {
        once(`group ${g.name}`, {
          op: 'group.create',
          name: g.name,
          preferredOwners: g.preferredOwners,
          possibleOwners: [],
          failback: g.failback,
          antiAffinity: g.antiAffinity,
        })
        continue
      }
      let missing = false
      for (const r of g.resources) {
        if (db.resource(r.name) !== undefined) continue
        missing = true
        once(`resource ${r.name}`, {
          op: 'resource.create',
          name: r.name,
          group: g.name,
          type: 'generic-app',
          params: { command: `run ${r.name}` },
          dependsOn: r.dependsOn,
          restartThreshold: r.restartThreshold,
          restartPeriodMs: 900_000,
        })
      }
      if (missing || this.setupOnline.has(g.name)) continue
      if (db.group(g.name)!.target === 'online') this.setupOnline.add(g.name)
      else once(`online ${g.name}`, { op: 'group.setTarget', name: g.name, target: 'online' })
    }
  }

  /** True once every group was created and brought online. */
  get setUp(): boolean {
    return this.groups.every((g) => this.setupOnline.has(g.name))
  }

  // ---- the operator ------------------------------------------------------------------------

  /**
   * An operator's command through the API of the leader (the route's read, then its proposal):
   * moves (an unowned group is assigned, as the route does), offline and online, pause, drain
   * and resume, and bringing failed resources back. `race`: assign a group the moment its
   * holder released it, as the real-process race test does.
   */
  operator(leader: SimNode, race: boolean): void {
    const r = this.env.rng
    const db = leader.db
    if (db.cluster() === undefined || !this.setUp) return
    const h = this.host(leader.id)
    const nodes = db.nodes().map((n) => n.name)
    const groups = db.groups()
    if (groups.length === 0) return
    const send = (command: Command) => {
      this.counts.operatorCommands++
      this.env.note(`OPERATOR via ${leader.id}: ${JSON.stringify(command)}`)
      this.propose(leader, h, command, 'admin')
    }
    if (race) {
      const released = groups.filter((g) => g.owner === null && g.target === 'online' && g.moving !== null)
      if (released.length === 0) return
      const g = r.pick(released)
      send({
        op: 'group.assign',
        name: g.name,
        expect: { owner: null, token: g.fencingToken },
        owner: r.pick(nodes),
        kind: 'move',
        reason: 'moved by an operator',
      })
      return
    }
    const g = r.pick(groups)
    const roll = r.int(0, 9)
    if (roll <= 3) {
      const to = r.chance(0.3) ? undefined : r.pick(nodes)
      if (to !== undefined && to === g.owner) return
      if (g.owner === null) {
        if (to === undefined) return
        send(operatorAssign(g, to))
      } else
        send({
          op: 'group.move',
          name: g.name,
          expect: { owner: g.owner, token: g.fencingToken },
          to: to ?? null,
          avoid: g.owner,
          kind: 'move',
          reason: 'moved by an operator',
        })
    } else if (roll === 4) send({ op: 'group.setTarget', name: g.name, target: 'offline' })
    else if (roll <= 6) send({ op: 'group.setTarget', name: g.name, target: 'online' })
    else if (roll === 7) {
      const n = r.pick(nodes)
      send({ op: 'node.setPaused', name: n, paused: r.chance(0.6), drain: r.chance(0.5) })
    } else {
      const failed = db.resources().filter((x) => x.failed !== null)
      if (failed.length > 0) send({ op: 'resource.setTarget', name: r.pick(failed).name, target: 'online' })
      else send({ op: 'node.setPaused', name: r.pick(nodes), paused: false })
    }
  }

  /** Healing: the operator resumes every node and brings every group and resource back online. */
  restoreService(leader: SimNode): void {
    const db = leader.db
    const h = this.host(leader.id)
    for (const n of db.nodes())
      if (n.paused === true)
        this.propose(leader, h, { op: 'node.setPaused', name: n.name, paused: false }, 'admin')
    for (const g of db.groups())
      if (g.target !== 'online' || g.failed !== null)
        this.propose(leader, h, { op: 'group.setTarget', name: g.name, target: 'online' }, 'admin')
    // Every resource, failed in the database or not: a resource its node holds as failed while
    // the database does not say so (its markFailed was lost) shows failed in status, and
    // `resource online` is what the operator does about it.
    for (const r of db.resources())
      this.propose(leader, h, { op: 'resource.setTarget', name: r.name, target: 'online' }, 'admin')
  }

  /** Whether every group runs on exactly its owner (per the leader's database), all resources up. */
  serving(leader: SimNode): boolean {
    const db = leader.db
    if (!this.setUp) return false
    for (const g of db.groups()) {
      if (g.target !== 'online' || g.failed !== null || g.owner === null || g.moving !== null) return false
      const owner = this.hosts.get(g.owner)
      if (owner === undefined) return false
      for (const r of db.resources(g.name)) {
        const run = owner.runs.get(r.name)
        if (run === undefined || run.stopEnd !== null) return false
      }
      for (const other of this.hosts.values())
        if (other !== owner && db.resources(g.name).some((r) => other.runs.has(r.name))) return false
    }
    return true
  }

  describe(): string {
    return [...this.hosts.values()]
      .filter((h) => h.runs.size > 0)
      .map(
        (h) =>
          `${h.id}[${[...h.runs.values()].map((r) => `${r.resource}#${r.token}${r.stopEnd === null ? '' : '…'}`).join(',')}]`,
      )
      .join(' ')
  }
}

/** An operator's `group move` of a released group: placed on `to`, expecting it still released. */
function operatorAssign(g: GroupRecord, to: string): Command {
  return {
    op: 'group.assign',
    name: g.name,
    expect: { owner: null, token: g.fencingToken },
    owner: to,
    kind: 'move',
    reason: 'moved by an operator',
  }
}
