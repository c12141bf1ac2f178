import { describe, expect, it } from 'vitest'
import type { GroupRecord } from '../../src/database/entities.ts'
import {
  type ActualState,
  groupState,
  paramsKey,
  type ReconcileAction,
  type ReconcileInput,
  reconcile,
  resourceState,
  runsHere,
} from '../../src/failover/groupReconciler.ts'
import { decideAfterFailure, type RestartDecision } from '../../src/failover/restartPolicy.ts'
import { groupRecord, resourceRecord } from '../support/records.ts'

describe('decideAfterFailure', () => {
  const policy = { restartThreshold: 3, restartPeriodMs: 900_000 }

  /** Feeds failures at the given times through the policy, carrying the restart list forward. */
  function failAt(times: number[], p = policy): RestartDecision[] {
    let restarts: number[] = []
    return times.map((t) => {
      const d = decideAfterFailure(restarts, t, p)
      if (d.action === 'restart') restarts = d.restarts
      return d
    })
  }

  it('restarts three times within the period, then fails on the fourth', () => {
    const decisions = failAt([1_000, 2_000, 3_000, 4_000])
    expect(decisions.map((d) => [d.action, d.restartsInPeriod])).toEqual([
      ['restart', 1],
      ['restart', 2],
      ['restart', 3],
      ['fail', 3],
    ])
    expect(decisions[2]).toEqual({ action: 'restart', restarts: [1_000, 2_000, 3_000], restartsInPeriod: 3 })
  })

  it('forgets failures older than the period', () => {
    const decisions = failAt([0, 1_000, 2_000, 900_000, 901_000, 902_000, 902_001])
    expect(decisions.map((d) => [d.action, d.restartsInPeriod])).toEqual([
      ['restart', 1],
      ['restart', 2],
      ['restart', 3],
      ['restart', 3], // the one at 0 is exactly one period old: forgotten
      ['restart', 3], // 1_000 forgotten
      ['restart', 3], // 2_000 forgotten
      ['fail', 3], // 900_000, 901_000, 902_000 are all recent
    ])
  })

  it('still counts a failure one millisecond inside the period', () => {
    const d = decideAfterFailure([0, 1, 2], 899_999, policy)
    expect(d).toEqual({ action: 'fail', restartsInPeriod: 3 })
    expect(decideAfterFailure([0, 1, 2], 900_000, policy)).toMatchObject({
      action: 'restart',
      restarts: [1, 2, 900_000],
      restartsInPeriod: 3,
    })
  })

  it('drops forgotten restarts from the list it hands back', () => {
    const d = decideAfterFailure([10, 500_000], 950_000, policy)
    expect(d).toEqual({ action: 'restart', restarts: [500_000, 950_000], restartsInPeriod: 2 })
  })

  it('fails at once with threshold 0', () => {
    expect(decideAfterFailure([], 5, { restartThreshold: 0, restartPeriodMs: 900_000 })).toEqual({
      action: 'fail',
      restartsInPeriod: 0,
    })
  })

  it('does not modify the list it is given', () => {
    const restarts = Object.freeze([1, 2]) as readonly number[]
    decideAfterFailure(restarts, 3, policy)
    expect(restarts).toEqual([1, 2])
  })
})

// ---- reconciler ------------------------------------------------------------------------------

const NODE = 'n1'

const group = (over: Partial<GroupRecord> = {}) => groupRecord('g', over)
const resource = resourceRecord

/** The group owned here with token 7. */
const owned = (over: Partial<GroupRecord> = {}) => group({ owner: NODE, fencingToken: 7, ...over })

const db = () => resource('db')
const app = () => resource('app', { dependsOn: ['db'] })

function input(over: Partial<ReconcileInput>): ReconcileInput {
  return {
    node: NODE,
    groups: [],
    resources: [],
    mayRun: true,
    mayStart: true,
    pendingReleases: new Set(),
    actual: new Map(),
    ...over,
  }
}

const actual = (a: Record<string, ActualState>) => new Map(Object.entries(a))
const summary = (actions: ReconcileAction[]) =>
  actions.map((a) => (a.kind === 'release' ? `release ${a.group}@${a.token}` : `${a.kind} ${a.resource}`))

