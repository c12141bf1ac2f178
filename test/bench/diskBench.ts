/**
 * bench:disk — three nodes sharing a quorum file on local disk (the disk quorum model, default
 * timings), a probe group kept on the holder. Each run kills the holder with SIGKILL and times:
 *   takeover: until another node holds the disk (its status names itself leader);
 *   failover: until the probe group's first line from another node;
 * then brings the node back. N runs (default 10), p50 and max, and the overlaps of two owners'
 * probe runs (must be 0). Usage: npm run bench:disk [-- --runs N] [-- --json]
 */
import { join } from 'node:path'
import { diskTiming } from '../../src/topology/clusterTiming.ts'
import { loadTopology } from '../../src/topology/loadTopology.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { episodes, overlaps, readProbe, tokensIncrease } from '../support/probeLog.ts'
import { cleanUp } from '../support/processes.ts'
import { api, createGroup, leaderView, now, owner, sleep, stats } from './benchCluster.ts'

const argv = process.argv.slice(2)
const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 10
const asJson = argv.includes('--json')
const progress = (s: string) => {
  if (!asJson) process.stderr.write(`${s}\n`)
}

async function main() {
  // Default timing: 100 ms heartbeats × 10 (so fencing's downAfter is the default 2.6 s).
  const c = await GeoCluster.create({
    sites: [{ name: 'dc', nodes: 3 }],
    quorumDisk: true,
    heartbeatMs: 100,
    sameSiteThreshold: 10,
    crossSiteThreshold: 10,
  })
  try {
    await c.startAll()
    await c.waitQuorate(c.names(), 30_000)
    const file = join(c.dir, 'disk.probe')
    const first = (await leaderView(c)).cluster.leader!
    await createGroup(c, 'disk', [first, ...c.names().filter((n) => n !== first)], file)
    const takeover: number[] = []
    const failover: number[] = []
    for (let r = 0; r < runs; r++) {
      // The group on the holder, so losing the holder also loses the group's node.
      let { owner: from, leader } = await owner(c, 'disk')
      if (from !== leader && leader !== null) {
        await api(c, 'POST', '/v1/groups/disk/move', { to: leader })
        for (let i = 0; i < 200 && from !== leader; i++) {
          await sleep(50)
          ;({ owner: from, leader } = await owner(c, 'disk'))
        }
      }
      if (leader === null || from !== leader) throw new Error('the group did not settle on the holder')
      const killedAt = now()
      await c.kill(leader)
      const others = c.names().filter((n) => n !== leader)
      let held = -1
      let online = -1
      for (const deadline = now() + 60_000; (held < 0 || online < 0) && now() < deadline; ) {
        if (held < 0) {
          const s = await c.status(others[0]!)
          if (s !== null && s.cluster.leader !== null && s.cluster.leader !== leader) held = now() - killedAt
        }
        if (online < 0) {
          const line = readProbe(file).find((l) => l.node !== leader && l.ms > killedAt)
          if (line !== undefined) online = line.ms - killedAt
        }
        await sleep(10)
      }
      if (held < 0 || online < 0) throw new Error('no takeover within 60 s')
      takeover.push(held)
      failover.push(online)
      progress(
        `  run ${r + 1}/${runs}: holder ${leader} killed, disk taken after ${held} ms, group online after ${online} ms`,
      )
      await c.start(leader)
      await c.waitQuorate(c.names(), 30_000)
    }
    const eps = episodes(readProbe(file))
    const t = diskTiming(loadTopology(c.topologyFile).topology)
    const result = {
      timing: t,
      takeover: stats(takeover),
      groupOnline: stats(failover),
      overlaps: overlaps(eps).length,
      tokensIncrease: tokensIncrease(eps),
    }
    if (asJson) {
      process.stdout.write(`${JSON.stringify(result)}\n`)
      return
    }
    const row = (label: string, s: ReturnType<typeof stats>) =>
      `  ${label.padEnd(36)} p50 ${s.p50Ms} ms, max ${s.maxMs} ms, min ${s.minMs} ms (${s.runs} runs)`
    process.stdout.write(
      [
        `bench:disk — 3 nodes, one quorum file on local disk; renew ${t.renewMs} ms, I/O timeout ${t.ioTimeoutMs} ms, lease ${t.leaseMs} ms, challenge wait ${t.challengeWaitMs} ms`,
        row('kill -9 of the holder → disk taken', result.takeover),
        row('kill -9 of the holder → group online', result.groupOnline),
        `  overlapping runs of two owners: ${result.overlaps}; fencing tokens only grow: ${result.tokensIncrease}`,
        '  (seed 001: MSCS renews every 3 s and a challenger waits 10 s)',
        '',
      ].join('\n'),
    )
  } finally {
    await destroyGeoClusters()
    await cleanUp()
  }
}

await main()
