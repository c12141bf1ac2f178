import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings'
import { GeoclusterError } from '../../errors/errors.ts'
import type { StatusDocument } from '../../runtime/statusDocument.ts'
import { line, printJson, state, table } from '../output.ts'
import { adminCommand, clientFor, commaList } from './connection.ts'
import { banCommand, clearCommand, describeConstraint, parseLifetime } from './constraintCommands.ts'

type GroupView = StatusDocument['groups'][number]

function printGroup(g: GroupView): void {
  line(
    `group ${g.name}: ${state(g.state)} (target ${g.target}), owner ${g.owner ?? '-'}, fencing token ${g.fencingToken}`,
  )
  line(
    `  preferred owners: ${g.preferredOwners.join(', ') || '-'}   possible owners: ${g.possibleOwners.join(', ') || 'any node'}`,
  )
  line(`  failback: ${g.failback}   anti-affinity: ${g.antiAffinity.join(', ') || '-'}`)
  for (const c of g.constraints) line(`  ${describeConstraint(c, Date.now())}`)
  // Absent from nodes of an older version.
  if (g.failoverPeriodMs !== undefined)
    line(
      `  failover threshold: ${g.failoverThresholdSet ?? 'default (nodes that may own it - 1)'} within ${g.failoverPeriodMs / 1000} s`,
    )
  if (g.resources.length > 0) {
    line(
      table(
        ['  RESOURCE', 'TYPE', 'STATE', 'DEPENDS ON', 'RESTARTS'],
        g.resources.map((r) => [
          `  ${r.name}`,
          r.type,
          state(r.state),
          r.dependsOn.join(',') || '-',
          `${r.restarts}/${r.restartThreshold}`,
        ]),
      ),
    )
  }
}

export function groupCommands() {
  const group = new Command('group').description('resource groups: the unit of failover')
  group.addCommand(
    adminCommand('list', 'all groups').action(async (opts) => {
      const { groups } = await clientFor(opts).get<{ groups: GroupView[] }>('/v1/groups')
      if (opts.json) return printJson({ groups })
      line(
        table(
          ['GROUP', 'STATE', 'OWNER', 'TOKEN', 'RESOURCES'],
          groups.map((g) => [g.name, state(g.state), g.owner ?? '-', g.fencingToken, g.resources.length]),
        ),
      )
    }),
  )
  group.addCommand(
    adminCommand('show', 'one group with its resources')
      .argument('<name>')
      .action(async (name, opts) => {
        const g = await clientFor(opts).get<GroupView>(`/v1/groups/${encodeURIComponent(name)}`)
        if (opts.json) printJson(g)
        else printGroup(g)
      }),
  )
  group.addCommand(
    adminCommand('create', 'create a group (offline until `group online`)')
      .argument('<name>')
      .option('--preferred-owners <nodes>', 'ordered nodes to own the group, comma-separated', commaList)
      .option(
        '--possible-owners <nodes>',
        'the only nodes that may own it, comma-separated (default: all)',
        commaList,
      )
      .addOption(
        new Option('--failback <policy>', 'never | immediate | HH-HH (a window of hours)').default('never'),
      )
      .option('--anti-affinity <classes>', 'anti-affinity classes, comma-separated', commaList)
      .option(
        '--failover-threshold <n>',
        'failovers allowed within the period before the group is failed (default: nodes that may own it - 1)',
        (v) => Number(v),
      )
      .option('--failover-period-s <s>', 'the failover period in seconds (default 21600, 6 h)', (v) =>
        Number(v),
      )
      .addHelpText(
        'after',
        '\nExample:\n  geocluster group create web --preferred-owners atl-1,atl-2 --failback 22-06',
      )
      .action(async (name, opts) => {
        const g = await clientFor(opts).post<GroupView>('/v1/groups', {
          name,
          preferredOwners: opts.preferredOwners ?? [],
          possibleOwners: opts.possibleOwners ?? [],
          failback: opts.failback,
          antiAffinity: opts.antiAffinity ?? [],
          ...(opts.failoverThreshold === undefined ? {} : { failoverThreshold: opts.failoverThreshold }),
          ...(opts.failoverPeriodS === undefined ? {} : { failoverPeriodMs: opts.failoverPeriodS * 1000 }),
        })
        if (opts.json) printJson(g)
        else line(`group ${g.name} created (offline; bring it up with: geocluster group online ${g.name})`)
      }),
  )
  group.addCommand(groupSetCommand())
  for (const [verb, what] of [
    ['online', 'bring a group and all its resources online'],
    ['offline', 'take a group offline (resources stop in reverse dependency order)'],
  ] as const) {
    group.addCommand(
      adminCommand(verb, what)
        .argument('<name>')
        .action(async (name, opts) => {
          const g = await clientFor(opts).post<GroupView>(`/v1/groups/${encodeURIComponent(name)}/${verb}`)
          if (opts.json) printJson(g)
          else line(`group ${g.name}: target ${g.target}, now ${state(g.state)}`)
        }),
    )
  }
  group.addCommand(
    adminCommand('move', 'move a group to another node (Move-ClusterGroup)')
      .argument('<name>')
      .option('--to <node>', 'destination node (default: the next node that may own it)')
      .option(
        '--lifetime <duration>',
        'with --to: keep it preferred there this long (90s, 30m, 1h, PT1H)',
        parseLifetime,
      )
      .action(async (name, opts) => {
        const g = await clientFor(opts).post<GroupView>(`/v1/groups/${encodeURIComponent(name)}/move`, {
          ...(opts.to === undefined ? {} : { to: opts.to }),
          ...(opts.lifetime === undefined ? {} : { lifetimeMs: opts.lifetime }),
        })
        if (opts.json) printJson(g)
        else if (g.moving !== null)
          line(
            `group ${g.name} moving from ${g.owner}${g.moving.to === null ? '' : ` to ${g.moving.to}`}: ${g.moving.reason}`,
          )
        else line(`group ${g.name} now owned by ${g.owner ?? '-'} (fencing token ${g.fencingToken})`)
      }),
  )
  group.addCommand(banCommand())
  group.addCommand(clearCommand())
  group.addCommand(
    adminCommand('delete', 'delete an offline group without resources')
      .argument('<name>')
      .action(async (name, opts) => {
        const r = await clientFor(opts).delete<{ name: string }>(`/v1/groups/${encodeURIComponent(name)}`)
        if (opts.json) printJson(r)
        else line(`group ${name} deleted`)
      }),
  )
  return group
}

