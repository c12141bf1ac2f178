import fc from 'fast-check'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  type ApplyResult,
  auditRecordsKept,
  ClusterDatabase,
  type DatabaseSnapshot,
  type Refusal,
} from '../../src/database/clusterDatabase.ts'
import {
  type Command,
  type CommandEnvelope,
  commandSchema,
  decodeEnvelope,
  encodeEnvelope,
  type RestoreContent,
} from '../../src/database/commands.ts'
import type { DbRecord, GroupRecord, ResourceRecord } from '../../src/database/entities.ts'
import { functionalLevelMax } from '../../src/database/functionalLevel.ts'
import { configKeyProblem, isName, paths } from '../../src/database/keySpace.ts'
import {
  genericAppParams,
  genericScriptParams,
  isResourceTypeName,
  parseResourceParams,
  resourceTypeNames,
} from '../../src/database/resourceTypes.ts'
import { InvariantError } from '../../src/errors/assert.ts'
import { groupRecord } from '../support/records.ts'

/** Real peer IDs: the command schema parses them as the mesh does. */
const peers = {
  '3': '12D3KooWSn2HSHAtFHpEsEQBJFGRL4UPAKgc5Te4CGfBusA63g4Z',
  '4': '12D3KooWMT7LDtkpxEH8rPTdnkRmhyAJtkdjXrPeFvWRARrqSjvP',
  '5': '12D3KooWRBG6dPay8tqQx7gppEL51kK4WGTLY62eGcfQJLF6j7Da',
  '6': '12D3KooWAvaxvCHzcRtaeoX71otkHs7MigzTRtCq1DvHtvyTxK6s',
  '9': '12D3KooWSjCAfHCS91SsaS2a28DEHuKwFCG7SG1gkFKVeydK7uKA',
  a: '12D3KooWKTmDJJSPq6NnYHQazZoqAieP1Po3dkNGHBjwkDU16QJY',
  b: '12D3KooWCWd5gEhWsWyMzPZ7EH5B8nW8pxEcXuXp7gXKmqxxNkAZ',
  c: '12D3KooWLpG8sb2kgdfHZRG9LSQvfxUibH3U4JWVnbCT1YTfKdBm',
}

// ---- command builders (each checked against the command schema, so tests use real shapes) ------

function cmd<C extends Command>(c: C): C {
  const parsed = commandSchema.safeParse(c)
  if (!parsed.success) throw new Error(`test built an invalid command: ${parsed.error.message}`)
  return c
}

const bootstrapCommand = (): Command =>
  cmd({
    op: 'cluster.bootstrap',
    cluster: { name: 'geo', quorumModel: 'node-and-witness' },
    sites: [
      {
        name: 'east',
        nodes: [
          { name: 'n1', votes: 1, peerId: null, address: '/ip4/10.0.0.1/tcp/7000' },
          { name: 'n2', votes: 1, peerId: null, address: '/ip4/10.0.0.2/tcp/7000' },
        ],
      },
      { name: 'west', nodes: [{ name: 'n3', votes: 1, peerId: peers['3'], address: null }] },
    ],
    witness: {
      name: 'w1',
      site: 'south',
      type: 'file-share',
      votes: 1,
      peerId: null,
      address: null,
      path: '/srv/witness',
    },
  })

const groupCreate = (
  name: string,
  opts: { preferred?: string[]; possible?: string[]; antiAffinity?: string[] } = {},
): Command =>
  cmd({
    op: 'group.create',
    name,
    preferredOwners: opts.preferred ?? [],
    possibleOwners: opts.possible ?? [],
    failback: 'never',
    antiAffinity: opts.antiAffinity ?? [],
  })

const resourceCreate = (
  name: string,
  group: string,
  opts: { type?: string; params?: Record<string, string>; dependsOn?: string[] } = {},
): Command =>
  cmd({
    op: 'resource.create',
    name,
    group,
    type: opts.type ?? 'generic-app',
    params: opts.params ?? { command: `run-${name}` },
    dependsOn: opts.dependsOn ?? [],
    restartThreshold: 3,
    restartPeriodMs: 900_000,
  })

const setDeps = (name: string, dependsOn: string[]): Command =>
  cmd({ op: 'resource.setDependencies', name, dependsOn })
const resTarget = (name: string, target: 'online' | 'offline'): Command =>
  cmd({ op: 'resource.setTarget', name, target })
const groupTarget = (name: string, target: 'online' | 'offline'): Command =>
  cmd({ op: 'group.setTarget', name, target })
/** The holding a change of owner expects: the group's current one. */
const held = (db: ClusterDatabase, name: string) => ({
  owner: db.group(name)?.owner ?? null,
  token: db.group(name)?.fencingToken ?? 0,
})
/** An assignment from the current holding; taking a held group is a failover (its lease ended). */
const assign = (name: string, owner: string | null): Command =>
  cmd({
    op: 'group.assign',
    name,
    owner,
    expect: held(h.db, name),
    ...(h.db.group(name)?.owner == null ? {} : { kind: 'failover' as const }),
  })
const markFailed = (name: string, reason: string): Command => cmd({ op: 'resource.markFailed', name, reason })

/** A database plus a log index counter: `run` applies at the next index. */
class Harness {
  readonly db = new ClusterDatabase()
  index = 0

  run(command: Command): ApplyResult {
    this.index++
    return this.db.apply(this.index, command)
  }

  ok(command: Command): string[] {
    const r = this.run(command)
    if (!r.ok) throw new Error(`expected ${command.op} to succeed, got ${r.reason}: ${r.message}`)
    return r.changed
  }

  refused(command: Command): Refusal {
    const before = this.db.snapshot().records
    const r = this.run(command)
    if (r.ok) throw new Error(`expected ${command.op} to be refused, it changed ${r.changed.join(', ')}`)
    // A refusal changes nothing (only the applied index moves).
    expect(this.db.snapshot().records).toEqual(before)
    return r
  }
}

let h: Harness

beforeEach(() => {
  h = new Harness()
})

function group(name: string): GroupRecord {
  const g = h.db.group(name)
  if (g === undefined) throw new Error(`no group ${name}`)
  return g
}

function resource(name: string): ResourceRecord {
  const r = h.db.resource(name)
  if (r === undefined) throw new Error(`no resource ${name}`)
  return r
}

// ---- tests -------------------------------------------------------------------------------------

describe('cluster.bootstrap', () => {
  it('writes cluster, sites, nodes and witness', () => {
    const changed = h.ok(bootstrapCommand())
    expect(changed).toEqual([
      'cluster',
      'sites/east',
      'nodes/n1',
      'nodes/n2',
      'sites/west',
      'nodes/n3',
      'witness',
    ])
    expect(h.db.cluster()).toEqual({
      kind: 'cluster',
      name: 'geo',
      quorumModel: 'node-and-witness',
      bootstrapIndex: 1,
    })
    expect(h.db.sites().map((s) => s.name)).toEqual(['east', 'west'])
    expect(h.db.nodes().map((n) => [n.name, n.site])).toEqual([
      ['n1', 'east'],
      ['n2', 'east'],
      ['n3', 'west'],
    ])
    expect(h.db.node('n3')).toEqual({
      kind: 'node',
      name: 'n3',
      site: 'west',
      votes: 1,
      peerId: peers['3'],
      address: null,
    })
    expect(h.db.witness()).toMatchObject({
      kind: 'witness',
      name: 'w1',
      type: 'file-share',
      path: '/srv/witness',
    })
    expect(h.db.appliedIndex).toBe(1)
  })

  it('refuses a second bootstrap with conflict and keeps the first', () => {
    h.ok(bootstrapCommand())
    const second = { ...bootstrapCommand(), cluster: { name: 'other', quorumModel: 'local' } } as Command
    const r = h.refused(second)
    expect(r.reason).toBe('conflict')
    expect(r.message).toMatch(/already bootstrapped/)
    expect(h.db.cluster()!.name).toBe('geo')
  })

  it('refuses duplicate sites, duplicate nodes and a witness named like a node, writing nothing', () => {
    const base = bootstrapCommand() as Extract<Command, { op: 'cluster.bootstrap' }>
    const dupSite = cmd({ ...base, sites: [base.sites[0]!, { ...base.sites[1]!, name: 'east' }] })
    expect(h.refused(dupSite)).toMatchObject({ reason: 'invalid', path: 'sites[1].name' })
    const dupNode = cmd({
      ...base,
      sites: [base.sites[0]!, { name: 'west', nodes: [{ ...base.sites[1]!.nodes[0]!, name: 'n1' }] }],
    })
    expect(h.refused(dupNode)).toMatchObject({ reason: 'invalid', path: 'sites[1].nodes[0].name' })
    const witnessClash = cmd({ ...base, witness: { ...base.witness!, name: 'n2' } })
    expect(h.refused(witnessClash)).toMatchObject({ reason: 'invalid', path: 'witness.name' })
    expect(h.db.list()).toEqual([])
    // ...and a valid bootstrap still works afterwards.
    h.ok(base)
    expect(h.db.cluster()!.bootstrapIndex).toBe(4)
  })

  it('bootstraps without a witness', () => {
    h.ok(cmd({ ...(bootstrapCommand() as Extract<Command, { op: 'cluster.bootstrap' }>), witness: null }))
    expect(h.db.witness()).toBeUndefined()
  })
})

