/**
 * Messages between the node process and its resource monitor child (over the Node IPC channel).
 * The monitor only executes and reports; the node's Failover Manager decides (seed 000: the
 * Resource Monitor "forwards the information from the resource to the Cluster service").
 */
import type { ResourceTypeName } from '../database/resourceTypes.ts'
import type { AgentEvent } from './resourceAgent.ts'

/** The host's monotonic clock in ms (CLOCK_MONOTONIC, the same in every process on the host). */
export function hostMonotonicMs(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000
}

export interface ResourceSpec {
  resource: string
  group: string
  type: ResourceTypeName
  params: Record<string, string>
  /** GEOCLUSTER_NODE, _SITE, _GROUP, _RESOURCE, _FENCING_TOKEN (see resourceEnvironment.ts). */
  env: Record<string, string>
}

export type ToMonitor =
  | { t: 'start'; spec: ResourceSpec }
  | { t: 'stop'; resource: string }
  /** Operator's "fail": treat the resource as failed now (WSFC Test-ClusterResourceFailure). */
  | { t: 'fail'; resource: string; reason: string }
  /** Check the resource now (a cleanup's re-probe); answered with `probed`. */
  | { t: 'probe'; resource: string }
  /**
   * Maintenance on: no health checks, and a resource that exits is reported offline, not
   * failed. Off: checks resume (the node then asks for a `probe` before it acts).
   */
  | { t: 'maintenance'; resource: string; on: boolean }
  /**
   * The node's lease holds until `untilMonotonicMs` on the host's monotonic clock (shared by
   * both processes, so time the message spends in transit does not lengthen the lease). When it runs out without renewal — the node lost
   * the cluster or hangs — the monitor kills every resource (SIGTERM, SIGKILL after
   * `stopTimeoutMs`) on its own, and starts nothing until a new lease arrives.
   */
  | { t: 'lease'; untilMonotonicMs: number; stopTimeoutMs: number }
  /**
   * The node is stopping (a signal to it, or to the whole process group): it stops the resources
   * itself, in dependency order, by `untilMonotonicMs`, and then says `shutdown`. A SIGTERM the
   * monitor gets meanwhile waits for that instead of stopping everything at once.
   */
  | { t: 'stopping'; untilMonotonicMs: number }
  /**
   * Stop everything and exit, within `withinMs`: resources still running then are SIGKILLed,
   * whatever their own stop timeout.
   */
  | { t: 'shutdown'; withinMs: number }

export type MonitoredState = 'starting' | 'online' | 'stopping' | 'offline' | 'failed'

export type FromMonitor =
  | { t: 'ready'; pid: number; reaped: { resource: string; pid: number }[] }
  | { t: 'state'; resource: string; state: MonitoredState; reason?: string; pid?: number }
  /** A probe's answer: the resource's state once checked (a failed check was reported as `failed` first). */
  | { t: 'probed'; resource: string; state: MonitoredState }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; data?: Record<string, unknown> }
  | { t: 'stopped-all' }
  /** An agent's report about a resource (an address announced, or not). */
  | { t: 'event'; resource: string; event: AgentEvent }
