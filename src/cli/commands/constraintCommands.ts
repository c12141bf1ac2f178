/**
 * `group ban` and `group clear`, and how `--lifetime` reads and constraints print (Pacemaker's
 * `pcs resource ban/clear` and `crm_resource --clear`); `group move --lifetime` is in groupCommands.
 */
import { InvalidArgumentError } from '@commander-js/extra-typings'
import type { StatusDocument } from '../../runtime/statusDocument.ts'
import { line, printJson } from '../output.ts'
import { adminCommand, clientFor } from './connection.ts'

type GroupView = StatusDocument['groups'][number]
type ConstraintView = GroupView['constraints'][number]

const unitMs = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 } as const
const shortForm = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/
/** ISO 8601 durations as pcs takes them, in days and time units (months and years vary). */
const isoForm = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/

/** `90s`, `30m`, `1h30m`, `2d` or ISO 8601 (`PT1H`, `P1DT12H`) to milliseconds. */
export function parseLifetime(value: string): number {
  const m = shortForm.exec(value) ?? isoForm.exec(value.toUpperCase())
  const parts = m === null ? [] : m.slice(1).map((p) => Number(p ?? 0))
  const ms = parts.reduce((sum, n, i) => sum + n * Object.values(unitMs)[i]!, 0)
  if (m === null || value === '' || value === 'P' || ms < 1000)
    throw new InvalidArgumentError(
      `expected a lifetime of a second or more such as 90s, 30m, 1h30m, 2d or PT1H; got '${value}'`,
    )
  return ms
}

/** `2h5m`: what is left of a lifetime, roughly, for people. */
function remaining(ms: number): string {
  const [d, h, m] = [
    Math.floor(ms / unitMs.d),
    Math.floor(ms / unitMs.h) % 24,
    Math.floor(ms / unitMs.m) % 60,
  ]
  const text = `${d > 0 ? `${d}d` : ''}${h > 0 ? `${h}h` : ''}${m > 0 && d === 0 ? `${m}m` : ''}`
  return text === '' ? `${Math.ceil(ms / 1000)}s` : text
}

/** `banned from atl-1 until 2025-01-01T10:00:00.000Z (1h left)`. */
export function describeConstraint(c: ConstraintView, nowMs: number): string {
  const what = c.kind === 'ban' ? `banned from ${c.node}` : `preferred on ${c.node}`
  if (c.expiresAt === null) return `${what} until cleared`
  const left = c.expiresAt - nowMs
  return `${what} until ${new Date(c.expiresAt).toISOString()} (${left > 0 ? `${remaining(left)} left` : 'expired'})`
}

export function banCommand() {
  return adminCommand('ban', 'never run a group on a node (it moves away if it runs there)')
    .argument('<name>')
    .requiredOption('--node <node>', 'the node it must not run on')
    .option(
      '--lifetime <duration>',
      'how long the ban holds: 90s, 30m, 1h, 2d, PT1H (default: until cleared)',
      parseLifetime,
    )
    .action(async (name, opts) => {
      const g = await clientFor(opts).post<GroupView>(`/v1/groups/${encodeURIComponent(name)}/ban`, {
        node: opts.node,
        ...(opts.lifetime === undefined ? {} : { lifetimeMs: opts.lifetime }),
      })
      if (opts.json) return printJson(g)
      const ban = g.constraints.find((c) => c.node === opts.node && c.kind === 'ban')
      line(
        `group ${g.name} ${ban === undefined ? `banned from ${opts.node}` : describeConstraint(ban, Date.now())}`,
      )
      if (g.owner === opts.node) line(`  it runs on ${opts.node} now: the cluster moves it away`)
    })
}

export function clearCommand() {
  return adminCommand('clear', "remove a group's moves and bans (crm_resource --clear)")
    .argument('<name>')
    .option('--node <node>', 'only those on this node')
    .action(async (name, opts) => {
      const g = await clientFor(opts).post<GroupView>(
        `/v1/groups/${encodeURIComponent(name)}/clear`,
        opts.node === undefined ? {} : { node: opts.node },
      )
      if (opts.json) return printJson(g)
      line(
        g.constraints.length === 0
          ? `group ${g.name}: no moves or bans left`
          : `group ${g.name}: still ${g.constraints.map((c) => describeConstraint(c, Date.now())).join('; ')}`,
      )
    })
}
