/**
 * How a failed command says so (INTERFACE.md): one clear line on stderr, or, when the command line
 * asked for `--json`, exactly one JSON document on stdout — `{ "ok": false, "error": {...} }`, with
 * `problems` for a topology file's — so a script reading stdout always gets JSON. The exit code
 * is the same either way and follows from the error's code.
 */
import { CommanderError } from '@commander-js/extra-typings'
import { type ErrorCode, errorCodes, GeoclusterError } from '../errors/errors.ts'
import { TopologyError } from '../topology/loadTopology.ts'

export interface FailureDocument {
  ok: false
  error: { code: ErrorCode; message: string; path?: string }
  /** Every problem of a topology file, `file: field.path: problem (line N)`. */
  problems?: string[]
}

/** Whether the command line asks for JSON: `--json` before any `--` (after it, it is an argument). */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--')
  return (end === -1 ? args : args.slice(0, end)).includes('--json')
}

/** Commander's own outcomes that are not failures: help and version asked for. */
export function isCommanderSuccess(error: unknown): boolean {
  if (!(error instanceof CommanderError)) return false
  return (
    error.code === 'commander.helpDisplayed' ||
    error.code === 'commander.version' ||
    (error.code === 'commander.help' && error.exitCode === 0)
  )
}

/** Any failure as a GeoclusterError: usage errors from commander, anything else as failed. */
export function asGeoclusterError(error: unknown): GeoclusterError {
  if (error instanceof GeoclusterError) return error
  if (error instanceof CommanderError) {
    // Help shown because a command needs a subcommand: the help is on stderr.
    const message =
      error.code === 'commander.help'
        ? 'a subcommand is needed (its help is on stderr)'
        : error.message.replace(/^error: /, '')
    return new GeoclusterError('GC_ERR_USAGE', message, { cause: error })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new GeoclusterError('GC_ERR_FAILED', message, { cause: error })
}

export function failureDocument(error: unknown): FailureDocument {
  const e = asGeoclusterError(error)
  const doc: FailureDocument = {
    ok: false,
    error: { code: e.code, message: e.message, ...(e.path === undefined ? {} : { path: e.path }) },
  }
  if (error instanceof TopologyError) {
    doc.error.message = `${error.problems.length} problem(s) in the topology file`
    doc.problems = error.problems
  }
  return doc
}

/** The text form: the problems of a topology file one a line, else one line. */
export function failureText(error: unknown): string {
  if (error instanceof TopologyError) return error.problems.map((p) => `${p}\n`).join('')
  // Commander has printed its own message.
  if (error instanceof CommanderError) return ''
  const e = asGeoclusterError(error)
  const at = e.path === undefined || e.message.includes(e.path) ? '' : ` (at ${e.path})`
  return `geocluster: ${e.message}${at}\n`
}

export function exitCodeOf(error: unknown): number {
  if (isCommanderSuccess(error)) return 0
  return errorCodes[asGeoclusterError(error).code].exit
}
