/**
 * The leader's Failover Manager (src/failover/failoverPlanner.ts): placement, failover,
 * failure-driven moves, drain and failback — with an injected hour of day for failback windows.
 */
import { describe, expect, it } from 'vitest'
import type { GroupRecord, ResourceRecord } from '../../src/database/entities.ts'
import { inWindow, type NodeView, type PlanInput, planFailover } from '../../src/failover/failoverPlanner.ts'
import { groupRecord } from '../support/records.ts'

const hour = 3_600_000

const group = groupRecord

const owned = (name: string, owner: string, over: Partial<GroupRecord> = {}) =>
  group(name, { owner, fencingToken: 5, ...over })

function node(name: string, site: string, over: Partial<NodeView> = {}): NodeView {
  return { name, site, state: 'up', upForMs: 60_000, paused: false, draining: false, evicted: false, ...over }
}

/** 2 sites × 2 nodes. */
const cluster = (over: Record<string, Partial<NodeView>> = {}) => [
  node('atl-1', 'atl', over['atl-1']),
  node('atl-2', 'atl', over['atl-2']),
  node('phx-1', 'phx', over['phx-1']),
  node('phx-2', 'phx', over['phx-2']),
]

function plan(groups: GroupRecord[], over: Partial<PlanInput> = {}) {
  return planFailover({
    groups,
    resources: [],
    nodes: cluster(),
    nowMs: 10 * hour,
    hourOfDay: 12,
    failbackAfterUpMs: 3_000,
    inFlight: new Set(),
    random: () => 0.5,
    ...over,
  })
}

describe('first placement', () => {
  it('takes the first preferred owner that can run it', () => {
    expect(plan([group('web', { preferredOwners: ['phx-2', 'atl-1'] })])).toEqual([
      {
        kind: 'assign',
        group: 'web',
        expect: { owner: null, token: 0 },
        owner: 'phx-2',
        move: 'place',
        reason: 'placed on phx-2',
      },
    ])
    const down = { 'phx-2': { state: 'down' as const } }
    expect(
      plan([group('web', { preferredOwners: ['phx-2', 'atl-1'] })], { nodes: cluster(down) })[0],
    ).toMatchObject({
      owner: 'atl-1',
    })
  })

  it('without preference: the least loaded possible owner, random among equals', () => {
    const busy = [owned('a', 'atl-1'), owned('b', 'atl-2'), owned('c', 'phx-1')]
    expect(plan([...busy, group('web')])).toEqual([expect.objectContaining({ group: 'web', owner: 'phx-2' })])
    // Equal load: the random draw decides.
    const picks = new Set(
      [0.1, 0.3, 0.6, 0.9].map((x) => {
        let i = 0
        const draws = [x, 1 - x, 0.5, 0.5]
        return plan([group('web', { possibleOwners: ['atl-1', 'phx-1'] })], {
          random: () => draws[i++ % 4]!,
        })[0]
      }),
    )
    expect(new Set([...picks].map((a) => (a?.kind === 'assign' ? a.owner : null)))).toEqual(
      new Set(['atl-1', 'phx-1']),
    )
  })

  it('never a paused, draining, evicted, suspect or impossible node; says why when nothing is left', () => {
    const nodes = cluster({
      'atl-1': { paused: true },
      'atl-2': { paused: true, draining: true },
      'phx-1': { state: 'suspect' },
      'phx-2': { evicted: true },
    })
    expect(plan([group('web')], { nodes })).toEqual([
      {
        kind: 'stuck',
        group: 'web',
        reason: 'no node can take group web (atl-1 paused, atl-2 draining, phx-1 suspect)',
      },
    ])
    expect(plan([group('web', { possibleOwners: ['phx-2'] })], { nodes })[0]).toMatchObject({
      kind: 'stuck',
      reason: 'no node can take group web (no node may own it)',
    })
  })

  it('leaves offline, failed and in-flight groups alone', () => {
    expect(plan([group('a', { target: 'offline' })])).toEqual([])
    expect(plan([group('b', { failed: { reason: 'x', index: 3 } })])).toEqual([])
    expect(plan([group('c')], { inFlight: new Set(['c']) })).toEqual([])
  })

  it('later decisions of one round count the load of earlier ones', () => {
    const actions = plan([group('a'), group('b'), group('c'), group('d')])
    expect(new Set(actions.map((a) => (a.kind === 'assign' ? a.owner : '')))).toEqual(
      new Set(['atl-1', 'atl-2', 'phx-1', 'phx-2']),
    )
  })
})

