/**
 * A resource type's plug-in (the seeds' resource DLL): how to bring one resource online, take
 * it offline and check its health. The monitor owns scheduling, failure reporting and cleanup.
 */
import type { KeptGroup } from './leaseKeeper.ts'

export interface ResourceAgent {
  /** Resolves once the resource is online; rejects with the reason it could not start. */
  start(): Promise<void>
  /**
   * Takes the resource offline, escalating as needed; resolves with how it went. `timeoutMs`
   * overrides the resource's own stop timeout (fencing stops faster).
   */
  stop(timeoutMs?: number): Promise<string>
  /** Quick check (LooksAlive): null when healthy, else why not. */
  looksAlive(): Promise<string | null>
  /** Thorough check (IsAlive): null when healthy, else why not. */
  isAlive(): Promise<string | null>
  /** Process groups to kill when the monitor must stop everything at once. */
  processGroups(): number[]
  readonly looksAliveIntervalMs: number
  readonly isAliveIntervalMs: number
  readonly stopTimeoutMs: number
}

export interface AgentContext {
  env: NodeJS.ProcessEnv
  /** Called when the resource fails on its own (its process exited, say). */
  onFailure: (reason: string) => void
  /**
   * Gives a process group the agent spawned a lease keeper (leaseKeeper.ts): it kills the group
   * should the lease lapse while the monitor cannot act. Say `done` once the group is stopped.
   */
  keepLease: (pgid: number) => KeptGroup
  /** Tells the cluster something about this resource that is neither a state nor a failure. */
  event: (e: AgentEvent) => void
}

/** What an agent reports besides its state (the node turns it into a cluster event). */
export interface AgentEvent {
  type: 'address:announced' | 'address:not-announced'
  severity: 'info' | 'warning'
  message: string
  data?: Record<string, unknown>
}
