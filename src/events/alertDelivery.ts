/**
 * Which alerts an event goes to and when each delivery is tried: a queue per alert, one delivery
 * of an alert under way at a time (so a receiver gets events in order), retries with
 * exponential backoff, and bounds on everything — attempts, queue length. Pure: time comes in
 * as an argument, and the runtime (runtime/alertRunner.ts) does the sending and running.
 */
import { assert } from '../errors/assert.ts'
import type { ClusterEvent } from './clusterEvent.ts'

export const alertQueueLimits = {
  /** Deliveries waiting per alert; an event past it is dropped for that alert (and reported). */
  queuedMax: 100,
  /** The wait after a first failed attempt; it doubles with each further failure. */
  backoffMsFirst: 1_000,
  backoffMsMax: 60_000,
} as const

export type AlertQueueLimits = { queuedMax: number; backoffMsFirst: number; backoffMsMax: number }

/** What the queue needs of an alert: its name, filters and how often to try. */
export interface QueuedAlert {
  name: string
  /** Event kinds or `noun:*`; empty: every kind. */
  events: readonly string[]
  /** Empty: every severity. */
  severities: readonly string[]
  attempts: number
}

export interface Delivery<A extends QueuedAlert = QueuedAlert> {
  id: number
  /** The alert as it was when the event came. */
  alert: A
  event: ClusterEvent
  /** 1 for the first try. */
  attempt: number
  dueAt: number
}

export function alertWants(alert: QueuedAlert, event: ClusterEvent): boolean {
  if (alert.severities.length > 0 && !alert.severities.includes(event.severity)) return false
  if (alert.events.length === 0) return true
  const noun = `${event.type.slice(0, event.type.indexOf(':'))}:*`
  return alert.events.includes(event.type) || alert.events.includes(noun)
}

/** Per alert: deliveries oldest first, the head possibly under way. */
interface AlertLine<A extends QueuedAlert> {
  waiting: Delivery<A>[]
  busy: boolean
  /** Events dropped since the queue was last below its bound. */
  dropping: number
  /** The alert was deleted while a delivery was under way: that one is not tried again. */
  forgotten: boolean
}

export type Settled<A extends QueuedAlert> =
  | { outcome: 'delivered'; delivery: Delivery<A> }
  | { outcome: 'retry'; delivery: Delivery<A> }
  | { outcome: 'gave-up'; delivery: Delivery<A>; error: string }

export class AlertQueue<A extends QueuedAlert> {
  private readonly limits: AlertQueueLimits
  private readonly lines = new Map<string, AlertLine<A>>()
  private nextId = 1

  constructor(limits: Partial<AlertQueueLimits> = {}) {
    this.limits = { ...alertQueueLimits, ...limits }
    assert(this.limits.queuedMax >= 1, 'an alert queue holds at least one delivery')
  }

  /**
   * Queues `event` for each of `alerts` that wants it. Returns the alerts whose queue was full
   * and that start dropping with this event (reported once per spell, not for every event).
   */
  offer(event: ClusterEvent, alerts: readonly A[], now: number): { alert: A; queued: number }[] {
    const startedDropping: { alert: A; queued: number }[] = []
    for (const alert of alerts) {
      if (!alertWants(alert, event)) continue
      const line = this.lineOf(alert.name)
      if (line.waiting.length >= this.limits.queuedMax) {
        if (line.dropping++ === 0) startedDropping.push({ alert, queued: line.waiting.length })
        continue
      }
      line.dropping = 0
      line.waiting.push({ id: this.nextId++, alert, event, attempt: 1, dueAt: now })
    }
    return startedDropping
  }

  /** Deliveries to try now: each idle alert's oldest, once it is due. They are marked under way. */
  take(now: number): Delivery<A>[] {
    const out: Delivery<A>[] = []
    for (const line of this.lines.values()) {
      const head = line.waiting[0]
      if (line.busy || head === undefined || head.dueAt > now) continue
      line.busy = true
      out.push(head)
    }
    return out
  }

  /** How a delivery that `take` gave out went: done, tried again after a backoff, or given up. */
  settle(id: number, result: { ok: true } | { ok: false; error: string }, now: number): Settled<A> {
    const line = [...this.lines.values()].find((l) => l.waiting[0]?.id === id)
    assert(line?.busy === true, () => `delivery ${id} is not under way`)
    const delivery = line.waiting[0]!
    line.busy = false
    if (line.forgotten) {
      // Deleted meanwhile: not tried again; what was queued since (added again) stays.
      line.forgotten = false
      line.waiting.shift()
      if (line.waiting.length === 0) this.lines.delete(delivery.alert.name)
      return result.ok
        ? { outcome: 'delivered', delivery }
        : { outcome: 'gave-up', delivery, error: result.error }
    }
    if (result.ok) {
      line.waiting.shift()
      return { outcome: 'delivered', delivery }
    }
    if (delivery.attempt >= delivery.alert.attempts) {
      line.waiting.shift()
      return { outcome: 'gave-up', delivery, error: result.error }
    }
    const backoff = Math.min(
      this.limits.backoffMsMax,
      this.limits.backoffMsFirst * 2 ** (delivery.attempt - 1),
    )
    const next = { ...delivery, attempt: delivery.attempt + 1, dueAt: now + backoff }
    line.waiting[0] = next
    return { outcome: 'retry', delivery: next }
  }

  /** When the next waiting delivery falls due (null: none waits, or all wait behind one under way). */
  nextDueAt(): number | null {
    let next: number | null = null
    for (const line of this.lines.values()) {
      const head = line.waiting[0]
      if (!line.busy && head !== undefined && (next === null || head.dueAt < next)) next = head.dueAt
    }
    return next
  }

  /** Drops the queues of alerts that are no longer configured (a delivery under way finishes). */
  keepOnly(names: ReadonlySet<string>): void {
    for (const [name, line] of this.lines)
      if (!names.has(name)) {
        if (line.busy) {
          line.waiting.splice(1)
          line.forgotten = true
        } else this.lines.delete(name)
      }
  }

  /** Deliveries waiting (and under way) per alert. */
  queued(): Map<string, number> {
    return new Map([...this.lines].map(([name, line]) => [name, line.waiting.length]))
  }

  private lineOf(name: string): AlertLine<A> {
    let line = this.lines.get(name)
    if (line === undefined) {
      line = { waiting: [], busy: false, dropping: 0, forgotten: false }
      this.lines.set(name, line)
    }
    return line
  }
}
