/**
 * bench:db — committed config writes through the HTTP API of a lab node (fsync on): sequential
 * latency, then 32 concurrent writers sharing fsyncs through group commit. Prints a table
 * (or one JSON document with --json). Run: npm run bench:db [-- --json] [-- --seconds S]
 * [-- --cpu-prof DIR] (the lab node writes a V8 CPU profile into DIR when it stops).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const args = process.argv.slice(2)
const asJson = args.includes('--json')
const secondsArg = args.indexOf('--seconds')
const phaseSeconds = secondsArg >= 0 ? Number(args[secondsArg + 1]) : 5
const profArg = args.indexOf('--cpu-prof')
const profileArgs = profArg >= 0 ? ['--cpu-prof', '--cpu-prof-dir', resolve(args[profArg + 1]!)] : []
const concurrency = 32
const root = resolve(import.meta.dirname, '../..')

interface Phase {
  name: string
  writes: number
  seconds: number
  writesPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  writesPerFsync: number
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

async function startLab(dataDir: string): Promise<{ proc: ChildProcess; url: URL; token: string }> {
  const proc = spawn(
    process.execPath,
    [...profileArgs, join(root, 'src/cli/main.ts'), 'lab', '--data-dir', dataDir, '--api-port', '0'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, GEOCLUSTER_LOG_LEVEL: 'warn' },
    },
  )
  let out = ''
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  for (let i = 0; i < 600; i++) {
    const m = /API:\s+(http:\/\/\S+)/.exec(out)
    if (m !== null)
      return { proc, url: new URL(m[1]!), token: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim() }
    await sleep(50)
  }
  proc.kill('SIGKILL')
  throw new Error(`lab did not start:\n${out}`)
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency })

function call(
  url: URL,
  token: string,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        agent,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          text += c
        })
        res.on('end', () => done({ status: res.statusCode ?? 0, text }))
      },
    )
    req.on('error', fail)
    req.end(body)
  })
}

async function syncs(url: URL, token: string): Promise<number> {
  const r = await call(url, token, 'GET', '/v1/status')
  return (JSON.parse(r.text) as { storage: { walSyncs: number } }).storage.walSyncs
}

async function phase(name: string, writers: number, url: URL, token: string): Promise<Phase> {
  const latencies: number[] = []
  const before = await syncs(url, token)
  const started = performance.now()
  const deadline = started + phaseSeconds * 1000
  let n = 0
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      while (performance.now() < deadline) {
        const i = n++
        const t0 = performance.now()
        const r = await call(
          url,
          token,
          'PUT',
          `/v1/config/bench/${name}/w${w}/k${i % 1000}`,
          JSON.stringify({ value: `v${i}` }),
        )
        if (r.status !== 200) throw new Error(`write ${i} answered ${r.status}: ${r.text}`)
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  const fsyncs = (await syncs(url, token)) - before
  latencies.sort((a, b) => a - b)
  return {
    name,
    writes: latencies.length,
    seconds: Math.round(seconds * 100) / 100,
    writesPerSecond: Math.round(latencies.length / seconds),
    p50Ms: Math.round(percentile(latencies, 50) * 1000) / 1000,
    p99Ms: Math.round(percentile(latencies, 99) * 1000) / 1000,
    maxMs: Math.round((latencies.at(-1) ?? 0) * 1000) / 1000,
    writesPerFsync: Math.round((latencies.length / Math.max(1, fsyncs)) * 10) / 10,
  }
}

const dir = mkdtempSync(join(tmpdir(), 'gc-bench-'))
const lab = await startLab(join(dir, 'data'))
try {
  for (let i = 0; i < 300; i++)
    await call(lab.url, lab.token, 'PUT', `/v1/config/bench/warmup/k${i}`, '{"value":"w"}')
  const results = [
    await phase('sequential', 1, lab.url, lab.token),
    await phase(`concurrent-${concurrency}`, concurrency, lab.url, lab.token),
  ]
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    tmpdir: tmpdir(),
  }
  if (asJson) {
    process.stdout.write(`${JSON.stringify({ bench: 'db', machine, phaseSeconds, results }, null, 2)}\n`)
  } else {
    process.stdout.write(`bench:db — committed config writes through the HTTP API, one lab node, fsync on\n`)
    process.stdout.write(
      `machine: ${machine.cpus} × ${machine.cpu}, Node ${machine.node}, data dir in ${machine.tmpdir}\n\n`,
    )
    process.stdout.write('phase           writes   writes/s   p50 ms   p99 ms   max ms   writes/fsync\n')
    for (const r of results) {
      process.stdout.write(
        `${r.name.padEnd(15)} ${String(r.writes).padStart(6)} ${String(r.writesPerSecond).padStart(10)} ${r.p50Ms.toFixed(3).padStart(8)} ${r.p99Ms.toFixed(3).padStart(8)} ${r.maxMs.toFixed(2).padStart(8)} ${r.writesPerFsync.toFixed(1).padStart(14)}\n`,
      )
    }
  }
} finally {
  lab.proc.kill('SIGTERM')
  await new Promise((r) => lab.proc.once('exit', r))
  agent.destroy()
  rmSync(dir, { recursive: true, force: true })
}
