/**
 * Raising the functional level (runtime/levelUpgrade.ts) against a real cluster database: who
 * must support it, refused with the laggards named, never lowered; and a node's start check of
 * the level it recovered (startChecks.ts).
 */
import { describe, expect, it } from 'vitest'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { type Command, encodeEnvelope } from '../../src/database/commands.ts'
import type { AppliedCommand } from '../../src/database/committedCommand.ts'
import { functionalLevelMax } from '../../src/database/functionalLevel.ts'
import { GeoclusterError } from '../../src/errors/errors.ts'
import type { MemberReport } from '../../src/membership/memberReport.ts'
import { levelVoters, upgradeLevel } from '../../src/runtime/levelUpgrade.ts'
import { checkSupportsLevel } from '../../src/runtime/startChecks.ts'
import { supportedLevelFrom } from '../../src/runtime/supportedLevel.ts'

function cluster(): ClusterDatabase {
  const db = new ClusterDatabase()
  const bootstrap: Command = {
    op: 'cluster.bootstrap',
    cluster: { name: 'geo', quorumModel: 'node-and-witness' },
    sites: [
      { name: 'atl', nodes: [{ name: 'atl-1', votes: 1, peerId: null, address: null }] },
      {
        name: 'phx',
        nodes: [
          { name: 'phx-1', votes: 1, peerId: null, address: null },
          // A node without a vote must follow the log too.
          { name: 'phx-2', votes: 0, peerId: null, address: null },
        ],
      },
    ],
    witness: { name: 'w1', site: 'tie', type: 'node', votes: 1, peerId: null, address: null, path: null },
  }
  expect(db.apply(1, bootstrap).ok).toBe(true)
  return db
}

const report = (
  node: string,
  supportedLevel: number | undefined,
  error: string | null = null,
): MemberReport => ({
  node,
  site: 's',
  version: supportedLevel === 2 ? '0.2.0' : '0.1.0',
  wallMs: 0,
  peers: {},
  offsetMs: error === null ? 0 : null,
  error,
  ...(supportedLevel === undefined ? {} : { supportedLevel }),
})

function partsFor(db: ClusterDatabase, reports: MemberReport[], supportedLevel = 2) {
  let index = db.appliedIndex
  return {
    name: 'atl-1',
    supportedLevel,
    read: async <T>(fn: (d: ClusterDatabase) => T) => fn(db),
    propose: async (command: Command): Promise<AppliedCommand> => {
      index++
      return { index, result: db.apply(index, command) }
    },
    membersReport: async () => reports,
  }
}

async function refusal(p: Promise<unknown>): Promise<GeoclusterError> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(GeoclusterError)
  return error as GeoclusterError
}

describe('cluster upgrade-level', () => {
  it('asks every node (voting or not) and the witness', () => {
    expect(levelVoters(cluster())).toEqual([
      { name: 'atl-1', role: 'node' },
      { name: 'phx-1', role: 'node' },
      { name: 'phx-2', role: 'node' },
      { name: 'w1', role: 'witness' },
    ])
  })

  it('is refused while a member is behind or silent, naming each with its version', async () => {
    const db = cluster()
    const e = await refusal(
      upgradeLevel(
        partsFor(db, [
          report('atl-1', 2),
          report('phx-1', 2),
          report('phx-2', undefined), // a release from before levels
          report('w1', undefined, 'no answer within 2 s'),
        ]),
        undefined,
        'admin',
      ),
    )
    expect(e.code).toBe('GC_ERR_FUNCTIONAL_LEVEL')
    expect(e.message).toBe(
      'cannot raise the functional level from 1 to 2: not every member supports it: phx-2 (version 0.1.0) supports level 1; w1 did not answer (no answer within 2 s). Upgrade them one at a time (drain, install, restart, resume), then run geocluster cluster upgrade-level again',
    )
    expect(db.functionalLevel()).toBe(1)
  })

  it('raises the level once all support it; again is no change; lowering is refused', async () => {
    const db = cluster()
    const all = ['atl-1', 'phx-1', 'phx-2', 'w1'].map((n) => report(n, 2))
    const raised = await upgradeLevel(partsFor(db, all), undefined, 'admin')
    expect(raised).toMatchObject({ level: 2, previous: 1, raised: true, index: 2 })
    expect(raised.members.map((m) => [m.name, m.supportedLevel])).toEqual([
      ['atl-1', 2],
      ['phx-1', 2],
      ['phx-2', 2],
      ['w1', 2],
    ])
    expect(db.functionalLevel()).toBe(2)
    expect(await upgradeLevel(partsFor(db, all), undefined, 'admin')).toMatchObject({
      level: 2,
      raised: false,
      index: null,
    })
    const down = await refusal(upgradeLevel(partsFor(db, all), 1, 'admin'))
    expect(down.message).toMatch(/at functional level 2: a functional level is never lowered/)
    const beyond = await refusal(upgradeLevel(partsFor(cluster(), all), 3, 'admin'))
    expect(beyond.message).toMatch(/atl-1 supports at most functional level 2/)
  })
})

describe('start check of the recovered level', () => {
  const entry = (index: number, command: Command) => ({
    index,
    term: 1,
    kind: 'command' as const,
    data: encodeEnvelope({ v: 1, by: 'admin@atl-1', at: 1, command }),
  })

  it('stops a node whose release is below the level its snapshot or committed log holds', () => {
    const db = cluster()
    const raise = entry(2, { op: 'cluster.setLevel', level: 2 })
    const recovered = (commit: number) => ({
      db,
      restore: {
        hardState: { term: 1, vote: null, commit },
        snapshot: { index: 1, term: 1 },
        entries: [raise],
      },
    })
    // Not yet committed: the level is still 1 as far as this node knows.
    expect(() => checkSupportsLevel(recovered(1), 1)).not.toThrow()
    expect(() => checkSupportsLevel(recovered(2), 1)).toThrow(
      'the cluster is at functional level 2, but this node supports at most level 1: install a release that supports level 2',
    )
    expect(() => checkSupportsLevel(recovered(2), 2)).not.toThrow()
    db.apply(2, { op: 'cluster.setLevel', level: 2 })
    const fromSnapshot = {
      db,
      restore: {
        hardState: { term: 1, vote: null, commit: 2 },
        snapshot: { index: 2, term: 1 },
        entries: [],
      },
    }
    expect(() => checkSupportsLevel(fromSnapshot, 1)).toThrow(/install a release that supports level 2/)
  })
})

describe('the test-only level (GEOCLUSTER_TEST_MAX_LEVEL)', () => {
  it("is this build's when unset, lowers it when set, and is refused when it is not a level", () => {
    expect(supportedLevelFrom({})).toBe(functionalLevelMax)
    expect(supportedLevelFrom({ GEOCLUSTER_TEST_MAX_LEVEL: '' })).toBe(functionalLevelMax)
    expect(supportedLevelFrom({ GEOCLUSTER_TEST_MAX_LEVEL: '1' })).toBe(1)
    for (const bad of ['0', 'two', '1.5', String(functionalLevelMax + 1)])
      expect(() => supportedLevelFrom({ GEOCLUSTER_TEST_MAX_LEVEL: bad }), bad).toThrow(
        /GEOCLUSTER_TEST_MAX_LEVEL=.*: expected a functional level from 1 to \d+ \(a test-only setting/,
      )
  })
})
