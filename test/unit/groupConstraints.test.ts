/**
 * Operators' placement constraints in the cluster database (src/database/groupConstraints.ts):
 * `group move --lifetime` (prefer), `group ban`, `group clear` and the leader's expiry, each
 * decided from the command alone so that every node applies them alike.
 */
import { describe, expect, it } from 'vitest'
import { type ApplyResult, ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { type Command, commandSchema } from '../../src/database/commands.ts'
import { constraintHolds, utcInstant } from '../../src/database/groupConstraints.ts'
import { paths } from '../../src/database/keySpace.ts'

const t0 = 1_700_000_000_000
const hour = 3_600_000

function cmd(c: Command): Command {
  const parsed = commandSchema.safeParse(c)
  if (!parsed.success) throw new Error(`test built an invalid command: ${parsed.error.message}`)
  return c
}

/** A cluster of three nodes n1..n3 with group `web` (possible owners as given). */
function cluster(possibleOwners: string[] = []) {
  const db = new ClusterDatabase()
  let index = 0
  const apply = (c: Command): ApplyResult => db.apply(++index, cmd(c))
  apply({
    op: 'cluster.bootstrap',
    cluster: { name: 'geo', quorumModel: 'node-majority' },
    sites: [
      {
        name: 'east',
        nodes: ['n1', 'n2', 'n3'].map((name, i) => ({
          name,
          votes: 1,
          peerId: null,
          address: `/ip4/10.0.0.${i + 1}/tcp/7000`,
        })),
      },
    ],
    witness: null,
  })
  expect(
    apply({
      op: 'group.create',
      name: 'web',
      preferredOwners: [],
      possibleOwners,
      failback: 'never',
      antiAffinity: [],
    }).ok,
  ).toBe(true)
  return { db, apply }
}

const ban = (node: string, expiresAt: number | null = null, at = t0): Command => ({
  op: 'constraint.add',
  name: 'web',
  node,
  rule: 'ban',
  expiresAt,
  at,
})
const prefer = (node: string, expiresAt: number | null, at = t0): Command => ({
  op: 'constraint.add',
  name: 'web',
  node,
  rule: 'prefer',
  expiresAt,
  at,
})

describe('adding constraints', () => {
  it('records a ban with its expiry, the time it was added and its log index', () => {
    const { db, apply } = cluster()
    expect(apply(ban('n1', t0 + hour))).toEqual({ ok: true, changed: [paths.constraint('web', 'n1')] })
    expect(db.constraints('web')).toEqual([
      { kind: 'constraint', group: 'web', node: 'n1', rule: 'ban', expiresAt: t0 + hour, at: t0, index: 3 },
    ])
    expect(db.constraints()).toHaveLength(1)
    expect(db.constraints('other')).toEqual([])
  })

  it('refuses a ban that would leave the group no node to run on, and says why', () => {
    const { db, apply } = cluster(['n1', 'n2'])
    expect(apply(ban('n1')).ok).toBe(true)
    const refused = apply(ban('n2'))
    expect(refused).toMatchObject({ ok: false, reason: 'conflict', path: 'node' })
    expect(refused.ok ? '' : refused.message).toMatch(/banning n2 would leave group web no node to run on/)
    expect(db.constraints('web').map((c) => c.node)).toEqual(['n1'])
  })

  it('counts only the bans that still hold at the command time', () => {
    const { apply } = cluster(['n1', 'n2'])
    expect(apply(ban('n1', t0 + hour)).ok).toBe(true)
    // n1's ban has expired by then (not yet removed): banning n2 leaves n1.
    expect(apply(ban('n2', null, t0 + 2 * hour)).ok).toBe(true)
  })

  it('refuses unknown groups and nodes, nodes that may not own the group, and lifetimes already over', () => {
    const { apply } = cluster(['n1', 'n2'])
    expect(apply({ ...ban('n1'), name: 'nope' } as Command)).toMatchObject({ ok: false, reason: 'not-found' })
    expect(apply(ban('n9'))).toMatchObject({ ok: false, reason: 'not-found', path: 'node' })
    expect(apply(ban('n3'))).toMatchObject({ ok: false, reason: 'conflict', path: 'node' })
    expect(apply(ban('n1', t0))).toMatchObject({ ok: false, reason: 'invalid', path: 'expiresAt' })
  })

  it('keeps one preference per group: a newer move replaces the older', () => {
    const { db, apply } = cluster()
    expect(apply(prefer('n1', t0 + hour)).ok).toBe(true)
    expect(apply(prefer('n2', t0 + hour))).toEqual({
      ok: true,
      changed: [paths.constraint('web', 'n1'), paths.constraint('web', 'n2')],
    })
    expect(db.constraints('web').map((c) => `${c.rule}:${c.node}`)).toEqual(['prefer:n2'])
  })

  it('refuses a preference for a banned node until the ban is cleared; a ban replaces a preference', () => {
    const { db, apply } = cluster()
    expect(apply(ban('n1', t0 + hour)).ok).toBe(true)
    const refused = apply(prefer('n1', t0 + hour))
    expect(refused.ok ? '' : refused.message).toMatch(
      /n1 is banned for group web .*geocluster group clear web/,
    )
    expect(apply(prefer('n1', t0 + 3 * hour, t0 + 2 * hour)).ok).toBe(true)
    expect(apply(ban('n1')).ok).toBe(true)
    expect(db.constraints('web').map((c) => `${c.rule}:${c.node}`)).toEqual(['ban:n1'])
  })
})

describe('clearing and expiring', () => {
  it('clear removes every constraint of the group, or those on one node', () => {
    const { db, apply } = cluster()
    apply(ban('n1'))
    apply(prefer('n2', t0 + hour))
    expect(apply({ op: 'constraint.clear', name: 'web', node: 'n1' })).toEqual({
      ok: true,
      changed: [paths.constraint('web', 'n1')],
    })
    expect(apply({ op: 'constraint.clear', name: 'web', node: null }).ok).toBe(true)
    expect(db.constraints()).toEqual([])
    // Nothing left to clear is not an error; no group is.
    expect(apply({ op: 'constraint.clear', name: 'web', node: null })).toEqual({ ok: true, changed: [] })
    expect(apply({ op: 'constraint.clear', name: 'nope', node: null })).toMatchObject({ reason: 'not-found' })
  })

  it("expiry is a compare-and-set on the record's expiry, and only once it is past", () => {
    const { db, apply } = cluster()
    apply(ban('n1', t0 + hour))
    const expire = (expiresAt: number, at: number): Command => ({
      op: 'constraint.expire',
      name: 'web',
      node: 'n1',
      expiresAt,
      at,
    })
    expect(apply(expire(t0 + hour, t0 + hour - 1))).toMatchObject({ ok: false, path: 'at' })
    // Renewed meanwhile (a new ban with a later expiry): a stale expiry changes nothing.
    apply(ban('n1', t0 + 2 * hour))
    expect(apply(expire(t0 + hour, t0 + hour))).toMatchObject({ ok: false, path: 'expiresAt' })
    expect(db.constraints()).toHaveLength(1)
    expect(apply(expire(t0 + 2 * hour, t0 + 2 * hour))).toEqual({
      ok: true,
      changed: [paths.constraint('web', 'n1')],
    })
    expect(apply(expire(t0 + 2 * hour, t0 + 2 * hour))).toMatchObject({ ok: false, reason: 'not-found' })
  })

  it('deleting a group deletes its constraints; snapshots carry them', () => {
    const { db, apply } = cluster()
    apply(ban('n1'))
    const restored = ClusterDatabase.restore(db.snapshot())
    expect(restored.constraints()).toEqual(db.constraints())
    expect(apply({ op: 'group.delete', name: 'web' })).toEqual({
      ok: true,
      changed: [paths.group('web'), paths.constraint('web', 'n1')],
    })
    expect(db.constraints()).toEqual([])
  })

  it('a constraint holds until its expiry instant, or forever without one', () => {
    expect(constraintHolds({ expiresAt: null }, t0)).toBe(true)
    expect(constraintHolds({ expiresAt: t0 }, t0 - 1)).toBe(true)
    expect(constraintHolds({ expiresAt: t0 }, t0)).toBe(false)
  })

  it('messages give instants in UTC, as Date would', () => {
    for (const ms of [0, t0, t0 + 12_345_678, Date.UTC(2000, 1, 29, 23, 59, 59), Date.UTC(2100, 11, 31)])
      expect(utcInstant(ms)).toBe(new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'))
  })

  it('the command schema refuses what is not a constraint', () => {
    const bad = [
      { ...ban('n1'), rule: 'avoid' },
      { ...ban('n1'), expiresAt: -1 },
      { ...ban('n1'), at: 2 ** 60 },
      { ...ban('n1'), node: '../x' },
      { op: 'constraint.clear', name: 'web' },
    ]
    for (const b of bad) expect(commandSchema.safeParse(b).success).toBe(false)
  })
})
