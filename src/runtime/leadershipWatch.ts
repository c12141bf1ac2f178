/**
 * Who leads and whether this node is in a quorate cluster, as events (said on change only), and
 * the lone voter's first lead, which a one-node lab waits for before it serves. A change of
 * either makes the resource reconciler look again.
 */
import type { NodeContext } from './nodeContext.ts'

export interface LeadershipWatchParts extends Pick<NodeContext, 'name' | 'core' | 'emit'> {
  /** The reconciler looks again. */
  reconcile: () => void
}

export class LeadershipWatch {
  private readonly p: LeadershipWatchParts
  private lastLeader: string | null = null
  private lastQuorate = false
  private waitingToLead: (() => void)[] = []

  constructor(parts: LeadershipWatchParts) {
    this.p = parts
  }

  /** The core's soft state named `leader` (null: none known). */
  leaderIs(leader: string | null): void {
    if (leader === this.lastLeader) return
    this.lastLeader = leader
    if (leader !== null)
      this.p.emit({
        type: 'leader:elected',
        severity: 'info',
        message: `${leader} leads term ${this.p.core.status().term}`,
      })
    this.p.reconcile()
  }

  /** Every tick: says when this node joins or leaves a quorate cluster. */
  watchQuorum(): void {
    const quorate = this.p.core.quorate()
    if (quorate === this.lastQuorate) return
    this.lastQuorate = quorate
    const name = this.p.name
    this.p.emit({
      type: 'leader:elected',
      severity: quorate ? 'info' : 'warning',
      message: quorate ? `${name} is part of a quorate cluster` : `${name} has no quorum`,
    })
    this.p.reconcile()
  }

  /** Resolves once this node may serve reads as leader (a lone voter's first lead). */
  leadsAlone(): Promise<void> {
    return new Promise((resolve) => {
      if (this.p.core.canServeReads()) resolve()
      else this.waitingToLead.push(resolve)
    })
  }

  /** After each Ready cycle: a lone voter that now leads lets its waiters go. */
  cycled(): void {
    if (this.p.core.canServeReads() && this.waitingToLead.length > 0)
      for (const w of this.waitingToLead.splice(0)) w()
  }
}
