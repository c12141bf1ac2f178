/**
 * Table tests of the joint-consensus quorum rules (Raft §6): a plain configuration decides with
 * its incoming weights alone; a joint one needs a majority in the incoming and in the outgoing
 * half, each counted with the plain vote math.
 */
import { describe, expect, it } from 'vitest'
import {
  configurationProblem,
  isVoter,
  jointCommittedIndex,
  jointHasMajority,
  jointVoteResult,
  membersOf,
  votersOf,
} from '../../src/consensus/quorum/jointQuorum.ts'
import type { VoteOutcome } from '../../src/consensus/quorum/voteMath.ts'
import type { Configuration, WeightTable } from '../../src/consensus/types.ts'
import { InvariantError } from '../../src/errors/assert.ts'

function plain(incoming: WeightTable, over: Partial<Configuration> = {}): Configuration {
  return { epoch: 0, forced: false, incoming, outgoing: null, base: { ...incoming }, witness: null, ...over }
}

function joint(
  incoming: WeightTable,
  outgoing: WeightTable,
  over: Partial<Configuration> = {},
): Configuration {
  return { epoch: 0, forced: false, incoming, outgoing, base: { ...incoming }, witness: null, ...over }
}

const abc = plain({ a: 1, b: 1, c: 1 })
/** Replacing d by c: incoming {a,b,c}, outgoing {a,b,d}. */
const abcFromAbd = joint({ a: 1, b: 1, c: 1 }, { a: 1, b: 1, d: 1 })
/** Disjoint halves: incoming {x,y,z}, outgoing {a,b,c}. */
const xyzFromAbc = joint({ x: 1, y: 1, z: 1 }, { a: 1, b: 1, c: 1 })
/** a holds 2 of 4 votes; c votes with 0 (a member without a vote). */
const heavy = plain({ a: 2, b: 1, c: 0, d: 1 })

const answers = (m: Record<string, boolean>): Map<string, boolean> => new Map(Object.entries(m))
const matchOf =
  (m: Record<string, number>) =>
  (id: string): number =>
    m[id] ?? 0

describe('jointHasMajority', () => {
  it.each<[string, Configuration, string[], boolean]>([
    ['plain: 2 of 3', abc, ['a', 'b'], true],
    ['plain: 1 of 3', abc, ['c'], false],
    ['plain: nobody', abc, [], false],
    ['plain: strangers do not count', abc, ['a', 'x', 'y'], false],
    ['plain: duplicates count once', abc, ['a', 'a', 'a'], false],
    ['joint: a,b hold both halves', abcFromAbd, ['a', 'b'], true],
    ['joint: a,c hold incoming only', abcFromAbd, ['a', 'c'], false],
    ['joint: a,d hold outgoing only', abcFromAbd, ['a', 'd'], false],
    ['joint: a,c,d hold both halves', abcFromAbd, ['a', 'c', 'd'], true],
    ['joint: c,d hold one vote in each half', abcFromAbd, ['c', 'd'], false],
    ['disjoint: all of incoming, none of outgoing', xyzFromAbc, ['x', 'y', 'z'], false],
    ['disjoint: 2 + 2', xyzFromAbc, ['x', 'y', 'a', 'b'], true],
    ['weight 2: a alone holds half, not a majority', heavy, ['a'], false],
    ['weight 2: a and b hold 3 of 4', heavy, ['a', 'b'], true],
    ['weight 2: b, d hold 2 of 4', heavy, ['b', 'd'], false],
    ['weight 0: c adds nothing', heavy, ['b', 'c', 'd'], false],
  ])('%s', (_name, config, present, expected) => {
    expect(jointHasMajority(config, present)).toBe(expected)
  })

  it('accepts any iterable of ids', () => {
    expect(jointHasMajority(abcFromAbd, new Set(['a', 'b']))).toBe(true)
  })

  it('throws on a half with no votes rather than calling nobody a majority', () => {
    expect(() => jointHasMajority(joint({ a: 1 }, { b: 0 }), ['a'])).toThrow(InvariantError)
    expect(() => jointHasMajority(plain({ a: 0, b: 0 }), ['a', 'b'])).toThrow(InvariantError)
  })

  it('throws on negative or fractional weights', () => {
    expect(() => jointHasMajority(plain({ a: 1, b: -1, c: 1 }), ['a', 'c'])).toThrow(InvariantError)
    expect(() => jointHasMajority(joint({ a: 1 }, { a: 0.5, b: 1 }), ['a', 'b'])).toThrow(InvariantError)
  })
})

