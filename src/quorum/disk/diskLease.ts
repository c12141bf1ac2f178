/**
 * The quorum disk's challenge/defense protocol (seed 001's SCSI reserve/reset/wait, rebuilt on a
 * lease record in one block of shared storage). Pure: the runtime feeds it the time, performs
 * the one I/O it asks for at a time, and reports the result; randomness comes in as a function.
 *
 * - Holder: every `renewMs` it reads the block and writes its `held` record again. Whatever else
 *   it finds — a challenge, damage, a stale holder's late write — it overwrites (the defense),
 *   unless a record names a higher ballot: then someone took the lease and it has lost. Its lease
 *   lasts `leaseMs` from the start of its last renewal that completed within `ioTimeoutMs`.
 * - Observer: reads every `renewMs`; challenges when the block is blank, damaged, released, or
 *   has not changed for `suspectAfterMs`.
 * - Challenger: writes `clearing`, waits (`challengeWaitMs`, or `releaseWaitMs` after a clean
 *   release), reads: only if its own challenge is still there does it write `held` under a ballot
 *   above every ballot it has seen. Anything else there means someone defended or challenged
 *   after it: it backs off.
 * Two nodes never both hold a valid lease: see diskLeaseTiming.ts for the relations, and
 * test/unit/diskLease.test.ts for the simulation that pauses, kills and delays them.
 */
import { assert } from '../../errors/assert.ts'
import type { DiskLeaseTiming } from './diskLeaseTiming.ts'
import { type DecodedLease, describeLease, type LeaseRecord, sameLeaseRecord } from './leaseRecord.ts'

export type DiskIo = { kind: 'read' } | { kind: 'write'; record: LeaseRecord }

export type DiskIoResult = { ok: true; read?: DecodedLease } | { ok: false; error: string }

export type DiskLeaseEvent =
  | { kind: 'acquired'; ballot: number }
  | { kind: 'lost'; ballot: number; why: string }
  | { kind: 'challenging'; why: string; waitMs: number }
  | { kind: 'backed-off'; why: string }
  | { kind: 'defended'; why: string }
  | { kind: 'released'; ballot: number }

export interface DiskLeaseOptions {
  self: string
  /** Distinguishes this process from an earlier one of the same node. */
  incarnation: number
  timing: DiskLeaseTiming
  /** In [0, 1): spreads rival challengers apart. */
  random: () => number
}

type Purpose = 'observe' | 'clear' | 'verify' | 'take' | 'renew-read' | 'renew-write' | 'release'

type Phase =
  | { role: 'observer'; nextReadAt: number }
  | { role: 'challenger'; step: 'clear' | 'wait' | 'verify' | 'take'; waitMs: number; until: number }
  | { role: 'holder'; nextRenewAt: number; writeDue: boolean }
  | { role: 'releasing' }
  | { role: 'stopped' }

export interface DiskLeaseStatus {
  role: Phase['role']
  /** The ballot this node holds the lease under (holder only). */
  ballot: number | null
  /** Until when the lease is valid (holder only; monotonic ms). */
  validUntil: number | null
  /** The highest ballot seen on the disk or in the recovery log. */
  highestBallot: number
  /** What the block said at the last read. */
  lastSeen: string | null
  /** Whom the block names as holder at the last read. */
  holder: string | null
}

export class DiskLease {
  private readonly o: DiskLeaseOptions
  private phase: Phase
  private pending: { io: DiskIo; purpose: Purpose; startedAt: number } | null = null
  private counter = 0
  private ballot = 0
  private validUntil = Number.NEGATIVE_INFINITY
  private highestBallot = 0
  private challenge: LeaseRecord | null = null
  private seen: DecodedLease | null = null
  private seenKey = ''
  private seenChangedAt = 0
  private events: DiskLeaseEvent[] = []
  private suspected: string | null = null

  constructor(options: DiskLeaseOptions, nowMs: number) {
    assert(options.self.length > 0, 'a disk lease needs a node name')
    this.o = options
    this.phase = { role: 'observer', nextReadAt: nowMs }
  }

  /** A ballot known from elsewhere (the recovery log): the next one taken is above it. */
  noteBallot(ballot: number): void {
    this.highestBallot = Math.max(this.highestBallot, ballot)
  }

  /**
   * The runtime has reason to think `writer` is gone (its heartbeats stopped): an observer that
   * finds the block held by it challenges at once instead of waiting for the block to go stale.
   * Only liveness: the challenge still waits in full, and a live holder defends.
   */
  suspect(writer: string | null): void {
    this.suspected = writer
  }

  /** True while this node holds a lease it may act on. */
  holds(nowMs: number): boolean {
    return this.phase.role === 'holder' && nowMs < this.validUntil
  }

