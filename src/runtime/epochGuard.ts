/**
 * Force quorum and epochs at run time (ARCHITECTURE.md "Ownership transitions"; the pure rule
 * is epochRule.ts): forcing a new epoch from this node's log, loudly; the operator's second step
 * that confirms the other side is down; an epoch conflict, said once; and a fencing-token floor
 * carried from a history this node gave up into the cluster it joined, so tokens never go back.
 */
import { describeEpoch, epochOf } from '../consensus/configuration.ts'
import { GeoclusterError } from '../errors/errors.ts'
import { carriedFloor, dropCarriedFloor, keepCarriedFloor } from './carriedTokenFloor.ts'
import type { NodeContext } from './nodeContext.ts'
import type { QuorumProvider } from './quorumProvider.ts'

/** A carried floor is offered as soon as the node is quorate, and again this long after a failure (ms). */
const carryRetryMs = 500

export interface EpochGuardParts
  extends Pick<
    NodeContext,
    'name' | 'core' | 'db' | 'random' | 'propose' | 'appliedThrough' | 'scheduleDrive' | 'emit' | 'log'
  > {
  dataDir: string
  quorum: Pick<QuorumProvider, 'forceRefusal'>
  tickMs: number
  /** Ticks so far (the floor is offered every few). */
  ticksDone: () => number
}

export class EpochGuard {
  private readonly p: EpochGuardParts
  private conflictSaid = false
  /** A fencing floor from a history this node gave up, not yet in this cluster's database. */
  private floorPending: { floor: number; from: string } | null
  private carrying = false
  private carryRetryAtTick = 0

  constructor(parts: EpochGuardParts) {
    this.p = parts
    this.floorPending = carriedFloor(parts.dataDir)
  }

  /** Says loudly what forcing quorum may lose, then does it. */
  force(otherSideIsDown: boolean): void {
    const { core, name } = this.p
    const refused = this.p.quorum.forceRefusal()
    if (refused !== null) throw new GeoclusterError('GC_ERR_CONFLICT', refused)
    const before = core.status()
    if ((before.config.base[name] ?? 0) === 0)
      throw new GeoclusterError(
        'GC_ERR_CONFLICT',
        `${name} has no configured vote (it is not a voting member): force quorum on a voting member of the cluster`,
      )
    if (before.rebuilding)
      throw new GeoclusterError(
        'GC_ERR_CONFLICT',
        `${name} gave its history up to follow epoch ${describeEpoch(before.epoch)} and has not caught up yet (it has up to index ${before.lastIndex}): a cluster forced here would start from an incomplete copy. Force quorum on a node that kept its history.`,
      )
    // The nonce tells two epochs forced with the same number apart (epochRule.ts).
    const nonce = Math.floor(this.p.random() * 36 ** 8)
      .toString(36)
      .padStart(8, '0')
    core.forceQuorum({ nonce, confirmed: otherSideIsDown })
    const after = epochOf(core.config())
    const lost =
      `changes the rest of the cluster committed that this node lacks (it has up to index ${before.lastIndex}, ` +
      `committed ${before.commit}) are lost once the two sides meet`
    this.p.emit({
      type: 'quorum:forced',
      severity: 'error',
      message: otherSideIsDown
        ? `${name} FORCED QUORUM: it alone forms epoch ${describeEpoch(after)} from its own log, asserting that the other side is down; ${lost}.`
        : `${name} FORCED QUORUM (not confirmed): it alone forms epoch ${describeEpoch(after)} from its own log. ` +
          'It serves reads, but takes no writes and starts no groups until an operator ' +
          'confirms that the other side is down (geocluster cluster confirm-forced --other-side-is-down); ' +
          `a working cluster of the old epoch that it meets makes it give way, losing nothing. Once confirmed, the other survivors join it, and ${lost}.`,
      data: {
        epoch: after.epoch,
        epochId: after.epochId,
        confirmed: otherSideIsDown,
        lastIndex: before.lastIndex,
        commit: before.commit,
      },
    })
  }

