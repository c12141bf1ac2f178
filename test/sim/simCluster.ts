/**
 * The deterministic simulator (TigerBeetle's VOPR, FoundationDB's simulation): the real
 * consensus cores, a simulated network and clock, crashes that lose unsynced writes, restarts,
 * storage found corrupt, partitions of any shape, clock drift, clients writing and reading a few
 * keys, and membership and weight changes. Safety is checked as events happen; then everything is
 * healed and a leader must commit within a tick budget (liveness). One seed, one run, always the
 * same run.
 */

import { initialConfiguration } from '../../src/consensus/configuration.ts'
import { membersOf } from '../../src/consensus/quorum/jointQuorum.ts'
import { RaftCore, type RaftOptions } from '../../src/consensus/raftCore.ts'
import type { Configuration, Message, WeightTable } from '../../src/consensus/types.ts'
import { WitnessCore } from '../../src/consensus/witnessCore.ts'
import { entryDigest, Invariants, type Invariants as InvariantsType, Violation } from './invariants.ts'
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
  membershipChanges: boolean
  snapshotEvery: number
  clients: number
  unsafe: {
    allowOldTermCommit?: boolean
    ignoreWitnessMark?: boolean
    skipWitnessUpToDateCheck?: boolean
    sendBeforePersist?: boolean
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
  membershipChanges: false,
  snapshotEvery: 40,
  clients: 3,
  unsafe: {},
  faultRate: 1,
  maxEntriesPerAppend: 16,
  huntLeaders: false,
  checks: true,
  traceLength: 40,
}

export interface SimResult {
  seed: number
  ok: boolean
  violation: string | null
  steps: number
  ticks: number
  trace: string[]
  counts: InvariantsType['counts']
  ops: { total: number; acked: number; failed: number; indeterminate: number; reads: number }
  linearizability: LinearizabilityResult | null
  faults: number
  /** Nodes whose storage was found corrupt on restart (they stay out). */
  storageLost: number
  /** Ticks from the liveness phase's start to a commit on every live member. */
  recoveryTicks: number | null
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

export class SimCluster {
  readonly config: SimConfig
  readonly nodes = new Map<string, SimNode>()
  readonly network: SimNetwork
  readonly invariants = new Invariants()
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
  violation: string | null = null

