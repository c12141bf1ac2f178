/**
 * A rolling upgrade for real (issue 16): 2 sites × 2 nodes + a witness start as the older
 * release — this tree with the test-only GEOCLUSTER_TEST_MAX_LEVEL=1, which makes a member
 * advertise and read functional level 1 only — and are upgraded one at a time (node drain, stop,
 * start without the variable, node resume; the witness last) while groups run and config keys
 * are written throughout. A level-2 command is refused until `cluster upgrade-level`, which is
 * itself refused while a laggard remains; afterwards no acknowledged write is missing on any
 * node, a group never ran on two nodes at once nor failed, and a node that would start at level 1
 * again is stopped with what to install. GEOCLUSTER_KEEP_LOGS=DIR keeps every member's log there.
 */
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { destroyGeoClusters, GeoCluster, twoByTwoWithWitness } from '../support/geoCluster.ts'
import { episodes, overlaps, readProbe, tokensIncrease } from '../support/probeLog.ts'
import { cleanUp, jsonOf, repoRoot, waitFor } from '../support/processes.ts'

let c: GeoCluster
/** Members running the new release (started without the test-only level). */
const upgraded = new Set<string>()
/** Members to start as the older release even so (the start check's case). */
const downgraded = new Set<string>()
const probe = join(repoRoot, 'test/support/probe.ts')
const groups = ['web', 'db'] as const

beforeAll(async () => {
  c = await GeoCluster.create({
    ...twoByTwoWithWitness,
    // A busy machine (the tests share it) may be slow to start five processes at once.
    startTimeoutMs: 90_000,
    env: (name) => ({
      GEOCLUSTER_TEST_MAX_LEVEL: upgraded.has(name) && !downgraded.has(name) ? '' : '1',
    }),
  })
  await c.startAll()
  await c.waitQuorate(c.names())
}, 180_000)

afterAll(async () => {
  if (process.env.GEOCLUSTER_KEEP_LOGS !== undefined) c?.keepLogs(process.env.GEOCLUSTER_KEEP_LOGS)
  await destroyGeoClusters()
  await cleanUp()
})

const running = () => c.names().filter((n) => c.member(n).proc !== null && c.member(n).url !== null)
const file = (group: string) => join(c.dir, `${group}.probe`)

/** A CLI command through a running node other than `not`; it must succeed. */
async function ok(args: string[], not?: string): Promise<string> {
  const via = running().find((n) => n !== not)!
  const r = await c.cli(via, args)
  expect(r.code, `${args.join(' ')} via ${via}: ${r.stderr}`).toBe(0)
  return r.stdout
}

async function status(not?: string): Promise<StatusDocument> {
  for (const n of running().filter((m) => m !== not)) {
    const s = await c.status(n)
    if (s !== null && s.cluster.quorum.state === 'quorate') return s
  }
  throw new Error('no quorate node answered')
}

/** Every group online, none of them on `away`. */
async function groupsOnline(away?: string): Promise<void> {
  let last: StatusDocument | null = null
  await waitFor(
    `groups online${away === undefined ? '' : ` off ${away}`}`,
    async () => {
      const s = await status(away).catch(() => null)
      last = s ?? last
      return (
        s !== null &&
        groups.every((g) => {
          const group = s.groups.find((x) => x.name === g)
          return group?.state === 'online' && group.owner !== away
        })
      )
    },
    30_000,
    100,
  ).catch((error: Error) => {
    const seen = (last as StatusDocument | null)?.groups.map((g) => ({
      ...g,
      resources: g.resources.map((r) => r.state),
    }))
    throw new Error(`${error.message}; last seen: ${JSON.stringify(seen)}`)
  })
}

/** Writes config keys through whichever node answers, and keeps those acknowledged. */
function startWriter() {
  const acked = new Map<string, string>()
  let writing = true
  let attempts = 0
  const done = (async () => {
    for (let i = 1; writing && i <= 100_000; i++) {
      const nodes = running()
      const via = nodes[i % nodes.length]
      attempts++
      if (via !== undefined) {
        const r = await c.api(via, 'PUT', `/v1/config/upgrade/k${i}`, { value: `v${i}` }).catch(() => null)
        if (r?.status === 200) acked.set(`upgrade/k${i}`, `v${i}`)
      }
      await sleep(40)
    }
  })()
  return {
    acked,
    attempts: () => attempts,
    stop: async () => {
      writing = false
      await done
    },
  }
}

/** Samples the groups' states as long as it runs: a group must never be failed. */
function startWatch() {
  const failed: string[] = []
  let watching = true
  const done = (async () => {
    for (let i = 0; watching && i < 100_000; i++) {
      const s = await status().catch(() => null)
      for (const g of s?.groups ?? [])
        if (g.state === 'failed') failed.push(`${g.name}: ${JSON.stringify(g)}`)
      await sleep(250)
    }
  })()
  return {
    failed,
    stop: async () => {
      watching = false
      await done
    },
  }
}

async function upgradeLevel(): Promise<{ code: number | null; doc: Record<string, unknown> }> {
  const via = running()[0]!
  const r = await c.cli(via, ['cluster', 'upgrade-level', '--json'])
  return { code: r.code, doc: jsonOf<Record<string, unknown>>(r) }
}

/** One member to the new release: drained, stopped, started without the old level, resumed. */
async function upgrade(name: string): Promise<void> {
  const m = c.member(name)
  if (m.kind === 'node') {
    await ok(['node', 'drain', name], name)
    await groupsOnline(name)
  }
  await c.kill(name, 'SIGTERM')
  upgraded.add(name)
  await c.start(name)
  await c.waitQuorate(c.names(), 30_000)
  if (m.kind === 'node') await ok(['node', 'resume', name], name)
  await groupsOnline()
}