describe('reconcile: what this node may run', () => {
  it("starts nothing of a group nobody owns, or another node owns (placement is the leader's)", () => {
    expect(reconcile(input({ groups: [group()], resources: [db()] }))).toEqual([])
    expect(
      reconcile(input({ groups: [group({ owner: 'n2', fencingToken: 3 })], resources: [db()] })),
    ).toEqual([])
  })

  it('keeps running but starts nothing before it has applied what the leader had (mayStart)', () => {
    const base = { groups: [owned()], resources: [app(), db()] }
    expect(reconcile(input({ ...base, mayStart: false }))).toEqual([])
    expect(reconcile(input({ ...base, mayStart: false, actual: actual({ db: 'online' }) }))).toEqual([])
    expect(summary(reconcile(input({ ...base, actual: actual({ db: 'online' }) })))).toEqual(['start app'])
  })

  it('stops everything without a lease, saying why', () => {
    const actions = reconcile(
      input({
        groups: [owned()],
        resources: [db()],
        mayRun: false,
        mayStart: false,
        withheld: 'n1 holds no lease',
        actual: actual({ db: 'online' }),
      }),
    )
    expect(actions).toEqual([{ kind: 'stop', group: 'g', resource: 'db', reason: 'n1 holds no lease' }])
  })

  it('runsHere needs the owner, a real token, no move under way and no failure', () => {
    expect(runsHere(owned(), NODE)).toBe(true)
    expect(runsHere(owned(), 'n2')).toBe(false)
    expect(runsHere(owned({ fencingToken: 0 }), NODE)).toBe(false)
    expect(runsHere(owned({ moving: { to: 'n2', avoid: null, kind: 'move', reason: 'x' } }), NODE)).toBe(
      false,
    )
    expect(runsHere(owned({ failed: { reason: 'x', index: 9 } }), NODE)).toBe(false)
  })
})

describe('reconcile: a group moving away', () => {
  const moving = owned({ moving: { to: 'n2', avoid: NODE, kind: 'move', reason: 'moved by an operator' } })
  const web = resource('web', { dependsOn: ['app'] })
  const step = (a: Record<string, ActualState>, pending: string[] = []) =>
    summary(
      reconcile(
        input({
          groups: [moving],
          resources: [db(), web, app()],
          actual: actual(a),
          pendingReleases: new Set(pending),
        }),
      ),
    )

  it('stops it in reverse dependency order, then releases it under its token', () => {
    expect(step({ db: 'online', app: 'online', web: 'online' })).toEqual(['stop web'])
    expect(step({ db: 'online', app: 'online', web: 'offline' })).toEqual(['stop app'])
    expect(step({ db: 'online', app: 'offline', web: 'offline' })).toEqual(['stop db'])
    expect(step({ db: 'stopping', app: 'offline', web: 'offline' })).toEqual([])
    expect(step({ db: 'offline', app: 'failed', web: 'offline' })).toEqual(['release g@7'])
    expect(step({}, ['g'])).toEqual([])
  })

  it('gives the move as the stop reason', () => {
    const [stop] = reconcile(input({ groups: [moving], resources: [db()], actual: actual({ db: 'online' }) }))
    expect(stop).toEqual({
      kind: 'stop',
      group: 'g',
      resource: 'db',
      reason: 'group moving away: moved by an operator',
    })
  })

  it('releases an empty group at once, and never one it does not own', () => {
    expect(summary(reconcile(input({ groups: [moving] })))).toEqual(['release g@7'])
    expect(reconcile(input({ groups: [{ ...moving, owner: 'n2' }] }))).toEqual([])
  })
})

describe('reconcile: a group failed or taken offline here', () => {
  it('is not released while a resource deleted from the database is still stopping here', () => {
    const offline = owned({ target: 'offline' })
    const run = (a: Record<string, ActualState>) =>
      summary(reconcile(input({ groups: [offline], resources: [], actual: actual(a) })))
    expect(run({ gone: 'stopping' })).toEqual([])
    expect(run({ gone: 'online' })).toEqual(['stop gone'])
    expect(run({ gone: 'offline' })).toEqual(['release g@7'])
  })

  it('is stopped and then released, so that it can start elsewhere only after', () => {
    for (const g of [
      owned({ failed: { reason: 'too many failovers', index: 9 } }),
      owned({ target: 'offline' }),
    ]) {
      const run = (a: Record<string, ActualState>) =>
        summary(reconcile(input({ groups: [g], resources: [db()], actual: actual(a) })))
      expect(run({ db: 'online' })).toEqual(['stop db'])
      expect(run({ db: 'stopping' })).toEqual([])
      expect(run({ db: 'offline' })).toEqual(['release g@7'])
    }
  })
})

