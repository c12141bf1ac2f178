/** `geocluster alert`: scripts and webhooks every node runs for the events it sees (Pacemaker alerts). */
import { Command, InvalidArgumentError } from '@commander-js/extra-typings'
import { GeoclusterError } from '../../errors/errors.ts'
import { line, printJson, table } from '../output.ts'
import { adminCommand, clientFor, commaList } from './connection.ts'

interface AlertEntry {
  name: string
  to: { kind: 'script'; path: string } | { kind: 'webhook'; url: string }
  events: string[]
  severities: string[]
  timeoutMs: number
  attempts: number
  deliveries: { queued: number; delivered: number; failed: number; dropped: number } | null
}

function wholeNumber(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('expected a positive whole number')
  return Number(v)
}

const targetOf = (a: AlertEntry) => (a.to.kind === 'script' ? a.to.path : a.to.url)

export function alertCommands() {
  const alert = new Command('alert').description(
    'scripts and webhooks that every node runs for the events it sees (Pacemaker alerts)',
  )
  alert.addCommand(
    adminCommand(
      'add',
      'add an alert: a script (event as JSON on stdin, GEOCLUSTER_EVENT_* variables) or a webhook (POST of the event)',
    )
      .argument('<name>')
      .option('--script <path>', 'absolute path of an executable on every node; exit 0 = delivered')
      .option('--webhook <url>', 'http:// or https:// URL; a 2xx answer = delivered')
      .option(
        '--events <kinds>',
        'event kinds, comma-separated (resource:failed, or resource:* for all of a noun); default every kind',
        commaList,
      )
      .option(
        '--severity <levels>',
        'severities, comma-separated (info,warning,error); default every one',
        commaList,
      )
      .option('--timeout-s <s>', 'bound on one attempt (default 10)', wholeNumber)
      .option(
        '--attempts <n>',
        'attempts before the delivery is given up and reported as alert:failed (default 5)',
        wholeNumber,
      )
      .action(async (name, opts) => {
        if ((opts.script === undefined) === (opts.webhook === undefined))
          throw new GeoclusterError('GC_ERR_USAGE', 'give either --script PATH or --webhook URL')
        const r = await clientFor(opts).post<AlertEntry & { index: number }>('/v1/alerts', {
          name,
          ...(opts.script === undefined ? {} : { script: opts.script }),
          ...(opts.webhook === undefined ? {} : { webhook: opts.webhook }),
          ...(opts.events === undefined ? {} : { events: opts.events }),
          ...(opts.severity === undefined ? {} : { severities: opts.severity }),
          ...(opts.timeoutS === undefined ? {} : { timeoutMs: opts.timeoutS * 1000 }),
          ...(opts.attempts === undefined ? {} : { attempts: opts.attempts }),
        })
        if (opts.json) printJson(r)
        else line(`alert ${r.name} added: ${r.to.kind} ${targetOf(r)}`)
      }),
  )
  alert.addCommand(
    adminCommand('list', 'alerts, with what the node asked delivered, gave up and dropped for each').action(
      async (opts) => {
        const r = await clientFor(opts).get<{ node: string; alerts: AlertEntry[] }>('/v1/alerts')
        if (opts.json) {
          printJson(r)
          return
        }
        line(
          table(
            ['NAME', 'KIND', 'TARGET', 'EVENTS', 'SEVERITIES', `DELIVERED/FAILED/DROPPED/QUEUED (${r.node})`],
            r.alerts.map((a) => [
              a.name,
              a.to.kind,
              targetOf(a),
              a.events.join(',') || 'all',
              a.severities.join(',') || 'all',
              a.deliveries === null
                ? '-'
                : `${a.deliveries.delivered}/${a.deliveries.failed}/${a.deliveries.dropped}/${a.deliveries.queued}`,
            ]),
          ),
        )
      },
    ),
  )
  alert.addCommand(
    adminCommand('delete', 'delete an alert')
      .alias('remove')
      .argument('<name>')
      .action(async (name, opts) => {
        const r = await clientFor(opts).delete<{ name: string }>(`/v1/alerts/${encodeURIComponent(name)}`)
        if (opts.json) printJson(r)
        else line(`alert ${name} deleted`)
      }),
  )
  return alert
}
