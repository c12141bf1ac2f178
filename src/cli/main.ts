#!/usr/bin/env node
/**
 * Entry point: runs the command and maps every failure to INTERFACE.md's exit codes with one
 * clear line on stderr (a stack trace only with --verbose).
 */
// First: a long-running process replaces itself with one that has its V8 flags (nodeFlags.ts).
import './nodeFlags.ts'
import { CommanderError } from '@commander-js/extra-typings'
import { GeoclusterError } from '../errors/errors.ts'
import { TopologyError } from '../topology/loadTopology.ts'
import { buildProgram } from './program.ts'

const verbose = process.argv.includes('--verbose')

function exitWith(error: unknown): never {
  if (error instanceof CommanderError) {
    // Commander has printed its own message; help and version are successes.
    process.exit(
      error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
        ? 0
        : 2,
    )
  }
  if (error instanceof TopologyError) {
    for (const p of error.problems) process.stderr.write(`${p}\n`)
  } else if (error instanceof GeoclusterError) {
    process.stderr.write(
      `geocluster: ${error.message}${error.path === undefined || error.message.includes(error.path) ? '' : ` (at ${error.path})`}\n`,
    )
  } else {
    process.stderr.write(`geocluster: ${(error as Error)?.message ?? String(error)}\n`)
  }
  if (verbose && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`)
  process.exit(error instanceof GeoclusterError ? error.exitCode : 1)
}

const program = buildProgram()
// Commander exits by itself (code 1) on usage errors unless told otherwise, command by command.
const overrideExits = (cmd: typeof program): void => {
  cmd.exitOverride()
  for (const sub of cmd.commands) overrideExits(sub as typeof program)
}
overrideExits(program)
try {
  await program.parseAsync(process.argv)
} catch (error) {
  exitWith(error)
}
