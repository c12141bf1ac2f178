/**
 * What a node does when it meets a node of another epoch (forced quorum). Pure: the core asks
 * it for every message whose epoch is not its own.
 *
 * A confirmed forced epoch is authoritative (WSFC's "golden" copy): older epochs follow it.
 * An unconfirmed one is only a proposal: it is joined by survivors that have no working cluster
 * (long silent), and it yields to a working cluster of an older epoch that it meets, so an
 * operator who forced the wrong side loses nothing until they confirm. Two different epochs of
 * the same number are never merged: the unconfirmed one yields; when both are confirmed each
 * side is told and stops taking writes and granting leases, naming both.
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
  /** This node is part of a working cluster now (leads, or heard its leader lately). */
  quorate: boolean
  /** This node has heard no leader for a long time (two election timeouts): a survivor. */
  longSilent: boolean
  /** The message comes from a leader of its epoch (append, heartbeat, snapshot). */
  fromLeader: boolean
}

export function meetEpoch(mine: EpochIdentity, theirs: EpochIdentity, ctx: EpochContext): EpochMeeting {
  if (theirs.epoch > mine.epoch) {
    if (!theirs.unconfirmed) return 'follow'
    return !ctx.quorate && ctx.longSilent ? 'follow' : 'tell'
  }
  if (theirs.epoch < mine.epoch) return mine.unconfirmed && ctx.fromLeader ? 'follow' : 'tell'
  // The same number, another history.
  if (mine.unconfirmed !== theirs.unconfirmed) return mine.unconfirmed ? 'follow' : 'tell'
  // Neither has taken a write: one of them gives way, the same one on both sides.
  if (mine.unconfirmed) return theirs.epochId < mine.epochId ? 'follow' : 'tell'
  return 'conflict'
}
