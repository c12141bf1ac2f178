/**
 * Dynamic quorum and dynamic witness (WSFC 2012 R2), table-tested on the pure rule: given the
 * configuration and who the leader sees up or down, which weights should it propose?
 */
import { describe, expect, it } from 'vitest'
import {
  desiredWeights,
  type Liveness,
  tieBreakerNode,
  weightsAfterForce,
} from '../../src/consensus/quorum/dynamicQuorum.ts'
import type { Configuration, WeightTable } from '../../src/consensus/types.ts'

/** Base weights (incoming defaults to them), a witness id, forced flag. */
function config(
  base: WeightTable,
  over: { incoming?: WeightTable; witness?: string; forced?: boolean } = {},
): Configuration {
  return {
    epoch: over.forced === true ? 1 : 0,
    forced: over.forced ?? false,
    incoming: { ...(over.incoming ?? base) },
    outgoing: null,
    base: { ...base },
    witness: over.witness ?? null,
  }
}

function live(leader: string, up: string[], down: string[] = []): Liveness {
  return { leader, up: new Set(up), down: new Set(down) }
}

const ones = (...ids: string[]): WeightTable => Object.fromEntries(ids.map((id) => [id, 1]))
const total = (t: WeightTable): number => Object.values(t).reduce((a, b) => a + b, 0)

describe('desiredWeights: nodes up, down and undecided', () => {
  it('takes the vote from a node that is down', () => {
    const c = config(ones('a', 'b', 'c', 'd', 'e'))
    expect(desiredWeights(c, live('a', ['a', 'b', 'c'], ['d', 'e']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 0, e: 0 },
      forced: false,
    })
  })

  it('gives an up node its base weight back, including a weight of 2', () => {
    const c = config({ a: 1, b: 1, c: 2, d: 1 }, { incoming: { a: 1, b: 1, c: 0, d: 1 } })
    expect(desiredWeights(c, live('a', ['a', 'b', 'c', 'd']))).toEqual({
      incoming: { a: 1, b: 1, c: 2, d: 1 },
      forced: false,
    })
  })

  it('gives two returning nodes their votes back', () => {
    const c = config(ones('a', 'b', 'c', 'd', 'e'), { incoming: { a: 1, b: 1, c: 1, d: 0, e: 0 } })
    expect(desiredWeights(c, live('c', ['a', 'b', 'c', 'd', 'e']))).toEqual({
      incoming: ones('a', 'b', 'c', 'd', 'e'),
      forced: false,
    })
  })

  it('lets an undecided node keep its current weight, whatever it is', () => {
    // d has no vote and is neither up nor down: it stays without one; e keeps its vote.
    const c = config(ones('a', 'b', 'c', 'd', 'e'), { incoming: { a: 1, b: 1, c: 1, d: 0, e: 1 } })
    expect(desiredWeights(c, live('a', ['a', 'b'], ['c']))).toEqual({
      incoming: { a: 1, b: 1, c: 0, d: 0, e: 1 },
      forced: false,
    })
  })

  it('never gives an undecided node more than its base weight', () => {
    const c = config(ones('a', 'b', 'c'), { incoming: { a: 1, b: 1, c: 3 } })
    expect(desiredWeights(c, live('a', ['a', 'b']))).toEqual({ incoming: ones('a', 'b', 'c'), forced: false })
  })

  it('treats a node missing from incoming as having weight 0', () => {
    const c = config(ones('a', 'b', 'c', 'd'), { incoming: ones('a', 'b', 'c') })
    expect(desiredWeights(c, live('a', ['a', 'b', 'c']))).toBeNull()
  })

  it('keeps a node with base weight 0 at 0 even when it is up', () => {
    const c = config({ a: 1, b: 1, c: 1, z: 0 })
    expect(desiredWeights(c, live('a', ['a', 'b', 'c', 'z']))).toBeNull()
    const wrong = config({ a: 1, b: 1, c: 1, z: 0 }, { incoming: { a: 1, b: 1, c: 1, z: 1 } })
    expect(desiredWeights(wrong, live('a', ['a', 'b', 'c', 'z']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, z: 0 },
      forced: false,
    })
  })

  it('drops ids that are not in the base', () => {
    const c = config(ones('a', 'b', 'c'), { incoming: ones('a', 'b', 'c', 'gone') })
    expect(desiredWeights(c, live('a', ['a', 'b', 'c']))).toEqual({
      incoming: ones('a', 'b', 'c'),
      forced: false,
    })
  })

  // Regression: weight lookups are own-property only, so a member named `constructor` (a valid
  // node name) that is absent from `incoming` weighs 0, not the inherited function.
  it('keeps an undecided member named `constructor` that is missing from incoming at 0, not NaN', () => {
    const c = config({ a: 1, b: 1, constructor: 1 }, { incoming: { a: 1, b: 1, c: 1 } })
    const next = desiredWeights(c, live('a', ['a', 'b']))
    expect(next?.incoming.constructor).toBe(0)
  })
})

