/**
 * One contract, two clocks: Node's own timers and the clock a test turns by hand pass the same
 * suite. The real one is given real time (with room for a busy host); the manual one is advanced.
 */
import { describe, expect, it } from 'vitest'
import { type Clock, systemClock, systemTimers, type Timers } from '../../src/runtime/clock.ts'
import { ManualClock } from '../../src/runtime/manualClock.ts'

interface ClockSite {
  clock: Clock
  timers: Timers
  /** Lets `ms` of this clock's time pass. */
  pass(ms: number): Promise<void>
}

const sites: Record<string, () => ClockSite> = {
  "Node's timers": () => ({
    clock: systemClock,
    timers: systemTimers,
    pass: (ms) => new Promise((r) => setTimeout(r, ms)),
  }),
  'the manual clock': () => {
    const clock = new ManualClock()
    return {
      clock,
      timers: clock,
      pass: async (ms) => clock.advance(ms),
    }
  },
}

for (const [name, make] of Object.entries(sites)) {
  describe(`clock compliance: ${name}`, () => {
    it('monotonic time never goes back and moves with the time that passes', async () => {
      const { clock, pass } = make()
      const t0 = clock.monotonic()
      await pass(30)
      const t1 = clock.monotonic()
      expect(t1 - t0).toBeGreaterThanOrEqual(29)
      expect(clock.now()).toBeGreaterThan(1_600_000_000_000)
    })

    it('after fires once, once its time has come', async () => {
      const { timers, pass } = make()
      let fired = 0
      timers.after(20, () => fired++)
      expect(fired).toBe(0)
      await pass(60)
      await pass(60)
      expect(fired).toBe(1)
    })

    it('every fires again and again until cancelled, then never', async () => {
      const { timers, pass } = make()
      let fired = 0
      const h = timers.every(10, () => fired++)
      await pass(100)
      expect(fired).toBeGreaterThanOrEqual(3)
      timers.cancel(h)
      const seen = fired
      await pass(50)
      expect(fired).toBe(seen)
    })

    it('a timer cancelled before its time never fires; cancelling twice or null is harmless', async () => {
      const { timers, pass } = make()
      let fired = 0
      const h = timers.after(20, () => fired++)
      timers.cancel(h)
      timers.cancel(h)
      timers.cancel(null)
      await pass(60)
      expect(fired).toBe(0)
    })

    it('timers fire in the order they fall due', async () => {
      const { timers, pass } = make()
      const order: string[] = []
      timers.after(40, () => order.push('late'))
      timers.after(5, () => order.push('early'))
      await pass(120)
      expect(order).toEqual(['early', 'late'])
    })
  })
}

describe('the manual clock', () => {
  it('fires a timer at its due time, and one a timer starts within the same advance', () => {
    const clock = new ManualClock({ monotonicMs: 100 })
    const at: number[] = []
    clock.after(10, () => {
      at.push(clock.monotonic())
      clock.after(5, () => at.push(clock.monotonic()))
    })
    clock.advance(50)
    expect(at).toEqual([110, 115])
    expect(clock.monotonic()).toBe(150)
    expect(clock.pendingTimers).toBe(0)
  })

  it('refuses a repeating timer without a period and time that goes back', () => {
    const clock = new ManualClock()
    expect(() => clock.every(0, () => {})).toThrow()
    expect(() => clock.advance(-1)).toThrow()
  })
})
