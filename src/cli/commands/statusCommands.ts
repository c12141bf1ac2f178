import { InvalidArgumentError } from '@commander-js/extra-typings'
import { survivableNow } from '../../api/survivableNow.ts'
import type { ClusterEvent } from '../../events/clusterEvent.ts'
import type { StatusDocument } from '../../runtime/statusDocument.ts'
import { failureDocument } from '../failureReport.ts'
import { line, printJson, state, table } from '../output.ts'
import { failureCountLines } from './cleanupCommand.ts'
import { adminCommand, clientFor } from './connection.ts'
import { describeConstraint } from './constraintCommands.ts'

export function printStatus(s: StatusDocument): void {
  const q = s.cluster.quorum
  line(
    `cluster ${s.cluster.name}  leader ${s.cluster.leader ?? '-'}  term ${s.cluster.term}  ` +
      `quorum ${state(q.state)} (${q.votesPresent}/${q.votesTotal} votes, ${q.votesNeeded} needed, model ${q.model})  ` +
      `functional level ${s.cluster.functionalLevel}`,
  )
  const epoch = q.epochId === '' ? `${q.epoch}` : `${q.epoch}, ${q.epochId}`
  if (q.conflict !== null)
    line(`EPOCH CONFLICT: ${q.conflict}; two forced histories are never merged: this side takes no writes`)
  if (!q.confirmed)
    line(
      `FORCED QUORUM NOT CONFIRMED (epoch ${epoch}): reads only, no writes, no groups; if the other side is down: geocluster cluster confirm-forced --other-side-is-down`,
    )
  else if (q.forced) line(`FORCED QUORUM in effect (epoch ${epoch}): votes return as members come back`)
  if (s.cluster.maintenance === true)
    line(
      'MAINTENANCE: the whole cluster is left as it is (no checks, restarts, starts, stops or moves): geocluster maintenance off',
    )
  if (q.rebuilding === true)
    line(
      `REBUILDING: ${s.node} gave its history up to join epoch ${epoch} and is being rebuilt from its leader (no campaign until caught up)`,
    )
  line()
  line(
    table(
      ['NODE', 'SITE', 'STATE', 'VOTES'],
      s.nodes.map((n) => [
        n.name,
        n.site,
        `${state(n.state)}${n.maintenance === true ? ' (maintenance)' : ''}`,
        n.votes,
      ]),
    ),
  )
  if (s.witness !== null)
    line(
      `witness ${s.witness.name} (${s.witness.type}, site ${s.witness.site}): ${state(s.witness.state)}` +
        (s.witness.problem === undefined ? '' : ` — ${s.witness.problem}`),
    )
  for (const t of s.catchUp) {
    const percent = t.totalBytes === 0 ? 100 : Math.floor((100 * t.bytes) / t.totalBytes)
    line(
      `catch-up: ${t.direction} snapshot @${t.snapshotIndex} ${t.direction === 'sending' ? 'to' : 'from'} ${t.peer}: ` +
        `${percent}% (${t.bytes}/${t.totalBytes} bytes, ${(t.elapsedMs / 1000).toFixed(1)} s)`,
    )
  }
  line()
  if (s.groups.length === 0) {
    line('no groups yet: geocluster group create NAME')
    return
  }
  line(
    table(
      ['GROUP', 'STATE', 'OWNER', 'TOKEN', 'RESOURCES'],
      s.groups.map((g) => [
        g.name,
        `${state(g.state)}${g.unmanaged == null ? '' : ' (maintenance)'}`,
        g.owner ?? '-',
        g.fencingToken,
        g.resources.map((r) => `${r.name}:${state(r.state)}`).join(' ') || '-',
      ]),
    ),
  )
  const constraints = s.groups.flatMap((g) =>
    g.constraints.map((c) => `group ${g.name} ${describeConstraint(c, Date.now())}`),
  )
  if (constraints.length > 0) {
    line()
    for (const c of constraints) line(c)
  }
  const counts = failureCountLines(s)
  if (counts.length > 0) {
    line()
    for (const c of counts) line(c)
  }
  const failures = s.groups.flatMap((g) =>
    g.resources.filter((r) => r.failure !== null).map((r) => `${r.name}: ${r.failure}`),
  )
  if (failures.length > 0) {
    line()
    for (const f of failures) line(`failed ${f}`)
  }
  const held = s.groups.flatMap((g) => (g.unmanaged == null ? [] : [`${g.name}: ${g.unmanaged}`]))
  if (held.length > 0 && s.cluster.maintenance !== true) {
    line()
    for (const h of held) line(`maintenance ${h}`)
  }
}

