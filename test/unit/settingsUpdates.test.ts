/**
 * Changing settings in place (issue 15, "group set" / "resource set"): `group.update` and
 * `resource.update` through the real database, as every node applies them.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { type ApplyResult, ClusterDatabase, type Refusal } from '../../src/database/clusterDatabase.ts'
import { type Command, commandSchema } from '../../src/database/commands.ts'

function cmd<C extends Command>(c: C): C {
  const parsed = commandSchema.safeParse(c)
  if (!parsed.success) throw new Error(`test built an invalid command: ${parsed.error.message}`)
  return c
}

class Harness {
  readonly db = new ClusterDatabase()
  index = 0

  run(command: Command): ApplyResult {
    return this.db.apply(++this.index, cmd(command))
  }

  ok(command: Command): Extract<ApplyResult, { ok: true }> {
    const r = this.run(command)
    if (!r.ok) throw new Error(`expected ${command.op} to succeed, got ${r.reason}: ${r.message}`)
    return r
  }

  refused(command: Command): Refusal {
    const before = this.db.snapshot().records
    const r = this.run(command)
    if (r.ok) throw new Error(`expected ${command.op} to be refused, it changed ${r.changed.join(', ')}`)
    expect(this.db.snapshot().records).toEqual(before)
    return r
  }
}

let h: Harness

beforeEach(() => {
  h = new Harness()
  h.ok({
    op: 'cluster.bootstrap',
    cluster: { name: 'geo', quorumModel: 'node-majority' },
    sites: [
      {
        name: 'east',
        nodes: [
          { name: 'n1', votes: 1, peerId: null, address: null },
          { name: 'n2', votes: 1, peerId: null, address: null },
        ],
      },
      { name: 'west', nodes: [{ name: 'n3', votes: 1, peerId: null, address: null }] },
    ],
    witness: null,
  })
  h.ok({
    op: 'group.create',
    name: 'web',
    preferredOwners: ['n1'],
    possibleOwners: [],
    failback: 'never',
    antiAffinity: [],
  })
  h.ok({
    op: 'resource.create',
    name: 'app',
    group: 'web',
    type: 'generic-app',
    params: { command: 'serve --port 80', stopTimeoutMs: '5000' },
    dependsOn: [],
    restartThreshold: 3,
    restartPeriodMs: 900_000,
  })
})

const group = () => h.db.group('web')!
const resource = () => h.db.resource('app')!

/** The group online on n1, the resource wanted online there. */
function online(): void {
  h.ok({ op: 'group.setTarget', name: 'web', target: 'online' })
  h.ok({ op: 'group.assign', name: 'web', owner: 'n1', expect: { owner: null, token: 0 } })
}

