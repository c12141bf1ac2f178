/**
 * `ip-address`: a virtual IP address on a network interface, added with `ip addr add` when the
 * group comes online here and deleted when it goes offline (or is fenced), so clients follow the
 * group across nodes. Healthy while the address is on the interface. Needs root or
 * CAP_NET_ADMIN; where the host forbids it, starting fails and says so. With per-site
 * `addresses` (a group spanning subnets) it brings up the address of this node's site. Once
 * added, the address is announced to the neighbours (addressAnnouncement.ts) in the background:
 * starting does not wait for it, and a tool that hangs is killed after a few seconds.
 */

import { accessSync, constants } from 'node:fs'
import { type IpAddressParams, typedParams } from '../../database/resourceTypes.ts'
import { addressForSite } from '../../database/siteAddresses.ts'
import { findExecutable, planAnnouncement } from '../addressAnnouncement.ts'
import { PolledAgent } from '../pollTiming.ts'
import type { AgentContext, ResourceAgent } from '../resourceAgent.ts'
import type { RotatingLog } from '../rotatingLog.ts'
import { describeResult, runCommand } from '../runCommand.ts'

const ipTimeoutMs = 5_000
/** arping -c 1 sends one packet and waits about a second; ndsend returns at once. */
const announceTimeoutMs = 3_000

export class IpAddress extends PolledAgent<IpAddressParams> implements ResourceAgent {
  private readonly ctx: AgentContext
  private readonly log: RotatingLog
  /** This node's address/prefix, or why it has none (a site missing from `addresses`). */
  private readonly chosen: { address: string } | { problem: string }

  constructor(params: Record<string, string>, ctx: AgentContext, log: RotatingLog) {
    super(typedParams<IpAddressParams>('ip-address', params))
    this.ctx = ctx
    this.log = log
    this.chosen = addressForSite(this.p, ctx.env.GEOCLUSTER_SITE)
  }

  async start(): Promise<void> {
    const address = this.address()
    // Left behind by this node (a crash before the delete): it is ours, keep it (and say so again).
    if (await this.present(address)) {
      void this.announce(address)
      return
    }
    const r = await this.ip(['addr', 'add', address, 'dev', this.p.interface])
    if (r.code === 0) {
      void this.announce(address)
      return
    }
    const what = `ip addr add ${address} dev ${this.p.interface}`
    const forbidden = /not permitted|permission denied/i.test(r.stderrTail)
    throw new Error(
      forbidden
        ? `${what}: the host forbids it (${r.stderrTail.trim()}): run the node as root or with CAP_NET_ADMIN`
        : describeResult(what, r, ipTimeoutMs),
    )
  }

  async stop(): Promise<string> {
    if (!('address' in this.chosen)) return `nothing to remove (${this.chosen.problem})`
    const address = this.chosen.address
    if (!(await this.present(address))) return 'address was not on the interface'
    const r = await this.ip(['addr', 'del', address, 'dev', this.p.interface])
    if (r.code !== 0)
      throw new Error(describeResult(`ip addr del ${address} dev ${this.p.interface}`, r, ipTimeoutMs))
    return `removed ${address} from ${this.p.interface}`
  }

  async looksAlive(): Promise<string | null> {
    if (!('address' in this.chosen)) return this.chosen.problem
    const address = this.chosen.address
    return (await this.present(address)) ? null : `${address} is no longer on ${this.p.interface}`
  }

  isAlive(): Promise<string | null> {
    return this.looksAlive()
  }

  processGroups(): number[] {
    return []
  }

  private address(): string {
    if ('address' in this.chosen) return this.chosen.address
    throw new Error(this.chosen.problem)
  }

  /** Gratuitous ARP / unsolicited neighbour advertisement; reports how it went, never throws. */
  private async announce(address: string): Promise<void> {
    const plan = planAnnouncement(address, this.p.interface, (tool) =>
      findExecutable(tool, this.ctx.env.PATH, isExecutable),
    )
    const data = { address, interface: this.p.interface }
    if (plan.kind === 'skip') {
      this.ctx.event({
        type: 'address:not-announced',
        severity: plan.severity,
        message: `${address} on ${this.p.interface} not announced: ${plan.reason}`,
        data,
      })
      return
    }
    const command = `${plan.tool} ${plan.args.join(' ')}`
    const r = await runCommand(plan.file, plan.args, {
      env: this.ctx.env,
      timeoutMs: announceTimeoutMs,
      log: this.log,
    })
    if (r.code === 0)
      this.ctx.event({
        type: 'address:announced',
        severity: 'info',
        message: `${address} announced on ${this.p.interface} (${command})`,
        data: { ...data, command },
      })
    else
      this.ctx.event({
        type: 'address:not-announced',
        severity: 'warning',
        message: `${address} on ${this.p.interface} not announced: ${describeResult(command, r, announceTimeoutMs)}; neighbours learn the address only when their cache expires`,
        data: { ...data, command },
      })
  }

  private async present(address: string): Promise<boolean> {
    const r = await this.ip(['-o', 'addr', 'show', 'dev', this.p.interface], true)
    if (r.code !== 0) return false
    return r.stdout.split('\n').some((line) => line.split(/\s+/).includes(address))
  }

  private ip(args: string[], capture = false) {
    return runCommand('ip', args, { env: this.ctx.env, timeoutMs: ipTimeoutMs, log: this.log, capture })
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}
