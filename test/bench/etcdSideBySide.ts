/**
 * bench:etcd — geocluster against etcd 3.4 on the same machine, in one run: a 3-member etcd
 * (Debian's etcd-server, installed with apt-get when missing) and a 3-node geocluster, both on
 * loopback with nothing between the members (no WAN emulator), each taking writes at its leader
 * over HTTP with keep-alive (etcd's v3 JSON gateway `POST /v3/kv/put`, geocluster's
 * `PUT /v1/config/<key>`) from 1, 16, 32 and 64 writers for S seconds each: p50/p99 latency and
 * writes/s; then each idle for S seconds: CPU and RSS per member. geocluster runs its build
 * (`dist/`, what an installed node runs) when there is one. The ratio column is geocluster / etcd.
 * Usage: npm run bench:etcd [-- --seconds S] [-- --json]
 * [-- --cpu-prof DIR] (each geocluster node writes a V8 CPU profile into DIR when it stops).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { destroyGeoClusters, GeoCluster, threeSites } from '../support/geoCluster.ts'
import { cleanUp } from '../support/processes.ts'

const argv = process.argv.slice(2)
const seconds = argv.includes('--seconds') ? Number(argv[argv.indexOf('--seconds') + 1]) : 5
const asJson = argv.includes('--json')
const profArg = argv.indexOf('--cpu-prof')
const nodeArgs = profArg >= 0 ? ['--cpu-prof', '--cpu-prof-dir', resolve(argv[profArg + 1]!)] : []
const say = (s: string) => {
  if (!asJson) process.stderr.write(`${s}\n`)
}
const agent = new Agent({ keepAlive: true, maxSockets: 64 })
const now = () => performance.now()

function http(
  url: string,
  method: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<number> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        agent,
        headers: {
          ...headers,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
        },
        timeout: 10_000,
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end(body)
  })
}

type Put = (key: string, value: string) => Promise<number>

async function phase(
  put: Put,
  writers: number,
): Promise<{ writesPerS: number; p50Ms: number; p99Ms: number }> {
  const latencies: number[] = []
  const end = now() + seconds * 1000
  let seq = 0
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (now() < end) {
        const t0 = now()
        const status = await put(`k${w}-${seq % 100}`, `v${seq++}`)
        if (status !== 200) throw new Error(`write answered ${status}`)
        latencies.push(now() - t0)
      }
    }),
  )
  latencies.sort((a, b) => a - b)
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!
  return { writesPerS: Math.round(latencies.length / seconds), p50Ms: round(at(0.5)), p99Ms: round(at(0.99)) }
}

const round = (x: number) => Math.round(x * 100) / 100

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

function ensureEtcd(): string {
  const bin = '/usr/bin/etcd'
  if (existsSync(bin)) return bin
  if (process.getuid?.() !== 0) throw new Error(`${bin} is missing: apt-get install etcd-server`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 180_000 })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'etcd-server'], {
    stdio: 'ignore',
    env,
    timeout: 300_000,
  })
  return bin
}

async function etcdCluster(
  bin: string,
): Promise<{ url: string; urls: string[]; pids: number[]; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'gc-etcd-'))
  const members = await Promise.all(
    ['e1', 'e2', 'e3'].map(async (name) => ({ name, peer: await freePort(), client: await freePort() })),
  )
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',')
  const procs: ChildProcess[] = members.map((m) =>
    spawn(
      bin,
      [
        '--name',
        m.name,
        '--data-dir',
        join(dir, m.name),
        '--listen-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--listen-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--initial-cluster',
        initial,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        'bench',
      ],
      {
        stdio: 'ignore',
        env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch },
      },
    ),
  )
  const url = `http://127.0.0.1:${members[0]!.client}`
  for (let i = 0; i < 300; i++) {
    const ok = await http(
      url,
      'POST',
      '/v3/kv/put',
      JSON.stringify({ key: b64('warm'), value: b64('up') }),
      {},
    ).catch(() => 0)
    if (ok === 200) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url,
    urls: members.map((m) => `http://127.0.0.1:${m.client}`),
    pids: procs.map((p) => p.pid!),
    stop: async () => {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((r) => {
              if (p.exitCode !== null) return r()
              p.once('exit', () => r())
              p.kill('SIGTERM')
            }),
        ),
      )
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64')

/** The etcd member that leads (its maintenance status names the leader). */
async function etcdLeader(urls: string[]): Promise<string> {
  for (let i = 0; i < 100; i++) {
    for (const url of urls) {
      const body = await httpJson(url, '/v3/maintenance/status').catch(() => null)
      const header = body?.header as { member_id?: string } | undefined
      if (body?.leader !== undefined && header?.member_id === body.leader) return url
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('no etcd member says it leads')
}

function httpJson(url: string, path: string): Promise<Record<string, unknown>> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method: 'POST', path, agent, headers: { 'Content-Length': 2 } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () => {
          try {
            resolve(JSON.parse(text) as Record<string, unknown>)
          } catch (error) {
            reject(error)
          }
        })
      },
    )
    req.on('error', reject)
    req.end('{}')
  })
}