describe('failover when the owner is down', () => {
  it('cascades to the next preferred owner after the lost one', () => {
    const web = owned('web', 'atl-1', { preferredOwners: ['atl-1', 'phx-2', 'atl-2'] })
    expect(plan([web], { nodes: cluster({ 'atl-1': { state: 'down' } }) })).toEqual([
      {
        kind: 'assign',
        group: 'web',
        expect: { owner: 'atl-1', token: 5 },
        owner: 'phx-2',
        move: 'failover',
        reason: 'atl-1 is down: failed over to phx-2',
      },
    ])
    const second = owned('web', 'phx-2', { preferredOwners: ['atl-1', 'phx-2', 'atl-2'] })
    expect(plan([second], { nodes: cluster({ 'phx-2': { state: 'down' } }) })[0]).toMatchObject({
      owner: 'atl-2',
    })
    // Past the end of the list it wraps to the top.
    const third = owned('web', 'atl-2', { preferredOwners: ['atl-1', 'phx-2', 'atl-2'] })
    expect(plan([third], { nodes: cluster({ 'atl-2': { state: 'down' } }) })[0]).toMatchObject({
      owner: 'atl-1',
    })
  })

  it('without preference: the same site first', () => {
    const web = owned('web', 'phx-1')
    expect(plan([web, owned('x', 'atl-1')], { nodes: cluster({ 'phx-1': { state: 'down' } }) })).toEqual([
      expect.objectContaining({ kind: 'assign', owner: 'phx-2', move: 'failover' }),
    ])
  })

  it('waits while the owner is only suspect (its lease may still hold)', () => {
    expect(plan([owned('web', 'atl-1')], { nodes: cluster({ 'atl-1': { state: 'suspect' } }) })).toEqual([])
  })

  it('anti-affinity steers placement, and gives way when nothing else is left', () => {
    const sql = (name: string, owner: string | null) =>
      owner === null ? group(name, { antiAffinity: ['sql'] }) : owned(name, owner, { antiAffinity: ['sql'] })
    const down = cluster({ 'atl-1': { state: 'down' } })
    // atl-2 hosts another sql instance: the same site loses to a node without one.
    const actions = plan([sql('sql1', 'atl-1'), sql('sql2', 'atl-2')], { nodes: down })
    expect(actions[0]).toMatchObject({ group: 'sql1', owner: expect.stringMatching(/^phx-/) })
    const everywhere = [sql('s1', 'atl-1'), sql('s2', 'atl-2'), sql('s3', 'phx-1'), sql('s4', 'phx-2')]
    expect(plan(everywhere, { nodes: down })[0]).toMatchObject({ group: 's1', owner: 'atl-2' })
  })

  it('fails the group after too many failovers within the period', () => {
    const web = owned('web', 'atl-1', { failovers: [9 * hour, 9.5 * hour, 1 * hour], failoverThreshold: 2 })
    expect(plan([web], { nodes: cluster({ 'atl-1': { state: 'down' } }) })).toEqual([
      {
        kind: 'fail',
        group: 'web',
        reason: 'atl-1 is down; 2 failovers within 6 h reached the threshold of 2: the group is failed',
      },
    ])
    // The default threshold is one less than the nodes that may own it: 3 here.
    const dflt = owned('web', 'atl-1', { failovers: [9 * hour, 9.5 * hour] })
    expect(plan([dflt], { nodes: cluster({ 'atl-1': { state: 'down' } }) })[0]).toMatchObject({
      kind: 'assign',
    })
  })

  it('an owner that left the cluster loses its groups too', () => {
    expect(plan([owned('web', 'gone-1')])[0]).toMatchObject({
      kind: 'assign',
      reason: expect.stringMatching(/^gone-1 left the cluster/),
    })
  })
})

