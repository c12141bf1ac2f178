/** The `geocluster` command tree. Admin commands are thin clients of a node's HTTP API. */

import { readFileSync } from 'node:fs'
import { Command } from '@commander-js/extra-typings'
import { addCommandExamples } from './commandExamples.ts'
import { backupCommand, restoreCommand } from './commands/backupCommands.ts'
import { clusterCommands } from './commands/clusterCommands.ts'
import { completionCommand } from './commands/completionCommand.ts'
import { configCommands } from './commands/configCommands.ts'
import { eventsCommand } from './commands/eventsCommand.ts'
import { groupCommands } from './commands/groupCommands.ts'
import { labCommand } from './commands/labCommand.ts'
import { maintenanceCommand } from './commands/maintenanceCommand.ts'
import { keygenCommand, secretCommand, witnessCommands } from './commands/meshCommands.ts'
import { nodeCommands } from './commands/nodeCommands.ts'
import { resourceCommands } from './commands/resourceCommands.ts'
import { statusCommand } from './commands/statusCommands.ts'
import { validateCommand } from './commands/validateCommand.ts'

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

export function buildProgram(): Command {
  const program = new Command('geocluster')
    .description('failover clustering for nodes spread over data centers')
    .version(packageVersion(), '-V, --version')
    .option('--verbose', 'detail (and stack traces) on errors')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      '\nFirst steps:\n  npm start                               # a one-node lab cluster\n' +
        '  npx geocluster status                   # (finds the lab token in ./.geocluster-lab)\n' +
        '  npx geocluster group create web && npx geocluster group online web\n',
    )
  program.addCommand(labCommand())
  program.addCommand(nodeCommands())
  program.addCommand(witnessCommands())
  program.addCommand(keygenCommand())
  program.addCommand(secretCommand())
  program.addCommand(statusCommand())
  program.addCommand(clusterCommands())
  program.addCommand(groupCommands())
  program.addCommand(resourceCommands())
  program.addCommand(configCommands())
  program.addCommand(maintenanceCommand())
  program.addCommand(backupCommand())
  program.addCommand(restoreCommand())
  program.addCommand(eventsCommand())
  program.addCommand(validateCommand())
  program.addCommand(completionCommand(() => program))
  addCommandExamples(program)
  return program as unknown as Command
}
