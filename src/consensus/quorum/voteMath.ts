/**
 * Vote math: majorities of weighted votes. Pure and small on purpose, so the quorum rules of
 * ARCHITECTURE.md can be table-tested on their own. A voter of weight 0 is a non-voting member.
 */
import { assert } from '../../errors/assert.ts'

export type VoterWeights = ReadonlyMap<string, number>

export function totalWeight(weights: VoterWeights): number {
  let total = 0
  for (const [id, w] of weights) {
    assert(Number.isInteger(w) && w >= 0, () => `weight of ${id} is ${w}`)
    total += w
  }
  return total
}

/** Weight a set of voters must hold to be a strict majority. */
export function votesNeeded(weights: VoterWeights): number {
  const total = totalWeight(weights)
  assert(total > 0, 'a configuration needs at least one vote')
  return Math.floor(total / 2) + 1
}

export function weightOf(weights: VoterWeights, ids: Iterable<string>): number {
  let sum = 0
  for (const id of new Set(ids)) sum += weights.get(id) ?? 0
  return sum
}

export function hasMajority(weights: VoterWeights, present: Iterable<string>): boolean {
  return weightOf(weights, present) >= votesNeeded(weights)
}

export type VoteOutcome = 'won' | 'lost' | 'pending'

/** Outcome of an election given the answers so far (true = granted, false = rejected). */
export function voteResult(weights: VoterWeights, answers: ReadonlyMap<string, boolean>): VoteOutcome {
  const needed = votesNeeded(weights)
  let granted = 0
  let rejected = 0
  for (const [id, w] of weights) {
    const answer = answers.get(id)
    if (answer === true) granted += w
    else if (answer === false) rejected += w
  }
  if (granted >= needed) return 'won'
  if (totalWeight(weights) - rejected < needed) return 'lost'
  return 'pending'
}

/**
 * The greatest log index that voters holding a majority of the weight have stored: sort the
 * voters by their match index, highest first, and walk down until the weight passes half.
 */
export function committedIndex(weights: VoterWeights, matchIndex: (id: string) => number): number {
  const needed = votesNeeded(weights)
  const voters = [...weights].filter(([, w]) => w > 0).map(([id, w]) => ({ w, match: matchIndex(id) }))
  voters.sort((a, b) => b.match - a.match)
  let weight = 0
  for (const v of voters) {
    weight += v.w
    if (weight >= needed) return v.match
  }
  return 0
}
