/**
 * The simulator's safety checks, run as events happen (each is cheap and incremental):
 * one leader per term; log matching (same index and term ⇒ same entry and same history);
 * leader completeness; every node applies the same entries in the same order; acknowledged
 * writes stay; terms and votes on disk never regress; W never decreases; configurations hold
 * valid weights. Each check counts what it examined, so a run proves the checks ran.
 */
import { configurationProblem } from '../../src/consensus/quorum/jointQuorum.ts'
import type { Configuration, Entry, HardState } from '../../src/consensus/types.ts'

export class Violation extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'Violation'
  }
}

function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

const decoder = new TextDecoder()

export function entryDigest(e: Entry): number {
  return hashString(`${e.kind}|${decoder.decode(e.data)}`)
}

export interface CheckCounts {
  leaders: number
  logMatching: number
  applied: number
  leaderCompleteness: number
  hardStates: number
  configs: number
  acked: number
}

export class Invariants {
  /** term -> leader */
  private readonly leaders = new Map<number, string>()
  /** `${index}:${term}` -> chained digest of the log up to that entry */
  private readonly chains = new Map<string, number>()
  /** per node: index -> chain digest of what it holds on disk */
  private readonly nodeChains = new Map<string, Map<number, number>>()
  /** index -> the committed entry (term, digest, chain), learned from applies */
  readonly committed = new Map<number, { term: number; digest: number; chain: number }>()
  private readonly hardStates = new Map<string, HardState>()
  readonly counts: CheckCounts = {
    leaders: 0,
    logMatching: 0,
    applied: 0,
    leaderCompleteness: 0,
    hardStates: 0,
    configs: 0,
    acked: 0,
  }

  leaderElected(node: string, term: number): void {
    this.counts.leaders++
    const other = this.leaders.get(term)
    if (other !== undefined && other !== node)
      throw new Violation(`two leaders in term ${term}: ${other} and ${node}`)
    this.leaders.set(term, node)
  }

  /** Entries reached `node`'s disk, overwriting from their first index. */
  persisted(node: string, entries: Entry[], snapshotIndex: number): void {
    let chain = this.nodeChains.get(node)
    if (chain === undefined) {
      chain = new Map()
      this.nodeChains.set(node, chain)
    }
    for (const e of entries) {
      for (const i of [...chain.keys()]) if (i >= e.index) chain.delete(i)
      const prev =
        e.index - 1 === 0
          ? 0
          : (chain.get(e.index - 1) ??
            (e.index - 1 === snapshotIndex ? this.committedChain(snapshotIndex) : undefined))
      if (prev === undefined) {
        if (e.index - 1 > snapshotIndex)
          throw new Violation(`${node} persisted entry ${e.index} without holding entry ${e.index - 1}`)
        continue // history before a snapshot nobody applied yet: nothing to compare with
      }
      const digest = hashString(`${e.term}|${entryDigest(e)}`, prev)
      chain.set(e.index, digest)
      const key = `${e.index}:${e.term}`
      const known = this.chains.get(key)
      this.counts.logMatching++
      if (known === undefined) this.chains.set(key, digest)
      else if (known !== digest) {
        throw new Violation(
          `log matching: ${node} holds entry ${e.index} of term ${e.term} with a history other nodes do not share`,
        )
      }
    }
  }

  snapshotInstalled(node: string, index: number): void {
    const chain = new Map<number, number>()
    const c = this.committed.get(index)
    if (index > 0 && c === undefined) {
      // A snapshot covers only committed entries; if nobody applied them yet we cannot check.
      this.nodeChains.set(node, chain)
      return
    }
    if (c !== undefined) chain.set(index, c.chain)
    this.nodeChains.set(node, chain)
  }

  reset(node: string): void {
    this.nodeChains.set(node, new Map())
  }

  /** `node` applied `e`: it must be the committed entry at that index, in order. */
  applied(node: string, e: Entry, previousApplied: number): void {
    this.counts.applied++
    if (e.index !== previousApplied + 1)
      throw new Violation(`${node} applied ${e.index} after ${previousApplied}`)
    const digest = entryDigest(e)
    const chain = this.nodeChains.get(node)?.get(e.index)
    const known = this.committed.get(e.index)
    if (known === undefined) {
      this.committed.set(e.index, { term: e.term, digest, chain: chain ?? 0 })
      return
    }
    if (known.term !== e.term || known.digest !== digest) {
      throw new Violation(
        `state machine safety: ${node} applied entry ${e.index} of term ${e.term}, others applied term ${known.term} there`,
      )
    }
    if (known.chain === 0 && chain !== undefined) known.chain = chain
  }

  /** A new leader must hold every entry known to be committed (it persisted them). */
  leaderComplete(
    node: string,
    lastIndex: number,
    termAt: (index: number) => number | undefined,
    snapshotIndex: number,
  ): void {
    for (const [index, c] of this.committed) {
      this.counts.leaderCompleteness++
      if (index <= snapshotIndex) continue
      if (index > lastIndex)
        throw new Violation(
          `leader completeness: ${node} leads without committed entry ${index} (its log ends at ${lastIndex})`,
        )
      const t = termAt(index)
      if (t !== c.term)
        throw new Violation(
          `leader completeness: ${node} leads with term ${t} at committed index ${index} (committed term ${c.term})`,
        )
    }
  }

  hardState(node: string, h: HardState): void {
    this.counts.hardStates++
    const before = this.hardStates.get(node)
    if (before !== undefined) {
      if (h.term < before.term)
        throw new Violation(`${node}: term on disk went back from ${before.term} to ${h.term}`)
      if (h.term === before.term && before.vote !== null && h.vote !== before.vote) {
        throw new Violation(`${node}: vote in term ${h.term} changed from ${before.vote} to ${h.vote}`)
      }
      if (before.mark !== undefined && h.mark !== undefined) {
        const back =
          h.mark.term < before.mark.term ||
          (h.mark.term === before.mark.term && h.mark.index < before.mark.index)
        if (back)
          throw new Violation(
            `${node}: W went back from ${JSON.stringify(before.mark)} to ${JSON.stringify(h.mark)}`,
          )
      }
    }
    this.hardStates.set(node, { ...h })
  }

  /** A wipe (forced quorum) legitimately restarts a node's history. */
  forgetHardState(node: string): void {
    this.hardStates.delete(node)
  }

  config(node: string, c: Configuration): void {
    this.counts.configs++
    const problem = configurationProblem(c)
    if (problem !== null) throw new Violation(`${node}: invalid configuration: ${problem}`)
    for (const [id, w] of Object.entries(c.incoming)) {
      if (w > (c.base[id] ?? 0))
        throw new Violation(`${node}: ${id} votes with ${w}, more than its configured ${c.base[id] ?? 0}`)
    }
  }

  ackedStays(opId: number, index: number, digest: number): void {
    this.counts.acked++
    const c = this.committed.get(index)
    if (c === undefined || c.digest !== digest)
      throw new Violation(`acknowledged write ${opId} at index ${index} is not the committed entry there`)
  }

  private committedChain(index: number): number | undefined {
    return this.committed.get(index)?.chain
  }
}
