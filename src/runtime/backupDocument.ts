/**
 * A backup file of the cluster database: the configuration the database gives
 * (database/clusterBackup.ts) with where it comes from — cluster, index, term, when, which
 * release — and a SHA-256 of its content, checked wherever a backup enters (the CLI before
 * sending, the API before proposing): not a backup, damaged, or another cluster's.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { backupContent, clusterIdOf, foreignProblem } from '../database/clusterBackup.ts'
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import {
  backupSourceSchema,
  type Command,
  type RestoreContent,
  restoreContentSchema,
} from '../database/commands.ts'
import type { ClusterRecord } from '../database/entities.ts'

export const backupFormat = 'geocluster.backup/1'

export const backupSchema = z.strictObject({
  format: z.literal(backupFormat),
  ...backupSourceSchema.shape,
  /** When and where it was taken (wall clock ms, node name) and by which release. */
  takenAt: z.number().int().min(0),
  takenBy: z.string().max(128),
  version: z.string().max(64),
  content: restoreContentSchema,
})
export type BackupDocument = z.infer<typeof backupSchema>

/** JSON with keys sorted at every level: the same bytes for the same content, whatever order it was built or parsed in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export function contentChecksum(content: RestoreContent): string {
  return createHash('sha256').update(canonicalJson(content)).digest('hex')
}

/** A backup of `db` as it is at its applied index (read it at a linearizable point). */
export function takeBackup(
  db: ClusterDatabase,
  at: { term: number; takenAt: number; takenBy: string; version: string },
): BackupDocument {
  const cluster = db.cluster()
  if (cluster === undefined) throw new Error('the cluster is not bootstrapped: there is nothing to back up')
  const content = backupContent(db)
  return {
    format: backupFormat,
    cluster: { name: cluster.name, id: clusterIdOf(cluster) },
    index: db.appliedIndex,
    term: at.term,
    checksum: contentChecksum(content),
    highestToken: db.highestToken(),
    takenAt: at.takenAt,
    takenBy: at.takenBy,
    version: at.version,
    content,
  }
}

export type BackupCheck = { ok: true; backup: BackupDocument } | { ok: false; problem: string; path?: string }

/**
 * Reads a backup file's text for a restore into `cluster`: refused with the reason when it is
 * not a backup, is damaged (its content does not match its checksum) or is another cluster's.
 */
export function checkBackup(text: string, cluster: ClusterRecord | undefined): BackupCheck {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return { ok: false, problem: `not a backup: not JSON (${(error as Error).message})` }
  }
  return checkBackupValue(json, cluster)
}

/** `checkBackup` for a document already parsed from JSON (an API body). */
export function checkBackupValue(json: unknown, cluster: ClusterRecord | undefined): BackupCheck {
  const format = (json as { format?: unknown } | null)?.format
  if (format !== backupFormat)
    return {
      ok: false,
      problem: `not a backup of this release: format ${JSON.stringify(format ?? null)}, expected ${backupFormat}`,
      path: 'format',
    }
  const parsed = backupSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const path = issue.path.join('.')
    return { ok: false, problem: `damaged backup: ${path}: ${issue.message}`, path }
  }
  const backup = parsed.data
  const sum = contentChecksum(backup.content)
  if (sum !== backup.checksum)
    return {
      ok: false,
      problem: `damaged backup: its content's SHA-256 is ${sum}, the backup says ${backup.checksum}`,
      path: 'checksum',
    }
  const problem = foreignProblem(backup.cluster, cluster)
  return problem === null ? { ok: true, backup } : { ok: false, problem, path: 'cluster' }
}

/** The restore command for a checked backup. */
export function restoreCommand(backup: BackupDocument): Command {
  const { cluster, index, term, checksum, highestToken, content } = backup
  return { op: 'cluster.restore', source: { cluster, index, term, checksum, highestToken }, content }
}
