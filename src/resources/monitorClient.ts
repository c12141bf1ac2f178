/**
 * The node's handle on its resource monitor child: forks it, sends it work, and passes its
 * state reports on. The child watches the IPC channel, so it outlives the node by only as
 * long as it takes to stop the resources.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type FromMonitor, hostMonotonicMs, type ResourceSpec, type ToMonitor } from './monitorProtocol.ts'
import { OrphanRegistry, registryFile } from './orphanRegistry.ts'

const shutdownExitMarginMs = 500

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
}

export class ResourceMonitorClient {
  private readonly init: MonitorClientInit
  private child: ChildProcess | null = null
  private stopping = false

  constructor(init: MonitorClientInit) {
    this.init = init
  }

  get pid(): number | undefined {
    return this.child?.pid
  }

  /** Forks the monitor and waits for its `ready` (it first kills any orphans it finds). */
  start(signal?: AbortSignal): Promise<Extract<FromMonitor, { t: 'ready' }>> {
    this.stopping = false
    const child = fork(monitorMain, [], {
      env: { ...process.env, GEOCLUSTER_MONITOR_DIR: this.init.dir },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Not the node's own flags (a profiler, say); a small nursery like the node's (nodeFlags.ts).
      execArgv: ['--max-semi-space-size=1'],
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

  failResource(resource: string, reason: string): void {
    this.send({ t: 'fail', resource, reason })
  }

  /** The node's lease holds `remainingMs` more; the monitor fences on its own when it runs out. */
  lease(remainingMs: number, stopTimeoutMs: number): void {
    this.send({ t: 'lease', untilMonotonicMs: hostMonotonicMs() + remainingMs, stopTimeoutMs })
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
