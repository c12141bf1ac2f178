/**
 * npm run sim -- --seeds N [--seed S] [--first-seed S] [--kv] [--voters K] [--witness|--no-witness]
 *                [--unsafe NAME]... [--older-peer] [--jobs J]
 *                [--fault-rate K] [--election-ticks T] [--verbose]
 *
 * Runs N seeded simulations (or replays one with --seed) and prints one line,
 *   sim: <seeds> seeds, <steps> steps, <violations> violations
 * then a line per invariant saying what it checked, and the faults injected by kind. Without
 * --voters/--witness each seed picks 3, 5 or 7 voters, with or without a witness, equal or
 * unequal weights, weight changes and dynamic quorum, from the seed itself. A failure prints the
 * seed, the violation and the last events; --seed S replays it exactly (same flags). Seeds run on
 * --jobs worker threads (default: the cores there are); each seed is one thread's, start to end.
 *
 * The failover model (the default; --kv runs the key-value model the simulator had before):
 * every simulated node runs, around the real RaftCore, what src/runtime/clusterNode.ts and
 * src/runtime/resourceHost.ts run around it, on simulated time (failoverModel.ts):
 *
 * | runtime                                      | here                                                  |
 * |----------------------------------------------|-------------------------------------------------------|
 * | the tick timer (consensus tickMs)            | a tick whenever the host's own clock passes tickMs: clocks run at 1 ± 1 % (fixed per host), and a paused node ticks once on waking |
 * | ClusterDatabase fed by applyCommitted        | the same: SimNode applies command entries with applyCommitted (clients write `config.set kv/<key>`), no-ops and configurations as skip; snapshots hold its records |
 * | maybeBootstrap, the operator's first hour    | the first leader bootstraps the database, creates groups g1..g3 (generic-app resources, one with a dependency) and brings them online |
 * | planFailover every tick on the leader        | the same inputs: db groups and resources, nodeViews (up from the failure detector, down once `reassignableAtMs(lastHeard, earlierLeasesAskedBefore(leaderSince), downAfter)` has passed, else suspect), the in-flight set (a group leaves it when the entry it was proposed at is applied, whatever it holds) |
 * | NodeMesh pings and pongs (leaseFor / onLease)| ping every heartbeat to every member, carrying the epoch; each node runs the runtime's own LeaseGrants (and TickHistory) on its host's clock: the leader answers with its leaseFor, the asker takes the grant with grantedBy, the leader renews its own every tick |
 * | ResourceHost.reconcileNow                    | `reconcile` every tick with mayRun = lease valid, mayStart = lease.mayStart(applied); start/stop/release executed; releases and markFailed proposed (forwarded to the leader from followers); restart policy as handleFailure; afterApply's clearing of failures |
 * | the resource monitor                         | a started resource runs from its start; a stop ends it within 2 × stopTimeout (graceful) of the host's clock; when the lease runs out the monitor stops everything within stopTimeout |
 * | the lease keepers                            | every process of a host is dead by lease end + stopTimeout on the host's clock, whatever the node or monitor do |
 * | kill -9, SIGSTOP, power loss                 | crash: node and monitor die, resources run on until their keeper fires (a restart's new monitor reaps them at once); pause: the node (and sometimes its monitor) stops, messages to it wait in its buffers, resources run on; power off: everything on the host dies at once |
 * | the WAN emulator                             | links late by more than an election timeout, links stalled and released in a burst, loss, duplicates, partitions, one-way cuts, bridges |
 * | --force-quorum, confirm-forced, --prevent-quorum | the operator forces a node confirmed (the rest powered off first) or unconfirmed (while the rest may be working, or cut off; some operators confirm later, powering the rest off then; two operators may force both sides of a split); those powered off come back with --prevent-quorum |
 *
 * Timing is derived as src/topology/clusterTiming.ts derives it, from 10-tick elections and
 * 2-tick heartbeats of 100 ms: fenceAfter 2000 ms, stopTimeout 250, margin 250, downAfter 2700,
 * grant window 600. The inequality holds with room for clock rates: lease plus stop on a clock
 * 1 % slow is 2273 ms of real time, downAfter on a clock 1 % fast is 2673 ms; rates up to about
 * ±9 % would still be covered, so the ±1 % drawn here are well inside what the margin allows.
 *
 * Checks at every step (invariants.ts, failoverModel.ts): one leader per term (per epoch), log
 * matching, state machine safety, leader completeness, hard states, configurations, acknowledged
 * writes, epoch identity; at every run start no other run of the group is alive (in real time,
 * including runs still stopping or waiting for their keeper) and tokens never go back, and every
 * node's database shows tokens only growing; at the end linearizability (a search out of budget
 * fails the run), and liveness: a commit on every member, then every group running on its owner.
 */