describe('an evicted owner', () => {
  const leaving = owned('web', 'atl-1', {
    moving: { to: null, avoid: 'atl-1', kind: 'failover', reason: 'atl-1 was evicted' },
  })
  it('keeps its groups until its lease has certainly ended: nothing moves while it may still run them', () => {
    for (const state of ['up', 'suspect'] as const)
      expect(plan([leaving], { nodes: cluster({ 'atl-1': { evicted: true, state } }) })).toEqual([])
  })

  it('loses them once its lease has certainly ended, to another node', () => {
    expect(plan([leaving], { nodes: cluster({ 'atl-1': { evicted: true, state: 'down' } }) })).toEqual([
      {
        kind: 'assign',
        group: 'web',
        expect: { owner: 'atl-1', token: 5 },
        owner: 'atl-2',
        move: 'failover',
        reason: 'atl-1 left the cluster: failed over to atl-2',
      },
    ])
  })
})

describe('ownership changes hands only through its holder', () => {
  it('a failed or offline group still held is left to its holder while it may be running it', () => {
    const failed = owned('web', 'atl-1', { failed: { reason: 'x', index: 9 } })
    const offline = owned('web', 'atl-1', { target: 'offline' })
    for (const state of ['up', 'suspect'] as const) {
      expect(plan([failed], { nodes: cluster({ 'atl-1': { state } }) })).toEqual([])
      expect(plan([offline], { nodes: cluster({ 'atl-1': { state } }) })).toEqual([])
    }
  })

  it('is released for a holder whose lease has certainly ended, and placed nowhere', () => {
    const failed = owned('web', 'atl-1', { failed: { reason: 'x', index: 9 } })
    expect(plan([failed], { nodes: cluster({ 'atl-1': { state: 'down' } }) })).toEqual([
      { kind: 'release', group: 'web', token: 5, reason: 'atl-1 is down: released for it' },
    ])
    expect(plan([owned('web', 'gone-1', { target: 'offline' })])).toMatchObject([{ kind: 'release' }])
  })

  it('a group started again goes back where it last ran', () => {
    const again = group('web', { lastOwner: 'phx-1', fencingToken: 7 })
    expect(plan([again])).toEqual([
      {
        kind: 'assign',
        group: 'web',
        expect: { owner: null, token: 7 },
        owner: 'phx-1',
        move: 'place',
        reason: 'placed on phx-1',
      },
    ])
  })
})

describe('N+1 standby (seed 000): every group fails over to the spare', () => {
  it('each group prefers its own node, then the spare; other nodes may not own it', () => {
    const spare = 'phx-2'
    const groups = ['atl-1', 'atl-2', 'phx-1'].map((home) =>
      owned(`app-${home}`, home, { preferredOwners: [home, spare], possibleOwners: [home, spare] }),
    )
    const nodes = cluster({ 'atl-2': { state: 'down' } })
    expect(plan(groups, { nodes })).toEqual([
      expect.objectContaining({ kind: 'assign', group: 'app-atl-2', owner: spare, move: 'failover' }),
    ])
    // The spare gone too: nowhere to go, and the reason says so.
    const both = cluster({ 'atl-2': { state: 'down' }, [spare]: { state: 'down' } })
    expect(plan(groups, { nodes: both })).toEqual([
      expect.objectContaining({
        kind: 'stuck',
        group: 'app-atl-2',
        reason: expect.stringMatching(/phx-2 down/),
      }),
    ])
  })
})