describe('config', () => {
  it('sets, gets (version = entry index), overwrites, lists by prefix and deletes', () => {
    h.ok(cmd({ op: 'config.set', key: 'alerts/email', value: 'ops@example.org' }))
    h.ok(cmd({ op: 'config.set', key: 'alerts/sms', value: '+100' }))
    h.ok(cmd({ op: 'config.set', key: 'alertsX', value: 'other' }))
    h.ok(cmd({ op: 'config.set', key: 'zeta', value: 'z' }))
    expect(h.db.configGet('alerts/sms')).toEqual({
      kind: 'config',
      key: 'alerts/sms',
      value: '+100',
      version: 2,
    })
    h.ok(cmd({ op: 'config.set', key: 'alerts/sms', value: '+200' }))
    expect(h.db.configGet('alerts/sms')).toEqual({
      kind: 'config',
      key: 'alerts/sms',
      value: '+200',
      version: 5,
    })

    expect(h.db.configList('alerts/').map((c) => c.key)).toEqual(['alerts/email', 'alerts/sms'])
    expect(h.db.configList().map((c) => c.key)).toEqual(['alerts/email', 'alerts/sms', 'alertsX', 'zeta'])
    expect(h.db.configList('nothing')).toEqual([])

    expect(h.ok(cmd({ op: 'config.delete', key: 'alerts/email' }))).toEqual(['config/alerts/email'])
    expect(h.db.configGet('alerts/email')).toBeUndefined()
    expect(h.db.configList('alerts/').map((c) => c.key)).toEqual(['alerts/sms'])
  })

  it('deleting a missing key is not-found', () => {
    const r = h.refused(cmd({ op: 'config.delete', key: 'never/set' }))
    expect(r).toMatchObject({ reason: 'not-found', path: 'key' })
    expect(r.message).toContain('never/set')
  })

  it.each([
    ['', /empty/],
    ['/lead', /\/\//],
    ['trail/', /\/\//],
    ['a//b', /\/\//],
    ['a/./b', /\. or \.\./],
    ['../etc', /\. or \.\./],
    ['sp ace', /segment 'sp ace'/],
    ['ünï', /segment/],
    ['k'.repeat(257), /at most 256 characters/],
  ])('refuses config key %s as invalid on path key', (key, message) => {
    // Not through cmd(): the schema already caps the length, the database checks again.
    const r = h.refused({ op: 'config.set', key, value: 'v' })
    expect(r.reason).toBe('invalid')
    expect(r.path).toBe('key')
    expect(r.message).toMatch(message)
    expect(configKeyProblem(key)).not.toBeNull()
  })

  it('accepts the longest and the oddest legal keys', () => {
    for (const key of ['k'.repeat(256), 'a.b-c_d/E9', '...', 'x/..y']) {
      expect(configKeyProblem(key)).toBeNull()
      h.ok(cmd({ op: 'config.set', key, value: '' }))
      expect(h.db.configGet(key)?.value).toBe('')
    }
  })
})

describe('groups', () => {
  beforeEach(() => {
    h.ok(bootstrapCommand())
  })

  it('creates a group offline, unowned, with token 0', () => {
    expect(h.ok(groupCreate('web', { preferred: ['n1'], possible: ['n1', 'n2'] }))).toEqual(['groups/web'])
    expect(group('web')).toEqual(
      groupRecord('web', { preferredOwners: ['n1'], possibleOwners: ['n1', 'n2'], target: 'offline' }),
    )
    expect(h.refused(groupCreate('web'))).toMatchObject({ reason: 'conflict', path: 'name' })
  })

  it('refuses unknown owner nodes on either list', () => {
    const a = h.refused(groupCreate('g', { preferred: ['n1', 'ghost'] }))
    expect(a).toMatchObject({ reason: 'invalid', path: 'preferredOwners' })
    expect(a.message).toContain('ghost')
    const b = h.refused(groupCreate('g', { possible: ['n9'] }))
    expect(b).toMatchObject({ reason: 'invalid', path: 'possibleOwners' })
    expect(b.message).toContain('n9')
    expect(h.refused(groupCreate('g', { possible: ['n1', 'n1'] }))).toMatchObject({ path: 'possibleOwners' })
    expect(h.db.group('g')).toBeUndefined()
  })

  it('refuses preferred owners outside non-empty possible owners, allows any when possible is empty', () => {
    const r = h.refused(groupCreate('g', { preferred: ['n3', 'n1'], possible: ['n1', 'n2'] }))
    expect(r).toMatchObject({ reason: 'invalid', path: 'preferredOwners' })
    expect(r.message).toContain('n3')
    expect(r.message).not.toContain('n1')
    h.ok(groupCreate('g', { preferred: ['n3', 'n1'] }))
  })

  it('refuses repeated anti-affinity classes', () => {
    expect(h.refused(groupCreate('g', { antiAffinity: ['db', 'db'] }))).toMatchObject({
      reason: 'invalid',
      path: 'antiAffinity',
    })
  })

  it('refuses deleting a missing group, one with resources and an online one', () => {
    expect(h.refused(cmd({ op: 'group.delete', name: 'nope' }))).toMatchObject({ reason: 'not-found' })
    h.ok(groupCreate('g'))
    h.ok(resourceCreate('r1', 'g'))
    const withRes = h.refused(cmd({ op: 'group.delete', name: 'g' }))
    expect(withRes.reason).toBe('conflict')
    expect(withRes.message).toContain('r1')
    h.ok(cmd({ op: 'resource.delete', name: 'r1' }))
    h.ok(groupTarget('g', 'online'))
    expect(h.refused(cmd({ op: 'group.delete', name: 'g' })).message).toMatch(/online/)
    h.ok(groupTarget('g', 'offline'))
    expect(h.ok(cmd({ op: 'group.delete', name: 'g' }))).toEqual(['groups/g'])
    expect(h.db.group('g')).toBeUndefined()
  })

  it('group.assign sets the owner and fencingToken = entry index; tokens strictly grow', () => {
    h.ok(groupCreate('g', { possible: ['n1', 'n2'] }))
    h.index = 10
    h.ok(assign('g', 'n1'))
    expect(group('g')).toMatchObject({ owner: 'n1', fencingToken: 11 })
    h.index = 20
    h.ok(assign('g', 'n2'))
    expect(group('g')).toMatchObject({ owner: 'n2', fencingToken: 21 })
    // Giving the group up keeps the last token, so a later owner still gets a larger one.
    h.ok(assign('g', null))
    expect(group('g')).toMatchObject({ owner: null, fencingToken: 21 })
    h.ok(assign('g', 'n2'))
    expect(group('g')).toMatchObject({ owner: 'n2', fencingToken: 23 })
    const tokens: number[] = []
    for (const owner of ['n1', 'n2', 'n1', 'n1']) {
      h.index += 1 + tokens.length
      h.ok(assign('g', owner))
      tokens.push(group('g').fencingToken)
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!)
  })

  it('group.assign refuses unknown groups, unknown nodes and nodes that are not possible owners', () => {
    h.ok(groupCreate('g', { possible: ['n1'] }))
    expect(h.refused(assign('nope', 'n1'))).toMatchObject({ reason: 'not-found', path: 'name' })
    expect(h.refused(assign('g', 'ghost'))).toMatchObject({ reason: 'not-found', path: 'owner' })
    expect(h.refused(assign('g', 'n3'))).toMatchObject({ reason: 'conflict', path: 'owner' })
    expect(group('g')).toMatchObject({ owner: null, fencingToken: 0 })
  })

  it('group.setTarget online brings every resource online and clears their failures', () => {
    h.ok(groupCreate('g'))
    h.ok(resourceCreate('a', 'g'))
    h.ok(resourceCreate('b', 'g'))
    h.ok(markFailed('a', 'crashed'))
    const changed = h.ok(groupTarget('g', 'online'))
    expect(changed.sort()).toEqual(['groups/g', 'groups/g/resources/a', 'groups/g/resources/b'])
    expect(group('g').target).toBe('online')
    expect(resource('a')).toMatchObject({ target: 'online', failed: null })
    expect(resource('b')).toMatchObject({ target: 'online', failed: null })
    // Offline leaves the resources' own targets alone.
    expect(h.ok(groupTarget('g', 'offline'))).toEqual(['groups/g'])
    expect(resource('a').target).toBe('online')
    expect(h.refused(groupTarget('none', 'online')).reason).toBe('not-found')
  })
})

describe('resources', () => {
  beforeEach(() => {
    h.ok(bootstrapCommand())
    h.ok(groupCreate('g1'))
    h.ok(groupCreate('g2'))
  })

  it('creates a resource offline with its params and dependencies', () => {
    h.ok(resourceCreate('db', 'g1', { params: { command: 'postgres', stopTimeoutMs: '0' } }))
    expect(h.ok(resourceCreate('app', 'g1', { dependsOn: ['db'] }))).toEqual(['groups/g1/resources/app'])
    expect(resource('app')).toEqual({
      kind: 'resource',
      name: 'app',
      group: 'g1',
      type: 'generic-app',
      params: { command: 'run-app' },
      dependsOn: ['db'],
      restartThreshold: 3,
      restartPeriodMs: 900_000,
      target: 'offline',
      failed: null,
    })
    expect(h.db.resources('g1').map((r) => r.name)).toEqual(['app', 'db'])
    expect(h.db.resources('g2')).toEqual([])
    h.ok(resourceCreate('s', 'g2', { type: 'generic-script', params: { script: '/opt/agent' } }))
    expect(h.db.resources().map((r) => r.name)).toEqual(['app', 'db', 's'])
  })

  it('refuses a name already used in any group, and a missing group', () => {
    h.ok(resourceCreate('r', 'g1'))
    expect(h.refused(resourceCreate('r', 'g2'))).toMatchObject({ reason: 'conflict', path: 'name' })
    expect(h.refused(resourceCreate('q', 'g9'))).toMatchObject({ reason: 'not-found', path: 'group' })
  })

  it('refuses an unknown type, naming the supported ones', () => {
    const r = h.refused(resourceCreate('r', 'g1', { type: 'file-share' }))
    expect(r).toMatchObject({ reason: 'invalid', path: 'type' })
    expect(r.message).toContain('file-share')
    for (const t of resourceTypeNames) expect(r.message).toContain(t)
    expect(r.message).toContain('generic-app, generic-script, ip-address, network-name')
  })

  it('refuses a missing required param with path params.<name>', () => {
    expect(h.refused(resourceCreate('r', 'g1', { params: {} }))).toMatchObject({
      reason: 'invalid',
      path: 'params.command',
    })
    expect(h.refused(resourceCreate('r', 'g1', { params: { command: '' } }))).toMatchObject({
      path: 'params.command',
    })
    expect(
      h.refused(resourceCreate('r', 'g1', { type: 'generic-script', params: { command: 'x' } })),
    ).toMatchObject({ path: 'params.command' }) // command is unknown for generic-script
    expect(h.refused(resourceCreate('r', 'g1', { type: 'generic-script', params: {} }))).toMatchObject({
      path: 'params.script',
    })
  })

  it('refuses an unknown param, listing the known ones', () => {
    const r = h.refused(resourceCreate('r', 'g1', { params: { command: 'x', restartDelay: '5' } }))
    expect(r).toMatchObject({ reason: 'invalid', path: 'params.restartDelay' })
    expect(r.message).toMatch(/unknown parameter for generic-app/)
    expect(r.message).toContain('isAliveCommand')
  })

  it.each([
    ['looksAliveIntervalMs', '99', /between 100 and 3600000/],
    ['looksAliveIntervalMs', '3600001', /between/],
    ['stopTimeoutMs', '600001', /between 0 and 600000/],
    ['stopTimeoutMs', '-1', /whole number/],
    ['isAliveIntervalMs', '1e4', /whole number/],
    ['isAliveIntervalMs', ' 5000', /whole number/],
    ['isAliveIntervalMs', '', /whole number/],
  ])('refuses integer param %s=%j', (param, value, message) => {
    const r = h.refused(resourceCreate('r', 'g1', { params: { command: 'x', [param]: value } }))
    expect(r).toMatchObject({ reason: 'invalid', path: `params.${param}` })
    expect(r.message).toMatch(message)
  })

  it('accepts integer params at their bounds', () => {
    h.ok(
      resourceCreate('lo', 'g1', {
        params: { command: 'x', looksAliveIntervalMs: '100', stopTimeoutMs: '0' },
      }),
    )
    h.ok(resourceCreate('hi', 'g1', { params: { command: 'x', looksAliveIntervalMs: '3600000' } }))
  })

  it('refuses dependencies on another group, on itself, repeated or missing', () => {
    h.ok(resourceCreate('other', 'g2'))
    h.ok(resourceCreate('base', 'g1'))
    const cross = h.refused(resourceCreate('r', 'g1', { dependsOn: ['other'] }))
    expect(cross).toMatchObject({ reason: 'invalid', path: 'dependsOn' })
    expect(cross.message).toContain('g2')
    expect(h.refused(resourceCreate('r', 'g1', { dependsOn: ['r'] }))).toMatchObject({
      reason: 'invalid',
      path: 'dependsOn',
      message: 'a resource cannot depend on itself',
    })
    expect(h.refused(resourceCreate('r', 'g1', { dependsOn: ['base', 'base'] }))).toMatchObject({
      reason: 'invalid',
      path: 'dependsOn',
    })
    expect(h.refused(resourceCreate('r', 'g1', { dependsOn: ['ghost'] }))).toMatchObject({
      reason: 'not-found',
      path: 'dependsOn',
    })
    expect(h.refused(setDeps('base', ['base'])).reason).toBe('invalid')
    expect(h.refused(setDeps('base', ['other'])).reason).toBe('invalid')
  })

  it('refuses a dependency cycle made by setDependencies (a->b, b->c, then c->a)', () => {
    h.ok(resourceCreate('a', 'g1'))
    h.ok(resourceCreate('b', 'g1'))
    h.ok(resourceCreate('c', 'g1'))
    h.ok(setDeps('a', ['b']))
    h.ok(setDeps('b', ['c']))
    const r = h.refused(setDeps('c', ['a']))
    expect(r.reason).toBe('invalid')
    expect(r.path).toBe('dependsOn')
    expect(r.message).toContain('cycle')
    expect(r.message).toBe('dependency cycle: c -> a -> b -> c')
    expect(resource('c').dependsOn).toEqual([])
    // Two-node cycle too; a diamond is fine.
    expect(h.refused(setDeps('b', ['a'])).message).toContain('cycle')
    h.ok(setDeps('a', ['b', 'c']))
    expect(resource('a').dependsOn).toEqual(['b', 'c'])
    expect(h.refused(setDeps('nope', [])).reason).toBe('not-found')
  })

  it('resource.setTarget online brings providers online, clears failures and the group target', () => {
    h.ok(resourceCreate('disk', 'g1'))
    h.ok(resourceCreate('db', 'g1', { dependsOn: ['disk'] }))
    h.ok(resourceCreate('app', 'g1', { dependsOn: ['db'] }))
    h.ok(resourceCreate('side', 'g1'))
    h.ok(markFailed('disk', 'io error'))
    h.ok(markFailed('app', 'exit 1'))
    const changed = h.ok(resTarget('app', 'online'))
    expect(changed.sort()).toEqual([
      'groups/g1',
      'groups/g1/resources/app',
      'groups/g1/resources/db',
      'groups/g1/resources/disk',
    ])
    for (const n of ['app', 'db', 'disk'])
      expect(resource(n)).toMatchObject({ target: 'online', failed: null })
    expect(resource('side').target).toBe('offline')
    expect(group('g1').target).toBe('online')
    // Group already online: it is not listed again.
    expect(h.ok(resTarget('side', 'online'))).toEqual(['groups/g1/resources/side'])
  })

  it('resource.setTarget offline takes dependents (transitively) offline, not providers', () => {
    h.ok(resourceCreate('disk', 'g1'))
    h.ok(resourceCreate('db', 'g1', { dependsOn: ['disk'] }))
    h.ok(resourceCreate('app', 'g1', { dependsOn: ['db'] }))
    h.ok(resourceCreate('side', 'g1'))
    h.ok(groupTarget('g1', 'online'))
    const changed = h.ok(resTarget('db', 'offline'))
    expect(changed.sort()).toEqual(['groups/g1/resources/app', 'groups/g1/resources/db'])
    expect(resource('app').target).toBe('offline')
    expect(resource('db').target).toBe('offline')
    expect(resource('disk').target).toBe('online')
    expect(resource('side').target).toBe('online')
    expect(group('g1').target).toBe('online')
    expect(h.refused(resTarget('ghost', 'offline')).reason).toBe('not-found')
  })

  it('resource.markFailed records the reason and the entry index', () => {
    h.ok(resourceCreate('r', 'g1'))
    h.index = 41
    expect(h.ok(markFailed('r', 'monitor: not running (7)'))).toEqual(['groups/g1/resources/r'])
    expect(resource('r').failed).toEqual({ reason: 'monitor: not running (7)', index: 42 })
    h.ok(markFailed('r', 'again'))
    expect(resource('r').failed).toEqual({ reason: 'again', index: 43 })
    expect(h.refused(markFailed('ghost', 'x')).reason).toBe('not-found')
  })

  it('resource.delete refuses while others depend on it or while it runs in an online group', () => {
    h.ok(resourceCreate('db', 'g1'))
    h.ok(resourceCreate('app', 'g1', { dependsOn: ['db'] }))
    const r = h.refused(cmd({ op: 'resource.delete', name: 'db' }))
    expect(r.reason).toBe('conflict')
    expect(r.message).toContain('app')
    h.ok(groupTarget('g1', 'online'))
    expect(h.refused(cmd({ op: 'resource.delete', name: 'app' })).message).toMatch(/online/)
    h.ok(resTarget('app', 'offline'))
    h.ok(cmd({ op: 'resource.delete', name: 'app' }))
    expect(h.db.resource('app')).toBeUndefined()
    // The name is free again, in any group.
    h.ok(resourceCreate('app', 'g2'))
    expect(resource('app').group).toBe('g2')
    expect(h.refused(cmd({ op: 'resource.delete', name: 'ghost' })).reason).toBe('not-found')
  })
})

describe('audit trail', () => {
  it('records who changed what and when, refusals too, bounded, and kept in snapshots', () => {
    const db = new ClusterDatabase()
    db.applyAs(1, cmd({ op: 'config.set', key: 'a', value: '1' }), { by: 'admin@n1', at: 1_000 })
    db.applyAs(2, cmd({ op: 'config.delete', key: 'missing' }), { by: 'admin@n2', at: 2_000 })
    db.skip(3)
    expect(db.auditTrail()).toEqual([
      { index: 1, at: 1_000, by: 'admin@n1', op: 'config.set', subject: 'a', ok: true },
      {
        index: 2,
        at: 2_000,
        by: 'admin@n2',
        op: 'config.delete',
        subject: 'missing',
        ok: false,
        reason: expect.stringMatching(/missing/),
      },
    ])
    expect(db.auditTrail(1).map((a) => a.index)).toEqual([2])
    expect(db.auditTrail(0, 1).map((a) => a.index)).toEqual([2])
    expect(ClusterDatabase.restore(db.snapshot()).auditTrail()).toEqual(db.auditTrail())
    for (let i = 4; i < 4 + auditRecordsKept + 10; i++)
      db.applyAs(i, cmd({ op: 'config.set', key: `k${i}`, value: 'v' }), { by: 'node:n1', at: i })
    const trail = db.auditTrail()
    expect(trail).toHaveLength(auditRecordsKept)
    expect(trail[0]!.index).toBe(4 + 10)
  })
})

describe('apply order', () => {
  it('throws InvariantError on a non-increasing index, for apply and skip', () => {
    const db = new ClusterDatabase()
    db.apply(5, cmd({ op: 'config.set', key: 'a', value: '1' }))
    expect(() => db.apply(5, cmd({ op: 'config.set', key: 'b', value: '2' }))).toThrow(InvariantError)
    expect(() => db.apply(3, cmd({ op: 'config.set', key: 'b', value: '2' }))).toThrow(
      /apply index 3 after 5/,
    )
    expect(() => db.skip(5)).toThrow(InvariantError)
    expect(db.configGet('b')).toBeUndefined()
    expect(db.appliedIndex).toBe(5)
    db.skip(9)
    expect(db.appliedIndex).toBe(9)
    expect(() => db.apply(9, cmd({ op: 'config.delete', key: 'a' }))).toThrow(InvariantError)
    // A refused command still consumes its index.
    expect(db.apply(10, cmd({ op: 'config.delete', key: 'missing' })).ok).toBe(false)
    expect(db.appliedIndex).toBe(10)
  })

  it('restore refuses an unknown snapshot format', () => {
    const bad = { format: 'other/1', appliedIndex: 0, records: [] } as unknown as DatabaseSnapshot
    expect(() => ClusterDatabase.restore(bad)).toThrow(InvariantError)
  })

  it('snapshot() is a deep copy', () => {
    h.ok(bootstrapCommand())
    h.ok(groupCreate('g', { preferred: ['n1'] }))
    const snap = h.db.snapshot()
    const g = snap.records.find(([p]) => p === 'groups/g')![1] as GroupRecord
    g.preferredOwners.push('mutated')
    g.owner = 'mutated'
    expect(h.db.group('g')).toMatchObject({ preferredOwners: ['n1'], owner: null })
  })
})

describe('catalog and key space', () => {
  it('parses params with defaults and types', () => {
    expect(genericAppParams({ command: 'x', stopTimeoutMs: '7' })).toEqual({
      command: 'x',
      cwd: undefined,
      isAliveCommand: undefined,
      looksAliveIntervalMs: 5_000,
      isAliveIntervalMs: 60_000,
      stopTimeoutMs: 7,
      checkpoint: undefined,
      checkpointIntervalMs: 60_000,
    })
    expect(genericScriptParams({ script: '/a' })).toMatchObject({
      startTimeoutMs: 20_000,
      monitorTimeoutMs: 20_000,
    })
    expect(() => genericAppParams({})).toThrow(/generic-app: command: required/)
    expect(parseResourceParams('generic-app', { command: 'x', constructor: 'y' })).toMatchObject({
      ok: false,
      problem: { param: 'constructor' },
    })
    expect(isResourceTypeName('generic-app')).toBe(true)
    expect(isResourceTypeName('toString')).toBe(false)
  })

  it('names and paths', () => {
    expect(isName('a')).toBe(true)
    expect(isName('a'.repeat(63))).toBe(true)
    expect(isName('a'.repeat(64))).toBe(false)
    expect(isName('-a')).toBe(false)
    expect(isName('a/b')).toBe(false)
    expect(paths.resource('g', 'r')).toBe('groups/g/resources/r')
    expect(paths.config('a/b')).toBe('config/a/b')
  })
})

// ---- property tests ----------------------------------------------------------------------------

const nodeNames = ['n1', 'n2', 'n3', 'n4'] // n4 is never bootstrapped
const groupNames = ['g1', 'g2']
const resourceNames = ['r1', 'r2', 'r3', 'r4']
const configKeys = ['a', 'a/b', 'b', 'a//b', '../x']
const targetArb = fc.constantFrom('online' as const, 'offline' as const)
const paramsArb = fc.constantFrom<Record<string, string>>(
  { command: 'run' },
  { command: 'run', checkpoint: '/var/state' },
  { command: 'run', stopTimeoutMs: '5' },
  { command: 'run', looksAliveIntervalMs: '50' },
  { script: '/bin/agent' },
  { script: '/bin/agent', monitorTimeoutMs: '100' },
  {},
  { bogus: '1' },
)
/** Mostly empty or one name, sometimes more: dependencies that often exist and sometimes do not. */
const subset = <T>(items: readonly T[]) =>
  fc.oneof(
    { arbitrary: fc.constant<T[]>([]), weight: 2 },
    { arbitrary: fc.constantFrom(...items).map((x) => [x]), weight: 2 },
    { arbitrary: fc.subarray([...items]), weight: 1 },
  )

/** Mostly a fresh group's holding; the history builder swaps in the latest holding half the time. */
const holdingArb = fc.record({
  owner: fc.option(fc.constantFrom(...nodeNames)),
  token: fc.integer({ min: 0, max: 12 }),
})

const assignArb = fc.record({
  op: fc.constant('group.assign' as const),
  name: fc.constantFrom(...groupNames),
  expect: holdingArb,
  owner: fc.option(fc.constantFrom(...nodeNames)),
  kind: fc.constantFrom('place' as const, 'failover' as const, 'failback' as const),
  reason: fc.constant('why'),
  at: fc.integer({ min: 0, max: 40_000_000 }),
})

/** Commands over a small alphabet of names, so that many apply and many are refused. */
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.constant(bootstrapCommand()),
  // Creating groups and resources is what most other commands need, so it comes twice.
  fc.record({
    op: fc.constant('group.create' as const),
    name: fc.constantFrom(...groupNames),
    preferredOwners: fc.constant<string[]>([]),
    possibleOwners: fc.constant<string[]>([]),
    failback: fc.constant('immediate'),
    antiAffinity: fc.constant<string[]>([]),
  }),
  fc.record({
    op: fc.constant('resource.create' as const),
    name: fc.constantFrom(...resourceNames),
    group: fc.constantFrom('g1', 'g1', 'g1', 'g2'), // mostly one group, so dependencies can apply
    type: fc.constant('generic-app'),
    params: fc.constant<Record<string, string>>({ command: 'run' }),
    dependsOn: subset(resourceNames),
    restartThreshold: fc.constant(1),
    restartPeriodMs: fc.constant(1000),
  }),
  fc.record({
    op: fc.constant('config.set' as const),
    key: fc.constantFrom(...configKeys),
    value: fc.string({ maxLength: 4 }),
  }),
  fc.record({ op: fc.constant('config.delete' as const), key: fc.constantFrom(...configKeys) }),
  fc.record({ op: fc.constant('cluster.raiseTokenFloor' as const), floor: fc.integer({ min: 0, max: 40 }) }),
  // Raised, kept, or (once raised) refused as a downgrade.
  fc.record({
    op: fc.constant('cluster.setLevel' as const),
    level: fc.integer({ min: 1, max: functionalLevelMax }),
  }),
  fc.record({
    op: fc.constant('group.create' as const),
    name: fc.constantFrom(...groupNames),
    preferredOwners: subset(nodeNames),
    possibleOwners: subset(nodeNames),
    failback: fc.constantFrom('never', 'immediate', '22-06'),
    antiAffinity: fc.constantFrom<string[]>([], ['db'], ['db', 'web']),
  }),
  fc.record(
    {
      op: fc.constant('group.update' as const),
      name: fc.constantFrom(...groupNames),
      preferredOwners: subset(nodeNames),
      possibleOwners: subset(nodeNames),
      failback: fc.constantFrom('never', 'immediate', '22-06'),
      antiAffinity: fc.constantFrom<string[]>([], ['db'], ['db', 'db']),
      failoverThreshold: fc.option(fc.integer({ min: 0, max: 3 })),
    },
    { requiredKeys: ['op', 'name'] },
  ),
  fc.record({ op: fc.constant('group.delete' as const), name: fc.constantFrom(...groupNames) }),
  fc.record({
    op: fc.constant('group.setTarget' as const),
    name: fc.constantFrom(...groupNames),
    target: targetArb,
  }),
  // Changes of owner come often, so that groups are held when a release or a move comes.
  assignArb,
  assignArb,
  assignArb,
  fc.record({
    op: fc.constant('group.move' as const),
    name: fc.constantFrom(...groupNames),
    expect: holdingArb,
    to: fc.option(fc.constantFrom(...nodeNames)),
    avoid: fc.option(fc.constantFrom(...nodeNames)),
    kind: fc.constantFrom('move' as const, 'drain' as const, 'failover' as const),
    reason: fc.constant('why'),
  }),
  fc.record({
    op: fc.constant('group.release' as const),
    name: fc.constantFrom(...groupNames),
    // Tokens are log indexes: a few match the history's, most do not.
    token: fc.integer({ min: 1, max: 12 }),
  }),
  fc.record({
    op: fc.constant('group.fail' as const),
    name: fc.constantFrom(...groupNames),
    reason: fc.constant('why'),
  }),
  fc.record({
    op: fc.constant('resource.create' as const),
    name: fc.constantFrom(...resourceNames),
    group: fc.constantFrom(...groupNames),
    type: fc.constantFrom('generic-app', 'generic-app', 'generic-script', 'nope'),
    params: fc.oneof(
      {
        arbitrary: fc.constant<Record<string, string>>({ command: 'run', checkpoint: '/var/state' }),
        weight: 2,
      },
      paramsArb,
    ),
    dependsOn: subset(resourceNames),
    restartThreshold: fc.integer({ min: 0, max: 5 }),
    restartPeriodMs: fc.constantFrom(1000, 60_000),
  }),
  fc.record(
    {
      op: fc.constant('resource.update' as const),
      name: fc.constantFrom(...resourceNames),
      params: fc.constantFrom<Record<string, string>>(
        { command: 'run2' },
        { stopTimeoutMs: '100' },
        { bogus: '1' },
        {},
      ),
      unset: fc.constantFrom<string[]>([], ['checkpoint'], ['command']),
      restartThreshold: fc.integer({ min: 0, max: 5 }),
      restart: fc.boolean(),
    },
    { requiredKeys: ['op', 'name'] },
  ),
  fc.record({ op: fc.constant('resource.delete' as const), name: fc.constantFrom(...resourceNames) }),
  fc.record({
    op: fc.constant('node.add' as const),
    name: fc.constantFrom('n9', 'n10', ...nodeNames),
    site: fc.constantFrom('s1', 's9'),
    votes: fc.constantFrom(0, 1),
    peerId: fc.constantFrom(peers['a'], peers['b'], peers['c']),
    address: fc.constantFrom('/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'),
  }),
  fc.record({ op: fc.constant('node.evict' as const), name: fc.constantFrom('n9', ...nodeNames) }),
  fc.record({
    op: fc.constant('node.setPaused' as const),
    name: fc.constantFrom('n9', ...nodeNames),
    paused: fc.boolean(),
    drain: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('node.setAddress' as const),
    name: fc.constantFrom('n9', ...nodeNames),
    address: fc.constantFrom('/ip4/127.0.0.1/tcp/3', '/ip4/127.0.0.1/tcp/1'),
  }),
  fc.record({
    op: fc.constant('resource.setDependencies' as const),
    name: fc.constantFrom(...resourceNames),
    dependsOn: fc.constantFrom(...resourceNames).map((x) => [x]),
  }),
  fc.record({
    op: fc.constant('resource.setDependencies' as const),
    name: fc.constantFrom(...resourceNames),
    dependsOn: subset(resourceNames),
  }),
  fc.record({
    op: fc.constant('resource.setTarget' as const),
    name: fc.constantFrom(...resourceNames),
    target: targetArb,
  }),
  fc.record({
    op: fc.constant('resource.checkpoint' as const),
    name: fc.constantFrom(...resourceNames),
    node: fc.constantFrom(...nodeNames),
    at: fc.integer({ min: 0, max: 1000 }),
    files: fc.constantFrom<{ path: string; data: string | null }[]>(
      [{ path: '/var/state', data: 'eA==' }],
      [{ path: '/etc/other', data: null }],
    ),
  }),
  fc.record({
    op: fc.constant('resource.markFailed' as const),
    name: fc.constantFrom(...resourceNames),
    reason: fc.constantFrom('crash', 'timeout'),
  }),
  fc.record({
    op: fc.constant('maintenance.set' as const),
    scope: fc.constantFrom('cluster' as const, 'node' as const, 'group' as const, 'resource' as const),
    subject: fc.option(fc.constantFrom('n1', 'n4', ...groupNames, ...resourceNames)),
    on: fc.boolean(),
  }),
  // An authoritative restore: of this cluster (its bootstrap index is usually 1) or another,
  // with groups that may name nodes it lacks and resources whose groups may be missing.
  fc.record({
    op: fc.constant('cluster.restore' as const),
    source: fc.record({
      cluster: fc.record({
        name: fc.constant('geo'),
        id: fc.constantFrom('geo@1', 'geo@1', 'geo@2', 'other'),
      }),
      index: fc.integer({ min: 0, max: 50 }),
      term: fc.integer({ min: 0, max: 5 }),
      checksum: fc.constant('0'.repeat(64)),
      highestToken: fc.integer({ min: 0, max: 60 }),
    }),
    content: fc.record({
      groups: fc.constantFrom<RestoreContent['groups']>(
        [],
        [
          {
            name: 'g1',
            preferredOwners: ['n1'],
            possibleOwners: [],
            failback: 'never',
            antiAffinity: [],
            target: 'online' as const,
          },
        ],
        [
          {
            name: 'g2',
            preferredOwners: ['n4'],
            possibleOwners: [],
            failback: 'never',
            antiAffinity: [],
            target: 'offline' as const,
          },
        ],
      ),
      resources: fc.constantFrom<RestoreContent['resources']>(
        [],
        [
          {
            name: 'r1',
            group: 'g1',
            type: 'generic-app',
            params: { command: 'run' },
            dependsOn: [],
            restartThreshold: 1,
            restartPeriodMs: 1000,
            target: 'online' as const,
          },
        ],
      ),
      config: fc.constantFrom<RestoreContent['config']>([], [{ key: 'a', value: 'restored' }]),
      checkpoints: fc.constant<RestoreContent['checkpoints']>([]),
    }),
  }),
  // Operators' constraints: a few instants, so that bans hold or have expired and expiries match.
  fc.record({
    op: fc.constant('constraint.add' as const),
    name: fc.constantFrom(...groupNames),
    node: fc.constantFrom('n9', ...nodeNames),
    rule: fc.constantFrom('ban' as const, 'prefer' as const),
    expiresAt: fc.constantFrom(null, 100, 200),
    at: fc.constantFrom(0, 50, 150),
  }),
  fc.record({
    op: fc.constant('constraint.clear' as const),
    name: fc.constantFrom(...groupNames),
    node: fc.option(fc.constantFrom(...nodeNames)),
  }),
  fc.record({
    op: fc.constant('constraint.expire' as const),
    name: fc.constantFrom(...groupNames),
    node: fc.constantFrom(...nodeNames),
    expiresAt: fc.constantFrom(100, 200),
    at: fc.constantFrom(100, 250),
  }),
  fc.record({
    op: fc.constant('resource.cleanup' as const),
    names: fc.option(fc.constantFrom(...resourceNames).map((r) => [r])),
    node: fc.option(fc.constantFrom('n9', ...nodeNames)),
  }),
  fc.record({
    op: fc.constant('alert.add' as const),
    name: fc.constantFrom('a1', 'a2'),
    to: fc.constantFrom(
      { kind: 'webhook' as const, url: 'http://127.0.0.1:9/hook' },
      { kind: 'script' as const, path: '/usr/local/bin/alert' },
    ),
    events: fc.constantFrom<string[]>([], ['resource:*']),
    severities: fc.constantFrom<('info' | 'warning' | 'error')[]>([], ['error']),
    timeoutMs: fc.constant(1_000),
    attempts: fc.constant(3),
  }),
  fc.record({ op: fc.constant('alert.delete' as const), name: fc.constantFrom('a1', 'a2') }),
)

/** Starting points: nothing, a bootstrapped cluster, or one with groups and resources already. */
const prefixes: Command[][] = [
  [],
  [bootstrapCommand()],
  [
    bootstrapCommand(),
    groupCreate('g1'),
    groupCreate('g2', { possible: ['n1', 'n3'] }),
    resourceCreate('r1', 'g1', { params: { command: 'run-r1', checkpoint: '/var/state' } }),
    resourceCreate('r2', 'g1', { dependsOn: ['r1'] }),
    resourceCreate('r3', 'g2'),
  ],
]

/** Commands with strictly increasing log indexes (gaps allowed) after one of the prefixes. */
const historyArb = fc
  .tuple(
    fc.constantFrom(0, 1, 2, 2),
    fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), commandArb), { maxLength: 60, size: 'medium' }),
  )
  .map(([prefix, steps]) => {
    const all: [number, Command][] = []
    // The history is played on a scratch database as it is built, so that half of the commands
    // naming a group's holding (a change of owner, a release, a checkpoint) name its real one
    // and some succeed.
    const scratch = new ClusterDatabase()
    let index = 0
    const push = (command: Command) => {
      scratch.apply(index, command)
      all.push([index, command])
    }
    for (const command of prefixes[prefix]!) {
      index++
      push(command)
    }
    for (const [gap, step] of steps) {
      index += gap
      const group = scratch.group('name' in step ? step.name : '')
      const holding = { owner: group?.owner ?? null, token: group?.fencingToken ?? 0 }
      const owner =
        step.op === 'resource.checkpoint'
          ? scratch.group(scratch.resource(step.name)?.group ?? '')?.owner
          : null
      // Half the expiries name a real constraint with a lifetime, as the leader's do.
      const timed = scratch.constraints().find((c) => c.expiresAt !== null)
      if (step.op === 'constraint.expire' && step.at === 250 && timed?.expiresAt != null) {
        push({ ...step, name: timed.group, node: timed.node, expiresAt: timed.expiresAt })
        continue
      }
      push(
        (step.op === 'group.assign' || step.op === 'group.move') && step.expect.token % 2 === 0
          ? { ...step, expect: holding }
          : step.op === 'group.release' && step.token % 2 === 1 && holding.owner !== null
            ? { ...step, token: holding.token }
            : step.op === 'resource.checkpoint' && step.at % 2 === 1 && owner != null
              ? { ...step, node: owner, files: [{ path: '/var/state', data: 'eA==' }] }
              : step,
      )
    }
    return all
  })

