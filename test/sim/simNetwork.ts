/**
 * The simulated network: every message is delayed, may be lost or duplicated, and is subject
 * to the current partition, a set of cut directed links (so one-way and asymmetric shapes are
 * as easy as splits). Delivery order follows delivery time, shuffled among equal times.
 *
 * Like the WAN emulator (src/lab), a link can also be slow (`lateRate`: some messages take
 * longer than an election timeout) or stalled (`stall`: everything sent on it is held, then
 * released in one burst when the stall ends). Messages to a node that is paused (SIGSTOP) wait
 * in its socket buffers: `due` leaves them queued while `held(to)` says so.
 */
import type { Message } from '../../src/consensus/types.ts'
import type { Prng } from './prng.ts'

export interface LinkProfile {
  delayTicksMin: number
  delayTicksMax: number
  lossRate: number
  duplicateRate: number
  /** Share of messages delayed by `lateTicksMin..lateTicksMax` instead (0 = none). */
  lateRate?: number
  lateTicksMin?: number
  lateTicksMax?: number
}

export const calmLinks: LinkProfile = { delayTicksMin: 1, delayTicksMax: 2, lossRate: 0, duplicateRate: 0 }

/** What the network carries: anything addressed from one node to another. */
export interface Addressed {
  from: string
  to: string
}

interface InFlight<M> {
  at: number
  seq: number
  message: M
}

export class SimNetwork<M extends Addressed = Message> {
  private readonly rng: Prng
  private queue: InFlight<M>[] = []
  private seq = 0
  private cut = new Set<string>()
  /** Directed links holding their messages until the given tick. */
  private readonly stalls = new Map<string, number>()
  /** Nodes cut off from everyone, whatever partitions come and go (until `rejoin`). */
  private readonly isolated = new Set<string>()
  profile: LinkProfile
  sent = 0
  delivered = 0
  dropped = 0
  /** Messages given a late delay (longer than an election timeout, as the profile says). */
  late = 0

  constructor(rng: Prng, profile: LinkProfile) {
    this.rng = rng
    this.profile = profile
  }

  send(m: M, now: number): void {
    this.sent++
    if (this.rng.chance(this.profile.lossRate)) {
      this.dropped++
      return
    }
    const copies = this.rng.chance(this.profile.duplicateRate) ? 2 : 1
    const p = this.profile
    for (let i = 0; i < copies; i++) {
      const late = p.lateRate !== undefined && p.lateRate > 0 && this.rng.chance(p.lateRate)
      const delay = late
        ? this.rng.int(p.lateTicksMin ?? p.delayTicksMax, p.lateTicksMax ?? p.delayTicksMax)
        : this.rng.int(p.delayTicksMin, p.delayTicksMax)
      if (late) this.late++
      this.queue.push({ at: now + delay, seq: this.seq++, message: m })
    }
  }

  /**
   * Messages due by `now` whose link is open, in a seeded order; cut links swallow theirs. A
   * message on a stalled link, or to a node `held` says is not taking messages, stays queued.
   */
  due(now: number, held?: (to: string) => boolean): M[] {
    const ready: InFlight<M>[] = []
    const later: InFlight<M>[] = []
    for (const [link, until] of this.stalls) if (until <= now) this.stalls.delete(link)
    for (const f of this.queue) {
      if (f.at > now) later.push(f)
      else if (this.stalls.size > 0 && this.stalls.has(`${f.message.from}>${f.message.to}`)) later.push(f)
      else if (held?.(f.message.to) === true) later.push(f)
      else ready.push(f)
    }
    this.queue = later
    const out: M[] = []
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
    return (
      this.cut.has(`${from}>${to}`) ||
      (this.isolated.size > 0 && (this.isolated.has(from) || this.isolated.has(to)))
    )
  }

  /** Cuts `id` off from every other node until `rejoin(id)` (partitions and heals leave it so). */
  isolate(id: string): void {
    this.isolated.add(id)
  }

  rejoin(id: string): void {
    this.isolated.delete(id)
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

  /** Holds everything sent from `from` to `to` until tick `until`, then delivers it at once. */
  stall(from: string, to: string, until: number): void {
    const link = `${from}>${to}`
    this.stalls.set(link, Math.max(this.stalls.get(link) ?? 0, until))
  }

  heal(): void {
    this.cut.clear()
    this.stalls.clear()
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
