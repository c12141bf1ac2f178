/** The voting configuration every member starts from: the topology's nodes and witness with their votes. */
import { initialConfiguration } from '../consensus/configuration.ts'
import type { Configuration, WeightTable } from '../consensus/types.ts'
import type { Topology } from '../topology/topologySchema.ts'

export function topologyConfiguration(t: Topology): Configuration {
  const base: WeightTable = {}
  for (const site of t.sites) for (const n of site.nodes) base[n.name] = n.votes
  if (t.witness !== undefined) base[t.witness.name] = t.witness.votes
  return initialConfiguration(base, t.witness?.name ?? null)
}
