/**
 * `validate --live`: what a running cluster says against its topology — every member answers,
 * every pair of nodes reaches each other, heartbeat round trips per site pair fit the timing
 * (a round trip near the heartbeat period or a quarter of the detection window is a warning),
 * clocks agree (decisions use monotonic clocks; wall clocks only date events and failback
 * windows), every member runs the same version, every node reaches a cloud witness's blob, and
 * the cluster's functional level is the highest they all support (else a rolling upgrade is
 * unfinished).
 */
import { type MemberReport, supportedLevelOf } from '../membership/memberReport.ts'
import type { Topology } from '../topology/topologySchema.ts'

export interface LiveFindings {
  members: {
    node: string
    site: string
    role: 'node' | 'witness'
    version: string
    /** The highest functional level its release supports (null when it did not answer). */
    supportedLevel: number | null
    offsetMs: number | null
    error: string | null
    /** Its admin API: URL and TLS fingerprint (null: plain HTTP); null when unknown. */
    api: { url: string; tlsFingerprint: string | null } | null
  }[]
  pairs: { checked: number; failed: string[] }
  rtt: { sites: string; avgMs: number; maxMs: number; heartbeatMs: number; windowMs: number; ok: boolean }[]
  versions: string[]
  /**
   * The cluster's functional level as the nodes that answered hold it (the highest: one may lag
   * a raise by a moment; null when none said) and the highest level every member that answered supports.
   */
  functionalLevel: { cluster: number | null; supportedByAll: number | null }
  /** Problems that make the check fail (exit 1). */
  errors: string[]
  warnings: string[]
}

export const clockOffsetWarnMs = 500

export function liveFindings(t: Topology, reports: MemberReport[]): LiveFindings {
  const siteOf = new Map(t.sites.flatMap((s) => s.nodes.map((n) => [n.name, s.name] as const)))
  const errors: string[] = []
  const warnings: string[] = []
  // A witness of a release from before it answered for itself cannot: that is no fault.
  for (const r of reports)
    if (r.error !== null)
      (r.role === 'witness' ? warnings : errors).push(`${r.node} did not answer: ${r.error}`)
  const answered = reports.filter((r) => r.error === null)
  const failed: string[] = []
  let checked = 0
  const rtts = new Map<string, number[]>()
  for (const a of answered)
    for (const [b, view] of Object.entries(a.peers)) {
      if (!siteOf.has(b)) continue
      checked++
      if (view.state !== 'up') failed.push(`${a.node} → ${b}: ${view.state}`)
      if (view.rttMs !== null) {
        const key = [siteOf.get(a.node) ?? a.site, siteOf.get(b)!].sort().join(' ↔ ')
        rtts.set(key, [...(rtts.get(key) ?? []), view.rttMs])
      }
    }
  for (const f of failed) errors.push(`no heartbeats ${f}`)
  const rtt = [...rtts].map(([sites, xs]) => {
    const [x, y] = sites.split(' ↔ ')
    const timing = x === y ? t.timing.sameSite : t.timing.crossSite
    const windowMs = timing.heartbeatMs * timing.threshold
    const maxMs = Math.max(...xs)
    const ok = maxMs < timing.heartbeatMs && maxMs < windowMs / 4
    if (!ok)
      warnings.push(
        `heartbeat round trips ${sites} reach ${Math.round(maxMs)} ms against ${timing.heartbeatMs} ms heartbeats and a ${windowMs} ms detection window: raise timing.${x === y ? 'sameSite' : 'crossSite'}`,
      )
    return {
      sites,
      avgMs: xs.reduce((a, b) => a + b, 0) / xs.length,
      maxMs,
      heartbeatMs: timing.heartbeatMs,
      windowMs,
      ok,
    }
  })
  // Every node acts for a cloud witness itself: each must reach the blob with its credentials.
  for (const r of answered)
    if (r.cloudWitness?.state === 'down')
      errors.push(
        `${r.node} cannot use the cloud witness ${r.cloudWitness.name}: ${r.cloudWitness.problem ?? 'down'}`,
      )
  for (const r of answered)
    if (r.offsetMs !== null && Math.abs(r.offsetMs) > clockOffsetWarnMs)
      warnings.push(
        `${r.node}'s clock is ${r.offsetMs} ms off: event times and failback windows disagree between nodes (failover itself uses monotonic clocks)`,
      )
  for (const r of answered)
    if (r.api?.tlsFingerprint === null && !/^http:\/\/(127\.|\[::1\]|localhost)/.test(r.api.url))
      warnings.push(
        `${r.node}'s admin API is plain HTTP off loopback (${r.api.url}): serve it with --api-tls-cert/--api-tls-key or --api-tls-self-signed`,
      )
  const versions = [...new Set(answered.map((r) => r.version))]
  if (versions.length > 1)
    warnings.push(
      `nodes run different versions: ${answered.map((r) => `${r.node} ${r.version}`).join(', ')} (finish the rolling upgrade)`,
    )
  const functionalLevel = levelFindings(answered, warnings)
  return {
    members: reports.map((r) => ({
      node: r.node,
      site: r.site,
      role: r.role ?? 'node',
      version: r.version,
      supportedLevel: r.error === null ? supportedLevelOf(r) : null,
      offsetMs: r.offsetMs,
      error: r.error,
      api: r.api ?? null,
    })),
    pairs: { checked, failed },
    rtt,
    versions,
    functionalLevel,
    errors,
    warnings,
  }
}

/** The cluster's level against what its members support: a rolling upgrade not yet finished. */
function levelFindings(answered: MemberReport[], warnings: string[]): LiveFindings['functionalLevel'] {
  const held = answered.flatMap((r) => (r.clusterLevel === undefined ? [] : [r.clusterLevel]))
  const cluster = held.length === 0 ? null : Math.max(...held)
  const supported = answered.map(supportedLevelOf)
  const supportedByAll = supported.length === 0 ? null : Math.min(...supported)
  if (new Set(supported).size > 1)
    warnings.push(
      `members support different functional levels: ${answered.map((r) => `${r.node} ${supportedLevelOf(r)}`).join(', ')} (finish the rolling upgrade, then run geocluster cluster upgrade-level)`,
    )
  else if (cluster !== null && supportedByAll !== null && supportedByAll > cluster)
    warnings.push(
      `every member supports functional level ${supportedByAll}, the cluster is at level ${cluster}: run geocluster cluster upgrade-level`,
    )
  return { cluster, supportedByAll }
}
