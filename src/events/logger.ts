/**
 * The operational log every layer writes to: pino's interface (structured fields first, then
 * the message). It is declared here, below the mesh, the storage and the runtime, so that any
 * of them can take a logger; the CLI makes the process's one with `createLogger`
 * (runtime/logger.ts), which decides where lines go and how they look.
 */
export type { Logger } from 'pino'
