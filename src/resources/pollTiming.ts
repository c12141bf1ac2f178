/**
 * The timing every resource agent shares: how often the monitor polls it (LooksAlive, IsAlive)
 * and how long a stop may take before SIGKILL. Agents extend this so each states only its own
 * behaviour.
 */
export interface PollParams {
  looksAliveIntervalMs: number
  isAliveIntervalMs: number
  stopTimeoutMs: number
}

export abstract class PolledAgent<P extends PollParams> {
  protected readonly p: P

  constructor(params: P) {
    this.p = params
  }

  get looksAliveIntervalMs(): number {
    return this.p.looksAliveIntervalMs
  }

  get isAliveIntervalMs(): number {
    return this.p.isAliveIntervalMs
  }

  get stopTimeoutMs(): number {
    return this.p.stopTimeoutMs
  }
}