import { availableParallelism } from 'node:os'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { failoverDefaults } from './failoverModel.ts'
import { Prng } from './prng.ts'
import { SimCluster, type SimConfig, type SimResult, simDefaults } from './simCluster.ts'

export interface SimArgs {
  seeds: number
  firstSeed: number
  voters: number | null
  witness: boolean | null
  verbose: boolean
  unsafe: SimConfig['unsafe']
  faultTicks: number | null
  /** Election timeout in ticks (heartbeats stay 2 ticks): the grant window is 3 heartbeats. */
  electionTicks?: number | null
  faultRate: number
  maxEntriesPerAppend: number
  huntLeaders: boolean | null
  /** Run the failover model (the default of `npm run sim`; --kv runs the key-value model alone). */
  failover?: boolean
  /** One node speaks the previous release's wire format (drawn per seed). */
  olderPeer?: boolean | null
  jobs?: number
}

export type SeedArgs = Pick<
  SimArgs,
  | 'voters'
  | 'witness'
  | 'unsafe'
  | 'faultTicks'
  | 'electionTicks'
  | 'faultRate'
  | 'maxEntriesPerAppend'
  | 'huntLeaders'
  | 'failover'
  | 'olderPeer'
>

/** The configuration a seed runs with: fixed by the flags given, drawn from the seed for the rest. */
export function configForSeed(seed: number, args: SeedArgs): SimConfig {
  const r = new Prng(seed ^ 0x5eed)
  const voters = args.voters ?? r.pick([3, 5, 7])
  const witness = args.witness ?? r.chance(0.5)
  const config: SimConfig = {
    ...simDefaults,
    seed,
    voters,
    witness,
    unequalWeights: r.chance(0.25),
    membershipChanges: r.chance(0.35),
    dynamicQuorum: r.chance(0.35),
    // The failover model's nodes are the database's (the mesh talks to nothing else): no spares.
    spares: args.failover === true ? r.int(0, 2) & 0 : r.int(0, 2),
    faultTicks: args.faultTicks ?? simDefaults.faultTicks,
    electionTicks: args.electionTicks ?? simDefaults.electionTicks,
    faultRate: args.faultRate,
    maxEntriesPerAppend: args.maxEntriesPerAppend,
    huntLeaders: args.huntLeaders ?? r.chance(0.3),
    unsafe: args.unsafe,
    failover: args.failover === true ? { ...failoverDefaults } : null,
    olderPeer: args.olderPeer === true ? `n${1 + (seed % voters)}` : null,
  }
  // Drawn last, so the draws above (and what each seed ran before) stay as they were.
  return { ...config, lowerQuorumPriority: config.dynamicQuorum ? tieBreakerFor(r, voters) : [] }
}

/**
 * A quorum tie-breaker for a seed, or none: one lower-priority node, or a preferred "site" of
 * the odd-numbered nodes (every even-numbered node listed, last by name first), as the runtime
 * derives them from a topology (src/topology/tieBreaker.ts).
 */
function tieBreakerFor(r: Prng, voters: number): string[] {
  const kind = r.pick(['none', 'node', 'site'] as const)
  if (kind === 'node') return [`n${r.int(1, voters)}`]
  if (kind === 'none') return []
  const outside = Array.from({ length: voters }, (_, i) => `n${i + 1}`).filter((_, i) => i % 2 === 1)
  return outside.sort().reverse()
}

