/**
 * Majorities over a configuration: the incoming weights alone, or, during a joint change, the
 * incoming and the outgoing weights both (Raft §6). Each half uses the plain vote math.
 */
import type { Configuration, NodeId, WeightTable } from '../types.ts'
import { committedIndex, hasMajority, type VoteOutcome, type VoterWeights, voteResult } from './voteMath.ts'

/**
 * The weight of `id` in a table. Own properties only: node names such as `constructor` are valid,
 * and must not pick up what every object inherits.
 */
export function weightIn(table: WeightTable | null, id: NodeId): number {
  return table !== null && Object.hasOwn(table, id) ? table[id]! : 0
}

export function weightsOf(table: WeightTable): VoterWeights {
  return new Map(Object.entries(table))
}

function halves(config: Configuration): VoterWeights[] {
  const out = [weightsOf(config.incoming)]
  if (config.outgoing !== null) out.push(weightsOf(config.outgoing))
  return out
}

/** Every id that has a vote in either half. */
export function votersOf(config: Configuration): Set<NodeId> {
  const ids = new Set<NodeId>()
  for (const half of halves(config)) for (const [id, w] of half) if (w > 0) ids.add(id)
  return ids
}

/** Every member that receives the log: anyone in the base, incoming or outgoing tables. */
export function membersOf(config: Configuration): Set<NodeId> {
  return new Set([
    ...Object.keys(config.base),
    ...Object.keys(config.incoming),
    ...Object.keys(config.outgoing ?? {}),
  ])
}

export function jointHasMajority(config: Configuration, present: Iterable<NodeId>): boolean {
  const ids = [...present]
  return halves(config).every((half) => hasMajority(half, ids))
}

export function jointVoteResult(config: Configuration, answers: ReadonlyMap<NodeId, boolean>): VoteOutcome {
  const results = halves(config).map((half) => voteResult(half, answers))
  if (results.includes('lost')) return 'lost'
  if (results.every((r) => r === 'won')) return 'won'
  return 'pending'
}

export function jointCommittedIndex(config: Configuration, matchIndex: (id: NodeId) => number): number {
  return Math.min(...halves(config).map((half) => committedIndex(half, matchIndex)))
}

export function isVoter(config: Configuration, id: NodeId): boolean {
  return weightIn(config.incoming, id) > 0 || weightIn(config.outgoing, id) > 0
}

/** A configuration whose halves each have at least one vote, weights whole and non-negative. */
export function configurationProblem(config: Configuration): string | null {
  for (const [name, table] of [
    ['incoming', config.incoming],
    ['outgoing', config.outgoing],
    ['base', config.base],
  ] as const) {
    if (table === null) continue
    for (const [id, w] of Object.entries(table)) {
      if (!Number.isInteger(w) || w < 0) return `${name} weight of ${id} is ${w}`
    }
    if (name !== 'base' && Object.values(table).reduce((a, b) => a + b, 0) === 0)
      return `${name} has no votes`
  }
  if (config.witness !== null && !Object.hasOwn(config.base, config.witness))
    return `witness ${config.witness} is not a member`
  return null
}
