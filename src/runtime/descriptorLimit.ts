/**
 * The process's open-file limit. Every mesh connection, API client, WAL segment and snapshot
 * takes a descriptor, and a default soft limit of 1,024 is easy to reach under load or attack;
 * the soft limit is raised to the hard one at start (as systemd's LimitNOFILE would), and both
 * are reported so an operator sees what the node runs with.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export interface DescriptorLimit {
  soft: number
  hard: number
  /** The soft limit before it was raised, when it was. */
  raisedFrom: number | null
  /** Why it could not be raised, when it could not. */
  problem: string | null
}

/** Below this the node warns: a busy cluster node needs more. */
export const descriptorsWanted = 4_096

function readLimit(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const [soft, hard] = (line ?? '').slice('Max open files'.length).trim().split(/\s+/)
    const n = (v: string | undefined) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v))
    if (!Number.isFinite(n(soft)) && n(soft) !== Number.POSITIVE_INFINITY) return null
    return { soft: n(soft), hard: n(hard) }
  } catch {
    return null
  }
}

/** Raises the soft limit to the hard one (util-linux `prlimit` on this process); null without procfs. */
export function raiseDescriptorLimit(): DescriptorLimit | null {
  const before = readLimit()
  if (before === null) return null
  if (before.soft >= before.hard) return { ...before, raisedFrom: null, problem: null }
  let problem: string | null = null
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${before.hard}:${before.hard}`], {
      stdio: 'ignore',
      timeout: 2_000,
    })
  } catch (error) {
    problem = `prlimit failed: ${(error as Error).message.split('\n')[0]}`
  }
  const after = readLimit() ?? before
  return { ...after, raisedFrom: after.soft > before.soft ? before.soft : null, problem }
}
