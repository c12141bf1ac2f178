/**
 * The deterministic simulator (TigerBeetle's VOPR, FoundationDB's simulation): the real
 * consensus cores, a simulated network and clock, crashes that lose unsynced writes, restarts,
 * storage found corrupt, partitions of any shape, clock drift, clients writing and reading a few
 * keys, and membership and weight changes. Safety is checked as events happen; then everything is
 * healed and a leader must commit within a tick budget (liveness). One seed, one run, always the
 * same run.
 *
 * With `failover` set (the failover model, failoverModel.ts) every node also runs the cluster
 * database as its state machine, leases, the planner when it leads and the reconciler, over
 * resources whose runs the owner checks read; the fault mix adds pauses (SIGSTOP), stalled and
 * late links, resource failures, an operator, and forced quorum (confirmed at once, later, or
 * never). Forced epochs are checked each as its own history (invariants.ts); what a confirmed
 * force legitimately loses is excused, exactly and counted (see `Epochs`).
 */

import { initialConfiguration } from '../../src/consensus/configuration.ts'
import { membersOf } from '../../src/consensus/quorum/jointQuorum.ts'
import { RaftCore, type RaftOptions } from '../../src/consensus/raftCore.ts'
import type { Configuration, Message, WeightTable } from '../../src/consensus/types.ts'
import { WitnessCore } from '../../src/consensus/witnessCore.ts'
import { encodeEnvelope } from '../../src/database/commands.ts'
import { functionalLevelDefault } from '../../src/database/functionalLevel.ts'
import {
  type FailoverConfig,
  type FailoverCounts,
  FailoverWorld,
  failoverTiming,
  isFailoverMessage,
  type SimMessage,
} from './failoverModel.ts'
import {
  entryDigest,
  epochKey,
  Invariants,
  type Invariants as InvariantsType,
  initialEpoch,
  Violation,
} from './invariants.ts'
import { LeaderStability } from './leaderStability.ts'
import { checkLinearizable, type HistoryOp, type LinearizabilityResult } from './linearizability.ts'
import { Prng } from './prng.ts'
import { calmLinks, type LinkProfile, SimNetwork } from './simNetwork.ts'
import { type NodeHooks, SimNode } from './simNode.ts'

export interface SimConfig {
  seed: number
  /** Voting nodes at the start (the witness not counted). */
  voters: number
  witness: boolean
  /** Extra nodes that membership changes may add. */
  spares: number
  /** Start with unequal weights (one node votes with 2). */
  unequalWeights: boolean
  electionTicks: number
  heartbeatTicks: number
  /** Ticks of the fault phase; 0 = no random faults (scenario tests drive the cluster by hand). */
  faultTicks: number
  livenessTicks: number
  dynamicQuorum: boolean
  /** With dynamic quorum: the nodes that give up their vote first when votes are even (quorum.tieBreaker). */
  lowerQuorumPriority: string[]
  membershipChanges: boolean
  snapshotEvery: number
  clients: number
  unsafe: {
    allowOldTermCommit?: boolean
    ignoreWitnessMark?: boolean
    skipWitnessUpToDateCheck?: boolean
    sendBeforePersist?: boolean
    // The failover model's rules (each switch is documented where it lives).
    /** raftCore: grant votes while hearing a leader (no in-lease vote refusal). */
    voteWhileInLease?: boolean
    /** raftCore: the grant window counts answers from their arrival, not from the send they echo. */
    ackAtReceive?: boolean
    /** raftCore: epochs of the same number are one history (no epoch identity). */
    ignoreEpochIdentity?: boolean
    /** ClusterDatabase: group.assign/move ignore `expect` (no release-before-reassign CAS). */
    skipHoldingCheck?: boolean
    /** Lease: counts from the grant's arrival, not from the request (no askedAt). */
    countFromGrantArrival?: boolean
    /** Lease: starts groups before applying what the granting leader had (no mustApply). */
    ignoreMustApply?: boolean
    /** Timing: downAfter shorter than fenceAfter + stopTimeout + margin. */
    shortDownAfter?: boolean
  }
  /** Multiplies every fault probability (the mutation tests turn it up). */
  faultRate: number
  /** Entries per append message: small values split catch-up into many steps. */
  maxEntriesPerAppend: number
  /** Also aim faults at leaders: crash them soon after election, cut them off from part of the cluster. */
  huntLeaders: boolean
  /** Check safety invariants (off only for forced-quorum scenarios, which discard history on purpose). */
  checks: boolean
  traceLength: number
  /** The failover model (null: the key-value model only). */
  failover: FailoverConfig | null
  /**
   * A node that runs the previous release during a rolling upgrade: its answers echo no send tick
   * and its votes carry no silence report (both optional on the wire), so leaders fall back on
   * the rules that do without them (grant windows from other answers, elected-after-silence).
   */
  olderPeer: string | null
  /** The linearizability search's state budget (null: the checker's default). */
  linearizabilityBudget: number | null
}

export const simDefaults: Omit<SimConfig, 'seed'> = {
  voters: 3,
  witness: false,
  spares: 1,
  unequalWeights: false,
  electionTicks: 10,
  heartbeatTicks: 2,
  faultTicks: 1500,
  livenessTicks: 600,
  dynamicQuorum: false,
  lowerQuorumPriority: [],
  membershipChanges: false,
  snapshotEvery: 40,
  clients: 3,
  unsafe: {},
  faultRate: 1,
  maxEntriesPerAppend: 16,
  huntLeaders: false,
  checks: true,
  traceLength: Number(process.env.SIM_TRACE ?? 40),
  failover: null,
  olderPeer: null,
  linearizabilityBudget: null,
}

export interface SimResult {
  seed: number
  ok: boolean
  violation: string | null
  steps: number
  ticks: number
  trace: string[]
  counts: InvariantsType['counts'] & { stableElections: number }
  ops: { total: number; acked: number; failed: number; indeterminate: number; reads: number }
  linearizability: LinearizabilityResult | null
  faults: number
  /** Nodes whose storage was found corrupt on restart (they stay out). */
  storageLost: number
  /** Ticks from the liveness phase's start to a commit on every live member. */
  recoveryTicks: number | null
  /** The failover model's checks and events (null without it). */
  failover: FailoverCounts | null
  /** Faults injected, by kind. */
  coverage: Record<string, number>
  /** What a confirmed forced epoch legitimately lost, or an unconfirmed one served, left out of the checks. */
  excused: { writes: number; reads: number }
  /** Ticks from the failover liveness phase's start until every group ran on its owner (null: not run). */
  serviceTicks: number | null
  /** Largest clock rate error among the hosts, in ppm. */
  maxDriftPpm: number
}

/** A forced epoch: where its history forked from its parent's, and what the parent lost to it. */
interface Fork {
  key: string
  parent: string
  node: string
  /** The forced node had applied up to here (committed in the parent) and held entries up to `last`. */
  applied: number
  last: number
  /** Its log after `applied`, as (term, digest) per index. */
  log: Map<number, { term: number; digest: number }>
  /**
   * The operator confirmed it (and powered the other side off first), or it ended by itself
   * (a majority of the configured votes came back: `changeConfiguration` drops `unconfirmed`).
   * Only the operator's confirmation excuses what the parent loses.
   */
  confirmed: 'operator' | false
  /** First index of the parent's history that this epoch lawfully drops (operator confirmation only). */
  firstLost: number
}

/**
 * The forced epochs of a run and what they override. A confirmed epoch C, forked from P, keeps
 * P's history up to its forced node's log and loses the rest: P's entries from `firstLost` on
 * (the first index where P committed something else than that log, or past its end). An op or a
 * run of P at such an index is excused from the checks, and counted; everything else is checked.
 */
