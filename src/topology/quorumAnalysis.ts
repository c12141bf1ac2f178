/**
 * What a topology survives (`geocluster validate`): which sites, combinations of sites and
 * single members can be lost with the cluster still quorate — with the witness and without it —
 * and the warnings WSFC's quorum guidance and Test-Cluster give (even votes and no witness, a
 * majority inside one site, a witness in a site with nodes). Static vote math: with dynamic
 * quorum, losses one at a time (each noticed before the next) can go further, down to one node.
 * It reads a topology and asks the consensus layer's vote math; the vote math knows no topology.
 */
import { hasMajority, votesNeeded } from '../consensus/quorum/voteMath.ts'
import { type EvenSplit, evenSplits } from './evenSplits.ts'
import type { Topology } from './topologySchema.ts'

export interface QuorumAnalysis {
  model: Topology['quorum']['model']
  votesTotal: number
  votesNeeded: number
  /** Per site (the witness's site included): is the cluster quorate without it? */
  siteLoss: Record<string, boolean>
  /** The same with the witness also down (null when there is none). */
  siteLossWithoutWitness: Record<string, boolean> | null
  /** Every set of sites (smallest first) whose loss together the cluster survives. */
  survivableSiteSets: string[][]
  /** Per member (nodes and witness): does the cluster survive losing it alone? */
  singleFailures: Record<string, boolean>
  /** Splits of the node sites into two sides of equal votes, with no witness to break the tie. */
  evenSplits: EvenSplit[]
  warnings: string[]
}

export function analyseQuorum(t: Topology): QuorumAnalysis {
  const weights = new Map<string, number>()
  const siteOf = new Map<string, string>()
  for (const s of t.sites)
    for (const n of s.nodes) {
      weights.set(n.name, n.votes)
      siteOf.set(n.name, s.name)
    }
  const w = t.witness
  if (w !== undefined) {
    weights.set(w.name, w.votes)
    siteOf.set(w.name, w.site)
  }
  const sites = [...new Set(siteOf.values())]
  const warnings: string[] = []

  if (t.quorum.model === 'disk' || t.quorum.model === 'local') {
    // One vote: the quorum disk (any node that reaches it) or the lab's only node.
    const members = [...weights.keys()]
    const survives = (lost: Set<string>) =>
      t.quorum.model === 'disk' ? members.some((m) => !lost.has(m)) : members.every((m) => !lost.has(m))
    if (t.quorum.model === 'disk' && sites.length > 1)
      warnings.push(
        `the disk model is for one data center: nodes at ${sites.length} sites share one disk, which no site can lose`,
      )
    if (t.quorum.model === 'disk')
      warnings.push(
        'the quorum disk is the only vote: losing it (or the storage behind it) stops the cluster',
      )
    const bySite = (site: string) => new Set(members.filter((m) => siteOf.get(m) === site))
    return {
      model: t.quorum.model,
      votesTotal: 1,
      votesNeeded: 1,
      siteLoss: Object.fromEntries(sites.map((s) => [s, survives(bySite(s))])),
      siteLossWithoutWitness: null,
      survivableSiteSets: subsets(sites).filter((set) =>
        survives(new Set(set.flatMap((s) => [...bySite(s)]))),
      ),
      singleFailures: Object.fromEntries(members.map((m) => [m, survives(new Set([m]))])),
      evenSplits: [],
      warnings,
    }
  }

  const total = [...weights.values()].reduce((a, b) => a + b, 0)
  const needed = votesNeeded(weights)
  const quorateWithout = (lost: Set<string>) =>
    hasMajority(
      weights,
      [...weights.keys()].filter((m) => !lost.has(m)),
    )
  const membersOf = (set: string[]) => new Set([...siteOf].filter(([, s]) => set.includes(s)).map(([m]) => m))
  const siteLoss = Object.fromEntries(sites.map((s) => [s, quorateWithout(membersOf([s]))]))
  const siteLossWithoutWitness =
    w === undefined
      ? null
      : Object.fromEntries(
          sites
            .filter((s) => s !== w.site)
            .map((s) => [s, quorateWithout(new Set([...membersOf([s]), w.name]))]),
        )
  const survivableSiteSets = subsets(sites).filter((set) => quorateWithout(membersOf(set)))
  const singleFailures = Object.fromEntries([...weights.keys()].map((m) => [m, quorateWithout(new Set([m]))]))

  if (w === undefined && total % 2 === 0 && t.quorum.tieBreaker === undefined)
    warnings.push(
      `${total} votes and no witness: a split into two halves leaves neither side quorate; add a witness at a third site (or give one node 0 votes)`,
    )
  for (const s of sites) {
    const inSite = [...membersOf([s])].reduce((sum, m) => sum + (weights.get(m) ?? 0), 0)
    if (sites.length > 1 && inSite >= needed)
      warnings.push(
        `site ${s} holds ${inSite} of ${total} votes, a majority by itself: the cluster stops whenever it is lost or cut off`,
      )
  }
  if (w !== undefined && t.sites.some((s) => s.name === w.site))
    warnings.push(
      `the witness ${w.name} is at site ${w.site} with nodes: losing that site loses its vote too; put it at a third site`,
    )
  const splits = evenSplits(t)
  const preferred = t.quorum.tieBreaker?.preferSite
  for (const split of splits)
    if (preferred !== undefined && !(split.survivor ?? []).includes(preferred))
      warnings.push(
        `tieBreaker.preferSite ${preferred} does not decide ${split.text.split(':')[0]}: ${split.survivor === null ? 'neither side' : split.survivor.join(' + ')} keeps quorum`,
      )
  if (sites.length > 1 && !Object.values(siteLoss).some(Boolean))
    warnings.push('no single site can be lost: every site is needed for quorum')
  return {
    model: t.quorum.model,
    votesTotal: total,
    votesNeeded: needed,
    siteLoss,
    siteLossWithoutWitness,
    survivableSiteSets,
    singleFailures,
    evenSplits: splits,
    warnings,
  }
}

/** Every non-empty proper subset of `xs`, smallest first (sites are few: at most 2^n). */
function subsets(xs: string[]): string[][] {
  const out: string[][] = []
  const n = Math.min(xs.length, 12)
  for (let mask = 1; mask < 1 << n; mask++) {
    if (mask === (1 << n) - 1) continue
    out.push(xs.filter((_, i) => (mask & (1 << i)) !== 0))
  }
  return out.sort((a, b) => a.length - b.length)
}
