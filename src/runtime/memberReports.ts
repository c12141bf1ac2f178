/**
 * What members say of themselves for `validate`'s live checks: this node's version, wall clock
 * and view of the others, and every member's own report asked over the mesh, with each one's
 * clock offset estimated from the round trip (NTP's midpoint rule).
 */
import type { MemberReport, SelfReport } from '../membership/memberReport.ts'
import { protocols } from '../mesh/mesh.ts'
import type { LeaderDesk } from './leaderDesk.ts'
import type { NodeContext } from './nodeContext.ts'

/** A member that has not answered within this long is reported as unreachable. */
const reportWaitMs = 2_000

export interface MemberReportsParts extends Pick<NodeContext, 'name' | 'clock' | 'mesh' | 'members' | 'db'> {
  site: string
  version: string
  /** The highest cluster functional level this node supports. */
  supportedLevel: number
  /** The witness, if any: a member, but no node. */
  witness: string | undefined
  /** The witness as a process that answers for itself (type node), if any. */
  witnessProcess: string | undefined
  desk: Pick<LeaderDesk, 'ask'>
  /** Where this node's admin API listens and how. */
  api: () => { url: string; tlsFingerprint: string | null } | null
  /** The cloud witness as this node finds it (null: none). */
  cloudWitness: () => SelfReport['cloudWitness']
}

export class MemberReports {
  private readonly p: MemberReportsParts

  constructor(parts: MemberReportsParts) {
    this.p = parts
  }

  /** What this node says of itself: version, levels, clock, its view of the others. */
  selfReport(): SelfReport {
    const mesh = this.p.mesh()
    const peers: SelfReport['peers'] = {}
    for (const m of this.p.members())
      if (m.name !== this.p.name)
        peers[m.name] = {
          state: mesh?.peerState(m.name) ?? 'down',
          rttMs: mesh?.detector.rtt(m.name) ?? null,
        }
    return {
      node: this.p.name,
      site: this.p.site,
      version: this.p.version,
      wallMs: this.p.clock.now(),
      peers,
      api: this.p.api(),
      cloudWitness: this.p.cloudWitness(),
      role: 'node',
      supportedLevel: this.p.supportedLevel,
      clusterLevel: this.p.db().functionalLevel(),
      protocols: Object.values(protocols),
    }
  }

  /** Every node's self-report and the witness process's, asked over the mesh; unreachable members say why. */
  async membersReport(): Promise<MemberReport[]> {
    const names = this.p
      .members()
      .map((m) => m.name)
      .filter((n) => n !== this.p.witness)
    // This node answers for itself even when it has no mesh address (a one-node lab).
    if (!names.includes(this.p.name)) names.unshift(this.p.name)
    const { witnessProcess } = this.p
    const reports = await Promise.all(names.map((name) => this.reportOf(name)))
    if (witnessProcess === undefined) return reports
    return [...reports, { ...(await this.reportOf(witnessProcess)), role: 'witness' }]
  }

  /** Smoothed heartbeat round trip to each member this node pings (ms; null before an answer). */
  peerRtts(): Record<string, number | null> {
    const out: Record<string, number | null> = {}
    for (const m of this.p.members())
      if (m.name !== this.p.name) out[m.name] = this.p.mesh()?.detector.rtt(m.name) ?? null
    return out
  }

  private async reportOf(name: string): Promise<MemberReport> {
    const { clock } = this.p
    if (name === this.p.name) return { ...this.selfReport(), offsetMs: 0, error: null }
    const t0 = clock.now()
    try {
      const answer = await Promise.race([
        this.p.desk.ask(name, { method: 'selfReport' }, `node:${this.p.name}`),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`no answer within ${reportWaitMs / 1000} s`)), reportWaitMs),
        ),
      ])
      const t1 = clock.now()
      const report = JSON.parse(Buffer.from(answer.body).toString('utf8')) as SelfReport
      return { ...report, offsetMs: Math.round(report.wallMs - (t0 + t1) / 2), error: null }
    } catch (error) {
      return {
        node: name,
        site: '',
        version: '',
        wallMs: 0,
        peers: {},
        offsetMs: null,
        error: (error as Error).message,
      }
    }
  }
}
