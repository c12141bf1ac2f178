import { Command, InvalidArgumentError } from '@commander-js/extra-typings'
import type { StatusDocument } from '../../runtime/statusDocument.ts'
import { line, printJson, state, table } from '../output.ts'
import { cleanupCommand } from './cleanupCommand.ts'
import { adminCommand, clientFor, commaList } from './connection.ts'

type ResourceView = StatusDocument['groups'][number]['resources'][number] & {
  group: string
  owner: string | null
}

function collectParam(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=')
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got '${value}'`)
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) }
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got '${value}'`)
  return Number(value)
}

export function resourceCommands() {
  const resource = new Command('resource').description(
    'resources: applications, scripts and what they depend on',
  )
  resource.addCommand(
    adminCommand('list', 'all resources').action(async (opts) => {
      const { resources } = await clientFor(opts).get<{ resources: ResourceView[] }>('/v1/resources')
      if (opts.json) return printJson({ resources })
      line(
        table(
          ['RESOURCE', 'GROUP', 'TYPE', 'STATE', 'OWNER', 'DEPENDS ON', 'RESTARTS'],
          resources.map((r) => [
            r.name,
            r.group,
            r.type,
            state(r.state),
            r.owner ?? '-',
            r.dependsOn.join(',') || '-',
            `${r.restarts}/${r.restartThreshold}`,
          ]),
        ),
      )
    }),
  )
  resource.addCommand(
    adminCommand('show', 'one resource')
      .argument('<name>')
      .action(async (name, opts) => {
        const r = await clientFor(opts).get<ResourceView>(`/v1/resources/${encodeURIComponent(name)}`)
        if (opts.json) return printJson(r)
        line(
          `resource ${r.name} (${r.type}) in group ${r.group}: ${state(r.state)}, target ${r.target}, owner ${r.owner ?? '-'}`,
        )
        line(
          `  depends on: ${r.dependsOn.join(', ') || '-'}   restarts: ${r.restarts} of ${r.restartThreshold} per ${r.restartPeriodMs / 1000} s`,
        )
        if (r.failure !== null) line(`  failure: ${r.failure}`)
      }),
  )
  resource.addCommand(
    adminCommand('create', 'create a resource in a group (offline until brought online)')
      .argument('<name>')
      .requiredOption('--group <group>', 'the group it belongs to')
      .requiredOption('--type <type>', 'generic-app | generic-script')
      .option(
        '--param <key=value>',
        'a type parameter, repeatable (e.g. command="sleep 1000")',
        collectParam,
        {},
      )
      .option(
        '--depends-on <resources>',
        'resources of the same group it needs online first, comma-separated',
        commaList,
      )
      .option(
        '--restart-threshold <n>',
        'restarts allowed within the period before it is failed (default 3)',
        wholeNumber,
      )
      .option('--restart-period-s <s>', 'the restart period in seconds (default 900)', wholeNumber)
      .addHelpText(
        'after',
        '\nExamples:\n' +
          '  geocluster resource create web-app --group web --type generic-app --param command="python3 -m http.server 8080"\n' +
          '  geocluster resource create db --group web --type generic-script --param script=/opt/agents/db',
      )
      .action(async (name, opts) => {
        const r = await clientFor(opts).post<ResourceView>('/v1/resources', {
          name,
          group: opts.group,
          type: opts.type,
          params: opts.param,
          dependsOn: opts.dependsOn ?? [],
          ...(opts.restartThreshold === undefined ? {} : { restartThreshold: opts.restartThreshold }),
          ...(opts.restartPeriodS === undefined ? {} : { restartPeriodMs: opts.restartPeriodS * 1000 }),
        })
        if (opts.json) printJson(r)
        else line(`resource ${r.name} created in group ${r.group} (${state(r.state)})`)
      }),
  )
  resource.addCommand(
    adminCommand('depend', 'replace the resources this one depends on (cycles are refused)')
      .argument('<name>')
      .requiredOption('--on <resources>', 'comma-separated; empty string for none', (v) => commaList(v))
      .action(async (name, opts) => {
        const r = await clientFor(opts).put<ResourceView>(
          `/v1/resources/${encodeURIComponent(name)}/dependencies`,
          { dependsOn: opts.on },
        )
        if (opts.json) printJson(r)
        else line(`resource ${r.name} depends on: ${r.dependsOn.join(', ') || 'nothing'}`)
      }),
  )
  for (const [verb, what] of [
    ['online', 'bring a resource (and what it depends on) online; clears a failure'],
    ['offline', 'take a resource (and what depends on it) offline'],
    ['fail', 'make a running resource fail now, to test the restart policy'],
  ] as const) {
    resource.addCommand(
      adminCommand(verb, what)
        .argument('<name>')
        .action(async (name, opts) => {
          const r = await clientFor(opts).post<ResourceView>(
            `/v1/resources/${encodeURIComponent(name)}/${verb}`,
          )
          if (opts.json) printJson(r)
          else line(`resource ${r.name}: target ${r.target}, now ${state(r.state)}`)
        }),
    )
  }
  resource.addCommand(cleanupCommand())
  resource.addCommand(
    adminCommand('delete', 'delete an offline resource nothing depends on')
      .argument('<name>')
      .action(async (name, opts) => {
        const r = await clientFor(opts).delete<{ name: string }>(`/v1/resources/${encodeURIComponent(name)}`)
        if (opts.json) printJson(r)
        else line(`resource ${name} deleted`)
      }),
  )
  return resource
}
