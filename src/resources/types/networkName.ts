/**
 * `network-name`: the name clients use for a group (the seeds' Network Name). Every node's name
 * responder (src/runtime/nameResponder.ts) answers it from the cluster database with the
 * group's current address while the group is owned and online; this resource only marks that:
 * it runs nothing and is healthy while online. Depend it on the group's `ip-address`.
 */

import { type NetworkNameParams, typedParams } from '../../database/resourceTypes.ts'
import { PolledAgent } from '../pollTiming.ts'
import type { AgentContext, ResourceAgent } from '../resourceAgent.ts'
import type { RotatingLog } from '../rotatingLog.ts'

export class NetworkName extends PolledAgent<NetworkNameParams> implements ResourceAgent {
  private readonly log: RotatingLog

  constructor(params: Record<string, string>, _ctx: AgentContext, log: RotatingLog) {
    super(typedParams<NetworkNameParams>('network-name', params))
    this.log = log
  }

  async start(): Promise<void> {
    this.log.line(`publishing ${this.p.name}`)
  }

  async stop(): Promise<string> {
    this.log.line(`withdrawing ${this.p.name}`)
    return `${this.p.name} withdrawn`
  }

  async looksAlive(): Promise<string | null> {
    return null
  }

  async isAlive(): Promise<string | null> {
    return null
  }

  processGroups(): number[] {
    return []
  }
}