export function runSeed(seed: number, args: SeedArgs): SimResult {
  return new SimCluster(configForSeed(seed, args)).run()
}

const unsafeSwitches = [
  'allowOldTermCommit',
  'ignoreWitnessMark',
  'skipWitnessUpToDateCheck',
  'sendBeforePersist',
  'voteWhileInLease',
  'ackAtReceive',
  'ignoreEpochIdentity',
  'skipHoldingCheck',
  'countFromGrantArrival',
  'ignoreMustApply',
  'shortDownAfter',
] as const

/** What a seed runs with when no flag says otherwise (drawn from the seed where null). */
export const seedArgDefaults: SeedArgs = {
  voters: null,
  witness: null,
  unsafe: {},
  faultTicks: null,
  faultRate: 1,
  maxEntriesPerAppend: 16,
  huntLeaders: null,
}

function parseArgs(argv: string[]): SimArgs {
  const args: SimArgs = {
    ...seedArgDefaults,
    seeds: 100,
    firstSeed: 1,
    verbose: false,
    failover: true,
    olderPeer: null,
    jobs: availableParallelism(),
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = Number(argv[++i])
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a whole number`)
      return v
    }
    if (a === '--seeds') args.seeds = value()
    else if (a === '--seed') {
      args.firstSeed = value()
      args.seeds = 1
    } else if (a === '--first-seed') args.firstSeed = value()
    else if (a === '--voters') args.voters = value()
    else if (a === '--witness') args.witness = true
    else if (a === '--no-witness') args.witness = false
    else if (a === '--fault-ticks') args.faultTicks = value()
    else if (a === '--election-ticks') args.electionTicks = Math.max(5, value())
    else if (a === '--fault-rate') args.faultRate = value()
    else if (a === '--max-append') args.maxEntriesPerAppend = value()
    else if (a === '--hunt-leaders') args.huntLeaders = true
    else if (a === '--kv') args.failover = false
    else if (a === '--older-peer') args.olderPeer = true
    else if (a === '--jobs') args.jobs = Math.max(1, value())
    else if (a === '--verbose') args.verbose = true
    else if (a === '--unsafe') {
      const name = argv[++i] ?? ''
      if (!(unsafeSwitches as readonly string[]).includes(name))
        throw new Error(`unknown --unsafe switch ${name} (${unsafeSwitches.join(', ')})`)
      args.unsafe = { ...args.unsafe, [name]: true }
    } else throw new Error(`unknown argument ${a}`)
  }
  return args
}

/** What the summary adds up over seeds. */
export interface Totals {
  seeds: number
  steps: number
  violations: number
  counts: Record<string, number>
  failover: Record<string, number>
  planner: Record<string, number>
  coverage: Record<string, number>
  ops: Record<string, number>
  lin: { checkedOps: number; explored: number }
  excused: { writes: number; reads: number }
  recoveries: number
  serviceRestored: number
  serviceTicksMax: number
  maxDriftPpm: number
  drifting: number
}

export function emptyTotals(): Totals {
  return {
    seeds: 0,
    steps: 0,
    violations: 0,
    counts: {},
    failover: {},
    planner: {},
    coverage: {},
    ops: {},
    lin: { checkedOps: 0, explored: 0 },
    excused: { writes: 0, reads: 0 },
    recoveries: 0,
    serviceRestored: 0,
    serviceTicksMax: 0,
    maxDriftPpm: 0,
    drifting: 0,
  }
}

const add = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v
}

export function addResult(t: Totals, r: SimResult): void {
  t.seeds++
  t.steps += r.steps
  if (!r.ok) t.violations++
  add(t.counts, r.counts as unknown as Record<string, number>)
  if (r.failover !== null) {
    const { plannerActions, ...rest } = r.failover
    add(t.failover, rest as unknown as Record<string, number>)
    add(t.planner, plannerActions)
  }
  add(t.coverage, r.coverage)
  add(t.ops, r.ops)
  t.lin.checkedOps += r.linearizability?.checkedOps ?? 0
  t.lin.explored += r.linearizability?.explored ?? 0
  t.excused.writes += r.excused.writes
  t.excused.reads += r.excused.reads
  if (r.recoveryTicks !== null) t.recoveries++
  if (r.serviceTicks !== null) {
    t.serviceRestored++
    t.serviceTicksMax = Math.max(t.serviceTicksMax, r.serviceTicks)
  }
  t.maxDriftPpm = Math.max(t.maxDriftPpm, r.maxDriftPpm)
  if (r.maxDriftPpm > 0) t.drifting++
}

const n = (x: number | undefined) => (x ?? 0).toLocaleString('en-US')

/** The lines after the first: what each invariant checked, and the faults by kind. */
export function summaryLines(t: Totals): string[] {
  const c = t.counts
  const f = t.failover
  const v = t.coverage
  const lines = [
    `  one leader per term and epoch: ${n(c.leaders)} elections`,
    `  leader stability: ${n(c.stableElections)} elections after silence, none while a majority heard a leader`,
    `  log matching: ${n(c.logMatching)} persisted entries compared`,
    `  state machine safety: ${n(c.applied)} applied entries`,
    `  leader completeness: ${n(c.leaderCompleteness)} committed entries checked in new leaders' logs`,
    `  hard states never go back: ${n(c.hardStates)}; configurations valid: ${n(c.configs)}`,
    `  acknowledged writes stay: ${n(c.acked)}; epoch identity: ${n(c.epochIdentity)} checks`,
    `  linearizability: ${n(t.lin.checkedOps)} ops (${n(t.ops.acked)} acknowledged writes, ${n(t.ops.reads)} reads) in ${n(t.lin.explored)} search states; excused ${n(t.excused.writes)} writes and ${n(t.excused.reads)} reads that confirmed forces lawfully lost`,
    `  at most one runner per group: ${n(f.runStarts)} run starts checked against ${n(f.overlapComparisons)} other runs (stops ${n(f.stops)}, fences ${n(f.fences)}, keeper kills ${n(f.keeperKills)}, reaped ${n(f.reaped)})`,
    `  fencing tokens never go back: ${n(f.runTokenChecks)} run comparisons (${n(f.runTokenExcused)} across a confirmed force, excused), ${n(f.dbTokenChecks)} database checks (${n(f.dbTokenResets)} restarts after a wipe)`,
    `  leases: ${n(f.leaseGrants)} grants, ${n(f.leaseRefusals)} refusals; planner: ${Object.entries(
      t.planner,
    )
      .map(([k, x]) => `${k} ${n(x)}`)
      .join(
        ', ',
      )}; releases ${n(f.releases)}; operator commands ${n(f.operatorCommands)} (races ${n(f.operatorRaces)})`,
    `  liveness: ${n(t.recoveries)} of ${n(t.seeds)} seeds committed everywhere after healing; ${n(t.serviceRestored)} had every group back on its owner (at most ${n(t.serviceTicksMax)} ticks)`,
    `  faults: crashes ${n(v.crashes)} (${n(v.crashesAfterEarlySend)} between a leader's early appends and its fsync), restarts ${n(v.restarts)}, power-offs ${n(v.powerOffs)}, pauses ${n(v.pauses)} (+${n(v.pausesWithMonitor)} with the monitor), partitions ${n(v.partitions)}, one-way cuts ${n(v.oneWayCuts)}, bridges ${n(v.bridges)}, leader hunts ${n(v.leaderHunts)}, stalled links ${n(v.stalls)}, late links ${n(v.lateLinks)} (${n(v.lateMessages)} late messages), lossy links ${n(v.lossyLinks)}, duplicating links ${n(v.duplicatingLinks)}`,
    `  more faults: transfers ${n(v.transfers)}, weight changes ${n(v.configChanges)}, resource failures ${n(v.resourceFailures)}, forced quorum ${n((v.forcedConfirmed ?? 0) + (v.forcedUnconfirmed ?? 0))} (confirmed at once ${n(v.forcedConfirmed)}, unconfirmed ${n(v.forcedUnconfirmed)}: confirmed later ${n(v.confirmedLater)}, two at once ${n(v.forcedTwice)}), nodes joining another epoch ${n(v.epochJoins)}, clock drift on ${n(t.drifting)} seeds (up to ${n(t.maxDriftPpm)} ppm)`,
  ]
  return lines
}

