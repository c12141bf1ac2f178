/**
 * The node's side of the Checkpoint Manager (seed 000): reads a resource's checkpoint files to
 * save them with the cluster, and writes them back before the resource starts on a node that
 * did not save them. Files are replaced atomically (a crash leaves the old or the new content).
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import type { CheckpointFile, CheckpointRecord } from '../database/entities.ts'
import { checkpointBytesMax } from '../database/resourceTypes.ts'
import { writeFileDurably } from '../storage/durableFile.ts'

export type ReadCheckpoint =
  | { ok: true; files: CheckpointFile[]; bytes: number; hash: string }
  | { ok: false; problem: string }

export function readCheckpoint(paths: readonly string[]): ReadCheckpoint {
  const files: CheckpointFile[] = []
  const hash = createHash('sha256')
  let bytes = 0
  for (const path of paths) {
    if (!existsSync(path)) {
      files.push({ path, data: null })
      hash.update(`${path}\0-\0`)
      continue
    }
    let size: number
    let mode: number
    try {
      const st = statSync(path)
      size = st.size
      mode = st.mode & 0o777
    } catch (error) {
      return {
        ok: false,
        problem: `${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      }
    }
    // Refuse before reading a huge file into memory.
    if (bytes + size > checkpointBytesMax)
      return {
        ok: false,
        problem: `${path} brings the checkpoint to ${bytes + size} bytes; all checkpoint files of a resource may hold at most ${checkpointBytesMax}`,
      }
    let data: Buffer
    try {
      data = readFileSync(path)
    } catch (error) {
      return {
        ok: false,
        problem: `${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      }
    }
    bytes += data.length
    files.push({ path, data: data.toString('base64'), mode })
    hash.update(`${path}\0${mode}\0`).update(data).update('\0')
  }
  return { ok: true, files, bytes, hash: hash.digest('hex') }
}

/** Does this node need the saved files written back before the resource starts? */
export function needsRestore(record: CheckpointRecord, self: string): boolean {
  if (record.node !== self) return true
  return record.files.some((f) => (f.data === null ? false : !existsSync(f.path)))
}

/** Writes the saved files back (a file saved as absent is removed); null, or why it failed. */
export function restoreCheckpoint(record: CheckpointRecord): string | null {
  for (const f of record.files) {
    try {
      if (f.data === null) {
        rmSync(f.path, { force: true })
        continue
      }
      mkdirSync(dirname(f.path), { recursive: true })
      // With the mode it was saved with (files from before modes were kept: 0644).
      writeFileDurably(f.path, Buffer.from(f.data, 'base64'), f.mode ?? 0o644)
    } catch (error) {
      return `${f.path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`
    }
  }
  return null
}
