/**
 * The in-memory view of the replicated log: entries after the last snapshot, how far they are
 * persisted (`stable`), committed and handed out for applying (`applied`). The runtime keeps the
 * durable copy; this object only tracks what the core needs to decide.
 */
import { assert } from '../errors/assert.ts'
import type { Entry, SnapshotMeta } from './types.ts'

export class RaftLog {
  private snapshot: SnapshotMeta
  private entries: Entry[]
  /** Highest index known to be on stable storage. */
  stable: number
  committed: number
  /** Highest index handed to the runtime for applying. */
  applied: number

  constructor(snapshot: SnapshotMeta, entries: Entry[], committed: number) {
    this.snapshot = { ...snapshot }
    this.entries = []
    this.stable = snapshot.index
    this.committed = snapshot.index
    this.applied = snapshot.index
    this.append(entries)
    this.stable = this.lastIndex()
    this.commitTo(Math.min(Math.max(committed, snapshot.index), this.lastIndex()))
  }

  firstIndex(): number {
    return this.snapshot.index + 1
  }

  lastIndex(): number {
    return this.snapshot.index + this.entries.length
  }

  lastTerm(): number {
    return this.entries.length === 0 ? this.snapshot.term : this.entries[this.entries.length - 1]!.term
  }

  /** Term of the entry at `index`, or undefined when it is compacted away or not there yet. */
  term(index: number): number | undefined {
    if (index === this.snapshot.index) return this.snapshot.term
    return this.entry(index)?.term
  }

  entry(index: number): Entry | undefined {
    if (index <= this.snapshot.index || index > this.lastIndex()) return undefined
    return this.entries[index - this.snapshot.index - 1]
  }

  /**
   * Appends entries that follow on from (or overwrite part of) the log. Overwriting a committed
   * entry is the one thing a Raft log must never do.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return
    const first = entries[0]!.index
    assert(first > this.committed, () => `append at ${first} would overwrite committed ${this.committed}`)
    assert(first <= this.lastIndex() + 1, () => `append at ${first} leaves a gap after ${this.lastIndex()}`)
    for (let i = 1; i < entries.length; i++) {
      assert(entries[i]!.index === first + i, 'appended entries are not contiguous')
    }
    this.entries.length = first - this.snapshot.index - 1
    this.entries.push(...entries)
    this.stable = Math.min(this.stable, first - 1)
  }

  unstableEntries(): Entry[] {
    return this.entries.slice(this.stable - this.snapshot.index)
  }

  stableTo(index: number): void {
    assert(index <= this.lastIndex(), () => `stable ${index} beyond last ${this.lastIndex()}`)
    if (index > this.stable) this.stable = index
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false
    assert(index <= this.lastIndex(), () => `commit ${index} beyond the log's last ${this.lastIndex()}`)
    this.committed = index
    return true
  }

  /** Committed entries not yet handed out for applying. */
  nextCommitted(): Entry[] {
    if (this.committed <= this.applied) return []
    return this.entries.slice(this.applied - this.snapshot.index, this.committed - this.snapshot.index)
  }

  appliedTo(index: number): void {
    assert(index <= this.committed, () => `applied ${index} beyond committed ${this.committed}`)
    if (index > this.applied) this.applied = index
  }

  /** Forgets entries up to `meta.index`, which a durable snapshot now covers. */
  compact(meta: SnapshotMeta): void {
    assert(meta.index <= this.applied, () => `compact ${meta.index} beyond applied ${this.applied}`)
    if (meta.index <= this.snapshot.index) return
    assert(this.term(meta.index) === meta.term, () => `snapshot term ${meta.term} does not match the log`)
    this.entries = this.entries.slice(meta.index - this.snapshot.index)
    this.snapshot = { ...meta }
  }

  snapshotMeta(): SnapshotMeta {
    return { ...this.snapshot }
  }
}
