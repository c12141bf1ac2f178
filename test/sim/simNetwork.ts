/**
 * The simulated network: every message is delayed, may be lost or duplicated, and is subject
 * to the current partition, a set of cut directed links (so one-way and asymmetric shapes are
 * as easy as splits). Delivery order follows delivery time, shuffled among equal times.
 */
import type { Message } from '../../src/consensus/types.ts'
import type { Prng } from './prng.ts'

export interface LinkProfile {
  delayTicksMin: number
  delayTicksMax: number
  lossRate: number
  duplicateRate: number
}

export const calmLinks: LinkProfile = { delayTicksMin: 1, delayTicksMax: 2, lossRate: 0, duplicateRate: 0 }

interface InFlight {
  at: number
  seq: number
  message: Message
}

export class SimNetwork {
  private readonly rng: Prng
  private queue: InFlight[] = []
  private seq = 0
  private cut = new Set<string>()
  profile: LinkProfile
  sent = 0
  delivered = 0
  dropped = 0

  constructor(rng: Prng, profile: LinkProfile) {
    this.rng = rng
    this.profile = profile
  }

  send(m: Message, now: number): void {
    this.sent++
    if (this.rng.chance(this.profile.lossRate)) {
      this.dropped++
      return
    }
    const copies = this.rng.chance(this.profile.duplicateRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.int(this.profile.delayTicksMin, this.profile.delayTicksMax)
      this.queue.push({ at: now + delay, seq: this.seq++, message: m })
    }
  }

  /** Messages due by `now` whose link is open, in a seeded order; cut links swallow theirs. */
  due(now: number): Message[] {
    const ready: InFlight[] = []
    const later: InFlight[] = []
    for (const f of this.queue) (f.at <= now ? ready : later).push(f)
    this.queue = later
    const out: Message[] = []
    for (const f of this.rng.shuffle(ready)) {
      if (this.isCut(f.message.from, f.message.to)) this.dropped++
      else {
        out.push(f.message)
        this.delivered++
      }
    }
    return out
  }

  isCut(from: string, to: string): boolean {
    return this.cut.has(`${from}>${to}`)
  }

  /** Cuts every link between different groups (both directions). */
  partition(groups: string[][]): void {
    this.cut.clear()
    for (const a of groups)
      for (const b of groups) if (a !== b) for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`)
  }

  cutOneWay(from: string, to: string): void {
    this.cut.add(`${from}>${to}`)
  }

  heal(): void {
    this.cut.clear()
  }

  describeCuts(): string {
    return this.cut.size === 0 ? 'none' : [...this.cut].sort().join(' ')
  }

  /** Forgets messages to a node that crashed (its socket buffers went with it). */
  dropTo(id: string): void {
    this.queue = this.queue.filter((f) => f.message.to !== id)
  }

  get inFlight(): number {
    return this.queue.length
  }
}
