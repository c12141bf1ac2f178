/**
 * Runs the cluster's alerts for this node's own events (every node for the events it sees, as
 * Pacemaker runs alerts on each node). The queue (events/alertDelivery.ts) decides what to try
 * and when; this part sends and runs, off the event loop's critical path: nothing here is
 * awaited by the tick or by whoever emitted the event. A delivery given up after its attempts,
 * or events dropped from a full queue, are events themselves — `alert:*` events go to no alert,
 * so a failing alert cannot feed itself.
 */
import type { AlertRecord } from '../database/entities.ts'
import { AlertQueue, type AlertQueueLimits, type Delivery } from '../events/alertDelivery.ts'
import type { ClusterEvent } from '../events/clusterEvent.ts'
import type { EventLog } from '../events/eventLog.ts'
import { type AttemptResult, alertVariables, postWebhook, runAlertScript } from './alertSenders.ts'
import type { NodeContext } from './nodeContext.ts'

export interface AlertRunnerParts extends Pick<NodeContext, 'db' | 'emit' | 'log' | 'monotonic'> {
  events: EventLog
  version: string
  limits?: Partial<AlertQueueLimits>
}

/** What this node did for one alert since it started. */
export interface AlertDeliveries {
  queued: number
  delivered: number
  failed: number
  dropped: number
}

export class AlertRunner {
  private readonly p: AlertRunnerParts
  private readonly queue: AlertQueue<AlertRecord>
  private readonly counts = new Map<string, AlertDeliveries>()
  private readonly underWay = new Set<Promise<void>>()
  private readonly stopping = new AbortController()
  private unsubscribe: (() => void) | null = null
  private timer: NodeJS.Timeout | null = null

  constructor(parts: AlertRunnerParts) {
    this.p = parts
    this.queue = new AlertQueue(parts.limits)
  }

  start(): void {
    this.unsubscribe = this.p.events.subscribe((e) => this.seen(e))
  }

  /** Takes no more events; waits up to `graceMs` for deliveries under way, then cuts them off. */
  async stop(graceMs: number): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = null
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const all = Promise.all(this.underWay)
    let grace: NodeJS.Timeout | undefined
    await Promise.race([all, new Promise((r) => (grace = setTimeout(r, graceMs)))])
    clearTimeout(grace)
    this.stopping.abort()
    await all
  }

  /** Per alert: deliveries waiting, done, given up and dropped on this node. */
  deliveries(): Record<string, AlertDeliveries> {
    const queued = this.queue.queued()
    const out: Record<string, AlertDeliveries> = {}
    for (const a of this.p.db().alerts())
      out[a.name] = { ...this.countOf(a.name), queued: queued.get(a.name) ?? 0 }
    return out
  }

  private seen(event: ClusterEvent): void {
    // Alerts about alerts go nowhere; with no alert configured an event costs a count.
    if (event.type.startsWith('alert:') || this.p.db().alertCount === 0) return
    const alerts = this.p.db().alerts()
    this.queue.keepOnly(new Set(alerts.map((a) => a.name)))
    for (const { alert, queued } of this.queue.offer(event, alerts, this.p.monotonic())) {
      this.countOf(alert.name).dropped++
      // After the event that is being told to listeners now: they see events in order of seq.
      queueMicrotask(() =>
        this.p.emit({
          type: 'alert:dropped',
          severity: 'warning',
          message: `alert ${alert.name} drops events: ${queued} deliveries wait already (its receiver is slow or down)`,
          data: { alert: alert.name, firstDropped: event.seq },
        }),
      )
    }
    this.pump()
  }

  /** Starts what is due; sets a timer for what falls due later. */
  private pump(): void {
    if (this.stopping.signal.aborted) return
    for (const d of this.queue.take(this.p.monotonic())) {
      const run = this.attempt(d).finally(() => this.underWay.delete(run))
      this.underWay.add(run)
    }
    const next = this.queue.nextDueAt()
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    if (next === null || this.unsubscribe === null) return
    this.timer = setTimeout(() => this.pump(), Math.max(0, next - this.p.monotonic()))
    this.timer.unref()
  }

  private async attempt(d: Delivery<AlertRecord>): Promise<void> {
    const { alert, event } = d
    let result: AttemptResult
    try {
      result =
        alert.to.kind === 'webhook'
          ? await postWebhook(
              alert.to.url,
              event,
              alert.timeoutMs,
              this.stopping.signal,
              `geocluster/${this.p.version}`,
            )
          : await runAlertScript(
              alert.to.path,
              alertVariables(alert, event, d.attempt),
              event,
              alert.timeoutMs,
              this.stopping.signal,
            )
    } catch (error) {
      result = { ok: false, error: (error as Error).message }
    }
    const settled = this.queue.settle(d.id, result, this.p.monotonic())
    if (settled.outcome === 'delivered') this.countOf(alert.name).delivered++
    if (settled.outcome === 'retry' && !result.ok)
      this.p.log.debug(
        { alert: alert.name, attempt: d.attempt, err: result.error },
        'alert delivery failed; trying again',
      )
    if (settled.outcome === 'gave-up') {
      this.countOf(alert.name).failed++
      this.p.emit({
        type: 'alert:failed',
        severity: 'warning',
        message: `alert ${alert.name} could not deliver event ${event.seq} (${event.type}) after ${d.attempt} attempt(s): ${settled.error}`,
        data: { alert: alert.name, event: event.seq, attempts: d.attempt, error: settled.error },
      })
    }
    this.pump()
  }

  private countOf(name: string): AlertDeliveries {
    let c = this.counts.get(name)
    if (c === undefined) {
      c = { queued: 0, delivered: 0, failed: 0, dropped: 0 }
      this.counts.set(name, c)
    }
    return c
  }
}
