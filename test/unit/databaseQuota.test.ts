/**
 * The cluster database has limits (issue: hardening, item 7): what would take it past one is
 * refused on every node alike, with a reason an operator can act on, and the API says 413.
 */
import { describe, expect, it } from 'vitest'
import { refusalError } from '../../src/api/apiError.ts'
import { ClusterDatabase, databaseLimits, type Refusal } from '../../src/database/clusterDatabase.ts'
import type { Command } from '../../src/database/commands.ts'

function bootstrapped(): { db: ClusterDatabase; next: () => number } {
  const db = new ClusterDatabase()
  let index = 0
  const next = () => ++index
  db.apply(next(), {
    op: 'cluster.bootstrap',
    cluster: { name: 'c', quorumModel: 'local' },
    sites: [{ name: 's', nodes: [{ name: 'n1', votes: 1, peerId: null, address: null }] }],
    witness: null,
  })
  return { db, next }
}

describe('database limits', () => {
  it('refuses config past its byte quota, says how full it is, and takes writes again after a delete', () => {
    const { db, next } = bootstrapped()
    const value = 'v'.repeat(60 * 1024)
    let refused: Refusal | null = null
    let i = 0
    for (; i < 2_000 && refused === null; i++) {
      const r = db.apply(next(), { op: 'config.set', key: `big/k${i}`, value })
      if (!r.ok) refused = r
    }
    expect(refused).toMatchObject({ reason: 'quota', path: 'value' })
    expect(refused!.message).toMatch(/^config would hold more than 64\.0 MiB \(it holds 6\d\.\d MiB\)$/)
    expect(db.usage().configBytes).toBeLessThanOrEqual(databaseLimits.configBytesMax)
    // Replacing a key with a value of the same size, or a smaller one, is not growth.
    expect(db.apply(next(), { op: 'config.set', key: 'big/k0', value }).ok).toBe(true)
    expect(db.apply(next(), { op: 'config.set', key: `big/k${i}`, value }).ok).toBe(false)
    expect(db.apply(next(), { op: 'config.delete', key: 'big/k1' }).ok).toBe(true)
    expect(db.apply(next(), { op: 'config.set', key: `big/k${i}`, value }).ok).toBe(true)
    const e = refusalError(refused!)
    expect(e).toMatchObject({ code: 'GC_ERR_QUOTA', path: 'body.value' })
    expect(e.httpStatus).toBe(413)
  })

  it('refuses a new config key past the key count; the usage survives a snapshot and restore', () => {
    const { db, next } = bootstrapped()
    for (let i = 0; i < databaseLimits.configKeysMax; i++)
      expect(db.apply(next(), { op: 'config.set', key: `k/${i}`, value: '' }).ok).toBe(true)
    expect(db.apply(next(), { op: 'config.set', key: 'k/one-more', value: '' })).toMatchObject({
      ok: false,
      reason: 'quota',
      message: `config holds ${databaseLimits.configKeysMax} keys, the most it may`,
    })
    // An existing key can still change.
    expect(db.apply(next(), { op: 'config.set', key: 'k/7', value: 'x' }).ok).toBe(true)
    const again = ClusterDatabase.restore(db.snapshot())
    expect(again.usage()).toEqual(db.usage())
  })

  it('refuses checkpoints past the quota of all resources together', () => {
    const { db, next } = bootstrapped()
    const commands: Command[] = [
      {
        op: 'group.create',
        name: 'g',
        preferredOwners: [],
        possibleOwners: [],
        failback: 'never',
        antiAffinity: [],
      },
      { op: 'group.assign', name: 'g', owner: 'n1', expect: { owner: null, token: 0 } },
    ]
    for (const c of commands) expect(db.apply(next(), c).ok).toBe(true)
    const data = Buffer.alloc(250 * 1024, 7).toString('base64')
    let refused: Refusal | null = null
    for (let i = 0; i < 400 && refused === null; i++) {
      expect(
        db.apply(next(), {
          op: 'resource.create',
          name: `r${i}`,
          group: 'g',
          type: 'generic-app',
          params: { command: 'x', checkpoint: '/var/state' },
          dependsOn: [],
          restartThreshold: 1,
          restartPeriodMs: 60_000,
        }).ok,
      ).toBe(true)
      const r = db.apply(next(), {
        op: 'resource.checkpoint',
        name: `r${i}`,
        node: 'n1',
        at: 1,
        files: [{ path: '/var/state', data }],
      })
      if (!r.ok) refused = r
    }
    expect(refused).toMatchObject({ reason: 'quota', path: 'files' })
    expect(refused!.message).toMatch(/^checkpoints would hold more than 64\.0 MiB in all/)
    expect(db.usage().checkpointBytes).toBeLessThanOrEqual(databaseLimits.checkpointBytesMax)
  })
})
