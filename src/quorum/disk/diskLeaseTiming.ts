/**
 * Timing of the quorum disk's challenge/defense protocol (seed 001: renew every 3 s, a
 * challenger waits 10 s; ours is faster because every relation that makes it safe is checked):
 *
 * - the holder renews every `renewMs`; a renewal counts only when its write completes within
 *   `ioTimeoutMs`, and then the lease lasts `leaseMs` from the moment the write started;
 * - `leaseMs >= 2 × (renewMs + ioTimeoutMs)`: two chances to renew before the lease ends;
 * - a challenger writes its challenge, waits `challengeWaitMs`, and takes the lease only if its
 *   challenge is still there. `challengeWaitMs >= leaseMs + stopTimeoutMs + marginMs`: a holder
 *   that renewed just before the challenge landed has self-fenced and its resources are stopped
 *   before the wait ends (sanlock's rule: not merely expired — guaranteed fenced). It also
 *   outlasts a live holder's defense (`renewMs + 3 × ioTimeoutMs + marginMs`);
 * - after a clean release a challenger waits only `releaseWaitMs` (long enough for a rival's
 *   defense), and an observer challenges a holder whose record has not changed for
 *   `suspectAfterMs`.
 * Only durations are compared, never wall-clock times; `marginMs` covers clock-rate differences.
 */

export interface DiskLeaseTiming {
  renewMs: number
  ioTimeoutMs: number
  leaseMs: number
  challengeWaitMs: number
  releaseWaitMs: number
  suspectAfterMs: number
  stopTimeoutMs: number
  marginMs: number
}

export interface DiskLeaseSettings {
  renewMs?: number | undefined
  ioTimeoutMs?: number | undefined
  leaseMs?: number | undefined
  challengeWaitMs?: number | undefined
}

export const diskLeaseDefaults = { renewMs: 500, ioTimeoutMs: 500 } as const

/** The defensive minimum for a live holder to answer a challenge. */
const defenseMs = (t: Pick<DiskLeaseTiming, 'renewMs' | 'ioTimeoutMs' | 'marginMs'>) =>
  t.renewMs + 3 * t.ioTimeoutMs + t.marginMs

export function diskLeaseTiming(
  s: DiskLeaseSettings,
  fencing: { stopTimeoutMs: number; marginMs: number },
): DiskLeaseTiming {
  const renewMs = s.renewMs ?? diskLeaseDefaults.renewMs
  const ioTimeoutMs = s.ioTimeoutMs ?? diskLeaseDefaults.ioTimeoutMs
  const leaseMs = s.leaseMs ?? 2 * (renewMs + ioTimeoutMs)
  const { stopTimeoutMs, marginMs } = fencing
  const base = { renewMs, ioTimeoutMs, marginMs }
  return {
    renewMs,
    ioTimeoutMs,
    leaseMs,
    challengeWaitMs: s.challengeWaitMs ?? Math.max(leaseMs + stopTimeoutMs + marginMs, defenseMs(base)),
    releaseWaitMs: defenseMs(base),
    suspectAfterMs: leaseMs,
    stopTimeoutMs,
    marginMs,
  }
}

/** Every broken relation, as `field: problem` (empty when the timing is safe). */
export function diskLeaseTimingProblems(t: DiskLeaseTiming): { field: string; problem: string }[] {
  const out: { field: string; problem: string }[] = []
  for (const [field, v] of Object.entries(t))
    if (!Number.isFinite(v) || v <= 0)
      out.push({ field, problem: `must be a positive number of ms, got ${v}` })
  if (out.length > 0) return out
  if (t.leaseMs < 2 * (t.renewMs + t.ioTimeoutMs))
    out.push({
      field: 'leaseMs',
      problem: `${t.leaseMs} ms leaves no second chance to renew: needs >= 2 × (renewMs + ioTimeoutMs) = ${2 * (t.renewMs + t.ioTimeoutMs)} ms`,
    })
  const fenced = t.leaseMs + t.stopTimeoutMs + t.marginMs
  if (t.challengeWaitMs < fenced)
    out.push({
      field: 'challengeWaitMs',
      problem: `${t.challengeWaitMs} ms may take the lease before the old holder has fenced: needs >= leaseMs + stopTimeoutMs + marginMs = ${fenced} ms`,
    })
  if (t.challengeWaitMs < defenseMs(t))
    out.push({
      field: 'challengeWaitMs',
      problem: `${t.challengeWaitMs} ms ends before a live holder can defend: needs >= renewMs + 3 × ioTimeoutMs + marginMs = ${defenseMs(t)} ms`,
    })
  if (t.releaseWaitMs < defenseMs(t))
    out.push({ field: 'releaseWaitMs', problem: `needs >= ${defenseMs(t)} ms` })
  if (t.suspectAfterMs < t.renewMs + 2 * t.ioTimeoutMs)
    out.push({ field: 'suspectAfterMs', problem: `needs >= renewMs + 2 × ioTimeoutMs` })
  return out
}
