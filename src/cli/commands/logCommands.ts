/**
 * `geocluster log collect`: one archive for a support case (`crm_report`, `Get-ClusterLog`):
 * every member's events, status, topology and version, as the API gathers them over the mesh
 * with secrets removed, plus the merged timeline. A member that did not answer is named in
 * the manifest and on stderr; the archive holds the others.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { Command } from '@commander-js/extra-typings'
import { create as createTar } from 'tar'
import { GeoclusterError } from '../../errors/errors.ts'
import { mergeMemberEvents, type SupportBundle } from '../../events/clusterLogReport.ts'
import { line, printJson } from '../output.ts'
import { packageVersion } from '../program.ts'
import { adminCommand, clientFor } from './connection.ts'

const jsonLines = (values: unknown[]) => values.map((v) => `${JSON.stringify(v)}\n`).join('')
/** A member's name as a folder of the archive (names are checked, but the archive never trusts). */
const folderOf = (node: string) => (/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(node) ? node : 'member')

/** Writes the bundle's files under `root` (a fresh directory). */
function writeBundle(root: string, bundle: SupportBundle): void {
  mkdirSync(root)
  const write = (path: string, text: string) => writeFileSync(join(root, path), text, { mode: 0o600 })
  write(
    'manifest.json',
    `${JSON.stringify(
      {
        format: bundle.format,
        cluster: bundle.cluster,
        collectedBy: bundle.collectedBy,
        collectedAt: bundle.collectedAt,
        cliVersion: packageVersion(),
        members: bundle.members.map((m) => ({
          node: m.node,
          answered: m.error === null,
          error: m.error,
          site: m.report?.site ?? null,
          version: m.report?.version ?? null,
          events: m.report?.events.length ?? 0,
        })),
      },
      null,
      2,
    )}\n`,
  )
  const reports = bundle.members.flatMap((m) => (m.report === null ? [] : [m.report]))
  write(
    'events.jsonl',
    jsonLines(mergeMemberEvents([reports.flatMap((r) => r.events)], Number.MAX_SAFE_INTEGER)),
  )
  for (const r of reports) {
    const dir = folderOf(r.node)
    mkdirSync(join(root, dir), { recursive: true })
    write(
      `${dir}/version.json`,
      `${JSON.stringify({ node: r.node, site: r.site, version: r.version, wallMs: r.wallMs }, null, 2)}\n`,
    )
    write(`${dir}/status.json`, `${JSON.stringify(r.status, null, 2)}\n`)
    write(`${dir}/topology.json`, `${JSON.stringify(r.topology, null, 2)}\n`)
    write(`${dir}/events.jsonl`, jsonLines(r.events))
  }
}

export function logCommands() {
  const log = new Command('log').description('the cluster log: every member’s events, for a support case')
  log.addCommand(
    adminCommand(
      'collect',
      'gather every member’s events, status, topology and version into one archive (secrets removed)',
    )
      .requiredOption('--out <file>', 'the archive to write (.tar.gz)')
      .action(async (opts) => {
        const out = resolve(opts.out)
        try {
          if (statSync(dirname(out)).isDirectory() === false) throw new Error()
        } catch {
          throw new GeoclusterError('GC_ERR_USAGE', `--out: no directory ${dirname(out)} to write ${out} in`)
        }
        const bundle = await clientFor(opts).get<SupportBundle>('/v1/log/collect')
        const stamp = bundle.collectedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
        const name = `geocluster-support-${folderOf(bundle.cluster)}-${stamp}`
        const work = mkdtempSync(join(tmpdir(), 'geocluster-support-'))
        try {
          writeBundle(join(work, name), bundle)
          await createTar({ gzip: true, file: out, cwd: work, portable: true }, [name])
        } finally {
          rmSync(work, { recursive: true, force: true })
        }
        const missing = bundle.members.filter((m) => m.error !== null)
        for (const m of missing) process.stderr.write(`geocluster: ${m.node} did not answer: ${m.error}\n`)
        const members = bundle.members.map((m) => ({
          node: m.node,
          answered: m.error === null,
          error: m.error,
        }))
        if (opts.json) printJson({ out, bytes: statSync(out).size, members })
        else
          line(
            `${out}: ${bundle.members.length - missing.length} of ${bundle.members.length} members (${statSync(out).size} bytes; secrets removed)`,
          )
      }),
  )
  return log
}
