/**
 * The node's handle on its resource monitor child: forks it, sends it work, and passes its
 * state reports on. The child watches the IPC channel, so it outlives the node by only as
 * long as it takes to stop the resources.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LeaseRelay } from './leaseRelay.ts'
import { type FromMonitor, hostMonotonicMs, type ResourceSpec, type ToMonitor } from './monitorProtocol.ts'
import { OrphanRegistry, registryFile } from './orphanRegistry.ts'

const shutdownExitMarginMs = 500

/**
 * The V8 flags the monitor runs with: not the node's own (a profiler, say); a small nursery like
 * the node's (nodeFlags.ts); and V8's interpreter only. The monitor's work is a few messages a
 * second, which the interpreter does as well, and the compilers' own code is then never paged in:
 * about 6 MB less RSS. (`--jitless` would do the same but prints a warning into the node's log.)
 */
export const monitorNodeFlags = ['--max-semi-space-size=1', '--no-sparkplug', '--no-maglev', '--no-opt']

// Run the monitor from the same tree as this file: dist/*.js when built, src/*.ts under tests.
const monitorMain = fileURLToPath(
  new URL(`./monitorMain${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
)

export interface MonitorClientInit {
  /** Data-dir folder for the monitor's process registry and the resources' output logs. */
  dir: string
  onMessage: (m: FromMonitor) => void
  /** The monitor exited without being asked to. */
  onUnexpectedExit: (code: number | null, signal: NodeJS.Signals | null) => void
  /**
   * A lease renewal goes to the monitor only when it moves the deadline the monitor knows by at
   * least this much (leaseRelay.ts); 0 (the default) passes every one on.
   */
  leaseStepMs?: number
}

export class ResourceMonitorClient {
  private readonly init: MonitorClientInit
  private child: ChildProcess | null = null
  private stopping = false
  private readonly leases: LeaseRelay

  constructor(init: MonitorClientInit) {
    this.init = init
    this.leases = new LeaseRelay(init.leaseStepMs ?? 0)
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  /** Forks the monitor and waits for its `ready` (it first kills any orphans it finds). */
  start(signal?: AbortSignal): Promise<Extract<FromMonitor, { t: 'ready' }>> {
    this.stopping = false
    this.leases.reset()
    const child = fork(monitorMain, [], {
      env: { ...process.env, GEOCLUSTER_MONITOR_DIR: this.init.dir },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: monitorNodeFlags,
      serialization: 'json',
    })
    this.child = child
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new Error('resource monitor start aborted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      child.on('message', (raw) => {
        const m = raw as FromMonitor
        if (m.t === 'ready') {
          signal?.removeEventListener('abort', onAbort)
          resolve(m)
        }
        this.init.onMessage(m)
      })
      child.once('error', reject)
      child.once('exit', (code, sig) => {
        this.child = null
        if (!this.stopping) this.init.onUnexpectedExit(code, sig)
        reject(new Error(`resource monitor exited during start (code ${code}, signal ${sig})`))
      })
    })
  }

  startResource(spec: ResourceSpec): void {
    this.send({ t: 'start', spec })
  }

  stopResource(resource: string): void {
    this.send({ t: 'stop', resource })
  }

  /** Maintenance on or off for a resource (off: checks resume; probe it before acting). */
  maintenance(resource: string, on: boolean): void {
    this.send({ t: 'maintenance', resource, on })
  }

  failResource(resource: string, reason: string): void {
    this.send({ t: 'fail', resource, reason })
  }

  /** Asks the monitor to check a resource now; it answers `probed`. */
  probeResource(resource: string): void {
    this.send({ t: 'probe', resource })
  }

  /** The node's lease holds `remainingMs` more; the monitor fences on its own when it runs out. */
  lease(remainingMs: number, stopTimeoutMs: number): void {
    const untilMonotonicMs = hostMonotonicMs() + remainingMs
    if (this.child?.connected !== true || !this.leases.offer(untilMonotonicMs, stopTimeoutMs)) return
    this.send({ t: 'lease', untilMonotonicMs, stopTimeoutMs })
  }

  /** The node is stopping: it stops the resources itself within `remainingMs`, then shuts down. */
  announceStopping(remainingMs: number): void {
    this.send({ t: 'stopping', untilMonotonicMs: hostMonotonicMs() + remainingMs })
  }

  /**
   * Asks the monitor to stop everything and exit within `timeoutMs` (resources still running
   * near the end are SIGKILLed, whatever their own stop timeout). Should the monitor itself not
   * be gone by then, it is SIGKILLed and the process groups it recorded are killed from here.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    const child = this.child
    if (child === null) return
    this.stopping = true
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    // Leave the monitor time to exit after its last SIGKILL.
    this.send({ t: 'shutdown', withinMs: Math.max(0, timeoutMs - shutdownExitMarginMs) })
    let killed = false
    const timer = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, timeoutMs)
    await exited
    clearTimeout(timer)
    if (killed) new OrphanRegistry(registryFile(this.init.dir)).reap()
  }

  private send(m: ToMonitor): void {
    if (this.child?.connected) this.child.send(m)
  }
}
