/**
 * No committed entry can take a node down (issue: hardening, item 1). Every command kind, with
 * hostile fields (fast-check, seeded), goes through what a node does with it: the proposal check
 * (`commandSchema`, run by every node before proposing), then the real apply path
 * (`applyCommitted`), whether the check let it through or not (an entry committed before a check
 * existed); then the mesh is given the resulting members and sends to each. Nothing may throw,
 * and every address the database holds must be one the mesh can dial.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import fc from 'fast-check'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { type Command, type CommandOp, commandSchema } from '../../src/database/commands.ts'
import { applyCommitted } from '../../src/database/committedCommand.ts'
import { commandLevel, functionalLevelMax } from '../../src/database/functionalLevel.ts'
import { memberAddressProblem, peerIdProblem } from '../../src/membership/memberAddress.ts'
import { Mesh } from '../../src/mesh/mesh.ts'

const peerA = '12D3KooWSn2HSHAtFHpEsEQBJFGRL4UPAKgc5Te4CGfBusA63g4Z'
const peerB = '12D3KooWMT7LDtkpxEH8rPTdnkRmhyAJtkdjXrPeFvWRARrqSjvP'

/** One valid command of every kind: the shapes the hostile ones are made from. */
const templates: Record<CommandOp, Record<string, unknown>> = {
  'cluster.bootstrap': {
    op: 'cluster.bootstrap',
    cluster: { name: 'geo', quorumModel: 'node-majority' },
    sites: [
      { name: 's1', nodes: [{ name: 'n1', votes: 1, peerId: peerA, address: '/ip4/127.0.0.1/tcp/7401' }] },
    ],
    witness: null,
  },
  'cluster.raiseTokenFloor': { op: 'cluster.raiseTokenFloor', floor: 40 },
  'cluster.setLevel': { op: 'cluster.setLevel', level: 2 },
  'maintenance.set': { op: 'maintenance.set', scope: 'group', subject: 'g1', on: true },
  'cluster.restore': {
    op: 'cluster.restore',
    source: {
      cluster: { name: 'geo', id: 'geo@1' },
      index: 9,
      term: 2,
      checksum: 'a'.repeat(64),
      highestToken: 7,
    },
    content: {
      groups: [
        {
          name: 'g1',
          preferredOwners: ['n1'],
          possibleOwners: [],
          failback: 'never',
          antiAffinity: [],
          target: 'online',
        },
      ],
      resources: [
        {
          name: 'r1',
          group: 'g1',
          type: 'generic-app',
          params: { command: 'sleep 1' },
          dependsOn: [],
          restartThreshold: 1,
          restartPeriodMs: 60_000,
          target: 'online',
        },
      ],
      config: [{ key: 'a/b', value: 'v' }],
      checkpoints: [],
    },
  },
  'config.set': { op: 'config.set', key: 'a/b', value: 'v' },
  'config.delete': { op: 'config.delete', key: 'a/b' },
  'group.create': {
    op: 'group.create',
    name: 'g1',
    preferredOwners: ['n1'],
    possibleOwners: [],
    failback: 'never',
    antiAffinity: [],
  },
  'group.update': {
    op: 'group.update',
    name: 'g1',
    preferredOwners: ['n1'],
    possibleOwners: ['n1'],
    failback: '22-06',
    antiAffinity: ['db'],
    failoverThreshold: null,
    failoverPeriodMs: 3_600_000,
  },
  'group.delete': { op: 'group.delete', name: 'g1' },
  'group.setTarget': { op: 'group.setTarget', name: 'g1', target: 'online' },
  'group.assign': { op: 'group.assign', name: 'g1', owner: 'n1', expect: { owner: null, token: 0 } },
  'group.move': {
    op: 'group.move',
    name: 'g1',
    expect: { owner: 'n1', token: 3 },
    to: null,
    kind: 'move',
    reason: 'r',
  },
  'group.release': { op: 'group.release', name: 'g1', token: 3 },
  'group.fail': { op: 'group.fail', name: 'g1', reason: 'r' },
  'resource.create': {
    op: 'resource.create',
    name: 'r1',
    group: 'g1',
    type: 'generic-app',
    params: { command: 'sleep 1' },
    dependsOn: [],
    restartThreshold: 1,
    restartPeriodMs: 60_000,
  },
  'resource.update': {
    op: 'resource.update',
    name: 'r1',
    params: { command: 'sleep 2', stopTimeoutMs: '100' },
    unset: [],
    restartThreshold: 2,
    restartPeriodMs: 60_000,
    restart: true,
  },
  'resource.delete': { op: 'resource.delete', name: 'r1' },
  'node.add': {
    op: 'node.add',
    name: 'n2',
    site: 's1',
    votes: 1,
    peerId: peerB,
    address: '/ip4/127.0.0.2/tcp/7402',
  },
  'node.evict': { op: 'node.evict', name: 'n2' },
  'node.setAddress': { op: 'node.setAddress', name: 'n1', address: '/ip4/127.0.0.1/tcp/7403' },
  'node.setPaused': { op: 'node.setPaused', name: 'n1', paused: true },
  'resource.setDependencies': { op: 'resource.setDependencies', name: 'r1', dependsOn: [] },
  'resource.setTarget': { op: 'resource.setTarget', name: 'r1', target: 'offline' },
  'alert.add': {
    op: 'alert.add',
    name: 'a1',
    to: { kind: 'webhook', url: 'http://127.0.0.1:9/hook' },
    events: ['resource:*'],
    severities: ['error'],
    timeoutMs: 1000,
    attempts: 3,
  },
  'alert.delete': { op: 'alert.delete', name: 'a1' },
  'resource.checkpoint': {
    op: 'resource.checkpoint',
    name: 'r1',
    node: 'n1',
    at: 1,
    files: [{ path: '/tmp/x', data: 'aGk=' }],
  },
  'resource.markFailed': { op: 'resource.markFailed', name: 'r1', reason: 'r' },
  'constraint.add': { op: 'constraint.add', name: 'g1', node: 'n1', rule: 'ban', expiresAt: 9, at: 1 },
  'constraint.clear': { op: 'constraint.clear', name: 'g1', node: null },
  'resource.cleanup': { op: 'resource.cleanup', names: ['r1'], node: null },
  'constraint.expire': { op: 'constraint.expire', name: 'g1', node: 'n1', expiresAt: 9, at: 10 },
}

