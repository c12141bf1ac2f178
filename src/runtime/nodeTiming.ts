/** A node's own timing (besides the topology's failure detection), with its defaults. */

export interface NodeTiming {
  /** Pause before restarting a failed resource in place (WSFC RestartDelay, 500 ms). */
  restartDelayMs: number
  /** Take a snapshot and release old log segments after this many applied entries. */
  snapshotEntries: number
  /** Longest wait for resources to stop on shutdown, on top of their own stop timeouts. */
  shutdownMarginMs: number
}

export const nodeTimingDefaults: NodeTiming = {
  restartDelayMs: 500,
  snapshotEntries: 10_000,
  shutdownMarginMs: 5_000,
}