export class Epochs {
  readonly forks = new Map<string, Fork>()

  add(f: Fork): void {
    this.forks.set(f.key, f)
  }

  confirm(key: string, parentCommitted: Map<number, { term: number; digest: number }>): void {
    const f = this.forks.get(key)
    if (f === undefined || f.confirmed === 'operator') return
    f.confirmed = 'operator'
    f.firstLost = this.firstLost(f, parentCommitted)
  }

  private firstLost(f: Fork, parentCommitted: Map<number, { term: number; digest: number }>): number {
    let lost = f.last + 1
    for (let i = f.applied + 1; i <= f.last; i++) {
      const c = parentCommitted.get(i)
      const mine = f.log.get(i)
      if (c !== undefined && (mine === undefined || c.term !== mine.term || c.digest !== mine.digest)) {
        lost = i
        break
      }
    }
    return lost
  }

  /** Whether `a` is an ancestor of epoch `b` (through forks). */
  isAncestor(a: string, b: string): boolean {
    let at = b
    for (let guard = 0; guard < 1000; guard++) {
      const f = this.forks.get(at)
      if (f === undefined) return false
      if (f.parent === a) return true
      at = f.parent
    }
    return false
  }

  confirmedChild(parent: string): Fork | undefined {
    for (const f of this.forks.values()) if (f.parent === parent && f.confirmed !== false) return f
    return undefined
  }

  /**
   * The histories the run ended with, from `main` back to the initial one: for each, from which
   * index on what it did is not in `main` (`until`: the first index a later force cut, the
   * lowest over every force between it and `main`), and whether operators' confirmations made
   * every such cut lawful.
   */
  path(main: string): Map<string, { until: number; lawful: boolean }> {
    const out = new Map<string, { until: number; lawful: boolean }>([
      [main, { until: Number.POSITIVE_INFINITY, lawful: true }],
    ])
    let at = main
    let until = Number.POSITIVE_INFINITY
    let lawful = true
    for (let guard = 0; guard < 1000 && at !== initialEpoch; guard++) {
      const f = this.forks.get(at)
      if (f === undefined) break
      if (f.firstLost < until) {
        until = f.firstLost
        lawful = f.confirmed === 'operator'
      }
      out.set(f.parent, { until, lawful })
      at = f.parent
    }
    return out
  }

  /** For a token comparison: did `later`'s history lose the holding `earlier` ran with? */
  lostBetween(earlier: { epoch: string; holdingIndex: number }, later: string): boolean | 'unrelated' {
    if (earlier.epoch === later) return false
    const path: Fork[] = []
    let at = later
    for (let guard = 0; guard < 1000 && at !== earlier.epoch; guard++) {
      const f = this.forks.get(at)
      if (f === undefined) return 'unrelated'
      path.unshift(f)
      at = f.parent
    }
    if (at !== earlier.epoch || path.some((f) => f.confirmed === false)) return 'unrelated'
    return path.some((f) => earlier.holdingIndex >= f.firstLost)
  }
}

interface PendingWrite {
  op: HistoryOp
  node: string
  index: number
  term: number
  deadline: number
}

interface PendingRead {
  op: HistoryOp
  node: string
  ctx: string
  index: number | null
  deadline: number
}

const encoder = new TextEncoder()
const opTimeoutTicks = 80
/** Ticks the failover liveness phase allows for every group to run on its owner again. */
const serviceTicks = 900

export class SimCluster {
  readonly config: SimConfig
  readonly nodes = new Map<string, SimNode>()
  readonly network: SimNetwork<SimMessage>
  readonly invariants = new Invariants()
  readonly epochs = new Epochs()
  readonly world: FailoverWorld | null
  readonly coverage: Record<string, number> = {}
  readonly history: HistoryOp[] = []
  now = 0
  steps = 0
  faults = 0
  private readonly rng: Prng
  private readonly nodeRngs = new Map<string, Prng>()
  private readonly drift = new Map<string, { rate: number; carry: number }>()
  private readonly restartAt = new Map<string, number>()
  private readonly appliedBy = new Map<string, number>()
  private readonly pendingWrites = new Map<number, PendingWrite>()
  private readonly pendingReads = new Map<string, PendingRead>()
  private readonly clientBusy = new Map<number, boolean>()
  private readonly trace: string[] = []
  private leaderHint: string | null = null
  private nextOpId = 1
  private initial: Configuration
  /** Per op: the epoch it was served in, the log index it wrote or read at, a write's entry digest. */
  private readonly opMeta = new Map<number, { epoch: string; index: number; digest?: number }>()
  /** Nodes to start with --prevent-quorum next time (the other side of a confirmed force). */
  private readonly preventNext = new Set<string>()
  /** The newest confirmed epoch (the history the cluster is to continue). */
  private mainEpoch = initialEpoch
  private forceSeq = 0
  private readonly excused = { writes: 0, reads: 0 }
  private serviceTicksTaken: number | null = null
  violation: string | null = null
  private readonly stability: LeaderStability
  /** The fault phase is under way (crashes that need no scheduling may happen). */
  private faulting = false

  constructor(config: SimConfig) {
    this.config = config
    this.stability = new LeaderStability(config.electionTicks)
    this.rng = new Prng(config.seed)
    this.network = new SimNetwork<SimMessage>(this.rng.fork(), { ...calmLinks })
    const base: WeightTable = {}
    const ids: string[] = []
    for (let i = 1; i <= config.voters; i++) ids.push(`n${i}`)
    for (const id of ids) base[id] = 1
    if (config.unequalWeights && ids.length > 1) base[this.rng.pick(ids)] = 2
    if (config.witness) base.w = 1
    this.initial = initialConfiguration(base, config.witness ? 'w' : null)
    const all = [
      ...ids,
      ...(config.witness ? ['w'] : []),
      ...Array.from({ length: config.spares }, (_, i) => `s${i + 1}`),
    ]
    const siteOf = (i: number, id: string) => (id === 'w' ? 'dc3' : `dc${(i % 2) + 1}`)
    this.world =
      config.failover === null
        ? null
        : new FailoverWorld(
            {
              rng: this.rng.fork(),
              now: () => this.now,
              nodes: () => this.nodes,
              send: (m) => this.network.send(m, this.now),
              note: (line) => this.note(line),
              epochOf: (node) => this.invariants.epochOf(node),
              lostBetween: (earlier, later) => this.epochs.lostBetween(earlier, later),
            },
            {
              ...config.failover,
              unsafe: {
                ...config.failover.unsafe,
                lease: {
                  ...(config.unsafe.countFromGrantArrival ? { countFromGrantArrival: true } : {}),
                  ...(config.unsafe.ignoreMustApply ? { ignoreMustApply: true } : {}),
                },
                ...(config.unsafe.shortDownAfter ? { shortDownAfter: true } : {}),
              },
            },
            failoverTiming(config.electionTicks, config.heartbeatTicks, config.failover.tickMs),
            all.map((id, i) => ({ id, site: siteOf(i, id), kind: id === 'w' ? 'witness' : 'node' })),
            ids,
          )
    const database =
      config.failover === null
        ? null
        : { unsafe: config.unsafe.skipHoldingCheck === true ? { skipHoldingCheck: true } : {} }
    const earlyCrashes = new Prng(config.seed ^ 0x5eed)
    for (const [i, id] of all.entries()) {
      const kind = id === 'w' ? 'witness' : 'node'
      const rng = this.rng.fork()
      this.nodeRngs.set(id, rng)
      this.drift.set(id, { rate: config.faultTicks > 0 ? 0.9 + 0.2 * this.rng.next() : 1, carry: 0 })
      const node = new SimNode({
        id,
        kind,
        site: siteOf(i, id),
        database,
        // The previous release reads functional level 1 only: the cluster must never commit above it.
        ...(id === config.olderPeer ? { supportedLevel: functionalLevelDefault } : {}),
        options: () => this.options(id),
        initialConfig: this.initial,
        hooks: this.hooks(),
        sendBeforePersist: config.unsafe.sendBeforePersist === true,
        witnessSkipsUpToDateCheck: config.unsafe.skipWitnessUpToDateCheck === true,
        crashBeforeSync: () => {
          if (!this.rng.chance(0.3)) return false
          this.note(`CRASH ${id} between reply and fsync`)
          this.restartAt.set(id, this.now + this.rng.int(5, 60))
          return true
        },
        // Lawful: a leader's appends leave before its own fdatasync (Ready.sendableBeforePersist),
        // so a crash can fall between them. Its own stream of chances, so that runs without such
        // a crash go exactly as before.
        crashAfterEarlySend: () => {
          if (!this.faulting || !earlyCrashes.chance(0.002 * this.config.faultRate)) return false
          this.count('crashesAfterEarlySend')
          this.note(`${id} crashes after sending appends, before its own fsync`)
          this.crash(id)
          this.restartAt.set(id, this.now + earlyCrashes.int(5, 60))
          return true
        },
      })
      this.nodes.set(id, node)
      node.start()
      this.appliedBy.set(id, 0)
    }
  }

