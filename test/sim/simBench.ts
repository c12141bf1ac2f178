/**
 * npm run sim:bench — figures from the simulator:
 * 1. failover: a leader crashes at a random moment; ticks until a new leader has committed an
 *    entry of its term, as a distribution in election timeouts (the configured base timeout);
 * 2. speed: simulator steps (deliveries and node ticks) and simulated ticks per second of 5-,
 *    16- and 64-voter clusters under steady writes.
 * Usage: npm run sim:bench [-- --runs N] [-- --json]
 */
import type { RaftCore } from '../../src/consensus/raftCore.ts'
import { Prng } from './prng.ts'
import { SimCluster, simDefaults } from './simCluster.ts'

const argv = process.argv.slice(2)
const runsArg = argv.indexOf('--runs')
const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : 1000
const asJson = argv.includes('--json')

function failoverTicks(seed: number, voters: number, witness: boolean): number | null {
  const r = new Prng(seed)
  const c = new SimCluster({
    ...simDefaults,
    ...benchTiming,
    seed,
    voters,
    witness,
    spares: 0,
    faultTicks: 0,
    clients: 0,
  })
  c.setLinks(benchLinks)
  const committedLeader = () => {
    const l = c.leader()
    return l !== undefined && (l.core as RaftCore).committedInTerm() ? l.id : undefined
  }
  if (!c.runUntil(() => committedLeader() !== undefined, 500)) return null
  c.runTicks(r.int(5, 40))
  const old = committedLeader()
  if (old === undefined) return null
  c.write('k', 'x', old)
  c.runTicks(r.int(0, simDefaults.heartbeatTicks * 3))
  c.crash(old)
  const start = c.now
  if (!c.runUntil(() => committedLeader() !== undefined && committedLeader() !== old, 2000)) return null
  return c.now - start
}

/**
 * The runtime's proportions: a tick of 50 ms, an election timeout of 1 s (20 ticks), heartbeats
 * every 100 ms, and one tick (up to 50 ms) one way between any two nodes, as across sites.
 */
const benchTiming = { electionTicks: 20, heartbeatTicks: 2 }
const benchLinks = { delayTicksMin: 1, delayTicksMax: 1, lossRate: 0, duplicateRate: 0 }

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

const T = benchTiming.electionTicks
const failover: Record<string, unknown>[] = []
for (const [voters, witness] of [
  [3, false],
  [5, false],
  [4, true],
] as const) {
  const ticks: number[] = []
  let lost = 0
  for (let i = 1; i <= runs; i++) {
    const t = failoverTicks(i * 7919 + voters, voters, witness)
    if (t === null) lost++
    else ticks.push(t)
  }
  ticks.sort((a, b) => a - b)
  const within2 = ticks.filter((t) => t <= 2 * T).length / runs
  failover.push({
    cluster: `${voters} nodes${witness ? ' + witness' : ''}`,
    runs,
    noLeader: lost,
    p50: percentile(ticks, 50) / T,
    p90: percentile(ticks, 90) / T,
    p99: percentile(ticks, 99) / T,
    max: (ticks.at(-1) ?? Number.NaN) / T,
    within2ElectionTimeouts: within2,
  })
}

// Speed: clusters of 5, 16 and 64 voters with a steady trickle of writes.
function speedOf(voters: number) {
  const c = new SimCluster({
    ...simDefaults,
    seed: voters,
    voters,
    spares: 0,
    faultTicks: 0,
    clients: 0,
    snapshotEvery: 200,
  })
  c.runUntil(() => c.leader() !== undefined, 500)
  const ticksToRun = 1000
  const t0 = performance.now()
  const sent0 = c.network.sent
  const steps0 = c.steps
  for (let i = 0; i < ticksToRun; i++) {
    if (i % 2 === 0 && c.leader() !== undefined) c.write('k', `v${i}`, c.leader()!.id)
    c.tick()
  }
  const seconds = (performance.now() - t0) / 1000
  return {
    voters,
    ticks: ticksToRun,
    stepsPerSecond: Math.round((c.steps - steps0) / seconds),
    ticksPerSecond: Math.round(ticksToRun / seconds),
    messagesPerSecond: Math.round((c.network.sent - sent0) / seconds),
    committed: c.invariants.committed.size,
  }
}
const speed = [5, 16, 64].map(speedOf)

if (asJson) {
  process.stdout.write(`${JSON.stringify({ ...benchTiming, links: benchLinks, failover, speed }, null, 2)}\n`)
} else {
  process.stdout.write(
    `sim:bench — election timeout ${T} ticks (randomized in [${T}, ${1.5 * T})), heartbeat ${benchTiming.heartbeatTicks} ticks, links ${benchLinks.delayTicksMax} tick one way\n\n`,
  )
  process.stdout.write('leader crash -> new leader with a committed entry, in election timeouts\n')
  process.stdout.write(
    'cluster             runs   p50    p90    p99    max    within 2 timeouts   no leader\n',
  )
  for (const f of failover) {
    const x = f as {
      cluster: string
      runs: number
      p50: number
      p90: number
      p99: number
      max: number
      within2ElectionTimeouts: number
      noLeader: number
    }
    process.stdout.write(
      `${x.cluster.padEnd(18)} ${String(x.runs).padStart(5)} ${x.p50.toFixed(2).padStart(6)} ${x.p90.toFixed(2).padStart(6)} ${x.p99.toFixed(2).padStart(6)} ${x.max.toFixed(2).padStart(6)} ${`${(x.within2ElectionTimeouts * 100).toFixed(1)}%`.padStart(18)} ${String(x.noLeader).padStart(11)}\n`,
    )
  }
  process.stdout.write(
    '\nspeed (steady writes, no faults)\nvoters   steps/s   simulated ticks/s   messages/s   committed in 1,000 ticks\n',
  )
  for (const x of speed)
    process.stdout.write(
      `${String(x.voters).padStart(6)} ${String(x.stepsPerSecond).padStart(9)} ${String(x.ticksPerSecond).padStart(19)} ${String(x.messagesPerSecond).padStart(12)} ${String(x.committed).padStart(26)}\n`,
    )
}
