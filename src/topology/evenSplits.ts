/**
 * Which side survives a 50/50 split (`geocluster validate`): every way of cutting the node sites
 * into two sides of equal votes, with no witness vote to break the tie (none configured, or it
 * was lost first). It asks the consensus core's own dynamic-quorum rule what weights the cluster
 * runs with once every node is up, under each possible leader, so the verdict is the one the
 * running cluster reaches — not a second copy of the rule.
 */
import { initialConfiguration } from '../consensus/configuration.ts'
import { desiredWeights } from '../consensus/quorum/dynamicQuorum.ts'
import { weightIn } from '../consensus/quorum/jointQuorum.ts'
import type { Configuration, WeightTable } from '../consensus/types.ts'
import { describeTieBreaker, lowerQuorumPriority } from './tieBreaker.ts'
import type { Topology } from './topologySchema.ts'

export interface EvenSplit {
  /** The two sides, each a list of sites; the first holds the topology's first site. */
  sides: [string[], string[]]
  /** The nodes' configured votes on each side (equal). */
  votes: [number, number]
  /** `none`: the topology has no witness; `lost`: it has one, down before the split. */
  witness: 'none' | 'lost'
  /** The sites of the side that keeps quorum, or null: neither, or it depends on who leads. */
  survivor: string[] | null
  /**
   * What decides: the tie-breaker setting; `node-names` (no tie-breaker: the last node by name
   * other than the leader gives up its vote); `leader` (that rule, and who leads at the time
   * decides); `nobody` (dynamic quorum off: neither side keeps quorum).
   */
  decidedBy: 'tieBreaker.preferSite' | 'tieBreaker.lowerPriorityNode' | 'node-names' | 'leader' | 'nobody'
  /** One line for people: `a 2+2 split with no witness: site atlanta keeps quorum (...)`. */
  text: string
}

/** Sites are few; beyond this many the splits are not listed (2^(n-1) of them). */
const sitesMax = 12

export function evenSplits(t: Topology): EvenSplit[] {
  if (t.quorum.model !== 'node-majority' && t.quorum.model !== 'node-and-witness') return []
  const sites = t.sites.slice(0, sitesMax)
  if (sites.length < 2) return []
  const base: WeightTable = {}
  for (const s of t.sites) for (const n of s.nodes) base[n.name] = n.votes
  const witness = t.witness?.name ?? null
  if (witness !== null) base[witness] = t.witness?.votes ?? 0
  const config = initialConfiguration(base, witness)
  const order = lowerQuorumPriority(t)
  const siteVotes = (names: string[]) =>
    sites
      .filter((s) => names.includes(s.name))
      .reduce((sum, s) => sum + s.nodes.reduce((a, n) => a + n.votes, 0), 0)
  const out: EvenSplit[] = []
  for (let mask = 0; mask < 1 << (sites.length - 1); mask++) {
    const second = sites.slice(1).filter((_, i) => (mask & (1 << i)) !== 0)
    if (second.length === 0) continue
    const sides: [string[], string[]] = [
      sites.filter((s) => !second.includes(s)).map((s) => s.name),
      second.map((s) => s.name),
    ]
    const votes: [number, number] = [siteVotes(sides[0]), siteVotes(sides[1])]
    if (votes[0] !== votes[1] || votes[0] === 0) continue
    const verdict = t.quorum.dynamic ? survivorOf(config, sides, t, order) : null
    const survivor = verdict === null || verdict === 'varies' ? null : verdict
    const decidedBy: EvenSplit['decidedBy'] = !t.quorum.dynamic
      ? 'nobody'
      : verdict === 'varies'
        ? 'leader'
        : order.length > 0 && t.quorum.tieBreaker?.preferSite !== undefined
          ? 'tieBreaker.preferSite'
          : order.length > 0
            ? 'tieBreaker.lowerPriorityNode'
            : 'node-names'
    const split = { sides, votes, witness: witness === null ? 'none' : 'lost', survivor, decidedBy } as const
    out.push({ ...split, text: describeSplit(split, t) })
  }
  return out
}

/**
 * The side whose nodes hold a majority of the weights dynamic quorum settles on with every node
 * up and the witness down, whoever leads; 'varies' when that depends on the leader. A leader
 * that gives up its own vote steps down: the weights its successors settle on count.
 */
function survivorOf(
  config: Configuration,
  sides: [string[], string[]],
  t: Topology,
  order: readonly string[],
): string[] | 'varies' | null {
  const nodes = t.sites.flatMap((s) => s.nodes.map((n) => ({ name: n.name, site: s.name })))
  const up = new Set(nodes.map((n) => n.name))
  const down = new Set(config.witness === null ? [] : [config.witness])
  const settle = (from: Configuration, leader: string) =>
    desiredWeights(from, { leader, up, down }, order)?.incoming ?? from.incoming
  const outcomes = new Set<number>()
  for (const leader of nodes.filter((n) => weightIn(config.base, n.name) > 0).map((n) => n.name)) {
    const first = settle(config, leader)
    const finals =
      weightIn(first, leader) > 0
        ? [first]
        : Object.keys(first)
            .filter((id) => id !== config.witness && weightIn(first, id) > 0)
            .map((next) => settle({ ...config, incoming: first }, next))
    for (const weights of finals) {
      const total = Object.values(weights).reduce((a, b) => a + b, 0)
      const sideVotes = sides.map((side) =>
        nodes.filter((n) => side.includes(n.site)).reduce((sum, n) => sum + weightIn(weights, n.name), 0),
      )
      outcomes.add(sideVotes.findIndex((v) => v * 2 > total))
    }
  }
  if (outcomes.size !== 1) return 'varies'
  const [index] = outcomes
  return index === undefined || index < 0 ? null : sides[index]!
}

function describeSplit(s: Omit<EvenSplit, 'text'>, t: Topology): string {
  const sites = (names: string[]) => `${names.length === 1 ? 'site' : 'sites'} ${names.join(' + ')}`
  const keeps = (names: string[] | null) =>
    names === null ? 'neither side keeps' : `${sites(names)} ${names.length === 1 ? 'keeps' : 'keep'}`
  const head = `a ${s.votes[0]}+${s.votes[1]} split (${sites(s.sides[0])} | ${sites(s.sides[1])}) ${
    s.witness === 'none' ? 'with no witness' : 'after the witness was lost'
  }`
  const tb = t.quorum.tieBreaker
  switch (s.decidedBy) {
    case 'nobody':
      return `${head}: neither side keeps quorum (quorum.dynamic is false)`
    case 'leader':
      return `${head}: the side keeping quorum depends on which node leads at the time; set quorum.tieBreaker to choose`
    case 'node-names':
      return `${head}: ${keeps(s.survivor)} quorum (no tie-breaker: the last node by name other than the leader gives up its vote; set quorum.tieBreaker to choose)`
    default:
      return `${head}: ${keeps(s.survivor)} quorum (${tb === undefined ? s.decidedBy : describeTieBreaker(tb)})`
  }
}
