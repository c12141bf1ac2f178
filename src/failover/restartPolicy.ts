/**
 * What to do when a resource fails: restart it in place while it has failed fewer than
 * `restartThreshold` times within `restartPeriodMs` (WSFC RestartThreshold/RestartPeriod,
 * default 3 in 15 minutes), otherwise give up and mark it failed. Pure: time comes in as a
 * monotonic millisecond count.
 */

export type RestartDecision =
  | { action: 'restart'; restarts: number[]; restartsInPeriod: number }
  | { action: 'fail'; restartsInPeriod: number }

export function decideAfterFailure(
  restarts: readonly number[],
  nowMs: number,
  policy: { restartThreshold: number; restartPeriodMs: number },
): RestartDecision {
  const recent = restarts.filter((t) => nowMs - t < policy.restartPeriodMs)
  if (recent.length >= policy.restartThreshold) return { action: 'fail', restartsInPeriod: recent.length }
  return { action: 'restart', restarts: [...recent, nowMs], restartsInPeriod: recent.length + 1 }
}
