/** A node's events: kept in its event log, and said in its log too (all but routine database changes). */
import { join } from 'node:path'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import { EventLog, eventLogCapacityDefault } from '../events/eventLog.ts'
import type { Logger } from '../events/logger.ts'
import { EventJournal } from '../storage/eventJournal.ts'
import type { Clock } from './clock.ts'
import type { ClusterNodeInit } from './clusterNodeInit.ts'

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

/**
 * Writes the node's events to its journal as they happen. Routine database changes are left out:
 * the audit trail (replicated with the database) already holds each one, and under a stream of
 * writes they would push the events that matter out of the journal's bounded files.
 */
function journaledEvents(events: EventLog, journal: EventJournal): () => void {
  return events.subscribe((e) => {
    if (e.type !== 'database:changed') journal.append(e)
  })
}

/** The node's event log, holding its journal's newest events from before, and journaling new ones. */
export function journaledEventLog(
  init: Pick<ClusterNodeInit, 'dataDir' | 'nodeName' | 'logger' | 'eventJournal'>,
  clock: Clock,
): { events: EventLog; journal: EventJournal } {
  const journal = new EventJournal(join(init.dataDir, 'events'), {
    ...(init.eventJournal === undefined ? {} : { limits: init.eventJournal }),
    onError: (e) => init.logger.warn({ err: e.message }, 'cannot write the event journal'),
  })
  const events = new EventLog({
    node: init.nodeName,
    now: () => clock.now(),
    history: journal.recent(eventLogCapacityDefault),
  })
  journaledEvents(events, journal)
  return { events, journal }
}