describe('desiredWeights: ties without a witness', () => {
  it('makes the last node by name other than the leader give up its vote when the total is even', () => {
    const c = config(ones('a', 'b', 'c', 'd'))
    expect(desiredWeights(c, live('a', ['a', 'b', 'c', 'd']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 0 },
      forced: false,
    })
    // The leader itself is never the one: with d leading, c steps back.
    expect(desiredWeights(c, live('d', ['a', 'b', 'c', 'd']))).toEqual({
      incoming: { a: 1, b: 1, c: 0, d: 1 },
      forced: false,
    })
  })

  it('shrinks 3 → 1 voter when one of three goes down (2 would need both)', () => {
    const c = config(ones('a', 'b', 'c'))
    expect(desiredWeights(c, live('a', ['a', 'b'], ['c']))).toEqual({
      incoming: { a: 1, b: 0, c: 0 },
      forced: false,
    })
  })

  it('is stable once the tie-breaker stepped back', () => {
    const c = config(ones('a', 'b', 'c', 'd'), { incoming: { a: 1, b: 1, c: 1, d: 0 } })
    expect(desiredWeights(c, live('a', ['a', 'b', 'c', 'd']))).toBeNull()
  })

  it('picks only a node holding exactly one vote', () => {
    const c = config({ a: 1, b: 1, c: 2 })
    // c (weight 2) cannot fix the parity; b (weight 1) can.
    expect(desiredWeights(c, live('a', ['a', 'b', 'c']))).toEqual({
      incoming: { a: 1, b: 0, c: 2 },
      forced: false,
    })
  })

  it('leaves an odd total alone', () => {
    expect(desiredWeights(config(ones('a', 'b', 'c')), live('b', ['a', 'b', 'c']))).toBeNull()
    expect(desiredWeights(config(ones('a')), live('a', ['a']))).toBeNull()
  })
})