  status(): DiskLeaseStatus {
    const holder = this.phase.role === 'holder'
    return {
      role: this.phase.role,
      ballot: holder ? this.ballot : null,
      validUntil: holder ? this.validUntil : null,
      highestBallot: this.highestBallot,
      lastSeen: this.seen === null ? null : describeLease(this.seen),
      holder:
        this.seen?.kind === 'record' && this.seen.record.state === 'held' ? this.seen.record.writer : null,
    }
  }

  takeEvents(): DiskLeaseEvent[] {
    const out = this.events
    this.events = []
    return out
  }

  /** Advances timers; call often (every few ms to a tenth of `renewMs`). */
  tick(nowMs: number): void {
    const p = this.phase
    if (p.role === 'holder' && nowMs >= this.validUntil) {
      this.lose(`lease not renewed within ${this.o.timing.leaseMs} ms`)
      return
    }
    if (p.role === 'challenger' && p.step === 'wait' && nowMs >= p.until) p.step = 'verify'
  }

  /** The I/O to start now, if one is due and none is in flight; the runtime reports it with `done`. */
  nextIo(nowMs: number): DiskIo | null {
    if (this.pending !== null) return null
    this.tick(nowMs)
    const p = this.phase
    let io: DiskIo | null = null
    let purpose: Purpose = 'observe'
    if (p.role === 'observer' && nowMs >= p.nextReadAt) io = { kind: 'read' }
    else if (p.role === 'holder' && p.writeDue) {
      p.writeDue = false
      io = { kind: 'write', record: this.record('held', this.ballot) }
      purpose = 'renew-write'
    } else if (p.role === 'holder' && nowMs >= p.nextRenewAt) {
      io = { kind: 'read' }
      purpose = 'renew-read'
    } else if (p.role === 'challenger' && p.step === 'clear') {
      this.challenge = this.record('clearing', this.highestBallot)
      io = { kind: 'write', record: this.challenge }
      purpose = 'clear'
    } else if (p.role === 'challenger' && p.step === 'verify') {
      io = { kind: 'read' }
      purpose = 'verify'
    } else if (p.role === 'challenger' && p.step === 'take') {
      io = { kind: 'write', record: this.record('held', this.highestBallot + 1) }
      purpose = 'take'
    } else if (p.role === 'releasing') {
      io = { kind: 'write', record: this.record('released', this.ballot) }
      purpose = 'release'
    }
    if (io !== null) this.pending = { io, purpose, startedAt: nowMs }
    return io
  }

  /** The in-flight I/O finished at `nowMs` (reads carry the decoded block). */
  done(nowMs: number, result: DiskIoResult): void {
    const pending = this.pending
    assert(pending !== null, 'disk I/O reported with none in flight')
    this.pending = null
    const tookMs = nowMs - pending.startedAt
    const inTime = result.ok && tookMs <= this.o.timing.ioTimeoutMs
    if (result.ok && result.read !== undefined) this.see(result.read, nowMs)
    this.tick(nowMs)
    const p = this.phase
    switch (pending.purpose) {
      case 'observe':
        if (p.role === 'observer') this.observe(nowMs)
        return
      case 'clear':
        if (p.role !== 'challenger') return
        if (!inTime) {
          this.backOff(nowMs, `challenge write failed or took ${tookMs} ms`)
          return
        }
        p.step = 'wait'
        p.until = nowMs + p.waitMs
        return
      case 'verify': {
        if (p.role !== 'challenger') return
        const seen = this.seen
        const ours =
          result.ok &&
          seen?.kind === 'record' &&
          this.challenge !== null &&
          sameLeaseRecord(seen.record, this.challenge)
        if (ours) p.step = 'take'
        else
          this.backOff(nowMs, `after the wait the block is ${seen === null ? 'unread' : describeLease(seen)}`)
        return
      }
      case 'take':
        if (p.role !== 'challenger') return
        if (!inTime) {
          this.backOff(nowMs, `taking write failed or took ${tookMs} ms`)
          return
        }
        this.ballot = this.highestBallot + 1
        this.highestBallot = this.ballot
        this.validUntil = pending.startedAt + this.o.timing.leaseMs
        this.phase = {
          role: 'holder',
          nextRenewAt: pending.startedAt + this.o.timing.renewMs,
          writeDue: false,
        }
        this.events.push({ kind: 'acquired', ballot: this.ballot })
        return
      case 'renew-read':
        if (p.role !== 'holder') return
        if (!result.ok) p.nextRenewAt = nowMs + Math.min(100, this.o.timing.renewMs)
        else this.defendOrLose(p)
        return
      case 'renew-write':
        if (p.role !== 'holder') return
        if (inTime) {
          this.validUntil = Math.max(this.validUntil, pending.startedAt + this.o.timing.leaseMs)
          p.nextRenewAt = pending.startedAt + this.o.timing.renewMs
        }
        return
      case 'release':
        this.phase = { role: 'stopped' }
        this.events.push({ kind: 'released', ballot: this.ballot })
        return
    }
  }

