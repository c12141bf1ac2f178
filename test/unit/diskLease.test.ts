/**
 * The quorum disk's challenge/defense protocol (src/quorum/disk/diskLease.ts) in a deterministic
 * simulation: one shared block, nodes whose I/O takes random time (sometimes longer than the I/O
 * timeout), SIGSTOP (a write issued before the pause lands after it), kill -9 and restart, torn
 * and damaged blocks, clocks running at slightly different rates. The checker: a node acquires
 * the lease only after every earlier holder's resources are stopped (its monitor's deadline plus
 * the stop timeout), counted in real time.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DiskLease, type DiskLeaseEvent } from '../../src/quorum/disk/diskLease.ts'
import {
  type DiskLeaseTiming,
  diskLeaseTiming,
  diskLeaseTimingProblems,
} from '../../src/quorum/disk/diskLeaseTiming.ts'
import {
  decodeLeaseRecord,
  encodeLeaseRecord,
  type LeaseRecord,
  leaseBlockBytes,
} from '../../src/quorum/disk/leaseRecord.ts'

const timing = diskLeaseTiming({}, { stopTimeoutMs: 250, marginMs: 250 })
const step = 5

function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

interface SimIo {
  kind: 'read' | 'write'
  record?: LeaseRecord
  /** When the block is read or written (real time). */
  landsAt: number
  /** When the node learns the result (real time). */
  reportAt: number
  result?: Uint8Array
}

interface SimNode {
  name: string
  core: DiskLease | null
  incarnation: number
  rate: number
  offset: number
  pausedUntil: number
  io: SimIo | null
  /** Real time until which its resources may still run: the monitor's deadline plus the stop timeout. */
  resourcesUntil: number
  events: DiskLeaseEvent[]
}

interface Faults {
  slowIo: number
  tornWrite: number
  damage: number
  pause: number
  kill: number
}

class Sim {
  t = 0
  block = new Uint8Array(leaseBlockBytes)
  readonly nodes: SimNode[] = []
  readonly acquisitions: { node: string; at: number; ballot: number }[] = []
  readonly rand: () => number
  private readonly timing: DiskLeaseTiming
  faults: Faults

  constructor(names: string[], seed: number, faults: Partial<Faults> = {}, t: DiskLeaseTiming = timing) {
    this.rand = prng(seed)
    this.timing = t
    this.faults = { slowIo: 0, tornWrite: 0, damage: 0, pause: 0, kill: 0, ...faults }
    for (const name of names) {
      const node: SimNode = {
        name,
        core: null,
        incarnation: 0,
        rate: 1 + (this.rand() - 0.5) * 0.002, // ±0.1 %
        offset: Math.floor(this.rand() * 1e6),
        pausedUntil: 0,
        io: null,
        resourcesUntil: Number.NEGATIVE_INFINITY,
        events: [],
      }
      this.start(node)
      this.nodes.push(node)
    }
  }

  node(name: string): SimNode {
    return this.nodes.find((n) => n.name === name)!
  }

  local(n: SimNode): number {
    return Math.floor(this.t * n.rate + n.offset)
  }

  start(n: SimNode): void {
    n.incarnation = Math.floor(this.rand() * 1e9) + 1
    n.core = new DiskLease(
      { self: n.name, incarnation: n.incarnation, timing: this.timing, random: this.rand },
      this.local(n),
    )
    n.io = null
  }

  kill(n: SimNode): void {
    n.core = null
    // The monitor sees its node die and stops everything at once (issue 5); the deadline bounds it anyway.
    n.resourcesUntil = Math.min(n.resourcesUntil, this.t + this.timing.stopTimeoutMs)
    // An I/O already in the kernel still lands.
    if (n.io !== null) n.io.reportAt = Number.POSITIVE_INFINITY
  }

  pause(n: SimNode, ms: number): void {
    n.pausedUntil = this.t + ms
    // A write not yet issued lands only after the pause (SIGSTOP before pwrite).
    if (n.io !== null && n.io.landsAt > this.t) n.io.landsAt = n.pausedUntil + 1
    if (n.io !== null) n.io.reportAt = Math.max(n.io.reportAt, n.io.landsAt, n.pausedUntil)
  }

