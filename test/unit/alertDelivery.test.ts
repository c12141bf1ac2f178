/**
 * Alerts' pure parts: which events an alert wants, the per-alert queue (order, one under way,
 * exponential backoff, bounded attempts and length), and the alert records every node applies
 * alike (valid targets only, names once, a bounded number).
 */
import { describe, expect, it } from 'vitest'
import { alertsMax } from '../../src/database/alertRules.ts'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { type Command, commandSchema } from '../../src/database/commands.ts'
import { AlertQueue, alertWants, type QueuedAlert } from '../../src/events/alertDelivery.ts'
import type { ClusterEvent, ClusterEventType, Severity } from '../../src/events/clusterEvent.ts'

const event = (
  seq: number,
  type: ClusterEventType = 'resource:failed',
  severity: Severity = 'error',
): ClusterEvent => ({
  seq,
  time: '2026-01-01T00:00:00.000Z',
  node: 'n1',
  type,
  severity,
  message: `e${seq}`,
})
const alert = (name: string, more: Partial<QueuedAlert> = {}): QueuedAlert => ({
  name,
  events: [],
  severities: [],
  attempts: 3,
  ...more,
})

describe('alertWants', () => {
  it('takes every event without filters, else kinds, nouns and severities', () => {
    expect(alertWants(alert('a'), event(1, 'node:up', 'info'))).toBe(true)
    const resources = alert('r', { events: ['resource:*', 'group:failed'] })
    expect(alertWants(resources, event(1, 'resource:online', 'info'))).toBe(true)
    expect(alertWants(resources, event(1, 'group:failed'))).toBe(true)
    expect(alertWants(resources, event(1, 'group:owner', 'info'))).toBe(false)
    const loud = alert('l', { severities: ['warning', 'error'] })
    expect(alertWants(loud, event(1, 'node:up', 'info'))).toBe(false)
    expect(alertWants(loud, event(1, 'node:down', 'warning'))).toBe(true)
  })
})

describe('AlertQueue', () => {
  it('delivers each alert’s events in order, one under way at a time, alerts side by side', () => {
    const q = new AlertQueue<QueuedAlert>()
    const a = alert('a')
    const b = alert('b', { events: ['node:*'] })
    q.offer(event(1), [a, b], 0)
    q.offer(event(2, 'node:down', 'warning'), [a, b], 0)
    const first = q.take(0)
    expect(first.map((d) => `${d.alert.name}:${d.event.seq}`)).toEqual(['a:1', 'b:2'])
    expect(q.take(0)).toEqual([]) // both busy
    expect(q.settle(first[0]!.id, { ok: true }, 5).outcome).toBe('delivered')
    expect(q.take(5).map((d) => `${d.alert.name}:${d.event.seq}`)).toEqual(['a:2'])
  })

  it('retries after 1 s, 2 s, 4 s … and gives up after the alert’s attempts', () => {
    const q = new AlertQueue<QueuedAlert>({ backoffMsFirst: 1_000, backoffMsMax: 3_000 })
    q.offer(event(1), [alert('a', { attempts: 4 })], 0)
    const outcomes: string[] = []
    let now = 0
    for (let i = 0; i < 4; i++) {
      const due = q.nextDueAt()
      expect(due).not.toBeNull()
      now = due!
      const [d] = q.take(now)
      const s = q.settle(d!.id, { ok: false, error: 'HTTP 500' }, now)
      outcomes.push(`${s.outcome}@${now}`)
    }
    // Waits of 1 s, 2 s, then 3 s (the cap) between the four attempts.
    expect(outcomes).toEqual(['retry@0', 'retry@1000', 'retry@3000', 'gave-up@6000'])
    expect(q.nextDueAt()).toBeNull()
  })

  it('is not due before its backoff ends, and a later success delivers it', () => {
    const q = new AlertQueue<QueuedAlert>()
    q.offer(event(1), [alert('a')], 100)
    const [d] = q.take(100)
    const retry = q.settle(d!.id, { ok: false, error: 'timeout' }, 100)
    expect(retry).toMatchObject({ outcome: 'retry', delivery: { attempt: 2, dueAt: 1_100 } })
    expect(q.take(1_099)).toEqual([])
    const [again] = q.take(1_100)
    expect(again?.attempt).toBe(2)
    expect(q.settle(again!.id, { ok: true }, 1_200).outcome).toBe('delivered')
  })

  it('drops events past the queue’s bound, saying so once per spell', () => {
    const q = new AlertQueue<QueuedAlert>({ queuedMax: 3 })
    const a = alert('a')
    const said: number[] = []
    for (let s = 1; s <= 6; s++) if (q.offer(event(s), [a], 0).length > 0) said.push(s)
    expect(said).toEqual([4])
    expect(q.queued().get('a')).toBe(3)
    const [d] = q.take(0)
    q.settle(d!.id, { ok: true }, 0)
    // Room again: the next event is queued and a new spell of drops is reported again.
    expect(q.offer(event(7), [a], 0)).toEqual([])
    expect(q.offer(event(8), [a], 0).length).toBe(1)
  })

  it('forgets a deleted alert’s queue; one under way is not tried again', () => {
    const q = new AlertQueue<QueuedAlert>()
    const a = alert('a')
    q.offer(event(1), [a], 0)
    q.offer(event(2), [a], 0)
    const [d] = q.take(0)
    q.keepOnly(new Set())
    expect(q.settle(d!.id, { ok: false, error: 'x' }, 0).outcome).toBe('gave-up')
    expect(q.nextDueAt()).toBeNull()
    expect(q.queued().size).toBe(0)
  })
})

