import { Lease } from '../failover/lease.ts'
import {
  earlierLeasesAskedBefore,
  type LeaseEpoch,
  mayGrant,
  sameLeaseEpoch,
} from '../failover/leaseAuthority.ts'
import type { FencingTiming } from '../topology/clusterTiming.ts'
import type { NodeContext } from './nodeContext.ts'
import type { QuorumProvider } from './quorumProvider.ts'
import type { TickHistory } from './tickHistory.ts'

export interface LeaseGrantsParts
  extends Pick<NodeContext, 'name' | 'monotonic' | 'core' | 'db' | 'stopping' | 'emit'> {
  fencing: FencingTiming
  quorum: QuorumProvider
  ticks: TickHistory
  /** The resource monitor enforces the lease by itself; the reconciler looks again when it changes. */
  resources: { leaseRenewed(remainingMs: number): void; schedule(): void }
  /** The lease itself (the simulator's mutation tests pass one with an unsafe switch). */
  lease?: Lease
}

export class LeaseGrants {
  private readonly p: LeaseGrantsParts
  /** This node's lease to run its groups. */
  private readonly lease: Lease
  private held = false

  constructor(parts: LeaseGrantsParts) {
    this.p = parts
    this.lease = parts.lease ?? new Lease()
  }

  /**
   * The lease authority's rule (leaseAuthority.ts `mayGrant`): a leader that a majority answered
   * within the grant window, counted from when it sent what they answered. Only answers to its
   * own messages count (a member that pings it but does not hear it may already be electing
   * another leader).
   */
  grants(): boolean {
    const { core, ticks } = this.p
    const raft = core.status()
    const now = this.p.monotonic()
    const ackSendAgeMs: Record<string, number> = {}
    for (const [id, p] of Object.entries(raft.progress)) {
      // The time of the tick the answered message was sent in (at or before it left).
      const sentAt = Number.isFinite(p.ackAgeTicks) ? ticks.timeOf(ticks.done - p.ackAgeTicks) : null
      if (sentAt !== null) ackSendAgeMs[id] = now - sentAt
    }
    return mayGrant({
      leading: raft.role === 'leader',
      transferPending: raft.transferee !== null,
      stopping: this.p.stopping(),
      epochWithheld: core.epochRefusal() !== null,
      holdsDisk: this.p.quorum.holdsDisk(),
      config: raft.config,
      self: this.p.name,
      ackSendAgeMs,
      grantWindowMs: this.p.fencing.grantWindowMs,
    })
  }

  /** Before when every lease an earlier leader granted was asked for (leaseAuthority.ts). */
  earlierLeasesAskedBefore(leaderSince: number): number {
    return earlierLeasesAskedBefore({
      nowMs: this.p.monotonic(),
      leaderSinceMs: leaderSince,
      grantWindowMs: this.p.fencing.grantWindowMs,
      earlier: this.p.quorum.earlierLeaders(this.p.core.status()),
    })
  }

  /**
   * A member of epoch `asker` asks (by pinging): a lease if this leader grants, with its last
   * index to apply first; never to a member of another history.
   */
  leaseFor(from: string, asker: LeaseEpoch): { mustApply: number } | null {
    const node = this.p.db().node(from)
    if (node === undefined || node.evicted === true) return null
    if (!sameLeaseEpoch(asker, this.p.core.epochIdentity()) || !this.grants()) return null
    return { mustApply: this.p.core.status().lastIndex }
  }

  /** A leader of epoch `grantor` granted this node a lease: taken only within this node's history. */
  grantedBy(grantor: LeaseEpoch, askedAtMs: number, mustApply: number): void {
    if (sameLeaseEpoch(grantor, this.p.core.epochIdentity())) this.granted(askedAtMs, mustApply)
  }

  /** The leader grants itself a lease every tick it hears a majority. */
  renewOwn(): void {
    if (this.grants()) this.granted(this.p.monotonic(), this.p.core.status().lastIndex)
  }

  /** A leader granted this node a lease for what it asked at `askedAtMs`. */
  granted(askedAtMs: number, mustApply: number): void {
    const wasValid = this.lease.valid(this.p.monotonic())
    const now = this.p.monotonic()
    this.lease.renew(askedAtMs, this.p.fencing.fenceAfterMs, mustApply, now)
    this.p.resources.leaseRenewed(this.lease.remainingMs(now))
    if (!wasValid && this.lease.valid(now)) this.p.resources.schedule()
  }

  /** Says when this node loses or regains its lease (its groups are fenced meanwhile); every tick. */
  watch(): void {
    const held = this.lease.valid(this.p.monotonic())
    if (held === this.held) return
    this.held = held
    const { name, fencing } = this.p
    this.p.emit(
      held
        ? { type: 'lease:granted', severity: 'info', message: `${name} holds a lease: it may run its groups` }
        : {
            type: 'lease:lost',
            severity: 'warning',
            message: `${name} lost its lease (no grant from a leader that hears a majority for ${fencing.fenceAfterMs} ms): its groups are fenced`,
          },
    )
    this.p.resources.schedule()
  }

  /** Does this node hold its lease now? */
  valid(): boolean {
    return this.lease.valid(this.p.monotonic())
  }

  /** May this node run its groups now (it holds a lease)? */
  mayRun(): { ok: true } | { ok: false; why: string } {
    return this.valid()
      ? { ok: true }
      : { ok: false, why: `${this.p.name} holds no lease from a quorate leader` }
  }

  /** May it start them too (it has applied what the granting leader had)? */
  mayStart(): boolean {
    return this.lease.mayStart(this.p.monotonic(), this.p.db().appliedIndex)
  }
}
