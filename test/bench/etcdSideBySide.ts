/**
 * bench:etcd — geocluster against etcd 3.4 on the same machine, in one run: a 3-member etcd
 * (Debian's etcd-server, installed with apt-get when missing) and a 3-node geocluster, both on
 * loopback, each taking sequential and then 32-concurrent writes over HTTP with keep-alive
 * (etcd's v3 JSON gateway `PUT /v3/kv/put`, geocluster's `PUT /v1/config/<key>`) for S seconds:
 * p50/p99 latency and writes/s. Usage: npm run bench:etcd [-- --seconds S] [-- --json]
 * [-- --cpu-prof DIR] (each geocluster node writes a V8 CPU profile into DIR when it stops).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
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

async function etcdCluster(bin: string): Promise<{ url: string; stop: () => Promise<void> }> {
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

async function main() {
  const bin = ensureEtcd()
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0]!
  say(`etcd: ${version}; 3 members on loopback`)
  const etcd = await etcdCluster(bin)
  let etcdSeq: Awaited<ReturnType<typeof phase>>
  let etcdConc: Awaited<ReturnType<typeof phase>>
  try {
    // The leader takes writes directly; etcd forwards from followers like geocluster does.
    const put: Put = (k, v) =>
      http(etcd.url, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(k), value: b64(v) }), {})
    etcdSeq = await phase(put, 1)
    etcdConc = await phase(put, 32)
  } finally {
    await etcd.stop()
  }
  say('geocluster: 3 nodes on loopback (three sites, no added latency)')
  const c = await GeoCluster.create({
    sites: threeSites,
    heartbeatMs: 100,
    sameSiteThreshold: 10,
    crossSiteThreshold: 10,
    nodeArgs,
  })
  let gcSeq: Awaited<ReturnType<typeof phase>>
  let gcConc: Awaited<ReturnType<typeof phase>>
  try {
    await c.startAll()
    const leader = await c.waitQuorate(c.names(), 30_000)
    const url = c.member(leader).url!
    const token = c.token(leader)
    const put: Put = (k, v) =>
      http(url, 'PUT', `/v1/config/bench/${k}`, JSON.stringify({ value: v }), {
        Authorization: `Bearer ${token}`,
      })
    gcSeq = await phase(put, 1)
    gcConc = await phase(put, 32)
  } finally {
    await destroyGeoClusters()
    await cleanUp()
  }
  const result = {
    seconds,
    etcd: { version, sequential: etcdSeq, concurrent32: etcdConc },
    geocluster: { sequential: gcSeq, concurrent32: gcConc },
  }
  if (asJson) {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return
  }
  const row = (name: string, s: typeof gcSeq) =>
    `| ${name} | ${s.p50Ms} ms | ${s.p99Ms} ms | ${s.writesPerS} |`
  process.stdout.write(
    [
      `bench:etcd — 3 members each on loopback, writes over HTTP with keep-alive, ${seconds} s per phase`,
      '',
      '| | p50 | p99 | writes/s |',
      '|---|---|---|---|',
      row(`etcd ${version.replace(/^etcd Version: /, '')}, 1 writer`, etcdSeq),
      row('geocluster, 1 writer', gcSeq),
      row(`etcd, 32 writers`, etcdConc),
      row('geocluster, 32 writers', gcConc),
      '',
    ].join('\n'),
  )
}

await main()