  /**
   * The operator asserts, on the leader of an unconfirmed forced epoch, that the other side is
   * down (`by`, stamped): from the entry that says so the epoch takes writes, grants leases and
   * runs groups.
   */
  async confirm(by: string, waitMs: number): Promise<{ epoch: string; index: number }> {
    const { core, name } = this.p
    const r = core.confirmForced()
    if (!r.ok) {
      if (r.reason === 'not the leader')
        throw new GeoclusterError(
          'GC_ERR_NOT_LEADER',
          `confirm on the leader of the forced epoch (${r.leader ?? 'none known'}), not on ${name}`,
        )
      throw new GeoclusterError('GC_ERR_CONFLICT', r.reason)
    }
    this.p.scheduleDrive()
    await this.p.appliedThrough(r.ticket.index, waitMs)
    const epoch = describeEpoch(epochOf(core.config()))
    this.p.emit({
      type: 'quorum:confirmed',
      severity: 'warning',
      message: `${by} confirmed that the other side is down: forced epoch ${epoch} takes writes and runs groups`,
      data: { epoch: core.config().epoch, epochId: core.config().epochId ?? '' },
    })
    return { epoch, index: r.ticket.index }
  }

  /**
   * The core discarded this node's history (a reset): keep its highest fencing token, to be
   * carried into the history it follows now, and say what happened. Before the wipe.
   */
  gaveUpHistory(): void {
    const { core, name, dataDir } = this.p
    // Tokens never go back: the history given up may have issued higher ones than the one joined.
    const to = core.epochIdentity()
    const from = core.lastEpochGivenUp() ?? to
    const floor = this.p.db().highestToken()
    if (floor > 0) {
      keepCarriedFloor(dataDir, floor, describeEpoch(from))
      this.floorPending = carriedFloor(dataDir)
    }
    this.p.emit(
      from.unconfirmed
        ? {
            type: 'quorum:yielded',
            severity: 'warning',
            message: `${name} gave its forced epoch ${describeEpoch(from)} up: it was not confirmed and met a working cluster of epoch ${describeEpoch(to)}, which it rejoins; it took no writes, so nothing is lost`,
            data: { from: from.epochId, to: to.epochId, epoch: to.epoch },
          }
        : {
            type: 'storage:recovered',
            severity: 'warning',
            message: `${name} discarded its history (epoch ${describeEpoch(from)}) to follow epoch ${describeEpoch(to)}; it keeps its fencing floor ${floor}`,
            data: { from: from.epochId, to: to.epochId, epoch: to.epoch, tokenFloor: floor },
          },
    )
  }

  /**
   * Every tick: an epoch conflict is said once, loudly; a fencing floor carried from a history
   * this node gave up is handed to the cluster it joined, then forgotten.
   */
  watch(): void {
    const { core, name } = this.p
    if (!this.conflictSaid && core.epochRefusal() !== null) {
      const conflict = core.status().epochConflict
      if (conflict !== null) {
        this.conflictSaid = true
        this.p.emit({
          type: 'quorum:epoch-conflict',
          severity: 'error',
          message: `${name}: epoch ${conflict.ours} met another confirmed epoch ${conflict.theirs} (from ${conflict.from}); the two histories are never merged, so this side takes no writes and runs no groups. Stop one side and start its nodes again with --prevent-quorum to join the other`,
          data: { ours: conflict.ours, theirs: conflict.theirs, from: conflict.from },
        })
      }
    }
    const carried = this.floorPending
    if (carried === null || this.carrying || this.p.db().cluster() === undefined || !core.quorate()) return
    if (this.p.ticksDone() < this.carryRetryAtTick) return
    this.carrying = true
    this.carryRetryAtTick = this.p.ticksDone() + Math.max(1, Math.round(carryRetryMs / this.p.tickMs))
    this.p
      .propose({ op: 'cluster.raiseTokenFloor', floor: carried.floor }, `node:${name}`)
      .then((applied) => {
        if (!applied.result.ok) return
        dropCarriedFloor(this.p.dataDir)
        this.floorPending = null
        this.p.log.info(
          { floor: carried.floor, from: carried.from },
          'fencing floor carried into this history',
        )
      })
      .catch((error: Error) => this.p.log.debug({ err: error.message }, 'fencing floor not carried yet'))
      .finally(() => {
        this.carrying = false
      })
  }
}
