import { Command, InvalidArgumentError } from '@commander-js/extra-typings'
import { GeoclusterError } from '../../errors/errors.ts'
import type { StatusDocument } from '../../runtime/statusDocument.ts'
import { line, printJson, state, table } from '../output.ts'
import { cleanupCommand } from './cleanupCommand.ts'
import { adminCommand, clientFor, commaList } from './connection.ts'

type ResourceView = StatusDocument['groups'][number]['resources'][number] & {
  group: string
  owner: string | null
  /** In the answers about one resource (absent from nodes of an older version). */
  params?: Record<string, string>
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
        for (const [k, v] of Object.entries(r.params ?? {})) line(`  param ${k}=${v}`)
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
  resource.addCommand(resourceSetCommand())
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

/** The parameter each `--timeouts` name sets. */
const timeoutParams: Record<string, string> = {
  start: 'startTimeoutMs',
  stop: 'stopTimeoutMs',
  monitor: 'monitorTimeoutMs',
}

/** `start=30s,stop=10s,monitor=20000ms` → the timeout parameters in milliseconds. */
export function parseTimeouts(value: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const item of value.split(',').filter((x) => x.trim() !== '')) {
    const m = /^\s*(\w+)\s*=\s*(\d+)\s*(ms|s)?\s*$/.exec(item)
    const param = m === null ? undefined : timeoutParams[m[1]!]
    if (m === null || param === undefined)
      throw new InvalidArgumentError(
        `expected start=, stop= or monitor= with a duration (20s, 500ms), got '${item.trim()}'`,
      )
    out[param] = String(Number(m[2]) * (m[3] === 's' ? 1000 : 1))
  }
  return out
}

function collectName(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** `resource set`: change a resource's settings in place (Pacemaker `pcs resource update`). */
function resourceSetCommand() {
  return adminCommand('set', "change a resource's parameters or restart policy in place")
    .argument('<name>')
    .option('--param <key=value>', 'set a type parameter, repeatable', collectParam, {})
    .option('--unset <key>', 'remove a parameter (its default applies), repeatable', collectName, [])
    .option('--restart-threshold <n>', 'restarts allowed within the period before it is failed', wholeNumber)
    .option('--restart-period-s <s>', 'the restart period in seconds', wholeNumber)
    .option(
      '--timeouts <list>',
      'start=D,stop=D,monitor=D (20s, 500ms): the startTimeoutMs, stopTimeoutMs and monitorTimeoutMs parameters',
      parseTimeouts,
    )
    .option(
      '--restart',
      'if it runs, restart it (and what depends on it) to take new parameters; without this such a change is refused',
    )
    .addHelpText(
      'after',
      '\nA resource starts with its parameters: new ones reach a running resource only by restarting it.\n' +
        'Without --restart that change is refused (exit 1, GC_ERR_RESTART_NEEDED) and nothing changes; the\n' +
        'restart policy (--restart-threshold, --restart-period-s) changes at once, without a restart.\n\nExamples:\n' +
        '  geocluster resource set web-app --param command="python3 -m http.server 8081" --restart\n' +
        '  geocluster resource set web-app --timeouts stop=30s --unset cwd --restart\n' +
        '  geocluster resource set web-app --restart-threshold 5 --restart-period-s 600 --json',
    )
    .action(async (name, opts) => {
      const clash = Object.keys(opts.timeouts ?? {}).filter((k) => Object.hasOwn(opts.param, k))
      if (clash.length > 0)
        throw new GeoclusterError('GC_ERR_USAGE', `--param and --timeouts both set ${clash.join(', ')}`)
      const params = { ...opts.param, ...opts.timeouts }
      const body = {
        ...(Object.keys(params).length === 0 ? {} : { params }),
        ...(opts.unset.length === 0 ? {} : { unset: opts.unset }),
        ...(opts.restartThreshold === undefined ? {} : { restartThreshold: opts.restartThreshold }),
        ...(opts.restartPeriodS === undefined ? {} : { restartPeriodMs: opts.restartPeriodS * 1000 }),
      }
      if (Object.keys(body).length === 0)
        throw new GeoclusterError(
          'GC_ERR_USAGE',
          'nothing to change: give at least one of --param, --unset, --timeouts, --restart-threshold, --restart-period-s',
        )
      const r = await clientFor(opts).patch<ResourceView & { changed: string[]; restarting: boolean }>(
        `/v1/resources/${encodeURIComponent(name)}`,
        { ...body, ...(opts.restart === true ? { restart: true } : {}) },
      )
      if (opts.json) return printJson(r)
      if (r.changed.length === 0) return line(`resource ${r.name}: nothing changed (it was already so)`)
      const newParams = r.changed.some((f) => f.startsWith('params.'))
      line(
        `resource ${r.name} changed: ${r.changed.join(', ')}${
          r.restarting
            ? `; restarting it on ${r.owner ?? 'its owner'} to take its new parameters`
            : newParams
              ? '; its new parameters take effect when it next starts'
              : ''
        }`,
      )
    })
}