  // ---- driving ------------------------------------------------------------------------------

  /** Runs the seeded random run: faults, then healing and the liveness check. */
  run(): SimResult {
    let recoveryTicks: number | null = null
    try {
      this.faulting = this.config.faultTicks > 0
      for (let t = 0; t < this.config.faultTicks; t++) {
        this.injectFaults()
        this.clientActions(0.3)
        this.tick()
      }
      this.faulting = false
      recoveryTicks = this.heal()
      this.settleClients()
      this.finalChecks()
    } catch (error) {
      // A broken invariant inside a core is as much a finding as a failed check.
      this.violation =
        error instanceof Violation ? error.message : `crash: ${(error as Error).stack ?? String(error)}`
    }
    return this.result(recoveryTicks)
  }

  /** One tick: deliver what is due, tick every live node (with drift), expire client calls. */
  tick(): void {
    this.now++
    const world = this.world
    world?.beforeStep()
    for (const m of this.network.due(this.now, world === null ? undefined : (to) => world.isPaused(to))) {
      const node = this.nodes.get(m.to)
      if (node === undefined || !node.alive) continue
      this.steps++
      if (isFailoverMessage(m)) {
        world?.deliver(node, m)
        this.afterNode(node)
        continue
      }
      world?.heard(m.to, m.from)
      this.note(`${m.from}->${m.to} ${m.type} t${m.term}${describe(m)}`)
      node.step(m)
      this.acceptedFromLeader(node, m)
      this.afterNode(node)
    }
    for (const node of this.nodes.values()) {
      if (world !== null) {
        // The host's own clock (drift within the configured bound) decides when it ticks.
        const due = node.alive ? world.ticksDue(node.id) : 0
        for (let i = 0; i < due && node.alive; i++) {
          this.steps++
          if (node.kind === 'witness') node.tick()
          else world.tick(node)
          this.afterNode(node)
        }
        continue
      }
      const d = this.drift.get(node.id)!
      d.carry += d.rate
      while (d.carry >= 1) {
        d.carry -= 1
        if (!node.alive) continue
        this.steps++
        node.tick()
        this.afterNode(node)
      }
    }
    for (const [id, at] of this.restartAt) {
      if (at <= this.now) {
        this.restartAt.delete(id)
        this.restart(
          id,
          this.config.faultTicks > 0 && this.rng.chance(0.03 * this.config.faultRate) && this.mayLose(id),
        )
      }
    }
    this.expireClients()
  }

  runTicks(n: number): void {
    for (let i = 0; i < n; i++) this.tick()
  }

  /** Ticks until `done` holds; false when the budget runs out first. */
  runUntil(done: () => boolean, budgetTicks: number): boolean {
    for (let i = 0; i < budgetTicks; i++) {
      if (done()) return true
      this.tick()
    }
    return done()
  }

  /** Notes a message `node` accepted from its leader (leaderStability.ts). */
  private acceptedFromLeader(node: SimNode, m: Message): void {
    if (m.type !== 'append' && m.type !== 'heartbeat' && m.type !== 'snapshot') return
    if (!(node.core instanceof RaftCore) || !node.alive) return
    const st = node.core.status()
    if (st.role === 'follower' && st.leader === m.from && st.term === m.term)
      this.stability.accepted(node.id, m.from, m.term, this.now)
  }

  // ---- faults -------------------------------------------------------------------------------

  crash(id: string): void {
    const node = this.nodes.get(id)!
    if (!node.alive) return
    this.faults++
    this.count('crashes')
    this.note(`CRASH ${id}`)
    node.crash()
    this.stability.forget(id)
    this.world?.crashed(id)
    this.network.dropTo(id)
    this.clientCallsLost(id)
  }

  /** The host loses power: the node, its monitor and its resources die at once. */
  powerOff(id: string): void {
    const node = this.nodes.get(id)!
    if (!node.alive) return
    this.count('powerOffs')
    this.note(`POWER OFF ${id}`)
    this.world?.powerOff(id)
    node.crash()
    this.stability.forget(id)
    this.network.dropTo(id)
    this.clientCallsLost(id)
  }

  private count(kind: string, n = 1): void {
    this.coverage[kind] = (this.coverage[kind] ?? 0) + n
  }

  restart(id: string, corrupt = false): void {
    const node = this.nodes.get(id)!
    if (node.alive || node.corrupted) return
    if (corrupt) {
      // Its checksums fail: the node refuses to start and stays out (no silent changed data).
      node.corrupted = true
      this.note(`CORRUPT ${id}: refuses to start`)
      return
    }
    this.note(`RESTART ${id}${this.preventNext.has(id) ? ' --prevent-quorum' : ''}`)
    this.count('restarts')
    this.world?.restarted(id)
    node.start()
    this.preventNext.delete(id)
    // Its history is what its disk holds: a node wiped to follow another epoch that had not yet
    // received that epoch's configuration comes back in the initial one.
    if (node.core instanceof RaftCore) {
      const key = epochKey(node.core.epochIdentity())
      if (key !== this.invariants.epochOf(id)) {
        this.note(
          `${id} restarts in epoch ${key} (its disk holds no configuration of ${this.invariants.epochOf(id)})`,
        )
        this.invariants.movedTo(id, key)
      }
    }
    this.appliedBy.set(id, node.appliedIndex)
    node.drain()
    this.afterNode(node)
  }

  /**
   * Whether `id` may be lost for good (its storage found corrupt) and the cluster still keep a
   * majority of configured votes on nodes that can start, in the first and the current
   * configuration alike.
   */
  private mayLose(id: string): boolean {
    // With a witness, dynamic quorum or membership changes, the lost node may be the only holder
    // of what W names, or one of the few votes left after shrinking or moving weight: losing it
    // for good may then rightly stop the cluster, which the liveness phase could not tell from a
    // bug. Those runs lose no storage.
    if (id === 'w' || this.config.witness || this.config.dynamicQuorum || this.config.membershipChanges)
      return false
    // One lost node per run: a replaced disk is an operator's event, not a weather pattern.
    if ([...this.nodes.values()].some((n) => n.corrupted)) return false
    // After a confirmed force, the history the cluster is to continue may live on few nodes (the
    // forced one alone, until others have joined and rebuilt): losing one of them for good loses
    // the cluster, which takes another forced quorum, not patience.
    if (this.mainEpoch !== initialEpoch) {
      const holders = [...this.nodes.values()].filter(
        (n) =>
          n.kind === 'node' &&
          n.id !== id &&
          !n.corrupted &&
          this.invariants.epochOf(n.id) === this.mainEpoch &&
          n.disk.hardState.rebuilding === undefined,
      )
      if (holders.length * 2 <= [...this.nodes.values()].filter((n) => n.kind === 'node').length) return false
    }
    const configs = [this.initial]
    const leader = this.leader()?.core
    if (leader instanceof RaftCore) configs.push(leader.config())
    return configs.every((c) => {
      const total = Object.values(c.base).reduce((a, b) => a + b, 0)
      const healthy = Object.entries(c.base).reduce(
        (sum, [n, w]) => sum + (n === id || this.nodes.get(n)?.corrupted ? 0 : w),
        0,
      )
      return healthy * 2 > total + 1
    })
  }