describe('jointVoteResult', () => {
  it.each<[string, Configuration, Record<string, boolean>, VoteOutcome]>([
    ['plain: no answers yet', abc, {}, 'pending'],
    ['plain: own vote only', abc, { a: true }, 'pending'],
    ['plain: 2 granted', abc, { a: true, b: true }, 'won'],
    ['plain: 2 rejected', abc, { a: true, b: false, c: false }, 'lost'],
    ['plain: 1 granted, 1 rejected', abc, { a: true, b: false }, 'pending'],
    ['plain: answers from strangers do not count', abc, { a: true, x: true, y: true }, 'pending'],
    ['joint: won in both halves', abcFromAbd, { a: true, b: true }, 'won'],
    ['joint: won in incoming, pending in outgoing', abcFromAbd, { a: true, c: true }, 'pending'],
    [
      'joint: won in incoming, lost in outgoing',
      abcFromAbd,
      { a: true, c: true, b: false, d: false },
      'lost',
    ],
    [
      'joint: lost in incoming, won in outgoing',
      abcFromAbd,
      { a: true, d: true, b: false, c: false },
      'lost',
    ],
    ['joint: won in incoming with c, then d too', abcFromAbd, { a: true, c: true, d: true }, 'won'],
    ['disjoint: won in incoming only', xyzFromAbc, { x: true, y: true, z: true }, 'pending'],
    [
      'disjoint: won in incoming, lost in outgoing',
      xyzFromAbc,
      { x: true, y: true, a: false, b: false },
      'lost',
    ],
    ['weight 2: a alone', heavy, { a: true }, 'pending'],
    ['weight 2: a and d', heavy, { a: true, d: true }, 'won'],
    ['weight 2: a rejects, b and d grant: 2 of 4', heavy, { a: false, b: true, d: true }, 'lost'],
    ['weight 0: c granting changes nothing', heavy, { b: true, c: true, d: true }, 'pending'],
  ])('%s', (_name, config, given, expected) => {
    expect(jointVoteResult(config, answers(given))).toBe(expected)
  })

  it('throws on a half with no votes', () => {
    expect(() => jointVoteResult(joint({ a: 1 }, { a: 0 }), answers({ a: true }))).toThrow(InvariantError)
  })
})

describe('jointCommittedIndex', () => {
  it.each<[string, Configuration, Record<string, number>, number]>([
    ['plain: the median of three', abc, { a: 9, b: 7, c: 3 }, 7],
    ['plain: a voter that stored nothing', abc, { a: 9, b: 0, c: 5 }, 5],
    ['plain: nothing stored anywhere', abc, {}, 0],
    ['plain: strangers do not count', plain({ a: 1, b: 1, c: 1, x: 0 }), { a: 9, x: 9 }, 0],
    // incoming {a,b,c}: 9,7,3 → 7; outgoing {a,b,d}: 9,7,8 → 8; both must hold it: 7.
    ['joint: the smaller of the two halves', abcFromAbd, { a: 9, b: 7, c: 3, d: 8 }, 7],
    // incoming {a,b,c}: 2,2,9 → 2; outgoing {a,b,d}: 2,2,9 → 2.
    ['joint: c and d ahead, a and b behind', abcFromAbd, { a: 2, b: 2, c: 9, d: 9 }, 2],
    ['joint: outgoing lags', abcFromAbd, { a: 9, b: 1, c: 9, d: 1 }, 1],
    ['disjoint: incoming far ahead', xyzFromAbc, { x: 9, y: 9, z: 9, a: 4, b: 4, c: 0 }, 4],
    // a (weight 2) at 9 and b at 5 hold 3 of 4 votes: 5.
    ['weight 2: a needs one more', heavy, { a: 9, b: 5, c: 8, d: 1 }, 5],
    ['weight 0: c does not count however far it is', heavy, { a: 1, b: 1, c: 100, d: 1 }, 1],
  ])('%s', (_name, config, match, expected) => {
    expect(jointCommittedIndex(config, matchOf(match))).toBe(expected)
  })

  it('throws on a half with no votes', () => {
    expect(() => jointCommittedIndex(joint({ a: 1 }, {}), () => 1)).toThrow(InvariantError)
  })
})

