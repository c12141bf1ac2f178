/**
 * bench:idle — what an idle cluster costs each node: a 3-node and a 16-node cluster of real
 * processes (the build, `dist/`, what an installed node runs) on loopback with nothing between
 * them (no WAN emulator, whose proxies would add the lab process's own work), the default timing
 * (heartbeat 100 ms, 10 beats to down), no groups. After the cluster is quorate and has settled,
 * it measures each node's CPU time from /proc (% of one core) over `--windows` windows of
 * `--seconds` each (two windows, so a busy machine shows as two figures that disagree), the RSS
 * of every node and of its resource monitor at the end of each window, and the mesh frames per
 * second by protocol and kind (from each node's /metrics) on the leader and on a follower.
 * Loopback only; every process it starts is stopped and waited for; the whole run is bounded.
 * Usage: npm run bench:idle [-- --seconds S] [-- --windows W] [-- --nodes 3,16] [-- --json]
 */
import { existsSync, readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { destroyGeoClusters, GeoCluster, type GeoSpec } from '../support/geoCluster.ts'
import { childrenOf, cleanUp } from '../support/processes.ts'

const argv = process.argv.slice(2)
const arg = (name: string, fallback: string) =>
  argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback
const seconds = Number(arg('--seconds', '25'))
const windows = Number(arg('--windows', '2'))
const sizes = arg('--nodes', '3,16').split(',').map(Number)
const asJson = argv.includes('--json')
/** Settling after quorum: bootstrap, first leases, the JIT's first compilations. */
const settleMs = 10_000
/** Processes started at once. */
const startBatch = 2
/** The whole run, whatever happens (16 nodes start in well under a minute on 2 cores). */
const runMsMax = 15 * 60_000
const say = (s: string) => {
  if (!asJson) process.stderr.write(`${s}\n`)
}

const built = join(import.meta.dirname, '../../dist/cli/main.js')
if (!existsSync(built)) {
  process.stderr.write('bench:idle measures the build: run `npm run build` first\n')
  process.exit(2)
}

/** CPU time (user + system) of a process so far, in ms (clock ticks are 10 ms on Linux). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}
const max = (xs: number[]) => Math.max(...xs)
const r1 = (x: number) => Math.round(x * 10) / 10
const r2 = (x: number) => Math.round(x * 100) / 100

/**
 * `direction protocol kind` → frames so far, from a node's /metrics, and `tick delay` → the
 * consensus tick's largest delay over the last minute (ms): a late tick sends late.
 */
async function frames(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })
  const out = new Map<string, number>()
  for (const line of (await res.text()).split('\n')) {
    const delay = /^geocluster_tick_delay_max_seconds\s+(\S+)$/.exec(line)
    if (delay !== null) out.set('tick delay', Number(delay[1]) * 1000)
    const m = /^geocluster_mesh_frames_total\{([^}]*)\}\s+(\S+)$/.exec(line)
    if (m === null) continue
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]))
    out.set(`${labels.direction} ${labels.protocol} ${labels.kind}`, Number(m[2]))
  }
  return out
}

interface Window {
  cpuPercent: { median: number; max: number }
  rssMb: { median: number; max: number }
  monitorCpuPercent: { median: number; max: number }
  monitorRssMb: { median: number; max: number }
}

interface SizeResult {
  nodes: number
  leader: string
  follower: string
  loadBefore: number
  windows: Window[]
  /** Frames per second over the last window, `direction protocol kind` → rate. */
  leaderFrames: Record<string, number>
  followerFrames: Record<string, number>
  /** The consensus tick's largest delay over the last minute, at the end (ms). */
  tickDelayMs: { leader: number; follower: number }
}

