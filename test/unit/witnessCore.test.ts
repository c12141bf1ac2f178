/**
 * The witness core driven by hand-made messages: it keeps only term, vote and W (the greatest
 * entry it acknowledged), and every one of its safety rules (ARCHITECTURE.md "Quorum rules")
 * is checked on the Ready batches it hands out.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  compareEntryIds,
  type EntryId,
  type HardState,
  type Message,
  type Ready,
} from '../../src/consensus/types.ts'
import { WitnessCore, type WitnessOptions } from '../../src/consensus/witnessCore.ts'
import { InvariantError } from '../../src/errors/assert.ts'

const electionTicks = 10
const id = (term: number, index: number): EntryId => ({ term, index })

function witness(hs: Partial<HardState> = {}, o: Partial<WitnessOptions> = {}): WitnessCore {
  return new WitnessCore({ id: 'w', electionTicks, ...o }, { term: 0, vote: null, commit: 0, ...hs })
}

function append(
  from: string,
  term: number,
  mark: EntryId,
  over: { ctx?: string | null; epoch?: number; epochId?: string; epochUnconfirmed?: boolean } = {},
): Message {
  return {
    type: 'witness-append',
    from,
    to: 'w',
    term,
    epoch: over.epoch ?? 0,
    ...(over.epochId === undefined ? {} : { epochId: over.epochId }),
    ...(over.epochUnconfirmed === undefined ? {} : { epochUnconfirmed: over.epochUnconfirmed }),
    mark,
    ctx: over.ctx ?? null,
  }
}

function vote(
  from: string,
  term: number,
  last: EntryId,
  over: { pre?: boolean; transfer?: boolean; epoch?: number } = {},
): Message {
  return {
    type: over.pre === true ? 'pre-vote' : 'vote',
    from,
    to: 'w',
    term,
    epoch: over.epoch ?? 0,
    last,
    transfer: over.transfer ?? false,
  }
}

/** One Ready handed out and handled (the runtime's persist + send), then advanced. */
function handle(w: WitnessCore): Ready {
  expect(w.hasReady()).toBe(true)
  const rd = w.ready()
  w.advance(rd)
  return rd
}

/** Steps one message and returns the Ready it caused (or null when it caused nothing). */
function stepAndHandle(w: WitnessCore, m: Message): Ready | null {
  w.step(m)
  return w.hasReady() ? handle(w) : null
}

function onlyMessage(rd: Ready | null): Message {
  expect(rd).not.toBeNull()
  expect(rd!.messages).toHaveLength(1)
  return rd!.messages[0]!
}

function granted(rd: Ready | null): boolean {
  const m = onlyMessage(rd)
  expect(m.type === 'vote-resp' || m.type === 'pre-vote-resp').toBe(true)
  return (m as Message & { type: 'vote-resp' | 'pre-vote-resp' }).granted
}

/** A witness at term `term` with W = `mark`, as after a restart; no leader heard yet. */
const withMark = (term: number, mark: EntryId) => witness({ term, mark })

