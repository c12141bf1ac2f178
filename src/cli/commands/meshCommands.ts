import { resolve } from 'node:path'
import { Command } from '@commander-js/extra-typings'
import { createSecret } from '../../mesh/clusterSecret.ts'
import { loadOrCreateIdentity } from '../../mesh/nodeIdentity.ts'
import { createLogger } from '../../runtime/logger.ts'
import { supportedLevelFrom } from '../../runtime/supportedLevel.ts'
import { loadTopology } from '../../topology/loadTopology.ts'
import { line, printJson } from '../output.ts'
import { packageVersion } from '../program.ts'

export function keygenCommand() {
  return new Command('keygen')
    .description("create (if absent) this node's identity key in the data dir and print its peer ID")
    .requiredOption('--data-dir <dir>', "the node's data dir")
    .option('--json', 'print exactly one JSON document')
    .addHelpText(
      'after',
      '\nExample:\n  geocluster keygen --data-dir /var/lib/geocluster   # put the printed peer ID in the topology',
    )
    .action(async (opts) => {
      const { mkdirSync } = await import('node:fs')
      mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 })
      const id = await loadOrCreateIdentity(resolve(opts.dataDir))
      if (opts.json) printJson({ peerId: id.peerId, file: id.file, created: id.created })
      else line(id.peerId)
    })
}

export function secretCommand() {
  return new Command('secret')
    .description("create the cluster's pre-shared key file (copy it to every node; mode 0600)")
    .requiredOption('--out <file>', 'where to write it (refuses to overwrite)')
    .addHelpText('after', '\nExample:\n  geocluster secret --out sites/demo.psk')
    .action((opts) => {
      createSecret(opts.out)
      line(`wrote ${opts.out} (keep it secret; every node and the witness need a copy)`)
    })
}

export function witnessCommands() {
  const witness = new Command('witness').description('the witness: a vote at a third site, no data')
  witness.addCommand(
    new Command('start')
      .description("run the topology's node witness here (foreground)")
      .requiredOption('--config <file>', 'topology file')
      .requiredOption('--data-dir <dir>', "the witness's data dir (its key and its vote)")
      .option('--pretty', 'human-readable logs (default on a TTY)')
      .action(async (opts) => {
        const { topology, baseDir } = loadTopology(opts.config)
        const logger = createLogger(opts.pretty === undefined ? {} : { pretty: opts.pretty })
        const { WitnessNode } = await import('../../runtime/witnessNode.ts')
        const node = await WitnessNode.start({
          dataDir: resolve(opts.dataDir),
          topology,
          topologyDir: baseDir,
          logger,
          version: packageVersion(),
          supportedLevel: supportedLevelFrom(process.env),
        })
        process.stdout.write(`geocluster witness ${node.name} is running\n  peer ID: ${node.peerId}\n`)
        await new Promise<void>((done) => {
          const onSignal = () => {
            void node.stop().then(done)
          }
          process.once('SIGINT', onSignal)
          process.once('SIGTERM', onSignal)
        })
      }),
  )
  return witness
}
