/** pino logging: JSON lines by default (for collectors), human-readable on a TTY or with --pretty. */
import { createRequire } from 'node:module'
import pino from 'pino'
import type PinoPretty from 'pino-pretty'
import type { Logger } from '../events/logger.ts'

export function createLogger(options: { pretty?: boolean; level?: string; name?: string } = {}): Logger {
  const level = options.level ?? process.env.GEOCLUSTER_LOG_LEVEL ?? 'info'
  const pretty = options.pretty ?? process.stdout.isTTY === true
  const base = { name: options.name ?? 'geocluster' }
  // Written on this thread (sync), never through a transport's worker thread.
  if (!pretty) return pino({ level, base }, pino.destination({ dest: 1, sync: true }))
  // Loaded only for a person's terminal: a service's node (JSON lines) never holds pino-pretty,
  // its colour and date libraries (about 1 MB of heap).
  const pinoPretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty
  return pino(
    { level, base },
    pinoPretty({
      colorize: process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,name',
      sync: true,
    }),
  )
}
