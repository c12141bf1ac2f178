/**
 * bench:witness — election time after losing a site, by witness type: two sites of one node each
 * and a witness (a `geocluster witness` process at a third site, a file-share directory, or a
 * cloud witness's blob in Azurite behind a proxy that adds the WAN round trip to every request),
 * real processes behind the WAN emulator (`--rtt-ms` between sites, and to the node witness's
 * site). Each run kills -9 the leader (its site is lost) and measures, from the kill, when the
 * other node leads with the witness's vote and when it has committed a write (with the witness's
 * acknowledgement: it is one vote of three). Timing: heartbeat 100 ms, down after 10 beats
 * (election timeout 1 s). The file share is a local directory: no WAN delay to it.
 * Usage: npm run bench:witness [-- --runs N] [-- --rtt-ms R]
 */
import { join } from 'node:path'
import { AzuriteServer, azuriteAccount, writeAzuriteCredentials } from '../../src/lab/azuriteServer.ts'
import { StorageFaultProxy } from '../../src/lab/storageFaultProxy.ts'
import { destroyGeoClusters, GeoCluster, type GeoSpec } from '../support/geoCluster.ts'
import { cleanUp, tempDir, waitFor } from '../support/processes.ts'

const argv = process.argv.slice(2)
const arg = (name: string, fallback: number) => {
  const i = argv.indexOf(name)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}
const runs = arg('--runs', 3)
const rttMs = arg('--rtt-ms', 40)
const sites: GeoSpec['sites'] = [
  { name: 'east', nodes: 1 },
  { name: 'west', nodes: 1 },
]
const now = () => performance.now()

interface Run {
  leaderMs: number
  writeMs: number
}

/** Kill -9 the leader; time until the survivor leads and until it commits a write. */
async function loseLeaderSite(c: GeoCluster, run: number): Promise<Run> {
  const leader = await c.waitQuorate(c.names(), 60_000)
  const survivor = c.names().find((n) => n !== leader)!
  // Let the witness hear the leader for a while, as in steady state.
  await new Promise((r) => setTimeout(r, 2_000))
  const t0 = now()
  await c.kill(leader)
  await waitFor(
    `${survivor} leads`,
    async () => {
      const s = await c.status(survivor)
      return s?.cluster.leader === survivor && s.cluster.quorum.state === 'quorate' ? true : undefined
    },
    60_000,
    20,
  )
  const leaderMs = now() - t0
  await waitFor(
    `${survivor} commits`,
    async () => {
      const r = await c.api(survivor, 'PUT', `/v1/config/bench/run-${run}`, { value: 'x' }).catch(() => null)
      return r?.status === 200 ? true : undefined
    },
    60_000,
    20,
  )
  const writeMs = now() - t0
  await c.start(leader)
  await c.waitQuorate(c.names(), 60_000)
  return { leaderMs, writeMs }
}

async function measure(name: string, spec: Omit<GeoSpec, 'sites'>): Promise<Run[]> {
  const c = await GeoCluster.create({ sites, heartbeatMs: 100, ...spec })
  try {
    const all = [...new Set(c.names('all').map((n) => c.member(n).site))]
    for (const a of all)
      for (const b of all) if (a < b) c.wan.setLatency(a, b, { oneWayMs: rttMs / 2, jitterMs: 0 })
    await c.startAll()
    await c.waitQuorate(c.names(), 60_000)
    const out: Run[] = []
    for (let i = 0; i < runs; i++) {
      out.push(await loseLeaderSite(c, i))
      process.stderr.write(`  ${name} run ${i + 1}: leader ${Math.round(out.at(-1)!.leaderMs)} ms\n`)
    }
    return out
  } finally {
    await destroyGeoClusters()
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)! }
}

async function main() {
  const results: [string, Run[]][] = []
  results.push(['node witness (third site)', await measure('node', { witnessSite: 'tie' })])
  results.push(['file-share witness (local dir)', await measure('file-share', { shareWitnessSite: 'share' })])
  const azurite = await AzuriteServer.start({ dataDir: tempDir('gc-bench-azurite-') })
  const proxy = await StorageFaultProxy.start({ host: '127.0.0.1', port: azurite.port })
  try {
    proxy.set({ delayMs: rttMs })
    const credentialsFile = join(tempDir('gc-bench-cred-'), 'witness.credentials')
    writeAzuriteCredentials(credentialsFile)
    results.push([
      `cloud witness (Azurite, +${rttMs} ms per request)`,
      await measure('cloud', {
        cloudWitness: { endpoint: proxy.endpointFor(azuriteAccount.name), credentialsFile },
      }),
    ])
  } finally {
    await proxy.stop()
    await azurite.stop()
  }
  console.log(
    `bench:witness — 2 sites × 1 node + witness, ${rttMs} ms RTT between sites, heartbeat 100 ms, election timeout 1 s; kill -9 of the leader, ${runs} runs each`,
  )
  console.log(
    `${'witness'.padEnd(48)}${'new leader (ms) min / median / max'.padEnd(38)}first write (ms) min / median / max`,
  )
  for (const [name, rs] of results) {
    const l = stats(rs.map((r) => r.leaderMs))
    const w = stats(rs.map((r) => r.writeMs))
    const f = (s: { min: number; median: number; max: number }) =>
      `${Math.round(s.min)} / ${Math.round(s.median)} / ${Math.round(s.max)}`
    console.log(`${name.padEnd(48)}${f(l).padEnd(38)}${f(w)}`)
  }
}

try {
  await main()
} finally {
  await cleanUp()
}