  /**
   * The ballot this node took is already claimed in the recovery log (a holder it never saw
   * took it, then vanished before defending): hold on under a higher one. The runtime acts
   * only once it has claimed a ballot of its own.
   */
  raiseBallot(claimed: number): void {
    this.noteBallot(claimed)
    if (this.phase.role !== 'holder') return
    this.ballot = this.highestBallot + 1
    this.highestBallot = this.ballot
    this.phase.writeDue = true
    this.events.push({ kind: 'acquired', ballot: this.ballot })
  }

  /** Gives the lease up cleanly (the runtime has stopped everything the lease protected). */
  release(): void {
    if (this.phase.role === 'holder') {
      this.validUntil = Number.NEGATIVE_INFINITY
      this.phase = { role: 'releasing' }
    } else this.phase = { role: 'stopped' }
  }

  // ---- internals ------------------------------------------------------------------------------

  private record(state: LeaseRecord['state'], ballot: number): LeaseRecord {
    this.counter++
    return { state, ballot, counter: this.counter, incarnation: this.o.incarnation, writer: this.o.self }
  }

  private isMine(r: LeaseRecord): boolean {
    return r.writer === this.o.self && r.incarnation === this.o.incarnation
  }

  private see(d: DecodedLease, nowMs: number): void {
    const key = describeLease(d) + (d.kind === 'record' ? `/${d.record.incarnation}` : '')
    if (key !== this.seenKey) {
      this.seenKey = key
      this.seenChangedAt = nowMs
    }
    this.seen = d
    if (d.kind === 'record') this.highestBallot = Math.max(this.highestBallot, d.record.ballot)
  }

  private observe(nowMs: number): void {
    const { timing } = this.o
    const d = this.seen
    this.phase = { role: 'observer', nextReadAt: nowMs + timing.renewMs }
    if (d === null) return
    if (d.kind === 'record' && d.record.state === 'released') {
      this.startChallenge(timing.releaseWaitMs, `${d.record.writer} released the lease`)
      return
    }
    if (d.kind !== 'record') {
      this.startChallenge(timing.challengeWaitMs, `the block is ${describeLease(d)}`)
      return
    }
    if (d.record.state === 'held' && d.record.writer === this.suspected && !this.isMine(d.record)) {
      this.suspected = null
      this.startChallenge(timing.challengeWaitMs, `${d.record.writer} holds the block but seems down`)
      return
    }
    // A rival's challenge gets its whole wait and its taking write before it looks abandoned.
    const patienceMs =
      d.record.state === 'clearing'
        ? timing.challengeWaitMs + timing.renewMs + 2 * timing.ioTimeoutMs
        : timing.suspectAfterMs
    const silentMs = nowMs - this.seenChangedAt
    if (silentMs >= patienceMs)
      this.startChallenge(timing.challengeWaitMs, `${describeLease(d)} unchanged for ${silentMs} ms`)
  }

  private startChallenge(waitMs: number, why: string): void {
    this.phase = { role: 'challenger', step: 'clear', waitMs, until: 0 }
    this.events.push({ kind: 'challenging', why, waitMs })
  }

  private backOff(nowMs: number, why: string): void {
    // A rival is active: let it finish before looking again.
    const { renewMs } = this.o.timing
    this.phase = { role: 'observer', nextReadAt: nowMs + renewMs + Math.floor(this.o.random() * renewMs) }
    this.seenChangedAt = nowMs
    this.events.push({ kind: 'backed-off', why })
  }

  /** After a renewal read: write our record again (defending if it was not intact), or step down. */
  private defendOrLose(p: Extract<Phase, { role: 'holder' }>): void {
    const d = this.seen
    if (d?.kind === 'record' && d.record.ballot > this.ballot) {
      this.lose(`${describeLease(d)} names a ballot above ours (${this.ballot})`)
      return
    }
    const intact = d?.kind === 'record' && d.record.state === 'held' && this.isMine(d.record)
    if (!intact)
      this.events.push({ kind: 'defended', why: `found ${d === null ? 'nothing' : describeLease(d)}` })
    p.writeDue = true
  }

  private lose(why: string): void {
    this.events.push({ kind: 'lost', ballot: this.ballot, why })
    this.validUntil = Number.NEGATIVE_INFINITY
    this.phase = { role: 'observer', nextReadAt: 0 }
  }
}