  partition(groups: string[][]): void {
    this.faults++
    this.count('partitions')
    this.network.partition(groups)
    this.note(`PARTITION ${groups.map((g) => g.join(',')).join(' | ')}`)
  }

  cutOneWay(from: string, to: string): void {
    this.faults++
    this.count('oneWayCuts')
    this.network.cutOneWay(from, to)
    this.note(`CUT ${from}->${to}`)
  }

  healNetwork(): void {
    this.network.heal()
    this.note('HEAL')
  }

  setLinks(profile: LinkProfile): void {
    this.network.profile = profile
  }

  private injectFaults(): void {
    const r = this.rng
    const k = this.config.faultRate
    const ids = [...this.nodes.keys()]
    if (r.chance(0.004 * k)) {
      const alive = ids.filter((id) => this.nodes.get(id)!.alive)
      if (alive.length > 0) {
        const id = r.pick(alive)
        this.crash(id)
        this.restartAt.set(id, this.now + r.int(10, Math.max(20, Math.round(150 / k))))
      }
    }
    if (this.config.huntLeaders) this.huntLeader(k)
    if (r.chance(0.006 * k)) this.randomPartition()
    if (r.chance(0.003 * k)) this.healNetwork()
    if (r.chance(0.003 * k)) {
      const links: LinkProfile = {
        delayTicksMin: 1,
        delayTicksMax: r.int(1, 6),
        lossRate: r.chance(0.5) ? 0 : r.next() * 0.2,
        duplicateRate: r.chance(0.5) ? 0 : r.next() * 0.05,
      }
      if (this.world !== null && r.chance(0.5)) {
        // The WAN emulator's slow links: some messages take longer than an election timeout.
        links.lateRate = r.next() * 0.15
        links.lateTicksMin = this.config.electionTicks
        links.lateTicksMax = this.config.electionTicks * r.int(2, 5)
      }
      if (links.lossRate > 0) this.count('lossyLinks')
      if (links.duplicateRate > 0) this.count('duplicatingLinks')
      if ((links.lateRate ?? 0) > 0) this.count('lateLinks')
      this.setLinks(links)
    }
    if (this.config.membershipChanges && r.chance(0.003 * k)) this.randomConfigChange()
    if (r.chance(0.002 * k)) {
      const leader = this.leader()
      const core = leader?.core
      if (core instanceof RaftCore) {
        const voters = Object.entries(core.config().incoming).filter(
          ([id, w]) => w > 0 && id !== leader!.id && id !== 'w',
        )
        if (voters.length > 0) {
          const to = r.pick(voters)[0]
          this.note(`TRANSFER ${leader!.id} -> ${to}`)
          this.count('transfers')
          core.transferLeadership(to)
          leader!.drain()
        }
      }
    }
    if (this.world !== null) this.failoverFaults(k)
  }

  /** The failover model's faults: pauses, stalled links, resource failures, the operator, forced quorum. */
  private failoverFaults(k: number): void {
    const r = this.rng
    const world = this.world!
    const ids = [...this.nodes.keys()]
    if (r.chance(0.004 * k)) {
      // SIGSTOP: the node (and, half the time, its monitor) stops; its resources run on.
      const alive = ids.filter((id) => this.nodes.get(id)!.alive && !world.isPaused(id))
      if (alive.length > 0) {
        const id = r.pick(alive)
        const ticks = r.int(3, 60)
        const withMonitor = r.chance(0.5)
        world.pause(id, this.now + ticks, withMonitor)
        this.faults++
        this.count(withMonitor ? 'pausesWithMonitor' : 'pauses')
        this.note(`PAUSE ${id} for ${ticks} ticks${withMonitor ? ' (node and monitor)' : ''}`)
      }
    }
    if (r.chance(0.003 * k)) {
      // A stalled link: everything sent on it is held, then delivered in one burst.
      const a = r.pick(ids)
      const until = this.now + r.int(this.config.electionTicks, this.config.electionTicks * 4)
      const outgoing = r.chance(0.5)
      for (const b of ids) {
        if (b === a || (!r.chance(0.6) && b !== ids[0])) continue
        if (outgoing) this.network.stall(a, b, until)
        else this.network.stall(b, a, until)
      }
      this.faults++
      this.count('stalls')
      this.note(`STALL ${outgoing ? 'from' : 'to'} ${a} until ${until}`)
    }
    if (r.chance(0.004 * k)) {
      world.failResource()
      this.count('resourceFailures')
    }
    const leader = this.leader()
    if (leader !== undefined && leader.kind === 'node' && r.chance(0.01 * k)) {
      world.operator(leader, false)
      this.count('operatorCommands')
    }
    // The operator sometimes races the planner for released groups (for a while).
    if (r.chance(0.005 * k)) world.operatorRacing = !world.operatorRacing
    if (r.chance(0.00015 * k)) this.randomForce()
    this.confirmPending(false)
  }

  // ---- forced quorum ------------------------------------------------------------------------

  /**
   * The operator forces quorum on a node of the history the cluster continues. Confirmed at once
   * (the other side is down: the operator powered it off first) or not (it serves reads, takes
   * no writes; it may be confirmed later, or yield).
   */
  private randomForce(): void {
    const r = this.rng
    const candidates = [...this.nodes.values()].filter(
      (n) =>
        n.alive &&
        n.kind === 'node' &&
        !this.world!.isPaused(n.id) &&
        this.invariants.epochOf(n.id) === this.mainEpoch &&
        n.core instanceof RaftCore &&
        n.core.config().outgoing === null &&
        // A voter of its configuration (the runtime refuses to force any other).
        (n.core.config().base[n.id] ?? 0) > 0,
    )
    if (candidates.length === 0) return
    const id = r.pick(candidates).id
    const confirmed = r.chance(0.4)
    if (confirmed) {
      this.forceQuorum(id, true)
      return
    }
    // Not confirmed: forced while the rest may well be working (it must give way to them and
    // cost nothing), or cut off from them. Some operators confirm later (the rest is powered off
    // then); the others leave it to give way.
    const isolated = r.chance(0.5)
    if (isolated) this.network.isolate(id)
    const key = this.forceQuorum(id, false)
    if (isolated || r.chance(0.5)) {
      this.pendingConfirms.set(key, { node: id, confirmAt: this.now + r.int(20, 150), isolated })
      this.note(`${isolated ? `ISOLATED ${id}; ` : ''}the operator confirms ${key} later`)
    }
    // Two sites cut apart, an operator at each forcing quorum: two epochs of the same number.
    const others = candidates.filter((n) => n.id !== id)
    if (isolated && others.length > 0 && r.chance(0.3)) {
      const second = r.pick(others).id
      this.network.isolate(second)
      const other = this.forceQuorum(second, false)
      this.pendingConfirms.set(other, { node: second, confirmAt: this.now + r.int(20, 150), isolated: true })
      this.count('forcedTwice')
      this.note(`ISOLATED ${second} until the operator confirms ${other} (a second operator)`)
    }
  }

