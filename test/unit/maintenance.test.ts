/**
 * Maintenance mode (issue 15, item 2): the flags in the database, what each level holds back in
 * the reconciler and the planner, and that losing the lease still stops everything.
 */
import { describe, expect, it } from 'vitest'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { type Command, commandSchema } from '../../src/database/commands.ts'
import { reconcile } from '../../src/failover/groupReconciler.ts'
import {
  groupMaintenance,
  heldBackFromPlanning,
  type MaintenanceFacts,
  resourceMaintenance,
} from '../../src/failover/maintenance.ts'
import { groupRecord, resourceRecord } from '../support/records.ts'

function facts(over: { cluster?: boolean; nodes?: string[]; groups?: string[] } = {}): MaintenanceFacts {
  return {
    cluster: { maintenance: over.cluster === true },
    node: (n) => ({ maintenance: over.nodes?.includes(n) === true }),
    group: (g) => ({ maintenance: over.groups?.includes(g) === true }),
  }
}

describe('what maintenance holds back', () => {
  const r = resourceRecord('app', { group: 'web' })

  it('a resource: by its own flag, its group, the node it runs on, or the cluster — the widest said first', () => {
    expect(resourceMaintenance(facts(), r, 'n1')).toBeNull()
    expect(resourceMaintenance(facts(), { ...r, maintenance: true }, 'n1')).toBe('app is in maintenance')
    expect(resourceMaintenance(facts({ groups: ['web'] }), r, 'n1')).toBe('group web is in maintenance')
    expect(resourceMaintenance(facts({ nodes: ['n1'] }), r, 'n1')).toBe('n1 is in maintenance')
    expect(resourceMaintenance(facts({ nodes: ['n2'] }), r, 'n1')).toBeNull()
    expect(resourceMaintenance(facts({ cluster: true, groups: ['web'] }), r, 'n1')).toBe(
      'the cluster is in maintenance',
    )
  })

  it('a group stays where it is when it, a resource of it, its owner or the cluster is in maintenance', () => {
    const g = groupRecord('web', { owner: 'n1', fencingToken: 4 })
    expect(groupMaintenance(facts(), g, [r])).toBeNull()
    expect(groupMaintenance(facts(), { ...g, maintenance: true }, [r])).toBe('group web is in maintenance')
    expect(groupMaintenance(facts(), g, [{ ...r, maintenance: true }])).toBe(
      'its resource app is in maintenance',
    )
    expect(groupMaintenance(facts({ nodes: ['n1'] }), g, [r])).toBe('its owner n1 is in maintenance')
    expect(groupMaintenance(facts({ nodes: ['n1'] }), { ...g, owner: null }, [r])).toBeNull()
    expect(groupMaintenance(facts({ cluster: true }), g, [])).toBe('the cluster is in maintenance')
    const held = heldBackFromPlanning(
      facts({ nodes: ['n2'] }),
      [g, groupRecord('db', { owner: 'n2', fencingToken: 5 }), groupRecord('idle')],
      [r],
      [
        { name: 'n1', maintenance: false },
        { name: 'n2', maintenance: true },
      ],
    )
    expect([...held.groups]).toEqual(['db'])
    expect([...held.nodes]).toEqual(['n2'])
  })
})

describe('the reconciler leaves unmanaged resources alone, unless the lease is lost', () => {
  const g = groupRecord('web', { owner: 'n1', fencingToken: 4 })
  const base = {
    node: 'n1',
    groups: [g],
    resources: [
      resourceRecord('ip', { group: 'web' }),
      resourceRecord('app', { group: 'web', dependsOn: ['ip'] }),
    ],
    mayRun: true,
    mayStart: true,
    pendingReleases: new Set<string>(),
  }

  it('neither starts nor stops it, nor releases its group while it runs', () => {
    // Not started while in maintenance; its dependent waits for it.
    expect(reconcile({ ...base, actual: new Map(), unmanaged: new Set(['ip']) })).toEqual([])
    // Not stopped though its group goes offline; the group is not released while it runs.
    const offline = { ...g, target: 'offline' as const }
    const running = new Map([['ip', 'online' as const]])
    expect(reconcile({ ...base, groups: [offline], actual: running, unmanaged: new Set(['ip']) })).toEqual([])
    // Managed again: stopped, then released.
    expect(reconcile({ ...base, groups: [offline], actual: running })).toEqual([
      { kind: 'stop', group: 'web', resource: 'ip', reason: 'group taken offline' },
    ])
  })

  it('the lease lost stops it all the same: a group is never online on two nodes', () => {
    const running = new Map([['ip', 'online' as const]])
    expect(
      reconcile({
        ...base,
        mayRun: false,
        mayStart: false,
        withheld: 'no lease',
        actual: running,
        unmanaged: new Set(['ip']),
      }),
    ).toEqual([{ kind: 'stop', group: 'web', resource: 'ip', reason: 'no lease' }])
  })
})