describe('the tie-breaker the operator chose (LowerQuorumPriorityNodeID, preferred site)', () => {
  // Sites: a1 and a2 at site A, b1 and b2 at site B; preferring A lists B's nodes, last by name first.
  const fourNodes = config(ones('a1', 'a2', 'b1', 'b2'))
  const preferA = ['b2', 'b1']

  it('takes the vote from a node outside the preferred site, whoever leads', () => {
    for (const leader of ['a1', 'a2', 'b1']) {
      const next = desiredWeights(fourNodes, live(leader, ['a1', 'a2', 'b1', 'b2']), preferA)
      expect(next?.incoming, `leader ${leader}`).toEqual({ a1: 1, a2: 1, b1: 1, b2: 0 })
    }
    // With b2 leading, the other node of site B steps back: leadership stays where it is.
    expect(desiredWeights(fourNodes, live('b2', ['a1', 'a2', 'b1', 'b2']), preferA)?.incoming).toEqual({
      a1: 1,
      a2: 1,
      b1: 0,
      b2: 1,
    })
  })

  it('takes the vote of the lower-priority node even when it sorts first', () => {
    expect(desiredWeights(fourNodes, live('b2', ['a1', 'a2', 'b1', 'b2']), ['a1'])?.incoming).toEqual({
      a1: 0,
      a2: 1,
      b1: 1,
      b2: 1,
    })
  })

  it('takes the leader’s own vote when it is the only listed node voting (it then steps down)', () => {
    const two = config(ones('a1', 'b1'))
    expect(desiredWeights(two, live('b1', ['a1', 'b1']), ['b1'])?.incoming).toEqual({ a1: 1, b1: 0 })
    // The next leader (a1) keeps it that way: nothing to change.
    expect(
      desiredWeights(config(ones('a1', 'b1'), { incoming: { a1: 1, b1: 0 } }), live('a1', ['a1', 'b1']), [
        'b1',
      ]),
    ).toBeNull()
  })

  it('is stable once the listed node stepped back, and gives the vote back when the total is odd again', () => {
    const stepped = config(ones('a1', 'a2', 'b1', 'b2'), { incoming: { a1: 1, a2: 1, b1: 1, b2: 0 } })
    expect(desiredWeights(stepped, live('a1', ['a1', 'a2', 'b1', 'b2']), preferA)).toBeNull()
    // a2 goes down: three nodes up, an odd total: b2 votes again.
    expect(desiredWeights(stepped, live('a1', ['a1', 'b1', 'b2'], ['a2']), preferA)?.incoming).toEqual({
      a1: 1,
      a2: 0,
      b1: 1,
      b2: 1,
    })
  })

  it('falls back on the default rule when no listed node holds a vote', () => {
    // Both of site B are down; site A's two nodes are even: the last by name other than the leader.
    expect(desiredWeights(fourNodes, live('a1', ['a1', 'a2'], ['b1', 'b2']), preferA)?.incoming).toEqual({
      a1: 1,
      a2: 0,
      b1: 0,
      b2: 0,
    })
    expect(tieBreakerNode(['a1', 'a2'], 'a1', ['gone'])).toBe('a2')
  })

  it('leaves the witness to break the tie while it is up', () => {
    const withW = config(ones('a1', 'a2', 'b1', 'b2', 'w'), { witness: 'w' })
    expect(desiredWeights(withW, live('a1', ['a1', 'a2', 'b1', 'b2', 'w']), preferA)).toBeNull()
    expect(desiredWeights(withW, live('a1', ['a1', 'a2', 'b1', 'b2'], ['w']), preferA)?.incoming).toEqual({
      a1: 1,
      a2: 1,
      b1: 1,
      b2: 0,
      w: 0,
    })
  })

  it('in every even split of two sites, the preferred site keeps a majority whoever leads', () => {
    for (const perSite of [1, 2, 3]) {
      const a = Array.from({ length: perSite }, (_, i) => `a${i + 1}`)
      const b = Array.from({ length: perSite }, (_, i) => `b${i + 1}`)
      const order = [...b].sort().reverse()
      for (const leader of [...a, ...b]) {
        const next = desiredWeights(config(ones(...a, ...b)), live(leader, [...a, ...b]), order)!.incoming
        const votes = (ids: string[]) => ids.reduce((sum, id) => sum + (next[id] ?? 0), 0)
        expect(votes(a), `${perSite}+${perSite}, leader ${leader}`).toBeGreaterThan(votes(b))
      }
    }
  })
})

