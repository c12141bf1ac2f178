/** Waiters on the consensus core, on a clock turned by hand. */
import { describe, expect, it } from 'vitest'
import type { Entry } from '../../src/consensus/types.ts'
import { GeoclusterError } from '../../src/errors/errors.ts'
import { ManualClock } from '../../src/runtime/manualClock.ts'
import { ProposalTracker } from '../../src/runtime/proposalTracker.ts'

function tracker() {
  const clock = new ManualClock()
  let applied = 0
  const t = new ProposalTracker({ name: 'n1', timers: clock, applied: () => applied })
  return {
    t,
    clock,
    apply: (index: number) => {
      applied = index
      t.appliedMore()
    },
  }
}
const entry = (index: number, term: number): Entry => ({
  index,
  term,
  kind: 'command',
  data: new Uint8Array(),
})
const ok = { ok: true as const, changed: [] }
const flush = () => new Promise((r) => setImmediate(r))

describe('the proposal tracker', () => {
  it('a proposal resolves with the database answer when its index is applied in its term', async () => {
    const { t } = tracker()
    const p = t.proposed({ index: 5, term: 2 })
    t.settle(entry(4, 2), ok)
    t.settle(entry(5, 2), ok)
    await expect(p).resolves.toEqual({ index: 5, result: ok })
    expect(t.waiting().proposals).toBe(0)
  })

  it("a leader's snapshot past a proposal ends it (its entry is never applied here); later ones wait on", async () => {
    const { t } = tracker()
    const covered = t.proposed({ index: 5, term: 2 })
    const after = t.proposed({ index: 9, term: 2 })
    t.snapshotCovers(7)
    await expect(covered).rejects.toThrow(/snapshot past the change \(index 5\)/)
    expect(t.waiting().proposals).toBe(1)
    t.settle(entry(9, 2), ok)
    await expect(after).resolves.toEqual({ index: 9, result: ok })
  })

  it('another term at its index means leadership changed: the proposal fails, to be retried', async () => {
    const { t } = tracker()
    const p = t.proposed({ index: 5, term: 2 })
    t.settle(entry(5, 3), ok)
    await expect(p).rejects.toMatchObject({ code: 'GC_ERR_NO_QUORUM', message: /leadership changed/ })
  })

  it('an entry that carried no command fails its proposal; failing all ends every one', async () => {
    const { t } = tracker()
    const a = t.proposed({ index: 1, term: 1 })
    const b = t.proposed({ index: 2, term: 1 })
    const c = t.proposed({ index: 3, term: 1 })
    t.settle(entry(1, 1), null)
    await expect(a).rejects.toMatchObject({ code: 'GC_ERR_NO_QUORUM' })
    t.failProposals(new GeoclusterError('GC_ERR_UNREACHABLE', 'stopped'))
    await expect(b).rejects.toMatchObject({ code: 'GC_ERR_UNREACHABLE' })
    await expect(c).rejects.toMatchObject({ code: 'GC_ERR_UNREACHABLE' })
  })

  it('a read index resolves on its read state, and only its own', async () => {
    const { t } = tracker()
    const ctx = t.nextReadContext()
    expect(ctx).toBe('n1-1')
    expect(t.nextReadContext()).toBe('n1-2')
    const r = t.readIndex(ctx, 1_000)
    t.readState({ ctx: 'someone-else', index: 9 })
    t.readState({ ctx, index: 7 })
    await expect(r).resolves.toBe(7)
    expect(t.waiting().reads).toBe(0)
  })

  it('a read index with no read state in time fails as no quorum, and a late one is ignored', async () => {
    const { t, clock } = tracker()
    const r = t.readIndex('x', 1_000)
    clock.advance(999)
    await flush()
    clock.advance(1)
    await expect(r).rejects.toMatchObject({ code: 'GC_ERR_NO_QUORUM', message: /could not confirm a leader/ })
    t.readState({ ctx: 'x', index: 3 })
    expect(clock.pendingTimers).toBe(0)
  })

  it('applied-through waits resolve as the node applies, at once when already there, else time out', async () => {
    const { t, clock, apply } = tracker()
    apply(3)
    await expect(t.appliedThrough(2, 100)).resolves.toBeUndefined()
    const four = t.appliedThrough(4, 100)
    const nine = t.appliedThrough(9, 100)
    apply(5)
    await expect(four).resolves.toBeUndefined()
    expect(t.waiting().applied).toBe(1)
    clock.advance(100)
    await expect(nine).rejects.toMatchObject({ message: 'n1 has not caught up to entry 9' })
    // Neither a wait that ended nor its timer stays behind.
    expect(clock.pendingTimers).toBe(0)
    expect(t.waiting().applied).toBe(0)
  })
})