describe('maintenance.set in the database', () => {
  function db(): {
    db: ClusterDatabase
    ok(c: Command): void
    apply(c: Command): ReturnType<ClusterDatabase['apply']>
  } {
    const d = new ClusterDatabase()
    let index = 0
    const apply = (c: Command) => {
      expect(commandSchema.safeParse(c).success).toBe(true)
      return d.apply(++index, c)
    }
    const ok = (c: Command) => {
      const r = apply(c)
      if (!r.ok) throw new Error(r.message)
    }
    ok({
      op: 'cluster.bootstrap',
      cluster: { name: 'geo', quorumModel: 'local' },
      sites: [{ name: 's', nodes: [{ name: 'n1', votes: 1, peerId: null, address: null }] }],
      witness: null,
    })
    ok({
      op: 'group.create',
      name: 'web',
      preferredOwners: [],
      possibleOwners: [],
      failback: 'never',
      antiAffinity: [],
    })
    ok({
      op: 'resource.create',
      name: 'app',
      group: 'web',
      type: 'generic-app',
      params: { command: 'run' },
      dependsOn: [],
      restartThreshold: 3,
      restartPeriodMs: 900_000,
    })
    return { db: d, ok, apply }
  }

  it('sets and clears the flag of the cluster, a node, a group or a resource; absent when off', () => {
    const h = db()
    h.ok({ op: 'maintenance.set', scope: 'cluster', subject: null, on: true })
    h.ok({ op: 'maintenance.set', scope: 'node', subject: 'n1', on: true })
    h.ok({ op: 'maintenance.set', scope: 'group', subject: 'web', on: true })
    h.ok({ op: 'maintenance.set', scope: 'resource', subject: 'app', on: true })
    expect(h.db.cluster()?.maintenance).toBe(true)
    expect(h.db.node('n1')?.maintenance).toBe(true)
    expect(h.db.group('web')?.maintenance).toBe(true)
    expect(h.db.resource('app')?.maintenance).toBe(true)
    expect(h.apply({ op: 'maintenance.set', scope: 'group', subject: 'web', on: true })).toEqual({
      ok: true,
      changed: [],
    })
    for (const [scope, subject] of [
      ['cluster', null],
      ['node', 'n1'],
      ['group', 'web'],
      ['resource', 'app'],
    ] as const)
      h.ok({ op: 'maintenance.set', scope, subject, on: false })
    expect('maintenance' in h.db.cluster()!).toBe(false)
    expect('maintenance' in h.db.group('web')!).toBe(false)
    // The audit trail names what it was about.
    h.db.applyAs(
      h.db.appliedIndex + 1,
      { op: 'maintenance.set', scope: 'resource', subject: 'app', on: true },
      { by: 'admin', at: 1 },
    )
    expect(h.db.auditTrail().at(-1)).toMatchObject({
      op: 'maintenance.set',
      subject: 'resource app',
      ok: true,
    })
  })

  it('refuses what does not exist, and a scope without a name', () => {
    const h = db()
    expect(h.apply({ op: 'maintenance.set', scope: 'group', subject: 'nope', on: true })).toMatchObject({
      ok: false,
      reason: 'not-found',
      message: 'no group nope',
    })
    expect(h.apply({ op: 'maintenance.set', scope: 'node', subject: null, on: true })).toMatchObject({
      ok: false,
      reason: 'invalid',
      message: 'name a node',
    })
  })
})