function applyAll(db: ClusterDatabase, history: readonly [number, Command][]): ApplyResult[] {
  return history.map(([index, command]) => db.apply(index, command))
}

/** Structural invariants any sequence of commands must keep. */
function checkInvariants(db: ClusterDatabase): void {
  const resources = db.resources()
  const byName = new Map(resources.map((r) => [r.name, r]))
  for (const r of resources) {
    expect(db.group(r.group), `group of ${r.name}`).toBeDefined()
    expect(db.get(paths.resource(r.group, r.name))).toBe(r)
    for (const d of r.dependsOn) expect(byName.get(d)?.group, `${r.name} -> ${d}`).toBe(r.group)
  }
  // Dependency graph is acyclic (DFS colouring).
  const state = new Map<string, 'open' | 'done'>()
  const visit = (n: string): void => {
    expect(state.get(n), `cycle through ${n}`).not.toBe('open')
    if (state.get(n) === 'done') return
    state.set(n, 'open')
    for (const d of byName.get(n)!.dependsOn) visit(d)
    state.set(n, 'done')
  }
  for (const r of resources) visit(r.name)
  for (const g of db.groups()) {
    // A token is an entry's index, or above a floor a forced epoch or a restore carried in.
    expect(g.fencingToken).toBeLessThanOrEqual(Math.max(db.appliedIndex, db.cluster()?.tokenFloor ?? 0) + 1)
    if (g.owner !== null) {
      expect(db.node(g.owner), `owner of ${g.name}`).toBeDefined()
      // An evicted owner still holds its groups until it is certainly done, but they are leaving.
      if (db.node(g.owner)?.evicted === true)
        expect(g.moving, `${g.name} held by an evicted owner`).not.toBeNull()
      expect(g.fencingToken).toBeGreaterThan(0)
    }
    // Operators' constraints: on the group's own nodes, at most one preference.
    const constraints = db.constraints(g.name)
    for (const c of constraints) expect(db.node(c.node), `constraint of ${g.name}`).toBeDefined()
    expect(constraints.filter((c) => c.rule === 'prefer').length).toBeLessThanOrEqual(1)
  }
  // None outlives its group.
  for (const c of db.constraints()) expect(db.group(c.group), `group of a constraint`).toBeDefined()
}

