import type { AppliedCommand } from '../database/committedCommand.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { ConsensusTiming } from './consensusTiming.ts'
import type { NodeSpec } from './leaderCalls.ts'
import type { NodeContext } from './nodeContext.ts'

export interface MembershipChangesParts
  extends Pick<NodeContext, 'name' | 'core' | 'clock' | 'proposeHere' | 'appliedThrough' | 'scheduleDrive'> {
  timing: ConsensusTiming
  setMeshMembers: () => void
  /** How long to wait for a change to be applied here. */
  applyWaitMs: number
}

export class MembershipChanges {
  private readonly p: MembershipChangesParts

  constructor(parts: MembershipChangesParts) {
    this.p = parts
  }

  /** Adds a member: a database record and a vote through a joint configuration change. */
  async add(spec: NodeSpec, by: string): Promise<AppliedCommand> {
    const added = await this.p.proposeHere({ op: 'node.add', ...spec }, by)
    if (!added.result.ok) return added
    await this.change((base) => ({ ...base, [spec.name]: spec.votes }))
    return added
  }

  /** Evicts a member: it loses its vote, its groups, and its key is refused from then on. */
  async evict(name: string, by: string): Promise<AppliedCommand> {
    if (name === this.p.name)
      throw new GeoclusterError('GC_ERR_CONFLICT', 'the leader cannot evict itself; move leadership first')
    const evicted = await this.p.proposeHere({ op: 'node.evict', name }, by)
    if (!evicted.result.ok) return evicted
    await this.change((base) => {
      const next = { ...base }
      delete next[name]
      return next
    })
    return evicted
  }

  /** Changes the voting configuration and waits until the change has fully committed. */
  private async change(nextBase: (base: Record<string, number>) => Record<string, number>): Promise<void> {
    const { core, clock, timing } = this.p
    const deadline = clock.monotonic() + timing.tickMs * timing.electionTicks * 4
    for (;;) {
      const config = core.config()
      const base = nextBase({ ...config.base })
      const incoming = { ...base }
      const r = core.changeConfiguration({ incoming, base, witness: config.witness })
      if (r.ok) {
        this.p.scheduleDrive()
        await this.p.appliedThrough(r.ticket.index, this.p.applyWaitMs)
        // The leave-joint entry follows on its own once the joint one commits.
        while (core.config().outgoing !== null && clock.monotonic() < deadline)
          await new Promise((res) => setTimeout(res, 20))
        this.p.setMeshMembers()
        return
      }
      if (clock.monotonic() > deadline)
        throw new GeoclusterError('GC_ERR_FAILED', `configuration change not accepted: ${r.reason}`)
      await new Promise((res) => setTimeout(res, 50))
    }
  }
}
