import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings'
import { stringify } from 'yaml'
import type { MultiSiteLabSpec } from '../../lab/multiSiteLab.ts'
import type { Topology } from '../../topology/topologySchema.ts'
import { timingDefaults } from '../../topology/topologySchema.ts'
import { labDataDirDefault } from '../apiClient.ts'
import { dnsPortOption, portNumber, snapshotEveryOption } from './nodeCommands.ts'

export const labTopology: Topology = {
  cluster: { name: 'lab' },
  quorum: { model: 'local', dynamic: true },
  timing: {
    profile: 'default',
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
    .addOption(
      new Option(
        '--sites <n>',
        'a whole geo cluster instead: this many sites (each node its own process)',
      ).argParser(count),
    )
    .addOption(new Option('--nodes-per-site <n>', 'with --sites: nodes per site').argParser(count).default(1))
    .addOption(
      new Option(
        '--witness [type]',
        'with --sites: a witness at a third site: node (a witness process, the default) or cloud (a blob in Azurite, started for you)',
      ).argParser(witnessType),
    )
    .addOption(
      new Option('--rtt-ms <ms>', 'with --sites: round trip between sites (the WAN emulator)')
        .argParser(count)
        .default(50),
    )
    .addOption(snapshotEveryOption())
    .addOption(dnsPortOption())
    .addHelpText(
      'after',
      '\nExamples:\n  npm start                 # the same as: geocluster lab\n  geocluster lab --data-dir /tmp/lab --api-port 7490\n  npm run lab -- --sites 3 --nodes-per-site 1 --witness --rtt-ms 40\n  npm run lab -- --sites 2 --witness cloud   # the witness a blob in Azurite',
    )
    .action(async (opts) => {
      if (opts.sites !== undefined) {
        await runMultiSiteLab({
          dataDir: resolve(opts.dataDir === labDataDirDefault ? `${labDataDirDefault}-sites` : opts.dataDir),
          sites: opts.sites,
          nodesPerSite: opts.nodesPerSite,
          witness: opts.witness === undefined ? false : opts.witness === true ? 'node' : opts.witness,
          rttMs: opts.rttMs,
        })
        return
      }
      const dataDir = resolve(opts.dataDir)
      mkdirSync(dataDir, { recursive: true, mode: 0o700 })
      // The generated topology, so `node start --config <data-dir>/topology.yaml` runs the same node.
      writeFileSync(join(dataDir, 'topology.yaml'), `# written by geocluster lab\n${stringify(labTopology)}`)
      // Loaded on use: a CLI call that only talks to a node does not load the node.
      const { runNode } = await import('./runNode.ts')
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

function witnessType(v: string): 'node' | 'cloud' {
  if (v !== 'node' && v !== 'cloud') throw new InvalidArgumentError('expected node or cloud')
  return v
}

function count(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a positive whole number')
  return Number(v)
}

/** Runs a multi-site lab in the foreground until Ctrl-C (see src/lab/multiSiteLab.ts). */
async function runMultiSiteLab(spec: Omit<MultiSiteLabSpec, 'out'>): Promise<void> {
  const out = (l: string) => process.stdout.write(`${l}\n`)
  const { MultiSiteLab } = await import('../../lab/multiSiteLab.ts')
  const lab = await MultiSiteLab.start({ ...spec, out })
  const stop = async () => {
    out('stopping the lab: every node takes its groups offline')
    await lab.stop()
    process.exit(0)
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
  const tookMs = await lab.waitQuorate(60_000)
  const apis = lab.apis()
  const first = Object.keys(apis)[0]!
  out(
    `\ngeocluster lab is running: ${spec.sites} site(s) × ${spec.nodesPerSite} node(s)${spec.witness === false ? '' : spec.witness === 'node' ? ' + witness' : ' + cloud witness'}, ` +
      `${spec.rttMs} ms between sites; quorate after ${(tookMs / 1000).toFixed(1)} s\n` +
      `  dashboard: ${apis[first]}/  (token: ${lab.tokenFile(first)})\n` +
      Object.entries(apis)
        .map(
          ([name, url]) =>
            // --data-dir reads the token from the file: it never lands in a command line (ps, history).
            `  ${name.padEnd(10)} ${url}  npx geocluster status --api ${url} --data-dir ${dirname(lab.tokenFile(name))}`,
        )
        .join('\n') +
      `\n  topology: ${lab.topologyFile}\n  stop: Ctrl-C\n`,
  )
}
