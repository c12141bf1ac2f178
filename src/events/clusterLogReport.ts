/**
 * The cluster log, as members send it to each other and the API hands it to the CLI: every
 * member's events merged in time order (`events --cluster`, `Get-ClusterLog`), and what a
 * support case needs of each member (`log collect`, `crm_report`). Shared here, below the
 * runtime that gathers it and the API and CLI that read it.
 */
import type { ClusterEvent } from './clusterEvent.ts'
import { readClusterEvent } from './clusterEventSchema.ts'

/** A member asked for its part: whether it answered, and if not, why. */
export interface MemberOutcome {
  node: string
  /** Why it did not answer (unreachable, too slow, refused), or null. */
  error: string | null
}

/** `GET /v1/events/cluster`: every member's events, merged, and who answered. */
export interface ClusterEvents {
  events: ClusterEvent[]
  members: (MemberOutcome & { events: number })[]
}

/** What a member says for a support case, secrets removed. */
export interface SupportReport {
  node: string
  site: string
  version: string
  /** Its wall clock when it answered (ms). */
  wallMs: number
  /** Its status document: the cluster as it sees it. */
  status: unknown
  /** The topology it started with. */
  topology: unknown
  /** Its newest events (from before restarts too), oldest first. */
  events: ClusterEvent[]
}

/** `GET /v1/log/collect`: every member's support report, for one archive. */
export interface SupportBundle {
  format: 'geocluster.support/1'
  cluster: string
  collectedBy: string
  /** ISO 8601, the collecting node's clock. */
  collectedAt: string
  members: (MemberOutcome & { report: SupportReport | null })[]
}

/** Orders two events by wall-clock time, then member, then the member's own sequence. */
function earlier(a: ClusterEvent, b: ClusterEvent): number {
  // Every time is `Date.toISOString()` (UTC, milliseconds): text order is time order.
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  if (a.node !== b.node) return a.node < b.node ? -1 : 1
  return a.seq - b.seq
}

/**
 * Members' events as one list in time order, the newest `limit` of them. What a member sent is
 * checked first: anything that is not an event is left out, never trusted.
 */
export function mergeMemberEvents(lists: readonly unknown[][], limit: number): ClusterEvent[] {
  const all: ClusterEvent[] = []
  for (const list of lists)
    for (const value of list) {
      const event = readClusterEvent(value)
      if (event !== null) all.push(event)
    }
  all.sort(earlier)
  return all.slice(Math.max(0, all.length - limit))
}

/**
 * A member's support report as it came over the mesh, checked: the fields the archive is made
 * of have their types (anything else is left out), events are events, and the node is the one
 * that was asked.
 */
export function readSupportReport(value: unknown, asked: string): SupportReport {
  const v = (value !== null && typeof value === 'object' ? value : {}) as Record<string, unknown>
  const text = (x: unknown) => (typeof x === 'string' ? x.slice(0, 256) : '')
  return {
    node: asked,
    site: text(v.site),
    version: text(v.version),
    wallMs: typeof v.wallMs === 'number' && Number.isFinite(v.wallMs) ? v.wallMs : 0,
    status: v.status ?? null,
    topology: v.topology ?? null,
    events: mergeMemberEvents([Array.isArray(v.events) ? v.events : []], Number.MAX_SAFE_INTEGER),
  }
}
