/**
 * Which single members the cluster can lose right now and stay quorate, from the votes present
 * (shown by `status --watch` and the dashboard; structural, so the browser bundle can use it).
 */
export interface VoteView {
  cluster: { quorum: { votesPresent: number; votesNeeded: number } }
  nodes: readonly { name: string; state: string; votes: number }[]
  witness: { name: string; state: string; votes: number } | null
}

export function survivableNow(s: VoteView): { can: string[]; cannot: string[] } {
  const q = s.cluster.quorum
  const members = [
    ...s.nodes.filter((n) => n.state === 'up' && n.votes > 0),
    ...(s.witness !== null && s.witness.state === 'up' && s.witness.votes > 0 ? [s.witness] : []),
  ]
  const can = members.filter((m) => q.votesPresent - m.votes >= q.votesNeeded).map((m) => m.name)
  return { can, cannot: members.map((m) => m.name).filter((n) => !can.includes(n)) }
}