  constructor(config: SimConfig) {
    this.config = config
    this.rng = new Prng(config.seed)
    this.network = new SimNetwork(this.rng.fork(), { ...calmLinks })
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
    for (const [i, id] of all.entries()) {
      const kind = id === 'w' ? 'witness' : 'node'
      const rng = this.rng.fork()
      this.nodeRngs.set(id, rng)
      this.drift.set(id, { rate: config.faultTicks > 0 ? 0.9 + 0.2 * this.rng.next() : 1, carry: 0 })
      const node = new SimNode({
        id,
        kind,
        site: id === 'w' ? 'dc3' : `dc${(i % 2) + 1}`,
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
      for (let t = 0; t < this.config.faultTicks; t++) {
        this.injectFaults()
        this.clientActions(0.3)
        this.tick()
      }
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
    for (const m of this.network.due(this.now)) {
      const node = this.nodes.get(m.to)
      if (node === undefined || !node.alive) continue
      this.steps++
      this.note(`${m.from}->${m.to} ${m.type} t${m.term}${describe(m)}`)
      node.step(m)
      this.afterNode(node)
    }
    for (const node of this.nodes.values()) {
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

  // ---- faults -------------------------------------------------------------------------------

  crash(id: string): void {
    const node = this.nodes.get(id)!
    if (!node.alive) return
    this.faults++
    this.note(`CRASH ${id}`)
    node.crash()
    this.network.dropTo(id)
    this.clientCallsLost(id)
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
    this.note(`RESTART ${id}`)
    node.start()
    this.appliedBy.set(id, node.appliedIndex)
    node.drain()
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
    this.network.partition(groups)
    this.note(`PARTITION ${groups.map((g) => g.join(',')).join(' | ')}`)
  }

  cutOneWay(from: string, to: string): void {
    this.faults++
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
      this.setLinks({
        delayTicksMin: 1,
        delayTicksMax: r.int(1, 6),
        lossRate: r.chance(0.5) ? 0 : r.next() * 0.2,
        duplicateRate: r.chance(0.5) ? 0 : r.next() * 0.05,
      })
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
          core.transferLeadership(to)
          leader!.drain()
        }
      }
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
      this.note(`BRIDGE ${left.join(',')} | ${middle} | ${right.join(',')}`)
    } else {
      // One-way: a node can send but not hear (or the reverse).
      const a = r.pick(ids)
      for (const b of ids)
        if (b !== a) r.chance(0.5) ? this.network.cutOneWay(a, b) : this.network.cutOneWay(b, a)
      this.faults++
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
      const members = nodes.filter((n) => n in base)
      if (members.length <= 1) return
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
    if (result.ok) this.faults++
    leader!.drain()
  }

  /** Ends the fault phase: heal, restart, calm links; then a leader must commit everywhere. */
  heal(): number | null {
    this.network.heal()
    this.setLinks({ ...calmLinks })
    this.restartAt.clear()
    for (const node of this.nodes.values()) if (!node.alive && !node.corrupted) this.restart(node.id)
    this.note('LIVENESS PHASE')
    const start = this.now
    let probe: HistoryOp | null = null
    const done = (): boolean => {
      const leader = this.leader()
      const core = leader?.core
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
      throw new Violation(
        `liveness: no commit on every live member within ${this.config.livenessTicks} ticks after healing (${roles})`,
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
    const res = core.propose(encoder.encode(JSON.stringify({ id: op.id, key, value })))
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
      send: (m: Message) => this.network.send(m, this.now),
      persisted: (node, entries, hardState) => {
        if (!this.config.checks) return
        if (entries.length > 0)
          this.invariants.persisted(node.id, entries, node.disk.snapshot?.meta.index ?? 0)
        if (hardState !== null && node.disk.hardState === hardState)
          this.invariants.hardState(node.id, hardState)
        else if (hardState !== null) this.invariants.hardState(node.id, node.disk.hardState)
        const core = node.core
        if (core instanceof RaftCore && entries.some((e) => e.kind === 'config'))
          this.invariants.config(node.id, core.config())
      },
      applied: (node, entry) => {
        const before = this.appliedBy.get(node.id) ?? 0
        this.appliedBy.set(node.id, entry.index)
        if (this.config.checks) this.invariants.applied(node.id, entry, before)
        if (entry.kind !== 'command') return
        const { id } = JSON.parse(new TextDecoder().decode(entry.data)) as { id: number }
        for (const [opId, w] of this.pendingWrites) {
          if (w.node !== node.id || w.index !== entry.index) continue
          this.pendingWrites.delete(opId)
          this.clientBusy.set(w.op.client, false)
          if (w.term === entry.term && id === opId) {
            w.op.returnedAt = this.now
            this.pendingWritesDone.push({ op: w.op, index: entry.index })
            if (this.config.checks) this.invariants.ackedStays(opId, entry.index, entryDigest(entry))
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
        this.invariants.leaderComplete(node.id, st.lastIndex, (i) => core.termOf(i), st.snapshotIndex)
      },
      snapshotInstalled: (node, meta) => {
        this.appliedBy.set(node.id, meta.index)
        if (this.config.checks) this.invariants.snapshotInstalled(node.id, meta.index)
      },
      reset: (node) => {
        this.appliedBy.set(node.id, 0)
        this.invariants.reset(node.id)
        this.invariants.forgetHardState(node.id)
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
      r.op.result = node.kv.get(key) ?? null
      r.op.returnedAt = this.now
    }
    const core = node.core
    if (
      core instanceof RaftCore &&
      node.appliedIndex - (node.disk.snapshot?.meta.index ?? 0) >= this.config.snapshotEvery
    ) {
      node.snapshot()
    }
  }

  // ---- views --------------------------------------------------------------------------------

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

  private finalChecks(): void {
    if (!this.config.checks) return
    const result = checkLinearizable(this.history)
    this.linearizability = result
    if (!result.ok && result.budgetExceeded !== true) {
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
      counts: { ...this.invariants.counts },
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
    }
  }

  note(line: string): void {
    this.trace.push(`[${this.now}] ${line}`)
    if (this.trace.length > this.config.traceLength) this.trace.shift()
  }

  private options(id: string): RaftOptions {
    const rng = this.nodeRngs.get(id)!
    return {
      id,
      electionTicks: this.config.electionTicks,
      heartbeatTicks: this.config.heartbeatTicks,
      random: () => rng.next(),
      maxInflight: 8,
      maxEntriesPerAppend: this.config.maxEntriesPerAppend,
      dynamicQuorum: this.config.dynamicQuorum ? { downAfterTicks: this.config.electionTicks * 4 } : null,
      unsafe: {
        ...(this.config.unsafe.allowOldTermCommit ? { allowOldTermCommit: true } : {}),
        ...(this.config.unsafe.ignoreWitnessMark ? { ignoreWitnessMark: true } : {}),
      },
    }
  }
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
