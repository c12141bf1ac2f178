/**
 * `generic-app`: a long-running command under /bin/sh -c, leader of its own process group.
 * LooksAlive: the process is still there. IsAlive: `isAliveCommand` exits 0 (when given).
 * Stop: SIGTERM to the group, SIGKILL after `stopTimeoutMs`.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { type GenericAppParams, genericAppParams } from '../../database/resourceTypes.ts'
import type { KeptGroup } from '../leaseKeeper.ts'
import { PolledAgent } from '../pollTiming.ts'
import { groupAlive, signalGroup, stopGroup } from '../processGroup.ts'
import type { AgentContext, ResourceAgent } from '../resourceAgent.ts'
import type { RotatingLog } from '../rotatingLog.ts'
import { describeResult, runCommand } from '../runCommand.ts'

const isAliveTimeoutMsMax = 30_000

export class GenericApp extends PolledAgent<GenericAppParams> implements ResourceAgent {
  private readonly ctx: AgentContext
  private readonly log: RotatingLog
  private child: ChildProcess | null = null
  private keeper: KeptGroup | null = null
  private stopping = false

  constructor(params: Record<string, string>, ctx: AgentContext, log: RotatingLog) {
    super(genericAppParams(params))
    this.ctx = ctx
    this.log = log
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', this.p.command], {
        cwd: this.p.cwd,
        env: this.ctx.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child.stdout?.on('data', (chunk: Buffer) => this.log.write(chunk))
      child.stderr?.on('data', (chunk: Buffer) => this.log.write(chunk))
      child.once('error', (error) => reject(new Error(`cannot start: ${error.message}`)))
      child.once('spawn', () => {
        this.child = child
        if (child.pid !== undefined) this.keeper = this.ctx.keepLease(child.pid)
        this.log.line(`started pid ${child.pid}: ${this.p.command}`)
        resolve()
      })
      child.once('exit', (code, signal) => {
        if (this.stopping) return
        const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`
        this.log.line(`process ${child.pid} ${how}`)
        // Whatever it forked must not outlive it: clear the group before reporting.
        if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL')
        this.keeper?.done()
        this.ctx.onFailure(`process ${how}`)
      })
    })
  }

  async stop(timeoutMs: number = this.p.stopTimeoutMs): Promise<string> {
    this.stopping = true
    const pid = this.child?.pid
    if (pid === undefined) return 'was not running'
    const outcome = await stopGroup(pid, timeoutMs)
    this.keeper?.done()
    this.log.line(`stop: ${outcome}`)
    if (outcome === 'stuck') throw new Error(`process group ${pid} survived SIGKILL`)
    return outcome === 'terminated' ? 'stopped by SIGTERM' : `killed by SIGKILL after ${timeoutMs} ms`
  }

  async looksAlive(): Promise<string | null> {
    const child = this.child
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null)
      return 'process is gone'
    return groupAlive(child.pid) ? null : 'process group is gone'
  }

  async isAlive(): Promise<string | null> {
    const quick = await this.looksAlive()
    if (quick !== null || this.p.isAliveCommand === undefined) return quick
    const timeoutMs = Math.min(this.p.isAliveIntervalMs, isAliveTimeoutMsMax)
    const r = await runCommand('/bin/sh', ['-c', this.p.isAliveCommand], {
      env: this.ctx.env,
      cwd: this.p.cwd,
      timeoutMs,
      log: this.log,
    })
    return r.code === 0 ? null : describeResult('isAliveCommand', r, timeoutMs)
  }

  processGroups(): number[] {
    const pid = this.child?.pid
    return pid === undefined ? [] : [pid]
  }
}
