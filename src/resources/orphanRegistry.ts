/**
 * The monitor writes down the process groups it runs, and their lease keepers, with their kernel
 * start times. If a monitor ever dies without stopping them (SIGKILL of the monitor itself), the
 * next monitor on this data dir kills what is left before it starts anything: no orphans, even
 * then. A keeper left behind (say, stopped by SIGSTOP) is killed too, before it can wake and
 * signal a group id that has meanwhile been reused.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { processStartTime } from '../storage/processIdentity.ts'
import { signalGroup } from './processGroup.ts'

/** Where the monitor running for the data-dir folder `dir` keeps its registry. */
export function registryFile(dir: string): string {
  return join(dir, 'monitor-processes.json')
}

/** A process group, or (`keeper`) a lease keeper's pid. Older files hold groups only. */
type Registered =
  | { resource: string; pgid: number; startTime: string }
  | { resource: string; keeper: number; startTime: string }

export class OrphanRegistry {
  private readonly file: string

  constructor(file: string) {
    this.file = file
  }

  /**
   * Kills every registered keeper, then every registered group, that is still the same process;
   * returns the groups it killed.
   */
  reap(): { resource: string; pid: number }[] {
    let entries: Partial<Record<string, unknown>>[]
    try {
      const parsed: unknown = JSON.parse(readFileSync(this.file, 'utf8'))
      entries = Array.isArray(parsed) ? parsed : []
    } catch {
      return []
    }
    const same = (pid: unknown, startTime: unknown): pid is number =>
      typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 1 && processStartTime(pid) === startTime
    for (const e of entries) {
      if (same(e.keeper, e.startTime)) {
        try {
          process.kill(e.keeper, 'SIGKILL')
        } catch {
          // gone meanwhile
        }
      }
    }
    const reaped: { resource: string; pid: number }[] = []
    for (const e of entries) {
      if (same(e.pgid, e.startTime) && signalGroup(e.pgid, 'SIGKILL'))
        reaped.push({ resource: String(e.resource), pid: e.pgid })
    }
    this.record([])
    return reaped
  }

  record(
    groups: { resource: string; pgid: number }[],
    keepers: { resource: string; pid: number }[] = [],
  ): void {
    const entries: Registered[] = []
    for (const g of groups) {
      const startTime = processStartTime(g.pgid)
      if (startTime !== null) entries.push({ ...g, startTime })
    }
    for (const k of keepers) {
      const startTime = processStartTime(k.pid)
      if (startTime !== null) entries.push({ resource: k.resource, keeper: k.pid, startTime })
    }
    const tmp = `${this.file}.tmp`
    writeFileSync(tmp, JSON.stringify(entries))
    renameSync(tmp, this.file)
  }
}
