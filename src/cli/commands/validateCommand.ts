import { Command } from '@commander-js/extra-typings'
import { votesNeeded } from '../../consensus/quorum/voteMath.ts'
import type { MemberReport } from '../../membership/memberReport.ts'
import { cloudWitnessSettings } from '../../runtime/cloudWitness.ts'
import { diskTiming, timingSummary } from '../../topology/clusterTiming.ts'
import { loadTopology } from '../../topology/loadTopology.ts'
import { analyseQuorum } from '../../topology/quorumAnalysis.ts'
import { liveFindings } from '../liveChecks.ts'
import { line, printJson } from '../output.ts'
import { clientFor } from './connection.ts'

export function validateCommand() {
  return new Command('validate')
    .description('check a topology file: schema, names, addresses, quorum model and vote totals')
    .requiredOption('--config <file>', 'topology file')
    .option('--json', 'print exactly one JSON document')
    .option('--live', 'also check the running cluster: connections, round trips, clocks, versions')
    .option(
      '--api <url>',
      'with --live: admin API of any node (default: $GEOCLUSTER_API or http://127.0.0.1:7480)',
    )
    .option(
      '--token <token>',
      'with --live: admin bearer token (default: $GEOCLUSTER_TOKEN, or <data-dir>/admin.token)',
    )
    .option('--data-dir <dir>', "with --live: the node's data dir, to read its admin.token")
    .option('--api-fingerprint <sha256>', "with --live: pin the API's TLS certificate (SHA-256)")
    .option('--api-ca <file>', "with --live: trust this CA or certificate (PEM) for the API's TLS")
    .addHelpText(
      'after',
      '\nExamples:\n  geocluster validate --config sites/two-sites-witness.yaml\n  geocluster validate --config sites/two-sites-witness.yaml --live --api http://atl-1:7480',
    )
    .action(async (opts) => {
      const { topology: t, baseDir } = loadTopology(opts.config)
      const cloud = cloudWitnessSettings(t, baseDir)
      const weights = new Map<string, number>()
      for (const s of t.sites) for (const n of s.nodes) weights.set(n.name, n.votes)
      if (t.witness !== undefined) weights.set(t.witness.name, t.witness.votes)
      const total = [...weights.values()].reduce((a, b) => a + b, 0)
      // Under the disk model the quorum disk is the one vote; nodes vote for nothing.
      const disk = t.quorum.model === 'disk' && t.quorum.disk !== undefined
      const report = {
        file: opts.config,
        valid: true,
        cluster: t.cluster.name,
        quorumModel: t.quorum.model,
        sites: t.sites.map((s) => ({
          name: s.name,
          nodes: s.nodes.length,
          votes: s.nodes.reduce((a, n) => a + n.votes, 0),
        })),
        witness:
          t.witness === undefined
            ? null
            : {
                name: t.witness.name,
                site: t.witness.site,
                type: t.witness.type,
                votes: t.witness.votes,
                // A cloud witness: where its blob is; `problem`: its credentials file is not usable here.
                ...(cloud === null ? {} : { cloud }),
              },
        votesTotal: disk ? 1 : total,
        votesNeeded: disk ? 1 : votesNeeded(weights),
        tieBreaker: t.quorum.tieBreaker ?? null,
        disk: disk ? { path: t.quorum.disk!.path, timing: diskTiming(t) } : null,
        timing: timingSummary(t),
        survives: analyseQuorum(t),
      }
      const live =
        opts.live === true
          ? liveFindings(
              t,
              (await clientFor(opts).get<{ members: MemberReport[] }>('/v1/diagnostics')).members,
            )
          : null
      const ok = live === null || live.errors.length === 0
      if (!ok) process.exitCode = 1
      // `ok`: the file is valid and the live checks (if asked for) found no error.
      if (opts.json) return printJson({ ok, ...report, live })
      line(`${opts.config}: valid (cluster ${report.cluster}, quorum model ${report.quorumModel})`)
      for (const s of report.sites) line(`  site ${s.name}: ${s.nodes} node(s), ${s.votes} vote(s)`)
      if (report.witness !== null)
        line(
          `  witness ${report.witness.name} (${report.witness.type}) at site ${report.witness.site}: ${report.witness.votes} vote(s)`,
        )
      if (cloud !== null) {
        line(`  cloud witness blob: ${cloud.endpoint.replace(/\/+$/, '')}/${cloud.container}/${cloud.blob}`)
        line(
          cloud.problem === null
            ? `  credentials: ${cloud.credentialsFile} (mode 0600)`
            : `  warning: ${cloud.problem} (every node needs it)`,
        )
      }
      if (report.disk !== null) {
        const d = report.disk.timing
        line(`  quorum disk ${report.disk.path}: the only vote; its holder leads`)
        line(
          `  renew every ${d.renewMs} ms (I/O within ${d.ioTimeoutMs} ms), lease ${d.leaseMs} ms, challengers wait ${d.challengeWaitMs} ms`,
        )
      } else line(`  votes: ${report.votesTotal} in all, ${report.votesNeeded} needed for quorum`)
      printTiming(report.timing)
      const a = report.survives
      const yes = (r: Record<string, boolean>) => Object.keys(r).filter((k) => r[k])
      const no = (r: Record<string, boolean>) => Object.keys(r).filter((k) => !r[k])
      const list = (xs: string[]) => (xs.length === 0 ? 'none' : xs.join(', '))
      line(`  survives the loss of site: ${list(yes(a.siteLoss))}; not of: ${list(no(a.siteLoss))}`)
      if (a.siteLossWithoutWitness !== null)
        line(
          `  with the witness down too, survives the loss of site: ${list(yes(a.siteLossWithoutWitness))}; not of: ${list(no(a.siteLossWithoutWitness))}`,
        )
      const multi = a.survivableSiteSets.filter((set) => set.length > 1)
      if (multi.length > 0)
        line(`  survives these sites lost together: ${multi.map((set) => set.join(' + ')).join('; ')}`)
      line(`  single member losses it does not survive: ${list(no(a.singleFailures))}`)
      for (const split of a.evenSplits) line(`  ${split.text}`)
      for (const warning of a.warnings) line(`  warning: ${warning}`)
      if (live === null) return
      line('live:')
      for (const m of live.members)
        line(
          m.error !== null
            ? `  ${m.node}: did not answer (${m.error})`
            : m.role === 'witness'
              ? `  ${m.node} (witness, ${m.site}): version ${m.version}, supports functional level ${m.supportedLevel}`
              : `  ${m.node} (${m.site}): version ${m.version}, supports functional level ${m.supportedLevel}, clock ${m.offsetMs === null ? '?' : `${m.offsetMs >= 0 ? '+' : ''}${m.offsetMs}`} ms, API ${apiTlsText(m.api)}`,
        )
      const fl = live.functionalLevel
      line(
        `  cluster functional level: ${fl.cluster ?? '?'}${fl.supportedByAll === null ? '' : ` (every member that answered supports up to ${fl.supportedByAll})`}`,
      )
      line(
        `  node pairs that hear each other: ${live.pairs.checked - live.pairs.failed.length} of ${live.pairs.checked}`,
      )
      for (const r of live.rtt)
        line(
          `  round trip ${r.sites}: ${r.avgMs.toFixed(1)} ms average, ${r.maxMs.toFixed(1)} ms max (heartbeat ${r.heartbeatMs} ms, detection ${r.windowMs} ms)${r.ok ? '' : ' — too slow'}`,
        )
      for (const e of live.errors) line(`  error: ${e}`)
      for (const w of live.warnings) line(`  warning: ${w}`)
    })
}

