/**
 * The cluster's timing, derived once from the topology: failure detection, the election
 * timeout, and the fencing rule of ARCHITECTURE.md ("Resource safety"):
 *
 * - a node runs its groups only while it holds a lease from a leader that has heard from a
 *   majority within the grant window; the lease ends `fenceAfterMs` after the node asked for it,
 *   and then the node's resource monitor kills the groups' processes (SIGTERM, SIGKILL after
 *   `stopTimeoutMs`) even if the node process itself hangs;
 * - the leader gives a silent node's groups to another node only `downAfterMs` after it last
 *   heard from it, with `downAfterMs > fenceAfterMs + stopTimeoutMs + marginMs`;
 * - `fenceAfterMs` outlasts an election (1.5 × the election timeout and two heartbeats), so
 *   losing the leader does not fence every group in the cluster.
 *
 * Only durations are compared, never wall-clock times.
 */
import {
  type DiskLeaseTiming,
  diskLeaseTiming,
  diskLeaseTimingProblems,
} from '../quorum/disk/diskLeaseTiming.ts'
import { timingProfiles } from './timingProfiles.ts'
import type { Topology, TopologyProblem } from './topologySchema.ts'

export interface FencingTiming {
  fenceAfterMs: number
  stopTimeoutMs: number
  marginMs: number
  downAfterMs: number
  /** A leader grants leases only while it has heard from a majority within this. */
  grantWindowMs: number
}

/** True when members are in more than one place (sites or a witness): cross-site timing rules. */
export function spansSites(t: Topology): boolean {
  return t.sites.length > 1 || t.witness !== undefined
}

/** The shortest heartbeat period in use. */
export function heartbeatMs(t: Topology): number {
  return Math.min(t.timing.sameSite.heartbeatMs, t.timing.crossSite.heartbeatMs)
}

/**
 * The election timeout is the detection time: the cross-site one (or the same-site one if
 * larger) when the cluster spans sites, else the same-site one.
 */
export function electionTimeoutMs(t: Topology): number {
  const same = t.timing.sameSite.heartbeatMs * t.timing.sameSite.threshold
  const cross = t.timing.crossSite.heartbeatMs * t.timing.crossSite.threshold
  return spansSites(t) ? Math.max(same, cross) : same
}

/** The shortest lease that survives an election. */
export function fenceAfterMinMs(t: Topology): number {
  return Math.ceil(1.5 * electionTimeoutMs(t) + 2 * heartbeatMs(t))
}

export function fencingTiming(t: Topology): FencingTiming {
  const f = t.timing.fencing
  const hb = heartbeatMs(t)
  const fenceAfterMs = f.fenceAfterMs ?? Math.max(2 * electionTimeoutMs(t), fenceAfterMinMs(t))
  const profile = timingProfiles[t.timing.profile]
  const stopTimeoutMs = f.stopTimeoutMs ?? profile.stopTimeoutMs
  const marginMs = f.marginMs ?? profile.marginMs
  return {
    fenceAfterMs,
    stopTimeoutMs,
    marginMs,
    downAfterMs: f.downAfterMs ?? fenceAfterMs + stopTimeoutMs + marginMs + hb,
    grantWindowMs: 3 * hb,
  }
}

/** What is wrong with the timing as a whole (each field alone is checked by the schema). */
export function timingProblems(t: Topology): TopologyProblem[] {
  const problems: TopologyProblem[] = []
  const f = fencingTiming(t)
  const at = (field: string) => ['timing', 'fencing', field]
  const least = fenceAfterMinMs(t)
  if (f.fenceAfterMs < least) {
    problems.push({
      path: at('fenceAfterMs'),
      message: `${f.fenceAfterMs} ms is shorter than an election can take (1.5 × the ${electionTimeoutMs(t)} ms election timeout + 2 heartbeats = ${least} ms): every group would be fenced whenever a leader is lost`,
    })
  }
  const sum = f.fenceAfterMs + f.stopTimeoutMs + f.marginMs
  if (f.downAfterMs <= sum) {
    problems.push({
      path: at('downAfterMs'),
      message: `${f.downAfterMs} ms must exceed fenceAfterMs + stopTimeoutMs + marginMs = ${sum} ms, or a silent node's groups could start elsewhere before it has stopped them`,
    })
  }
  if (f.fenceAfterMs <= f.grantWindowMs) {
    problems.push({
      path: at('fenceAfterMs'),
      message: `${f.fenceAfterMs} ms must exceed the lease grant window (3 heartbeats = ${f.grantWindowMs} ms)`,
    })
  }
  if (t.quorum.disk !== undefined)
    for (const p of diskLeaseTimingProblems(diskTiming(t)))
      problems.push({ path: ['quorum', 'disk', p.field], message: p.problem })
  return problems
}

/** The quorum disk's challenge/defense timing (disk model), with the fencing rule's stop timeout and margin. */
export function diskTiming(t: Topology): DiskLeaseTiming {
  const d = t.quorum.disk
  const f = fencingTiming(t)
  return diskLeaseTiming(
    {
      renewMs: d?.renewMs,
      ioTimeoutMs: d?.ioTimeoutMs,
      leaseMs: d?.leaseMs,
      challengeWaitMs: d?.challengeWaitMs,
    },
    f,
  )
}

/** What validate says about the timing: each figure, the fencing rule with its numbers, and what a failover takes. */
export interface TimingSummary {
  profile: string
  sameSite: { heartbeatMs: number; threshold: number; downMs: number }
  crossSite: { heartbeatMs: number; threshold: number; downMs: number }
  electionTimeoutMs: number
  fencing: FencingTiming
  /** fenceAfter + stopTimeout + margin: what downAfter must exceed. */
  fencedByMs: number
}

export function timingSummary(t: Topology): TimingSummary {
  const f = fencingTiming(t)
  const side = (s: { heartbeatMs: number; threshold: number }) => ({
    ...s,
    downMs: s.heartbeatMs * s.threshold,
  })
  return {
    profile: t.timing.profile,
    sameSite: side(t.timing.sameSite),
    crossSite: side(t.timing.crossSite),
    electionTimeoutMs: electionTimeoutMs(t),
    fencing: f,
    fencedByMs: f.fenceAfterMs + f.stopTimeoutMs + f.marginMs,
  }
}
