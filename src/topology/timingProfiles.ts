/**
 * Named timing profiles: the defaults a topology's `timing` starts from before its own fields.
 *
 * - `default`: etcd's 100 ms heartbeat and 1 s election (rather than WSFC's 1 s × 10 / × 20): a
 *   failover fits in about 3 s. Raise the thresholds for WAN round trips near 100 ms or more.
 * - `fast`: for members whose round trips stay well under 100 ms (one site, or sites close
 *   together): a member silent for 5 heartbeats (500 ms) is down, leases last 1 s, and a dead
 *   owner's groups start elsewhere after 1.5 s — under 2 s to the application's start. The
 *   fencing rule holds as in every profile (`downAfter > fenceAfter + stopTimeout + margin`,
 *   clusterTiming.ts); what it gives up is headroom: a member that stalls for half a second
 *   (a long GC pause, a saturated link) loses its leadership or its leases, and an application
 *   gets 200 ms between SIGTERM and SIGKILL when fenced.
 */
export const timingProfileNames = ['default', 'fast'] as const
export type TimingProfileName = (typeof timingProfileNames)[number]

export interface TimingProfile {
  sameSite: { heartbeatMs: number; threshold: number }
  crossSite: { heartbeatMs: number; threshold: number }
  /** Fencing defaults where the topology gives none (fenceAfter and downAfter are derived). */
  stopTimeoutMs: number
  marginMs: number
}

export const timingProfiles: Record<TimingProfileName, TimingProfile> = {
  default: {
    sameSite: { heartbeatMs: 100, threshold: 10 },
    crossSite: { heartbeatMs: 100, threshold: 10 },
    stopTimeoutMs: 250,
    marginMs: 250,
  },
  fast: {
    sameSite: { heartbeatMs: 100, threshold: 5 },
    crossSite: { heartbeatMs: 100, threshold: 5 },
    stopTimeoutMs: 200,
    marginMs: 200,
  },
}
