/**
 * From the topology's failure-detection timing to consensus ticks. A follower campaigns after
 * the cross-site detection time (heartbeat × threshold) without word from its leader when the
 * cluster spans sites, after the same-site one when it does not: the election timeout IS the
 * configured detection time, so a dead leader is replaced within that time plus one election.
 */
import { assert } from '../errors/assert.ts'
import { electionTimeoutMs, heartbeatMs as heartbeatOf } from '../topology/clusterTiming.ts'
import type { Topology } from '../topology/topologySchema.ts'

export interface ConsensusTiming {
  tickMs: number
  heartbeatTicks: number
  electionTicks: number
  /** Detection time, ms: how long a member may stay silent before it is declared down. */
  sameSiteDownMs: number
  crossSiteDownMs: number
}

export function consensusTiming(t: Topology): ConsensusTiming {
  const same = t.timing.sameSite
  const cross = t.timing.crossSite
  const heartbeatMs = heartbeatOf(t)
  // Two ticks per heartbeat: timers stay well inside the heartbeat period.
  const tickMs = Math.max(10, Math.floor(heartbeatMs / 2))
  const downMs = electionTimeoutMs(t)
  const timing: ConsensusTiming = {
    tickMs,
    heartbeatTicks: Math.max(1, Math.round(heartbeatMs / tickMs)),
    electionTicks: Math.max(3, Math.ceil(downMs / tickMs)),
    sameSiteDownMs: same.heartbeatMs * same.threshold,
    crossSiteDownMs: cross.heartbeatMs * cross.threshold,
  }
  assert(timing.electionTicks > timing.heartbeatTicks, 'election timeout must exceed the heartbeat')
  return timing
}
