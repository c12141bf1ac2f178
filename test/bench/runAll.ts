/**
 * npm run bench: every benchmark in turn (bench:db, bench:geo, bench:failover, bench:disk,
 * bench:etcd, bench:mesh, bench:idle, bench:witness), each as its own npm script, and BENCHMARKS.md with the machine, the
 * versions, the commands and what each printed. Takes about half an hour on 2 cores; run it on
 * an idle machine. With --only, the other benchmarks' sections (and any section that is not a
 * benchmark's, such as the profile notes) are kept from the current BENCHMARKS.md, each with the
 * date it was run. Usage: npm run bench [-- --only db,etcd]
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from '../support/processes.ts'

const all = ['db', 'geo', 'failover', 'disk', 'etcd', 'mesh', 'idle', 'witness']
const argv = process.argv.slice(2)
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1]!.split(',') : all

function run(name: string): Promise<{ code: number; out: string; seconds: number }> {
  const started = performance.now()
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', `bench:${name}`], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      process.stdout.write(d)
    })
    child.on('exit', (code) =>
      resolve({ code: code ?? 1, out, seconds: Math.round((performance.now() - started) / 1000) }),
    )
  })
}

async function main() {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0]!
    } catch {
      return 'not installed'
    }
  }
  const file = join(repoRoot, 'BENCHMARKS.md')
  const kept = existsSync(file) ? sectionsOf(readFileSync(file, 'utf8')) : new Map<string, string>()
  const sections = new Map<string, string>()
  let failed = 0
  const today = new Date().toISOString().slice(0, 10)
  for (const name of only) {
    process.stderr.write(`== bench:${name}\n`)
    const r = await run(name)
    if (r.code !== 0) failed++
    sections.set(
      `bench:${name}`,
      `## bench:${name}\n\n\`npm run bench:${name}\` — ${today}, ${r.seconds} s${r.code === 0 ? '' : ` — FAILED (exit ${r.code})`}\n\n\`\`\`\n${r.out.trim()}\n\`\`\`\n`,
    )
  }
  // The benchmarks in their usual order, then every other section kept as it was.
  const ordered = [
    ...all.map((n) => `bench:${n}`).filter((k) => sections.has(k) || kept.has(k)),
    ...[...kept.keys()].filter((k) => !k.startsWith('bench:')),
  ].map((k) => sections.get(k) ?? kept.get(k)!)
  const cpu = cpus()
  const doc = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (last: \`--only ${only.join(',')}\` on ${new Date().toISOString()}).`,
    '',
    `- machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}`,
    `- Node ${process.version}; geocluster ${JSON.parse(execFileSync('npm', ['pkg', 'get', 'version'], { cwd: repoRoot, encoding: 'utf8' }))}; ${version('/usr/bin/etcd', ['--version'])}`,
    '- What each measures is in its script\'s header (test/bench/) and in README "Benchmarks".',
    '',
    ...ordered,
  ].join('\n')
  writeFileSync(file, `${doc.trimEnd()}\n`)
  process.stderr.write(`BENCHMARKS.md written (${only.length - failed} of ${only.length} benchmarks ran)\n`)
  if (failed > 0) process.exitCode = 1
}

/** The `## ` sections of a BENCHMARKS.md by title (what comes before the first is the header). */
function sectionsOf(text: string): Map<string, string> {
  const out = new Map<string, string>()
  const parts = text.split(/^(?=## )/m).slice(1)
  for (const part of parts) out.set(part.slice(3, part.indexOf('\n')).trim(), `${part.trimEnd()}\n`)
  return out
}

await main()
