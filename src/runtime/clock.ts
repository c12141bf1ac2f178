/**
 * Time as the runtime sees it, injected so that a simulator (or a test) can run the same code on
 * a clock it turns by hand: a wall clock for people, a monotonic clock for every duration the
 * node acts on, and timers that fire on it.
 */

export interface Clock {
  /** Wall clock, ms since the epoch: for people (event times), never for decisions. */
  now(): number
  /** Monotonic ms: for every duration the node acts on. */
  monotonic(): number
}

/** A timer started by `Timers`; only its `Timers` can cancel it. */
export interface TimerHandle {
  readonly due: 'every' | 'after'
}

export interface Timers {
  /** Calls `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): TimerHandle
  /** Calls `fn` once, `ms` from now, unless cancelled first. */
  after(ms: number, fn: () => void): TimerHandle
  /** Stops a timer; a handle already fired, cancelled or null is ignored. */
  cancel(handle: TimerHandle | null): void
}

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() }

interface SystemTimer extends TimerHandle {
  timer: NodeJS.Timeout
}

/** Node's own timers. */
export const systemTimers: Timers = {
  every: (ms, fn): SystemTimer => ({ due: 'every', timer: setInterval(fn, ms) }),
  after: (ms, fn): SystemTimer => ({ due: 'after', timer: setTimeout(fn, ms) }),
  cancel: (handle) => {
    if (handle === null) return
    const t = (handle as SystemTimer).timer
    if (handle.due === 'every') clearInterval(t)
    else clearTimeout(t)
  },
}
