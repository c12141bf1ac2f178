/**
 * What members say about themselves when asked (`geocluster validate`'s live checks, the
 * diagnostics API): the node answers with its `SelfReport`, the asking node adds how far its
 * clock is off, and the API and the CLI read the result. Shared here, below all three.
 */

/** A member's word about itself (validate's live checks). */
export interface SelfReport {
  node: string
  site: string
  version: string
  wallMs: number
  peers: Record<string, { state: string; rttMs: number | null }>
  /** Its admin API: where, and the TLS certificate's fingerprint (null: plain HTTP). */
  api?: { url: string; tlsFingerprint: string | null } | null
  /** A cloud witness as this member finds it (absent: the topology has none, or an older member). */
  cloudWitness?: { name: string; state: 'up' | 'down'; problem: string | null; where: string } | null
  /** The witness process says so (absent: a node). */
  role?: 'node' | 'witness'
  /** The highest cluster functional level its release supports (absent: a release from before levels). */
  supportedLevel?: number
  /** The cluster functional level as its copy of the database holds it (absent: the witness, older releases). */
  clusterLevel?: number
  /** The mesh protocols it speaks (`/geocluster/<name>/<version>`). */
  protocols?: string[]
}

/** What a member's report says it supports: a release from before levels supports level 1. */
export function supportedLevelOf(report: Pick<SelfReport, 'supportedLevel'>): number {
  return report.supportedLevel ?? 1
}

export interface MemberReport extends SelfReport {
  /** Its wall clock minus the asking node's (ms), or null when it did not answer. */
  offsetMs: number | null
  error: string | null
}
