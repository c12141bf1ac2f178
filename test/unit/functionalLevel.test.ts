/**
 * The cluster functional level: the table of which command kinds each level introduced, the
 * database's record of the level (raised only), and how a node that supports a lower level reads
 * entries above it (as a release that predates them: unreadable, with what to do).
 */
import { describe, expect, it } from 'vitest'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import {
  type Command,
  type CommandEnvelope,
  commandSchema,
  decodeEnvelope,
  encodeEnvelope,
} from '../../src/database/commands.ts'
import { applyCommitted } from '../../src/database/committedCommand.ts'
import {
  commandLevel,
  functionalLevelMax,
  functionalLevels,
  levelRefusal,
  opLevel,
} from '../../src/database/functionalLevel.ts'

const allOps = commandSchema.options.map((o) => o.shape.op.value)

const bootstrap = (functionalLevel?: number): Command => ({
  op: 'cluster.bootstrap',
  cluster: {
    name: 'geo',
    quorumModel: 'node-majority',
    ...(functionalLevel === undefined ? {} : { functionalLevel }),
  },
  sites: [{ name: 's1', nodes: [{ name: 'n1', votes: 1, peerId: null, address: null }] }],
  witness: null,
})

const entry = (command: Command): Uint8Array =>
  encodeEnvelope({ v: 1, by: 'admin@n1', at: 1, command } satisfies CommandEnvelope)

describe('the functional level table', () => {
  it('lists every command kind exactly once, at level 1 or above, levels numbered from 1', () => {
    const listed = functionalLevels.flatMap((l) => [...l.introduced])
    expect([...listed].sort()).toEqual([...allOps].sort())
    expect(new Set(listed).size).toBe(listed.length)
    expect(functionalLevels.map((l) => l.level)).toEqual(functionalLevels.map((_, i) => i + 1))
    expect(functionalLevelMax).toBe(functionalLevels.length)
  })

  it("level 1 is the first release's commands; this round's new ones are level 2", () => {
    for (const op of ['config.set', 'group.create', 'node.setPaused', 'cluster.raiseTokenFloor'] as const)
      expect(opLevel(op), op).toBe(1)
    for (const op of [
      'group.update',
      'resource.update',
      'maintenance.set',
      'cluster.restore',
      'constraint.add',
      'constraint.clear',
      'constraint.expire',
      'resource.cleanup',
      'alert.add',
      'alert.delete',
      'cluster.setLevel',
    ] as const)
      expect(opLevel(op), op).toBe(2)
  })

  it('a command needs its kind’s level; a bootstrap or a raise needs the level it sets', () => {
    expect(commandLevel({ op: 'config.set', key: 'a', value: 'b' })).toBe(1)
    expect(commandLevel({ op: 'maintenance.set', scope: 'cluster', subject: null, on: true })).toBe(2)
    expect(commandLevel(bootstrap())).toBe(1)
    expect(commandLevel(bootstrap(2))).toBe(2)
    expect(commandLevel({ op: 'cluster.setLevel', level: 5 })).toBe(5)
  })

  it('refuses a command above the cluster’s level, naming the level and the command to raise it', () => {
    const maintenance: Command = { op: 'maintenance.set', scope: 'group', subject: 'g', on: true }
    expect(levelRefusal(maintenance, 2)).toBeNull()
    expect(levelRefusal(maintenance, 1)).toMatch(
      /maintenance.set needs cluster functional level 2; the cluster is at level 1.*geocluster cluster upgrade-level/,
    )
    expect(levelRefusal({ op: 'config.set', key: 'a', value: 'b' }, 1)).toBeNull()
    // A raise is judged by its proposer (every member must support it), not by the level it leaves.
    expect(levelRefusal({ op: 'cluster.setLevel', level: 2 }, 1)).toBeNull()
  })
})

describe('the level in the cluster database', () => {
  it('is 1 for a cluster bootstrapped without one, and the bootstrapping node’s level otherwise', () => {
    const old = new ClusterDatabase()
    expect(old.apply(1, bootstrap()).ok).toBe(true)
    expect(old.functionalLevel()).toBe(1)
    const fresh = new ClusterDatabase()
    expect(fresh.apply(1, bootstrap(2)).ok).toBe(true)
    expect(fresh.functionalLevel()).toBe(2)
  })

  it('is raised, kept, never lowered, and carried by snapshots', () => {
    const db = new ClusterDatabase()
    expect(db.apply(1, { op: 'cluster.setLevel', level: 2 })).toMatchObject({ ok: false, reason: 'conflict' })
    db.apply(2, bootstrap())
    expect(db.apply(3, { op: 'cluster.setLevel', level: 2 })).toEqual({ ok: true, changed: ['cluster'] })
    expect(db.functionalLevel()).toBe(2)
    expect(db.apply(4, { op: 'cluster.setLevel', level: 2 })).toEqual({ ok: true, changed: [] })
    expect(db.apply(5, { op: 'cluster.setLevel', level: 1 })).toMatchObject({
      ok: false,
      reason: 'conflict',
      message: /at functional level 2, and a functional level is never lowered/,
    })
    expect(db.functionalLevel()).toBe(2)
    expect(ClusterDatabase.restore(db.snapshot()).functionalLevel()).toBe(2)
  })
})

describe('a node that supports a lower level', () => {
  it('reads level-1 entries, and finds a level-2 command unreadable with what to install', () => {
    const config = entry({ op: 'config.set', key: 'a', value: 'b' })
    expect(decodeEnvelope(config, 1).ok).toBe(true)
    const maintenance = entry({ op: 'maintenance.set', scope: 'cluster', subject: null, on: true })
    expect(decodeEnvelope(maintenance).ok).toBe(true)
    expect(decodeEnvelope(maintenance, 1)).toMatchObject({
      ok: false,
      known: false,
      problem:
        /maintenance.set: a command of functional level 2, but this node supports at most level 1: install a release that supports level 2/,
    })
    // Even with a field wrong: an older release does not know the kind at all.
    const damaged = new TextEncoder().encode(
      JSON.stringify({ v: 1, by: 'x', at: 1, command: { op: 'alert.delete', name: '!' } }),
    )
    expect(decodeEnvelope(damaged)).toMatchObject({ ok: false, known: true })
    expect(decodeEnvelope(damaged, 1)).toMatchObject({ ok: false, known: false })
  })

  it('stops at a raise or a bootstrap above its level: the committed entry is unreadable', () => {
    for (const command of [{ op: 'cluster.setLevel', level: 2 } as const, bootstrap(2)]) {
      const outcome = applyCommitted(new ClusterDatabase(), 1, entry(command), 1)
      expect(outcome).toMatchObject({
        kind: 'unreadable',
        problem:
          /the cluster is at functional level 2, but this node supports at most level 1: install a release that supports level 2/,
      })
    }
    // This build reads a raise to a level it supports, and one beyond it the same way.
    expect(applyCommitted(new ClusterDatabase(), 1, entry({ op: 'cluster.setLevel', level: 2 })).kind).toBe(
      'applied',
    )
    expect(
      applyCommitted(
        new ClusterDatabase(),
        1,
        entry({ op: 'cluster.setLevel', level: functionalLevelMax + 1 }),
      ).kind,
    ).toBe('unreadable')
  })
})