describe('WitnessCore: W', () => {
  it('rises to a greater mark and replies with it', () => {
    const w = witness()
    const rd = stepAndHandle(w, append('a', 1, id(1, 5)))
    expect(w.status().mark).toEqual(id(1, 5))
    expect(onlyMessage(rd)).toMatchObject({
      type: 'witness-resp',
      from: 'w',
      to: 'a',
      term: 1,
      mark: id(1, 5),
    })
  })

  it('never decreases: a smaller mark leaves it and the reply carries the greater W', () => {
    const w = witness()
    stepAndHandle(w, append('a', 2, id(2, 7)))
    for (const smaller of [id(2, 6), id(1, 9), id(0, 0), id(2, 7)]) {
      const rd = stepAndHandle(w, append('a', 2, smaller))
      expect(w.status().mark).toEqual(id(2, 7))
      expect(onlyMessage(rd)).toMatchObject({ type: 'witness-resp', mark: id(2, 7) })
      // Nothing new to persist: no hard state, no fsync.
      expect(rd!.hardState).toBeNull()
      expect(rd!.mustSync).toBe(false)
    }
  })

  it('compares term first: (3, 1) is greater than (2, 100)', () => {
    const w = witness()
    stepAndHandle(w, append('a', 2, id(2, 100)))
    stepAndHandle(w, append('b', 3, id(3, 1)))
    expect(w.status().mark).toEqual(id(3, 1))
    stepAndHandle(w, append('b', 3, id(2, 200)))
    expect(w.status().mark).toEqual(id(3, 1))
  })

  it("replies with the request's ctx, in its epoch", () => {
    const w = witness()
    const rd = stepAndHandle(w, append('a', 1, id(1, 3), { ctx: 'read-7' }))
    expect(onlyMessage(rd)).toEqual({
      type: 'witness-resp',
      from: 'w',
      to: 'a',
      term: 1,
      epoch: 0,
      mark: id(1, 3),
      ctx: 'read-7',
    })
    const plain = stepAndHandle(w, append('a', 1, id(1, 3)))
    expect(onlyMessage(plain)).toMatchObject({ ctx: null, epoch: 0 })
  })

  it('follows a confirmed forced epoch: W starts afresh there, and the old history gets no answer', () => {
    const w = withMark(5, id(5, 40))
    const rd = stepAndHandle(w, append('c', 6, id(6, 3), { epoch: 1, epochId: 'c/f1' }))
    expect(onlyMessage(rd)).toMatchObject({ type: 'witness-resp', epoch: 1, epochId: 'c/f1', mark: id(6, 3) })
    expect(rd!.hardState).toMatchObject({ mark: id(6, 3), markEpoch: { epoch: 1, epochId: 'c/f1' } })
    // The side declared down cannot use the witness to form a majority again.
    expect(stepAndHandle(w, append('a', 7, id(5, 41)))).toBeNull()
    expect(stepAndHandle(w, vote('a', 8, id(5, 41)))).toBeNull()
    expect(w.status()).toMatchObject({ term: 6, mark: id(6, 3) })
    // An unconfirmed epoch is followed by nobody: no answer from the witness either.
    const u = withMark(5, id(5, 40))
    expect(
      stepAndHandle(u, append('c', 6, id(6, 3), { epoch: 1, epochId: 'c/f1', epochUnconfirmed: true })),
    ).toBeNull()
    expect(u.status()).toMatchObject({ term: 5, mark: id(5, 40) })
  })

  it('reports the leader it heard from as soft state, once', () => {
    const w = witness()
    const rd = stepAndHandle(w, append('a', 1, id(1, 1)))
    expect(rd!.softState).toEqual({ role: 'follower', leader: 'a' })
    expect(stepAndHandle(w, append('a', 1, id(1, 2)))!.softState).toBeNull()
  })

  it('ignores messages addressed to someone else', () => {
    const w = witness()
    w.step({ ...append('a', 5, id(5, 5)), to: 'x' })
    expect(w.hasReady()).toBe(false)
    expect(w.status()).toMatchObject({ term: 0, mark: id(0, 0) })
  })
})

