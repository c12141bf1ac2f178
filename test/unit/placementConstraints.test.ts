/**
 * The planner under operators' constraints (src/failover/placementConstraints.ts): never on a
 * banned node, away from one as a planned move, on the preferred node whenever it can, and
 * neither once the constraint's expiry has passed on the leader's clock — before its removal is
 * committed. Pure: the time is an input.
 */
import { describe, expect, it } from 'vitest'
import type { ConstraintRecord, GroupRecord } from '../../src/database/entities.ts'
import { type NodeView, type PlanInput, planFailover } from '../../src/failover/failoverPlanner.ts'
import { expiredConstraints, expiryCommand, rulesByGroup } from '../../src/failover/placementConstraints.ts'
import { groupRecord } from '../support/records.ts'

const t0 = 1_700_000_000_000
const hour = 3_600_000

function node(name: string, over: Partial<NodeView> = {}): NodeView {
  return {
    name,
    site: 'atl',
    state: 'up',
    upForMs: 60_000,
    paused: false,
    draining: false,
    evicted: false,
    ...over,
  }
}

const nodes = (over: Record<string, Partial<NodeView>> = {}) =>
  ['n1', 'n2', 'n3'].map((n) => node(n, over[n]))

function constraint(
  rule: 'ban' | 'prefer',
  nodeName: string,
  expiresAt: number | null = null,
): ConstraintRecord {
  return { kind: 'constraint', group: 'web', node: nodeName, rule, expiresAt, at: t0, index: 9 }
}

function plan(groups: GroupRecord[], constraints: ConstraintRecord[], over: Partial<PlanInput> = {}) {
  return planFailover({
    groups,
    resources: [],
    nodes: nodes(),
    nowMs: t0,
    hourOfDay: 12,
    failbackAfterUpMs: 3_000,
    inFlight: new Set(),
    random: () => 0.5,
    constraints,
    ...over,
  })
}

const web = (over: Partial<GroupRecord> = {}) => groupRecord('web', over)
const owned = (owner: string, over: Partial<GroupRecord> = {}) => web({ owner, fencingToken: 5, ...over })

describe('bans', () => {
  it('never places a group on a banned node, not even its preferred owner or where it last ran', () => {
    const group = web({ preferredOwners: ['n1', 'n2'], lastOwner: 'n1' })
    expect(plan([group], [constraint('ban', 'n1')])).toEqual([
      expect.objectContaining({ kind: 'assign', owner: 'n2' }),
    ])
  })

  it('moves a group away from a banned owner as a planned move, with the reason', () => {
    const [action] = plan([owned('n1')], [constraint('ban', 'n1', t0 + hour)])
    expect(action).toMatchObject({
      kind: 'move',
      group: 'web',
      expect: { owner: 'n1', token: 5 },
      avoid: 'n1',
      move: 'move',
      reason: expect.stringMatching(/^n1 is banned for it until 2023-11-14T23:13:20Z: moving to n[23]$/),
    })
  })

  it('does not fail over to a banned node, and says so when nothing else can take the group', () => {
    const group = owned('n1', { possibleOwners: ['n1', 'n2'] })
    const [action] = plan([group], [constraint('ban', 'n2')], { nodes: nodes({ n1: { state: 'down' } }) })
    expect(action).toMatchObject({ kind: 'stuck', reason: expect.stringContaining('n2 banned') })
  })

  it('a move under way to a node banned since goes where placement says instead', () => {
    const group = web({ lastOwner: 'n1', moving: { to: 'n2', avoid: 'n1', kind: 'move', reason: 'r' } })
    expect(plan([group], [constraint('ban', 'n2')])).toEqual([
      expect.objectContaining({ kind: 'assign', owner: 'n3' }),
    ])
  })

  it('a ban past its expiry counts as gone before its removal is committed', () => {
    const expired = [constraint('ban', 'n1', t0)]
    expect(plan([owned('n1')], expired)).toEqual([])
    expect(plan([owned('n1')], expired, { nowMs: t0 - 1 })).toEqual([
      expect.objectContaining({ kind: 'move' }),
    ])
    expect(plan([web({ preferredOwners: ['n1'] })], expired)).toEqual([
      expect.objectContaining({ kind: 'assign', owner: 'n1' }),
    ])
  })

  it("only the group's own constraints apply", () => {
    const other = { ...constraint('ban', 'n1'), group: 'db' }
    expect(plan([owned('n1')], [other])).toEqual([])
  })
})

describe('preferences (group move --lifetime)', () => {
  it('places the group on the preferred node before its preferred owners and its last owner', () => {
    const group = web({ preferredOwners: ['n1'], lastOwner: 'n2' })
    expect(plan([group], [constraint('prefer', 'n3', t0 + hour)])).toEqual([
      expect.objectContaining({ kind: 'assign', owner: 'n3' }),
    ])
  })

  it('fails over elsewhere while the preferred node is down, and moves back once it has been up long enough', () => {
    const prefer = [constraint('prefer', 'n1', t0 + hour)]
    const down = plan([owned('n1')], prefer, { nodes: nodes({ n1: { state: 'down' } }) })
    expect(down).toEqual([expect.objectContaining({ kind: 'assign', move: 'failover' })])
    expect(plan([owned('n2')], prefer, { nodes: nodes({ n1: { upForMs: 1_000 } }) })).toEqual([])
    expect(plan([owned('n2')], prefer)).toEqual([
      expect.objectContaining({
        kind: 'move',
        to: 'n1',
        move: 'failback',
        reason: 'moved by an operator to n1, preferred there until 2023-11-14T23:13:20Z',
      }),
    ])
    // Within the failback limit: a group that keeps failing there does not bounce for ever.
    const bounced = owned('n2', { failbacks: [t0 - 3, t0 - 2, t0 - 1] })
    expect(plan([bounced], prefer)).toEqual([])
  })

  it('holds the group where it is preferred against failback to its preferred owners', () => {
    const group = owned('n2', { preferredOwners: ['n1'], failback: 'immediate' })
    expect(plan([group], [constraint('prefer', 'n2', t0 + hour)])).toEqual([])
    // Preferred on a node that is down: it waits there for it rather than failing back elsewhere.
    const away = owned('n3', { preferredOwners: ['n1'], failback: 'immediate' })
    expect(
      plan([away], [constraint('prefer', 'n2', t0 + hour)], { nodes: nodes({ n2: { state: 'down' } }) }),
    ).toEqual([])
    // Expired: failback applies again.
    expect(plan([group], [constraint('prefer', 'n2', t0)])).toEqual([
      expect.objectContaining({ kind: 'move', to: 'n1', move: 'failback' }),
    ])
  })
})

describe('expiry', () => {
  it('lists what has expired on the leader clock and the command that removes it', () => {
    const cs = [constraint('ban', 'n1', t0), constraint('prefer', 'n2', t0 + 1), constraint('ban', 'n3')]
    expect(expiredConstraints(cs, t0).map((c) => c.node)).toEqual(['n1'])
    expect(expiryCommand(expiredConstraints(cs, t0)[0]!, t0 + 5)).toEqual({
      op: 'constraint.expire',
      name: 'web',
      node: 'n1',
      expiresAt: t0,
      at: t0 + 5,
    })
    const rules = rulesByGroup(cs, t0).get('web')
    expect([...(rules?.banned.keys() ?? [])]).toEqual(['n3'])
    expect(rules?.prefer).toEqual({ node: 'n2', expiresAt: t0 + 1 })
  })
})
