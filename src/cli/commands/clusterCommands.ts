import { Command, InvalidArgumentError } from '@commander-js/extra-typings'
import { GeoclusterError } from '../../errors/errors.ts'
import type { LevelUpgrade } from '../../runtime/levelUpgrade.ts'
import { line, printJson, table } from '../output.ts'
import { adminCommand, clientFor } from './connection.ts'

/** Whole-cluster operations: the second step of a forced quorum, raising the functional level. */
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
  cluster.addCommand(
    adminCommand(
      'upgrade-level',
      'raise the cluster functional level once every node and the witness run a release that supports it (after a rolling upgrade); it is never lowered',
    )
      .option('--level <n>', 'the level to raise to (default: the highest the node asked supports)', (v) => {
        if (!/^\d+$/.test(v) || Number(v) < 1)
          throw new InvalidArgumentError('expected a functional level: 1, 2, ...')
        return Number(v)
      })
      .addHelpText(
        'after',
        '\nExamples:\n  geocluster cluster upgrade-level          # after the last node runs the new release\n  geocluster cluster upgrade-level --json   # {"level": 2, "previous": 1, "raised": true, ...}',
      )
      .action(async (opts) => {
        const r = await clientFor(opts).post<LevelUpgrade>(
          '/v1/cluster/upgrade-level',
          opts.level === undefined ? {} : { level: opts.level },
        )
        if (opts.json) return printJson(r)
        line(
          r.raised
            ? `functional level raised from ${r.previous} to ${r.level}: commands of level ${r.level} are taken from now on`
            : `the cluster is already at functional level ${r.level}`,
        )
        line(
          table(
            ['MEMBER', 'ROLE', 'VERSION', 'SUPPORTS LEVEL'],
            r.members.map((m) => [m.name, m.role, m.version ?? '?', m.supportedLevel ?? '?']),
          ),
        )
      }),
  )
  return cluster
}
