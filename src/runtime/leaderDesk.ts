import type { Command } from '../database/commands.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { ClusterEvent } from '../events/clusterEvent.ts'
import type { SupportReport } from '../events/clusterLogReport.ts'
import type { SelfReport } from '../membership/memberReport.ts'
import {
  answerFailed,
  answerRefused,
  answerWith,
  type CallAnswer,
  decodeLeaderCall,
  encodeLeaderCall,
  type LeaderCall,
  type NodeSpec,
  readAnswer,
  selfCalls,
} from './leaderCalls.ts'
import type { NodeContext } from './nodeContext.ts'
import type { AdminCall } from './nodeMesh.ts'

export interface LeaderDeskParts extends Pick<NodeContext, 'name' | 'core' | 'db' | 'mesh' | 'log'> {
  /** What this node does when it is the leader (or, for selfReport, any node). */
  here: {
    propose(command: Command, by: string): Promise<AppliedCommand>
    addNode(spec: NodeSpec, by: string): Promise<AppliedCommand>
    evictNode(name: string, by: string): Promise<AppliedCommand>
    selfReport(): SelfReport
    /** This node's newest events (any node answers). */
    recentEvents(limit: number): ClusterEvent[]
    /** What a support case needs of this node, secrets removed (any node answers). */
    supportReport(): SupportReport
  }
}

export class LeaderDesk {
  private readonly p: LeaderDeskParts

  constructor(parts: LeaderDeskParts) {
    this.p = parts
  }

  /** Sends `call` to the leader; resolves with its answer's value, or throws its refusal. */
  async callLeader(call: LeaderCall, by: string): Promise<unknown> {
    const { core, name } = this.p
    const leader = core.status().leader
    const mesh = this.p.mesh()
    if (leader === null || mesh === null || !core.quorate())
      throw new GeoclusterError(
        'GC_ERR_NO_QUORUM',
        `no quorum: ${name} knows of no leader to take the change`,
      )
    let answer: CallAnswer
    try {
      answer = await mesh.forward(leader, encodeLeaderCall(call, by))
    } catch (error) {
      throw new GeoclusterError(
        'GC_ERR_NO_QUORUM',
        `cannot reach the leader ${leader}: ${(error as Error).message}`,
      )
    }
    return readAnswer(answer, `the leader ${leader}`)
  }

  /** Sends `call` to member `to` and returns its answer as it came. */
  async ask(to: string, call: LeaderCall, by: string): Promise<CallAnswer> {
    const mesh = this.p.mesh()
    if (mesh === null) throw new Error('no mesh')
    return mesh.forward(to, encodeLeaderCall(call, by))
  }

  /** A call from member `from`, answered (the mesh's onAdmin). */
  async answer(from: string, raw: AdminCall): Promise<CallAnswer> {
    const { core, db, log, name } = this.p
    const caller = db().node(from)
    if (caller === undefined || caller.evicted === true) {
      log.warn(
        { peer: from, method: raw.method.slice(0, 64) },
        'refused an admin call from a member that is not a node',
      )
      return answerRefused(403, {
        code: 'GC_ERR_FORBIDDEN',
        message: `${from} is not a node of this cluster: only nodes make admin calls`,
      })
    }
    const decoded = decodeLeaderCall(raw)
    // Any node answers for itself (live checks, its events); everything else is the leader's.
    if (decoded.ok && selfCalls.has(decoded.call.method)) {
      try {
        return answerWith(await this.run(decoded.call, from, `node:${from}`))
      } catch (error) {
        return answerFailed(error)
      }
    }
    if (!decoded.ok && selfCalls.has(decoded.method))
      return answerRefused(400, { code: 'GC_ERR_BAD_REQUEST', message: decoded.problem })
    if (core.status().role !== 'leader')
      return answerRefused(503, {
        code: 'GC_ERR_NOT_LEADER',
        message: `${name} is not the leader (leader: ${core.status().leader ?? 'none'})`,
      })
    if (!decoded.ok) return answerRefused(400, { code: 'GC_ERR_BAD_REQUEST', message: decoded.problem })
    const by = decoded.by.startsWith('admin') ? `admin@${from}` : `node:${from}`
    try {
      return answerWith(await this.run(decoded.call, from, by))
    } catch (error) {
      return answerFailed(error)
    }
  }

  private async run(call: LeaderCall, from: string, by: string): Promise<unknown> {
    const { here } = this.p
    switch (call.method) {
      case 'propose': {
        const notYours = this.notTheCallers(call.command, from)
        if (notYours !== null) throw new GeoclusterError('GC_ERR_FORBIDDEN', notYours)
        return here.propose(call.command, by)
      }
      case 'addNode':
        return here.addNode(call.spec, by)
      case 'evictNode':
        return here.evictNode(call.name, by)
      case 'selfReport':
        return here.selfReport()
      case 'recentEvents':
        return here.recentEvents(call.limit)
      case 'supportReport':
        return here.supportReport()
    }
  }

  /** A node speaks only for itself: its own checkpoints, releases of groups it owns. */
  private notTheCallers(command: Command, from: string): string | null {
    if (command.op === 'resource.checkpoint' && command.node !== from)
      return `${from} cannot save a checkpoint on behalf of ${command.node}`
    if (command.op === 'group.release' && this.p.db().group(command.name)?.owner !== from)
      return `${from} cannot release ${command.name}: it does not own it`
    return null
  }
}
