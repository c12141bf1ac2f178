/**
 * Resource groups failing over between nodes and sites, never online twice: 2 sites × 2 nodes +
 * a witness as real processes behind the WAN emulator, with probe resources that append
 * `node fencingToken monotonicMs resource` every 20 ms to a shared file (test/support/probe.ts).
 * Every step checks the probe files: runs of different owners never overlap in time, and
 * fencing tokens strictly increase.
 *
 * Timing: heartbeats 100 ms, election timeout 1 s; fencing derived: a node stops its groups 2 s
 * after its last lease renewal (+250 ms to kill them), the leader moves a silent node's groups
 * after 2.6 s.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { destroyGeoClusters, GeoCluster, twoByTwoWithWitness } from '../support/geoCluster.ts'
import { episodes, overlaps, readProbe, tokensIncrease } from '../support/probeLog.ts'
import { cleanUp, repoRoot, waitFor } from '../support/processes.ts'

let c: GeoCluster
const probe = join(repoRoot, 'test/support/probe.ts')
const now = () => Number(process.hrtime.bigint() / 1_000_000n)

beforeAll(async () => {
  c = await GeoCluster.create(twoByTwoWithWitness)
  await c.startAll()
  await c.waitQuorate(c.names())
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

const file = (group: string) => join(c.dir, `${group}.probe`)

/** Through any node that answers (writes are forwarded to the leader). */
async function api<T>(method: string, path: string, body?: unknown, via?: string[]): Promise<T> {
  for (const n of via ?? c.names()) {
    if (c.member(n).proc === null) continue
    const r = await c.api<T>(n, method, path, body).catch(() => null)
    if (r !== null && r.status < 300) return r.body
    if (r !== null && r.status < 500 && r.status !== 503)
      throw new Error(`${method} ${path}: ${JSON.stringify(r.body)}`)
  }
  throw new Error(`${method} ${path}: no node answered`)
}

async function createGroup(name: string, preferredOwners: string[], failback: string, resources: string[][]) {
  await api('POST', '/v1/groups', { name, preferredOwners, failback })
  for (const [resource, ...dependsOn] of resources) {
    await api('POST', '/v1/resources', {
      name: resource,
      group: name,
      type: 'generic-app',
      params: { command: `${process.execPath} ${probe} ${file(name)}`, stopTimeoutMs: '3000' },
      dependsOn,
    })
  }
  await api('POST', `/v1/groups/${name}/online`, {})
}

const group = async (name: string, via?: string[]) =>
  (await api<StatusDocument>('GET', '/v1/status', undefined, via)).groups.find((g) => g.name === name)!

/** Waits for lines of `group` from `node` written after `since` (every resource, if given). */
async function linesFrom(
  groupName: string,
  node: string,
  since: number,
  resources: string[] = [],
  timeoutMs = 20_000,
) {
  return waitFor(
    `${groupName} running on ${node}`,
    () => {
      const mine = readProbe(file(groupName)).filter((l) => l.node === node && l.ms > since)
      const all = resources.every((r) => mine.some((l) => l.resource === r))
      return mine.length > 0 && all ? mine : undefined
    },
    timeoutMs,
  )
}

function expectOneOwnerAtATime(groupName: string) {
  const eps = episodes(readProbe(file(groupName)))
  expect(overlaps(eps), JSON.stringify(eps)).toEqual([])
  expect(tokensIncrease(eps), JSON.stringify(eps)).toBe(true)
  return eps
}