describe('a rolling upgrade across a functional level', () => {
  it('mixed releases run the cluster; the level rises only after the last member, and then level-2 commands are taken', async () => {
    const before = await status()
    expect(before.cluster.functionalLevel).toBe(1)
    for (const [name, preferred] of [
      ['web', ['atl-1', 'atl-2', 'phx-1', 'phx-2']],
      ['db', ['phx-1', 'phx-2', 'atl-1', 'atl-2']],
    ] as const) {
      await ok(['group', 'create', name, '--preferred-owners', preferred.join(','), '--failback', 'never'])
      await ok([
        'resource',
        'create',
        `${name}-probe`,
        '--group',
        name,
        '--type',
        'generic-app',
        '--param',
        `command=${process.execPath} ${probe} ${file(name)}`,
      ])
      await ok(['group', 'online', name])
    }
    await groupsOnline()

    const writer = startWriter()
    const watch = startWatch()
    try {
      // A command of level 2 is refused by the level-1 cluster, saying what to do.
      const refused = await c.cli(running()[0]!, ['maintenance', 'on', '--group', 'web'])
      expect(refused.code, refused.stderr).toBe(1)
      expect(refused.stderr).toMatch(
        /maintenance.set needs cluster functional level 2; the cluster is at level 1.*geocluster cluster upgrade-level/,
      )

      // Validate --live sees the older release everywhere.
      const mixed = jsonOf<{ live: { members: { node: string; supportedLevel: number | null }[] } }>(
        await c.cli(running()[0]!, ['validate', '--config', c.topologyFile, '--live', '--json']),
      )
      expect(mixed.live.members.map((m) => [m.node, m.supportedLevel])).toEqual([
        ['atl-1', 1],
        ['atl-2', 1],
        ['phx-1', 1],
        ['phx-2', 1],
        ['w1', 1],
      ])

      const order = ['atl-1', 'atl-2', 'phx-1', 'phx-2', 'w1']
      for (const [i, name] of order.entries()) {
        await upgrade(name)
        const behind = order.slice(i + 1)
        if (behind.length === 0) break
        // Still a laggard (or more): refused, naming each with its version and level.
        const r = await upgradeLevel()
        expect(r.code).toBe(1)
        const error = (r.doc as { error: { code: string; message: string } }).error
        expect(error.code).toBe('GC_ERR_FUNCTIONAL_LEVEL')
        for (const n of behind)
          expect(error.message).toMatch(new RegExp(`${n} \\(version \\S+\\) supports level 1`))
        expect((await status()).cluster.functionalLevel).toBe(1)
      }

      // The last member is done: the raise is accepted, and every member says it supports 2.
      const raised = await upgradeLevel()
      expect(raised.code).toBe(0)
      expect(raised.doc).toMatchObject({ level: 2, previous: 1, raised: true })
      expect(
        (raised.doc.members as { name: string; supportedLevel: number }[]).map((m) => m.supportedLevel),
      ).toEqual([2, 2, 2, 2, 2])
      for (const n of c.names())
        await waitFor(`${n} at level 2`, async () => (await c.status(n))?.cluster.functionalLevel === 2)
      await ok(['maintenance', 'on', '--group', 'web'])
      expect((await status()).groups.find((g) => g.name === 'web')?.maintenance).toBe(true)
      await ok(['maintenance', 'off', '--group', 'web'])
      // Never lowered.
      const down = await c.cli(running()[0]!, ['cluster', 'upgrade-level', '--level', '1'])
      expect(down.code).toBe(1)
      expect(down.stderr).toMatch(/a functional level is never lowered/)

      const live = jsonOf<{ live: { functionalLevel: { cluster: number; supportedByAll: number } } }>(
        await c.cli(running()[0]!, ['validate', '--config', c.topologyFile, '--live', '--json']),
      )
      expect(live.live.functionalLevel).toEqual({ cluster: 2, supportedByAll: 2 })
    } finally {
      await writer.stop()
      await watch.stop()
    }

    // No acknowledged write is lost: every node holds every one of them.
    expect(writer.acked.size).toBeGreaterThan(20)
    for (const n of c.names()) {
      const r = await c.api<{ entries: { key: string; value: string }[] }>(
        n,
        'GET',
        '/v1/config?prefix=upgrade/',
      )
      expect(r.status).toBe(200)
      const held = new Map(r.body.entries.map((e) => [e.key, e.value]))
      const missing = [...writer.acked].filter(([k, v]) => held.get(k) !== v)
      expect(missing, `${n} lacks acknowledged writes`).toEqual([])
    }
    expect(watch.failed).toEqual([])
    for (const g of groups) {
      const eps = episodes(readProbe(file(g)))
      expect(overlaps(eps), JSON.stringify(eps)).toEqual([])
      expect(tokensIncrease(eps), JSON.stringify(eps)).toBe(true)
    }
  }, 300_000)

  it('a node started as the older release after the raise stops, naming the level and what to install', async () => {
    expect((await status()).cluster.functionalLevel, 'the cluster was raised to level 2 before').toBe(2)
    await ok(['node', 'drain', 'phx-2'], 'phx-2')
    await groupsOnline('phx-2')
    await c.kill('phx-2', 'SIGTERM')
    downgraded.add('phx-2')
    const refused = await c.start('phx-2').then(
      () => null,
      (e: Error) => e.message,
    )
    expect(refused).toMatch(
      /the cluster is at functional level 2, but this node supports at most level 1: install a release that supports level 2/,
    )
    expect(c.member('phx-2').lastExit?.code).toBe(1)
    downgraded.delete('phx-2')
    await c.start('phx-2')
    await c.waitQuorate(c.names(), 30_000)
    await ok(['node', 'resume', 'phx-2'], 'phx-2')
  }, 120_000)
})
