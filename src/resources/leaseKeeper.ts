/**
 * Lease keepers, the monitor's side (each keeper is leaseKeeper.sh). The monitor fences the
 * resources when the node's lease runs out, but not when it dies or is stopped together with
 * the node (kill -9 of both, Ctrl-Z on a foreground lab). So every process group the monitor
 * spawns gets a tiny keeper of its own, in a session of its own, that holds the lease deadline:
 * it SIGKILLs the group once the deadline passes without renewal, and at once (SIGTERM, then
 * SIGKILL after the fence stop timeout) when the monitor's end of its stdin closes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** Beside this file: src/ under tests, dist/ once built (the build copies it there). */
export const leaseKeeperScript = fileURLToPath(new URL('./leaseKeeper.sh', import.meta.url))

/**
 * Now on the keeper's clock, in ms: /proc/uptime (CLOCK_BOOTTIME, 10 ms steps), which bash can
 * read without forking. Deadlines travel on it, so a line that waits in the pipe does not
 * lengthen the lease.
 */
export function keeperClockMs(): number {
  const up = readFileSync('/proc/uptime', 'latin1')
  return Math.round(Number(up.slice(0, up.indexOf(' '))) * 1000)
}

/**
 * The keeper kills this long after the monitor's own fence would have, so that a live monitor
 * fences first and reports what it did; taken from the safety margin of downAfter (250 ms by
 * default), like the monitor's own timer and poll delays.
 */
export const keeperAfterMonitorMs = 100

export interface LeaseKeeperInit {
  resource: string
  pgid: number
  /** SIGKILL the group at this time on keeperClockMs()'s clock, unless renewed. */
  deadlineMs: number
  /** Once the monitor is gone: SIGTERM at once, SIGKILL this much later (never past the deadline). */
  stopTimeoutMs: number
  env: NodeJS.ProcessEnv
  onExit: () => void
  onError: (message: string) => void
}

/** One keeper process. */
export class LeaseKeeper {
  private readonly child: ChildProcess
  private released = false

  constructor(init: LeaseKeeperInit) {
    if (!Number.isSafeInteger(init.pgid) || init.pgid < 2) throw new Error(`no process group ${init.pgid}`)
    this.child = spawn(
      '/bin/bash',
      [
        leaseKeeperScript,
        String(init.pgid),
        String(Math.max(0, Math.round(init.stopTimeoutMs))),
        String(Math.max(0, Math.floor(init.deadlineMs))),
        init.resource,
      ],
      {
        // A session of its own: a signal to the node's process group (Ctrl-Z, Ctrl-C) misses it.
        detached: true,
        cwd: '/',
        env: init.env,
        // Not the node's output: a write to a pipe nobody reads any more must not end it.
        stdio: ['pipe', 'ignore', 'ignore'],
      },
    )
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      init.onExit()
    }
    this.child.once('error', (error) => {
      init.onError(`lease keeper of ${init.resource}: ${error.message}`)
      end()
    })
    this.child.once('exit', end)
    // EPIPE once the keeper has ended (its group is gone): nothing to do.
    this.child.stdin?.on('error', () => {})
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** The lease was renewed: the new deadline, on keeperClockMs()'s clock. */
  renew(deadlineMs: number): void {
    const stdin = this.child.stdin
    // Only the newest deadline matters: nothing queues behind a keeper that is not reading.
    if (this.released || stdin === null || !stdin.writable || stdin.writableLength > 0) return
    stdin.write(`${Math.max(0, Math.floor(deadlineMs))}\n`)
  }

  /** The group was stopped normally: the keeper exits and leaves it alone. */
  done(): void {
    if (this.released) return
    this.released = true
    if (this.child.stdin?.writable === true) this.child.stdin.end('done\n')
  }
}

export interface KeptGroup {
  /** The group was stopped normally: its keeper may go. */
  done(): void
}

/** The monitor's keepers: one per process group it spawned, all renewed with the lease. */
export class LeaseKeepers {
  private readonly keepers = new Map<LeaseKeeper, string>()
  private readonly env: NodeJS.ProcessEnv
  private readonly warn: (msg: string, data?: Record<string, unknown>) => void
  /** Where the lease ends, on performance.now()'s clock; none before the first lease. */
  private leaseEndsAt = Number.NEGATIVE_INFINITY
  private stopTimeoutMs = 0
  private readonly usable: boolean

  constructor(env: NodeJS.ProcessEnv, warn: (msg: string, data?: Record<string, unknown>) => void) {
    this.env = env
    this.warn = warn
    this.usable = existsSync(leaseKeeperScript)
    // A build without the script: the monitor still fences, but not when it is killed or stopped.
    if (!this.usable) warn('no lease keeper script: resources run without keepers', { leaseKeeperScript })
  }

  /** The node's lease now ends in `remainingMs`; the resources must be dead `stopTimeoutMs` after. */
  lease(remainingMs: number, stopTimeoutMs: number): void {
    this.leaseEndsAt = performance.now() + remainingMs
    this.stopTimeoutMs = stopTimeoutMs
    if (this.keepers.size === 0) return
    const deadline = this.deadline()
    if (deadline === null) return
    for (const k of this.keepers.keys()) k.renew(deadline)
  }

  /** Starts a keeper for a group just spawned. Without one (it could not start) the group still runs. */
  keep(resource: string, pgid: number): KeptGroup {
    const deadlineMs = this.usable ? this.deadline() : null
    if (deadlineMs === null) return { done: () => {} }
    try {
      const keeper: LeaseKeeper = new LeaseKeeper({
        resource,
        pgid,
        deadlineMs,
        stopTimeoutMs: this.stopTimeoutMs,
        env: this.env,
        onExit: () => this.keepers.delete(keeper),
        onError: (message) => this.warn(message, { resource, pgid }),
      })
      this.keepers.set(keeper, resource)
      return keeper
    } catch (error) {
      this.warn(`cannot start the lease keeper of ${resource}`, { pgid, error: (error as Error).message })
      return { done: () => {} }
    }
  }

  /** The keepers running now, for the orphan registry. */
  running(): { resource: string; pid: number }[] {
    const out: { resource: string; pid: number }[] = []
    for (const [k, resource] of this.keepers) if (k.pid !== undefined) out.push({ resource, pid: k.pid })
    return out
  }

  private deadline(): number | null {
    try {
      const leftMs = Math.max(0, this.leaseEndsAt - performance.now())
      return keeperClockMs() + leftMs + this.stopTimeoutMs + keeperAfterMonitorMs
    } catch (error) {
      this.warn('cannot read /proc/uptime, the clock of the lease keepers', {
        error: (error as Error).message,
      })
      return null
    }
  }
}