const asMap = (db: ClusterDatabase) => new Map<string, DbRecord>(db.snapshot().records)

const allOps = [...commandSchema.options.map((o) => o.shape.op.value)].sort()

describe('properties', () => {
  it('the generator covers both outcomes and every op', () => {
    const samples = fc.sample(historyArb, { seed: 42, numRuns: 300 })
    let ok = 0
    let refused = 0
    const ops = new Set<string>()
    const okOps = new Set<string>()
    let withDependencies = 0
    let cycles = 0
    for (const history of samples) {
      const db = new ClusterDatabase()
      for (const [i, r] of applyAll(db, history).entries()) {
        ops.add(history[i]![1].op)
        const c = history[i]![1]
        if (r.ok) {
          ok++
          okOps.add(c.op)
          if ('dependsOn' in c && c.dependsOn.length > 0) withDependencies++
        } else {
          refused++
          if (r.message.includes('cycle')) cycles++
        }
      }
      for (const [, c] of history) expect(commandSchema.safeParse(c).success).toBe(true)
    }
    expect([...ops].sort()).toEqual(allOps)
    expect(allOps.filter((o) => !okOps.has(o))).toEqual([])
    expect(ok).toBeGreaterThan(200)
    expect(refused).toBeGreaterThan(200)
    expect(withDependencies).toBeGreaterThan(20)
    expect(cycles).toBeGreaterThan(0)
  })

  it('(a) determinism: the same commands give the same results and snapshots', () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const a = new ClusterDatabase()
        const b = new ClusterDatabase()
        const ra = applyAll(a, history)
        const rb = applyAll(b, history)
        expect(rb).toEqual(ra)
        expect(b.snapshot()).toEqual(a.snapshot())
        expect(JSON.stringify(b.snapshot())).toBe(JSON.stringify(a.snapshot()))
      }),
      { seed: 42, numRuns: 200 },
    )
  })

  it('refusals change nothing, `changed` lists every touched path, invariants hold', () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const db = new ClusterDatabase()
        for (const [index, command] of history) {
          const before = asMap(db)
          const levelBefore = db.functionalLevel()
          const r = db.apply(index, command)
          expect(db.functionalLevel(), 'the functional level never goes down').toBeGreaterThanOrEqual(
            levelBefore,
          )
          const after = asMap(db)
          expect(db.appliedIndex).toBe(index)
          if (!r.ok) {
            expect(after).toEqual(before)
            expect(r.message.length).toBeGreaterThan(0)
          } else {
            const touched = [...new Set([...before.keys(), ...after.keys()])].filter(
              (p) => JSON.stringify(before.get(p)) !== JSON.stringify(after.get(p)),
            )
            for (const p of touched) expect(r.changed, `${command.op} changed ${p}`).toContain(p)
          }
          checkInvariants(db)
          // Ownership: a group's token never goes back, and a group passes from one holder to
          // another only through its release or a failover (the holder's lease has ended).
          for (const [path, was] of before) {
            const now = after.get(path)
            if (was.kind !== 'group' || now?.kind !== 'group') continue
            expect(now.fencingToken, `${path} token`).toBeGreaterThanOrEqual(was.fencingToken)
            if (was.owner !== null && now.owner !== null && now.owner !== was.owner)
              expect(command, `${path} taken from ${was.owner}`).toMatchObject({
                op: 'group.assign',
                kind: 'failover',
              })
          }
        }
      }),
      { seed: 42, numRuns: 150 },
    )
  })

  it('(b) snapshot/restore at any point equals applying straight through', () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), (history, cut) => {
        const k = cut % (history.length + 1)
        const straight = new ClusterDatabase()
        const straightResults = applyAll(straight, history)

        const first = new ClusterDatabase()
        applyAll(first, history.slice(0, k))
        const copy = JSON.parse(JSON.stringify(first.snapshot())) as DatabaseSnapshot
        const restored = ClusterDatabase.restore(copy)
        expect(restored.appliedIndex).toBe(first.appliedIndex)
        const restResults = applyAll(restored, history.slice(k))

        expect(restResults).toEqual(straightResults.slice(k))
        expect(restored.snapshot()).toEqual(straight.snapshot())
        for (const r of straight.resources()) expect(restored.resource(r.name)).toEqual(r)
      }),
      { seed: 42, numRuns: 200 },
    )
  })

  const anyText = fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), // lone surrogates too
    maxLength: 12,
  })
  const envelopeArb: fc.Arbitrary<CommandEnvelope> = fc.record({
    v: fc.constant(1 as const),
    by: fc.string({ maxLength: 128 }),
    at: fc.maxSafeNat(),
    command: fc.oneof(
      commandArb,
      fc.record({ op: fc.constant('config.set' as const), key: anyText, value: anyText }),
      fc.record({
        op: fc.constant('resource.markFailed' as const),
        name: fc.constantFrom(...resourceNames),
        reason: anyText,
      }),
    ),
  })

  it('(c) encodeEnvelope/decodeEnvelope round-trip', () => {
    fc.assert(
      fc.property(envelopeArb, (envelope) => {
        expect(envelopeArbIsValid(envelope)).toBe(true)
        const decoded = decodeEnvelope(encodeEnvelope(envelope))
        expect(decoded).toEqual({ ok: true, envelope })
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('(c) decodeEnvelope never throws on random or damaged bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const d = decodeEnvelope(bytes)
        expect(d.ok).toBe(false)
        if (!d.ok) expect(d.problem).toBeTypeOf('string')
      }),
      { seed: 42, numRuns: 300 },
    )
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const d = decodeEnvelope(new TextEncoder().encode(JSON.stringify(value) ?? 'null'))
        expect(d.ok).toBe(false)
      }),
      { seed: 42, numRuns: 300 },
    )
    fc.assert(
      fc.property(envelopeArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (envelope, at, xor) => {
        const bytes = encodeEnvelope(envelope)
        const i = at % bytes.length
        bytes[i] = bytes[i]! ^ xor
        const d = decodeEnvelope(bytes)
        if (d.ok) expect(envelopeArbIsValid(d.envelope)).toBe(true)
      }),
      { seed: 42, numRuns: 300 },
    )
  })

  it('decodeEnvelope explains what is wrong', () => {
    expect(decodeEnvelope(new Uint8Array([0xff, 0xfe]))).toMatchObject({
      ok: false,
      problem: /not UTF-8 JSON/,
    })
    expect(decodeEnvelope(new TextEncoder().encode('{"v":1'))).toMatchObject({
      ok: false,
      problem: /not UTF-8 JSON/,
    })
    const wrongOp = { v: 1, by: 'cli', at: 0, command: { op: 'cluster.explode' } }
    expect(decodeEnvelope(new TextEncoder().encode(JSON.stringify(wrongOp)))).toMatchObject({
      ok: false,
      problem: /^command\.op: /,
    })
    // Invalid UTF-8 inside a JSON string is refused, not patched up with U+FFFD.
    const good = encodeEnvelope({
      v: 1,
      by: 'cli',
      at: 0,
      command: { op: 'config.set', key: 'k', value: 'AB' },
    })
    expect(decodeEnvelope(good).ok).toBe(true)
    const damaged = Uint8Array.from(good)
    damaged[new TextDecoder().decode(good).indexOf('AB')] = 0xff
    expect(decodeEnvelope(damaged)).toMatchObject({ ok: false, problem: /not UTF-8 JSON/ })
    const extra = { v: 1, by: 'cli', at: 0, command: { op: 'group.delete', name: 'g', force: true } }
    expect(decodeEnvelope(new TextEncoder().encode(JSON.stringify(extra))).ok).toBe(false)
  })
})