describe('planned moves', () => {
  const failed: ResourceRecord = {
    kind: 'resource',
    name: 'app',
    group: 'web',
    type: 'generic-app',
    params: {},
    dependsOn: [],
    restartThreshold: 3,
    restartPeriodMs: 900_000,
    target: 'online',
    failed: { reason: 'exit 1', index: 40 },
  }

  it('a resource that gave up moves its group away, avoiding where it failed', () => {
    expect(plan([owned('web', 'atl-1')], { resources: [failed] })).toEqual([
      {
        kind: 'move',
        group: 'web',
        expect: { owner: 'atl-1', token: 5 },
        to: 'atl-2',
        avoid: 'atl-1',
        move: 'failover',
        reason: 'app failed on atl-1 (exit 1): moving to atl-2',
      },
    ])
  })

  it('a draining node moves its groups away', () => {
    expect(
      plan([owned('web', 'phx-2')], { nodes: cluster({ 'phx-2': { paused: true, draining: true } }) }),
    ).toEqual([expect.objectContaining({ kind: 'move', to: 'phx-1', avoid: 'phx-2', move: 'drain' })])
    // Paused alone keeps its groups.
    expect(plan([owned('web', 'phx-2')], { nodes: cluster({ 'phx-2': { paused: true } }) })).toEqual([])
  })

  it('a released group goes where its move said, or where placement says avoiding the old owner', () => {
    const moved = group('web', {
      lastOwner: 'atl-1',
      moving: { to: 'phx-1', avoid: 'atl-1', kind: 'move', reason: 'by op' },
    })
    expect(plan([moved])).toEqual([
      {
        kind: 'assign',
        group: 'web',
        expect: { owner: null, token: 0 },
        owner: 'phx-1',
        move: 'move',
        reason: 'by op',
      },
    ])
    const anywhere = group('web', {
      lastOwner: 'atl-1',
      moving: { to: null, avoid: 'atl-1', kind: 'move', reason: 'stop' },
    })
    expect(plan([anywhere])[0]).toMatchObject({ owner: 'atl-2' })
    // A group being moved whose owner is still up is left to the owner.
    expect(plan([owned('web', 'atl-1', { moving: anywhere.moving })])).toEqual([])
  })
})

describe('failback', () => {
  const away = (failback: string, over: Partial<GroupRecord> = {}) =>
    owned('web', 'phx-1', { preferredOwners: ['atl-1', 'phx-1'], failback, ...over })

  it('never, by default', () => {
    expect(plan([away('never')])).toEqual([])
  })

  it('immediate: back to the most preferred node once it has been up long enough', () => {
    expect(plan([away('immediate')])).toEqual([
      {
        kind: 'move',
        group: 'web',
        expect: { owner: 'phx-1', token: 5 },
        to: 'atl-1',
        avoid: null,
        move: 'failback',
        reason: 'failback to preferred owner atl-1 (policy immediate)',
      },
    ])
    expect(plan([away('immediate')], { nodes: cluster({ 'atl-1': { upForMs: 1_000 } }) })).toEqual([])
    // Already on the most preferred node that can take it: nothing.
    expect(plan([away('immediate')], { nodes: cluster({ 'atl-1': { state: 'down' } }) })).toEqual([])
  })

  it('within a window of hours only, with the hour of day injected', () => {
    expect(plan([away('22-06')], { hourOfDay: 12 })).toEqual([])
    expect(plan([away('22-06')], { hourOfDay: 23 })[0]).toMatchObject({ move: 'failback' })
    expect(plan([away('22-06')], { hourOfDay: 5 })[0]).toMatchObject({ move: 'failback' })
    expect(plan([away('22-06')], { hourOfDay: 6 })).toEqual([])
    expect(plan([away('09-17')], { hourOfDay: 9 })[0]).toMatchObject({ move: 'failback' })
    expect(plan([away('09-17')], { hourOfDay: 17 })).toEqual([])
  })

  it('at most three attempts per failover period', () => {
    const tried = [8 * hour, 9 * hour, 9.5 * hour]
    expect(plan([away('immediate', { failbacks: tried })])).toEqual([])
    expect(plan([away('immediate', { failbacks: [1 * hour, ...tried.slice(1)] })])[0]).toMatchObject({
      move: 'failback',
    })
  })

  it('inWindow', () => {
    expect(inWindow('immediate', 3)).toBe(true)
    expect(inWindow('never', 3)).toBe(false)
    expect(inWindow('00-24', 23)).toBe(true)
    expect(inWindow('05-05', 5)).toBe(false)
  })
})