describe('group.update', () => {
  it('changes only the fields given and says which differ', () => {
    const r = h.ok({
      op: 'group.update',
      name: 'web',
      possibleOwners: ['n1', 'n3'],
      failback: '22-06',
      failoverThreshold: 2,
    })
    expect(r).toEqual({
      ok: true,
      changed: ['groups/web'],
      fields: ['failback', 'failoverThreshold', 'possibleOwners'],
      restarting: false,
    })
    expect(group()).toMatchObject({
      preferredOwners: ['n1'],
      possibleOwners: ['n1', 'n3'],
      failback: '22-06',
      antiAffinity: [],
      failoverThreshold: 2,
      failoverPeriodMs: 6 * 3_600_000,
      target: 'offline',
    })
    // null: back to the default threshold; the same values again change nothing.
    h.ok({ op: 'group.update', name: 'web', failoverThreshold: null, failoverPeriodMs: 3_600_000 })
    expect(group()).toMatchObject({ failoverThreshold: null, failoverPeriodMs: 3_600_000 })
    expect(h.ok({ op: 'group.update', name: 'web', failback: '22-06', preferredOwners: ['n1'] })).toEqual({
      ok: true,
      changed: [],
      fields: [],
      restarting: false,
    })
  })

  it('refuses owner lists that could never place the group: unknown, evicted or repeated nodes', () => {
    expect(h.refused({ op: 'group.update', name: 'web', possibleOwners: ['n9'] })).toMatchObject({
      reason: 'invalid',
      message: 'unknown nodes: n9',
      path: 'possibleOwners',
    })
    h.ok({ op: 'node.evict', name: 'n3' })
    expect(h.refused({ op: 'group.update', name: 'web', possibleOwners: ['n1', 'n3'] })).toMatchObject({
      reason: 'invalid',
      message: 'evicted nodes cannot own groups: n3',
    })
    expect(h.refused({ op: 'group.update', name: 'web', preferredOwners: ['n2', 'n2'] })).toMatchObject({
      message: 'node names repeat',
      path: 'preferredOwners',
    })
    // group create judges its lists the same way.
    const created = h.refused({
      op: 'group.create',
      name: 'db',
      preferredOwners: [],
      possibleOwners: ['n3'],
      failback: 'never',
      antiAffinity: [],
    })
    expect(created).toMatchObject({ reason: 'invalid', message: 'evicted nodes cannot own groups: n3' })
  })

  it('keeps preferred owners among possible owners, and says to change both', () => {
    expect(h.refused({ op: 'group.update', name: 'web', possibleOwners: ['n2', 'n3'] })).toMatchObject({
      reason: 'invalid',
      message: 'preferred owners not among possible owners: n1 (change --preferred-owners too)',
      path: 'possibleOwners',
    })
    h.ok({ op: 'group.update', name: 'web', possibleOwners: ['n2', 'n3'], preferredOwners: ['n3'] })
    expect(group()).toMatchObject({ preferredOwners: ['n3'], possibleOwners: ['n2', 'n3'] })
  })

  it('refuses to exclude the node an online group runs on; offline it may', () => {
    online()
    expect(
      h.refused({ op: 'group.update', name: 'web', possibleOwners: ['n2'], preferredOwners: [] }),
    ).toMatchObject({
      reason: 'conflict',
      message:
        'group web runs on n1, which would no longer be a possible owner: move it first (geocluster group move web --to n2) or take it offline',
      path: 'possibleOwners',
    })
    h.ok({ op: 'group.update', name: 'web', possibleOwners: ['n1', 'n2'] })
    h.ok({ op: 'group.setTarget', name: 'web', target: 'offline' })
    h.ok({ op: 'group.update', name: 'web', possibleOwners: ['n2'], preferredOwners: [] })
    expect(group().possibleOwners).toEqual(['n2'])
  })

  it('refuses a group that does not exist and repeated anti-affinity classes', () => {
    expect(h.refused({ op: 'group.update', name: 'nope', failback: 'immediate' })).toMatchObject({
      reason: 'not-found',
      path: 'name',
    })
    expect(h.refused({ op: 'group.update', name: 'web', antiAffinity: ['db', 'db'] })).toMatchObject({
      reason: 'invalid',
      path: 'antiAffinity',
    })
  })

  it('the command schema refuses bad shapes before anything is proposed', () => {
    for (const bad of [
      { op: 'group.update', name: 'web', failback: 'sometimes' },
      { op: 'group.update', name: 'web', failoverPeriodMs: 1 },
      { op: 'group.update', name: 'web', owner: 'n1' },
      { op: 'group.update', name: '../x' },
    ])
      expect(commandSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false)
  })
})

