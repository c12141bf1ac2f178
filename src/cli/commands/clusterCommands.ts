import { Command } from '@commander-js/extra-typings'
import { GeoclusterError } from '../../errors/errors.ts'
import { line, printJson } from '../output.ts'
import { adminCommand, clientFor } from './connection.ts'

/** Whole-cluster operations: the second step of a forced quorum. */
export function clusterCommands() {
  const cluster = new Command('cluster').description('the cluster as a whole')
  cluster.addCommand(
    adminCommand(
      'confirm-forced',
      'on the node that forced quorum: assert that the rest of the cluster is down, so the forced epoch takes writes and runs groups (what the other side committed that this node lacks is then lost)',
    )
      .option('--other-side-is-down', 'what you assert; required')
      .addHelpText(
        'after',
        '\nExample:\n  geocluster cluster confirm-forced --other-side-is-down --api https://atl-1:7401 --api-fingerprint …',
      )
      .action(async (opts) => {
        if (opts.otherSideIsDown !== true)
          throw new GeoclusterError(
            'GC_ERR_USAGE',
            'say what you assert: --other-side-is-down (the rest of the cluster is down; its later changes will be lost)',
          )
        const r = await clientFor(opts).post<{ epoch: string; index: number }>('/v1/cluster/confirm-forced', {
          otherSideIsDown: true,
        })
        if (opts.json) printJson(r)
        else line(`forced epoch ${r.epoch} confirmed at index ${r.index}: it takes writes and runs groups`)
      }),
  )
  return cluster
}
