import type { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { z } from 'zod'
import type { ClusterEvent } from '../../events/clusterEvent.ts'
import type { AdminBackend } from '../adminBackend.ts'
import { parseQuery, parseValue } from '../requestContext.ts'
import { listQuery } from '../requestSchemas.ts'

const keepAliveMs = 15_000
const subscriberQueueMax = 10_000
/** A client that has not taken a write within this is cut off: it holds a socket and a buffer. */
const sseWriteTimeoutMs = 10_000

/** The socket under a request served by @hono/node-server, when there is one. */
function socketOf(env: unknown): { destroy(): void } | undefined {
  return (env as { incoming?: { socket?: { destroy(): void } } } | undefined)?.incoming?.socket
}

export function eventRoutes(app: Hono, node: AdminBackend, opts: { writeTimeoutMs?: number } = {}): void {
  const writeTimeoutMs = opts.writeTimeoutMs ?? sseWriteTimeoutMs
  // The audit trail: who changed the cluster database and when (replicated with it).
  app.get('/v1/audit', async (c) => {
    const limit = parseQuery(c, 'limit', listQuery.limit)
    const since = parseQuery(c, 'since', listQuery.since)
    return c.json({ entries: await node.read((db) => db.auditTrail(since, limit), { bulk: true }) })
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
      // A write waits for the client to read; one that stops reading is dropped, not waited for.
      const bounded = async (write: Promise<unknown>) => {
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<'late'>((r) => {
          timer = setTimeout(() => r('late'), writeTimeoutMs)
        })
        const outcome = await Promise.race([write.then(() => 'written' as const), late])
        clearTimeout(timer)
        if (outcome === 'late') {
          open = false
          stream.abort()
          socketOf(c.env)?.destroy()
        }
      }
      const send = (e: ClusterEvent) =>
        bounded(stream.writeSSE({ id: String(e.seq), event: e.type, data: JSON.stringify(e) }))
      try {
        let seen = since
        for (const e of node.events.since(since)) {
          if (!open) break
          await send(e)
          seen = e.seq
        }
        while (open) {
          while (queue.length > 0 && open) {
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
          if (open && queue.length === 0) await bounded(stream.write(': keep-alive\n\n'))
        }
      } finally {
        unsubscribe()
      }
    })
  })
}
