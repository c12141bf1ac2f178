/**
 * Backup and authoritative restore of the cluster database (clusterBackup.ts): a backup is read
 * at a linearizable point through any node; a restore is checked where it enters (not a backup,
 * damaged, another cluster's) and then goes through the log as one command.
 */
import type { Hono } from 'hono'
import { z } from 'zod'
import { GeoclusterError } from '../../errors/errors.ts'
import { checkBackupValue, restoreCommand, takeBackup } from '../../runtime/backupDocument.ts'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody } from '../requestContext.ts'

export function backupRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/backup', async (c) => {
    const term = node.status().cluster.term
    const backup = await node.read(
      (db) => {
        if (db.cluster() === undefined)
          throw new GeoclusterError(
            'GC_ERR_CONFLICT',
            'the cluster is not bootstrapped yet: there is nothing to back up',
          )
        return takeBackup(db, {
          term,
          takenAt: Date.now(),
          takenBy: node.name,
          version: node.version ?? 'unknown',
        })
      },
      { bulk: true },
    )
    return c.json(backup)
  })
  app.post('/v1/restore', async (c) => {
    const body = await parseBody(c, z.unknown())
    const check = checkBackupValue(
      body,
      node.readLocal((db) => db.cluster()),
    )
    if (!check.ok)
      throw new GeoclusterError('GC_ERR_BAD_REQUEST', check.problem, {
        path: `body.${check.path ?? 'format'}`,
      })
    const { backup } = check
    const index = accepted(await node.propose(restoreCommand(backup), 'admin'))
    return c.json({
      restored: true,
      index,
      from: { cluster: backup.cluster, index: backup.index, term: backup.term, takenAt: backup.takenAt },
      groups: backup.content.groups.length,
      resources: backup.content.resources.length,
      configKeys: backup.content.config.length,
      checkpoints: backup.content.checkpoints.length,
    })
  })
}
