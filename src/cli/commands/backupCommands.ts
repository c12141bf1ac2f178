/**
 * `geocluster backup` and `geocluster restore`: the cluster database's configuration to a file
 * and back (clusterBackup.ts). The file is checked here first, so a damaged one is named before
 * anything is sent; the node checks it again against the cluster it serves.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { GeoclusterError } from '../../errors/errors.ts'
import { type BackupDocument, checkBackup } from '../../runtime/backupDocument.ts'
import { line, printJson } from '../output.ts'
import { adminCommand, clientFor } from './connection.ts'

interface RestoreAnswer {
  restored: true
  index: number
  from: { cluster: { name: string; id: string }; index: number; term: number; takenAt: number }
  groups: number
  resources: number
  configKeys: number
  checkpoints: number
}

/** Written whole or not at all, readable by its owner only (it holds every config value). */
function writeDurably(file: string, text: string): void {
  const partial = `${file}.partial`
  const fd = openSync(partial, 'w', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(partial, file)
}

export function backupCommand() {
  return adminCommand(
    'backup',
    "write a backup of the cluster database (groups, resources, config keys, checkpoints) at a linearizable point, with its index, term and checksum; through any node's API",
  )
    .requiredOption('--out <file>', 'where to write it (mode 0600: it holds every config value)')
    .addHelpText(
      'after',
      '\nExamples:\n  geocluster backup --out /var/backups/geocluster-$(date +%F).json\n  geocluster backup --out b.json --json | jq .checksum',
    )
    .action(async (opts) => {
      const backup = await clientFor(opts).get<BackupDocument>('/v1/backup')
      writeDurably(opts.out, `${JSON.stringify(backup, null, 1)}\n`)
      const summary = {
        file: opts.out,
        cluster: backup.cluster,
        index: backup.index,
        term: backup.term,
        checksum: backup.checksum,
        groups: backup.content.groups.length,
        resources: backup.content.resources.length,
        configKeys: backup.content.config.length,
        checkpoints: backup.content.checkpoints.length,
      }
      if (opts.json) printJson(summary)
      else
        line(
          `backup of ${backup.cluster.name} at index ${backup.index} (term ${backup.term}) written to ${opts.out}: ${summary.groups} groups, ${summary.resources} resources, ${summary.configKeys} config keys, ${summary.checkpoints} checkpoints; sha256 ${backup.checksum}`,
        )
    })
}

export function restoreCommand() {
  return adminCommand(
    'restore',
    "authoritative restore: the backup's groups, resources, config keys and checkpoints replace the cluster's on every node, through the log; membership stays; every group must be offline first",
  )
    .requiredOption('--from <file>', 'a file written by geocluster backup, of this cluster')
    .option('--yes', 'confirm: everything the cluster holds now that the backup lacks is lost')
    .addHelpText(
      'after',
      '\nExamples:\n  geocluster group offline web            # every group, and wait until released\n  geocluster restore --from /var/backups/geocluster-2026-12-01.json --yes',
    )
    .action(async (opts) => {
      let text: string
      try {
        text = readFileSync(opts.from, 'utf8')
      } catch (error) {
        throw new GeoclusterError('GC_ERR_CONFIG', `${opts.from}: ${(error as Error).message}`, {
          path: opts.from,
        })
      }
      // Format and checksum here; the cluster it belongs to is the node's to check.
      const check = checkBackup(text, undefined)
      if (!check.ok && check.path !== 'cluster')
        throw new GeoclusterError('GC_ERR_CONFIG', `${opts.from}: ${check.problem}`, {
          path: `${opts.from}#${check.path ?? ''}`,
        })
      if (opts.yes !== true)
        throw new GeoclusterError(
          'GC_ERR_USAGE',
          `restoring ${opts.from} replaces every group, resource and config key with the backup's: add --yes`,
        )
      const r = await clientFor(opts).post<RestoreAnswer>('/v1/restore', JSON.parse(text))
      if (opts.json) printJson(r)
      else
        line(
          `restored ${r.from.cluster.name} as of index ${r.from.index} (term ${r.from.term}) at index ${r.index}: ${r.groups} groups, ${r.resources} resources, ${r.configKeys} config keys, ${r.checkpoints} checkpoints`,
        )
    })
}