describe('reconcile: new parameters for a running resource (resource set --restart)', () => {
  const newDb = () => resource('db', { params: { command: '/bin/true --new' } })
  const started = (names: string[]) =>
    new Map(names.map((n) => [n, paramsKey(resource(n, { dependsOn: [] }).params)]))
  const base = (a: Record<string, ActualState>, over: Partial<ReconcileInput> = {}) =>
    input({ groups: [owned()], resources: [app(), newDb()], actual: actual(a), ...over })

  it('restarts it with what depends on it: dependents stop first, then it, then it starts again first', () => {
    const startedWith = started(['db', 'app'])
    const first = reconcile(base({ db: 'online', app: 'online' }, { startedWith }))
    expect(first).toEqual([
      { kind: 'stop', group: 'g', resource: 'app', reason: 'restarting with db, which it depends on' },
    ])
    // app is down: it is not started again while db still runs with the old parameters.
    const second = reconcile(base({ db: 'online', app: 'offline' }, { startedWith }))
    expect(second).toEqual([
      { kind: 'stop', group: 'g', resource: 'db', reason: 'its parameters changed: restarting to take them' },
    ])
    // db down: it starts again (the runtime records what it starts it with), then app.
    expect(summary(reconcile(base({}, { startedWith })))).toEqual(['start db'])
    const now = new Map([...startedWith, ['db', paramsKey(newDb().params)]])
    expect(summary(reconcile(base({ db: 'online' }, { startedWith: now })))).toEqual(['start app'])
    expect(reconcile(base({ db: 'online', app: 'online' }, { startedWith: now }))).toEqual([])
  })

  it('parameters in another key order are the same parameters; unknown starts are left alone', () => {
    const params = { command: 'x', stopTimeoutMs: '5' }
    expect(paramsKey(params)).toBe(paramsKey({ stopTimeoutMs: '5', command: 'x' }))
    expect(reconcile(base({ db: 'online', app: 'online' }))).toEqual([])
  })
})

describe('reconcile: resources in dependency order', () => {
  const base = (over: Partial<ReconcileInput>) =>
    input({ groups: [owned()], resources: [app(), db()], ...over })

  it('starts only the provider while everything is offline', () => {
    expect(reconcile(base({}))).toEqual([{ kind: 'start', group: 'g', resource: 'db', fencingToken: 7 }])
  })

  it('starts the dependent once the provider is online', () => {
    expect(reconcile(base({ actual: actual({ db: 'online' }) }))).toEqual([
      { kind: 'start', group: 'g', resource: 'app', fencingToken: 7 },
    ])
  })

  it('waits while the provider is still starting', () => {
    expect(reconcile(base({ actual: actual({ db: 'starting' }) }))).toEqual([])
  })

  it('does nothing when everything is online', () => {
    expect(reconcile(base({ actual: actual({ db: 'online', app: 'online' }) }))).toEqual([])
  })

  it('takes a group offline dependents first, then providers', () => {
    const offline = [owned({ target: 'offline' })]
    const first = reconcile(base({ groups: offline, actual: actual({ db: 'online', app: 'online' }) }))
    expect(first).toEqual([{ kind: 'stop', group: 'g', resource: 'app', reason: 'group taken offline' }])
    // While app is stopping, db must still wait.
    expect(reconcile(base({ groups: offline, actual: actual({ db: 'online', app: 'stopping' }) }))).toEqual(
      [],
    )
    const second = reconcile(base({ groups: offline, actual: actual({ db: 'online', app: 'offline' }) }))
    expect(second).toEqual([{ kind: 'stop', group: 'g', resource: 'db', reason: 'group taken offline' }])
  })

  it('stops the dependent of a failed provider and leaves restarting to the runtime', () => {
    const actions = reconcile(base({ actual: actual({ db: 'failed', app: 'online' }) }))
    expect(summary(actions)).toEqual(['stop app'])
    const stop = actions[0]!
    expect(stop.kind === 'stop' && stop.reason).toMatch(/depends on/)
    expect(actions.some((a) => a.kind === 'start')).toBe(false)
  })

  it('does not start a resource whose record is marked failed, nor its dependents', () => {
    const failedDb = resource('db', { failed: { reason: 'exit 1', index: 12 } })
    expect(reconcile(base({ resources: [app(), failedDb] }))).toEqual([])
  })

  it('stops a running resource whose record was marked failed, after its dependents', () => {
    const failedDb = resource('db', { failed: { reason: 'exit 1', index: 12 } })
    const first = reconcile(
      base({ resources: [app(), failedDb], actual: actual({ db: 'online', app: 'online' }) }),
    )
    expect(summary(first)).toEqual(['stop app'])
    const second = reconcile(
      base({ resources: [app(), failedDb], actual: actual({ db: 'online', app: 'offline' }) }),
    )
    expect(second).toEqual([{ kind: 'stop', group: 'g', resource: 'db', reason: 'resource failed' }])
  })

  it('stops a resource taken offline on its own', () => {
    const actions = reconcile(
      base({ resources: [resource('web', { target: 'offline' })], actual: actual({ web: 'starting' }) }),
    )
    expect(actions).toEqual([{ kind: 'stop', group: 'g', resource: 'web', reason: 'resource taken offline' }])
  })

  it('stops a running resource the database no longer has, with group null', () => {
    const actions = reconcile(base({ actual: actual({ db: 'online', ghost: 'online', gone: 'offline' }) }))
    expect(actions).toEqual([
      { kind: 'start', group: 'g', resource: 'app', fencingToken: 7 },
      { kind: 'stop', group: null, resource: 'ghost', reason: 'resource was deleted' },
    ])
  })

  it('stops what runs here when another node owns the group', () => {
    const actions = reconcile(
      base({ groups: [group({ owner: 'n2', fencingToken: 9 })], actual: actual({ db: 'online' }) }),
    )
    expect(actions).toEqual([{ kind: 'stop', group: 'g', resource: 'db', reason: 'group now owned by n2' }])
  })

  it('stops everything in reverse dependency order over successive calls when the node stops', () => {
    const web = resource('web', { dependsOn: ['app'] })
    const stopping = (a: Record<string, ActualState>) =>
      reconcile(
        input({
          groups: [owned()],
          resources: [db(), web, app()],
          mayRun: false,
          mayStart: false,
          withheld: 'n1 is stopping',
          actual: actual(a),
        }),
      )
    expect(summary(stopping({ db: 'online', app: 'online', web: 'online' }))).toEqual(['stop web'])
    expect(summary(stopping({ db: 'online', app: 'online', web: 'stopping' }))).toEqual([])
    expect(summary(stopping({ db: 'online', app: 'online', web: 'offline' }))).toEqual(['stop app'])
    expect(summary(stopping({ db: 'online', app: 'failed', web: 'offline' }))).toEqual(['stop db'])
    expect(summary(stopping({ db: 'stopping', app: 'offline', web: 'offline' }))).toEqual([])
    expect(summary(stopping({ db: 'offline', app: 'offline', web: 'offline' }))).toEqual([])
  })

  it('does not treat a dependency cycle as startable', () => {
    const a = resource('a', { dependsOn: ['b'] })
    const b = resource('b', { dependsOn: ['a'] })
    expect(reconcile(base({ resources: [a, b] }))).toEqual([])
  })

  it('does not start a resource whose provider is missing from the database', () => {
    expect(reconcile(base({ resources: [app()] }))).toEqual([])
  })
})