function specFor(nodes: number): GeoSpec {
  // Sites of up to four nodes: same-site and cross-site timing are both the defaults.
  const names = ['east', 'west', 'south', 'north', 'central']
  const perSite = nodes <= 3 ? 1 : 4
  const sites = Array.from({ length: Math.ceil(nodes / perSite) }, (_, i) => ({
    name: names[i] ?? `site${i + 1}`,
    nodes: Math.min(perSite, nodes - i * perSite),
  }))
  return {
    sites,
    heartbeatMs: 100,
    sameSiteThreshold: 10,
    crossSiteThreshold: 10,
    direct: true,
    cliMain: built,
    // Sixteen nodes already beating on two cores slow the last ones' start.
    startTimeoutMs: 120_000,
  }
}

async function measure(nodes: number): Promise<SizeResult> {
  const loadBefore = r2(loadavg()[0]!)
  say(`${nodes} nodes: starting (load average ${loadBefore})...`)
  const c = await GeoCluster.create(specFor(nodes))
  try {
    // A few at a time: sixteen Node processes loading at once on two cores can take longer
    // than a start is given.
    const names = c.names()
    for (let i = 0; i < names.length; i += startBatch)
      await Promise.all(names.slice(i, i + startBatch).map((n) => c.start(n)))
    const leader = await c.waitQuorate(c.names(), 90_000)
    const follower = c.names().find((n) => n !== leader)!
    say(`${nodes} nodes: quorate, ${leader} leads; settling ${settleMs / 1000} s`)
    await sleep(settleMs)
    const pids = c.names().map((n) => c.member(n).proc!.pid!)
    const monitorOf = (pid: number) => childrenOf(pid).find((p) => p.command.includes('monitorMain'))?.pid
    const monitors = pids.map(monitorOf).filter((p): p is number => p !== undefined)
    if (monitors.length !== pids.length) throw new Error('a node has no resource monitor')
    const out: Window[] = []
    let leaderFrames: Record<string, number> = {}
    let followerFrames: Record<string, number> = {}
    let tickDelayMs = { leader: 0, follower: 0 }
    for (let w = 1; w <= windows; w++) {
      const before = [...pids, ...monitors].map(cpuMs)
      const framesBefore = await Promise.all([leader, follower].map((n) => frames(c.member(n).url!)))
      const t0 = performance.now()
      await sleep(seconds * 1000)
      const spentS = (performance.now() - t0) / 1000
      const used = [...pids, ...monitors].map((p, i) => (100 * (cpuMs(p) - before[i]!)) / 1000 / spentS)
      const framesAfter = await Promise.all([leader, follower].map((n) => frames(c.member(n).url!)))
      const rate = (i: number) =>
        Object.fromEntries(
          [...framesAfter[i]!]
            .filter(([k]) => k !== 'tick delay')
            .map(([k, v]) => [k, r1((v - (framesBefore[i]!.get(k) ?? 0)) / spentS)]),
        )
      tickDelayMs = {
        leader: Math.round(framesAfter[0]!.get('tick delay') ?? 0),
        follower: Math.round(framesAfter[1]!.get('tick delay') ?? 0),
      }
      leaderFrames = rate(0)
      followerFrames = rate(1)
      const nodeCpu = used.slice(0, pids.length)
      const monitorCpu = used.slice(pids.length)
      const window: Window = {
        cpuPercent: { median: r2(median(nodeCpu)), max: r2(max(nodeCpu)) },
        rssMb: { median: r1(median(pids.map(rssMb))), max: r1(max(pids.map(rssMb))) },
        monitorCpuPercent: { median: r2(median(monitorCpu)), max: r2(max(monitorCpu)) },
        monitorRssMb: { median: r1(median(monitors.map(rssMb))), max: r1(max(monitors.map(rssMb))) },
      }
      out.push(window)
      say(
        `${nodes} nodes, window ${w}: CPU ${window.cpuPercent.median} % (max ${window.cpuPercent.max}), RSS ${window.rssMb.median} MB (max ${window.rssMb.max})`,
      )
    }
    return { nodes, leader, follower, loadBefore, windows: out, leaderFrames, followerFrames, tickDelayMs }
  } finally {
    await destroyGeoClusters()
    await cleanUp()
  }
}

