#!/usr/bin/env node
/**
 * Entry point: runs the command and maps every failure to INTERFACE.md's exit codes, with one
 * clear line on stderr (a stack trace only with --verbose) or, under --json, one JSON document on
 * stdout (failureReport.ts).
 */
// First: a long-running process replaces itself with one that has its V8 flags (nodeFlags.ts).
import './nodeFlags.ts'
import { exitCodeOf, failureDocument, failureText, isCommanderSuccess, wantsJson } from './failureReport.ts'
import { buildProgram } from './program.ts'

const args = process.argv.slice(2)
const verbose = args.includes('--verbose')
const json = wantsJson(args)

function exitWith(error: unknown): never {
  if (!isCommanderSuccess(error)) {
    // One line: a whole document, and a last line of `events --follow --json` or `status --watch --json`.
    if (json) process.stdout.write(`${JSON.stringify(failureDocument(error))}\n`)
    else process.stderr.write(failureText(error))
    if (verbose && error instanceof Error && error.stack !== undefined)
      process.stderr.write(`${error.stack}\n`)
  }
  process.exit(exitCodeOf(error))
}

const program = buildProgram()
// Commander exits by itself (code 1) on usage errors unless told otherwise, command by command;
// under --json its own error line is left out (the JSON document carries it).
const overrideExits = (cmd: typeof program): void => {
  cmd.exitOverride()
  if (json) cmd.configureOutput({ outputError: () => {} })
  for (const sub of cmd.commands) overrideExits(sub as typeof program)
}
overrideExits(program)
try {
  await program.parseAsync(process.argv)
} catch (error) {
  exitWith(error)
}
