/**
 * Applying one committed command entry, the same way on every node: a command this code reads
 * is applied (the database may still refuse it, deterministically); a command of a known kind
 * with a field this code does not accept is refused and audited, not applied and not fatal, so
 * an entry committed before a check existed can never crash-loop the cluster. Only an entry this
 * code cannot read at all (another version's, or of a functional level above what this node
 * supports) stops the node: it could not follow the others.
 */
import type { ApplyResult, ClusterDatabase } from './clusterDatabase.ts'
import { type CommandEnvelope, decodeEnvelope } from './commands.ts'
import { functionalLevelMax } from './functionalLevel.ts'

/** A command's entry once committed and applied: where it stands in the log, and what applying it gave. */
export interface AppliedCommand {
  index: number
  result: ApplyResult
}

export type CommittedOutcome =
  | { kind: 'applied'; envelope: CommandEnvelope; result: ApplyResult }
  | { kind: 'refused'; problem: string }
  | { kind: 'unreadable'; problem: string }

export function applyCommitted(
  db: ClusterDatabase,
  index: number,
  data: Uint8Array,
  supportedLevel = functionalLevelMax,
): CommittedOutcome {
  const decoded = decodeEnvelope(data, supportedLevel)
  if (decoded.ok) {
    const { command, by, at } = decoded.envelope
    return { kind: 'applied', envelope: decoded.envelope, result: db.applyAs(index, command, { by, at }) }
  }
  if (!decoded.known) return { kind: 'unreadable', problem: decoded.problem }
  db.refuse(index, { op: decoded.op, by: decoded.by, at: decoded.at, reason: decoded.problem })
  return { kind: 'refused', problem: `${decoded.op}: ${decoded.problem}` }
}
