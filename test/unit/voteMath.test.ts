import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  committedIndex,
  hasMajority,
  totalWeight,
  type VoteOutcome,
  voteResult,
  votesNeeded,
  weightOf,
} from '../../src/consensus/quorum/voteMath.ts'
import { InvariantError } from '../../src/errors/assert.ts'

const equal = (n: number): Map<string, number> =>
  new Map(Array.from({ length: n }, (_, i) => [`n${i + 1}`, 1] as [string, number]))

/** Two data centers with two nodes each, plus a witness at a third site: 5 votes, 3 needed. */
const twoSitesWitness = new Map([
  ['atl-1', 1],
  ['atl-2', 1],
  ['phx-1', 1],
  ['phx-2', 1],
  ['w1', 1],
])
const atlanta = ['atl-1', 'atl-2']
const phoenix = ['phx-1', 'phx-2']

const matchOf =
  (m: Record<string, number>) =>
  (id: string): number =>
    m[id] ?? 0

describe('votesNeeded', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 4],
  ])('%i equal votes need %i', (total, needed) => {
    expect(votesNeeded(equal(total))).toBe(needed)
  })

  it('counts weights, not members', () => {
    expect(
      votesNeeded(
        new Map([
          ['a', 1],
          ['b', 1],
          ['c', 0],
          ['d', 0],
        ]),
      ),
    ).toBe(2)
    expect(totalWeight(new Map([['a', 0]]))).toBe(0)
  })

  it('refuses a configuration without votes', () => {
    expect(() => votesNeeded(new Map())).toThrow(InvariantError)
    expect(() => votesNeeded(new Map([['a', 0]]))).toThrow(InvariantError)
  })

  it.each([-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses weight %s with an InvariantError',
    (w) => {
      const weights = new Map([
        ['a', 1],
        ['bad', w],
      ])
      expect(() => votesNeeded(weights)).toThrow(InvariantError)
      expect(() => votesNeeded(weights)).toThrow(/weight of bad/)
    },
  )
})

describe('hasMajority: two sites of two nodes plus a witness', () => {
  const minus = (...gone: string[][]) => [...twoSitesWitness.keys()].filter((id) => !gone.flat().includes(id))

  it('everyone present has a majority', () => {
    expect(hasMajority(twoSitesWitness, twoSitesWitness.keys())).toBe(true)
  })

  it('losing a whole site keeps a majority while the witness is reachable', () => {
    expect(hasMajority(twoSitesWitness, minus(atlanta))).toBe(true)
    expect(hasMajority(twoSitesWitness, minus(phoenix))).toBe(true)
  })

  it('losing a site and the witness loses the majority', () => {
    expect(hasMajority(twoSitesWitness, minus(atlanta, ['w1']))).toBe(false)
    expect(hasMajority(twoSitesWitness, minus(phoenix, ['w1']))).toBe(false)
  })

  it('a partition puts the majority on the side of the witness only', () => {
    // The link between the sites breaks; the witness still reaches atlanta.
    expect(hasMajority(twoSitesWitness, [...atlanta, 'w1'])).toBe(true)
    expect(hasMajority(twoSitesWitness, phoenix)).toBe(false)
  })

  it('one node per site plus the witness is still a majority', () => {
    expect(hasMajority(twoSitesWitness, ['atl-1', 'phx-2', 'w1'])).toBe(true)
    expect(hasMajority(twoSitesWitness, ['atl-1', 'phx-2'])).toBe(false)
  })

  it('counts each member once and ignores strangers', () => {
    expect(weightOf(twoSitesWitness, ['atl-1', 'atl-1', 'atl-1', 'stranger'])).toBe(1)
    expect(hasMajority(twoSitesWitness, ['atl-1', 'atl-1', 'atl-1', 'x', 'y'])).toBe(false)
  })

  it('non-voting members (weight 0) never count', () => {
    const weights = new Map([
      ['a', 1],
      ['b', 1],
      ['c', 1],
      ['observer-1', 0],
      ['observer-2', 0],
    ])
    expect(votesNeeded(weights)).toBe(2)
    expect(weightOf(weights, ['a', 'observer-1', 'observer-2'])).toBe(1)
    expect(hasMajority(weights, ['a', 'observer-1', 'observer-2'])).toBe(false)
    expect(hasMajority(weights, ['a', 'b'])).toBe(true)
  })
})