  /** Forced epochs an operator confirms later, some on nodes cut off until then. */
  private readonly pendingConfirms = new Map<string, { node: string; confirmAt: number; isolated: boolean }>()

  /** Confirms the forced epochs that are due (all of them when `all`). */
  private confirmPending(all: boolean): void {
    for (const [key, f] of this.pendingConfirms) {
      if (!all && f.confirmAt > this.now) continue
      const node = this.nodes.get(f.node)!
      const core = node.core
      if (this.invariants.epochOf(f.node) !== key) {
        // It gave way (it met a working cluster of the old epoch): nothing to confirm.
        this.pendingConfirms.delete(key)
        if (f.isolated) this.network.rejoin(f.node)
        continue
      }
      if (!(core instanceof RaftCore) || core.status().role !== 'leader' || this.world?.isPaused(f.node)) {
        f.confirmAt = this.now + 5
        continue
      }
      const r = core.confirmForced()
      if (!r.ok) {
        f.confirmAt = this.now + 5
        continue
      }
      this.powerOffOtherSide((other) => this.invariants.epochOf(other) !== key)
      this.count('confirmedLater')
      this.faults++
      this.note(`CONFIRM forced epoch ${key} on ${f.node} (the rest is powered off)`)
      this.confirmed(key)
      node.drain()
      this.afterNode(node)
    }
  }

  forceQuorum(id: string, confirmed: boolean): string {
    const node = this.nodes.get(id)!
    const core = node.core as RaftCore
    const parent = this.invariants.epochOf(id)
    if (confirmed) this.powerOffOtherSide((other) => other !== id)
    const log = new Map<number, { term: number; digest: number }>()
    for (const e of node.disk.entries)
      if (e.index > node.appliedIndex) log.set(e.index, { term: e.term, digest: entryDigest(e) })
    const applied = node.appliedIndex
    const last = core.status().lastIndex
    core.forceQuorum({ nonce: `f${++this.forceSeq}`, confirmed })
    const key = epochKey(core.epochIdentity())
    this.epochs.add({
      key,
      parent,
      node: id,
      applied,
      last,
      log,
      confirmed: false,
      firstLost: Number.POSITIVE_INFINITY,
    })
    this.invariants.forked(id, key, applied)
    this.faults++
    this.count(confirmed ? 'forcedConfirmed' : 'forcedUnconfirmed')
    this.note(
      `FORCE QUORUM on ${id}: epoch ${key} from ${parent}${confirmed ? ', confirmed' : ', not confirmed'}`,
    )
    if (confirmed) this.confirmed(key)
    node.drain()
    this.afterNode(node)
    return key
  }

  /** The operator confirms an unconfirmed forced epoch on its leader (powering the other side off). */
  private confirmLater(): void {
    const maxConfirmed = Math.max(
      0,
      ...[...this.epochs.forks.values()]
        .filter((f) => f.confirmed !== false)
        .map((f) => Number(f.key.split('/')[0])),
    )
    for (const node of this.nodes.values()) {
      const core = node.core
      if (!(core instanceof RaftCore) || this.world?.isPaused(node.id) === true) continue
      const c = core.config()
      if (core.status().role !== 'leader' || c.unconfirmed !== true || c.epoch <= maxConfirmed) continue
      const key = epochKey(c)
      if (this.invariants.epochOf(node.id) !== key) continue
      const r = core.confirmForced()
      if (!r.ok) continue
      this.powerOffOtherSide((other) => this.invariants.epochOf(other) !== key)
      this.count('confirmedLater')
      this.faults++
      this.note(`CONFIRM forced epoch ${key} on ${node.id}`)
      this.confirmed(key)
      node.drain()
      this.afterNode(node)
      return
    }
  }

  private confirmed(key: string): void {
    const f = this.epochs.forks.get(key)!
    this.epochs.confirm(key, this.invariants.committedIn(f.parent))
    this.mainEpoch = key
    // Nothing waits for confirmation any more: this epoch's node, if it was cut off, comes back;
    // any other forced node was on the other side: powered off, it comes back to join this epoch.
    for (const [otherKey, o] of this.pendingConfirms) {
      this.pendingConfirms.delete(otherKey)
      if (o.isolated) this.network.rejoin(o.node)
    }
  }

  /** The truthful operator's "the other side is down": every such node loses power and later
   * comes back with --prevent-quorum. */
  private powerOffOtherSide(otherSide: (id: string) => boolean): void {
    for (const n of this.nodes.values()) {
      if (n.kind === 'witness' || !otherSide(n.id)) continue
      this.preventNext.add(n.id)
      if (!n.alive) {
        // Down already, but what it ran may still be running until its keeper fires: the power
        // goes off on the whole host.
        this.world?.powerOff(n.id)
        continue
      }
      this.powerOff(n.id)
      this.restartAt.set(n.id, this.now + this.rng.int(20, 200))
    }
  }

  /**
   * Leader-aimed faults, the shapes behind Raft's figure 8: a leader whose appends reach only a
   * minority, then crashes; a later leader doing the same; the first coming back.
   */
  private huntLeader(k: number): void {
    const r = this.rng
    const leader = this.leader()
    if (leader === undefined) return
    // One draw picks at most one of the three (each about 1% a tick, times the fault rate).
    const roll = r.next() / (0.01 * k)
    if (roll < 1) {
      this.count('leaderHunts')
      this.crash(leader.id)
      this.restartAt.set(leader.id, this.now + r.int(5, 40))
    } else if (roll < 2 && this.nodes.has('w')) {
      // The leader keeps the witness but loses the other nodes: W runs ahead of them.
      this.partition([
        [leader.id, 'w'],
        [...this.nodes.keys()].filter((id) => id !== leader.id && id !== 'w'),
      ])
    } else if (roll < 3) {
      this.network.heal()
      const others = [...this.nodes.keys()].filter((id) => id !== leader.id)
      for (const id of others) if (r.chance(0.6)) this.network.cutOneWay(leader.id, id)
      this.faults++
      this.count('leaderHunts')
      this.note(`LEADER ${leader.id} reaches only part of the cluster`)
    }
  }

  private randomPartition(): void {
    const r = this.rng
    const ids = [...this.nodes.keys()]
    const shape = r.int(0, 4)
    if (shape === 0) {
      // Random halves.
      const shuffled = r.shuffle([...ids])
      const cut = r.int(1, shuffled.length - 1)
      this.partition([shuffled.slice(0, cut), shuffled.slice(cut)])
    } else if (shape === 1) {
      // One node alone.
      const id = r.pick(ids)
      this.partition([[id], ids.filter((x) => x !== id)])
    } else if (shape === 2) {
      // Whole sites apart (dc1 | dc2 | dc3, with the witness at dc3).
      const sites = new Map<string, string[]>()
      for (const n of this.nodes.values()) sites.set(n.site, [...(sites.get(n.site) ?? []), n.id])
      const groups = [...sites.values()]
      if (groups.length >= 2 && r.chance(0.5)) {
        // The witness's site stays with one of the others.
        const [a, b, c] = groups
        this.partition(c === undefined ? [a!, b!] : r.chance(0.5) ? [[...a!, ...c], b!] : [a!, [...b!, ...c]])
      } else this.partition(groups)
    } else if (shape === 3) {
      // A bridge: two sides that both reach one node in the middle.
      const shuffled = r.shuffle([...ids])
      const middle = shuffled.pop()!
      const cut = Math.max(1, Math.floor(shuffled.length / 2))
      const left = shuffled.slice(0, cut)
      const right = shuffled.slice(cut)
      this.network.heal()
      for (const a of left)
        for (const b of right) {
          this.network.cutOneWay(a, b)
          this.network.cutOneWay(b, a)
        }
      this.faults++
      this.count('bridges')
      this.note(`BRIDGE ${left.join(',')} | ${middle} | ${right.join(',')}`)
    } else {
      // One-way: a node can send but not hear (or the reverse).
      const a = r.pick(ids)
      for (const b of ids)
        if (b !== a) r.chance(0.5) ? this.network.cutOneWay(a, b) : this.network.cutOneWay(b, a)
      this.faults++
      this.count('oneWayCuts')
      this.note(`ONE-WAY around ${a}`)
    }
  }

