import { Command } from '@commander-js/extra-typings'
import { analyseQuorum } from '../../consensus/quorum/quorumAnalysis.ts'
import { votesNeeded } from '../../consensus/quorum/voteMath.ts'
import { diskTiming } from '../../topology/clusterTiming.ts'
import { loadTopology } from '../../topology/loadTopology.ts'
import { line, printJson } from '../output.ts'

export function validateCommand() {
  return new Command('validate')
    .description('check a topology file: schema, names, addresses, quorum model and vote totals')
    .requiredOption('--config <file>', 'topology file')
    .option('--json', 'print exactly one JSON document')
    .addHelpText('after', '\nExample:\n  geocluster validate --config sites/two-sites-witness.yaml')
    .action((opts) => {
      const { topology: t } = loadTopology(opts.config)
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
            : { name: t.witness.name, site: t.witness.site, type: t.witness.type, votes: t.witness.votes },
        votesTotal: disk ? 1 : total,
        votesNeeded: disk ? 1 : votesNeeded(weights),
        disk: disk ? { path: t.quorum.disk!.path, timing: diskTiming(t) } : null,
        survives: analyseQuorum(t),
      }
      if (opts.json) return printJson(report)
      line(`${opts.config}: valid (cluster ${report.cluster}, quorum model ${report.quorumModel})`)
      for (const s of report.sites) line(`  site ${s.name}: ${s.nodes} node(s), ${s.votes} vote(s)`)
      if (report.witness !== null)
        line(
          `  witness ${report.witness.name} (${report.witness.type}) at site ${report.witness.site}: ${report.witness.votes} vote(s)`,
        )
      if (report.disk !== null) {
        const d = report.disk.timing
        line(`  quorum disk ${report.disk.path}: the only vote; its holder leads`)
        line(
          `  renew every ${d.renewMs} ms (I/O within ${d.ioTimeoutMs} ms), lease ${d.leaseMs} ms, challengers wait ${d.challengeWaitMs} ms`,
        )
      } else line(`  votes: ${report.votesTotal} in all, ${report.votesNeeded} needed for quorum`)
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
      for (const warning of a.warnings) line(`  warning: ${warning}`)
    })
}