describe('WitnessCore: persist before reply', () => {
  it('puts a raised W in the hard state of the Ready that carries the reply, with fsync', () => {
    const w = witness({ term: 1 })
    w.step(append('a', 1, id(1, 4)))
    const rd = w.ready()
    expect(rd.hardState).toEqual({ term: 1, vote: null, commit: 0, mark: id(1, 4) })
    expect(rd.mustSync).toBe(true)
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'witness-resp', mark: id(1, 4) })])
    w.advance(rd)
    expect(w.hasReady()).toBe(false)
  })

  it('puts a new term in the hard state of the Ready that carries the reply', () => {
    const w = withMark(1, id(1, 4))
    const rd = stepAndHandle(w, append('a', 2, id(1, 4)))
    expect(rd!.hardState).toEqual({ term: 2, vote: null, commit: 0, mark: id(1, 4) })
    expect(rd!.mustSync).toBe(true)
    expect(onlyMessage(rd)).toMatchObject({ type: 'witness-resp', term: 2 })
  })

  it('puts a granted vote in the hard state of the Ready that carries the grant', () => {
    const w = witness({ term: 1 })
    const rd = stepAndHandle(w, vote('b', 2, id(1, 1)))
    expect(rd!.hardState).toEqual({ term: 2, vote: 'b', commit: 0, mark: id(0, 0) })
    expect(rd!.mustSync).toBe(true)
    expect(granted(rd)).toBe(true)
  })

  it('a W raised while a Ready is in flight goes out with the reply in the next Ready', () => {
    const w = witness({ term: 1 })
    w.step(append('a', 1, id(1, 2)))
    const first = w.ready()
    w.step(append('a', 1, id(1, 3)))
    expect(w.hasReady()).toBe(false) // one Ready at a time
    w.advance(first)
    const second = handle(w)
    expect(first.hardState?.mark).toEqual(id(1, 2))
    expect(first.messages).toEqual([expect.objectContaining({ mark: id(1, 2) })])
    expect(second.hardState?.mark).toEqual(id(1, 3))
    expect(second.mustSync).toBe(true)
    expect(second.messages).toEqual([expect.objectContaining({ mark: id(1, 3) })])
  })

  it('throws on ready() before advance() and on advance() with a foreign Ready', () => {
    const w = witness()
    w.step(append('a', 1, id(1, 1)))
    const rd = w.ready()
    expect(() => w.ready()).toThrow(InvariantError)
    expect(() => w.advance({ ...rd })).toThrow(InvariantError)
    w.advance(rd)
  })

  it('property: no Ready sends a W, a term or a grant that its own hard state has not persisted', () => {
    const arbMessage = fc.oneof(
      fc
        .record({
          from: fc.constantFrom('a', 'b'),
          term: fc.integer({ min: 1, max: 4 }),
          mt: fc.integer({ min: 0, max: 4 }),
          mi: fc.integer({ min: 0, max: 6 }),
        })
        .map(({ from, term, mt, mi }) => append(from, term, id(Math.min(mt, term), mi))),
      fc
        .record({
          from: fc.constantFrom('a', 'b', 'c'),
          term: fc.integer({ min: 1, max: 5 }),
          lt: fc.integer({ min: 0, max: 4 }),
          li: fc.integer({ min: 0, max: 6 }),
          pre: fc.boolean(),
          transfer: fc.boolean(),
        })
        .map(({ from, term, lt, li, pre, transfer }) => vote(from, term, id(lt, li), { pre, transfer })),
      fc.constant('tick' as const),
      fc.constant('ready' as const),
    )
    fc.assert(
      fc.property(fc.array(arbMessage, { maxLength: 40 }), (script) => {
        const w = witness()
        let disk: HardState = { term: 0, vote: null, commit: 0, mark: id(0, 0) }
        let highest = id(0, 0)
        const votes = new Map<number, string>()
        const check = (rd: Ready) => {
          if (rd.hardState !== null) {
            expect(rd.mustSync).toBe(true)
            disk = rd.hardState
          }
          for (const m of rd.messages) {
            expect(m.term <= disk.term || m.type === 'pre-vote-resp').toBe(true)
            if (m.type === 'witness-resp') expect(compareEntryIds(m.mark, disk.mark!)).toBeLessThanOrEqual(0)
            if (m.type === 'vote-resp' && m.granted) {
              // The vote is on disk, unless a later term (in which it never votes again) already is.
              expect(disk.term > m.term || (disk.term === m.term && disk.vote === m.to)).toBe(true)
              // Once per term.
              expect(votes.get(m.term) ?? m.to).toBe(m.to)
              votes.set(m.term, m.to)
            }
          }
          // W on disk never goes down.
          expect(compareEntryIds(disk.mark!, highest)).toBeGreaterThanOrEqual(0)
          highest = disk.mark!
          w.advance(rd)
        }
        for (const step of script) {
          if (step === 'tick') w.tick()
          else if (step === 'ready') {
            if (w.hasReady()) check(w.ready())
          } else w.step(step)
        }
        while (w.hasReady()) check(w.ready())
      }),
      { seed: 20240611, numRuns: 300 },
    )
  })
})