  private randomConfigChange(): void {
    const leader = this.leader()
    const core = leader?.core
    if (!(core instanceof RaftCore)) return
    const current = core.config()
    const base = { ...current.base }
    const nodes = [...this.nodes.keys()].filter((id) => id !== 'w')
    const r = this.rng
    const kind = r.int(0, 2)
    if (kind === 0) {
      const id = r.pick(nodes.filter((n) => n in base))
      base[id] = r.int(0, 2)
    } else if (kind === 1) {
      const outsiders = nodes.filter((n) => !(n in base) && !this.nodes.get(n)!.corrupted)
      if (outsiders.length === 0) return
      base[r.pick(outsiders)] = 1
    } else {
      // The failover model's database lists the nodes: they leave only by eviction, not here.
      const members = nodes.filter((n) => n in base)
      if (members.length <= 1 || this.world !== null) return
      delete base[r.pick(members)]
    }
    // Keep a majority of the configured weight on nodes that can still start.
    const healthy = Object.entries(base).reduce(
      (s, [id, w]) => s + (this.nodes.get(id)!.corrupted ? 0 : w),
      0,
    )
    const total = Object.values(base).reduce((a, b) => a + b, 0)
    const nodeVotes = Object.entries(base).reduce((s, [id, w]) => s + (id === 'w' ? 0 : w), 0)
    if (nodeVotes === 0 || healthy * 2 <= total) return
    const incoming = { ...base }
    const result = core.changeConfiguration({ incoming, base, witness: current.witness })
    this.note(
      `CONFIG via ${leader!.id}: ${JSON.stringify(base)} -> ${result.ok ? 'proposed' : result.reason}`,
    )
    if (result.ok) {
      this.faults++
      this.count('configChanges')
    }
    leader!.drain()
  }

  /** Ends the fault phase: heal, restart, calm links; then a leader must commit everywhere. */
  heal(): number | null {
    this.network.heal()
    this.setLinks({ ...calmLinks })
    this.restartAt.clear()
    this.world?.wakeAll()
    for (const node of this.nodes.values()) if (!node.alive && !node.corrupted) this.restart(node.id)
    this.note('LIVENESS PHASE')
    if (this.pendingConfirms.size > 0) {
      // An isolated forced node is confirmed before anything heals.
      const pending = () => {
        this.confirmPending(true)
        return this.pendingConfirms.size === 0
      }
      this.runUntil(pending, this.config.livenessTicks)
      this.restartAt.clear()
      for (const node of this.nodes.values()) if (!node.alive && !node.corrupted) this.restart(node.id)
    }
    const start = this.now
    let probe: HistoryOp | null = null
    const done = (): boolean => {
      const leader = this.leader()
      const core = leader?.core
      // A forced epoch left unconfirmed takes no writes: the operator confirms it once it is
      // plainly all that is left (after a while without a leader of a confirmed epoch).
      if (
        this.world !== null &&
        core instanceof RaftCore &&
        core.config().unconfirmed === true &&
        this.now - start > 4 * this.config.electionTicks
      )
        this.confirmLater()
      if (!(core instanceof RaftCore) || !core.committedInTerm()) return false
      if (
        probe === null ||
        probe.failed === true ||
        (probe.returnedAt === undefined && !this.pendingWrites.has(probe.id))
      ) {
        probe = this.write('liveness', `probe-${this.now}`, leader!.id)
        return false
      }
      if (probe.returnedAt === undefined) return false
      // Every live member of the leader's configuration has applied the probe.
      const members = membersOf(core.config())
      const index = [...this.pendingWritesDone].find((w) => w.op === probe)?.index ?? 0
      return [...members].every((id) => {
        const n = this.nodes.get(id)
        return n === undefined || !n.alive || n.kind === 'witness' || n.appliedIndex >= index
      })
    }
    if (!this.runUntil(done, this.config.livenessTicks)) {
      const roles = [...this.nodes.values()].map((n) => `${n.id}:${describeNode(n)}`).join(' ')
      const message = `liveness: no commit on every live member within ${this.config.livenessTicks} ticks after healing (${roles})`
      throw new Violation(message)
    }
    const recovered = this.now - start
    if (this.world !== null) this.serviceTicksTaken = this.restoreService()
    return recovered
  }

  /**
   * Failover liveness: once healed, the operator resumes every node and starts every group and
   * resource again; each group must then run on its owner, and nowhere else, within a budget.
   */
  private restoreService(): number {
    const world = this.world!
    const start = this.now
    let restoredAt = Number.NEGATIVE_INFINITY
    let restoredBy = ''
    const done = (): boolean => {
      const leader = this.leader()
      const core = leader?.core
      if (!(core instanceof RaftCore) || !core.committedInTerm()) return false
      const by = `${leader!.id}/${core.status().term}`
      if (by !== restoredBy || this.now - restoredAt >= 100) {
        restoredBy = by
        restoredAt = this.now
        world.restoreService(leader!)
        return false
      }
      return leader!.db.appliedIndex >= core.status().commit && world.serving(leader!)
    }
    if (!this.runUntil(done, serviceTicks)) {
      const leader = this.leader()
      const groups =
        leader === undefined
          ? 'no leader'
          : leader.db
              .groups()
              .map(
                (g) =>
                  `${g.name}:${g.target}/${g.owner ?? '-'}#${g.fencingToken}${g.moving === null ? '' : ' moving'}${g.failed === null ? '' : ' failed'}`,
              )
              .join(' ')
      throw new Violation(
        `failover liveness: not every group runs on its owner within ${serviceTicks} ticks after healing (${groups}; runs: ${world.describe()})`,
      )
    }
    return this.now - start
  }

  // ---- clients ------------------------------------------------------------------------------

  private readonly pendingWritesDone: { op: HistoryOp; index: number }[] = []

  /**
   * Records a call in the history and finds the node to send it to (`via`, else the leader hint
   * or any live node). A call no live node can take fails at once, with no effect.
   */
  private beginCall(
    kind: HistoryOp['op'],
    via: string | undefined,
  ): { op: HistoryOp; node: SimNode; core: RaftCore } | { op: HistoryOp } {
    const op: HistoryOp = { id: this.nextOpId++, client: 0, op: kind, invokedAt: this.now }
    this.history.push(op)
    const node = this.nodes.get(via ?? this.pickTarget() ?? '')
    const core = node?.core
    if (node === undefined || !(core instanceof RaftCore)) {
      op.failed = true
      op.returnedAt = this.now
      return { op }
    }
    return { op, node, core }
  }

  /** A client write through `via` (the leader hint, or any live node). */
  write(key: string, value: string, via?: string): HistoryOp {
    const call = this.beginCall({ kind: 'write', key, value }, via)
    if (!('core' in call)) return call.op
    const { op, node, core } = call
    const data =
      this.world === null
        ? encoder.encode(JSON.stringify({ id: op.id, key, value }))
        : encodeEnvelope({
            v: 1,
            by: `client:${op.id}`,
            at: 0,
            command: { op: 'config.set', key: `kv/${key}`, value },
          })
    const res = core.propose(data)
    if (!res.ok) {
      op.failed = true
      op.returnedAt = this.now
      this.leaderHint = res.leader
      return op
    }
    this.pendingWrites.set(op.id, {
      op,
      node: node.id,
      index: res.ticket.index,
      term: res.ticket.term,
      deadline: this.now + opTimeoutTicks,
    })
    node.drain()
    this.afterNode(node)
    return op
  }