describe('votersOf, membersOf, isVoter', () => {
  const removing = joint(
    { a: 1, b: 1, c: 0 },
    { a: 1, b: 1, c: 1, d: 1 },
    { base: { a: 1, b: 1, c: 1, e: 0 } },
  )

  it('votersOf: ids with a vote in either half, not weight-0 members', () => {
    expect(votersOf(abc)).toEqual(new Set(['a', 'b', 'c']))
    expect(votersOf(heavy)).toEqual(new Set(['a', 'b', 'd']))
    expect(votersOf(abcFromAbd)).toEqual(new Set(['a', 'b', 'c', 'd']))
    expect(votersOf(removing)).toEqual(new Set(['a', 'b', 'c', 'd']))
    expect(votersOf(joint({ a: 1, b: 0 }, { a: 1 }))).toEqual(new Set(['a']))
  })

  it('votersOf ignores the base: only incoming and outgoing weights vote', () => {
    expect(votersOf(plain({ a: 1 }, { base: { a: 1, z: 5 } }))).toEqual(new Set(['a']))
  })

  it('membersOf: everyone in base, incoming or outgoing, voting or not', () => {
    expect(membersOf(abc)).toEqual(new Set(['a', 'b', 'c']))
    expect(membersOf(heavy)).toEqual(new Set(['a', 'b', 'c', 'd']))
    expect(membersOf(removing)).toEqual(new Set(['a', 'b', 'c', 'd', 'e']))
    expect(membersOf(plain({ a: 1 }, { base: { a: 1, w: 1 }, witness: 'w' }))).toEqual(new Set(['a', 'w']))
  })

  it.each<[string, Configuration, string, boolean]>([
    ['abc', abc, 'a', true],
    ['abc', abc, 'x', false],
    ['heavy', heavy, 'a', true],
    ['heavy', heavy, 'c', false],
    ['abcFromAbd', abcFromAbd, 'c', true],
    ['abcFromAbd', abcFromAbd, 'd', true],
    ['removing', removing, 'c', true],
    ['removing', removing, 'e', false],
    ['{a} from {a, b: 0}', joint({ a: 1 }, { a: 1, b: 0 }), 'b', false],
  ])('isVoter(%s, %s) = %s', (_name, config, id, expected) => {
    expect(isVoter(config, id)).toBe(expected)
  })

  it('isVoter agrees with votersOf on every member', () => {
    for (const config of [abc, heavy, abcFromAbd, xyzFromAbc, removing]) {
      for (const id of membersOf(config)) expect(isVoter(config, id)).toBe(votersOf(config).has(id))
    }
  })
})

describe('configurationProblem', () => {
  it.each<[string, Configuration]>([
    ['plain', abc],
    ['joint', abcFromAbd],
    ['weights 0 and 2', heavy],
    ['a witness that is a member', plain({ a: 1, b: 1, w: 1 }, { witness: 'w' })],
    ['a witness in the base with weight 0', plain({ a: 1 }, { base: { a: 1, w: 0 }, witness: 'w' })],
    ['a base with no votes (it only lists members)', plain({ a: 1 }, { base: { a: 0 } })],
    ['an empty base', plain({ a: 1 }, { base: {} })],
  ])('accepts %s', (_name, config) => {
    expect(configurationProblem(config)).toBeNull()
  })

  it.each<[string, Configuration, RegExp]>([
    ['a negative incoming weight', plain({ a: 1, b: -1 }), /incoming weight of b is -1/],
    ['a fractional incoming weight', plain({ a: 1.5 }), /incoming weight of a is 1\.5/],
    ['a NaN weight', plain({ a: Number.NaN, b: 1 }), /incoming weight of a is NaN/],
    ['an infinite weight', plain({ a: Number.POSITIVE_INFINITY }), /incoming weight of a is Infinity/],
    ['a negative outgoing weight', joint({ a: 1 }, { a: 1, b: -2 }), /outgoing weight of b is -2/],
    ['a fractional base weight', plain({ a: 1 }, { base: { a: 0.5 } }), /base weight of a is 0\.5/],
    ['a negative base weight', plain({ a: 1 }, { base: { a: 1, z: -1 } }), /base weight of z is -1/],
    ['incoming with no votes', plain({ a: 0, b: 0 }), /incoming has no votes/],
    ['an empty incoming table', plain({}, { base: { a: 1 } }), /incoming has no votes/],
    ['outgoing with no votes', joint({ a: 1 }, { a: 0 }), /outgoing has no votes/],
    ['an empty outgoing table', joint({ a: 1 }, {}), /outgoing has no votes/],
    ['a witness that is not a member', plain({ a: 1, b: 1 }, { witness: 'w' }), /witness w is not a member/],
    [
      'a witness that only votes in incoming, not in the base',
      plain({ a: 1, w: 1 }, { base: { a: 1 }, witness: 'w' }),
      /witness w is not a member/,
    ],
  ])('reports %s', (_name, config, expected) => {
    expect(configurationProblem(config)).toMatch(expected)
  })

  // Regression: membership is an own property, never one of Object.prototype's keys.
  it('reports a witness named like an Object.prototype key that is not a member', () => {
    expect(configurationProblem(plain({ a: 1, b: 1 }, { witness: 'toString' }))).toMatch(/not a member/)
  })
})
