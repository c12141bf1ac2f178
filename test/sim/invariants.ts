/**
 * The simulator's safety checks, run as events happen (each is cheap and incremental):
 * one leader per term; log matching (same index and term ⇒ same entry and same history);
 * leader completeness; every node applies the same entries in the same order; acknowledged
 * writes stay; terms and votes on disk never regress; W never decreases; configurations hold
 * valid weights. Each check counts what it examined, so a run proves the checks ran.
 *
 * Epochs (forced quorum): each history is checked on its own. A node's history is named by the
 * epoch it is in as far as these checks know (`epochOf`), which changes only when the node is
 * forced (`forked`: the new history starts from that node's log) or wipes its state to follow
 * another epoch (`joined`). A node whose configuration names another epoch without either —
 * two histories merged — breaks the epoch-identity check.
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
  /** Checks that a node's configuration names the epoch its history belongs to. */
  epochIdentity: number
}

/** The epoch a history belongs to: its number and identity (who forced it, and a nonce). */
export function epochKey(c: Pick<Configuration, 'epoch' | 'epochId'>): string {
  return `${c.epoch}/${c.epochId ?? ''}`
}

export const initialEpoch = '0/'

/**
 * A committed entry: its term, digest and chain, and `by`: a term at or after the one it was
 * committed in (the lowest term of a node that applied it), for leader completeness.
 */
type Committed = { term: number; digest: number; chain: number; by: number }

export class Invariants {
  /** `${epoch}|${term}` -> leader */
  private readonly leaders = new Map<string, string>()
  /** `${epoch}|${index}:${term}` -> chained digest of the log up to that entry */
  private readonly chains = new Map<string, number>()
  /** per node: index -> (term, chain digest) of what it holds on disk */
  private readonly nodeChains = new Map<string, Map<number, { term: number; chain: number }>>()
  /** per epoch: index -> the committed entry (term, digest, chain), learned from applies */
  private readonly committedBy = new Map<string, Map<number, Committed>>([[initialEpoch, new Map()]])
  /** The epoch each node's history belongs to. */
  private readonly nodeEpochs = new Map<string, string>()
  private readonly hardStates = new Map<string, HardState>()
  readonly counts: CheckCounts = {
    leaders: 0,
    logMatching: 0,
    applied: 0,
    leaderCompleteness: 0,
    hardStates: 0,
    configs: 0,
    acked: 0,
    epochIdentity: 0,
  }

  /** The committed entries of the initial history (the only one without forced quorum). */
  get committed(): Map<number, Committed> {
    return this.committedIn(initialEpoch)
  }

  committedIn(epoch: string): Map<number, Committed> {
    let c = this.committedBy.get(epoch)
    if (c === undefined) {
      c = new Map()
      this.committedBy.set(epoch, c)
    }
    return c
  }

  /** The highest index known committed in `epoch`. */
  lastCommitted(epoch: string): number {
    let last = 0
    for (const i of this.committedIn(epoch).keys()) if (i > last) last = i
    return last
  }

  epochOf(node: string): string {
    return this.nodeEpochs.get(node) ?? initialEpoch
  }

  /**
   * `node` was forced into `to`: the new history is its log as it stands (its chain carries over)
   * and every entry of the old one it had applied (`applied`), which were committed there.
   */
  forked(node: string, to: string, applied: number): void {
    const from = this.epochOf(node)
    const committed = this.committedIn(to)
    for (const [index, c] of this.committedIn(from)) if (index <= applied) committed.set(index, { ...c })
    for (const [index, { term, chain }] of this.nodeChains.get(node) ?? new Map())
      this.chains.set(`${to}|${index}:${term}`, chain)
    this.nodeEpochs.set(node, to)
  }

  /** `node` wiped its state to follow `to` (a reset): its history starts again there. */
  joined(node: string, to: string): void {
    this.nodeEpochs.set(node, to)
    this.reset(node)
    this.forgetHardState(node)
  }

  /**
   * `node`'s history now belongs to `to` with what it holds kept: it restarted from a disk that
   * names `to` (a wiped node that had received no configuration of its new epoch starts in the
   * initial one), or installed a snapshot that names `to`.
   */
  movedTo(node: string, to: string): void {
    this.nodeEpochs.set(node, to)
  }

  /** The node's configuration must name the epoch its history belongs to. */
  epochIdentity(node: string, configEpoch: string): void {
    this.counts.epochIdentity++
    const mine = this.epochOf(node)
    if (configEpoch !== mine)
      throw new Violation(
        `epoch identity: ${node}'s history is epoch ${mine}, but its configuration now names epoch ${configEpoch} (two histories merged without a wipe)`,
      )
  }