describe('alert records', () => {
  const add = (name: string, to: unknown, more: Record<string, unknown> = {}) =>
    commandSchema.safeParse({
      op: 'alert.add',
      name,
      to,
      events: [],
      severities: [],
      timeoutMs: 1_000,
      attempts: 3,
      ...more,
    })

  it('accepts http and https webhooks and absolute script paths, nothing else', () => {
    expect(add('a', { kind: 'webhook', url: 'https://hooks.example.com/x?y=1' }).success).toBe(true)
    expect(add('a', { kind: 'webhook', url: 'http://127.0.0.1:8080/' }).success).toBe(true)
    expect(add('a', { kind: 'script', path: '/usr/local/bin/alert' }).success).toBe(true)
    for (const to of [
      { kind: 'webhook', url: 'ftp://example.com/' },
      { kind: 'webhook', url: 'file:///etc/passwd' },
      { kind: 'webhook', url: 'not a url' },
      { kind: 'webhook', url: `https://x.example/${'a'.repeat(3000)}` },
      { kind: 'script', path: 'relative/alert' },
      { kind: 'script', path: '/bin/a\0b' },
      { kind: 'shell', command: 'rm -rf /' },
    ])
      expect(add('a', to).success, JSON.stringify(to).slice(0, 80)).toBe(false)
    const hook = { kind: 'webhook', url: 'http://127.0.0.1/' }
    expect(add('a', hook, { events: ['resource:*', 'node:down'] }).success).toBe(true)
    expect(add('a', hook, { events: ['bogus:*'] }).success).toBe(false)
    expect(add('a', hook, { events: ['resource:exploded'] }).success).toBe(false)
    expect(add('a', hook, { severities: ['fatal'] }).success).toBe(false)
    expect(add('a', hook, { timeoutMs: 10 }).success).toBe(false)
    expect(add('a', hook, { attempts: 0 }).success).toBe(false)
  })

  it('are added once by name, listed, deleted, and bounded in number', () => {
    const db = new ClusterDatabase()
    let index = 0
    const apply = (c: Command) => db.apply(++index, c)
    const hook = (name: string): Command => ({
      op: 'alert.add',
      name,
      to: { kind: 'webhook', url: 'http://127.0.0.1:9/' },
      events: [],
      severities: ['error'],
      timeoutMs: 1_000,
      attempts: 2,
    })
    expect(apply(hook('pager')).ok).toBe(true)
    expect(apply(hook('pager'))).toMatchObject({ ok: false, reason: 'conflict' })
    expect(db.alerts()).toEqual([
      {
        kind: 'alert',
        name: 'pager',
        to: { kind: 'webhook', url: 'http://127.0.0.1:9/' },
        events: [],
        severities: ['error'],
        timeoutMs: 1_000,
        attempts: 2,
      },
    ])
    expect(apply({ op: 'alert.delete', name: 'pager' }).ok).toBe(true)
    expect(apply({ op: 'alert.delete', name: 'pager' })).toMatchObject({ ok: false, reason: 'not-found' })
    for (let i = 0; i < alertsMax; i++) expect(apply(hook(`a${i}`)).ok).toBe(true)
    expect(apply(hook('one-more'))).toMatchObject({ ok: false, reason: 'quota' })
    expect(db.alertCount).toBe(alertsMax)
    // A snapshot carries them.
    expect(ClusterDatabase.restore(db.snapshot()).alerts()).toHaveLength(alertsMax)
  })
})
