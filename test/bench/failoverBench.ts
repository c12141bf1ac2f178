/**
 * bench:failover — 2 sites × 2 nodes + a witness at a third site, real processes behind the WAN
 * emulator (25 ms one way between sites), default timings, probe resources appending
 * `node token monotonicMs` every 20 ms (test/support/probe.ts):
 *   unplanned failover, same site: kill -9 of the owner → first probe line from the new owner;
 *   unplanned failover, across sites: the same with the only other possible owner remote;
 *   unplanned failover when the owner also leads the cluster (an election comes first);
 *   planned move (group move --to, through the HTTP API) → first probe line on the target;
 * N runs each (default 20), p50 and max, whether the killed owner was also the leader, and the
 * number of overlapping runs of two owners in every probe file (must be 0).
 * Each once with the default timing and once with the fast profile (timingProfiles.ts).
 * Usage: npm run bench:failover [-- --runs N] [-- --profile default|fast] [-- --json]
 */
import { join } from 'node:path'
import { destroyGeoClusters, GeoCluster, twoByTwoWithWitness } from '../support/geoCluster.ts'
import { episodes, overlaps, readProbe, tokensIncrease } from '../support/probeLog.ts'
import { cleanUp } from '../support/processes.ts'
import { api, createGroup, firstLineFrom, now, owner, sleep, stats } from './benchCluster.ts'

const argv = process.argv.slice(2)
const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 20
const asJson = argv.includes('--json')
type Profile = 'default' | 'fast'
/** `--profile fast` (or default) runs one profile; both by default. */
const profiles: Profile[] = argv.includes('--profile')
  ? [argv[argv.indexOf('--profile') + 1] === 'fast' ? 'fast' : 'default']
  : ['default', 'fast']
const progress = (s: string) => {
  if (!asJson) process.stderr.write(`${s}\n`)
}

/** Kill -9 the group's owner, time the first line from the other possible owner, bring the node back. */
async function unplanned(c: GeoCluster, group: string, file: string, pair: [string, string]) {
  const times: number[] = []
  let leaderKilled = 0
  for (let r = 0; r < runs; r++) {
    const { owner: from, leader } = await owner(c, group)
    if (from === null || !pair.includes(from)) throw new Error(`${group} is not on ${pair.join(' or ')}`)
    const to = pair.find((n) => n !== from)!
    if (from === leader) leaderKilled++
    const killedAt = now()
    await c.kill(from)
    const took = (await firstLineFrom(file, to, killedAt)) - killedAt
    times.push(took)
    progress(
      `  ${group} run ${r + 1}/${runs}: ${from} killed${from === leader ? ' (the leader)' : ''}, online on ${to} after ${took} ms`,
    )
    await c.start(from)
    await c.waitQuorate(c.names(), 30_000)
  }
  return { ...stats(times), leaderKilled }
}

/** The owner is also the leader: move the group to the leader, then kill it. */
async function leaderOwner(c: GeoCluster, group: string, file: string) {
  const times: number[] = []
  for (let r = 0; r < runs; r++) {
    // Settled first: owned (not between owners) and a leader known.
    let { owner: from, leader } = await owner(c, group)
    for (let i = 0; (from === null || leader === null) && i < 300; i++) {
      await sleep(50)
      ;({ owner: from, leader } = await owner(c, group))
    }
    if (from === null || leader === null) throw new Error(`${group} did not settle`)
    if (from !== leader) {
      const at = now()
      await api(c, 'POST', `/v1/groups/${group}/move`, { to: leader })
      await firstLineFrom(file, leader, at)
      ;({ owner: from } = await owner(c, group))
    }
    const killedAt = now()
    await c.kill(leader)
    const deadline = now() + 30_000
    let took = -1
    while (took < 0 && now() < deadline) {
      const line = readProbe(file).find((l) => l.node !== leader && l.ms > killedAt)
      if (line !== undefined) took = line.ms - killedAt
      else await sleep(5)
    }
    if (took < 0) throw new Error('no new owner within 30 s')
    times.push(took)
    progress(
      `  ${group} run ${r + 1}/${runs}: leader and owner ${from} killed, online elsewhere after ${took} ms`,
    )
    await c.start(leader)
    await c.waitQuorate(c.names(), 30_000)
  }
  return stats(times)
}

