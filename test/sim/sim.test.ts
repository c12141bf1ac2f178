/**
 * The simulator inside `npm test`: a couple of hundred random seeds of the key-value model and a
 * dozen of the failover model must pass, and each consensus safety rule, switched off, must be
 * caught within a bounded number of seeds (the checks can fail). The failover model's rules have
 * theirs in mutations.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { addResult, configForSeed, emptyTotals, runSeed, type SimArgs, seedArgDefaults } from './runSim.ts'
import { SimCluster, type SimConfig, type SimResult } from './simCluster.ts'
import { witnessRaceRun } from './witnessRace.ts'

const mixed: Omit<SimArgs, 'seeds' | 'firstSeed' | 'verbose'> = seedArgDefaults

function firstViolation(run: (seed: number) => SimResult, seeds: number): SimResult | null {
  for (let seed = 1; seed <= seeds; seed++) {
    const r = run(seed)
    if (!r.ok) return r
  }
  return null
}

describe('random seeds', () => {
  it('200 seeds of mixed clusters under faults: no violation, and the checks ran', {
    timeout: 120_000,
  }, () => {
    let steps = 0
    let applied = 0
    let leaders = 0
    let acked = 0
    let reads = 0
    const failures: string[] = []
    for (let seed = 1; seed <= 200; seed++) {
      const r = runSeed(seed, mixed)
      steps += r.steps
      applied += r.counts.applied
      leaders += r.counts.leaders
      acked += r.ops.acked
      reads += r.ops.reads
      if (!r.ok) failures.push(`seed ${seed}: ${r.violation}\n${r.trace.join('\n')}`)
      expect(r.linearizability?.checkedOps ?? 0).toBeGreaterThan(0)
    }
    expect(failures).toEqual([])
    // The run did real work: elections, applied entries, acknowledged writes, served reads.
    expect(leaders).toBeGreaterThan(400)
    expect(applied).toBeGreaterThan(66_000)
    expect(acked).toBeGreaterThan(6_600)
    expect(reads).toBeGreaterThan(3_300)
    expect(steps).toBeGreaterThan(660_000)
  })

  it('12 seeds of the failover model: no violation, and groups ran, failed over and were fenced', {
    timeout: 120_000,
  }, () => {
    const failover = { ...mixed, failover: true }
    const totals = emptyTotals()
    const failures: string[] = []
    for (let seed = 1; seed <= 12; seed++) {
      const r = runSeed(seed, failover)
      addResult(totals, r)
      if (!r.ok) failures.push(`seed ${seed}: ${r.violation}\n${r.trace.join('\n')}`)
    }
    expect(failures).toEqual([])
    const f = totals.failover
    expect(f.runStarts).toBeGreaterThan(300)
    expect(f.overlapComparisons).toBeGreaterThan(2_000)
    expect(f.runTokenChecks).toBeGreaterThan(2_000)
    expect(f.dbTokenChecks).toBeGreaterThan(2_000)
    expect((f.fences ?? 0) + (f.keeperKills ?? 0)).toBeGreaterThan(50)
    expect(f.leaseGrants).toBeGreaterThan(5_000)
    expect(totals.planner.assign).toBeGreaterThan(100)
    expect(totals.lin.checkedOps).toBeGreaterThan(1_000)
    expect(totals.coverage.pauses ?? 0).toBeGreaterThan(10)
    expect(totals.coverage.stalls ?? 0).toBeGreaterThan(10)
    expect(totals.coverage.lateMessages ?? 0).toBeGreaterThan(1_000)
    expect(totals.serviceRestored).toBeGreaterThan(6)
  })

  it('a linearizability search that runs out of budget fails the run', () => {
    const r = new SimCluster({
      ...configForSeed(3, { ...mixed, failover: true }),
      faultTicks: 300,
      linearizabilityBudget: 5,
    }).run()
    expect(r.violation).toMatch(/ran out of its state budget/)
  })

  it('replays a seed exactly', () => {
    const a = runSeed(42, mixed)
    const b = runSeed(42, mixed)
    expect(b.steps).toBe(a.steps)
    expect(b.trace).toEqual(a.trace)
    expect(b.ops).toEqual(a.ops)
    const c = runSeed(5, { ...mixed, failover: true })
    const d = runSeed(5, { ...mixed, failover: true })
    expect(d.steps).toBe(c.steps)
    expect(d.trace).toEqual(c.trace)
    expect(d.failover).toEqual(c.failover)
  })

  it('covers 3, 5 and 7 voters, with and without a witness, membership and dynamic quorum', () => {
    const configs = Array.from({ length: 300 }, (_, i) => configForSeed(i + 1, mixed))
    for (const v of [3, 5, 7]) expect(configs.some((c) => c.voters === v)).toBe(true)
    expect(configs.filter((c) => c.witness).length).toBeGreaterThan(100)
    expect(configs.filter((c) => c.membershipChanges).length).toBeGreaterThan(60)
    expect(configs.filter((c) => c.dynamicQuorum).length).toBeGreaterThan(60)
    expect(configs.filter((c) => c.unequalWeights).length).toBeGreaterThan(40)
  })
})

describe('each safety rule, switched off, is caught', () => {
  const withSwitch = (unsafe: SimConfig['unsafe'], over: Partial<typeof mixed>) => (seed: number) =>
    runSeed(seed, { ...mixed, ...over, unsafe })

  it("the witness's up-to-date vote check", () => {
    const found = firstViolation(withSwitch({ skipWitnessUpToDateCheck: true }, { witness: true }), 100)
    expect(found?.violation).toMatch(/two leaders|leader completeness|state machine safety|acknowledged/)
    expect(runSeed(found!.seed, { ...mixed, witness: true }).ok).toBe(true)
  })

  it('the leader\'s "W names an entry of my log" check', () => {
    const found = firstViolation((seed) => witnessRaceRun(seed, { ignoreWitnessMark: true }), 200)
    expect(found?.violation).toMatch(/leader completeness|state machine safety|acknowledged/)
    expect(witnessRaceRun(found!.seed).ok).toBe(true)
  })

  it('persist before reply', () => {
    const over = { voters: 3, faultRate: 5 }
    const found = firstViolation(withSwitch({ sendBeforePersist: true }, over), 50)
    expect(found?.violation).toMatch(
      /two leaders|leader completeness|state machine safety|acknowledged|log matching/,
    )
    expect(runSeed(found!.seed, { ...mixed, ...over }).ok).toBe(true)
  })

  it('only entries of the current term are committed by counting replicas (Raft figure 8)', () => {
    const over = { voters: 3, witness: false, faultRate: 5, maxEntriesPerAppend: 1, huntLeaders: true }
    const found = firstViolation(withSwitch({ allowOldTermCommit: true }, over), 200)
    expect(found?.violation).toMatch(/leader completeness|state machine safety|acknowledged/)
    expect(runSeed(found!.seed, { ...mixed, ...over }).ok).toBe(true)
  })

  it('the witness-race schedule passes with every rule in place', () => {
    for (let seed = 1; seed <= 60; seed++) expect(witnessRaceRun(seed).violation).toBeNull()
  })

  it('a checker reports when it is fed a broken history (it can fail at all)', () => {
    const cluster = new SimCluster({ ...configForSeed(7, mixed), faultTicks: 0 })
    cluster.runUntil(() => cluster.leader() !== undefined, 200)
    expect(() => cluster.invariants.leaderElected('n1', 999)).not.toThrow()
    expect(() => cluster.invariants.leaderElected('n2', 999)).toThrow(/two leaders in term 999/)
  })
})
