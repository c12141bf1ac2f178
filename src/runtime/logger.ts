/** pino logging: JSON lines by default (for collectors), human-readable on a TTY or with --pretty. */
import pino from 'pino'
import pinoPretty from 'pino-pretty'
import type { Logger } from '../events/logger.ts'

export function createLogger(options: { pretty?: boolean; level?: string; name?: string } = {}): Logger {
  const level = options.level ?? process.env.GEOCLUSTER_LOG_LEVEL ?? 'info'
  const pretty = options.pretty ?? process.stdout.isTTY === true
  const base = { name: options.name ?? 'geocluster' }
  if (!pretty) return pino({ level, base }, pino.destination({ dest: 1, sync: true }))
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