  private latency(): number {
    if (this.rand() < this.faults.slowIo) return this.timing.ioTimeoutMs + Math.floor(this.rand() * 1000)
    return 1 + Math.floor(this.rand() * 30)
  }

  private land(n: SimNode): void {
    const io = n.io!
    if (io.kind === 'read') io.result = this.block.slice()
    else if (io.record !== undefined) {
      const bytes = encodeLeaseRecord(io.record)
      if (this.rand() < this.faults.tornWrite)
        this.block.set(bytes.subarray(0, 100 + Math.floor(this.rand() * 300)))
      else this.block.set(bytes)
    }
    io.landsAt = Number.POSITIVE_INFINITY
  }

  /** One step of `step` ms of real time. */
  advance(): void {
    this.t += step
    if (this.rand() < this.faults.damage) this.block[Math.floor(this.rand() * leaseBlockBytes)]! ^= 0xff
    for (const n of this.nodes) {
      if (n.io !== null && this.t >= n.io.landsAt) this.land(n)
      const core = n.core
      if (core === null) {
        if (n.io !== null && n.io.landsAt === Number.POSITIVE_INFINITY) n.io = null
        continue
      }
      if (this.t < n.pausedUntil) continue
      if (this.rand() < this.faults.kill) {
        this.kill(n)
        continue
      }
      if (this.rand() < this.faults.pause) {
        this.pause(n, 100 + Math.floor(this.rand() * 8000))
        continue
      }
      const now = this.local(n)
      if (n.io !== null && n.io.landsAt === Number.POSITIVE_INFINITY && this.t >= n.io.reportAt) {
        const io = n.io
        n.io = null
        core.done(now, io.kind === 'read' ? { ok: true, read: decodeLeaseRecord(io.result!) } : { ok: true })
      }
      core.tick(now)
      if (n.io === null) {
        const io = core.nextIo(now)
        if (io !== null) {
          const landsAt = this.t + this.latency()
          n.io = {
            kind: io.kind,
            ...(io.kind === 'write' ? { record: io.record } : {}),
            landsAt,
            reportAt: landsAt + Math.floor(this.rand() * 5),
          }
        }
      }
      for (let round = 0; round < 10; round++) {
        const events = core.takeEvents()
        if (events.length === 0) break
        for (const e of events) {
          n.events.push(e)
          if (e.kind === 'acquired') this.acquired(n, e.ballot)
        }
      }
      // The node hands its lease deadline to its monitor, which kills the resources at it.
      const s = core.status()
      if (core.holds(now) && s.validUntil !== null) {
        const deadlineReal = this.t + (s.validUntil - now) / n.rate
        n.resourcesUntil = Math.max(n.resourcesUntil, deadlineReal + this.timing.stopTimeoutMs)
      }
    }
  }

  /** Ballots claimed in the recovery log (the runtime creates one segment per ballot, exclusively). */
  readonly claimed = new Set<number>()

  private acquired(n: SimNode, ballot: number): void {
    if (this.claimed.has(ballot)) {
      n.core!.raiseBallot(ballot)
      return
    }
    this.claimed.add(ballot)
    for (const other of this.nodes) {
      if (other === n) continue
      if (other.resourcesUntil > this.t)
        throw new Error(
          `t=${this.t}: ${n.name} acquired ballot ${ballot} while ${other.name}'s resources may run until ${other.resourcesUntil}`,
        )
    }
    const last = this.acquisitions.at(-1)
    if (last !== undefined && ballot <= last.ballot)
      throw new Error(`t=${this.t}: ballot ${ballot} taken by ${n.name} after ballot ${last.ballot}`)
    this.acquisitions.push({ node: n.name, at: this.t, ballot })
  }

  run(ms: number): void {
    const end = this.t + ms
    while (this.t < end) this.advance()
  }

  holders(): string[] {
    return this.nodes.filter((n) => n.core?.holds(this.local(n)) === true).map((n) => n.name)
  }
}

