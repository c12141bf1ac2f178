/**
 * Backup and authoritative restore (issue 15, item 7): a backup holds the configuration with a
 * checksum; a damaged or foreign one is refused with the reason; a restore through the log
 * replaces groups, resources, config and checkpoints all at once or not at all, keeps
 * membership, and fencing tokens stay above every token ever issued.
 */
import { describe, expect, it } from 'vitest'
import { backupContent } from '../../src/database/clusterBackup.ts'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { type Command, commandSchema } from '../../src/database/commands.ts'
import { canonicalJson, checkBackup, restoreCommand, takeBackup } from '../../src/runtime/backupDocument.ts'

class Db {
  readonly db = new ClusterDatabase()
  private index = 0

  ok(c: Command): number {
    const parsed = commandSchema.safeParse(c)
    if (!parsed.success) throw new Error(`test built an invalid command: ${parsed.error.message}`)
    const result = this.db.apply(++this.index, c)
    if (!result.ok) throw new Error(`${c.op} refused: ${result.message}`)
    return this.index
  }

  apply(c: Command) {
    return this.db.apply(++this.index, c)
  }
}

function cluster(id = 'c-1'): Db {
  const h = new Db()
  h.ok({
    op: 'cluster.bootstrap',
    cluster: { name: 'geo', quorumModel: 'node-majority', id },
    sites: [
      {
        name: 'east',
        nodes: [
          { name: 'n1', votes: 1, peerId: null, address: '/ip4/127.0.0.1/tcp/7001' },
          { name: 'n2', votes: 1, peerId: null, address: '/ip4/127.0.0.1/tcp/7002' },
        ],
      },
    ],
    witness: null,
  })
  return h
}

const group = (name: string, preferred: string[] = []): Command => ({
  op: 'group.create',
  name,
  preferredOwners: preferred,
  possibleOwners: [],
  failback: 'never',
  antiAffinity: [],
})
const resource = (name: string, g: string, dependsOn: string[] = []): Command => ({
  op: 'resource.create',
  name,
  group: g,
  type: 'generic-app',
  params: { command: `run-${name}` },
  dependsOn,
  restartThreshold: 3,
  restartPeriodMs: 900_000,
})

/** A cluster with web (online, two resources, one depending on the other, one offline), db (offline), a config key, a checkpoint. */
function configured(): Db {
  const h = cluster()
  h.ok(group('web', ['n1']))
  h.ok(resource('ip', 'web'))
  h.ok(resource('app', 'web', ['ip']))
  h.ok(resource('extra', 'web'))
  h.ok(group('db'))
  h.ok(resource('pg', 'db'))
  h.ok({ op: 'config.set', key: 'app/mode', value: 'blue' })
  h.ok({ op: 'group.setTarget', name: 'web', target: 'online' })
  h.ok({ op: 'resource.setTarget', name: 'extra', target: 'offline' })
  h.ok({ op: 'group.assign', name: 'web', owner: 'n1', expect: { owner: null, token: 0 } })
  return h
}

function takeOffline(h: Db, name: string): void {
  const g = h.db.group(name)!
  h.ok({ op: 'group.setTarget', name, target: 'offline' })
  if (g.owner !== null) h.ok({ op: 'group.release', name, token: g.fencingToken })
}

const meta = { term: 3, takenAt: 1_700_000_000_000, takenBy: 'n1', version: '0.0.0-test' }