describe('desiredWeights: dynamic witness', () => {
  const fourAndW = config(ones('a', 'b', 'c', 'd', 'w'), { witness: 'w' })
  const threeAndW = config(ones('a', 'b', 'c', 'w'), { witness: 'w' })

  it('lets the witness vote while the nodes hold an even number of votes and it is up', () => {
    expect(desiredWeights(fourAndW, live('a', ['a', 'b', 'c', 'd', 'w']))).toBeNull()
    const withoutW = config(ones('a', 'b', 'c', 'd', 'w'), {
      witness: 'w',
      incoming: ones('a', 'b', 'c', 'd'),
    })
    expect(desiredWeights(withoutW, live('a', ['a', 'b', 'c', 'd', 'w']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 1, w: 1 },
      forced: false,
    })
  })

  it('takes the witness vote away while the nodes hold an odd number', () => {
    expect(desiredWeights(threeAndW, live('a', ['a', 'b', 'c', 'w']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, w: 0 },
      forced: false,
    })
    // A node goes down: 3 node votes left, the witness steps back.
    expect(desiredWeights(fourAndW, live('a', ['a', 'b', 'c', 'w'], ['d']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 0, w: 0 },
      forced: false,
    })
  })

  it('takes the witness vote back when a second node goes down', () => {
    const after1 = config(ones('a', 'b', 'c', 'd', 'w'), {
      witness: 'w',
      incoming: { a: 1, b: 1, c: 1, d: 0, w: 0 },
    })
    expect(desiredWeights(after1, live('a', ['a', 'b', 'w'], ['c', 'd']))).toEqual({
      incoming: { a: 1, b: 1, c: 0, d: 0, w: 1 },
      forced: false,
    })
  })

  it('with the witness down and the node votes even, the last node by name other than the leader steps back', () => {
    expect(desiredWeights(fourAndW, live('a', ['a', 'b', 'c', 'd'], ['w']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 0, w: 0 },
      forced: false,
    })
    expect(desiredWeights(fourAndW, live('d', ['a', 'b', 'c', 'd'], ['w']))).toEqual({
      incoming: { a: 1, b: 1, c: 0, d: 1, w: 0 },
      forced: false,
    })
  })

  it('gives the witness no vote while it is undecided (only an up witness votes)', () => {
    expect(desiredWeights(fourAndW, live('a', ['a', 'b', 'c', 'd']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 0, w: 0 },
      forced: false,
    })
  })

  it('never picks the witness as the tie-breaker, even when it sorts last', () => {
    const c = config(ones('a', 'b', 'z'), { witness: 'z' })
    expect(desiredWeights(c, live('a', ['a', 'b'], ['z']))).toEqual({
      incoming: { a: 1, b: 0, z: 0 },
      forced: false,
    })
  })

  it('treats a witness with base weight 0 as no witness', () => {
    const c = config({ a: 1, b: 1, w: 0 }, { witness: 'w' })
    expect(desiredWeights(c, live('a', ['a', 'b', 'w']))).toEqual({
      incoming: { a: 1, b: 0, w: 0 },
      forced: false,
    })
  })

  it('keeps the total odd for every mix of up and down among 4 nodes and a witness', () => {
    const ids = ['a', 'b', 'c', 'd', 'w']
    for (let mask = 0; mask < 1 << ids.length; mask++) {
      const up = ids.filter((_, i) => (mask & (1 << i)) !== 0)
      if (!up.includes('a')) continue // the leader is always up
      const down = ids.filter((id) => !up.includes(id))
      const next = desiredWeights(fourAndW, live('a', up, down))?.incoming ?? fourAndW.incoming
      expect(total(next) % 2, `up ${up.join(',')}`).toBe(1)
      expect(next.a, `up ${up.join(',')}`).toBe(1)
      for (const id of down) expect(next[id], `up ${up.join(',')}: ${id} is down`).toBe(0)
    }
  })
})

