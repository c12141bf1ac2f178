/**
 * Who waits on the consensus core: proposals waiting for their entry to be applied (matched by
 * index and term: another term's entry at that index means leadership changed and the proposal
 * was lost), read-index requests waiting for their read state, and callers waiting until this
 * node has applied through an index. Every wait but a proposal's is bounded by a timer; a
 * proposal ends when its index is applied or the node gives its history up or stops.
 */
import type { Entry, ProposalTicket, ReadState } from '../consensus/types.ts'
import type { ApplyResult } from '../database/clusterDatabase.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { Timers } from './clock.ts'

interface Waiter {
  term: number
  resolve: (applied: AppliedCommand) => void
  reject: (error: Error) => void
}

export interface ProposalTrackerParts {
  /** This node's name, for the errors it gives. */
  name: string
  timers: Timers
  /** The index this node has applied through. */
  applied: () => number
}

export class ProposalTracker {
  private readonly p: ProposalTrackerParts
  private readonly proposals = new Map<number, Waiter>()
  private readonly reads = new Map<string, (index: number) => void>()
  private appliedWaiters: { index: number; resolve: () => void }[] = []
  private readSeq = 0

  constructor(parts: ProposalTrackerParts) {
    this.p = parts
  }

  /** Resolves once the entry of `ticket` is applied, with the database's answer. */
  proposed(ticket: ProposalTicket): Promise<AppliedCommand> {
    return new Promise((resolve, reject) => {
      this.proposals.set(ticket.index, { term: ticket.term, resolve, reject })
    })
  }

  /** Entry `entry` was applied (`result`: the database's answer; null when it carried no command). */
  settle(entry: Entry, result: ApplyResult | null): void {
    const waiter = this.proposals.get(entry.index)
    if (waiter === undefined) return
    this.proposals.delete(entry.index)
    if (waiter.term !== entry.term || result === null)
      waiter.reject(
        new GeoclusterError('GC_ERR_NO_QUORUM', 'leadership changed before the change committed; retry'),
      )
    else waiter.resolve({ index: entry.index, result })
  }

  /**
   * A leader's snapshot up to `index` replaced this node's log: the entries it covers are never
   * applied one by one here, so the proposals waiting for them end now. Whether each took effect
   * is not known here (the snapshot may hold another leader's entry at that index): say so.
   */
  snapshotCovers(index: number): void {
    for (const [at, w] of this.proposals) {
      if (at > index) continue
      this.proposals.delete(at)
      w.reject(
        new GeoclusterError(
          'GC_ERR_NO_QUORUM',
          `this node caught up from the leader's snapshot past the change (index ${at}): whether it took effect is not known here; check, then retry`,
        ),
      )
    }
  }

  /** Every proposal still waiting fails with `error` (the node gave its history up, or stops). */
  failProposals(error: GeoclusterError): void {
    for (const [, w] of this.proposals) w.reject(error)
    this.proposals.clear()
  }

  /** A fresh read-index context of this node's. */
  nextReadContext(): string {
    return `${this.p.name}-${++this.readSeq}`
  }

  /** Resolves with the read index for `ctx` once its read state comes; fails after `timeoutMs`. */
  readIndex(ctx: string, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = this.p.timers.after(timeoutMs, () => {
        this.reads.delete(ctx)
        reject(
          new GeoclusterError(
            'GC_ERR_NO_QUORUM',
            `no consistent read: ${this.p.name} could not confirm a leader with a quorum`,
          ),
        )
      })
      this.reads.set(ctx, (index) => {
        this.p.timers.cancel(timer)
        resolve(index)
      })
    })
  }

  /** The core's read state: the read waiting for it may go on once that index is applied. */
  readState(r: ReadState): void {
    const waiter = this.reads.get(r.ctx)
    if (waiter === undefined) return
    this.reads.delete(r.ctx)
    waiter(r.index)
  }

  /** Resolves once this node has applied through `index`; fails after `timeoutMs`. */
  appliedThrough(index: number, timeoutMs: number): Promise<void> {
    if (this.p.applied() >= index) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const waiter = {
        index,
        resolve: () => {
          this.p.timers.cancel(timer)
          resolve()
        },
      }
      const timer = this.p.timers.after(timeoutMs, () => {
        this.appliedWaiters = this.appliedWaiters.filter((w) => w !== waiter)
        reject(new GeoclusterError('GC_ERR_NO_QUORUM', `${this.p.name} has not caught up to entry ${index}`))
      })
      this.appliedWaiters.push(waiter)
    })
  }

  /** This node applied more (entries, or a snapshot): the waits up to it are over. */
  appliedMore(): void {
    const applied = this.p.applied()
    const due = this.appliedWaiters.filter((w) => w.index <= applied)
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.index > applied)
    for (const w of due) w.resolve()
  }

  /** How many wait, of each kind (for tests and status). */
  waiting(): { proposals: number; reads: number; applied: number } {
    return { proposals: this.proposals.size, reads: this.reads.size, applied: this.appliedWaiters.length }
  }
}
