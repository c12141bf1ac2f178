/**
 * Dynamic quorum and dynamic witness (WSFC 2012 R2): a voter the leader has not heard from for a
 * while loses its vote through the log, so a cluster can shrink one failure at a time down to a
 * last node; a voter that is back and caught up gets its vote again. The witness votes only while
 * the nodes' votes add up to an even number; with an even number and no witness to break ties,
 * one node gives up its vote (LowerQuorumPriorityNodeID; WSFC 2016's preferred site), so that a
 * 50/50 split has a survivor the operator chose. Pure: the leader says who is up and who is
 * down, and the order of who steps back first comes from the options every node is started with.
 */
import type { Configuration, NodeId, WeightTable } from '../types.ts'
import { weightIn } from './jointQuorum.ts'

export interface Liveness {
  leader: NodeId
  /** Heard from recently and caught up. */
  up: ReadonlySet<NodeId>
  /** Silent for at least the down-after time. */
  down: ReadonlySet<NodeId>
}

/**
 * The weights the leader should propose, or null when the current ones are right.
 * `lowerQuorumPriority`: the nodes that give up their vote first when the votes are even, in
 * order (see tieBreakerNode).
 */
export function desiredWeights(
  config: Configuration,
  live: Liveness,
  lowerQuorumPriority: readonly NodeId[] = [],
): { incoming: WeightTable; forced: boolean } | null {
  const next: WeightTable = {}
  const nodes = Object.keys(config.base)
    .filter((id) => id !== config.witness)
    .sort()
  for (const id of nodes) {
    const base = weightIn(config.base, id)
    if (base === 0) next[id] = 0
    else if (live.up.has(id)) next[id] = base
    else if (live.down.has(id)) next[id] = 0
    else next[id] = Math.min(weightIn(config.incoming, id), base)
  }
  const nodeVotes = nodes.reduce((sum, id) => sum + weightIn(next, id), 0)
  if (config.witness !== null) {
    const witnessBase = weightIn(config.base, config.witness)
    const witnessUsable = witnessBase > 0 && live.up.has(config.witness)
    next[config.witness] = nodeVotes % 2 === 0 && witnessUsable ? witnessBase : 0
  }
  const total = Object.values(next).reduce((a, b) => a + b, 0)
  if (total % 2 === 0 && total > 0) {
    // No witness to break the tie: one node holding exactly one vote steps back.
    const tieBreaker = tieBreakerNode(
      nodes.filter((id) => next[id] === 1),
      live.leader,
      lowerQuorumPriority,
    )
    if (tieBreaker !== undefined) next[tieBreaker] = 0
  }
  // A forced configuration becomes a normal one once a majority of the configured votes is back.
  const baseTotal = Object.values(config.base).reduce((a, b) => a + b, 0)
  const baseUp = Object.entries(config.base).reduce((sum, [id, w]) => sum + (live.up.has(id) ? w : 0), 0)
  const unforce = config.forced && baseUp * 2 > baseTotal
  const same = Object.keys({ ...next, ...config.incoming }).every(
    (id) => weightIn(next, id) === weightIn(config.incoming, id),
  )
  if (same && !unforce) return null
  // Some node must keep a vote: a witness alone could elect nobody.
  if (nodes.every((id) => weightIn(next, id) === 0)) return null
  return { incoming: next, forced: config.forced && !unforce }
}

/**
 * Who gives up a vote to make an even total odd, from the voting nodes that hold exactly one
 * (sorted by name). The operator's order first (WSFC LowerQuorumPriorityNodeID, or every node
 * outside the preferred site): its first voting node other than the leader, else the leader
 * itself when listed — it then steps down once the change commits (a leader without a vote does
 * not lead), and the next leader keeps that vote away, so the survivor of a 50/50 split does not
 * depend on who happened to lead. With no listed node voting: the last by name other than the
 * leader, which leaves leadership where it is.
 */
export function tieBreakerNode(
  voting: readonly NodeId[],
  leader: NodeId,
  lowerQuorumPriority: readonly NodeId[],
): NodeId | undefined {
  const isVoting = new Set(voting)
  const listed = lowerQuorumPriority.filter((id) => isVoting.has(id))
  const chosen = listed.find((id) => id !== leader) ?? listed[0]
  return chosen ?? voting.filter((id) => id !== leader).at(-1)
}

/**
 * Without dynamic quorum, the weights a forced configuration should move to: members that are
 * back (heard from and caught up) get their configured votes again, and once a majority of the
 * configured votes is back the configuration is the configured one, no longer forced. Null
 * when nothing changes (or the configuration is not forced).
 */
export function weightsAfterForce(
  config: Configuration,
  up: ReadonlySet<NodeId>,
): { incoming: WeightTable; forced: boolean } | null {
  if (!config.forced) return null
  const baseTotal = Object.values(config.base).reduce((a, b) => a + b, 0)
  const baseUp = Object.entries(config.base).reduce((sum, [id, w]) => sum + (up.has(id) ? w : 0), 0)
  if (baseUp * 2 > baseTotal) return { incoming: { ...config.base }, forced: false }
  const next: WeightTable = { ...config.incoming }
  let changed = false
  for (const [id, w] of Object.entries(config.base)) {
    if (up.has(id) && weightIn(next, id) !== w) {
      next[id] = w
      changed = true
    }
  }
  return changed ? { incoming: next, forced: true } : null
}
