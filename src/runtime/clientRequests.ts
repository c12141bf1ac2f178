/**
 * How a caller's writes and reads reach the cluster from this node. A write is checked, then
 * proposed here when this node leads, or forwarded to the leader and answered once this node
 * has applied it too (so what the caller reads next includes it). A read is linearizable: it
 * confirms leadership with a quorum (read-index) and waits until this node has applied that far.
 */
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import {
  type Command,
  type CommandEnvelope,
  commandBytesMax,
  commandSchema,
  encodeEnvelope,
} from '../database/commands.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import { commandLevel, levelRefusal } from '../database/functionalLevel.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { ConsensusTiming } from './consensusTiming.ts'
import type { LeaderCall } from './leaderCalls.ts'
import type { LeaderDesk } from './leaderDesk.ts'
import { LoopTurns } from './loopTurns.ts'
import type { NodeContext } from './nodeContext.ts'
import type { ProposalTracker } from './proposalTracker.ts'

/** How long a follower waits to apply what the leader answered for it. */
export const forwardedApplyWaitMs = 10_000

export interface ClientRequestsParts
  extends Pick<NodeContext, 'name' | 'clock' | 'core' | 'db' | 'scheduleDrive'> {
  timing: ConsensusTiming
  /** The highest cluster functional level this node supports. */
  supportedLevel: number
  tracker: ProposalTracker
  desk: Pick<LeaderDesk, 'callLeader'>
  /** Throws when this node may not serve now (failed, stopping, its storage refusing writes). */
  assertServing: () => void
  /** The node failed: even a write allowed while it stops is refused. */
  failed: () => boolean
  /** Why the API should take no more work just now, or null. */
  busy: () => string | null
}

export class ClientRequests {
  private readonly p: ClientRequestsParts
  private readonly bulkTurns = new LoopTurns()

  constructor(parts: ClientRequestsParts) {
    this.p = parts
  }

  /** Proposes a command and resolves once it is committed and applied (or refused by the database). */
  async propose(
    command: Command,
    requestedBy: string,
    opts: { whileStopping?: boolean } = {},
  ): Promise<AppliedCommand> {
    if (opts.whileStopping !== true || this.p.failed()) this.p.assertServing()
    const by = this.stampBy(requestedBy)
    const checked = commandSchema.safeParse(command)
    if (!checked.success) {
      const issue = checked.error.issues[0]
      const path = issue?.path.join('.') ?? ''
      throw new GeoclusterError(
        'GC_ERR_BAD_REQUEST',
        `${command.op}: ${path}: ${issue?.message ?? 'invalid'}`,
        {
          path: `body.${path}`,
        },
      )
    }
    return this.onLeader({ method: 'propose', command: checked.data }, by, () =>
      this.proposeHere(checked.data, by),
    )
  }

  /** Proposes on this node, as leader: resolves once the entry is applied here. */
  proposeHere(command: Command, by: string): Promise<AppliedCommand> {
    const { core } = this.p
    const envelope: CommandEnvelope = { v: 1, by, at: Math.floor(this.p.clock.now()), command }
    const data = encodeEnvelope(envelope)
    if (data.length > commandBytesMax)
      throw new GeoclusterError(
        'GC_ERR_BAD_REQUEST',
        `${command.op}: the command is ${data.length} bytes; the limit is ${commandBytesMax}`,
        { path: 'body' },
      )
    const beyond = this.levelProblem(command)
    if (beyond !== null) throw new GeoclusterError('GC_ERR_FUNCTIONAL_LEVEL', beyond, { path: 'body' })
    const withheld = core.epochRefusal()
    if (withheld !== null) throw new GeoclusterError('GC_ERR_CONFLICT', withheld)
    const proposed = core.propose(data)
    if (!proposed.ok)
      throw new GeoclusterError(
        'GC_ERR_NO_QUORUM',
        `this node cannot take writes (${proposed.reason}; leader: ${proposed.leader ?? 'none'})`,
      )
    const applied = this.p.tracker.proposed(proposed.ticket)
    this.p.scheduleDrive()
    return applied
  }

  /** Runs `here` on the leader: directly when this node leads, else `call` forwarded to it. */
  async onLeader(call: LeaderCall, by: string, here: () => Promise<AppliedCommand>): Promise<AppliedCommand> {
    if (call.method !== 'propose') this.p.assertServing()
    if (this.p.core.status().role === 'leader') return here()
    const applied = (await this.p.desk.callLeader(call, by)) as AppliedCommand
    await this.p.tracker.appliedThrough(applied.index, forwardedApplyWaitMs)
    return applied
  }

  /** A linearizable read: a deposed leader or a cut-off node cannot pass, so it never serves a stale value. */
  async read<T>(fn: (db: ClusterDatabase) => T, opts: { bulk?: boolean } = {}): Promise<T> {
    this.p.assertServing()
    await this.readBarrier()
    // Many reads wait on one barrier and resume together: the tick comes first if they pile up,
    // and a read that may list the whole database takes a loop turn of its own.
    if (opts.bulk === true) await this.bulkTurns.take()
    const busy = this.p.busy()
    if (busy !== null)
      throw new GeoclusterError('GC_ERR_BUSY', `${this.p.name} is busy (${busy}); retry shortly`)
    return fn(this.p.db())
  }

  /**
   * Why the leader may not propose `command`: its kind is above the cluster's functional level
   * (a member of an older release could not read it), or above what this node itself supports.
   * Whoever proposes a raise has asked every member first (levelUpgrade.ts).
   */
  private levelProblem(command: Command): string | null {
    const refusal = levelRefusal(command, this.p.db().functionalLevel())
    if (refusal !== null) return refusal
    const needed = commandLevel(command)
    if (needed <= this.p.supportedLevel) return null
    return command.op === 'cluster.setLevel'
      ? `cannot raise the functional level to ${needed}: the leader ${this.p.name} supports at most level ${this.p.supportedLevel}`
      : `${command.op} needs functional level ${needed}; the leader ${this.p.name} supports at most level ${this.p.supportedLevel}`
  }

  /** The audit trail names the node whose API (and admin token) took the request, or the node itself. */
  stampBy(requestedBy: string): string {
    return requestedBy === 'admin' ? `admin@${this.p.name}` : requestedBy
  }

  private async readBarrier(): Promise<void> {
    const { core, tracker, timing } = this.p
    if (core.canServeReads()) return
    const ctx = tracker.nextReadContext()
    const timeoutMs = timing.tickMs * timing.electionTicks * 2
    const read = tracker.readIndex(ctx, timeoutMs)
    core.readIndex(ctx)
    this.p.scheduleDrive()
    await tracker.appliedThrough(await read, timeoutMs)
  }
}