function envelopeArbIsValid(envelope: unknown): boolean {
  return (
    typeof envelope === 'object' &&
    envelope !== null &&
    commandSchema.safeParse((envelope as { command: unknown }).command).success
  )
}

describe('failover bookkeeping', () => {
  const hour = 3_600_000
  beforeEach(() => {
    h.ok(bootstrapCommand())
    h.ok(groupCreate('web', { possible: ['n1', 'n2', 'n3'] }))
    h.ok(resourceCreate('app', 'web'))
  })

  it('a new owner gets a new token, remembers the last one, and retries what failed there', () => {
    h.ok(
      cmd({
        op: 'group.assign',
        name: 'web',
        expect: held(h.db, 'web'),
        owner: 'n1',
        kind: 'place',
        reason: 'placed',
        at: 0,
      }),
    )
    const first = group('web').fencingToken
    h.ok(cmd({ op: 'resource.markFailed', name: 'app', reason: 'exit 1' }))
    // Re-recording the same owner keeps the failure; a new owner clears it.
    h.ok(cmd({ op: 'group.assign', name: 'web', expect: held(h.db, 'web'), owner: 'n1' }))
    expect(resource('app').failed).not.toBeNull()
    const changed = h.ok(
      cmd({
        op: 'group.assign',
        name: 'web',
        expect: held(h.db, 'web'),
        owner: 'n2',
        kind: 'failover',
        reason: 'n1 is down',
        at: hour,
      }),
    )
    expect(changed).toEqual(['groups/web', 'groups/web/resources/app'])
    expect(resource('app').failed).toBeNull()
    expect(group('web')).toMatchObject({ owner: 'n2', lastOwner: 'n1', failovers: [hour], moving: null })
    expect(group('web').fencingToken).toBeGreaterThan(first)
  })

  it('keeps failovers and failbacks of the period only', () => {
    const assign = (owner: string, kind: 'failover' | 'failback', at: number) =>
      h.ok(cmd({ op: 'group.assign', name: 'web', expect: held(h.db, 'web'), owner, kind, reason: 'x', at }))
    assign('n1', 'failover', 0)
    assign('n2', 'failover', 5 * hour)
    h.ok(cmd({ op: 'group.release', name: 'web', token: group('web').fencingToken }))
    assign('n1', 'failback', 6 * hour)
    assign('n3', 'failover', 7 * hour)
    // The one at 0 is more than 6 h before 7 h.
    expect(group('web')).toMatchObject({ failovers: [5 * hour, 7 * hour], failbacks: [6 * hour] })
  })

  it('a move waits for its owner to release; a stale release is refused', () => {
    expect(
      h.refused(
        cmd({
          op: 'group.move',
          name: 'web',
          expect: held(h.db, 'web'),
          to: 'n2',
          kind: 'move',
          reason: 'r',
        }),
      ),
    ).toMatchObject({
      reason: 'conflict',
      message: 'group web has no owner to move it from',
    })
    h.ok(cmd({ op: 'group.assign', name: 'web', expect: held(h.db, 'web'), owner: 'n1' }))
    const token = group('web').fencingToken
    const move = (to: string) =>
      cmd({ op: 'group.move', name: 'web', expect: held(h.db, 'web'), to, kind: 'move', reason: 'r' })
    expect(h.refused(move('n1'))).toMatchObject({ path: 'to' })
    expect(h.refused(move('n9'))).toMatchObject({ reason: 'not-found' })
    // A move decided on an older holding is refused (compare-and-set on owner and token).
    expect(
      h.refused(
        cmd({
          op: 'group.move',
          name: 'web',
          expect: { owner: 'n1', token: token - 1 },
          to: 'n2',
          kind: 'move',
          reason: 'r',
        }),
      ),
    ).toMatchObject({ reason: 'conflict', path: 'expect' })
    h.ok(
      cmd({
        op: 'group.move',
        name: 'web',
        expect: held(h.db, 'web'),
        to: 'n2',
        avoid: 'n1',
        kind: 'move',
        reason: 'by an operator',
      }),
    )
    // Nothing takes it from n1 but its release (or a failover once its lease has ended).
    expect(
      h.refused(
        cmd({
          op: 'group.assign',
          name: 'web',
          expect: held(h.db, 'web'),
          owner: 'n2',
          kind: 'move',
          reason: 'r',
        }),
      ),
    ).toMatchObject({ reason: 'conflict', path: 'expect' })
    expect(group('web')).toMatchObject({
      owner: 'n1',
      moving: { to: 'n2', avoid: 'n1', kind: 'move', reason: 'by an operator' },
    })
    expect(h.refused(cmd({ op: 'group.release', name: 'web', token: token - 1 }))).toMatchObject({
      path: 'token',
    })
    h.ok(cmd({ op: 'group.release', name: 'web', token }))
    // Released: no owner, and the move still says where it goes.
    expect(group('web')).toMatchObject({
      owner: null,
      lastOwner: 'n1',
      fencingToken: token,
      moving: { to: 'n2' },
    })
    expect(h.refused(cmd({ op: 'group.release', name: 'web', token }))).toMatchObject({ reason: 'conflict' })
    // An assignment decided before the release (expecting n1) is refused after it.
    expect(
      h.refused(
        cmd({
          op: 'group.assign',
          name: 'web',
          expect: { owner: 'n1', token },
          owner: 'n3',
          kind: 'failover',
        }),
      ),
    ).toMatchObject({ reason: 'conflict', path: 'expect' })
    h.ok(
      cmd({
        op: 'group.assign',
        name: 'web',
        expect: held(h.db, 'web'),
        owner: 'n2',
        kind: 'move',
        reason: 'by an operator',
      }),
    )
    expect(group('web')).toMatchObject({ owner: 'n2', moving: null })
  })

  it('a failed group stays held by its owner until it releases it, and waits to be started again', () => {
    h.ok(cmd({ op: 'group.setTarget', name: 'web', target: 'online' }))
    h.ok(
      cmd({
        op: 'group.assign',
        name: 'web',
        expect: held(h.db, 'web'),
        owner: 'n1',
        kind: 'failover',
        reason: 'x',
        at: 1,
      }),
    )
    h.ok(cmd({ op: 'group.fail', name: 'web', reason: '2 failovers within 6 h' }))
    // n1 may still be stopping it: it holds it until it says everything of it is down.
    expect(group('web')).toMatchObject({ owner: 'n1', failed: { reason: '2 failovers within 6 h' } })
    h.ok(cmd({ op: 'group.release', name: 'web', token: group('web').fencingToken }))
    expect(group('web')).toMatchObject({
      owner: null,
      lastOwner: 'n1',
      failed: { reason: '2 failovers within 6 h' },
    })
    h.ok(cmd({ op: 'group.setTarget', name: 'web', target: 'online' }))
    expect(group('web')).toMatchObject({ failed: null, failovers: [] })
  })

  it('restores groups written before these fields existed, with their defaults', () => {
    const snap = h.db.snapshot()
    for (const [, record] of snap.records) {
      if (record.kind !== 'group') continue
      const old = record as unknown as Record<string, unknown>
      for (const field of [
        'lastOwner',
        'moving',
        'failoverThreshold',
        'failoverPeriodMs',
        'failovers',
        'failbacks',
        'failed',
      ])
        delete old[field]
    }
    const restored = ClusterDatabase.restore(snap)
    expect(restored.group('web')).toEqual(group('web'))
  })
})

