/**
 * What a node is, seen from this one: the one classification that placement (the leader's
 * planner) and the status document both read, so that they never disagree about the same facts.
 * Pure: the runtime gathers the facts (the failure detector, snapshot transfers, the database's
 * record, the downAfter rule) and shows or acts on the answer.
 */
import type { PeerState } from './failureDetector.ts'

export interface NodeFacts {
  /** This node itself (always heard). */
  self: boolean
  /** What the failure detector says of it (undefined: not a member it watches). */
  seen: PeerState | undefined
  /** A snapshot is on its way to it (or to this node, for itself): it is catching up. */
  catchingUp: boolean
  /** Its lease has certainly ended (downAfter past the last grant it could hold). */
  leaseEnded: boolean
  paused: boolean
  evicted: boolean
}

export interface NodeState {
  /** As people see it: paused shows while it is up; evicted is for good. */
  shown: 'up' | 'down' | 'joining' | 'paused' | 'evicted'
  /** Heard from and caught up: its vote counts among the votes present. */
  present: boolean
  /**
   * For placement: up (heard within its detection time), down (its lease has certainly ended, so
   * its groups may start elsewhere), suspect (neither yet: its groups wait).
   */
  placement: 'up' | 'suspect' | 'down'
}

export function classifyNode(f: NodeFacts): NodeState {
  const heard = f.self || f.seen === 'up'
  const seen: 'up' | 'down' | 'joining' = f.catchingUp ? 'joining' : f.self ? 'up' : (f.seen ?? 'down')
  return {
    shown: f.evicted ? 'evicted' : f.paused && seen === 'up' ? 'paused' : seen,
    present: seen === 'up',
    placement: heard ? 'up' : f.leaseEnded ? 'down' : 'suspect',
  }
}
