/** Serves the admin API on a TCP address (loopback by default). */
import { serve } from '@hono/node-server'
import type { Hono } from 'hono'
import { GeoclusterError } from '../errors/errors.ts'

export interface RunningServer {
  url: string
  close(): Promise<void>
}

export function listenAdminApi(app: Hono, host: string, port: number): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => {
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address
      resolve({
        url: `http://${shown}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
            server.close(() => done())
          }),
      })
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