const ops = Object.keys(templates) as CommandOp[]

/** Values that have crashed or could crash a node when they reached the log. */
const hostileValue = fc.oneof(
  fc.constantFrom(
    '/ip4/127.0.0.1/tcp/99999',
    '/ip4/999.1.1.1/tcp/7400',
    '/ip6/zz/tcp/7400',
    '/ip4/127.0.0.1/tcp/0',
    '/dns4/-x-/tcp/1',
    '/ip4/127.0.0.1/tcp/7400/p2p/QmNotAPeer',
    '/unix/tmp/x',
    'QmNotAPeer',
    '12D3KooW',
    '__proto__',
    'constructor',
    '../../etc/passwd',
    '',
    'x'.repeat(70_000),
    '\u0000',
    -1,
    0,
    2 ** 53,
    1e308,
    Number.MAX_SAFE_INTEGER,
    true,
    null,
  ),
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 4 }),
)

/** Sets `value` at a path in a copy of `base` (fields of nested objects and array items too). */
function mutate(base: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value
  const [head, ...rest] = path
  const copy = (Array.isArray(base) ? [...base] : { ...(base as object) }) as Record<string | number, unknown>
  copy[head!] = mutate(copy[head!], rest, value)
  return copy
}

function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== 'object') return [prefix]
  const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v)
  return [prefix, ...keys.flatMap((k) => paths((v as Record<string | number, unknown>)[k], [...prefix, k]))]
}

/** Values a real command could hold, so mutated commands also pass the check and reach the database. */
const plausibleValue = fc.constantFrom<unknown>(
  'n1',
  'n2',
  'n3',
  'g1',
  'g2',
  'r1',
  'r2',
  's1',
  's2',
  'online',
  'offline',
  'move',
  1,
  2,
  3,
  60_000,
  null,
  true,
  false,
  [],
  ['n1'],
  ['n2', 'n1'],
  ['r1'],
  '/ip4/127.0.0.3/tcp/7405',
  '/dns4/node-3.example/tcp/7400',
  '/ip6/::1/tcp/7400',
  peerA,
  peerB,
)

const hostileCommand = fc
  .record({
    op: fc.constantFrom(...ops),
    pathPick: fc.nat(),
    value: fc.oneof({ arbitrary: hostileValue, weight: 2 }, { arbitrary: plausibleValue, weight: 3 }),
    extra: fc.option(fc.tuple(fc.string({ maxLength: 10 }), hostileValue), { nil: undefined }),
    /** Some commands go as they are: they pass the check and change the database. */
    asIs: fc.nat({ max: 9 }).map((n) => n < 3),
  })
  .map(({ op, pathPick, value, extra, asIs }) => {
    const base = templates[op]
    if (asIs) return base
    const candidates = paths(base).filter((p) => p.length > 0 && p[0] !== 'op')
    let c = mutate(base, candidates[pathPick % candidates.length]!, value) as Record<string, unknown>
    if (extra !== undefined) c = { ...c, [extra[0]]: extra[1] }
    return c
  })