describe('backup', () => {
  it('holds the configuration with its index, term, cluster and a checksum of the content', () => {
    const h = configured()
    const b = takeBackup(h.db, meta)
    expect(b.index).toBe(h.db.appliedIndex)
    expect(b.term).toBe(3)
    expect(b.cluster).toEqual({ name: 'geo', id: 'c-1' })
    expect(b.checksum).toMatch(/^[0-9a-f]{64}$/)
    expect(b.content.groups.map((g) => [g.name, g.target])).toEqual([
      ['db', 'offline'],
      ['web', 'online'],
    ])
    expect(b.content.resources.find((r) => r.name === 'app')?.dependsOn).toEqual(['ip'])
    expect(b.content.config).toEqual([{ key: 'app/mode', value: 'blue' }])
    expect(b.highestToken).toBe(h.db.group('web')!.fencingToken)
    // It reads back as what it is.
    const check = checkBackup(JSON.stringify(b), h.db.cluster())
    expect(check).toEqual({ ok: true, backup: b })
  })

  it('a changed byte in the content, a missing field or another format is refused with the reason', () => {
    const h = configured()
    const b = takeBackup(h.db, meta)
    const changed = JSON.parse(JSON.stringify(b))
    changed.content.config[0].value = 'green'
    const damaged = checkBackup(JSON.stringify(changed), h.db.cluster())
    expect(damaged.ok).toBe(false)
    if (!damaged.ok)
      expect(damaged.problem).toMatch(
        /^damaged backup: its content's SHA-256 is [0-9a-f]{64}, the backup says/,
      )
    const { checksum: _, ...missing } = b
    const noSum = checkBackup(JSON.stringify(missing), h.db.cluster())
    expect(noSum.ok === false && noSum.problem).toMatch(/^damaged backup: checksum/)
    const cut = checkBackup(JSON.stringify(b).slice(0, 100), h.db.cluster())
    expect(cut.ok === false && cut.problem).toMatch(/^not a backup: not JSON/)
    const other = checkBackup(JSON.stringify({ ...b, format: 'etcd.snapshot' }), h.db.cluster())
    expect(other.ok === false && other.problem).toMatch(
      /format "etcd.snapshot", expected geocluster.backup\/1/,
    )
  })

  it('another cluster, even of the same name, is refused', () => {
    const b = takeBackup(configured().db, meta)
    const elsewhere = cluster('c-2')
    const check = checkBackup(JSON.stringify(b), elsewhere.db.cluster())
    expect(check.ok === false && check.problem).toMatch(
      /the backup is of cluster geo \(id c-1\), this is geo \(id c-2\)/,
    )
  })

  it('canonical JSON does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }] })).toBe(
      canonicalJson({ a: [{ c: null, d: 2 }], b: 1 }),
    )
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}')
  })
})

