/**
 * Leases at run time, on a clock turned by hand: a leader grants while a majority answered what
 * it sent within the grant window (ages come from when each tick happened, not ticks × tickMs);
 * a member's lease runs fenceAfter from when it asked, and is said when lost or regained.
 */
import { describe, expect, it } from 'vitest'
import { initialConfiguration } from '../../src/consensus/configuration.ts'
import type { ConsensusCore } from '../../src/consensus/consensusCore.ts'
import type { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { LeaseGrants } from '../../src/runtime/leaseGrants.ts'
import { ManualClock } from '../../src/runtime/manualClock.ts'
import type { QuorumProvider } from '../../src/runtime/quorumProvider.ts'
import { TickHistory } from '../../src/runtime/tickHistory.ts'

const fencing = {
  fenceAfterMs: 1_000,
  stopTimeoutMs: 250,
  marginMs: 250,
  downAfterMs: 2_000,
  grantWindowMs: 500,
}

const boot = { epoch: 0, epochId: '' }

function grants() {
  const clock = new ManualClock({ monotonicMs: 10_000 })
  const ticks = new TickHistory()
  const state = { role: 'leader', ackAge: { b: 1, c: 1 } as Record<string, number>, stopping: false }
  const core = {
    status: () => ({
      role: state.role,
      transferee: null,
      config: initialConfiguration({ a: 1, b: 1, c: 1 }),
      lastIndex: 7,
      progress: Object.fromEntries(
        Object.entries(state.ackAge).map(([id, age]) => [id, { ackAgeTicks: age }]),
      ),
    }),
    epochRefusal: () => null,
    epochIdentity: () => ({ epoch: 0, epochId: '', unconfirmed: false }),
  } as unknown as ConsensusCore
  const quorum = { holdsDisk: () => null } as unknown as QuorumProvider
  const nodes: Record<string, { evicted?: boolean }> = { b: {}, c: {}, gone: { evicted: true } }
  const events: string[] = []
  const renewed: number[] = []
  const leases = new LeaseGrants({
    name: 'a',
    monotonic: () => clock.monotonic(),
    fencing,
    core,
    quorum,
    ticks,
    db: () => ({ node: (n: string) => nodes[n], appliedIndex: 7 }) as unknown as ClusterDatabase,
    stopping: () => state.stopping,
    resources: { leaseRenewed: (ms) => renewed.push(ms), schedule: () => {} },
    emit: (e) => events.push(e.type),
  })
  const tick = (ms: number) => {
    clock.advance(ms)
    ticks.note(clock.monotonic())
  }
  return { leases, state, tick, clock, events, renewed }
}

describe('lease grants', () => {
  it('a leader whose majority answered within the window grants; a stopping one does not', () => {
    const { leases, state, tick } = grants()
    tick(100)
    tick(100)
    expect(leases.grants()).toBe(true)
    expect(leases.leaseFor('b', boot)).toEqual({ mustApply: 7 })
    state.stopping = true
    expect(leases.grants()).toBe(false)
    expect(leases.leaseFor('b', boot)).toBeNull()
  })

  it('answers count from the time of the tick they answer, however few ticks ago', () => {
    const { leases, state, tick } = grants()
    tick(100)
    // A pause: one tick, 2 s later. An answer to the tick before it is 2 s old, not one tick.
    tick(2_000)
    state.ackAge = { b: 1, c: 1 }
    expect(leases.grants()).toBe(false)
    state.ackAge = { b: 0, c: 5 }
    expect(leases.grants()).toBe(true)
  })

  it('grants nothing to a node that is not a member, or was evicted, nor as a follower', () => {
    const { leases, state, tick } = grants()
    tick(100)
    expect(leases.leaseFor('stranger', boot)).toBeNull()
    expect(leases.leaseFor('gone', boot)).toBeNull()
    state.role = 'follower'
    expect(leases.leaseFor('b', boot)).toBeNull()
  })

  it('grants and takes leases only within one history (a forced quorum starts another)', () => {
    const { leases, clock, tick, renewed } = grants()
    tick(100)
    tick(100)
    // mustApply is an index of this leader's log: meaningless to a node of another epoch.
    expect(leases.leaseFor('b', { epoch: 1, epochId: 'c/f1' })).toBeNull()
    expect(leases.leaseFor('b', { epoch: 0, epochId: 'c/f1' })).toBeNull()
    expect(leases.leaseFor('b', boot)).toEqual({ mustApply: 7 })
    leases.grantedBy({ epoch: 1, epochId: 'c/f1' }, clock.monotonic(), 3)
    expect(renewed).toEqual([])
    expect(leases.mayRun().ok).toBe(false)
    leases.grantedBy(boot, clock.monotonic(), 3)
    expect(renewed).toEqual([1_000])
  })

  it('a lease runs fenceAfter from when it was asked, is handed to the monitor, and is said when lost', () => {
    const { leases, clock, events, renewed } = grants()
    expect(leases.mayRun()).toEqual({ ok: false, why: 'a holds no lease from a quorate leader' })
    leases.granted(clock.monotonic() - 300, 7)
    expect(renewed).toEqual([700])
    expect(leases.mayRun()).toEqual({ ok: true })
    expect(leases.mayStart()).toBe(true)
    leases.watch()
    clock.advance(699)
    leases.watch()
    expect(leases.valid()).toBe(true)
    clock.advance(1)
    leases.watch()
    expect(leases.valid()).toBe(false)
    expect(events).toEqual(['lease:granted', 'lease:lost'])
  })
})
