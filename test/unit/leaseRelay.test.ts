import { describe, expect, it } from 'vitest'
import { LeaseRelay } from '../../src/resources/leaseRelay.ts'

describe('LeaseRelay', () => {
  it('passes the first deadline on, then one each time it has moved by a step', () => {
    const r = new LeaseRelay(250)
    // Renewals every 100 ms, each 2 s ahead.
    const sent = [0, 100, 200, 300, 400, 500, 600, 700].filter((t) => r.offer(t + 2_000, 250))
    expect(sent).toEqual([0, 300, 600])
  })

  it('never lets the monitor hold a deadline later than the node’s', () => {
    const r = new LeaseRelay(250)
    let monitorUntil = Number.NEGATIVE_INFINITY
    for (let t = 0; t < 5_000; t += 37) {
      const nodeUntil = t + 2_000
      if (r.offer(nodeUntil, 250)) monitorUntil = nodeUntil
      expect(monitorUntil).toBeLessThanOrEqual(nodeUntil)
      expect(nodeUntil - monitorUntil).toBeLessThan(250)
    }
  })

  it('sends at once a deadline that moved back, a new stop timeout, and anything after a reset', () => {
    const r = new LeaseRelay(250)
    expect(r.offer(60_000, 200)).toBe(true)
    expect(r.offer(300, 200)).toBe(true)
    expect(r.offer(310, 200)).toBe(false)
    expect(r.offer(320, 100)).toBe(true)
    r.reset()
    expect(r.offer(330, 100)).toBe(true)
  })

  it('passes every renewal on with a step of 0', () => {
    const r = new LeaseRelay(0)
    expect([1, 1, 2].map((u) => r.offer(u, 250))).toEqual([true, true, true])
  })
})
