import { resolve } from 'node:path'
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings'
import { GeoclusterError } from '../../errors/errors.ts'
import { nodeTimingDefaults } from '../../runtime/nodeTiming.ts'
import { loadTopology } from '../../topology/loadTopology.ts'
import { line, printJson } from '../output.ts'
import { adminCommand, clientFor, commaList } from './connection.ts'
import { nodeListCommand } from './statusCommands.ts'

/** A TCP port; 0 asks the OS for a free one (the banner shows which). */
export function portNumber(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535)
    throw new InvalidArgumentError(`expected a TCP port 0-65535, got '${value}'`)
  return n
}

/** `--dns-port P`: the name responder (network-name resources answered over DNS). */
export function dnsPortOption() {
  return new Option(
    '--dns-port <port>',
    "answer the cluster's network names over DNS (UDP) on this port",
  ).argParser(portNumber)
}

/** `--snapshot-every N`: entries between snapshots (the log is compacted behind each). */
export function snapshotEveryOption() {
  return new Option('--snapshot-every <entries>', 'snapshot the cluster database every N applied entries')
    .argParser((v) => {
      if (!/^\d+$/.test(v) || Number(v) < 1)
        throw new InvalidArgumentError(`expected a positive whole number, got '${v}'`)
      return Number(v)
    })
    .default(nodeTimingDefaults.snapshotEntries)
}