describe('voteResult', () => {
  const answers = (a: Record<string, boolean>) => new Map(Object.entries(a))
  const cases: [string, Map<string, number>, Record<string, boolean>, VoteOutcome][] = [
    ['sole voter votes for itself', equal(1), { n1: true }, 'won'],
    ['no answers yet', equal(3), {}, 'pending'],
    ['one of three granted', equal(3), { n1: true }, 'pending'],
    ['two of three granted', equal(3), { n1: true, n2: true }, 'won'],
    ['two of three rejected', equal(3), { n2: false, n3: false }, 'lost'],
    ['one granted, one rejected of three', equal(3), { n1: true, n2: false }, 'pending'],
    ['two of four granted is not a majority', equal(4), { n1: true, n2: true }, 'pending'],
    ['two of four rejected: 2 left cannot reach 3', equal(4), { n3: false, n4: false }, 'lost'],
    ['one of four rejected: 3 left can still reach 3', equal(4), { n4: false }, 'pending'],
    ['three of five granted', twoSitesWitness, { 'atl-1': true, 'atl-2': true, w1: true }, 'won'],
    ['a site rejects, witness pending', twoSitesWitness, { 'phx-1': false, 'phx-2': false }, 'pending'],
    ['a site and the witness reject', twoSitesWitness, { 'phx-1': false, 'phx-2': false, w1: false }, 'lost'],
    [
      'grants from non-voters do not count',
      new Map([
        ['a', 1],
        ['b', 1],
        ['c', 1],
        ['o', 0],
      ]),
      { a: true, o: true },
      'pending',
    ],
    ['answers from strangers do not count', equal(3), { n1: true, stranger: true, other: true }, 'pending'],
    [
      'weighted: a heavy voter wins alone',
      new Map([
        ['a', 3],
        ['b', 1],
        ['c', 1],
      ]),
      { a: true },
      'won',
    ],
    [
      'weighted: the heavy voter rejecting loses at once',
      new Map([
        ['a', 3],
        ['b', 1],
        ['c', 1],
      ]),
      { a: false },
      'lost',
    ],
  ]
  it.each(cases)('%s', (_name, weights, given, outcome) => {
    expect(voteResult(weights, answers(given))).toBe(outcome)
  })
})

describe('committedIndex', () => {
  it('equal weights: the median of three', () => {
    expect(committedIndex(equal(3), matchOf({ n1: 5, n2: 3, n3: 1 }))).toBe(3)
    expect(committedIndex(equal(3), matchOf({ n1: 1, n2: 5, n3: 3 }))).toBe(3)
  })

  it('a sole voter commits what it has stored', () => {
    expect(committedIndex(equal(1), matchOf({ n1: 7 }))).toBe(7)
  })

  it('even count: the majority needs the lower of the middle two', () => {
    expect(committedIndex(equal(4), matchOf({ n1: 9, n2: 8, n3: 4, n4: 2 }))).toBe(4)
    expect(committedIndex(equal(2), matchOf({ n1: 9, n2: 3 }))).toBe(3)
  })

  it('with the witness weight: a site plus the witness commits without the other site', () => {
    const match = { 'atl-1': 10, 'atl-2': 9, 'phx-1': 2, 'phx-2': 2, w1: 8 }
    expect(committedIndex(twoSitesWitness, matchOf(match))).toBe(8)
    // Without the witness' copy only the two atlanta nodes have 9: not a majority of 5.
    expect(committedIndex(twoSitesWitness, matchOf({ ...match, w1: 0 }))).toBe(2)
  })

  it('ignores a zero-weight member that holds the highest index', () => {
    const weights = new Map([
      ['a', 1],
      ['b', 1],
      ['c', 1],
      ['observer', 0],
    ])
    expect(committedIndex(weights, matchOf({ a: 5, b: 3, c: 1, observer: 100 }))).toBe(3)
    expect(committedIndex(weights, matchOf({ a: 5, b: 1, c: 1, observer: 100 }))).toBe(1)
  })

  it('weights decide, not heads', () => {
    const weights = new Map([
      ['a', 3],
      ['b', 1],
      ['c', 1],
    ])
    expect(committedIndex(weights, matchOf({ a: 4, b: 9, c: 9 }))).toBe(4)
    expect(committedIndex(weights, matchOf({ a: 9, b: 1, c: 1 }))).toBe(9)
  })

  it('is 0 when no majority has anything', () => {
    expect(committedIndex(equal(3), matchOf({ n1: 4 }))).toBe(0)
  })

  it.each([-1, 1.5])('throws an InvariantError for weight %s', (w) => {
    const weights = new Map([
      ['a', 1],
      ['b', w],
    ])
    expect(() => committedIndex(weights, () => 1)).toThrow(InvariantError)
  })

  it('property: the result is the greatest index a majority of the weight has reached', () => {
    const arb = fc
      .array(fc.record({ w: fc.integer({ min: 0, max: 4 }), match: fc.integer({ min: 0, max: 30 }) }), {
        minLength: 1,
        maxLength: 9,
      })
      .filter((vs) => vs.some((v) => v.w > 0))
    fc.assert(
      fc.property(arb, (vs) => {
        const weights = new Map(vs.map((v, i) => [`v${i}`, v.w] as [string, number]))
        const match = new Map(vs.map((v, i) => [`v${i}`, v.match] as [string, number]))
        const needed = votesNeeded(weights)
        const reachedBy = (index: number) =>
          vs.reduce((sum, v) => sum + (v.w > 0 && v.match >= index ? v.w : 0), 0)
        const result = committedIndex(weights, (id) => match.get(id)!)
        expect(reachedBy(result)).toBeGreaterThanOrEqual(needed)
        // Only indexes some voter holds can change the answer; check each of them and one past.
        const max = Math.max(...vs.map((v) => v.match))
        for (let index = result + 1; index <= max + 1; index++) {
          expect(reachedBy(index)).toBeLessThan(needed)
        }
      }),
      { seed: 20240601, numRuns: 500 },
    )
  })
})
