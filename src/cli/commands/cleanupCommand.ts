/**
 * `resource cleanup [NAME | --all] [--node N]` (`pcs resource cleanup`, `crm_resource --cleanup`),
 * and the failure counts as status prints them (`pcs resource failcount show`).
 */
import { GeoclusterError } from '../../errors/errors.ts'
import type { StatusDocument } from '../../runtime/statusDocument.ts'
import { line, printJson } from '../output.ts'
import { adminCommand, clientFor } from './connection.ts'

type ResourceView = StatusDocument['groups'][number]['resources'][number] & { group: string }

/** One line per resource restarted and per group failed over within their periods. */
export function failureCountLines(s: Pick<StatusDocument, 'groups'>): string[] {
  const out: string[] = []
  for (const g of s.groups) {
    if (g.failovers > 0)
      out.push(
        `group ${g.name}: ${g.failovers} failover(s) of ${g.failoverThreshold} allowed within ${g.failoverPeriodMs / 1000} s`,
      )
    for (const r of g.resources) {
      const byNode = Object.entries(r.restartsByNode)
      if (byNode.length === 0) continue
      const where = byNode.map(([node, n]) => `${n} on ${node}`).join(', ')
      out.push(
        `resource ${r.name}: restarts ${where} (of ${r.restartThreshold} within ${r.restartPeriodMs / 1000} s)`,
      )
    }
  }
  return out
}

export function cleanupCommand() {
  return adminCommand('cleanup', 'forget failure counts and re-probe (crm_resource --cleanup)')
    .argument('[name]', 'the resource (or --all)')
    .option('--all', 'every resource')
    .option('--node <node>', "only this node's restart history and re-probe (the cluster's counts go anyway)")
    .action(async (name, opts) => {
      if ((name === undefined) === (opts.all !== true))
        throw new GeoclusterError('GC_ERR_USAGE', 'name one resource or give --all')
      const path =
        name === undefined ? '/v1/resources/cleanup' : `/v1/resources/${encodeURIComponent(name)}/cleanup`
      const r = await clientFor(opts).post<{
        cleaned: string[]
        node: string | null
        resources: ResourceView[]
      }>(path, opts.node === undefined ? {} : { node: opts.node })
      if (opts.json) return printJson(r)
      const what = name ?? `${r.cleaned.length} resource(s)`
      line(
        `failure counts of ${what} reset${r.node === null ? ' on every node' : ` (restarts on ${r.node})`}; re-probing`,
      )
    })
}
