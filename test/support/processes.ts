/**
 * Real geocluster processes for integration tests: the CLI run from source under the same
 * Node 22 that runs the tests, on loopback with OS-chosen ports, always killed afterwards.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export const repoRoot = resolve(import.meta.dirname, '../..')
export const cliMain = join(repoRoot, 'src/cli/main.ts')

const started = new Set<ChildProcess>()
const tempDirs = new Set<string>()

/**
 * Every process this test file starts carries this mark in its environment, and their children
 * inherit it (the node's resource monitor, the resources, a lab's members), so teardown can find
 * whatever outlived what it killed — even a process reparented to init.
 */
export const ownerVariable = 'GEOCLUSTER_TEST_OWNER'
const owner = randomUUID()
process.env[ownerVariable] = owner
// Resources start with a clean environment; the operator's pass-through list carries the mark.
process.env.GEOCLUSTER_RESOURCE_ENV = ownerVariable

export interface OwnProcess {
  pid: number
  command: string
}

/** Live (non-zombie) processes carrying this file's mark. */
export function ownProcesses(): OwnProcess[] {
  const mark = `${ownerVariable}=${owner}\0`
  const out: OwnProcess[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').includes(mark)) continue
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
      if (state === 'Z' || state === 'X') continue
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim()
      out.push({ pid: Number(entry), command })
    } catch {
      // gone while we looked, or not ours to read
    }
  }
  return out
}

/** Processes that were still there when teardown gave up waiting (killed then), for the report. */
const outlived: OwnProcess[] = []

/**
 * Waits (bounded) until no process of this file is left; kills and remembers whatever is
 * still there at the end. What is remembered fails the file (test/support/leftovers.ts).
 */
export async function waitOwnProcessesGone(timeoutMs = 15_000): Promise<OwnProcess[]> {
  const deadline = Date.now() + timeoutMs
  let left = ownProcesses()
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50)
    left = ownProcesses()
  }
  if (left.length === 0) return []
  outlived.push(...left)
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL')
    } catch {
      // gone meanwhile
    }
  }
  const killDeadline = Date.now() + 5_000
  while (ownProcesses().length > 0 && Date.now() < killDeadline) await sleep(50)
  return left
}

/** Processes that outlived their teardown since the last call (and forgets them). */
export function takeOutlived(): OwnProcess[] {
  return outlived.splice(0)
}

/** SIGKILLs a child and waits (bounded) until it has exited. */
export async function killAndWait(proc: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const gone = new Promise<void>((r) => proc.once('exit', () => r()))
  proc.kill('SIGKILL')
  await Promise.race([gone, sleep(timeoutMs)])
}

export function tempDir(prefix = 'gc-it-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(dir)
  return dir
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `geocluster <args>` to completion (bounded). */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliMain, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, GEOCLUSTER_API: '', GEOCLUSTER_TOKEN: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    // Decoded as a stream, so a character split across two reads stays whole.
    child.stdout.setEncoding('utf8')
    child.stderr.setEncoding('utf8')
    child.stdout.on('data', (d: string) => {
      stdout += d
    })
    child.stderr.on('data', (d: string) => {
      stderr += d
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(
          `geocluster ${args.join(' ')} took longer than ${options.timeoutMs ?? 30_000} ms\n${stdout}\n${stderr}`,
        ),
      )
    }, options.timeoutMs ?? 30_000)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, stdout, stderr })
    })
  })
}

export interface RunningNode {
  url: string
  token: string
  dataDir: string
  proc: ChildProcess
  output(): string
  /** Resolves with the exit code/signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>
  cli(args: string[]): Promise<CliResult>
}

/** The JSON document a `--json` command printed; a failure names the command's whole output. */
export function jsonOf<T = unknown>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T
  } catch (error) {
    throw new Error(
      `not one JSON document (${(error as Error).message}); exit ${r.code}\nstdout: ${JSON.stringify(r.stdout.slice(0, 2000))}\nstderr: ${r.stderr.slice(0, 2000)}`,
    )
  }
}

/** Starts `geocluster lab` (or other foreground args) and waits for its banner. */
export async function startLab(
  dataDir: string,
  extraArgs: string[] = [],
  options: { ownProcessGroup?: boolean; env?: NodeJS.ProcessEnv; wrapper?: string[] } = {},
): Promise<RunningNode> {
  // A wrapper runs the lab under it (`prlimit --nofile=120 --`), still in the foreground.
  const [command, ...prefix] = [...(options.wrapper ?? []), process.execPath]
  const proc = spawn(
    command!,
    [...prefix, cliMain, 'lab', '--data-dir', dataDir, '--api-port', '0', ...extraArgs],
    {
      cwd: repoRoot,
      env: { ...process.env, GEOCLUSTER_LOG_LEVEL: 'info', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own group, so a test can signal the whole group as a terminal's Ctrl-C does.
      detached: options.ownProcessGroup === true,
    },
  )
  started.add(proc)
  let out = ''
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    proc.once('exit', (code, signal) => {
      started.delete(proc)
      r({ code, signal })
    }),
  )
  let gone = false
  void exited.then(() => {
    gone = true
  })
  const deadline = Date.now() + 30_000
  let url: string | undefined
  while (url === undefined) {
    const m = /API:\s+(https?:\/\/\S+)/.exec(out)
    if (m !== null) url = m[1]
    else if (gone) throw new Error(`lab exited before it was ready:\n${out}`)
    else if (Date.now() > deadline) throw new Error(`lab not ready within 30 s:\n${out}`)
    else await sleep(50)
  }
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim()
  const base = url
  return {
    url: base,
    token,
    dataDir,
    proc,
    output: () => out,
    exited,
    api: async <T>(method: string, path: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const text = await res.text()
      return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T }
    },
    cli: (args: string[]) => runCli([...args, '--api', base, '--token', token]),
  }
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(intervalMs)
  }
}

interface ProcStat {
  pid: number
  state: string
  ppid: number
  pgrp: number
}

function procStats(): ProcStat[] {
  const out: ProcStat[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.push({ pid: Number(entry), state: state!, ppid: Number(ppid), pgrp: Number(pgrp) })
    } catch {
      // gone while we looked
    }
  }
  return out
}

/** Running: there, and not a zombie (killed, not yet reaped by its parent). */
export function pidRunning(pid: number): boolean {
  return procStats().some((p) => p.pid === pid && p.state !== 'Z' && p.state !== 'X')
}

/** Live children of a process, with their command lines. */
export function childrenOf(pid: number): OwnProcess[] {
  return procStats()
    .filter((p) => p.ppid === pid && p.state !== 'Z' && p.state !== 'X')
    .map((p) => {
      let command = ''
      try {
        command = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
      } catch {
        // gone meanwhile
      }
      return { pid: p.pid, command }
    })
}

/** Live (non-zombie) members of a process group, from /proc. */
export function groupMembers(pgid: number): number[] {
  return procStats()
    .filter((p) => p.pgrp === pgid && p.state !== 'Z' && p.state !== 'X')
    .map((p) => p.pid)
}

/**
 * Kills every process this module started and waits for each to exit; then waits (bounded) for
 * everything they started — resource monitors stopping their resources, apps — to be gone, and
 * only then removes the temp dirs. Call from afterEach/afterAll. Returns what had to be killed
 * (it also fails the test file, test/support/leftovers.ts).
 */
export async function cleanUp(extraGroups: number[] = []): Promise<OwnProcess[]> {
  await Promise.all([...started].map((p) => killAndWait(p)))
  for (const pgid of extraGroups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const outlivedNow = await waitOwnProcessesGone()
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
  tempDirs.clear()
  return outlivedNow
}