describe('a group fails over and never runs twice', () => {
  it('kill -9 of the owner: the next preferred owner takes it; failback when the owner returns', async () => {
    await createGroup('web', ['atl-1', 'atl-2', 'phx-1', 'phx-2'], 'immediate', [['web-probe']])
    await linesFrom('web', 'atl-1', 0)
    const killedAt = now()
    await c.kill('atl-1')
    const taken = await linesFrom('web', 'atl-2', killedAt)
    console.log(`web: kill -9 of its owner to the first probe line on atl-2: ${taken[0]!.ms - killedAt} ms`)
    expectOneOwnerAtATime('web')
    const events = JSON.parse((await c.cli('atl-2', ['events', '--json', '--limit', '500'])).stdout)
      .events as {
      type: string
      message: string
    }[]
    expect(
      events.some((e) => e.type === 'group:owner' && /atl-1 is down: failed over to atl-2/.test(e.message)),
    ).toBe(true)
    // Back home once atl-1 has been up a while (failback immediate): stopped on atl-2 first.
    const restartedAt = now()
    await c.start('atl-1')
    await linesFrom('web', 'atl-1', restartedAt, [], 30_000)
    const eps = expectOneOwnerAtATime('web')
    expect(eps.map((e) => e.node)).toEqual(['atl-1', 'atl-2', 'atl-1'])
  }, 90_000)

  it("SIGSTOP of the owner's node: its monitor fences the app before anyone else starts it; SIGCONT does not restart it", async () => {
    await createGroup('db', ['phx-1', 'phx-2', 'atl-1', 'atl-2'], 'never', [
      ['db-disk'],
      ['db-app', 'db-disk'],
    ])
    await linesFrom('db', 'phx-1', 0, ['db-disk', 'db-app'])
    const stoppedAt = now()
    await c.kill('phx-1', 'SIGSTOP')
    try {
      await linesFrom('db', 'phx-2', stoppedAt, ['db-disk', 'db-app'])
      // The hung node's app was stopped by its monitor alone before phx-2 started it.
      const eps = expectOneOwnerAtATime('db')
      expect(eps.map((e) => e.node)).toEqual(['phx-1', 'phx-2'])
    } finally {
      await c.kill('phx-1', 'SIGCONT')
    }
    const resumedAt = now()
    await waitFor('phx-1 back in the cluster', async () => {
      const s = await c.status('phx-1')
      return s?.cluster.quorum.state === 'quorate' && s.groups.find((g) => g.name === 'db')?.owner === 'phx-2'
    })
    await new Promise((r) => setTimeout(r, 3_000))
    expect(readProbe(file('db')).filter((l) => l.node === 'phx-1' && l.ms > resumedAt)).toEqual([])
    expectOneOwnerAtATime('db')
  }, 90_000)

  it("a partition leaves the owner's site in the minority: offline there, online on the majority, failback after healing", async () => {
    expect((await group('web')).owner).toBe('atl-1')
    const cutAt = now()
    c.wan.cut(['atl'], ['phx', 'tie'])
    try {
      await linesFrom('web', 'phx-1', cutAt)
      // The minority side stopped it (its lease ran out) before the majority side started it.
      expectOneOwnerAtATime('web')
    } finally {
      c.wan.restore()
    }
    const healedAt = now()
    await linesFrom('web', 'atl-1', healedAt, [], 30_000)
    const eps = expectOneOwnerAtATime('web')
    expect(eps.at(-1)!.node).toBe('atl-1')
  }, 90_000)

  it('drain moves a group in dependency order; move --to crosses sites', async () => {
    expect((await group('db')).owner).toBe('phx-2')
    const drainAt = now()
    const drain = await c.cli('phx-1', ['node', 'drain', 'phx-2'])
    expect(drain.code, drain.stderr).toBe(0)
    await linesFrom('db', 'atl-1', drainAt, ['db-disk', 'db-app'])
    // Offline in reverse dependency order there, online in order here (each node's own events).
    const seqOf = async (node: string, type: string, resource: string) => {
      const r = await c.cli(node, ['events', '--json', '--limit', '1000'])
      const events = JSON.parse(r.stdout).events as { seq: number; type: string; resource?: string }[]
      return events.filter((e) => e.type === type && e.resource === resource).at(-1)!.seq
    }
    expect(await seqOf('phx-2', 'resource:offline', 'db-app')).toBeLessThan(
      await seqOf('phx-2', 'resource:stopping', 'db-disk'),
    )
    expect(await seqOf('atl-1', 'resource:online', 'db-disk')).toBeLessThan(
      await seqOf('atl-1', 'resource:starting', 'db-app'),
    )
    expectOneOwnerAtATime('db')
    expect((await c.cli('phx-1', ['node', 'resume', 'phx-2'])).code).toBe(0)

    const moveAt = now()
    const move = await c.cli('atl-2', ['group', 'move', 'db', '--to', 'phx-1'])
    expect(move.code, move.stderr).toBe(0)
    expect(move.stdout).toMatch(/group db moving from atl-1 to phx-1: moved by an operator to phx-1/)
    const there = await linesFrom('db', 'phx-1', moveAt, ['db-disk', 'db-app'])
    console.log(`db: planned move atl-1 -> phx-1 to its first probe line: ${there[0]!.ms - moveAt} ms`)
    expectOneOwnerAtATime('db')
  }, 90_000)

  it('a checkpointed file written on one node is there when the group comes online on another', async () => {
    const dir = join(c.dir, 'ck')
    mkdirSync(dir)
    const state = join(dir, 'state.txt')
    await api('POST', '/v1/groups', {
      name: 'ck',
      preferredOwners: ['atl-2', 'phx-2'],
      possibleOwners: ['atl-2', 'phx-2'],
    })
    await api('POST', '/v1/resources', {
      name: 'ck-app',
      group: 'ck',
      type: 'generic-app',
      params: {
        // Adds a line to its state, keeps a copy of what it found, and runs.
        command: `echo "$GEOCLUSTER_NODE was here" >> ${state}; cp ${state} ${dir}/seen-$GEOCLUSTER_NODE; exec sleep 600`,
        checkpoint: state,
        checkpointIntervalMs: '1000',
      },
    })
    const checkpoint = async () => (await group('ck')).resources[0]!.checkpoint
    await api('POST', '/v1/groups/ck/online', {})
    await waitFor('ck-app on atl-2', () => existsSync(join(dir, 'seen-atl-2')))
    // Saved while it runs (every second when changed), and when it goes offline.
    await waitFor('a periodic checkpoint from atl-2', async () => (await checkpoint())?.node === 'atl-2')
    const offlineAt = Date.now()
    await api('POST', '/v1/groups/ck/offline', {})
    await waitFor('ck offline', async () => (await group('ck')).state === 'offline')
    await waitFor('the checkpoint saved as it went offline', async () => {
      const saved = await checkpoint()
      return saved?.node === 'atl-2' && saved.at >= offlineAt
    })
    // The next owner's disk does not have the file: only the checkpoint can bring it there.
    rmSync(state)
    const move = await c.cli('phx-1', ['group', 'move', 'ck', '--to', 'phx-2'])
    expect(move.code, move.stderr).toBe(0)
    await api('POST', '/v1/groups/ck/online', {})
    await waitFor('ck-app on phx-2', () => existsSync(join(dir, 'seen-phx-2')))
    expect(readFileSync(join(dir, 'seen-phx-2'), 'utf8')).toBe('atl-2 was here\nphx-2 was here\n')
    const events = JSON.parse((await c.cli('phx-2', ['events', '--json', '--limit', '1000'])).stdout)
      .events as {
      type: string
      message: string
    }[]
    expect(
      events.some(
        (e) =>
          e.type === 'resource:checkpoint' &&
          /restored the checkpoint of ck-app saved on atl-2/.test(e.message),
      ),
    ).toBe(true)
    await waitFor('a checkpoint from phx-2', async () => (await checkpoint())?.node === 'phx-2')
  }, 90_000)

  it('SIGSTOP of a node that leads the cluster and owns a group: after SIGCONT it grants itself nothing and runs nothing', async () => {
    const leader = (await api<StatusDocument>('GET', '/v1/status')).cluster.leader!
    const others = c.names().filter((n) => n !== leader)
    await createGroup('lead', [leader, ...others], 'never', [['lead-probe']])
    await linesFrom('lead', leader, 0)
    const stoppedAt = now()
    await c.kill(leader, 'SIGSTOP')
    let next: string
    try {
      const taken = await waitFor('lead running elsewhere', () =>
        readProbe(file('lead')).find((l) => l.node !== leader && l.ms > stoppedAt),
      )
      next = taken.node
      expectOneOwnerAtATime('lead')
    } finally {
      await c.kill(leader, 'SIGCONT')
    }
    const resumedAt = now()
    // It wakes up believing it still leads, with answers it heard before the pause: those must
    // not count as recent, or it would grant itself a lease and start the group again.
    await new Promise((r) => setTimeout(r, 4_000))
    expect(readProbe(file('lead')).filter((l) => l.node === leader && l.ms > resumedAt)).toEqual([])
    const eps = expectOneOwnerAtATime('lead')
    expect(eps.at(-1)!.node).toBe(next)
  }, 90_000)
})
