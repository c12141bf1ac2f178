/**
 * Timer callbacks never throw out of the event loop: an error there would be an uncaught
 * exception, and when its cause is something the cluster committed it would crash every node
 * again after each restart. An error from outside input is logged (once a minute per message)
 * and the timer goes on. A broken invariant still crashes: the node cannot vouch for its state.
 */
import { InvariantError } from '../errors/assert.ts'
import type { Logger } from '../events/logger.ts'

const repeatLogMs = 60_000

export function guardTimer(what: string, logger: Logger, fn: () => void): () => void {
  const lastLogged = new Map<string, number>()
  return () => {
    try {
      fn()
    } catch (error) {
      if (error instanceof InvariantError) throw error
      const message = error instanceof Error ? error.message : String(error)
      const now = performance.now()
      const last = lastLogged.get(message)
      if (last !== undefined && now - last < repeatLogMs) return
      if (lastLogged.size > 100) lastLogged.clear()
      lastLogged.set(message, now)
      logger.error({ err: error, timer: what }, `${what} failed; going on`)
    }
  }
}