describe('authoritative restore', () => {
  it('puts back what the backup held, replaces what came after, keeps membership, and tokens only grow', () => {
    const h = configured()
    const b = takeBackup(h.db, meta)
    const tokenThen = h.db.group('web')!.fencingToken
    // After the backup: web moves on (a higher token), a group is added, a key changes.
    takeOffline(h, 'web')
    h.ok({ op: 'group.setTarget', name: 'web', target: 'online' })
    h.ok({ op: 'group.assign', name: 'web', owner: 'n2', expect: { owner: null, token: tokenThen } })
    const tokenLater = h.db.group('web')!.fencingToken
    expect(tokenLater).toBeGreaterThan(tokenThen)
    h.ok(group('later'))
    h.ok({ op: 'config.set', key: 'app/mode', value: 'green' })
    h.ok({ op: 'node.setPaused', name: 'n2', paused: true })
    // Everything offline and released, then the restore.
    takeOffline(h, 'web')
    const restoredAt = h.ok(restoreCommand(b))
    const db = h.db
    expect(db.groups().map((g) => g.name)).toEqual(['db', 'web'])
    expect(db.group('web')).toMatchObject({
      target: 'online',
      owner: null,
      fencingToken: 0,
      preferredOwners: ['n1'],
    })
    const web = db.resources('web').sort((x, y) => x.name.localeCompare(y.name))
    expect(web.map((r) => [r.name, r.target, r.dependsOn])).toEqual([
      ['app', 'online', ['ip']],
      ['extra', 'offline', []],
      ['ip', 'online', []],
    ])
    expect(db.configGet('app/mode')).toMatchObject({ value: 'blue', version: restoredAt })
    expect(backupContent(db)).toEqual(b.content)
    // Membership is the log's: n2 is still paused.
    expect(db.node('n2')?.paused).toBe(true)
    // The next owner's token is above every token issued, before and after the backup.
    expect(db.cluster()?.tokenFloor).toBe(tokenLater)
    const next = h.ok({ op: 'group.assign', name: 'web', owner: 'n1', expect: { owner: null, token: 0 } })
    expect(db.group('web')!.fencingToken).toBeGreaterThan(tokenLater)
    expect(db.group('web')!.fencingToken).toBeGreaterThanOrEqual(next)
  })

  it('is refused while any group is online or still held, and changes nothing', () => {
    const h = configured()
    const b = takeBackup(h.db, meta)
    const before = h.db.snapshot().records
    const online = h.apply(restoreCommand(b))
    expect(online).toMatchObject({ ok: false, reason: 'conflict' })
    expect(online.ok === false && online.message).toMatch(
      /a restore replaces every group: take web offline first/,
    )
    // Offline but not yet released: its owner may still be stopping it.
    h.ok({ op: 'group.setTarget', name: 'web', target: 'offline' })
    expect(h.apply(restoreCommand(b))).toMatchObject({ ok: false, reason: 'conflict' })
    const notWeb = ([p]: [string, unknown]) => p !== 'groups/web'
    expect(h.db.snapshot().records.filter(notWeb)).toEqual(before.filter(notWeb))
  })

  it('a backup this cluster cannot hold is refused whole, with the step and the reason', () => {
    const h = cluster()
    h.ok(group('web', ['n1']))
    const b = takeBackup(h.db, meta)
    h.ok({ op: 'group.delete', name: 'web' })
    h.ok(group('kept'))
    // A group preferring a node this cluster does not have (a backup edited, or from before a
    // node was replaced): the group's own check refuses it, and nothing of the restore is taken.
    const command = restoreCommand(b) as Extract<Command, { op: 'cluster.restore' }>
    command.content.groups[0]!.preferredOwners = ['n9']
    const result = h.apply(command)
    expect(result.ok).toBe(false)
    expect(result.ok === false && result.message).toMatch(
      /^the backup cannot be restored here: group.create web: .*n9/,
    )
    expect(h.db.groups().map((g) => g.name)).toEqual(['kept'])
  })

  it('a restore command naming another cluster is refused by the database itself', () => {
    const b = takeBackup(configured().db, meta)
    const elsewhere = cluster('c-2')
    const result = elsewhere.apply(restoreCommand(b))
    expect(result).toMatchObject({ ok: false, reason: 'invalid', path: 'source.cluster' })
  })

  it('restores checkpoints though no owner saved them now', () => {
    const h = cluster()
    h.ok(group('svc'))
    h.ok({
      op: 'resource.create',
      name: 'reg',
      group: 'svc',
      type: 'generic-app',
      params: { command: 'run', checkpoint: '/var/lib/app/state.json' },
      dependsOn: [],
      restartThreshold: 3,
      restartPeriodMs: 900_000,
    })
    h.ok({ op: 'group.setTarget', name: 'svc', target: 'online' })
    h.ok({ op: 'group.assign', name: 'svc', owner: 'n1', expect: { owner: null, token: 0 } })
    h.ok({
      op: 'resource.checkpoint',
      name: 'reg',
      node: 'n1',
      at: 5,
      files: [{ path: '/var/lib/app/state.json', data: Buffer.from('{"v":1}').toString('base64') }],
    })
    const b = takeBackup(h.db, meta)
    expect(b.content.checkpoints).toHaveLength(1)
    takeOffline(h, 'svc')
    h.ok({ op: 'resource.delete', name: 'reg' })
    h.ok(restoreCommand(b))
    expect(h.db.checkpoint('reg')).toMatchObject({ node: 'n1', at: 5, bytes: 7 })
  })
})
