/**
 * Each rule that keeps a group online on at most one node (ARCHITECTURE.md "Resource safety",
 * "Ownership transitions"), switched off through its module's documented `unsafe` option, must
 * make the random failover simulator find a violation within a few seeds — and the same seed
 * must pass with the rule in place, so the finding is the rule's. The seeds are the random mix's
 * (npm run sim); each range starts where that mix first finds the loss (the search stops at the
 * first), and reaches 40 seeds further so that a change to the mix does not leave it empty.
 * Replay one: npm run sim -- --seed S --unsafe NAME [--fault-rate R].
 */
import { describe, expect, it } from 'vitest'
import { runSeed, type SeedArgs, seedArgDefaults } from './runSim.ts'
import type { SimConfig, SimResult } from './simCluster.ts'

const failover: SeedArgs = { ...seedArgDefaults, failover: true }

/** A safety or stability violation (a liveness stall proves nothing about the rule). */
const safetyViolation = (r: SimResult) => !r.ok && !/^(failover )?liveness/.test(r.violation ?? '')

interface Mutation {
  rule: string
  unsafe: keyof SimConfig['unsafe']
  over?: Partial<SeedArgs>
  from: number
  to: number
  expected: RegExp
}

const overlapOrToken = /at most one node runs|fencing token .* went back/

const mutations: Mutation[] = [
  {
    rule: 'release before reassign: group.assign/move compare-and-set on (owner, token)',
    unsafe: 'skipHoldingCheck',
    over: { faultRate: 3 },
    from: 1,
    to: 41,
    expected: overlapOrToken,
  },
  {
    rule: 'the lease counts from when the member asked (askedAt), not from when the grant arrived',
    unsafe: 'countFromGrantArrival',
    from: 1,
    to: 41,
    expected: overlapOrToken,
  },
  {
    rule: 'a node starts nothing before it applied what the granting leader had (mustApply)',
    unsafe: 'ignoreMustApply',
    from: 1,
    to: 41,
    expected: overlapOrToken,
  },
  {
    rule: 'downAfter > fenceAfter + stopTimeout + margin (here downAfter = fenceAfter / 2)',
    unsafe: 'shortDownAfter',
    from: 1,
    to: 41,
    expected: overlapOrToken,
  },
  {
    rule: 'the grant window counts answers from when the leader sent what they answer',
    unsafe: 'ackAtReceive',
    from: 60,
    to: 100,
    expected: overlapOrToken,
  },
  {
    rule: 'two forced epochs of the same number are different histories (epoch identity)',
    unsafe: 'ignoreEpochIdentity',
    // Two epochs of one number need two operators forcing at once: more faults per run.
    over: { faultRate: 3 },
    from: 25,
    to: 65,
    expected: /epoch identity|log matching|state machine safety|two leaders|at most one node runs/,
  },
  {
    // Not a lease rule any more: a new leader bounds earlier grants by the silences its voters
    // report, or by its own election when one does not (leaseAuthority.ts). What the rule keeps
    // is the leader a majority hears: nobody cut off from it takes its place.
    rule: 'in-lease vote refusal: nobody deposes a leader that a majority hears (leader stability)',
    unsafe: 'voteWhileInLease',
    from: 1,
    to: 41,
    expected: /leader stability/,
  },
]

/** Runs the mutation over its seeds and checks what it must find. */
function caught(m: Mutation): void {
  const args: SeedArgs = { ...failover, ...m.over }
  let found: SimResult | null = null
  for (let seed = m.from; seed <= m.to && found === null; seed++) {
    const r = runSeed(seed, { ...args, unsafe: { [m.unsafe]: true } })
    if (safetyViolation(r)) found = r
  }
  expect(found, `no violation in seeds ${m.from}..${m.to} with --unsafe ${m.unsafe}`).not.toBeNull()
  expect(found!.violation).toMatch(m.expected)
  // The same seed with the rule in place passes: the violation is the rule's.
  const safe = runSeed(found!.seed, args)
  expect(safe.violation).toBeNull()
}

describe('each failover rule, switched off, is caught by the random simulator', () => {
  for (const m of mutations) it(m.rule, () => caught(m), 120_000)
})
