/**
 * The cluster log (seed 000's Event Log Manager, `Get-ClusterLog`, `crm_report`): this node's
 * own events and support report, and every member's, asked over the mesh as memberReports.ts
 * asks for self-reports. A member that does not answer in time is named with the reason; the
 * others' parts still come back.
 */

import { GeoclusterError } from '../errors/errors.ts'
import type { ClusterEvent } from '../events/clusterEvent.ts'
import {
  type ClusterEvents,
  mergeMemberEvents,
  readSupportReport,
  type SupportBundle,
  type SupportReport,
} from '../events/clusterLogReport.ts'
import type { EventLog } from '../events/eventLog.ts'
import { redactSecrets } from '../events/secretRedaction.ts'
import type { CallAnswer, LeaderCall } from './leaderCalls.ts'
import { readAnswer } from './leaderCalls.ts'
import type { LeaderDesk } from './leaderDesk.ts'
import type { NodeContext } from './nodeContext.ts'

/** A member that has not answered within this long is reported as not answering. */
const memberWaitMs = 5_000
/** Events a member puts in its support report at most, and their encoded size at most. */
export const supportEventsMax = 5_000
const supportEventsBytesMax = 8 * 1024 * 1024

export interface ClusterLogParts extends Pick<NodeContext, 'name' | 'clock' | 'members'> {
  site: string
  version: string
  cluster: () => string
  /** The witness (no API, no events of its own to send), if any. */
  witness: string | undefined
  events: EventLog
  desk: Pick<LeaderDesk, 'ask'>
  /** This node's status document. */
  status: () => unknown
  /** The topology it started with. */
  topology: unknown
  /** Secret values to scrub from anything that leaves (the admin token). */
  secrets: () => string[]
}

export class ClusterLog {
  private readonly p: ClusterLogParts

  constructor(parts: ClusterLogParts) {
    this.p = parts
  }

  /** This node's newest `limit` events, oldest first. */
  ownEvents(limit: number): ClusterEvent[] {
    return this.p.events.recent(limit)
  }

  /** What a support case needs of this node, secrets removed. */
  ownReport(): SupportReport {
    const { p } = this
    let events = p.events.recent(supportEventsMax)
    // The report goes in one mesh frame: the oldest events give way to a size bound.
    let bytes = events.reduce((sum, e) => sum + JSON.stringify(e).length, 0)
    while (bytes > supportEventsBytesMax && events.length > 0) {
      bytes -= JSON.stringify(events[0]).length
      events = events.slice(1)
    }
    const report: SupportReport = {
      node: p.name,
      site: p.site,
      version: p.version,
      wallMs: p.clock.now(),
      status: p.status(),
      topology: p.topology,
      events,
    }
    return redactSecrets(report, p.secrets()) as SupportReport
  }

  /** Every member's newest `limit` events, merged in time order; members that did not answer say why. */
  async clusterEvents(limit: number): Promise<ClusterEvents> {
    const asked = await this.askEach({ method: 'recentEvents', limit }, () => this.ownEvents(limit))
    const lists = asked.map((a) => (Array.isArray(a.value) ? (a.value as unknown[]) : []))
    return {
      events: mergeMemberEvents(lists, limit),
      members: asked.map((a, i) => ({ node: a.node, error: a.error, events: lists[i]!.length })),
    }
  }

  /** Every member's support report, for one archive. */
  async supportBundle(): Promise<SupportBundle> {
    const asked = await this.askEach({ method: 'supportReport' }, () => this.ownReport())
    return {
      format: 'geocluster.support/1',
      cluster: this.p.cluster(),
      collectedBy: this.p.name,
      collectedAt: new Date(this.p.clock.now()).toISOString(),
      members: asked.map((a) => ({
        node: a.node,
        error: a.error,
        // Checked, and cleaned again here: what leaves must not depend on every member's care.
        report:
          a.error === null
            ? (redactSecrets(readSupportReport(a.value, a.node), this.p.secrets()) as SupportReport)
            : null,
      })),
    }
  }

  /** Asks every node (this one answers itself) in parallel, each within `memberWaitMs`. */
  private askEach(
    call: LeaderCall,
    here: () => unknown,
  ): Promise<{ node: string; value: unknown; error: string | null }[]> {
    const names = this.p
      .members()
      .map((m) => m.name)
      .filter((n) => n !== this.p.witness)
    if (!names.includes(this.p.name)) names.push(this.p.name)
    names.sort()
    return Promise.all(
      names.map(async (node) => {
        if (node === this.p.name) return { node, value: here(), error: null }
        try {
          const answer = await withDeadline(this.p.desk.ask(node, call, `node:${this.p.name}`), memberWaitMs)
          return { node, value: readAnswer(answer, node), error: null }
        } catch (error) {
          return { node, value: null, error: (error as Error).message }
        }
      }),
    )
  }
}

function withDeadline(answer: Promise<CallAnswer>, ms: number): Promise<CallAnswer> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new GeoclusterError('GC_ERR_UNREACHABLE', `no answer within ${ms / 1000} s`)),
      ms,
    )
  })
  return Promise.race([answer, late]).finally(() => clearTimeout(timer))
}
