/**
 * `resource cleanup` (issue 15, item 4): the cluster-wide counts in the database
 * (src/database/failureCleanup.ts), a node's restart history and re-probe
 * (src/runtime/resourceCleanup.ts), the reconciler leaving a re-probed resource be until the
 * monitor answers, and the supervisor's probe itself.
 */
import { describe, expect, it } from 'vitest'
import { type ApplyResult, ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { type Command, commandSchema } from '../../src/database/commands.ts'
import { paths } from '../../src/database/keySpace.ts'
import type { ClusterEventInput } from '../../src/events/clusterEvent.ts'
import { type ActualState, reconcile } from '../../src/failover/groupReconciler.ts'
import type { ResourceAgent } from '../../src/resources/resourceAgent.ts'
import { ResourceSupervisor } from '../../src/resources/resourceSupervisor.ts'
import { ResourceCleanup } from '../../src/runtime/resourceCleanup.ts'
import { buildStatus } from '../../src/runtime/statusDocument.ts'
import { groupRecord, resourceRecord } from '../support/records.ts'

const hour = 3_600_000

function cmd(c: Command): Command {
  const parsed = commandSchema.safeParse(c)
  if (!parsed.success) throw new Error(`test built an invalid command: ${parsed.error.message}`)
  return c
}

/** Nodes n1, n2; group web (owned by n1) with resources app and db; both failed, two failovers. */
function cluster() {
  const db = new ClusterDatabase()
  let index = 0
  const apply = (c: Command): ApplyResult => db.apply(++index, cmd(c))
  apply({
    op: 'cluster.bootstrap',
    cluster: { name: 'geo', quorumModel: 'node-majority' },
    sites: [
      {
        name: 'east',
        nodes: ['n1', 'n2'].map((name, i) => ({
          name,
          votes: 1,
          peerId: null,
          address: `/ip4/10.0.0.${i + 1}/tcp/7000`,
        })),
      },
    ],
    witness: null,
  })
  apply({
    op: 'group.create',
    name: 'web',
    preferredOwners: [],
    possibleOwners: [],
    failback: 'never',
    antiAffinity: [],
  })
  for (const name of ['app', 'db'])
    apply({
      op: 'resource.create',
      name,
      group: 'web',
      type: 'generic-app',
      params: { command: 'sleep 1000' },
      dependsOn: [],
      restartThreshold: 1,
      restartPeriodMs: 60_000,
    })
  apply({ op: 'group.setTarget', name: 'web', target: 'online' })
  for (const [owner, kind, at] of [
    ['n1', 'place', 1],
    ['n2', 'failover', 2],
    ['n1', 'failover', 3],
  ] as const) {
    const g = db.group('web')!
    apply({
      op: 'group.assign',
      name: 'web',
      owner,
      expect: { owner: g.owner, token: g.fencingToken },
      kind,
      at,
    })
  }
  apply({ op: 'resource.markFailed', name: 'app', reason: 'boom' })
  apply({ op: 'resource.markFailed', name: 'db', reason: 'boom' })
  return { db, apply }
}

describe('resource cleanup in the database', () => {
  it("forgets the named resource's failure and its group's failovers, nothing else", () => {
    const { db, apply } = cluster()
    expect(db.group('web')?.failovers).toEqual([2, 3])
    expect(apply({ op: 'resource.cleanup', names: ['app'], node: null })).toEqual({
      ok: true,
      changed: [paths.resource('web', 'app'), paths.group('web')],
    })
    expect(db.resource('app')?.failed).toBeNull()
    expect(db.resource('db')?.failed).not.toBeNull()
    expect(db.group('web')).toMatchObject({ failovers: [], failed: null, owner: 'n1', target: 'online' })
  })

  it('with no names it cleans every resource; a group failed for its failovers may run again', () => {
    const { db, apply } = cluster()
    apply({ op: 'group.fail', name: 'web', reason: '2 failovers within 6 h' })
    expect(apply({ op: 'resource.cleanup', names: null, node: 'n2' }).ok).toBe(true)
    expect(db.resources().map((r) => r.failed)).toEqual([null, null])
    expect(db.group('web')?.failed).toBeNull()
    // Nothing left to forget: nothing changes.
    expect(apply({ op: 'resource.cleanup', names: null, node: null })).toEqual({ ok: true, changed: [] })
  })

  it('refuses unknown resources and nodes, changing nothing', () => {
    const { db, apply } = cluster()
    expect(apply({ op: 'resource.cleanup', names: ['app', 'nope'], node: null })).toMatchObject({
      ok: false,
      reason: 'not-found',
      path: 'names[1]',
    })
    expect(apply({ op: 'resource.cleanup', names: ['app'], node: 'n9' })).toMatchObject({ path: 'node' })
    expect(db.resource('app')?.failed).not.toBeNull()
    expect(commandSchema.safeParse({ op: 'resource.cleanup', names: [], node: null }).success).toBe(false)
  })
})

describe("a node's cleanup: restart history and re-probe", () => {
  function node(self: string) {
    const { db, apply } = cluster()
    let now = 100_000
    const restartHistory = new Map([
      ['app', [now - 10_000, now - 5_000]],
      ['db', [now - 70_000, now - 1_000]],
    ])
    const actual = new Map<string, ActualState>([
      ['app', 'failed'],
      ['db', 'online'],
    ])
    const probes: string[] = []
    const events: ClusterEventInput[] = []
    const cleanup = new ResourceCleanup({
      name: self,
      db: () => db,
      monotonic: () => now,
      emit: (e) => events.push(e),
      restartHistory,
      actual,
      probe: (name) => probes.push(name),
      schedule: () => {},
    })
    return { db, apply, cleanup, restartHistory, actual, probes, events, later: (ms: number) => (now += ms) }
  }

  it('counts restarts within each resource period only', () => {
    const { cleanup, later } = node('n1')
    expect(cleanup.recentRestarts()).toEqual(
      new Map([
        ['app', 2],
        ['db', 1],
      ]),
    )
    later(56_000)
    expect(cleanup.recentRestarts()).toEqual(new Map([['db', 1]]))
  })

  it('forgets its history, lets a failed resource start again, and holds both until the monitor answers', () => {
    const n = node('n1')
    n.cleanup.applied({ op: 'resource.cleanup', names: null, node: null })
    expect(n.restartHistory.size).toBe(0)
    expect(n.actual).toEqual(new Map([['db', 'online']]))
    expect(n.probes).toEqual(['app', 'db'])
    expect(n.cleanup.probing).toEqual(new Set(['app', 'db']))
    expect(n.events).toEqual([
      expect.objectContaining({
        type: 'resource:cleanup',
        message:
          'failure counts of every resource reset on n1, restarts forgotten: app (2), db (1); re-probing',
      }),
    ])
    n.cleanup.probed('app')
    expect(n.cleanup.probing).toEqual(new Set(['db']))
    n.cleanup.stop()
  })

  it('another node named in --node leaves this one as it is', () => {
    const n = node('n2')
    n.cleanup.applied({ op: 'resource.cleanup', names: ['app'], node: 'n1' })
    expect(n.restartHistory.size).toBe(2)
    expect(n.probes).toEqual([])
    expect(n.events).toEqual([])
  })

  it('the reconciler neither starts nor stops a resource under re-probe', () => {
    const groups = [groupRecord('g', { owner: 'n1', fencingToken: 4 })]
    const resources = [resourceRecord('a'), resourceRecord('b', { target: 'offline' })]
    const base = {
      node: 'n1',
      groups,
      resources,
      mayRun: true,
      mayStart: true,
      pendingReleases: new Set<string>(),
      actual: new Map<string, ActualState>([['b', 'online']]),
    }
    expect(reconcile(base).map((a) => `${a.kind} ${'resource' in a ? a.resource : ''}`)).toEqual([
      'start a',
      'stop b',
    ])
    expect(reconcile({ ...base, probing: new Set(['a', 'b']) })).toEqual([])
  })

  it('status shows restarts per node and failovers within their periods', () => {
    const { db } = cluster()
    const doc = buildStatus({
      db,
      self: 'n1',
      nodeState: () => 'up',
      votesOf: () => 1,
      term: 1,
      leader: 'n1',
      quorum: {
        model: 'node-majority',
        state: 'quorate',
        votesPresent: 2,
        votesTotal: 2,
        votesNeeded: 2,
        epoch: 0,
        forced: false,
        epochId: '',
        confirmed: true,
        conflict: null,
        rebuilding: false,
      },
      actual: new Map(),
      restarts: new Map([['app', 1]]),
      peerRestarts: (n) =>
        n === 'n2'
          ? new Map([
              ['app', 2],
              ['gone', 5],
            ])
          : null,
      nowMs: 2 + 6 * hour,
      storage: { commitIndex: 0, appliedIndex: 0, snapshotIndex: 0, walSegments: 0, walSyncs: 0 },
      catchUp: [],
    })
    const web = doc.groups[0]!
    // The failover at 2 is exactly one period old: only the one at 3 counts.
    expect(web).toMatchObject({ failovers: 1, failoverThreshold: 1, failoverPeriodMs: 6 * hour })
    expect(web.resources.map((r) => [r.name, r.restarts, r.restartsByNode])).toEqual([
      ['app', 1, { n1: 1, n2: 2 }],
      ['db', 0, {}],
    ])
  })
})

describe("the monitor's probe", () => {
  function agent(health: { problem: string | null }): ResourceAgent {
    return {
      start: async () => {},
      stop: async () => 'stopped',
      looksAlive: async () => null,
      isAlive: async () => health.problem,
      processGroups: () => [],
      looksAliveIntervalMs: 3_600_000,
      isAliveIntervalMs: 3_600_000,
      stopTimeoutMs: 1000,
    }
  }

  it('checks an online resource at once: healthy stays online, a failed check fails it as a poll would', async () => {
    const health = { problem: null as string | null }
    const reports: string[] = []
    const s = new ResourceSupervisor(
      'app',
      () => agent(health),
      (state, reason) => reports.push(`${state}${reason === undefined ? '' : `: ${reason}`}`),
    )
    expect(await s.probe()).toBe('offline')
    await s.start()
    expect(await s.probe()).toBe('online')
    health.problem = 'port 8080 closed'
    expect(await s.probe()).toBe('failed')
    expect(reports).toEqual(['starting', 'online', 'failed: probe: port 8080 closed'])
  })
})
