/**
 * Site-aware failure detection (src/membership/failureDetector.ts): joining until heard or until
 * the detection time (heartbeat × threshold) passes, up while heard within it, down after it.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FailureDetector, type PeerTiming } from '../../src/membership/failureDetector.ts'

const sameSite: PeerTiming = { heartbeatMs: 1000, threshold: 10 } // down after 10 s
const crossSite: PeerTiming = { heartbeatMs: 1000, threshold: 20 } // down after 20 s

function detector(peers: Record<string, PeerTiming>, nowMs = 0): FailureDetector {
  const fd = new FailureDetector()
  fd.setPeers(new Map(Object.entries(peers)), nowMs)
  return fd
}

describe('FailureDetector states', () => {
  it('a peer never heard is joining within heartbeat × threshold of being added, down from then on', () => {
    const fd = detector({ b: sameSite }, 5_000)
    expect(fd.state('b', 5_000)).toBe('joining')
    expect(fd.state('b', 5_000 + 9_999)).toBe('joining')
    expect(fd.state('b', 5_000 + 10_000)).toBe('down')
    expect(fd.state('b', 5_000 + 60_000)).toBe('down')
  })

  it('a heard peer is up until heartbeat × threshold of silence, then down, and up again when heard', () => {
    const fd = detector({ b: sameSite }, 0)
    fd.heard('b', 3_000)
    expect(fd.state('b', 3_000)).toBe('up')
    expect(fd.state('b', 12_999)).toBe('up')
    expect(fd.state('b', 13_000)).toBe('down')
    fd.heard('b', 20_000)
    expect(fd.state('b', 20_000)).toBe('up')
    // Every word restarts the window.
    fd.heard('b', 29_000)
    expect(fd.state('b', 38_999)).toBe('up')
    expect(fd.state('b', 39_000)).toBe('down')
  })

  it('a peer heard once is never joining again, even when it goes silent', () => {
    const fd = detector({ b: sameSite }, 0)
    fd.heard('b', 1)
    for (const t of [1, 5_000, 10_001, 50_000]) expect(fd.state('b', t)).not.toBe('joining')
  })

  it('same-site and cross-site peers go down after their own detection times', () => {
    const fd = detector({ near: sameSite, far: crossSite }, 0)
    fd.heard('near', 1_000)
    fd.heard('far', 1_000)
    expect(fd.state('near', 10_999)).toBe('up')
    expect(fd.state('near', 11_000)).toBe('down')
    expect(fd.state('far', 11_000)).toBe('up')
    expect(fd.state('far', 20_999)).toBe('up')
    expect(fd.state('far', 21_000)).toBe('down')
    // Never heard: joining windows differ the same way.
    const fresh = detector({ near: sameSite, far: crossSite }, 0)
    expect(fresh.state('near', 10_000)).toBe('down')
    expect(fresh.state('far', 10_000)).toBe('joining')
    expect(fresh.state('far', 20_000)).toBe('down')
  })

  it('the heartbeat period counts as much as the threshold', () => {
    const fd = detector(
      { slow: { heartbeatMs: 3_000, threshold: 5 }, fast: { heartbeatMs: 100, threshold: 5 } },
      0,
    )
    fd.heard('slow', 0)
    fd.heard('fast', 0)
    expect(fd.state('fast', 499)).toBe('up')
    expect(fd.state('fast', 500)).toBe('down')
    expect(fd.state('slow', 14_999)).toBe('up')
    expect(fd.state('slow', 15_000)).toBe('down')
  })

  it('property: the state is a function of the time since the last word (or since added)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 1e9 }),
        fc.option(fc.integer({ min: 0, max: 1e7 }), { nil: null }),
        fc.integer({ min: 0, max: 1e7 }),
        (heartbeatMs, threshold, addedAt, heardAfter, lookAfter) => {
          const fd = detector({ p: { heartbeatMs, threshold } }, addedAt)
          const window = heartbeatMs * threshold
          if (heardAfter === null) {
            const now = addedAt + lookAfter
            expect(fd.state('p', now)).toBe(lookAfter < window ? 'joining' : 'down')
          } else {
            const heardAt = addedAt + heardAfter
            fd.heard('p', heardAt)
            expect(fd.state('p', heardAt + lookAfter)).toBe(lookAfter < window ? 'up' : 'down')
          }
        },
      ),
      { seed: 4242, numRuns: 500 },
    )
  })
})

describe('FailureDetector changes', () => {
  it('reports a first verdict and every change after it, once each', () => {
    const fd = detector({ b: sameSite, c: crossSite }, 0)
    expect(fd.changes(0)).toEqual([])
    fd.heard('b', 500)
    expect(fd.changes(600)).toEqual([{ name: 'b', state: 'up', silentMs: 100, windowMs: 10_000 }])
    expect(fd.changes(700)).toEqual([])
    // c never answers: down once its own (cross-site) window has passed.
    expect(fd.changes(10_499)).toEqual([])
    expect(fd.changes(10_500)).toEqual([{ name: 'b', state: 'down', silentMs: 10_000, windowMs: 10_000 }])
    expect(fd.changes(19_999)).toEqual([])
    expect(fd.changes(20_000)).toEqual([{ name: 'c', state: 'down', silentMs: null, windowMs: 20_000 }])
    expect(fd.changes(30_000)).toEqual([])
    fd.heard('c', 31_000)
    expect(fd.changes(31_000)).toEqual([{ name: 'c', state: 'up', silentMs: 0, windowMs: 20_000 }])
  })
})

describe('FailureDetector pings', () => {
  it('a peer never pinged is due at once', () => {
    const fd = detector({ b: sameSite, c: crossSite }, 0)
    expect(fd.dueForPing(new Map(), 0)).toEqual(['b', 'c'])
  })

  it('a peer is due when its heartbeat period has elapsed since its last ping, not before', () => {
    const fd = detector(
      { b: { heartbeatMs: 1000, threshold: 10 }, c: { heartbeatMs: 250, threshold: 10 } },
      0,
    )
    const last = new Map([
      ['b', 10_000],
      ['c', 10_000],
    ])
    expect(fd.dueForPing(last, 10_000)).toEqual([])
    expect(fd.dueForPing(last, 10_249)).toEqual([])
    expect(fd.dueForPing(last, 10_250)).toEqual(['c'])
    expect(fd.dueForPing(last, 10_999)).toEqual(['c'])
    expect(fd.dueForPing(last, 11_000)).toEqual(['b', 'c'])
    // Pinged at different times: each is judged by its own last ping.
    const staggered = new Map([
      ['b', 10_500],
      ['c', 10_900],
    ])
    expect(fd.dueForPing(staggered, 11_200)).toEqual(['c'])
    expect(fd.dueForPing(staggered, 11_500)).toEqual(['b', 'c'])
  })

  it('pings of names that are not peers are ignored and never make them due', () => {
    const fd = detector({ b: sameSite }, 0)
    expect(fd.dueForPing(new Map([['ghost', 0]]), 50_000)).toEqual(['b'])
  })
})

describe('FailureDetector membership', () => {
  it('setPeers keeps what is known about existing peers, adds new ones fresh, drops removed ones', () => {
    const fd = detector({ a: sameSite, b: sameSite }, 0)
    fd.heard('a', 1_000, 30)
    fd.setPeers(
      new Map([
        ['a', sameSite],
        ['c', sameSite],
      ]),
      5_000,
    )
    expect(fd.names().sort()).toEqual(['a', 'c'])
    // a: still heard at 1 000 (up until 11 000), rtt kept.
    expect(fd.state('a', 10_999)).toBe('up')
    expect(fd.state('a', 11_000)).toBe('down')
    expect(fd.rtt('a')).toBe(30)
    // c: new, joining from 5 000.
    expect(fd.state('c', 14_999)).toBe('joining')
    expect(fd.state('c', 15_000)).toBe('down')
    // b: gone.
    expect(fd.state('b', 5_000)).toBeUndefined()
    expect(fd.dueForPing(new Map(), 5_000).sort()).toEqual(['a', 'c'])
  })

  it('setPeers keeps when an unheard peer was added (re-listing it does not restart its joining window)', () => {
    const fd = detector({ b: sameSite }, 0)
    fd.setPeers(new Map([['b', sameSite]]), 8_000)
    expect(fd.state('b', 10_000)).toBe('down')
  })

  it('setPeers applies a new timing to an existing peer', () => {
    const fd = detector({ b: sameSite }, 0)
    fd.heard('b', 0)
    fd.setPeers(new Map([['b', crossSite]]), 1_000)
    expect(fd.state('b', 15_000)).toBe('up')
    expect(fd.state('b', 20_000)).toBe('down')
    expect(fd.dueForPing(new Map([['b', 0]]), 999)).toEqual([])
  })

  it('a peer removed and added again starts over', () => {
    const fd = detector({ b: sameSite }, 0)
    fd.heard('b', 100, 50)
    fd.setPeers(new Map(), 200)
    expect(fd.names()).toEqual([])
    fd.setPeers(new Map([['b', sameSite]]), 300)
    expect(fd.state('b', 300)).toBe('joining')
    expect(fd.rtt('b')).toBeNull()
  })

  it('unknown names: state is undefined, rtt is null, heard is ignored (does not add the peer)', () => {
    const fd = detector({ b: sameSite }, 0)
    expect(fd.state('nobody', 0)).toBeUndefined()
    expect(fd.rtt('nobody')).toBeNull()
    fd.heard('nobody', 10, 5)
    expect(fd.state('nobody', 10)).toBeUndefined()
    expect(fd.rtt('nobody')).toBeNull()
    expect(fd.names()).toEqual(['b'])
    expect(new FailureDetector().state('b', 0)).toBeUndefined()
  })
})

describe('FailureDetector round-trip time', () => {
  it('is null before any sample; the first sample is taken as is, then 7/8 old + 1/8 new', () => {
    const fd = detector({ b: sameSite }, 0)
    expect(fd.rtt('b')).toBeNull()
    fd.heard('b', 1)
    expect(fd.rtt('b')).toBeNull()
    fd.heard('b', 2, 80)
    expect(fd.rtt('b')).toBe(80)
    fd.heard('b', 3, 160)
    expect(fd.rtt('b')).toBe(90) // 80 × 7/8 + 160 / 8
    fd.heard('b', 4) // no sample: unchanged
    expect(fd.rtt('b')).toBe(90)
    fd.heard('b', 5, 10)
    expect(fd.rtt('b')).toBeCloseTo(80, 10) // 90 × 7/8 + 10 / 8
  })

  it('a first sample of 0 counts as a sample', () => {
    const fd = detector({ b: sameSite }, 0)
    fd.heard('b', 1, 0)
    expect(fd.rtt('b')).toBe(0)
    fd.heard('b', 2, 8)
    expect(fd.rtt('b')).toBe(1)
  })

  it('property: matches the recurrence and stays within the samples seen', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 10_000, noNaN: true }), { minLength: 1, maxLength: 50 }),
        (xs) => {
          const fd = detector({ b: sameSite }, 0)
          let expected: number | null = null
          for (const [i, x] of xs.entries()) {
            fd.heard('b', i, x)
            expected = expected === null ? x : expected * 0.875 + x * 0.125
          }
          expect(fd.rtt('b')).toBeCloseTo(expected!, 6)
          expect(fd.rtt('b')!).toBeGreaterThanOrEqual(Math.min(...xs) - 1e-9)
          expect(fd.rtt('b')!).toBeLessThanOrEqual(Math.max(...xs) + 1e-9)
        },
      ),
      { seed: 4242, numRuns: 300 },
    )
  })
})