  read(key: string, via?: string): HistoryOp {
    const call = this.beginCall({ kind: 'read', key }, via)
    if (!('core' in call)) return call.op
    const { op, node, core } = call
    const ctx = `read-${op.id}`
    this.pendingReads.set(ctx, { op, node: node.id, ctx, index: null, deadline: this.now + opTimeoutTicks })
    core.readIndex(ctx)
    node.drain()
    this.afterNode(node)
    return op
  }

  private clientActions(rate: number): void {
    for (let c = 0; c < this.config.clients; c++) {
      if (this.clientBusy.get(c) === true || !this.rng.chance(rate)) continue
      const key = this.rng.pick(['a', 'b', 'c'])
      const op = this.rng.chance(0.6) ? this.write(key, `v${this.nextOpId}`) : this.read(key)
      op.client = c
      if (op.returnedAt === undefined) this.clientBusy.set(c, true)
    }
  }

  private pickTarget(): string | undefined {
    const hint = this.leaderHint === null ? undefined : this.nodes.get(this.leaderHint)
    if (hint?.alive && hint.kind === 'node' && this.rng.chance(0.8)) return hint.id
    const alive = [...this.nodes.values()].filter((n) => n.alive && n.kind === 'node').map((n) => n.id)
    return alive.length === 0 ? undefined : this.rng.pick(alive)
  }

  private expireClients(): void {
    for (const [id, w] of this.pendingWrites) {
      if (w.deadline <= this.now) {
        this.pendingWrites.delete(id)
        this.clientBusy.set(w.op.client, false)
      }
    }
    for (const [ctx, r] of this.pendingReads) {
      if (r.deadline <= this.now) {
        this.pendingReads.delete(ctx)
        this.clientBusy.set(r.op.client, false)
      }
    }
  }

  private clientCallsLost(node: string): void {
    for (const [id, w] of this.pendingWrites) {
      if (w.node === node) {
        this.pendingWrites.delete(id)
        this.clientBusy.set(w.op.client, false)
      }
    }
    for (const [ctx, r] of this.pendingReads) {
      if (r.node === node) {
        this.pendingReads.delete(ctx)
        this.clientBusy.set(r.op.client, false)
      }
    }
  }

  private settleClients(): void {
    this.runUntil(() => this.pendingWrites.size === 0 && this.pendingReads.size === 0, opTimeoutTicks + 5)
  }

  // ---- node hooks ---------------------------------------------------------------------------

  private hooks(): NodeHooks {
    return {
      send: (m: Message) => {
        this.network.send(m.from === this.config.olderPeer ? asOlderPeer(m) : m, this.now)
      },
      persisted: (node, entries, hardState) => {
        if (!this.config.checks) return
        if (node.core instanceof RaftCore)
          this.invariants.epochIdentity(node.id, epochKey(node.core.epochIdentity()))
        if (entries.length > 0)
          this.invariants.persisted(node.id, entries, node.disk.snapshot?.meta.index ?? 0)
        if (hardState !== null && node.disk.hardState === hardState)
          this.invariants.hardState(node.id, hardState)
        else if (hardState !== null) this.invariants.hardState(node.id, node.disk.hardState)
        const core = node.core
        if (core instanceof RaftCore && entries.some((e) => e.kind === 'config'))
          this.invariants.config(node.id, core.config())
      },
      applied: (node, entry, outcome) => {
        const before = this.appliedBy.get(node.id) ?? 0
        this.appliedBy.set(node.id, entry.index)
        if (this.config.checks) this.invariants.applied(node.id, entry, before, node.disk.hardState.term)
        this.world?.applied(node, entry.index, entry.term, outcome)
        if (entry.kind !== 'command') return
        const id =
          this.world === null
            ? (JSON.parse(new TextDecoder().decode(entry.data)) as { id: number }).id
            : outcome?.kind === 'applied' && outcome.envelope.by.startsWith('client:')
              ? Number(outcome.envelope.by.slice('client:'.length))
              : -1
        for (const [opId, w] of this.pendingWrites) {
          if (w.node !== node.id || w.index !== entry.index) continue
          this.pendingWrites.delete(opId)
          this.clientBusy.set(w.op.client, false)
          if (w.term === entry.term && id === opId) {
            w.op.returnedAt = this.now
            this.pendingWritesDone.push({ op: w.op, index: entry.index })
            const epoch = this.invariants.epochOf(node.id)
            this.opMeta.set(opId, { epoch, index: entry.index, digest: entryDigest(entry) })
            if (this.config.checks) this.invariants.ackedStays(opId, entry.index, entryDigest(entry), epoch)
          } else {
            // Another entry took that index: this proposal can never commit.
            w.op.failed = true
            w.op.returnedAt = this.now
          }
        }
      },
      readReady: (node, ctx, index) => {
        const r = this.pendingReads.get(ctx)
        if (r !== undefined && r.node === node.id) r.index = index
      },
      becameLeader: (node, term) => {
        this.leaderHint = node.id
        this.note(`LEADER ${node.id} term ${term}`)
        if (!this.config.checks) return
        this.invariants.leaderElected(node.id, term)
        const core = node.core as RaftCore
        const st = core.status()
        if (st.electedAfterSilence) this.stability.elected(node.id, term, core.config(), this.now)
        this.invariants.leaderComplete(node.id, st.lastIndex, (i) => core.termOf(i), st.snapshotIndex, term)
      },
      snapshotInstalled: (node, meta) => {
        this.appliedBy.set(node.id, meta.index)
        const core = node.core
        const named = core instanceof RaftCore ? epochKey(core.epochIdentity()) : null
        // Its epoch is its own, not the snapshot's: a forced epoch's snapshot from before the
        // fork names the parent, and a node rebuilding for the epoch stays in it.
        if (named !== null && named !== this.invariants.epochOf(node.id) && this.config.checks)
          throw new Violation(
            `epoch identity: ${node.id} (epoch ${this.invariants.epochOf(node.id)}) installed a snapshot at ${meta.index} from ${node.core instanceof RaftCore ? node.core.status().leader : '?'} and is now in epoch ${named}`,
          )
        if (this.config.checks) this.invariants.snapshotInstalled(node.id, meta.index)
        this.world?.snapshotInstalled(node)
      },
      resetting: (node) => this.world?.resetting(node),
      reset: (node) => {
        this.appliedBy.set(node.id, 0)
        const core = node.core
        const to =
          core instanceof RaftCore ? epochKey(core.epochIdentity()) : this.invariants.epochOf(node.id)
        this.note(`${node.id} wipes its state to follow epoch ${to}`)
        if (to !== this.invariants.epochOf(node.id)) this.count('epochJoins')
        this.invariants.joined(node.id, to)
      },
    }
  }