async function planned(c: GeoCluster, group: string, file: string, pair: [string, string]) {
  const times: number[] = []
  for (let r = 0; r < runs; r++) {
    const { owner: from } = await owner(c, group)
    const to = pair.find((n) => n !== from)!
    const at = now()
    await api(c, 'POST', `/v1/groups/${group}/move`, { to })
    const took = (await firstLineFrom(file, to, at)) - at
    times.push(took)
    progress(`  ${group} move ${r + 1}/${runs}: ${from} -> ${to} after ${took} ms`)
    await sleep(300)
  }
  return stats(times)
}

/** One cluster with `profile`'s timing, every scenario on it. */
async function scenario(profile: Profile) {
  const c = await GeoCluster.create(
    profile === 'fast'
      ? { ...twoByTwoWithWitness, timingProfile: 'fast' }
      : { ...twoByTwoWithWitness, heartbeatMs: 100, sameSiteThreshold: 10, crossSiteThreshold: 10 },
  )
  try {
    for (const [a, b] of [
      ['atl', 'phx'],
      ['atl', 'tie'],
      ['phx', 'tie'],
    ] as const)
      c.wan.setLatency(a, b, { oneWayMs: 25, jitterMs: 0 })
    await c.startAll()
    await c.waitQuorate(c.names(), 30_000)
    const files = {
      same: join(c.dir, 'same.probe'),
      cross: join(c.dir, 'cross.probe'),
      moved: join(c.dir, 'moved.probe'),
    }
    await createGroup(c, 'same', ['atl-1', 'atl-2'], files.same)
    await createGroup(c, 'cross', ['atl-2', 'phx-2'], files.cross)
    await createGroup(c, 'moved', ['phx-1', 'atl-1'], files.moved)
    const leaderFile = join(c.dir, 'leader.probe')
    await createGroup(c, 'leader', ['atl-1', 'atl-2', 'phx-1', 'phx-2'], leaderFile)
    progress('unplanned, same site (atl-1 <-> atl-2)')
    const sameSite = await unplanned(c, 'same', files.same, ['atl-1', 'atl-2'])
    progress('unplanned, across sites (atl-2 <-> phx-2)')
    const crossSite = await unplanned(c, 'cross', files.cross, ['atl-2', 'phx-2'])
    progress('unplanned, the owner is also the leader')
    const ownerLeads = await leaderOwner(c, 'leader', leaderFile)
    progress('planned move across sites (phx-1 <-> atl-1)')
    const move = await planned(c, 'moved', files.moved, ['phx-1', 'atl-1'])
    let overlapCount = 0
    let tokensOk = true
    for (const f of [...Object.values(files), leaderFile]) {
      const eps = episodes(readProbe(f))
      overlapCount += overlaps(eps).length
      tokensOk &&= tokensIncrease(eps)
    }
    return {
      profile,
      sameSite,
      crossSite,
      ownerLeads,
      plannedMove: move,
      overlaps: overlapCount,
      tokensIncrease: tokensOk,
    }
  } finally {
    await destroyGeoClusters()
    await cleanUp()
  }
}

const results = []
for (const profile of profiles) {
  progress(`profile ${profile}`)
  results.push(await scenario(profile))
}
if (asJson) process.stdout.write(`${JSON.stringify(results)}\n`)
else {
  const row = (name: string, s: { p50Ms: number; maxMs: number; minMs: number; runs: number }) =>
    `  ${name.padEnd(34)} p50 ${s.p50Ms} ms, max ${s.maxMs} ms, min ${s.minMs} ms (${s.runs} runs)`
  for (const r of results) {
    process.stdout.write(
      [
        `bench:failover — 2 sites × 2 nodes + witness, 25 ms one way between sites, ${r.profile === 'fast' ? 'timing profile fast (down after 5 beats of 100 ms, leases 1 s, downAfter 1.5 s)' : 'default timings (down after 10 beats of 100 ms, leases 2 s, downAfter 2.6 s)'}`,
        row('unplanned, same site', r.sameSite),
        `    of which the killed owner also led the cluster: ${r.sameSite.leaderKilled}`,
        row('unplanned, across sites', r.crossSite),
        `    of which the killed owner also led the cluster: ${r.crossSite.leaderKilled}`,
        row('unplanned, the owner also leads', r.ownerLeads),
        row('planned move, across sites', r.plannedMove),
        `  overlapping runs of two owners: ${r.overlaps}; fencing tokens only grow: ${r.tokensIncrease}`,
        r.profile === 'fast'
          ? `  target: unplanned, same site ≤ 2.0 s: ${r.sameSite.p50Ms <= 2000 ? 'met' : 'missed'} (p50)`
          : "  targets: unplanned ≤ 3 s same site, ≤ 5 s across sites; planned ≤ 500 ms + the app's own stop/start",
        '',
      ].join('\n'),
    )
  }
}
