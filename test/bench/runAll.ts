/**
 * npm run bench: every benchmark in turn (bench:db, bench:geo, bench:failover, bench:disk,
 * bench:etcd), each as its own npm script, and BENCHMARKS.md with the machine, the versions, the
 * commands and what each printed. Takes about half an hour on 2 cores; run it on an idle machine.
 * Usage: npm run bench [-- --only db,etcd]
 */
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from '../support/processes.ts'

const all = ['db', 'geo', 'failover', 'disk', 'etcd']
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
  const sections: string[] = []
  let failed = 0
  for (const name of only) {
    process.stderr.write(`== bench:${name}\n`)
    const r = await run(name)
    if (r.code !== 0) failed++
    sections.push(
      `## bench:${name}\n\n\`npm run bench:${name}\` — ${r.seconds} s${r.code === 0 ? '' : ` — FAILED (exit ${r.code})`}\n\n\`\`\`\n${r.out.trim()}\n\`\`\`\n`,
    )
  }
  const cpu = cpus()
  const doc = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString()}.`,
    '',
    `- machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}`,
    `- Node ${process.version}; geocluster ${JSON.parse(execFileSync('npm', ['pkg', 'get', 'version'], { cwd: repoRoot, encoding: 'utf8' }))}; ${version('/usr/bin/etcd', ['--version'])}`,
    '- What each measures is in its script\'s header (test/bench/) and in README "Benchmarks".',
    '',
    ...sections,
  ].join('\n')
  writeFileSync(join(repoRoot, 'BENCHMARKS.md'), `${doc}\n`)
  process.stderr.write(`BENCHMARKS.md written (${only.length - failed} of ${only.length} benchmarks ran)\n`)
  if (failed > 0) process.exitCode = 1
}

await main()
