import { InvalidArgumentError } from '@commander-js/extra-typings'
import pc from 'picocolors'
import type { AuditRecord } from '../../database/clusterDatabase.ts'
import { GeoclusterError } from '../../errors/errors.ts'
import type { ClusterEvent } from '../../events/clusterEvent.ts'
import type { ClusterEvents } from '../../events/clusterLogReport.ts'
import { line, printJson } from '../output.ts'
import { adminCommand, clientFor } from './connection.ts'

function formatEvent(e: ClusterEvent): string {
  const tty = process.stdout.isTTY === true
  const sev = e.severity === 'error' ? 'ERROR' : e.severity === 'warning' ? 'WARN ' : 'info '
  const colour = !tty
    ? (s: string) => s
    : e.severity === 'error'
      ? pc.red
      : e.severity === 'warning'
        ? pc.yellow
        : pc.dim
  return `${e.time} ${colour(sev)} ${e.node} ${e.type.padEnd(18)} ${e.message}`
}

/** Minimal Server-Sent Events reader: yields the data of each event. */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true })
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
      if (data.length > 0) yield data.join('\n')
    }
  }
}

function formatAudit(a: AuditRecord): string {
  const result = a.ok ? 'ok' : `refused: ${a.reason ?? ''}`
  return `${new Date(a.at).toISOString()} #${a.index} ${a.by.padEnd(16)} ${`${a.op} ${a.subject}`.trim()} (${result})`
}

export function eventsCommand() {
  return adminCommand('events', "this node's cluster events: restarts, failures, changes, elections")
    .option('--audit', 'the audit trail instead: every change to the cluster database, who made it and when')
    .option('--cluster', "every member's events merged in time order (members that do not answer are named)")
    .option('--follow', 'keep streaming new events (with --json: one JSON object per line)')
    .option(
      '--limit <n>',
      'how many past events to show first (default 50)',
      (v) => {
        if (!/^\d+$/.test(v) || Number(v) < 1)
          throw new InvalidArgumentError('expected a positive whole number')
        return Number(v)
      },
      50,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  geocluster events --limit 20\n  geocluster events --audit --limit 100\n  geocluster events --cluster --limit 200   # every member, in time order\n  geocluster events --follow --json | jq -c "select(.type==\\"resource:failed\\")"',
    )
    .action(async (opts) => {
      const client = clientFor(opts)
      if (opts.cluster === true) {
        if (opts.follow === true || opts.audit === true)
          throw new GeoclusterError('GC_ERR_USAGE', '--cluster goes alone: not with --follow or --audit')
        const merged = await client.get<ClusterEvents>(`/v1/events/cluster?limit=${opts.limit}`)
        for (const m of merged.members)
          if (m.error !== null) process.stderr.write(`geocluster: ${m.node} did not answer: ${m.error}\n`)
        if (opts.json) printJson(merged)
        else for (const e of merged.events) line(formatEvent(e))
        return
      }
      if (opts.audit === true) {
        if (opts.follow === true)
          throw new GeoclusterError(
            'GC_ERR_USAGE',
            '--audit and --follow go separately: the audit trail is read as a whole',
          )
        const { entries } = await client.get<{ entries: AuditRecord[] }>(`/v1/audit?limit=${opts.limit}`)
        if (opts.json) printJson({ entries })
        else for (const a of entries) line(formatAudit(a))
        return
      }
      const { events } = await client.get<{ events: ClusterEvent[] }>(
        `/v1/events/history?limit=${opts.limit}`,
      )
      if (!opts.follow) {
        if (opts.json) printJson({ events })
        else for (const e of events) line(formatEvent(e))
        return
      }
      const print = (e: ClusterEvent) =>
        opts.json ? process.stdout.write(`${JSON.stringify(e)}\n`) : line(formatEvent(e))
      for (const e of events) print(e)
      const controller = new AbortController()
      process.once('SIGINT', () => controller.abort())
      const since = events.at(-1)?.seq ?? 0
      try {
        const body = await client.stream(`/v1/events?since=${since}`, controller.signal)
        for await (const data of sseData(body)) print(JSON.parse(data) as ClusterEvent)
        if (!controller.signal.aborted)
          throw new GeoclusterError(
            'GC_ERR_UNREACHABLE',
            `the event stream from ${client.baseUrl} ended: the node went away`,
          )
      } catch (error) {
        if (!controller.signal.aborted) throw error
      }
    })
}