describe('WitnessCore: votes', () => {
  it.each<[string, EntryId, boolean]>([
    ['equal to W', id(2, 5), true],
    ['a later index in the same term', id(2, 9), true],
    ['a later term with a smaller index', id(3, 1), true],
    ['an earlier index in the same term', id(2, 4), false],
    ['an earlier term with a larger index', id(1, 99), false],
    ['an empty log', id(0, 0), false],
  ])('with W = (2, 5), a candidate whose last entry is %s: granted = %s', (_name, last, expected) => {
    const w = withMark(2, id(2, 5))
    expect(granted(stepAndHandle(w, vote('b', 3, last)))).toBe(expected)
    expect(w.status().vote).toBe(expected ? 'b' : null)
    expect(w.status().term).toBe(3)
  })

  it('grants one vote per term: a second candidate is refused, the same one granted again', () => {
    const w = witness({ term: 1 })
    expect(granted(stepAndHandle(w, vote('b', 2, id(1, 1))))).toBe(true)
    expect(granted(stepAndHandle(w, vote('c', 2, id(1, 9))))).toBe(false)
    expect(granted(stepAndHandle(w, vote('b', 2, id(1, 1))))).toBe(true)
    expect(w.status()).toMatchObject({ term: 2, vote: 'b' })
    // A new term frees the vote.
    expect(granted(stepAndHandle(w, vote('c', 3, id(1, 9))))).toBe(true)
    expect(w.status()).toMatchObject({ term: 3, vote: 'c' })
  })

  it('replies to a vote with its own term', () => {
    const w = witness({ term: 1 })
    expect(onlyMessage(stepAndHandle(w, vote('b', 2, id(1, 1), { epoch: 3 })))).toEqual({
      type: 'vote-resp',
      from: 'w',
      to: 'b',
      term: 2,
      epoch: 3,
      granted: true,
      silenceTicks: 0,
    })
  })

  it('says on a granted vote how long it has heard no leader, counting from its start', () => {
    const w = witness({ term: 1 })
    for (let i = 0; i < 4; i++) w.tick()
    expect(onlyMessage(stepAndHandle(w, vote('b', 2, id(1, 1))))).toMatchObject({ silenceTicks: 4 })
    stepAndHandle(w, append('b', 2, id(2, 3)))
    for (let i = 0; i < electionTicks + 1; i++) w.tick()
    expect(onlyMessage(stepAndHandle(w, vote('c', 3, id(2, 3))))).toMatchObject({
      granted: true,
      silenceTicks: electionTicks + 1,
    })
    // A refusal says nothing about silence.
    expect(onlyMessage(stepAndHandle(w, vote('b', 3, id(2, 3))))).not.toHaveProperty('silenceTicks')
  })

  it('does not vote in a term in which it already follows a leader', () => {
    const w = witness({ term: 1 })
    stepAndHandle(w, append('a', 2, id(2, 1)))
    expect(granted(stepAndHandle(w, vote('b', 2, id(2, 5))))).toBe(false)
    expect(w.status().vote).toBeNull()
  })

  it('never campaigns, however long it waits', () => {
    const w = witness()
    for (let i = 0; i < electionTicks * 10; i++) w.tick()
    expect(w.hasReady()).toBe(false)
    expect(w.status()).toMatchObject({ term: 0, vote: null, leader: null })
  })
})

describe('WitnessCore: pre-votes', () => {
  it('grants a pre-vote for a higher term without changing its term or vote', () => {
    const w = witness({ term: 2, vote: 'a', mark: id(2, 5) })
    const rd = stepAndHandle(w, vote('b', 3, id(2, 5), { pre: true }))
    expect(onlyMessage(rd)).toMatchObject({ type: 'pre-vote-resp', granted: true, term: 3 })
    expect(rd!.hardState).toBeNull()
    expect(rd!.mustSync).toBe(false)
    expect(w.status()).toMatchObject({ term: 2, vote: 'a' })
  })

  it('refuses a pre-vote from a candidate behind W, with its own term', () => {
    const w = withMark(2, id(2, 5))
    const rd = stepAndHandle(w, vote('b', 3, id(2, 4), { pre: true }))
    expect(onlyMessage(rd)).toMatchObject({ type: 'pre-vote-resp', granted: false, term: 2 })
    expect(w.status()).toMatchObject({ term: 2, vote: null })
  })

  it('answers a stale pre-vote with a refusal that carries its higher term', () => {
    const w = witness({ term: 5 })
    expect(onlyMessage(stepAndHandle(w, vote('b', 4, id(4, 9), { pre: true })))).toMatchObject({
      type: 'pre-vote-resp',
      granted: false,
      term: 5,
    })
  })

  it('does not grant a stale real vote', () => {
    const w = witness({ term: 5 })
    const rd = stepAndHandle(w, vote('b', 4, id(4, 9)))
    expect(rd === null || !granted(rd)).toBe(true)
    expect(w.status()).toMatchObject({ term: 5, vote: null })
  })
})

describe('WitnessCore: leader lease', () => {
  function following(): WitnessCore {
    const w = witness({ term: 1 })
    stepAndHandle(w, append('a', 2, id(2, 3)))
    return w
  }

  it.each(['vote', 'pre-vote'] as const)(
    'ignores a %s for a higher term while it heard from a leader within electionTicks',
    (type) => {
      const w = following()
      for (let i = 0; i < electionTicks - 1; i++) w.tick()
      w.step(vote('b', 3, id(2, 3), { pre: type === 'pre-vote' }))
      expect(w.hasReady()).toBe(false)
      expect(w.status()).toMatchObject({ term: 2, vote: null, leader: 'a' })
      // One more tick and the lease is over.
      w.tick()
      const rd = stepAndHandle(w, vote('b', 3, id(2, 3), { pre: type === 'pre-vote' }))
      expect(granted(rd)).toBe(true)
    },
  )

  it('a heartbeat from the leader renews the lease', () => {
    const w = following()
    for (let i = 0; i < electionTicks - 1; i++) w.tick()
    stepAndHandle(w, append('a', 2, id(2, 3)))
    for (let i = 0; i < electionTicks - 1; i++) w.tick()
    w.step(vote('b', 3, id(2, 3)))
    expect(w.hasReady()).toBe(false)
  })

  it('grants a transfer vote inside the lease', () => {
    const w = following()
    const rd = stepAndHandle(w, vote('b', 3, id(2, 3), { transfer: true }))
    expect(granted(rd)).toBe(true)
    expect(w.status()).toMatchObject({ term: 3, vote: 'b', leader: null })
    expect(rd!.hardState).toMatchObject({ term: 3, vote: 'b' })
  })

  it('a transfer vote still has to be at least W', () => {
    const w = following()
    expect(granted(stepAndHandle(w, vote('b', 3, id(2, 2), { transfer: true })))).toBe(false)
  })
})

