/**
 * Process groups: every resource process is started as the leader of its own group, so a stop
 * reaches everything it forked (`kill(-pgid)`), as WSFC's and Pacemaker's stops do.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false // ESRCH: nobody left in the group
  }
}

/**
 * True while a live (non-zombie) process is in the group. Zombies count as gone: they run no
 * code, and an orphaned one waits on whoever reaps for PID 1, which can take seconds.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0 as unknown as NodeJS.Signals)) return false
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return true // no procfs: the signal probe is all we have
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // Fields after the command name: state (3), ppid (4), pgrp (5).
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true
    } catch {
      // The process exited while we looked.
    }
  }
  return false
}

/** Polls until no process is left in the group or `timeoutMs` passes; true when gone. */
export async function waitGroupGone(pgid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (!groupAlive(pgid)) return true
    if (performance.now() >= deadline) return false
    await sleep(pollMs)
  }
}

/** SIGTERM the group, SIGKILL what is left after `graceMs`, and wait (bounded) until it is gone. */
export async function stopGroup(pgid: number, graceMs: number): Promise<'terminated' | 'killed' | 'stuck'> {
  if (!signalGroup(pgid, 'SIGTERM')) return 'terminated'
  if (await waitGroupGone(pgid, graceMs)) return 'terminated'
  signalGroup(pgid, 'SIGKILL')
  return (await waitGroupGone(pgid, 5_000)) ? 'killed' : 'stuck'
}
