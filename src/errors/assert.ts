/**
 * Invariant checks in the TigerBeetle sense: a broken invariant means the process can no longer
 * vouch for its state, so it crashes with a clear message instead of logging and going on.
 */
export class InvariantError extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`)
    this.name = 'InvariantError'
  }
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'function' ? message() : message)
}