describe('WitnessCore: lower terms', () => {
  it('answers an append from a deposed leader with its higher term and leaves W alone', () => {
    const w = withMark(5, id(4, 6))
    const rd = stepAndHandle(w, append('a', 3, id(3, 99), { ctx: 'r1' }))
    expect(onlyMessage(rd)).toEqual({
      type: 'witness-resp',
      from: 'w',
      to: 'a',
      term: 5,
      epoch: 0,
      mark: id(4, 6),
      ctx: null,
    })
    expect(rd!.hardState).toBeNull()
    expect(w.status()).toMatchObject({ term: 5, mark: id(4, 6), leader: null })
  })

  it('does not take a deposed leader for a leader (no lease)', () => {
    const w = witness({ term: 5 })
    stepAndHandle(w, append('a', 3, id(3, 1)))
    expect(granted(stepAndHandle(w, vote('b', 6, id(0, 0))))).toBe(true)
  })
})

describe('WitnessCore: restart', () => {
  it('keeps W, term and vote from the persisted hard state', () => {
    const first = witness({ term: 1 })
    const rd1 = stepAndHandle(first, append('a', 4, id(4, 9)))!
    const rd2 = stepAndHandle(first, vote('b', 5, id(4, 9), { transfer: true }))!
    const persisted = { ...rd1.hardState!, ...rd2.hardState! }
    expect(persisted).toEqual({ term: 5, vote: 'b', commit: 0, mark: id(4, 9) })

    const w = witness(persisted)
    expect(w.status()).toMatchObject({ term: 5, vote: 'b', mark: id(4, 9), leader: null })
    expect(w.hasReady()).toBe(false)
    // W still guards its vote and its acknowledgements.
    expect(granted(stepAndHandle(w, vote('c', 6, id(4, 8))))).toBe(false)
    expect(onlyMessage(stepAndHandle(w, append('c', 6, id(3, 20))))).toMatchObject({ mark: id(4, 9) })
    expect(w.status().mark).toEqual(id(4, 9))
    // Its vote in term 5 still holds.
    const again = witness(persisted)
    expect(granted(stepAndHandle(again, vote('c', 5, id(9, 9))))).toBe(false)
    expect(granted(stepAndHandle(again, vote('b', 5, id(4, 9))))).toBe(true)
  })

  it('starts from W = (0, 0) with nothing to persist when the hard state has no mark', () => {
    const w = witness({ term: 3, vote: 'a' })
    expect(w.status()).toMatchObject({ term: 3, vote: 'a', mark: id(0, 0) })
    expect(w.hasReady()).toBe(false)
  })
})

describe('WitnessCore: unsafe.skipUpToDateCheck (for the simulator mutation test)', () => {
  it('grants a candidate behind W only when the check is switched off', () => {
    const safe = withMark(2, id(2, 5))
    const unsafe = witness({ term: 2, mark: id(2, 5) }, { unsafe: { skipUpToDateCheck: true } })
    expect(granted(stepAndHandle(safe, vote('b', 3, id(1, 1))))).toBe(false)
    expect(granted(stepAndHandle(unsafe, vote('b', 3, id(1, 1))))).toBe(true)
    expect(unsafe.status()).toMatchObject({ term: 3, vote: 'b' })
  })

  it('still grants only one vote per term and still honours the lease', () => {
    const unsafe = witness({ term: 2, mark: id(2, 5) }, { unsafe: { skipUpToDateCheck: true } })
    expect(granted(stepAndHandle(unsafe, vote('b', 3, id(0, 0))))).toBe(true)
    expect(granted(stepAndHandle(unsafe, vote('c', 3, id(9, 9))))).toBe(false)
    stepAndHandle(unsafe, append('b', 3, id(3, 1)))
    unsafe.step(vote('c', 4, id(0, 0)))
    expect(unsafe.hasReady()).toBe(false)
  })
})