/** A database with a cluster, a group and a resource, so commands have something to act on. */
function populated(): ClusterDatabase {
  const db = new ClusterDatabase()
  let i = 0
  for (const op of ['cluster.bootstrap', 'group.create', 'resource.create'] as const) {
    const r = db.apply(++i, commandSchema.parse(templates[op]) as Command)
    expect(r.ok).toBe(true)
  }
  return db
}

const encode = (command: unknown) =>
  new TextEncoder().encode(JSON.stringify({ v: 1, by: 'admin@n1', at: 1, command }))

describe('hostile commands through the proposal check and the real apply path', () => {
  it('every template is a valid command (so the mutations start from real shapes)', () => {
    for (const op of ops) expect(commandSchema.safeParse(templates[op]).success, op).toBe(true)
  })

  it('the addresses that crashed every node are refused at proposal and refused, not applied, when already committed', () => {
    for (const address of ['/ip4/127.0.0.1/tcp/99999', '/ip4/999.1.1.1/tcp/7400', '/ip6/zz/tcp/7400']) {
      for (const command of [
        { ...templates['node.add'], address },
        { ...templates['node.setAddress'], address },
      ] as { op: CommandOp; address: string }[]) {
        expect(commandSchema.safeParse(command).success).toBe(false)
        const db = populated()
        const outcome = applyCommitted(db, 4, encode(command))
        expect(outcome.kind).toBe('refused')
        expect(db.appliedIndex).toBe(4)
        expect(db.nodes().map((n) => n.address)).toEqual(['/ip4/127.0.0.1/tcp/7401'])
        expect(db.auditTrail().at(-1)).toMatchObject({ index: 4, ok: false, op: command.op })
      }
    }
  })

  it('survives every command kind with hostile fields; every committed address can be dialled', async () => {
    const key = await generateKeyPair('Ed25519')
    const mesh = new Mesh({
      self: 'n1',
      privateKey: key,
      psk: new Uint8Array(95),
      listen: [],
      logger: pino({ level: 'silent' }),
      onFrame: () => true,
      onRequest: async () => new Uint8Array(),
      onCatchUp: () => ({ frame: () => 'refused', closed: () => {} }),
    })
    const counts = { accepted: 0, refusedAtProposal: 0, appliedOk: 0, refusedAtApply: 0 }
    fc.assert(
      fc.property(fc.array(hostileCommand, { minLength: 1, maxLength: 8 }), (commands) => {
        const db = populated()
        let index = db.appliedIndex
        for (const c of commands) {
          const checked = commandSchema.safeParse(c)
          if (checked.success) counts.accepted++
          else counts.refusedAtProposal++
          // Whether or not the check let it through, applying what was committed never throws.
          const outcome = applyCommitted(db, ++index, encode(checked.success ? checked.data : c))
          // Only a functional level above this build's stops a node (it could not follow the others).
          if (checked.success && commandLevel(checked.data) > functionalLevelMax) {
            expect(outcome.kind).toBe('unreadable')
            continue
          }
          expect(outcome.kind).not.toBe('unreadable')
          if (outcome.kind === 'applied' && outcome.result.ok) counts.appliedOk++
          else counts.refusedAtApply++
          if (!checked.success) expect(outcome.kind).toBe('refused')
        }
        for (const n of db.nodes()) {
          if (n.address !== null) expect(memberAddressProblem(n.address), n.address).toBeNull()
          if (n.peerId !== null) expect(peerIdProblem(n.peerId), n.peerId).toBeNull()
        }
        // The database still snapshots and restores.
        const again = ClusterDatabase.restore(db.snapshot())
        expect(again.appliedIndex).toBe(db.appliedIndex)
        // And the mesh takes its members and sends to each without throwing.
        const members = db
          .nodes()
          .map((n) => ({ name: n.name, peerId: n.peerId ?? '', address: n.address ?? '' }))
        mesh.setPeers(members)
        for (const m of members) mesh.send('heartbeat', m.name, new Uint8Array([1]))
      }),
      { seed: 20261202, numRuns: 1500 },
    )
    // The run exercised both sides of the check (the counts say what it checked).
    console.log(`hostile commands: ${JSON.stringify(counts)}`)
    expect(counts.accepted).toBeGreaterThan(1000)
    expect(counts.refusedAtProposal).toBeGreaterThan(2000)
    expect(counts.appliedOk).toBeGreaterThan(300)
  })
})