interface WorkerJob {
  args: SimArgs
  seeds: number[]
}

function printFailure(seed: number, r: SimResult, args: SimArgs): void {
  const flags = [
    args.voters === null ? '' : ` --voters ${args.voters}`,
    args.witness === null ? '' : args.witness ? ' --witness' : ' --no-witness',
    args.failover === false ? ' --kv' : '',
    args.olderPeer === true ? ' --older-peer' : '',
    args.faultRate === 1 ? '' : ` --fault-rate ${args.faultRate}`,
    args.electionTicks == null ? '' : ` --election-ticks ${args.electionTicks}`,
    ...Object.keys(args.unsafe).map((u) => ` --unsafe ${u}`),
  ].join('')
  process.stdout.write(
    `\nseed ${seed} VIOLATION: ${r.violation}\n  replay: npm run sim -- --seed ${seed}${flags}\n  last events:\n`,
  )
  for (const line of r.trace) process.stdout.write(`    ${line}\n`)
}

async function main(): Promise<void> {
  let args: SimArgs
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`sim: ${(error as Error).message}\n`)
    process.exit(2)
  }
  const started = performance.now()
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.firstSeed + i)
  const jobs = Math.min(args.jobs ?? 1, Math.max(1, seeds.length))
  const results = new Map<number, SimResult>()
  if (jobs <= 1) {
    for (const seed of seeds) results.set(seed, runSeed(seed, args))
  } else {
    // Seeds dealt round-robin to the workers; each result is the same as on one thread.
    await Promise.all(
      Array.from({ length: jobs }, (_, w) => {
        const job: WorkerJob = { args, seeds: seeds.filter((_, i) => i % jobs === w) }
        return new Promise<void>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: job })
          worker.on('message', (m: { seed: number; result: SimResult }) => results.set(m.seed, m.result))
          worker.on('error', reject)
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}`))))
        })
      }),
    )
  }
  const totals = emptyTotals()
  for (const seed of seeds) {
    const r = results.get(seed)!
    addResult(totals, r)
    if (args.verbose) {
      const c = configForSeed(seed, args)
      process.stdout.write(
        `seed ${seed}: ${c.voters} voters${c.witness ? ' + witness' : ''}${c.membershipChanges ? ', membership' : ''}${c.dynamicQuorum ? ', dynamic' : ''}${c.lowerQuorumPriority.length > 0 ? ` (tie-break ${c.lowerQuorumPriority.join(',')})` : ''}` +
          ` — ${r.steps} steps, ${r.faults} faults, ${r.ops.acked} acked writes, ${r.ops.reads} reads, ${r.failover?.runStarts ?? 0} run starts, recovery ${r.recoveryTicks ?? '-'} ticks${r.ok ? '' : ' VIOLATION'}\n`,
      )
    }
    if (!r.ok) printFailure(seed, r, args)
  }
  const seconds = (performance.now() - started) / 1000
  process.stdout.write(`sim: ${args.seeds} seeds, ${totals.steps} steps, ${totals.violations} violations\n`)
  for (const line of summaryLines(totals)) process.stdout.write(`${line}\n`)
  process.stdout.write(
    `  (${args.failover === false ? 'key-value model' : 'failover model'}, ${jobs} thread${jobs === 1 ? '' : 's'}, ${seconds.toFixed(1)} s)\n`,
  )
  process.exitCode = totals.violations === 0 ? 0 : 1
}

if (!isMainThread && parentPort !== null && (workerData as WorkerJob | undefined)?.seeds !== undefined) {
  const job = workerData as WorkerJob
  for (const seed of job.seeds) parentPort.postMessage({ seed, result: runSeed(seed, job.args) })
} else if (isMainThread && import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: Error) => {
    process.stderr.write(`sim: ${error.stack ?? error.message}\n`)
    process.exit(2)
  })
}