describe('resourceState and groupState', () => {
  const failure = { reason: 'exit 1', index: 3 }

  it.each([
    [null, undefined, 'offline'],
    [null, 'offline', 'offline'],
    [null, 'online', 'online'],
    [null, 'starting', 'pending'],
    [null, 'stopping', 'pending'],
    [null, 'failed', 'failed'],
    [failure, 'online', 'failed'],
    [failure, undefined, 'failed'],
  ] as const)('record failed=%o, actual %s → %s', (failed, a, expected) => {
    expect(resourceState(resource('r', { failed }), a)).toBe(expected)
  })

  const two = [resource('db'), resource('app', { dependsOn: ['db'] })]
  it.each([
    ['all online', { db: 'online', app: 'online' }, 'online'],
    ['one starting', { db: 'online', app: 'starting' }, 'pending'],
    ['one stopping', { db: 'online', app: 'stopping' }, 'pending'],
    ['one failed at runtime', { db: 'failed', app: 'offline' }, 'pending'],
    ['mixed online and offline', { db: 'online', app: 'offline' }, 'partial'],
    ['mixed online and unreported', { db: 'online' }, 'partial'],
    ['none online', { db: 'offline', app: 'offline' }, 'offline'],
    ['nothing reported', {}, 'offline'],
  ] as [string, Record<string, ActualState>, string][])('%s → %s', (_name, a, expected) => {
    expect(groupState(owned(), two, actual(a), true)).toBe(expected)
  })

  it('is failed when any record is marked failed, whatever runs', () => {
    const resources = [resource('db', { failed: failure }), resource('app')]
    expect(groupState(owned(), resources, actual({ db: 'online', app: 'online' }), true)).toBe('failed')
    expect(groupState(owned(), resources, actual({ app: 'starting' }), true)).toBe('failed')
  })

  it('an empty group is online only when it should be and is hosted here', () => {
    expect(groupState(owned(), [], new Map(), true)).toBe('online')
    expect(groupState(owned(), [], new Map(), false)).toBe('offline')
    expect(groupState(owned({ target: 'offline' }), [], new Map(), true)).toBe('offline')
  })
})
