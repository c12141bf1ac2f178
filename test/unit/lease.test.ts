/**
 * Leases (src/failover/lease.ts): a node runs its groups only while a leader that hears a
 * majority grants it a lease; the leader moves a silent node's groups only after every lease
 * that node may hold has ended and its processes have been stopped. The leader's grant rules
 * have their own tables in leaseAuthority.test.ts.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Lease } from '../../src/failover/lease.ts'
import { reassignableAtMs } from '../../src/failover/leaseAuthority.ts'

describe('Lease', () => {
  it('holds for fenceAfter from when it was asked for, not from when the answer came', () => {
    const lease = new Lease()
    expect(lease.valid(0)).toBe(false)
    lease.renew(1_000, 2_000, 7)
    expect(lease.valid(2_999)).toBe(true)
    expect(lease.valid(3_000)).toBe(false)
    expect(lease.remainingMs(2_500)).toBe(500)
    expect(lease.remainingMs(9_000)).toBe(0)
  })

  it('an answer to an older request arriving late changes nothing', () => {
    const lease = new Lease()
    lease.renew(1_000, 2_000, 9)
    lease.renew(800, 2_000, 4)
    expect(lease.valid(2_999)).toBe(true)
    expect(lease.requiredIndex).toBe(9)
  })

  it('starts a group only once this node has applied what the granting leader had', () => {
    const lease = new Lease()
    lease.renew(0, 2_000, 12)
    expect(lease.mayStart(100, 11)).toBe(false)
    expect(lease.mayStart(100, 12)).toBe(true)
    expect(lease.mayStart(2_000, 50)).toBe(false)
    // The newest grant's index counts, so an old leader's unreachable tail cannot block for ever.
    lease.renew(500, 2_000, 3)
    expect(lease.mayStart(600, 11)).toBe(true)
    lease.end()
    expect(lease.valid(600)).toBe(false)
  })
})

describe('reassignableAtMs', () => {
  it('is downAfter after the later of the last word and the start of this leadership', () => {
    expect(reassignableAtMs(10_000, 4_000, 2_600)).toBe(12_600)
    expect(reassignableAtMs(3_000, 4_000, 2_600)).toBe(6_600)
    expect(reassignableAtMs(null, 4_000, 2_600)).toBe(6_600)
  })

  it('property: no lease a silent node can hold outlives the moment its groups may start elsewhere', () => {
    fc.assert(
      fc.property(
        fc.record({
          fenceAfter: fc.integer({ min: 100, max: 20_000 }),
          stop: fc.integer({ min: 1, max: 5_000 }),
          margin: fc.integer({ min: 1, max: 1_000 }),
          extra: fc.integer({ min: 1, max: 1_000 }),
        }),
        // When the node asked, how long the request took to reach the leader, when the leader
        // became leader (before it heard that request) and how much later it heard anything else.
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        (t, askedAt, transit, leaderBefore, laterWord) => {
          const downAfter = t.fenceAfter + t.stop + t.margin + t.extra
          const heardAt = askedAt + transit
          const lease = new Lease()
          lease.renew(askedAt, t.fenceAfter, 0)
          const at = reassignableAtMs(heardAt + laterWord, heardAt - leaderBefore, downAfter)
          // Lease over, processes stopped, with the margin to spare.
          expect(lease.valid(at - t.stop - t.margin)).toBe(false)
        },
      ),
      { numRuns: 2_000 },
    )
  })
})
