/**
 * `--json` means one JSON document on stdout on every path, errors included (INTERFACE.md,
 * issue 15 item 11): `{ "ok": false, "error": { code, message, path? } }`, with `problems` for a
 * topology file, and the same exit codes as without it. Every command that takes `--json` is run
 * into an error (the tree is walked, so a new command is covered as it comes).
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FailureDocument } from '../../src/cli/failureReport.ts'
import { buildProgram } from '../../src/cli/program.ts'
import {
  type CliResult,
  cleanUp,
  cliMain,
  type RunningNode,
  runCli,
  startLab,
  tempDir,
  waitFor,
} from '../support/processes.ts'

let lab: RunningNode
let closedApi: string
let broken: string

/** A loopback port nothing listens on: bound by us, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

beforeAll(async () => {
  const dir = tempDir()
  lab = await startLab(join(dir, 'data'))
  closedApi = `http://127.0.0.1:${await closedPort()}`
  broken = join(dir, 'broken.yaml')
  writeFileSync(broken, 'cluster:\n  name: x\nsites: []\n')
})

afterAll(async () => {
  await cleanUp()
})

/** The one failure document on stdout (nothing else there, no stack on stderr), and the exit code. */
function failure(r: CliResult, what: string): FailureDocument & { exit: number | null } {
  let doc: FailureDocument
  try {
    doc = JSON.parse(r.stdout) as FailureDocument
  } catch (error) {
    throw new Error(
      `${what}: stdout is not one JSON document (${(error as Error).message}): ${r.stdout}${r.stderr}`,
    )
  }
  expect(doc.ok, what).toBe(false)
  expect(doc.error.code, what).toMatch(/^GC_ERR_[A-Z_]+$/)
  expect(doc.error.message.length, what).toBeGreaterThan(0)
  expect(r.stderr, what).not.toMatch(/\n\s+at /)
  expect(r.code, what).not.toBe(0)
  return { ...doc, exit: r.code }
}

