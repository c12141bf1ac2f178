/**
 * What the leader knows of each node, for placement (`NodeView`): up when heard, down once every
 * lease it may hold has certainly ended (`reassignableAtMs`), suspect in between. Pure: the
 * runtime's failover driver and the simulator build the views the planner gets with it.
 */
import type { NodeRecord } from '../database/entities.ts'
import type { PeerState } from '../membership/failureDetector.ts'
import { classifyNode } from '../membership/nodeState.ts'
import type { NodeView } from './failoverPlanner.ts'
import { reassignableAtMs } from './leaseAuthority.ts'

export interface PlacementFacts {
  nodes: readonly NodeRecord[]
  /** The leader itself. */
  self: string
  nowMs: number
  /** The leader is stopping: it takes no groups (as if paused and draining). */
  stopping: boolean
  /** The failure detector's view of a peer (undefined: not tracked). */
  seen(name: string): PeerState | undefined
  /** When the leader last heard from a peer (null: never). */
  lastHeardMs(name: string): number | null
  /** Since when a peer has been up without a break (the leader: since it started). */
  upSinceMs(name: string): number | undefined
  /** Before when every lease an earlier leader granted was asked for (leaseAuthority.ts). */
  earlierLeasesAskedBeforeMs: number
  downAfterMs: number
}

export function placementViews(f: PlacementFacts): NodeView[] {
  return f.nodes.map((n) => {
    const self = n.name === f.self
    const lastHeard = self ? f.nowMs : f.lastHeardMs(n.name)
    const { placement } = classifyNode({
      self,
      seen: f.seen(n.name),
      catchingUp: false,
      leaseEnded: f.nowMs >= reassignableAtMs(lastHeard, f.earlierLeasesAskedBeforeMs, f.downAfterMs),
      paused: n.paused === true,
      evicted: n.evicted === true,
    })
    const upSince = f.upSinceMs(n.name)
    return {
      name: n.name,
      site: n.site,
      state: placement,
      upForMs: placement === 'up' && upSince !== undefined ? f.nowMs - upSince : 0,
      paused: n.paused === true || (self && f.stopping),
      draining: n.draining === true || (self && f.stopping),
      evicted: n.evicted === true,
    }
  })
}