/** `--failover-threshold`: a whole number, or `default` (one less than the nodes that may own it). */
function thresholdOrDefault(value: string): number | 'default' {
  // Not null: commander turns an option parsed to null into ''.
  if (value === 'default') return 'default'
  if (!/^\d+$/.test(value))
    throw new InvalidArgumentError(`expected a whole number or default, got '${value}'`)
  return Number(value)
}

function wholeSeconds(value: string): number {
  if (!/^\d+$/.test(value))
    throw new InvalidArgumentError(`expected a whole number of seconds, got '${value}'`)
  return Number(value)
}

/** `group set`: change a group's settings in place (WSFC Set-ClusterOwnerNode and group properties). */
function groupSetCommand() {
  return adminCommand('set', "change a group's settings in place; only the options given change")
    .argument('<name>')
    .option(
      '--preferred-owners <nodes>',
      'ordered nodes to own the group, comma-separated ("" for none)',
      commaList,
    )
    .option(
      '--possible-owners <nodes>',
      'the only nodes that may own it, comma-separated ("" for every node)',
      commaList,
    )
    .option('--failback <policy>', 'never | immediate | HH-HH (a window of hours)')
    .option('--failback-window <HH-HH>', 'fail back only within these hours (the same as --failback HH-HH)')
    .option('--anti-affinity <classes>', 'anti-affinity classes, comma-separated ("" for none)', commaList)
    .option(
      '--failover-threshold <n>',
      'failovers allowed within the period before the group is failed, or "default" (nodes that may own it - 1)',
      thresholdOrDefault,
    )
    .option('--failover-period-s <s>', 'the failover period in seconds', wholeSeconds)
    .addHelpText(
      'after',
      '\nA group runs on, and fails over to, possible owners only: a change that leaves no member to own it,\n' +
        'or excludes the node it runs on now, is refused (move it first).\n\nExamples:\n' +
        '  geocluster group set web --preferred-owners atl-1,phx-1 --failback-window 22-06\n' +
        '  geocluster group set web --possible-owners atl-1,atl-2,phx-1 --failover-threshold 2 --failover-period-s 3600\n' +
        '  geocluster group set web --possible-owners "" --json      # every node may own it again',
    )
    .action(async (name, opts) => {
      if (
        opts.failback !== undefined &&
        opts.failbackWindow !== undefined &&
        opts.failback !== opts.failbackWindow
      )
        throw new GeoclusterError('GC_ERR_USAGE', '--failback and --failback-window say different things')
      const failback = opts.failbackWindow ?? opts.failback
      const body = {
        ...(opts.preferredOwners === undefined ? {} : { preferredOwners: opts.preferredOwners }),
        ...(opts.possibleOwners === undefined ? {} : { possibleOwners: opts.possibleOwners }),
        ...(failback === undefined ? {} : { failback }),
        ...(opts.antiAffinity === undefined ? {} : { antiAffinity: opts.antiAffinity }),
        ...(opts.failoverThreshold === undefined
          ? {}
          : { failoverThreshold: opts.failoverThreshold === 'default' ? null : opts.failoverThreshold }),
        ...(opts.failoverPeriodS === undefined ? {} : { failoverPeriodMs: opts.failoverPeriodS * 1000 }),
      }
      if (Object.keys(body).length === 0)
        throw new GeoclusterError(
          'GC_ERR_USAGE',
          'nothing to change: give at least one of --preferred-owners, --possible-owners, --failback, --anti-affinity, --failover-threshold, --failover-period-s',
        )
      const g = await clientFor(opts).patch<GroupView & { changed: string[] }>(
        `/v1/groups/${encodeURIComponent(name)}`,
        body,
      )
      if (opts.json) return printJson(g)
      if (g.changed.length === 0) return line(`group ${g.name}: nothing changed (it was already so)`)
      line(`group ${g.name} changed: ${g.changed.join(', ')}`)
      printGroup(g)
    })
}