describe('--json on error paths', () => {
  it('validate of a broken topology: { ok: false, problems } on stdout, exit 2, nothing on stderr', async () => {
    const r = await runCli(['validate', '--config', broken, '--json'])
    expect(r.stderr).toBe('')
    const doc = failure(r, 'validate')
    expect(doc).toMatchObject({ exit: 2, error: { code: 'GC_ERR_CONFIG' } })
    expect(doc.problems).toEqual([
      `${broken}: quorum: required field is missing (line 1)`,
      `${broken}: sites: at least one site is needed (line 3)`,
    ])
    // Without --json the problems stay lines on stderr.
    const text = await runCli(['validate', '--config', broken])
    expect(text).toMatchObject({ code: 2, stdout: '' })
    expect(text.stderr).toMatch(/^.*broken\.yaml: quorum: required field is missing/)
  })

  it('every command that takes --json answers an error with one JSON document', async () => {
    const fill: Record<string, string> = {
      '--group': 'g',
      '--type': 'generic-app',
      '--site': 's',
      '--address': '/ip4/127.0.0.1/tcp/1',
      '--peer-id': '12D3KooWSn2HSHAtFHpEsEQBJFGRL4UPAKgc5Te4CGfBusA63g4Z',
      '--on': 'x',
      '--data-dir': '/dev/null/x',
      '--config': broken,
    }
    // Arguments that must be one of a few words.
    const argumentsOf: Record<string, string[]> = { maintenance: ['on'] }
    // Commands that read a local file before they ask the API: they fail on it first.
    const localFirst = new Set(['restore'])
    // Options a command needs before it asks the API anything.
    const extra: Record<string, string[]> = {
      'group set': ['--failback', 'never'],
      'resource set': ['--restart-threshold', '1'],
      'cluster confirm-forced': ['--other-side-is-down'],
      'resource cleanup': ['--all'],
      'alert add': ['--webhook', 'http://127.0.0.1:9/hook'],
    }
    const runs: { path: string; args: string[]; admin: boolean }[] = []
    const walk = (c: ReturnType<typeof buildProgram>, path: string[]) => {
      if (c.commands.length > 0) {
        for (const s of c.commands) walk(s as typeof c, [...path, s.name()])
        return
      }
      if (!c.options.some((o) => o.long === '--json')) return
      // validate takes --api only with --live: here it fails on its file first.
      const admin = c.options.some((o) => o.long === '--api') && path[0] !== 'validate'
      const args = [
        ...path,
        ...(argumentsOf[path.join(' ')] ?? c.registeredArguments.filter((a) => a.required).map(() => 'x')),
        ...c.options.filter((o) => o.mandatory).flatMap((o) => [o.long!, fill[o.long!] ?? 'x']),
        ...(extra[path.join(' ')] ?? []),
        '--json',
        ...(admin ? ['--api', closedApi, '--token', 't'] : []),
      ]
      runs.push({ path: path.join(' '), args, admin })
    }
    const program = buildProgram()
    for (const c of program.commands) walk(c as ReturnType<typeof buildProgram>, [c.name()])
    expect(runs.length).toBeGreaterThan(30)
    // Two at a time: the machine is shared.
    const results: { path: string; admin: boolean; doc: ReturnType<typeof failure> }[] = []
    for (let i = 0; i < runs.length; i += 2) {
      const batch = runs.slice(i, i + 2)
      const done = await Promise.all(batch.map((r) => runCli(r.args)))
      for (const [j, r] of done.entries())
        results.push({
          path: batch[j]!.path,
          admin: batch[j]!.admin,
          doc: failure(r, batch[j]!.args.join(' ')),
        })
    }
    for (const { path, admin, doc } of results) {
      if (admin && !localFirst.has(path))
        expect(doc, path).toMatchObject({ exit: 3, error: { code: 'GC_ERR_UNREACHABLE' } })
    }
    expect(results.find((r) => r.path === 'keygen')?.doc).toMatchObject({
      exit: 1,
      error: { code: 'GC_ERR_FAILED' },
    })
    expect(results.find((r) => r.path === 'validate')?.doc).toMatchObject({ exit: 2 })
  }, 180_000)

  it('bad flags, unknown commands and missing arguments are usage errors (2) in JSON', async () => {
    for (const args of [
      ['status', '--json', '--bogus'],
      ['statuz', '--json'],
      ['group', 'create', '--json'],
      ['lab', '--json'],
      ['resource', 'set', 'x', '--timeouts', 'soon=1s', '--json'],
      ['group', 'set', 'web', '--json', '--api', lab.url, '--token', lab.token],
    ]) {
      const doc = failure(await runCli(args), args.join(' '))
      expect(doc, args.join(' ')).toMatchObject({ exit: 2, error: { code: 'GC_ERR_USAGE' } })
    }
  })

  it('API errors keep their code, path and exit code', async () => {
    expect(failure(await lab.cli(['group', 'delete', 'ghost', '--json']), 'delete')).toMatchObject({
      exit: 1,
      error: { code: 'GC_ERR_NOT_FOUND', message: 'no group ghost' },
    })
    await lab.cli(['group', 'create', 'g'])
    const badType = failure(
      await lab.cli(['resource', 'create', 'r', '--group', 'g', '--type', 'bogus', '--json']),
      'create',
    )
    expect(badType).toMatchObject({ exit: 2, error: { code: 'GC_ERR_BAD_REQUEST', path: 'body.type' } })
    const token = failure(await runCli(['status', '--json', '--api', lab.url, '--token', 'wrong']), 'token')
    expect(token).toMatchObject({ exit: 1, error: { code: 'GC_ERR_UNAUTHORIZED' } })
    expect(token.error.message).toMatch(/invalid admin token \(token from --token\)/)
  })

  it('streams end with one JSON line: events --follow, status --watch', async () => {
    const follow = await runCli(['events', '--follow', '--json', '--api', closedApi, '--token', 't'])
    expect(follow.stdout.split('\n').filter((l) => l !== '')).toHaveLength(1)
    expect(failure(follow, 'events --follow')).toMatchObject({
      exit: 3,
      error: { code: 'GC_ERR_UNREACHABLE' },
    })
    // status --watch keeps watching an unreachable node, one JSON line a round, until Ctrl-C.
    const child = spawn(
      process.execPath,
      [cliMain, 'status', '--watch', '--json', '--interval', '0.2', '--api', closedApi, '--token', 't'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      await waitFor('two rounds', () => out.split('\n').length > 2)
    } finally {
      child.kill('SIGINT')
    }
    for (const l of out.split('\n').filter((x) => x !== ''))
      expect(JSON.parse(l)).toMatchObject({ ok: false, error: { code: 'GC_ERR_UNREACHABLE' } })
  })
})