/** CPU time (user + system) of a process so far, in ms, from /proc. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100
}

function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024
}

interface Idle {
  cpuPercent: number
  rssMb: number
}

/** Mean CPU (% of one core) and RSS per member over `seconds` with nothing asked of them. */
async function idle(pids: number[]): Promise<Idle> {
  await new Promise((r) => setTimeout(r, 2_000))
  const before = pids.map(cpuMs)
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const used = pids.map((p, i) => cpuMs(p) - before[i]!)
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  return {
    cpuPercent: round((100 * mean(used)) / (seconds * 1000)),
    rssMb: Math.round(mean(pids.map(rssMb))),
  }
}

const writerCounts = [1, 16, 32, 64]
type Phase = Awaited<ReturnType<typeof phase>>

async function runPhases(put: Put): Promise<Phase[]> {
  const out: Phase[] = []
  for (const w of writerCounts) {
    say(`  ${w} writer${w === 1 ? '' : 's'}...`)
    out.push(await phase(put, w))
  }
  return out
}

async function main() {
  const bin = ensureEtcd()
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0]!
  say(`etcd: ${version}; 3 members on loopback`)
  const etcd = await etcdCluster(bin)
  let etcdPhases: Phase[]
  let etcdIdle: Idle
  try {
    const leaderUrl = await etcdLeader(etcd.urls)
    const put: Put = (k, v) =>
      http(leaderUrl, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(k), value: b64(v) }), {})
    etcdPhases = await runPhases(put)
    etcdIdle = await idle(etcd.pids)
  } finally {
    await etcd.stop()
  }
  const built = join(import.meta.dirname, '../../dist/cli/main.js')
  const runsBuild = existsSync(built)
  say(`geocluster: 3 nodes on loopback (${runsBuild ? 'dist/' : 'sources: run npm run build for the build'})`)
  const c = await GeoCluster.create({
    sites: threeSites,
    heartbeatMs: 100,
    sameSiteThreshold: 10,
    crossSiteThreshold: 10,
    direct: true,
    nodeArgs,
    ...(runsBuild ? { cliMain: built } : {}),
  })
  let gcPhases: Phase[]
  let gcIdle: Idle
  try {
    await c.startAll()
    const leader = await c.waitQuorate(c.names(), 30_000)
    const url = c.member(leader).url!
    const token = c.token(leader)
    const put: Put = (k, v) =>
      http(url, 'PUT', `/v1/config/bench/${k}`, JSON.stringify({ value: v }), {
        Authorization: `Bearer ${token}`,
      })
    gcPhases = await runPhases(put)
    gcIdle = await idle(c.names().map((n) => c.member(n).proc!.pid!))
    // A profile is written when a node exits by itself.
    if (nodeArgs.length > 0) for (const n of c.names()) await c.kill(n, 'SIGTERM')
  } finally {
    await destroyGeoClusters()
    await cleanUp()
  }
  const result = {
    seconds,
    etcd: { version, writes: etcdPhases, idle: etcdIdle },
    geocluster: { build: runsBuild, writes: gcPhases, idle: gcIdle },
  }
  if (asJson) {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return
  }
  const ratio = (g: number, e: number) => (e === 0 ? '-' : `${(g / e).toFixed(2)}x`)
  process.stdout.write(
    [
      `bench:etcd — ${version.replace(/^etcd Version: /, 'etcd ')} and geocluster, 3 members each on loopback, writes at the leader over HTTP with keep-alive, ${seconds} s per phase`,
      '',
      '| writers | etcd p50 | geocluster p50 | ratio | etcd p99 | geocluster p99 | etcd writes/s | geocluster writes/s | ratio |',
      '|---|---|---|---|---|---|---|---|---|',
      ...writerCounts.map((w, i) => {
        const e = etcdPhases[i]!
        const g = gcPhases[i]!
        return `| ${w} | ${e.p50Ms} ms | ${g.p50Ms} ms | ${ratio(g.p50Ms, e.p50Ms)} | ${e.p99Ms} ms | ${g.p99Ms} ms | ${e.writesPerS} | ${g.writesPerS} | ${ratio(g.writesPerS, e.writesPerS)} |`
      }),
      '',
      '| idle, per member | etcd | geocluster | ratio |',
      '|---|---|---|---|',
      `| CPU (% of a core) | ${etcdIdle.cpuPercent} | ${gcIdle.cpuPercent} | ${ratio(gcIdle.cpuPercent, etcdIdle.cpuPercent)} |`,
      `| RSS | ${etcdIdle.rssMb} MB | ${gcIdle.rssMb} MB | ${ratio(gcIdle.rssMb, etcdIdle.rssMb)} |`,
      '',
    ].join('\n'),
  )
}

await main()
