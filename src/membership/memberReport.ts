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
}

export interface MemberReport extends SelfReport {
  /** Its wall clock minus the asking node's (ms), or null when it did not answer. */
  offsetMs: number | null
  error: string | null
}