/** One screen of `status --watch`: the status, what it survives now, and the latest events. */
function printWatchScreen(s: StatusDocument, events: ClusterEvent[], everyS: number): void {
  line(
    `geocluster status --watch: every ${everyS} s via ${s.node}, ${new Date().toISOString()} (Ctrl-C to stop)`,
  )
  line()
  printStatus(s)
  const { can, cannot } = survivableNow(s)
  line()
  if (s.cluster.quorum.model === 'disk')
    line('the quorum disk is the one vote: any node may go while one reaches it')
  else
    line(
      `can lose now and stay quorate: ${can.join(', ') || 'nobody'}${cannot.length > 0 ? `; not: ${cannot.join(', ')}` : ''}`,
    )
  if (events.length > 0) {
    line()
    line('latest events:')
    for (const e of events)
      line(`  ${e.time.slice(11, 19)} ${e.severity.padEnd(7)} ${e.node} ${e.type} ${e.message}`)
  }
}

export function statusCommand() {
  return adminCommand('status', 'cluster, quorum, nodes and groups at a glance')
    .option('--watch', 'a live view (like crm_mon): redraw every --interval seconds until Ctrl-C')
    .option(
      '--interval <seconds>',
      'how often --watch redraws (default 2)',
      (v) => {
        if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < 0.1)
          throw new InvalidArgumentError('expected a number of seconds, at least 0.1')
        return Number(v)
      },
      2,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  geocluster status\n  geocluster status --json | jq .cluster.quorum\n  geocluster status --watch --interval 1',
    )
    .action(async (opts) => {
      const client = clientFor(opts)
      if (opts.watch !== true) {
        const s = await client.get<StatusDocument>('/v1/status')
        if (opts.json) printJson(s)
        else printStatus(s)
        return
      }
      let stop = false
      process.once('SIGINT', () => {
        stop = true
      })
      const tty = process.stdout.isTTY === true
      while (!stop) {
        try {
          const s = await client.get<StatusDocument>('/v1/status')
          if (opts.json) process.stdout.write(`${JSON.stringify(s)}\n`)
          else {
            const { events } = await client.get<{ events: ClusterEvent[] }>('/v1/events/history?limit=8')
            // Home and clear on a terminal; a separator when piped, so a log of screens stays readable.
            process.stdout.write(tty ? '\u001b[H\u001b[2J' : '\n----\n')
            printWatchScreen(s, events, opts.interval)
          }
        } catch (error) {
          // The node may be restarting: say so and keep watching, as crm_mon does.
          if (opts.json)
            process.stdout.write(
              `${JSON.stringify({ ...failureDocument(error), at: new Date().toISOString() })}\n`,
            )
          else line(`${new Date().toISOString()} unreachable: ${(error as Error).message}`)
        }
        const until = Date.now() + opts.interval * 1000
        while (!stop && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      }
    })
}

export function nodeListCommand() {
  return adminCommand('list', 'nodes of the cluster with site, state and votes').action(async (opts) => {
    const { nodes } = await clientFor(opts).get<{ nodes: StatusDocument['nodes'] }>('/v1/nodes')
    if (opts.json) printJson({ nodes })
    else
      line(
        table(
          ['NODE', 'SITE', 'STATE', 'VOTES'],
          nodes.map((n) => [n.name, n.site, state(n.state), n.votes]),
        ),
      )
  })
}