function table(results: SizeResult[]): string {
  const rows = [
    '| nodes | window | node CPU % (median / max) | node RSS MB (median / max) | monitor CPU % (median / max) | monitor RSS MB (median / max) |',
    '|---|---|---|---|---|---|',
  ]
  for (const r of results)
    for (const [i, w] of r.windows.entries())
      rows.push(
        `| ${r.nodes} | ${i + 1} | ${w.cpuPercent.median} / ${w.cpuPercent.max} | ${w.rssMb.median} / ${w.rssMb.max} | ${w.monitorCpuPercent.median} / ${w.monitorCpuPercent.max} | ${w.monitorRssMb.median} / ${w.monitorRssMb.max} |`,
      )
  return rows.join('\n')
}

function frameTable(r: SizeResult): string {
  const keys = [...new Set([...Object.keys(r.leaderFrames), ...Object.keys(r.followerFrames)])]
  const kinds = [...new Set(keys.map((k) => k.split(' ').slice(1).join(' ')))].sort()
  const get = (m: Record<string, number>, dir: string, kind: string) => m[`${dir} ${kind}`] ?? 0
  const total = (m: Record<string, number>, dir: string) => r1(kinds.reduce((a, k) => a + get(m, dir, k), 0))
  return [
    `frames per second, ${r.nodes} nodes (leader ${r.leader}, follower ${r.follower}; last window):`,
    '| protocol | kind | leader out | leader in | follower out | follower in |',
    '|---|---|---|---|---|---|',
    ...kinds
      .filter(
        (k) =>
          get(r.leaderFrames, 'out', k) + get(r.leaderFrames, 'in', k) > 0 ||
          get(r.followerFrames, 'out', k) + get(r.followerFrames, 'in', k) > 0,
      )
      .map((k) => {
        const [protocol, kind] = k.split(' ')
        return `| ${protocol} | ${kind} | ${get(r.leaderFrames, 'out', k)} | ${get(r.leaderFrames, 'in', k)} | ${get(r.followerFrames, 'out', k)} | ${get(r.followerFrames, 'in', k)} |`
      }),
    `| all | | ${total(r.leaderFrames, 'out')} | ${total(r.leaderFrames, 'in')} | ${total(r.followerFrames, 'out')} | ${total(r.followerFrames, 'in')} |`,
    `consensus tick's largest delay over the last minute: leader ${r.tickDelayMs.leader} ms, follower ${r.tickDelayMs.follower} ms (the tick is 50 ms; a late tick sends late)`,
  ].join('\n')
}

async function main(): Promise<void> {
  const bound = setTimeout(() => {
    process.stderr.write(`bench:idle: not done within ${runMsMax / 60_000} min; stopping everything\n`)
    void destroyGeoClusters()
      .then(() => cleanUp())
      .finally(() => process.exit(1))
  }, runMsMax)
  const results: SizeResult[] = []
  try {
    for (const n of sizes) results.push(await measure(n))
  } finally {
    clearTimeout(bound)
  }
  if (asJson) {
    process.stdout.write(`${JSON.stringify({ seconds, windows, results })}\n`)
    return
  }
  const cpu = cpus()
  process.stdout.write(
    [
      `bench:idle — idle geocluster nodes (dist/) on loopback, no WAN emulator, default timing (heartbeat 100 ms, down after 10), no groups`,
      `machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}; CPU from /proc over ${windows} window(s) of ${seconds} s after ${settleMs / 1000} s settling; load average before: ${results.map((r) => `${r.nodes} nodes ${r.loadBefore}`).join(', ')}`,
      '',
      table(results),
      '',
      ...results.flatMap((r) => [frameTable(r), '']),
    ].join('\n'),
  )
}

await main()
