/**
 * Serves the admin API on a TCP address (loopback by default), with the limits a server off
 * loopback needs: a connection that sends nothing is closed after a few seconds, headers and
 * whole requests have deadlines, idle keep-alive connections end, and connections are capped in
 * all and per client address — so idle or slow clients cannot take the node's descriptors.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import { serve } from '@hono/node-server'
import type { Hono } from 'hono'
import { GeoclusterError } from '../errors/errors.ts'

export const apiLimits = {
  /** A connection that has sent no byte by then is closed. */
  firstByteTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  /** Open connections from one client address (and at most a quarter of the cap). */
  connectionsPerClientMax: 1_024,
  /** Open connections in all, at most (and at most a quarter of the descriptor limit). */
  connectionsMax: 4_096,
} as const

export interface RunningServer {
  url: string
  /** Connections refused by the caps since start. */
  refusedConnections(): number
  close(): Promise<void>
}

export interface ServerLimits {
  /** The process's descriptor limit (soft); the connection cap stays well below it. */
  descriptorLimit?: number
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: Buffer; key: Buffer }
}

/** Connections in all, and per client address, for a process with this descriptor limit. */
export function connectionCaps(descriptorLimit: number | undefined): { total: number; perClient: number } {
  const total =
    descriptorLimit === undefined || !Number.isFinite(descriptorLimit)
      ? apiLimits.connectionsMax
      : Math.max(8, Math.min(apiLimits.connectionsMax, Math.floor(descriptorLimit / 4)))
  // No one client address can take the whole cap: the others keep a way in.
  return { total, perClient: Math.max(2, Math.min(apiLimits.connectionsPerClientMax, Math.floor(total / 4))) }
}

export function listenAdminApi(
  app: Hono,
  host: string,
  port: number,
  limits: ServerLimits = {},
): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const caps = connectionCaps(limits.descriptorLimit)
    const perClient = new Map<string, number>()
    let open = 0
    let refused = 0
    const serverOptions = {
      headersTimeout: apiLimits.headersTimeoutMs,
      requestTimeout: apiLimits.requestTimeoutMs,
      keepAliveTimeout: apiLimits.keepAliveTimeoutMs,
      connectionsCheckingInterval: 1_000,
    }
    const tls = limits.tls
    const server = serve(
      {
        fetch: app.fetch,
        hostname: host,
        port,
        ...(tls === undefined
          ? { serverOptions }
          : {
              createServer: createHttpsServer,
              serverOptions: { ...serverOptions, cert: tls.cert, key: tls.key },
            }),
      },
      (info) => {
        const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address
        resolve({
          url: `${tls === undefined ? 'http' : 'https'}://${shown}:${info.port}`,
          refusedConnections: () => refused,
          close: () =>
            new Promise<void>((done) => {
              ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
              server.close(() => done())
            }),
        })
      },
    ) as Server<typeof IncomingMessage, typeof ServerResponse>
    // The raw TCP connection, over TLS too (the descriptor is taken before the handshake).
    server.on('connection', (socket: Socket) => {
      const client = socket.remoteAddress ?? '?'
      const mine = perClient.get(client) ?? 0
      if (open >= caps.total || mine >= caps.perClient) {
        refused++
        socket.destroy()
        return
      }
      open++
      perClient.set(client, mine + 1)
      socket.once('close', () => {
        open--
        const left = (perClient.get(client) ?? 1) - 1
        if (left <= 0) perClient.delete(client)
        else perClient.set(client, left)
      })
      // Node's headers timeout starts with the first byte: a socket that never sends one would
      // otherwise be held for good.
      const idle = setTimeout(() => {
        if (socket.bytesRead === 0) socket.destroy()
      }, apiLimits.firstByteTimeoutMs)
      idle.unref()
      socket.once('close', () => clearTimeout(idle))
    })
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new GeoclusterError(
              'GC_ERR_USAGE',
              `API port ${host}:${port} is already in use; pick another with --api-port`,
            )
          : error,
      )
    })
  })
}
