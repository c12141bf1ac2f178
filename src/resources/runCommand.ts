/**
 * Runs a short command (a health check, an agent's start/stop/monitor) in its own process
 * group with a time limit; on timeout the whole group is killed.
 */
import { spawn } from 'node:child_process'
import { signalGroup } from './processGroup.ts'
import type { RotatingLog } from './rotatingLog.ts'

export interface CommandResult {
  code: number | null
  signal: NodeJS.Signals | null
  timedOut: boolean
  /** Last bytes of stderr, for error messages. */
  stderrTail: string
  /** Standard output, when asked for (`capture`; at most 64 KiB). */
  stdout: string
}

export function runCommand(
  file: string,
  args: string[],
  options: {
    env: NodeJS.ProcessEnv
    cwd?: string | undefined
    timeoutMs: number
    log: RotatingLog
    onSpawn?: (pid: number) => void
    onExit?: (pid: number) => void
    /** Keep stdout for the caller instead of only logging it. */
    capture?: boolean
  },
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      env: options.env,
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderrTail = ''
    let stdout = ''
    let timedOut = false
    child.stdout.on('data', (chunk: Buffer) => {
      if (options.capture === true) stdout = (stdout + chunk.toString('utf8')).slice(0, 64 * 1024)
      else options.log.write(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      options.log.write(chunk)
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-512)
    })
    const timer = setTimeout(() => {
      timedOut = true
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL')
    }, options.timeoutMs)
    child.once('spawn', () => {
      if (child.pid !== undefined) options.onSpawn?.(child.pid)
    })
    child.once('error', (error) => {
      clearTimeout(timer)
      resolve({ code: null, signal: null, timedOut: false, stderrTail: error.message, stdout })
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (child.pid !== undefined) options.onExit?.(child.pid)
      resolve({ code, signal, timedOut, stderrTail: stderrTail.trim(), stdout })
    })
  })
}

export function describeResult(what: string, r: CommandResult, timeoutMs: number): string {
  if (r.timedOut) return `${what} timed out after ${timeoutMs} ms`
  const detail = r.stderrTail === '' ? '' : `: ${r.stderrTail.split('\n').at(-1)}`
  if (r.signal !== null) return `${what} killed by ${r.signal}${detail}`
  return `${what} exited with code ${String(r.code)}${detail}`
}