describe('desiredWeights: forced configurations', () => {
  const seven = ones('a', 'b', 'c', 'd', 'e', 'f', 'g')
  const forced = config(seven, { forced: true, incoming: { a: 1 } })

  it('stays forced while the members up hold no majority of the base weight', () => {
    // 3 of 7 up: b and c get their votes back, the configuration stays forced.
    expect(desiredWeights(forced, live('a', ['a', 'b', 'c'], ['d', 'e']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 0, e: 0, f: 0, g: 0 },
      forced: true,
    })
  })

  it('returns null while forced when the weights stay as they are', () => {
    // a and b up: even, so b steps back again; nothing changes and 2 of 7 is no majority.
    expect(desiredWeights(forced, live('a', ['a', 'b']))).toBeNull()
  })

  it('becomes unforced once members holding a majority of the base weight are up', () => {
    // 4 of 7 up; 4 votes is even, so d steps back.
    expect(desiredWeights(forced, live('a', ['a', 'b', 'c', 'd']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 0, e: 0, f: 0, g: 0 },
      forced: false,
    })
  })

  it('becomes unforced even when the weights stay as they are', () => {
    const c = config(ones('a', 'b', 'c'), { forced: true })
    expect(desiredWeights(c, live('a', ['a', 'b', 'c']))).toEqual({
      incoming: ones('a', 'b', 'c'),
      forced: false,
    })
  })

  it('needs a strict majority: half of the base weight is not enough', () => {
    const c = config(ones('a', 'b', 'c', 'd'), { forced: true, incoming: { a: 1 } })
    // a, b, c: 3 of 4 → unforced (3 votes, odd).
    expect(desiredWeights(c, live('a', ['a', 'b', 'c']))).toEqual({
      incoming: { a: 1, b: 1, c: 1, d: 0 },
      forced: false,
    })
    // a, b: 2 of 4 → still forced (and b steps back: nothing changes).
    expect(desiredWeights(c, live('a', ['a', 'b']))).toBeNull()
  })

  it('counts the witness and weights toward the base majority', () => {
    const c = config(ones('a', 'b', 'c', 'd', 'w'), { witness: 'w', forced: true, incoming: { a: 1 } })
    // a, b and w hold 3 of 5.
    expect(desiredWeights(c, live('a', ['a', 'b', 'w']))).toEqual({
      incoming: { a: 1, b: 1, c: 0, d: 0, w: 1 },
      forced: false,
    })
    // a alone holds 3 of 5 through its weight.
    const heavy = config({ a: 3, b: 1, c: 1 }, { forced: true, incoming: { a: 3, b: 0, c: 0 } })
    expect(desiredWeights(heavy, live('a', ['a'], ['b', 'c']))).toEqual({
      incoming: { a: 3, b: 0, c: 0 },
      forced: false,
    })
  })

  it('never marks an unforced configuration forced', () => {
    const c = config(ones('a', 'b', 'c', 'd', 'e'))
    expect(desiredWeights(c, live('a', ['a'], ['b', 'c', 'd', 'e']))).toEqual({
      incoming: { a: 1, b: 0, c: 0, d: 0, e: 0 },
      forced: false,
    })
  })
})

describe('weightsAfterForce: a forced configuration without dynamic quorum', () => {
  const five = ones('a', 'b', 'c', 'd', 'e')
  const forced = config(five, { forced: true, incoming: { a: 1, b: 0, c: 0, d: 0, e: 0 } })

  it('gives members their votes back as they return, still forced below a majority', () => {
    expect(weightsAfterForce(forced, new Set(['a', 'b']))).toEqual({
      incoming: { a: 1, b: 1, c: 0, d: 0, e: 0 },
      forced: true,
    })
    expect(weightsAfterForce(forced, new Set(['a']))).toBeNull()
  })

  it('is the configured configuration, unforced, once a majority of the configured votes is back', () => {
    expect(weightsAfterForce(forced, new Set(['a', 'b', 'c']))).toEqual({ incoming: five, forced: false })
  })

  it('leaves an unforced configuration alone', () => {
    expect(weightsAfterForce(config(five), new Set(['a']))).toBeNull()
  })
})

describe('desiredWeights: never an all-zero table', () => {
  it('returns null rather than taking every vote away', () => {
    const c = config(ones('a', 'b', 'c'))
    expect(desiredWeights(c, live('x', [], ['a', 'b', 'c']))).toBeNull()
    expect(desiredWeights(c, live('a', [], ['a', 'b', 'c']))).toBeNull()
  })

  it('returns null for a forced configuration too', () => {
    const c = config(ones('a', 'b', 'c'), { forced: true, incoming: { a: 1, b: 0, c: 0 } })
    expect(desiredWeights(c, live('a', [], ['a', 'b', 'c']))).toBeNull()
  })

  it('keeps at least one vote for any up/down/undecided mix of three nodes', () => {
    const ids = ['a', 'b', 'c']
    const states = ['up', 'down', 'undecided'] as const
    for (let n = 0; n < 27; n++) {
      const state = ids.map((_, i) => states[Math.floor(n / 3 ** i) % 3]!)
      const up = ids.filter((_, i) => state[i] === 'up')
      const down = ids.filter((_, i) => state[i] === 'down')
      for (const incoming of [ones('a', 'b', 'c'), { a: 1, b: 0, c: 0 }]) {
        const next = desiredWeights(config(ones('a', 'b', 'c'), { incoming }), live('a', up, down))
        if (next !== null) expect(total(next.incoming), state.join(',')).toBeGreaterThan(0)
      }
    }
  })
})
