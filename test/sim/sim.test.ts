/**
 * The simulator inside `npm test`: a few hundred random seeds must pass, and each safety rule,
 * switched off, must be caught within a bounded number of seeds (the checks can fail).
 */
import { describe, expect, it } from 'vitest'
import { configForSeed, runSeed, type SimArgs } from './runSim.ts'
import { SimCluster, type SimConfig, type SimResult } from './simCluster.ts'
import { witnessRaceRun } from './witnessRace.ts'

const mixed: Omit<SimArgs, 'seeds' | 'firstSeed' | 'verbose'> = {
  voters: null,
  witness: null,
  unsafe: {},
  faultTicks: null,
  faultRate: 1,
  maxEntriesPerAppend: 16,
  huntLeaders: null,
}

function firstViolation(run: (seed: number) => SimResult, seeds: number): SimResult | null {
  for (let seed = 1; seed <= seeds; seed++) {
    const r = run(seed)
    if (!r.ok) return r
  }
  return null
}

describe('random seeds', () => {
  it('300 seeds of mixed clusters under faults: no violation, and the checks ran', () => {
    let steps = 0
    let applied = 0
    let leaders = 0
    let acked = 0
    let reads = 0
    const failures: string[] = []
    for (let seed = 1; seed <= 300; seed++) {
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
    expect(leaders).toBeGreaterThan(600)
    expect(applied).toBeGreaterThan(100_000)
    expect(acked).toBeGreaterThan(10_000)
    expect(reads).toBeGreaterThan(5_000)
    expect(steps).toBeGreaterThan(1_000_000)
  })

  it('replays a seed exactly', () => {
    const a = runSeed(42, mixed)
    const b = runSeed(42, mixed)
    expect(b.steps).toBe(a.steps)
    expect(b.trace).toEqual(a.trace)
    expect(b.ops).toEqual(a.ops)
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
