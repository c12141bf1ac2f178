/** A node's events: kept in its event log, and said in its log too (all but routine database changes). */
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { EventLog } from '../events/eventLog.ts'
import type { Logger } from '../events/logger.ts'

export function loggedEvents(events: EventLog, log: Logger): (input: ClusterEventInput) => void {
  return (input) => {
    const e = events.emit(input)
    if (e.type === 'database:changed') return
    const level = e.severity === 'error' ? 'error' : e.severity === 'warning' ? 'warn' : 'info'
    log[level](
      {
        event: e.type,
        ...(e.group ? { group: e.group } : {}),
        ...(e.resource ? { resource: e.resource } : {}),
      },
      e.message,
    )
  }
}
