/** The leader's view of each node for placement (src/failover/placementViews.ts), as a table. */
import { describe, expect, it } from 'vitest'
import type { NodeRecord } from '../../src/database/entities.ts'
import { type PlacementFacts, placementViews } from '../../src/failover/placementViews.ts'

const node = (name: string, over: Partial<NodeRecord> = {}): NodeRecord => ({
  kind: 'node',
  name,
  site: 'dc',
  votes: 1,
  peerId: null,
  address: null,
  ...over,
})

function facts(over: Partial<PlacementFacts> = {}): PlacementFacts {
  const heard: Record<string, number> = { b: 9_000, c: 5_000 }
  return {
    nodes: [node('a'), node('b'), node('c'), node('d', { paused: true })],
    self: 'a',
    nowMs: 10_000,
    stopping: false,
    seen: (n) => (n === 'b' ? 'up' : 'down'),
    lastHeardMs: (n) => heard[n] ?? null,
    upSinceMs: (n) => (n === 'a' ? 1_000 : n === 'b' ? 4_000 : undefined),
    earlierLeasesAskedBeforeMs: 0,
    downAfterMs: 3_000,
    ...over,
  }
}

describe('placement views', () => {
  it('up when heard, down once its leases have certainly ended, suspect in between', () => {
    const views = placementViews(facts())
    expect(views.map((v) => [v.name, v.state, v.upForMs])).toEqual([
      ['a', 'up', 9_000],
      ['b', 'up', 6_000],
      // c: last heard at 5,000 ms, down from 8,000 ms; d: never heard, down after downAfter.
      ['c', 'down', 0],
      ['d', 'down', 0],
    ])
    expect(views[3]).toMatchObject({ paused: true, draining: false })
  })

  it('a silent node stays suspect while an earlier leader may still have granted it a lease', () => {
    const views = placementViews(facts({ earlierLeasesAskedBeforeMs: 8_000 }))
    expect(views.find((v) => v.name === 'c')?.state).toBe('suspect')
    expect(views.find((v) => v.name === 'd')?.state).toBe('suspect')
  })

  it('a stopping leader takes no groups itself: paused and draining', () => {
    const self = placementViews(facts({ stopping: true })).find((v) => v.name === 'a')
    expect(self).toMatchObject({ state: 'up', paused: true, draining: true })
  })
})
