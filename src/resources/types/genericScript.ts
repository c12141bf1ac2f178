/**
 * `generic-script`: an OCF-style agent called as `script start|stop|monitor`. Exit 0 = success
 * or healthy, 7 = not running. LooksAlive runs `monitor` with OCF_CHECK_LEVEL=0, IsAlive with
 * OCF_CHECK_LEVEL=10, as Pacemaker's probe depths.
 */

import { type GenericScriptParams, genericScriptParams } from '../../database/resourceTypes.ts'
import type { KeptGroup } from '../leaseKeeper.ts'
import { PolledAgent } from '../pollTiming.ts'
import type { AgentContext, ResourceAgent } from '../resourceAgent.ts'
import type { RotatingLog } from '../rotatingLog.ts'
import { type CommandResult, describeResult, runCommand } from '../runCommand.ts'

export const ocfNotRunning = 7

export class GenericScript extends PolledAgent<GenericScriptParams> implements ResourceAgent {
  private readonly ctx: AgentContext
  private readonly log: RotatingLog
  private readonly running = new Set<number>()
  /** The keeper of `start`'s process group, where what it started in the background lives on. */
  private keeper: KeptGroup | null = null

  constructor(params: Record<string, string>, ctx: AgentContext, log: RotatingLog) {
    super(genericScriptParams(params))
    this.ctx = ctx
    this.log = log
  }

  async start(): Promise<void> {
    const r = await this.call('start', this.p.startTimeoutMs, {}, (pid) => {
      this.keeper = this.ctx.keepLease(pid)
    })
    if (r.code !== 0) throw new Error(describeResult(`${this.p.script} start`, r, this.p.startTimeoutMs))
  }

  async stop(timeoutMs: number = this.p.stopTimeoutMs): Promise<string> {
    const r = await this.call('stop', timeoutMs)
    if (r.code === 0 || r.code === ocfNotRunning) {
      this.keeper?.done()
      return 'stopped by the agent'
    }
    throw new Error(describeResult(`${this.p.script} stop`, r, timeoutMs))
  }

  looksAlive(): Promise<string | null> {
    return this.monitor('0')
  }

  isAlive(): Promise<string | null> {
    return this.monitor('10')
  }

  processGroups(): number[] {
    return [...this.running]
  }

  private async monitor(level: string): Promise<string | null> {
    const r = await this.call('monitor', this.p.monitorTimeoutMs, { OCF_CHECK_LEVEL: level })
    if (r.code === 0) return null
    if (r.code === ocfNotRunning) return `${this.p.script} monitor: not running (7)`
    return describeResult(`${this.p.script} monitor`, r, this.p.monitorTimeoutMs)
  }

  private async call(
    action: string,
    timeoutMs: number,
    extraEnv: Record<string, string> = {},
    onSpawn?: (pid: number) => void,
  ): Promise<CommandResult> {
    const env = { ...this.ctx.env, ...extraEnv }
    return runCommand(this.p.script, [action], {
      env,
      timeoutMs,
      log: this.log,
      onSpawn: (pid) => {
        this.running.add(pid)
        onSpawn?.(pid)
      },
      onExit: (pid) => this.running.delete(pid),
    })
  }
}