  leaderElected(node: string, term: number): void {
    this.counts.leaders++
    const key = `${this.epochOf(node)}|${term}`
    const other = this.leaders.get(key)
    if (other !== undefined && other !== node)
      throw new Violation(`two leaders in term ${term} (epoch ${this.epochOf(node)}): ${other} and ${node}`)
    this.leaders.set(key, node)
  }

  /** Entries reached `node`'s disk, overwriting from their first index. */
  persisted(node: string, entries: Entry[], snapshotIndex: number): void {
    let chain = this.nodeChains.get(node)
    if (chain === undefined) {
      chain = new Map()
      this.nodeChains.set(node, chain)
    }
    const epoch = this.epochOf(node)
    for (const e of entries) {
      for (const i of [...chain.keys()]) if (i >= e.index) chain.delete(i)
      const prev =
        e.index - 1 === 0
          ? 0
          : (chain.get(e.index - 1)?.chain ??
            (e.index - 1 === snapshotIndex ? this.committedChain(epoch, snapshotIndex) : undefined))
      if (prev === undefined) {
        if (e.index - 1 > snapshotIndex)
          throw new Violation(`${node} persisted entry ${e.index} without holding entry ${e.index - 1}`)
        continue // history before a snapshot nobody applied yet: nothing to compare with
      }
      const digest = hashString(`${e.term}|${entryDigest(e)}`, prev)
      chain.set(e.index, { term: e.term, chain: digest })
      const key = `${epoch}|${e.index}:${e.term}`
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
    const chain = new Map<number, { term: number; chain: number }>()
    const c = this.committedIn(this.epochOf(node)).get(index)
    if (index > 0 && c === undefined) {
      // A snapshot covers only committed entries; if nobody applied them yet we cannot check.
      this.nodeChains.set(node, chain)
      return
    }
    if (c !== undefined) chain.set(index, { term: c.term, chain: c.chain })
    this.nodeChains.set(node, chain)
  }

  reset(node: string): void {
    this.nodeChains.set(node, new Map())
  }

  /**
   * `node` applied `e`: it must be the committed entry at that index, in order. `nodeTerm`: the
   * node's term then (at or after the term the entry was committed in).
   */
  applied(node: string, e: Entry, previousApplied: number, nodeTerm = Number.POSITIVE_INFINITY): void {
    this.counts.applied++
    if (e.index !== previousApplied + 1)
      throw new Violation(`${node} applied ${e.index} after ${previousApplied}`)
    const digest = entryDigest(e)
    const chain = this.nodeChains.get(node)?.get(e.index)?.chain
    const committed = this.committedIn(this.epochOf(node))
    const known = committed.get(e.index)
    if (known === undefined) {
      committed.set(e.index, { term: e.term, digest, chain: chain ?? 0, by: nodeTerm })
      return
    }
    if (nodeTerm < known.by) known.by = nodeTerm
    if (known.term !== e.term || known.digest !== digest) {
      throw new Violation(
        `state machine safety: ${node} applied entry ${e.index} of term ${e.term}, others applied term ${known.term} there`,
      )
    }
    if (known.chain === 0 && chain !== undefined) known.chain = chain
  }

  /**
   * A new leader must hold every entry known to be committed in an earlier term (Raft's leader
   * completeness: a leader of a term is elected with votes cast in that term, so an entry
   * committed later, in a higher term, need not be there — with messages late by more than an
   * election, such a leader does come to power after the commit).
   */
  leaderComplete(
    node: string,
    lastIndex: number,
    termAt: (index: number) => number | undefined,
    snapshotIndex: number,
    leaderTerm = Number.POSITIVE_INFINITY,
  ): void {
    for (const [index, c] of this.committedIn(this.epochOf(node))) {
      this.counts.leaderCompleteness++
      if (index <= snapshotIndex || c.by >= leaderTerm) continue
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
      // W is an entry of one history: following a confirmed forced epoch starts it afresh.
      const markEpoch = (x: HardState) => `${x.markEpoch?.epoch ?? 0}/${x.markEpoch?.epochId ?? ''}`
      if (before.mark !== undefined && h.mark !== undefined && markEpoch(before) === markEpoch(h)) {
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

  ackedStays(opId: number, index: number, digest: number, epoch = initialEpoch): void {
    this.counts.acked++
    const c = this.committedIn(epoch).get(index)
    if (c === undefined || c.digest !== digest)
      throw new Violation(`acknowledged write ${opId} at index ${index} is not the committed entry there`)
  }

  private committedChain(epoch: string, index: number): number | undefined {
    return this.committedIn(epoch).get(index)?.chain
  }
}
