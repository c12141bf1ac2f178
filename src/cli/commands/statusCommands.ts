import type { StatusDocument } from '../../runtime/statusDocument.ts'
import { line, printJson, state, table } from '../output.ts'
import { adminCommand, clientFor } from './connection.ts'

export function printStatus(s: StatusDocument): void {
  const q = s.cluster.quorum
  line(
    `cluster ${s.cluster.name}  leader ${s.cluster.leader ?? '-'}  term ${s.cluster.term}  ` +
      `quorum ${state(q.state)} (${q.votesPresent}/${q.votesTotal} votes, ${q.votesNeeded} needed, model ${q.model})`,
  )
  if (q.forced) line(`FORCED QUORUM in effect (epoch ${q.epoch}): votes return as members come back`)
  line()
  line(
    table(
      ['NODE', 'SITE', 'STATE', 'VOTES'],
      s.nodes.map((n) => [n.name, n.site, state(n.state), n.votes]),
    ),
  )
  if (s.witness !== null)
    line(`witness ${s.witness.name} (${s.witness.type}, site ${s.witness.site}): ${state(s.witness.state)}`)
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
        state(g.state),
        g.owner ?? '-',
        g.fencingToken,
        g.resources.map((r) => `${r.name}:${state(r.state)}`).join(' ') || '-',
      ]),
    ),
  )
  const failures = s.groups.flatMap((g) =>
    g.resources.filter((r) => r.failure !== null).map((r) => `${r.name}: ${r.failure}`),
  )
  if (failures.length > 0) {
    line()
    for (const f of failures) line(`failed ${f}`)
  }
}

export function statusCommand() {
  return adminCommand('status', 'cluster, quorum, nodes and groups at a glance')
    .addHelpText('after', '\nExamples:\n  geocluster status\n  geocluster status --json | jq .cluster.quorum')
    .action(async (opts) => {
      const s = await clientFor(opts).get<StatusDocument>('/v1/status')
      if (opts.json) printJson(s)
      else printStatus(s)
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
