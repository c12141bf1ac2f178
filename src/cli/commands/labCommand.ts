import { mkdirSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { Command, Option } from '@commander-js/extra-typings'
import { stringify } from 'yaml'
import type { Topology } from '../../topology/topologySchema.ts'
import { timingDefaults } from '../../topology/topologySchema.ts'
import { labDataDirDefault } from '../apiClient.ts'
import { dnsPortOption, portNumber, snapshotEveryOption } from './nodeCommands.ts'
import { runNode } from './runNode.ts'

export const labTopology: Topology = {
  cluster: { name: 'lab' },
  quorum: { model: 'local', dynamic: true },
  timing: {
    sameSite: { ...timingDefaults.sameSite },
    crossSite: { ...timingDefaults.crossSite },
    fencing: {},
  },
  sites: [{ name: 'lab', nodes: [{ name: 'lab-1', votes: 1 }] }],
}

export function labCommand() {
  return new Command('lab')
    .description('run a single-node cluster with local quorum, for trying things out (foreground)')
    .option('--data-dir <dir>', 'where the lab keeps its cluster database and token', labDataDirDefault)
    .addOption(
      new Option('--api-port <port>', 'admin API port on 127.0.0.1').argParser(portNumber).default(7480),
    )
    .option('--pretty', 'human-readable logs (default on a TTY)')
    .addOption(snapshotEveryOption())
    .addOption(dnsPortOption())
    .addHelpText(
      'after',
      '\nExamples:\n  npm start                 # the same as: geocluster lab\n  geocluster lab --data-dir /tmp/lab --api-port 7490',
    )
    .action(async (opts) => {
      const dataDir = resolve(opts.dataDir)
      mkdirSync(dataDir, { recursive: true, mode: 0o700 })
      // The generated topology, so `node start --config <data-dir>/topology.yaml` runs the same node.
      writeFileSync(join(dataDir, 'topology.yaml'), `# written by geocluster lab\n${stringify(labTopology)}`)
      await runNode({
        topology: labTopology,
        nodeName: 'lab-1',
        dataDir,
        apiHost: '127.0.0.1',
        apiPort: opts.apiPort,
        ...(opts.dnsPort === undefined ? {} : { dnsPort: opts.dnsPort }),
        pretty: opts.pretty,
        timing: { snapshotEntries: opts.snapshotEvery },
        command: 'geocluster lab',
        banner: ({ url, tokenFile }) => {
          const shown = relative(process.cwd(), dataDir) || '.'
          const api = url === 'http://127.0.0.1:7480' ? '' : ` --api ${url}`
          return (
            '\ngeocluster lab is running (single node lab-1, local quorum)\n' +
            `  API:   ${url}\n` +
            `  token: ${tokenFile}\n` +
            `  try:   npx geocluster status --data-dir ${shown}${api}\n` +
            '  stop:  Ctrl-C (takes the groups offline)\n\n'
          )
        },
      })
    })
}
