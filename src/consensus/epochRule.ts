/**
 * What a node does when it meets a node of another epoch (forced quorum). Pure: the core asks
 * it for every message whose epoch is not its own.
 *
 * A confirmed forced epoch is authoritative (WSFC's "golden" copy): older epochs follow it,
 * giving up whatever they hold beyond it; the operator asserted that by confirming.
 * An unconfirmed one is only a proposal and makes nobody give anything up: no other node follows
 * it (a survivor that wiped itself to join it would lose the entries of the old epoch that only
 * it held, and a forced node that crashes or yields would leave it a history nobody holds), and
 * it yields to a leader of an older epoch that it meets, so an operator who forced the wrong
 * side loses nothing until they confirm. Survivors join once it is confirmed. Two different
 * epochs of the same number are never merged: an unconfirmed one yields to a confirmed one; two
 * unconfirmed ones wait for their operators; when both are confirmed each side is told and
 * stops taking writes and granting leases, naming both.
 */
import type { EpochIdentity } from './configuration.ts'

export type EpochMeeting =
  /** Wipe local state and follow the sender's epoch (rebuilt from its leader). */
  | 'follow'
  /** Stay; tell the sender which epoch this node is in. */
  | 'tell'
  /** Two confirmed histories: stop, and tell the sender. */
  | 'conflict'

export interface EpochContext {
  /** The message comes from a leader of its epoch (append, heartbeat, snapshot). */
  fromLeader: boolean
}

export function meetEpoch(mine: EpochIdentity, theirs: EpochIdentity, ctx: EpochContext): EpochMeeting {
  if (theirs.epoch > mine.epoch) return theirs.unconfirmed ? 'tell' : 'follow'
  if (theirs.epoch < mine.epoch) return mine.unconfirmed && ctx.fromLeader ? 'follow' : 'tell'
  // The same number, another history.
  if (mine.unconfirmed !== theirs.unconfirmed) return mine.unconfirmed ? 'follow' : 'tell'
  // Neither has taken a write, and either may hold entries the other lacks: each waits for
  // its operator to confirm one.
  if (mine.unconfirmed) return 'tell'
  return 'conflict'
}
