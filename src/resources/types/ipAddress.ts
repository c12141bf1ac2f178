/**
 * `ip-address`: a virtual IP address on a network interface, added with `ip addr add` when the
 * group comes online here and deleted when it goes offline (or is fenced), so clients follow the
 * group across nodes. Healthy while the address is on the interface. Needs root or
 * CAP_NET_ADMIN; where the host forbids it, starting fails and says so.
 */

import { type IpAddressParams, typedParams } from '../../database/resourceTypes.ts'
import { PolledAgent } from '../pollTiming.ts'
import type { AgentContext, ResourceAgent } from '../resourceAgent.ts'
import type { RotatingLog } from '../rotatingLog.ts'
import { describeResult, runCommand } from '../runCommand.ts'

const ipTimeoutMs = 5_000

export class IpAddress extends PolledAgent<IpAddressParams> implements ResourceAgent {
  private readonly ctx: AgentContext
  private readonly log: RotatingLog

  constructor(params: Record<string, string>, ctx: AgentContext, log: RotatingLog) {
    super(typedParams<IpAddressParams>('ip-address', params))
    this.ctx = ctx
    this.log = log
  }

  async start(): Promise<void> {
    // Left behind by this node (a crash before the delete): it is ours, keep it.
    if (await this.present()) return
    const r = await this.ip(['addr', 'add', this.p.address, 'dev', this.p.interface])
    if (r.code === 0) return
    const what = `ip addr add ${this.p.address} dev ${this.p.interface}`
    const forbidden = /not permitted|permission denied/i.test(r.stderrTail)
    throw new Error(
      forbidden
        ? `${what}: the host forbids it (${r.stderrTail.trim()}): run the node as root or with CAP_NET_ADMIN`
        : describeResult(what, r, ipTimeoutMs),
    )
  }

  async stop(): Promise<string> {
    if (!(await this.present())) return 'address was not on the interface'
    const r = await this.ip(['addr', 'del', this.p.address, 'dev', this.p.interface])
    if (r.code !== 0)
      throw new Error(describeResult(`ip addr del ${this.p.address} dev ${this.p.interface}`, r, ipTimeoutMs))
    return `removed ${this.p.address} from ${this.p.interface}`
  }

  async looksAlive(): Promise<string | null> {
    return (await this.present()) ? null : `${this.p.address} is no longer on ${this.p.interface}`
  }

  isAlive(): Promise<string | null> {
    return this.looksAlive()
  }

  processGroups(): number[] {
    return []
  }

  private async present(): Promise<boolean> {
    const r = await this.ip(['-o', 'addr', 'show', 'dev', this.p.interface], true)
    if (r.code !== 0) return false
    return r.stdout.split('\n').some((line) => line.split(/\s+/).includes(this.p.address))
  }

  private ip(args: string[], capture = false) {
    return runCommand('ip', args, { env: this.ctx.env, timeoutMs: ipTimeoutMs, log: this.log, capture })
  }
}