describe('node.add and node.evict', () => {
  const add = (name: string, peerId: string, address: string) =>
    cmd({ op: 'node.add', name, site: 'north', votes: 1, peerId, address })

  it('adds a member (and its new site), refusing a taken name, peer ID or address', () => {
    const db = new ClusterDatabase()
    db.apply(1, bootstrapCommand())
    const r = db.apply(2, add('n4', peers['4'], '/ip4/10.0.0.4/tcp/7000'))
    expect(r).toEqual({ ok: true, changed: ['nodes/n4', 'sites/north'] })
    expect(db.node('n4')).toMatchObject({ site: 'north', votes: 1, peerId: peers['4'] })
    expect(db.apply(3, add('n4', peers['5'], '/ip4/10.0.0.5/tcp/7000'))).toMatchObject({
      ok: false,
      reason: 'conflict',
      path: 'name',
    })
    expect(db.apply(4, add('n5', peers['3'], '/ip4/10.0.0.5/tcp/7000'))).toMatchObject({
      ok: false,
      reason: 'conflict',
      path: 'peerId',
    })
    expect(db.apply(5, add('n5', peers['5'], '/ip4/10.0.0.1/tcp/7000'))).toMatchObject({
      ok: false,
      reason: 'conflict',
      path: 'address',
    })
    expect(db.apply(6, add('w1', peers['6'], '/ip4/10.0.0.6/tcp/7000'))).toMatchObject({
      ok: false,
      message: 'w1 is the witness',
    })
  })

  it('evicts a member for good: no vote, its groups leaving it, and its name and key stay refused', () => {
    const db = new ClusterDatabase()
    db.apply(1, bootstrapCommand())
    db.apply(2, groupCreate('web'))
    db.apply(3, cmd({ op: 'group.assign', name: 'web', expect: held(db, 'web'), owner: 'n3' }))
    const r = db.apply(4, cmd({ op: 'node.evict', name: 'n3' }))
    expect(r).toEqual({ ok: true, changed: ['nodes/n3', 'groups/web'] })
    expect(db.node('n3')).toMatchObject({ evicted: true, votes: 0 })
    // Not taken from it: held until it releases it or its lease has certainly ended.
    expect(db.group('web')).toMatchObject({
      owner: 'n3',
      moving: { to: null, avoid: 'n3', kind: 'failover', reason: 'n3 was evicted' },
    })
    expect(db.apply(5, cmd({ op: 'node.evict', name: 'n3' }))).toMatchObject({
      ok: false,
      reason: 'conflict',
    })
    expect(db.apply(6, add('n3', peers['9'], '/ip4/10.0.0.9/tcp/7000'))).toMatchObject({
      ok: false,
      message: 'node n3 was evicted; pick a new name',
    })
    expect(db.apply(7, add('n9', peers['3'], '/ip4/10.0.0.9/tcp/7000'))).toMatchObject({
      ok: false,
      message: 'peer ID already belongs to n3 (evicted)',
    })
    expect(db.apply(8, cmd({ op: 'node.evict', name: 'nope' }))).toMatchObject({
      ok: false,
      reason: 'not-found',
    })
    expect(
      db.apply(
        9,
        cmd({ op: 'group.assign', name: 'web', expect: held(db, 'web'), owner: 'n3', kind: 'failover' }),
      ),
    ).toMatchObject({
      ok: false,
      message: 'node n3 is evicted',
    })
  })

  it('pauses a member: it keeps its groups and vote but takes no new group; resume undoes it', () => {
    const db = new ClusterDatabase()
    db.apply(1, bootstrapCommand())
    db.apply(2, groupCreate('web'))
    db.apply(3, groupCreate('db'))
    db.apply(4, cmd({ op: 'group.assign', name: 'web', expect: held(db, 'web'), owner: 'n2' }))
    expect(db.apply(5, cmd({ op: 'node.setPaused', name: 'n2', paused: true }))).toEqual({
      ok: true,
      changed: ['nodes/n2'],
    })
    expect(db.node('n2')).toMatchObject({ paused: true, votes: 1 })
    expect(db.group('web')?.owner).toBe('n2')
    expect(
      db.apply(6, cmd({ op: 'group.assign', name: 'db', expect: held(db, 'db'), owner: 'n2' })),
    ).toMatchObject({
      ok: false,
      reason: 'conflict',
      message: 'node n2 is paused; it takes no new groups',
    })
    // Its own group may be re-recorded with it (no new ownership), and pausing twice changes nothing.
    expect(
      db.apply(
        7,
        cmd({ op: 'group.assign', name: 'web', expect: held(db, 'web'), owner: 'n2', kind: 'failover' }),
      ).ok,
    ).toBe(true)
    expect(db.apply(8, cmd({ op: 'node.setPaused', name: 'n2', paused: true }))).toEqual({
      ok: true,
      changed: [],
    })
    expect(db.apply(9, cmd({ op: 'node.setPaused', name: 'n2', paused: false })).ok).toBe(true)
    expect(db.node('n2')?.paused).toBeUndefined()
    expect(
      db.apply(10, cmd({ op: 'group.assign', name: 'db', expect: held(db, 'db'), owner: 'n2' })).ok,
    ).toBe(true)
    expect(db.apply(11, cmd({ op: 'node.setPaused', name: 'nope', paused: true }))).toMatchObject({
      reason: 'not-found',
    })
  })
})

describe('the fencing floor', () => {
  it('tokens start above a raised floor, the floor only rises, and the highest token is kept', () => {
    h.ok(bootstrapCommand())
    h.ok(groupCreate('web'))
    h.ok(assign('web', 'n1'))
    const first = group('web').fencingToken
    expect(h.db.highestToken()).toBe(first)
    // Another history issued up to 100 (a forced epoch this one met): its token carries over.
    expect(h.ok(cmd({ op: 'cluster.raiseTokenFloor', floor: 100 }))).toEqual(['cluster'])
    expect(h.ok(cmd({ op: 'cluster.raiseTokenFloor', floor: 50 }))).toEqual([])
    expect(h.db.cluster()?.tokenFloor).toBe(100)
    expect(h.db.highestToken()).toBe(100)
    h.ok(assign('web', 'n2'))
    expect(group('web').fencingToken).toBe(101)
    h.ok(assign('web', 'n1'))
    expect(group('web').fencingToken).toBe(102)
    // And a snapshot carries it.
    expect(ClusterDatabase.restore(h.db.snapshot()).highestToken()).toBe(102)
  })
})
