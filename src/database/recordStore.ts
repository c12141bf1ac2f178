/**
 * The cluster database's records, keyed by path, with what they weigh: bytes in all (as JSON,
 * the snapshot's encoding) and records and bytes per kind. The quota checks read these, so the
 * database — and with it every snapshot a node writes or sends — stays within known bounds.
 */
import type { DbRecord } from './entities.ts'

const weigh = (path: string, record: DbRecord) => path.length + JSON.stringify(record).length

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return
  Object.freeze(value)
  for (const v of Object.values(value)) deepFreeze(v)
}

export class RecordStore extends Map<string, DbRecord> {
  private total = 0
  private readonly kindBytes = new Map<DbRecord['kind'], number>()
  private readonly kindCount = new Map<DbRecord['kind'], number>()
  private readonly weights = new Map<string, number>()
  /**
   * The records of each kind: the planner lists groups, resources and nodes every tick, and a
   * scan of the whole store costs as much as its config keys (up to 100,000; 6.6 % of the lab
   * node's CPU under bench:db's writers, from three scans a tick).
   */
  private readonly kinds = new Map<DbRecord['kind'], Map<string, DbRecord>>()

  /** Approximate encoded size of every record. */
  get bytes(): number {
    return this.total
  }

  bytesOf(kind: DbRecord['kind']): number {
    return this.kindBytes.get(kind) ?? 0
  }

  countOf(kind: DbRecord['kind']): number {
    return this.kindCount.get(kind) ?? 0
  }

  /** The records of one kind. */
  ofKind(kind: DbRecord['kind']): Iterable<DbRecord> {
    return (this.kinds.get(kind) ?? new Map<string, DbRecord>()).values()
  }

  /** What the record at `path` weighs now (0 when there is none). */
  weightOf(path: string): number {
    return this.weights.get(path) ?? 0
  }

  override set(path: string, record: DbRecord): this {
    // Records are replaced, never changed in place: a snapshot can then hold the records of one
    // moment by reference while the database goes on (frozen, so a change in place throws).
    deepFreeze(record)
    const old = this.get(path)
    if (old !== undefined && old.kind !== record.kind) this.kinds.get(old.kind)?.delete(path)
    this.forget(path)
    const w = weigh(path, record)
    this.weights.set(path, w)
    this.total += w
    this.kindBytes.set(record.kind, this.bytesOf(record.kind) + w)
    this.kindCount.set(record.kind, this.countOf(record.kind) + 1)
    const ofKind = this.kinds.get(record.kind) ?? new Map<string, DbRecord>()
    this.kinds.set(record.kind, ofKind.set(path, record))
    return super.set(path, record)
  }

  override delete(path: string): boolean {
    const old = this.get(path)
    if (old !== undefined) this.kinds.get(old.kind)?.delete(path)
    this.forget(path)
    return super.delete(path)
  }

  override clear(): void {
    this.total = 0
    this.kindBytes.clear()
    this.kindCount.clear()
    this.weights.clear()
    this.kinds.clear()
    super.clear()
  }

  private forget(path: string): void {
    const old = this.get(path)
    const w = this.weights.get(path)
    if (old === undefined || w === undefined) return
    this.weights.delete(path)
    this.total -= w
    this.kindBytes.set(old.kind, this.bytesOf(old.kind) - w)
    this.kindCount.set(old.kind, this.countOf(old.kind) - 1)
  }
}
