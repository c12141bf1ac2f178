/**
 * The quorum tie-breaker of a topology (`quorum.tieBreaker`): which side survives a 50/50 split
 * when no witness can break the tie. WSFC 2012 R2 takes the vote of `LowerQuorumPriorityNodeID`;
 * 2016 prefers a site. Here either becomes the order in which nodes give up their vote when
 * dynamic quorum finds the votes even (consensus/quorum/dynamicQuorum.ts); the consensus core
 * gets only that list of names, never the topology.
 */
import type { Topology, TopologyProblem } from './topologySchema.ts'

export type TieBreaker = NonNullable<Topology['quorum']['tieBreaker']>

/** Names in the tie-breaker that the topology does not have, and settings it cannot use. */
export function tieBreakerProblems(t: Topology): TopologyProblem[] {
  const tb = t.quorum.tieBreaker
  if (tb === undefined) return []
  const at = ['quorum', 'tieBreaker']
  const problems: TopologyProblem[] = []
  const add = (path: (string | number)[], message: string) => problems.push({ path, message })
  if (tb.preferSite === undefined && tb.lowerPriorityNode === undefined)
    add(at, 'expected preferSite or lowerPriorityNode')
  if (tb.preferSite !== undefined && tb.lowerPriorityNode !== undefined)
    add(at, 'set preferSite or lowerPriorityNode, not both')
  const model = t.quorum.model
  if (model !== 'node-majority' && model !== 'node-and-witness')
    add(at, `only used with quorum models node-majority and node-and-witness, not ${model}`)
  else if (!t.quorum.dynamic)
    add(at, 'used by dynamic quorum, which is off (quorum.dynamic: false): nothing would take a vote away')
  if (tb.preferSite !== undefined) {
    const site = t.sites.find((s) => s.name === tb.preferSite)
    if (site === undefined)
      add(
        [...at, 'preferSite'],
        `no site '${tb.preferSite}' with nodes (sites: ${t.sites.map((s) => s.name).join(', ')})`,
      )
    else if (site.nodes.every((n) => n.votes === 0))
      add([...at, 'preferSite'], `site '${tb.preferSite}' has no node with a vote`)
  }
  if (tb.lowerPriorityNode !== undefined) {
    const node = t.sites.flatMap((s) => s.nodes).find((n) => n.name === tb.lowerPriorityNode)
    if (node === undefined) {
      const what = t.witness?.name === tb.lowerPriorityNode ? ' (that is the witness)' : ''
      add([...at, 'lowerPriorityNode'], `no node '${tb.lowerPriorityNode}'${what}`)
    } else if (node.votes === 0)
      add([...at, 'lowerPriorityNode'], `node '${node.name}' has no vote to give up`)
  }
  return problems
}

/**
 * The nodes that give up their vote first when the votes are even, in order: the lower-priority
 * node, or every voting node outside the preferred site. Those of the site with the most votes
 * go first (with three sites, the side facing the preferred site in an even split is usually
 * that site alone), then last by name first, as the default rule picks. Empty without a
 * tie-breaker. Every node derives the same list from the same file.
 */
export function lowerQuorumPriority(t: Topology): string[] {
  const tb = t.quorum.tieBreaker
  if (tb?.lowerPriorityNode !== undefined) return [tb.lowerPriorityNode]
  if (tb?.preferSite === undefined) return []
  const votesOf = (s: Topology['sites'][number]) => s.nodes.reduce((sum, n) => sum + n.votes, 0)
  const byName = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0)
  return t.sites
    .filter((s) => s.name !== tb.preferSite)
    .flatMap((s) => s.nodes.filter((n) => n.votes > 0).map((n) => ({ name: n.name, siteVotes: votesOf(s) })))
    .sort((a, b) => b.siteVotes - a.siteVotes || byName(a.name, b.name))
    .map((n) => n.name)
}

/** How validate names the setting that decides: `tieBreaker.preferSite atlanta`. */
export function describeTieBreaker(tb: TieBreaker): string {
  return tb.preferSite !== undefined
    ? `tieBreaker.preferSite ${tb.preferSite}`
    : `tieBreaker.lowerPriorityNode ${tb.lowerPriorityNode ?? '?'}`
}