export function nodeCommands() {
  const node = new Command('node').description('cluster nodes: run one, list them')
  node.addCommand(
    new Command('start')
      .description('run this server as a node of the cluster described by a topology file (foreground)')
      .requiredOption('--config <file>', 'topology file, e.g. sites/lab.yaml')
      .requiredOption('--node <name>', "this node's name in the topology")
      .requiredOption(
        '--data-dir <dir>',
        "this node's data dir (cluster database log, snapshots, admin token)",
      )
      .addOption(new Option('--api-port <port>', 'admin API port').argParser(portNumber).default(7480))
      .option('--api-host <host>', 'admin API address to bind', '127.0.0.1')
      .addOption(
        new Option(
          '--api-name <names>',
          'further names clients reach the API by, comma-separated (checked against the Host header; put in a generated certificate)',
        ).argParser(commaList),
      )
      .option(
        '--api-tls-cert <file>',
        'serve the admin API over TLS with this certificate (PEM); with --api-tls-key',
      )
      .option('--api-tls-key <file>', "the certificate's private key (PEM, mode 0600)")
      .option(
        '--api-tls-self-signed',
        'serve the admin API over TLS with a certificate generated once in the data dir (for its names: --api-host, --api-name); its fingerprint is printed for the CLI to pin',
      )
      .addOption(dnsPortOption())
      .option('--dns-host <host>', 'address for the name responder (default: the API host)')
      .option('--pretty', 'human-readable logs (default on a TTY)')
      .addOption(snapshotEveryOption())
      .addOption(
        new Option(
          '--force-quorum',
          'disaster recovery: this node alone forms a new epoch from its own log; it serves reads but takes no writes and starts no groups (and no other node gives anything up for it) until you confirm that the other side is down (--other-side-is-down here, or geocluster cluster confirm-forced)',
        ).conflicts('preventQuorum'),
      )
      .option(
        '--other-side-is-down',
        'with --force-quorum: assert that the rest of the cluster is down, so the forced epoch takes writes at once; changes committed elsewhere that this node lacks are lost',
      )
      .option(
        '--prevent-quorum',
        "join, don't form: after a forced quorum elsewhere, wait to hear from a leader before taking part in any election",
      )
      .addHelpText(
        'after',
        '\nExamples:\n  geocluster node start --config sites/lab.yaml --node lab-1 --data-dir /var/lib/geocluster\n' +
          '  geocluster node start --config demo.yaml --node atl-1 --data-dir /var/lib/geocluster --force-quorum   # read-only until confirmed\n' +
          '  geocluster cluster confirm-forced --other-side-is-down --api https://atl-1:7401   # the other side is down: take writes',
      )
      .action(async (opts) => {
        const apiTls = apiTlsOption(opts)
        const { topology, baseDir } = loadTopology(opts.config)
        // Loaded on use: a CLI call that only talks to a node does not load the node.
        const { runNode } = await import('./runNode.ts')
        await runNode({
          topology,
          topologyDir: baseDir,
          nodeName: opts.node,
          dataDir: resolve(opts.dataDir),
          apiHost: opts.apiHost,
          ...(opts.apiName === undefined ? {} : { apiNames: opts.apiName }),
          ...(apiTls === undefined ? {} : { apiTls }),
          ...(opts.dnsPort === undefined ? {} : { dnsPort: opts.dnsPort }),
          ...(opts.dnsHost === undefined ? {} : { dnsHost: opts.dnsHost }),
          apiPort: opts.apiPort,
          pretty: opts.pretty,
          timing: { snapshotEntries: opts.snapshotEvery },
          forceQuorum: opts.forceQuorum === true,
          otherSideIsDown: opts.otherSideIsDown === true,
          preventQuorum: opts.preventQuorum === true,
          command: `geocluster node start --node ${opts.node}`,
          banner: ({ url, tokenFile, fingerprint }) =>
            `geocluster node ${opts.node} is running\n  API:   ${url}\n  token: ${tokenFile}\n` +
            (fingerprint === null
              ? ''
              : `  TLS:   sha256 ${fingerprint}\n  try:   geocluster status --api ${url} --api-fingerprint ${fingerprint} --data-dir ${opts.dataDir}\n`),
        })
      }),
  )
  node.addCommand(nodeListCommand())
  node.addCommand(
    adminCommand('add', 'add a member: its record and its vote, through the log')
      .argument('<name>')
      .requiredOption('--site <site>', 'its data center')
      .requiredOption('--address <multiaddr>', 'where members dial it, e.g. /ip4/10.0.0.5/tcp/7400')
      .requiredOption('--peer-id <id>', 'its peer ID (geocluster keygen --data-dir D on that server)')
      .option('--votes <n>', 'its vote, 1 or 0 (default 1)', (v) => Number(v), 1)
      .addHelpText(
        'after',
        '\nExample:\n  geocluster node add atl-3 --site atlanta --address /ip4/10.1.0.3/tcp/7400 --peer-id 12D3KooW...',
      )
      .action(async (name, opts) => {
        const r = await clientFor(opts).post<{ name: string }>('/v1/nodes', {
          name,
          site: opts.site,
          address: opts.address,
          peerId: opts.peerId,
          votes: opts.votes,
        })
        if (opts.json) printJson(r)
        else
          line(
            `node ${name} added; start it with: geocluster node start --config <topology> --node ${name} --data-dir <dir>`,
          )
      }),
  )
  node.addCommand(
    adminCommand('set-address', "record a member's new address; every node dials it there from then on")
      .argument('<name>')
      .argument('<multiaddr>', 'e.g. /ip4/10.1.0.9/tcp/7400')
      .action(async (name, address, opts) => {
        const r = await clientFor(opts).post<{ name: string }>(
          `/v1/nodes/${encodeURIComponent(name)}/address`,
          { address },
        )
        if (opts.json) printJson(r)
        else line(`node ${name} is now reached at ${address}`)
      }),
  )
  for (const [verb, help, done] of [
    ['pause', 'pause a member: it keeps its vote and what it runs, but takes no new groups', 'paused'],
    ['drain', 'pause a member and move its groups away gracefully, in dependency order', 'draining'],
    ['resume', 'resume a paused member: it may take groups again', 'resumed'],
  ] as const) {
    node.addCommand(
      adminCommand(verb, help)
        .argument('<name>')
        .action(async (name, opts) => {
          const r = await clientFor(opts).post<{ name: string }>(
            `/v1/nodes/${encodeURIComponent(name)}/${verb}`,
          )
          if (opts.json) printJson(r)
          else line(`node ${name} ${done}`)
        }),
    )
  }
  node.addCommand(
    adminCommand(
      'evict',
      'remove a member for good: its vote, its groups, and its key is refused from then on',
    )
      .argument('<name>')
      .action(async (name, opts) => {
        const r = await clientFor(opts).post<{ name: string }>(`/v1/nodes/${encodeURIComponent(name)}/evict`)
        if (opts.json) printJson(r)
        else line(`node ${name} evicted`)
      }),
  )
  return node
}

/** The API's TLS from the start options, or why they do not fit together. */
function apiTlsOption(opts: {
  apiTlsCert?: string
  apiTlsKey?: string
  apiTlsSelfSigned?: true
}): { certFile: string; keyFile: string } | 'self-signed' | undefined {
  const given = opts.apiTlsCert !== undefined || opts.apiTlsKey !== undefined
  if (given && opts.apiTlsSelfSigned === true)
    throw new GeoclusterError(
      'GC_ERR_USAGE',
      '--api-tls-self-signed and --api-tls-cert/--api-tls-key exclude each other',
    )
  if (opts.apiTlsSelfSigned === true) return 'self-signed'
  if (!given) return undefined
  if (opts.apiTlsCert === undefined || opts.apiTlsKey === undefined)
    throw new GeoclusterError('GC_ERR_USAGE', '--api-tls-cert and --api-tls-key go together')
  return { certFile: resolve(opts.apiTlsCert), keyFile: resolve(opts.apiTlsKey) }
}
