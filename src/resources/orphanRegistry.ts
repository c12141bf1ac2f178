/**
 * The monitor writes down the process groups it runs, with their kernel start times. If a
 * monitor ever dies without stopping them (SIGKILL of the monitor itself), the next monitor on
 * this data dir kills what is left before it starts anything: no orphans, even then.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { processStartTime } from '../storage/processIdentity.ts'
import { signalGroup } from './processGroup.ts'

/** Where the monitor running for the data-dir folder `dir` keeps its registry. */
export function registryFile(dir: string): string {
  return join(dir, 'monitor-processes.json')
}

interface Registered {
  resource: string
  pgid: number
  startTime: string
}

export class OrphanRegistry {
  private readonly file: string

  constructor(file: string) {
    this.file = file
  }

  /** Kills every registered group that is still the same process; returns what it killed. */
  reap(): { resource: string; pid: number }[] {
    let entries: Registered[]
    try {
      entries = JSON.parse(readFileSync(this.file, 'utf8')) as Registered[]
    } catch {
      return []
    }
    const reaped: { resource: string; pid: number }[] = []
    for (const e of Array.isArray(entries) ? entries : []) {
      if (
        typeof e.pgid === 'number' &&
        processStartTime(e.pgid) === e.startTime &&
        signalGroup(e.pgid, 'SIGKILL')
      ) {
        reaped.push({ resource: e.resource, pid: e.pgid })
      }
    }
    this.record([])
    return reaped
  }

  record(groups: { resource: string; pgid: number }[]): void {
    const entries: Registered[] = []
    for (const g of groups) {
      const startTime = processStartTime(g.pgid)
      if (startTime !== null) entries.push({ ...g, startTime })
    }
    const tmp = `${this.file}.tmp`
    writeFileSync(tmp, JSON.stringify(entries))
    renameSync(tmp, this.file)
  }
}