describe('disk lease timing', () => {
  it('derives safe defaults and names every broken relation', () => {
    expect(timing).toMatchObject({ renewMs: 500, ioTimeoutMs: 500, leaseMs: 2000, challengeWaitMs: 2500 })
    expect(diskLeaseTimingProblems(timing)).toEqual([])
    const bad = diskLeaseTimingProblems({ ...timing, leaseMs: 1000, challengeWaitMs: 1200 })
    expect(bad.map((p) => p.field)).toEqual(['leaseMs', 'challengeWaitMs', 'challengeWaitMs'])
    expect(bad[0]!.problem).toMatch(/needs >= 2 × \(renewMs \+ ioTimeoutMs\) = 2000 ms/)
    expect(diskLeaseTimingProblems({ ...timing, challengeWaitMs: 2000 })[0]).toMatchObject({
      field: 'challengeWaitMs',
      problem: expect.stringMatching(/before the old holder has fenced: needs >= .* = 2500 ms/),
    })
  })
})

describe('disk lease: challenge and defense', () => {
  it('a blank disk is taken by exactly one node, only after the full challenge wait', () => {
    const sim = new Sim(['a', 'b', 'c'], 1)
    sim.run(timing.challengeWaitMs - 100)
    expect(sim.holders()).toEqual([])
    sim.run(3000)
    expect(sim.holders()).toHaveLength(1)
    expect(sim.acquisitions).toHaveLength(1)
    expect(sim.acquisitions[0]!.at).toBeGreaterThanOrEqual(timing.challengeWaitMs)
    sim.run(20_000)
    expect(sim.acquisitions).toHaveLength(1) // a live holder keeps it: every challenge is defended
  })

  it('after kill -9 of the holder another node takes over within suspect + wait + I/O', () => {
    const sim = new Sim(['a', 'b', 'c'], 2)
    sim.run(6000)
    const first = sim.acquisitions[0]!
    const killedAt = sim.t
    sim.kill(sim.node(first.node))
    sim.run(15_000)
    expect(sim.acquisitions).toHaveLength(2)
    const took = sim.acquisitions[1]!.at - killedAt
    const bound = timing.renewMs + timing.suspectAfterMs + timing.challengeWaitMs + 4 * timing.ioTimeoutMs
    expect(took).toBeLessThanOrEqual(bound)
    expect(took).toBeGreaterThanOrEqual(timing.challengeWaitMs)
  })

  it('a holder the runtime suspects (no heartbeats) is challenged at once; a live one defends', () => {
    const sim = new Sim(['a', 'b', 'c'], 6)
    sim.run(6000)
    const first = sim.node(sim.acquisitions[0]!.node)
    const others = sim.nodes.filter((n) => n !== first)
    // Wrongly suspected while alive: every challenge is defended.
    for (let i = 0; i < 10_000 / 5; i++) {
      for (const n of others) n.core!.suspect(first.name)
      sim.advance()
    }
    expect(sim.acquisitions).toHaveLength(1)
    expect(others.some((n) => n.events.some((e) => e.kind === 'backed-off'))).toBe(true)
    // Really gone: taken after the wait alone, without waiting for the block to go stale.
    const killedAt = sim.t
    sim.kill(first)
    for (let i = 0; i < 10_000 / 5 && sim.acquisitions.length === 1; i++) {
      for (const n of others) n.core!.suspect(first.name)
      sim.advance()
    }
    const took = sim.acquisitions[1]!.at - killedAt
    expect(took).toBeGreaterThanOrEqual(timing.challengeWaitMs)
    expect(took).toBeLessThan(timing.challengeWaitMs + timing.renewMs + 4 * timing.ioTimeoutMs)
  })

  it('a holder paused past the challenge wait loses; its late write is defended; it never holds again unchallenged', () => {
    const sim = new Sim(['a', 'b', 'c'], 3)
    sim.run(6000)
    const first = sim.node(sim.acquisitions[0]!.node)
    // Pause it while its renewal write is about to be issued, as often as it takes to catch one.
    for (let i = 0; i < 200 && !(first.io?.kind === 'write'); i++) sim.advance()
    expect(first.io?.kind).toBe('write')
    sim.pause(first, 10_000)
    sim.run(10_000 + 200)
    expect(sim.acquisitions).toHaveLength(2)
    expect(sim.acquisitions[1]!.node).not.toBe(first.name)
    // It woke up, its stale write landed, and it learnt it had lost.
    sim.run(3000)
    expect(first.events.map((e) => e.kind)).toContain('lost')
    const newHolder = sim.node(sim.acquisitions[1]!.node)
    expect(newHolder.events.some((e) => e.kind === 'defended')).toBe(true)
    expect(sim.holders()).toEqual([newHolder.name])
  })

  it('a damaged or torn block is never read as free: the holder defends it, challengers wait in full', () => {
    const sim = new Sim(['a', 'b'], 4)
    sim.run(6000)
    const holder = sim.acquisitions[0]!.node
    sim.block[40]! ^= 0x5a
    expect(decodeLeaseRecord(sim.block)).toMatchObject({ kind: 'corrupt' })
    sim.run(2000)
    expect(decodeLeaseRecord(sim.block)).toMatchObject({ kind: 'record', record: { writer: holder } })
    expect(sim.node(holder).events).toContainEqual(
      expect.objectContaining({ kind: 'defended', why: expect.stringMatching(/checksum mismatch/) }),
    )
    expect(sim.acquisitions).toHaveLength(1)
  })

  it('a clean release lets another node in after the shorter release wait', () => {
    const sim = new Sim(['a', 'b'], 5)
    sim.run(6000)
    const holder = sim.node(sim.acquisitions[0]!.node)
    holder.core!.release()
    const releasedAt = sim.t
    sim.run(timing.releaseWaitMs + 2 * timing.renewMs + 500)
    expect(holder.events.map((e) => e.kind)).toContain('released')
    expect(sim.acquisitions).toHaveLength(2)
    expect(sim.acquisitions[1]!.at - releasedAt).toBeLessThan(timing.challengeWaitMs + timing.renewMs)
  })

  it('survives random pauses, kills, slow I/O, torn writes and damage (300 seeds × 2 min)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const sim = new Sim(['a', 'b', 'c'], seed, {
          slowIo: 0.02,
          tornWrite: 0.01,
          damage: 0.0005,
          pause: 0.0003,
          kill: 0.00005,
        })
        for (let s = 0; s < 120_000 / step; s++) {
          sim.advance()
          for (const n of sim.nodes) if (n.core === null && sim.rand() < 0.002) sim.start(n)
        }
        // The checker ran: leases were taken (and the fault-free tail lets one settle).
        sim.faults = { slowIo: 0, tornWrite: 0, damage: 0, pause: 0, kill: 0 }
        for (const n of sim.nodes) if (n.core === null) sim.start(n)
        sim.run(20_000)
        expect(sim.acquisitions.length).toBeGreaterThan(0)
        expect(sim.holders()).toHaveLength(1)
      }),
      { numRuns: 300, seed: 20261122 },
    )
  })

  it('the checker catches a challenger that does not wait for the old holder to fence', () => {
    const unsafe = { ...timing, challengeWaitMs: timing.leaseMs - 500 }
    let caught = 0
    for (let seed = 1; seed <= 20; seed++) {
      const sim = new Sim(['a', 'b', 'c'], seed, {}, unsafe)
      sim.run(6000)
      const first = sim.node(sim.acquisitions[0]!.node)
      // Right after a renewal lands: damage the block (others challenge at once) and pause the holder.
      for (let i = 0; i < 400 && !(first.io?.kind === 'write' && first.io.landsAt <= sim.t + step); i++)
        sim.advance()
      sim.advance()
      sim.block[40]! ^= 0x5a
      sim.pause(first, 10_000)
      try {
        sim.run(12_000)
      } catch (e) {
        expect(String(e)).toMatch(/acquired ballot .* may run until/)
        caught++
      }
    }
    expect(caught).toBeGreaterThan(10)
  })
})