  /** Serves reads whose index the node has applied; snapshots nodes whose log has grown. */
  private afterNode(node: SimNode): void {
    for (const [ctx, r] of this.pendingReads) {
      if (r.node !== node.id || r.index === null || node.appliedIndex < r.index) continue
      this.pendingReads.delete(ctx)
      this.clientBusy.set(r.op.client, false)
      if (!node.alive) continue
      const key = r.op.op.key
      r.op.result =
        this.world === null ? (node.kv.get(key) ?? null) : (node.db.configGet(`kv/${key}`)?.value ?? null)
      r.op.returnedAt = this.now
      this.opMeta.set(r.op.id, { epoch: this.invariants.epochOf(node.id), index: node.appliedIndex })
    }
    this.world?.afterNode(node)
    if (node.core instanceof RaftCore && this.epochs.forks.size > 0) {
      const c = node.core.config()
      if (c.epoch > 0 && c.unconfirmed !== true) {
        const key = epochKey(c)
        const f = this.epochs.forks.get(key)
        // Only the operator ends an unconfirmed epoch's wait (confirmForced).
        if (f !== undefined && f.confirmed === false)
          throw new Violation(
            `forced epoch ${key} is confirmed on ${node.id} without the operator (its configuration dropped \`unconfirmed\`)`,
          )
      }
    }
    const core = node.core
    if (!(core instanceof RaftCore)) return
    if (node.appliedIndex - (node.disk.snapshot?.meta.index ?? 0) >= this.config.snapshotEvery)
      node.snapshot()
  }

  // ---- views --------------------------------------------------------------------------------

  /** What each invariant checked so far. */
  checkCounts(): SimResult['counts'] {
    return { ...this.invariants.counts, stableElections: this.stability.checks }
  }

  /** The live leader with the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined
    let bestTerm = -1
    for (const n of this.nodes.values()) {
      const core = n.core
      if (core instanceof RaftCore) {
        const st = core.status()
        if (st.role === 'leader' && st.term > bestTerm) {
          best = n
          bestTerm = st.term
        }
      }
    }
    return best
  }

  core(id: string): RaftCore {
    const c = this.nodes.get(id)?.core
    if (!(c instanceof RaftCore)) throw new Error(`${id} is not a live node`)
    return c
  }

  witness(): WitnessCore | undefined {
    const c = this.nodes.get('w')?.core
    return c instanceof WitnessCore ? c : undefined
  }

  /**
   * Linearizability of the client history, as the winning history saw it: an op of a history a
   * confirmed force overrode, at an index that history lost, is left out (a write as if it had
   * failed: nothing the checked ops saw includes it); so is a read an unconfirmed epoch served.
   * Both are counted. A search that runs out of budget fails the run: unproven is not proven.
   */
  private finalChecks(): void {
    if (!this.config.checks) return
    const path = this.epochs.path(this.mainEpoch)
    const final = this.invariants.committedIn(this.mainEpoch)
    const history = this.history.map((op) => {
      const meta = this.opMeta.get(op.id)
      if (meta === undefined || op.returnedAt === undefined || op.failed === true) return op
      // A write whose entry is in the history the run ended with counts, wherever it was acknowledged.
      if (meta.digest !== undefined && final.get(meta.index)?.digest === meta.digest) return op
      const on = path.get(meta.epoch)
      if (on !== undefined && meta.index < on.until) return op
      // Lost to a forced epoch that ended without the operator's confirmation: not excused.
      if (on !== undefined && !on.lawful) return op
      if (op.op.kind === 'write') this.excused.writes++
      else this.excused.reads++
      return { ...op, failed: true }
    })
    const result = checkLinearizable(
      history,
      this.config.linearizabilityBudget === null ? {} : { stateBudget: this.config.linearizabilityBudget },
    )
    this.linearizability = result
    if (result.budgetExceeded === true)
      throw new Violation(
        `linearizability: the search ran out of its state budget after ${result.explored} states (${result.checkedOps} ops): not proven, so not passed`,
      )
    if (!result.ok) {
      throw new Violation(
        `linearizability: ${result.counterexample?.message ?? 'history is not linearizable'}`,
      )
    }
  }

  linearizability: LinearizabilityResult | null = null

  private result(recoveryTicks: number | null): SimResult {
    const acked = this.history.filter(
      (o) => o.op.kind === 'write' && o.returnedAt !== undefined && o.failed !== true,
    ).length
    const failed = this.history.filter((o) => o.failed === true).length
    return {
      seed: this.config.seed,
      ok: this.violation === null,
      violation: this.violation,
      steps: this.steps,
      ticks: this.now,
      trace: [...this.trace],
      counts: this.checkCounts(),
      ops: {
        total: this.history.length,
        acked,
        failed,
        indeterminate: this.history.filter((o) => o.returnedAt === undefined).length,
        reads: this.history.filter(
          (o) => o.op.kind === 'read' && o.returnedAt !== undefined && o.failed !== true,
        ).length,
      },
      linearizability: this.linearizability,
      faults: this.faults,
      storageLost: [...this.nodes.values()].filter((n) => n.corrupted).length,
      recoveryTicks,
      failover: this.world === null ? null : structuredClone(this.world.counts),
      coverage: { ...this.coverage, ...this.networkCoverage() },
      excused: { ...this.excused },
      serviceTicks: this.serviceTicksTaken,
      maxDriftPpm:
        this.world === null
          ? 0
          : Math.max(...[...this.world.hosts.values()].map((h) => Math.round(Math.abs(h.rate - 1) * 1e6))),
    }
  }

  private networkCoverage(): Record<string, number> {
    return this.network.late > 0 ? { lateMessages: this.network.late } : {}
  }

  note(line: string): void {
    this.trace.push(`[${this.now}] ${line}`)
    if (this.trace.length > this.config.traceLength) this.trace.shift()
  }

  private options(id: string): RaftOptions {
    const rng = this.nodeRngs.get(id)!
    const u = this.config.unsafe
    return {
      ...(this.preventNext.has(id) ? { preventQuorum: true } : {}),
      id,
      electionTicks: this.config.electionTicks,
      heartbeatTicks: this.config.heartbeatTicks,
      random: () => rng.next(),
      maxInflight: 8,
      maxEntriesPerAppend: this.config.maxEntriesPerAppend,
      dynamicQuorum: this.config.dynamicQuorum
        ? {
            downAfterTicks: this.config.electionTicks * 4,
            lowerQuorumPriority: this.config.lowerQuorumPriority,
          }
        : null,
      unsafe: {
        ...(u.allowOldTermCommit ? { allowOldTermCommit: true } : {}),
        ...(u.ignoreWitnessMark ? { ignoreWitnessMark: true } : {}),
        ...(u.voteWhileInLease ? { voteWhileInLease: true } : {}),
        ...(u.ackAtReceive ? { ackAtReceive: true } : {}),
        ...(u.ignoreEpochIdentity ? { ignoreEpochIdentity: true } : {}),
      },
    }
  }
}

/** A message as the previous release writes it: no send tick echoed, no silence reported. */
function asOlderPeer(m: Message): Message {
  if (m.type === 'vote-resp' && m.silenceTicks !== undefined) {
    const { silenceTicks: _, ...rest } = m
    return rest
  }
  if (
    (m.type === 'append-resp' || m.type === 'heartbeat-resp' || m.type === 'witness-resp') &&
    m.sentTick !== undefined
  ) {
    const { sentTick: _, ...rest } = m
    return rest
  }
  return m
}

function describe(m: Message): string {
  switch (m.type) {
    case 'append':
      return ` prev=${m.prev.term}/${m.prev.index} n=${m.entries.length} c=${m.commit}`
    case 'append-resp':
      return ` ${m.success ? 'ok' : 'rej'} i=${m.index}`
    case 'vote':
    case 'pre-vote':
      return ` last=${m.last.term}/${m.last.index}`
    case 'vote-resp':
    case 'pre-vote-resp':
      return m.granted ? ' yes' : ' no'
    case 'witness-append':
    case 'witness-resp':
      return ` W=${m.mark.term}/${m.mark.index}`
    default:
      return ''
  }
}

function describeNode(n: SimNode): string {
  if (n.corrupted) return 'corrupt'
  const c = n.core
  if (c === null) return 'down'
  if (c instanceof WitnessCore) return `witness(t${c.status().term})`
  const s = c.status()
  return `${s.role}(t${s.term},c${s.commit},l${s.lastIndex})`
}

export { entryDigest }
