/**
 * "No acknowledged write lost": after every fault is healed, each key's final value must not be
 * older than an acknowledged write — a write that was acknowledged and began after the final
 * value's write had returned would have overwritten it. Returns how many acknowledged writes it
 * checked and the keys where one was lost.
 */
import type { HistoryOp } from '../sim/linearizability.ts'

export function lostWrites(
  history: readonly HistoryOp[],
  finals: readonly HistoryOp[],
): { checked: number; lost: string[] } {
  const acked = history.filter((h) => h.op.kind === 'write' && h.returnedAt !== undefined)
  const lost: string[] = []
  for (const f of finals) {
    if (f.op.kind !== 'read' || f.result === undefined || f.returnedAt === undefined) continue
    const key = f.op.key
    const ackedHere = acked.filter((w) => w.op.key === key)
    if (f.result === null) {
      if (ackedHere.length > 0) lost.push(key)
      continue
    }
    const value = f.result
    const writer = history.find((h) => h.op.kind === 'write' && h.op.key === key && h.op.value === value)
    if (writer === undefined) {
      lost.push(key) // a value nobody wrote
      continue
    }
    const overwrittenBy = ackedHere.filter(
      (w) => writer.returnedAt !== undefined && w.invokedAt > writer.returnedAt,
    )
    if (overwrittenBy.length > 0) lost.push(key)
  }
  return { checked: acked.length, lost }
}
