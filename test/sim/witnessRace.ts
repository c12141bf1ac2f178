/**
 * A seeded nemesis schedule aimed at the witness rules: W runs ahead with an old leader, a new
 * leader is elected without the witness, hears W once while it is still stale, then loses the
 * witness and a follower; the old leader comes back. Timings, victims and loss are drawn from the
 * seed. With the rules in place nothing breaks; drop the "W names an entry of my log" check and a
 * leader counts a stale W, commits with too few real copies, and the simulator sees it.
 */
import { RaftCore } from '../../src/consensus/raftCore.ts'
import { Violation } from './invariants.ts'
import { Prng } from './prng.ts'
import { SimCluster, type SimConfig, type SimResult, simDefaults } from './simCluster.ts'

export function witnessRaceRun(seed: number, unsafe: SimConfig['unsafe'] = {}): SimResult {
  const r = new Prng(seed)
  const cluster = new SimCluster({
    ...simDefaults,
    seed,
    voters: 4,
    witness: true,
    spares: 0,
    faultTicks: 0,
    clients: 0,
    snapshotEvery: 1000,
    unsafe,
    traceLength: 80,
  })
  const nodes = ['n1', 'n2', 'n3', 'n4']
  const leaderId = (): string | undefined => cluster.leader()?.id
  const writes = (via: string, n: number) => {
    for (let i = 0; i < n; i++) {
      cluster.write(r.pick(['a', 'b']), `v${seed}-${cluster.now}-${i}`, via)
      cluster.runTicks(1)
    }
  }
  let recovery: number | null = null
  try {
    if (!cluster.runUntil(() => leaderId() !== undefined, 200))
      throw new Violation('liveness: no first leader')
    const old = leaderId()!
    // 1. The old leader keeps only the witness: W runs ahead of every other node.
    cluster.partition([[old, 'w'], nodes.filter((n) => n !== old)])
    writes(old, r.int(3, 12))
    cluster.runTicks(r.int(2, 10))
    // 2. It dies; the others elect a leader without the witness (it refuses: they are behind W),
    //    over lossy links, so the witness may hear the new leader's first word but not the next.
    cluster.crash(old)
    cluster.healNetwork()
    cluster.setLinks({ delayTicksMin: 1, delayTicksMax: 3, lossRate: 0.1 + 0.3 * r.next(), duplicateRate: 0 })
    if (!cluster.runUntil(() => leaderId() !== undefined && leaderId() !== old, 1500))
      throw new Violation('liveness: no second leader')
    const next = leaderId()!
    const [follower, lagger] = r.shuffle(nodes.filter((n) => n !== old && n !== next))
    // 3. The new leader loses the witness and one follower.
    cluster.runTicks(r.int(0, 2))
    cluster.setLinks({ delayTicksMin: 1, delayTicksMax: 2, lossRate: 0, duplicateRate: 0 })
    cluster.cutOneWay(next, 'w')
    cluster.cutOneWay(next, lagger!)
    cluster.cutOneWay(lagger!, next)
    writes(next, r.int(2, 8))
    cluster.runTicks(r.int(1, 8))
    // 4. The new leader and its up-to-date follower die; the old leader returns.
    cluster.crash(next)
    cluster.crash(follower!)
    cluster.healNetwork()
    cluster.restart(old)
    cluster.runTicks(r.int(30, 120))
    // 5. Everyone back: the cluster must settle on one history.
    cluster.restart(next)
    cluster.restart(follower!)
    recovery = cluster.heal()
    for (const n of cluster.nodes.values()) if (n.core instanceof RaftCore) n.drain()
  } catch (error) {
    cluster.violation =
      error instanceof Violation ? error.message : `crash: ${(error as Error).stack ?? String(error)}`
  }
  return {
    seed,
    ok: cluster.violation === null,
    violation: cluster.violation,
    steps: cluster.steps,
    ticks: cluster.now,
    trace: [],
    counts: cluster.checkCounts(),
    ops: { total: cluster.history.length, acked: 0, failed: 0, indeterminate: 0, reads: 0 },
    linearizability: null,
    faults: cluster.faults,
    storageLost: 0,
    recoveryTicks: recovery,
    failover: null,
    coverage: {},
    excused: { writes: 0, reads: 0 },
    serviceTicks: null,
    maxDriftPpm: 0,
  }
}