describe('resource.update', () => {
  it('changes the parameters of a resource that does not run, no restart needed', () => {
    const r = h.ok({
      op: 'resource.update',
      name: 'app',
      params: { command: 'serve --port 81', cwd: '/srv' },
      unset: ['stopTimeoutMs'],
      restartThreshold: 5,
    })
    expect(r).toEqual({
      ok: true,
      changed: ['groups/web/resources/app'],
      fields: ['params.command', 'params.cwd', 'params.stopTimeoutMs', 'restartThreshold'],
      restarting: false,
    })
    expect(resource()).toMatchObject({
      params: { command: 'serve --port 81', cwd: '/srv' },
      restartThreshold: 5,
      restartPeriodMs: 900_000,
      target: 'offline',
    })
  })

  it('a running resource takes new parameters only with restart, and says so', () => {
    online()
    const refusal = h.refused({ op: 'resource.update', name: 'app', params: { command: 'serve --port 81' } })
    expect(refusal).toMatchObject({ reason: 'restart-needed', path: 'restart' })
    expect(refusal.message).toBe(
      'resource app runs on n1: its new parameters (params.command) take effect only when it restarts (it stops, and what depends on it, then starts again with them); repeat with --restart (API: "restart": true), or take it offline first',
    )
    expect(resource().params.command).toBe('serve --port 80')
    const r = h.ok({
      op: 'resource.update',
      name: 'app',
      params: { command: 'serve --port 81' },
      restart: true,
    })
    expect(r).toMatchObject({ fields: ['params.command'], restarting: true })
    expect(resource().params.command).toBe('serve --port 81')
  })

  it('the restart policy changes live: no restart', () => {
    online()
    const r = h.ok({ op: 'resource.update', name: 'app', restartThreshold: 1, restartPeriodMs: 60_000 })
    expect(r).toMatchObject({ fields: ['restartPeriodMs', 'restartThreshold'], restarting: false })
    // The same parameters again are no change either.
    expect(
      h.ok({ op: 'resource.update', name: 'app', params: { command: 'serve --port 80' } }),
    ).toMatchObject({
      changed: [],
      restarting: false,
    })
  })

  it('a failed resource, or one taken offline, takes new parameters at its next start', () => {
    online()
    h.ok({ op: 'resource.markFailed', name: 'app', reason: 'crashed' })
    expect(h.ok({ op: 'resource.update', name: 'app', params: { command: 'fixed' } })).toMatchObject({
      restarting: false,
    })
    h.ok({ op: 'resource.setTarget', name: 'app', target: 'online' })
    h.ok({ op: 'resource.setTarget', name: 'app', target: 'offline' })
    expect(h.ok({ op: 'resource.update', name: 'app', params: { command: 'fixed2' } })).toMatchObject({
      restarting: false,
    })
  })

  it('checks the merged parameters against the type, like resource create', () => {
    expect(h.refused({ op: 'resource.update', name: 'app', unset: ['command'] })).toMatchObject({
      reason: 'invalid',
      message: 'required for generic-app',
      path: 'params.command',
    })
    expect(
      h.refused({ op: 'resource.update', name: 'app', params: { stopTimeoutMs: 'soon' } }),
    ).toMatchObject({
      path: 'params.stopTimeoutMs',
    })
    expect(h.refused({ op: 'resource.update', name: 'app', params: { restartDelay: '1' } })).toMatchObject({
      path: 'params.restartDelay',
    })
    expect(h.refused({ op: 'resource.update', name: 'app', unset: ['cwd'] })).toMatchObject({
      message: 'app has no parameter cwd to unset',
      path: 'unset',
    })
    expect(
      h.refused({ op: 'resource.update', name: 'app', params: { cwd: '/' }, unset: ['cwd'] }),
    ).toMatchObject({ message: 'both set and unset: cwd' })
    // A hostile key stays a key: refused as unknown, the prototype untouched.
    const proto = JSON.parse('{"__proto__": "x"}') as Record<string, string>
    expect(h.refused({ op: 'resource.update', name: 'app', params: proto })).toMatchObject({
      path: 'params.__proto__',
    })
    expect(h.refused({ op: 'resource.update', name: 'ghost', restartThreshold: 1 })).toMatchObject({
      reason: 'not-found',
    })
  })
})
