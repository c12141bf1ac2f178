import type { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { z } from 'zod'
import type { ClusterEvent } from '../../events/clusterEvent.ts'
import type { AdminBackend } from '../adminBackend.ts'
import { parseQuery, parseValue } from '../requestContext.ts'
import { listQuery } from '../requestSchemas.ts'

const keepAliveMs = 15_000
const subscriberQueueMax = 10_000

export function eventRoutes(app: Hono, node: AdminBackend): void {
  // The audit trail: who changed the cluster database and when (replicated with it).
  app.get('/v1/audit', async (c) => {
    const limit = parseQuery(c, 'limit', listQuery.limit)
    const since = parseQuery(c, 'since', listQuery.since)
    return c.json({ entries: await node.read((db) => db.auditTrail(since, limit)) })
  })
  app.get('/v1/events/history', (c) => {
    const limit = parseQuery(c, 'limit', listQuery.limit)
    const since = parseQuery(c, 'since', listQuery.since)
    return c.json({ events: node.events.since(since, limit) })
  })
  // Server-Sent Events: the backlog after Last-Event-ID (or ?since=), then live events.
  app.get('/v1/events', (c) => {
    const lastId = c.req.header('Last-Event-ID')
    const since =
      lastId !== undefined
        ? parseValue(z.coerce.number().int().min(0), lastId, 'header.Last-Event-ID')
        : parseQuery(c, 'since', listQuery.since)
    return streamSSE(c, async (stream) => {
      const queue: ClusterEvent[] = []
      let wake: (() => void) | null = null
      let open = true
      const unsubscribe = node.events.subscribe((e) => {
        // A client that cannot keep up is dropped rather than buffered without limit.
        if (queue.length >= subscriberQueueMax) open = false
        else queue.push(e)
        wake?.()
      })
      stream.onAbort(() => {
        open = false
        wake?.()
      })
      const send = (e: ClusterEvent) =>
        stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(e) })
      try {
        let seen = since
        for (const e of node.events.since(since)) {
          await send(e)
          seen = e.seq
        }
        while (open) {
          while (queue.length > 0) {
            const e = queue.shift()!
            if (e.seq > seen) {
              seen = e.seq
              await send(e)
            }
          }
          await new Promise<void>((resolve) => {
            wake = resolve
            const t = setTimeout(resolve, keepAliveMs)
            t.unref()
          })
          wake = null
          if (open && queue.length === 0) await stream.write(': keep-alive\n\n')
        }
      } finally {
        unsubscribe()
      }
    })
  })
}
