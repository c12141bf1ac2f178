import { Argument } from '@commander-js/extra-typings'
import { GeoclusterError } from '../../errors/errors.ts'
import { line, printJson } from '../output.ts'
import { adminCommand, clientFor } from './connection.ts'

/** `geocluster maintenance on|off [--node N | --group G | --resource R]` (failover/maintenance.ts). */
export function maintenanceCommand() {
  return adminCommand(
    'maintenance',
    'maintenance mode: what it covers is left as it is (no health checks, restarts, failures, starts, stops or moves) until it is turned off, then probed before anything acts; the whole cluster when no node, group or resource is named. Losing the lease still stops everything.',
  )
    .addArgument(new Argument('<on|off>').choices(['on', 'off'] as const))
    .option('--node <name>', 'a node: what runs there is left alone, and no group is placed there')
    .option('--group <name>', 'a group: its resources are left alone, and it is moved nowhere')
    .option('--resource <name>', 'one resource (WSFC: turn off monitoring)')
    .addHelpText(
      'after',
      '\nExamples:\n  geocluster maintenance on --group web      # patch the app by hand; nothing restarts it\n  geocluster maintenance off --group web     # probed, then managed again\n  geocluster maintenance on                  # the whole cluster',
    )
    .action(async (onOff, opts) => {
      const named = [opts.node, opts.group, opts.resource].filter((x) => x !== undefined)
      if (named.length > 1)
        throw new GeoclusterError(
          'GC_ERR_USAGE',
          'name at most one of --node, --group, --resource (none: the whole cluster)',
        )
      const body = {
        on: onOff === 'on',
        ...(opts.node === undefined ? {} : { node: opts.node }),
        ...(opts.group === undefined ? {} : { group: opts.group }),
        ...(opts.resource === undefined ? {} : { resource: opts.resource }),
      }
      const r = await clientFor(opts).post<{
        scope: string
        name: string | null
        maintenance: boolean
        index: number
      }>('/v1/maintenance', body)
      if (opts.json) printJson(r)
      else {
        const what = r.name === null ? 'the cluster' : `${r.scope} ${r.name}`
        line(
          r.maintenance
            ? `${what} is in maintenance: left as it is until geocluster maintenance off`
            : `${what} is out of maintenance: its resources are probed, then managed again`,
        )
      }
    })
}
