/**
 * A process's identity that survives pid reuse: the pid plus its start time in clock ticks
 * since boot (field 22 of /proc/<pid>/stat, Linux). Null when the process does not exist.
 */
import { readFileSync } from 'node:fs'

export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
    if (fields[0] === 'Z') return null
    return fields[19] ?? null
  } catch {
    return null
  }
}