/** The timing profile's numbers and why they are safe. */
function printTiming(s: ReturnType<typeof timingSummary>): void {
  const f = s.fencing
  line(
    `  timing (profile ${s.profile}): heartbeat ${s.sameSite.heartbeatMs} ms${s.crossSite.heartbeatMs === s.sameSite.heartbeatMs ? '' : ` in a site, ${s.crossSite.heartbeatMs} ms across sites`}; a member is down after ${s.sameSite.threshold} silent beats in its site (${s.sameSite.downMs} ms), ${s.crossSite.threshold} across sites (${s.crossSite.downMs} ms); election timeout ${s.electionTimeoutMs} ms`,
  )
  line(
    `  a node cut off from the leader fences its groups ${f.fenceAfterMs} ms after its last lease request (fenceAfterMs), SIGKILL ${f.stopTimeoutMs} ms after SIGTERM (stopTimeoutMs)`,
  )
  line(
    `  the leader starts a silent node's groups elsewhere after ${f.downAfterMs} ms (downAfterMs) > fenceAfter + stopTimeout + margin = ${f.fenceAfterMs} + ${f.stopTimeoutMs} + ${f.marginMs} = ${s.fencedByMs} ms: the groups have stopped there first`,
  )
  line(
    // A dead owner's groups start elsewhere downAfter after it fell silent, plus their start.
    `  unplanned failover (kill -9 of an owner): about ${(f.downAfterMs / 1000).toFixed(1)} s plus the application's start; leases are granted only while the leader has heard a majority within ${f.grantWindowMs} ms`,
  )
}

/** How a member's admin API is served, for the live report. */
function apiTlsText(api: { url: string; tlsFingerprint: string | null } | null): string {
  if (api === null) return 'unknown'
  return api.tlsFingerprint === null
    ? `${api.url} (plain HTTP)`
    : `${api.url} (TLS, sha256 ${api.tlsFingerprint})`
}
