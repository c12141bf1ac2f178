/** Small durable-file primitives: atomic replace and directory fsync. */
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { open } from 'node:fs/promises'
import { dirname, join } from 'node:path'

const temporaryPattern = /\.tmp-\d+$/

/** Makes a directory's entries (created, renamed, deleted files) durable. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** `fsyncDirectory` on libuv's threads, off the event loop. */
export async function fsyncDirectoryAsync(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replaces `file` with `bytes` (and permission bits `mode`) so that after a crash it holds
 * either the old or the new content, never a mix: write a temporary file, fsync it, rename
 * over, fsync the directory.
 */
export function writeFileDurably(file: string, bytes: Uint8Array, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', mode)
  try {
    try {
      // Exactly `mode`, whatever the process umask.
      fchmodSync(fd, mode)
      let written = 0
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, file)
  } catch (error) {
    // A failed write (disk full, say) leaves nothing behind.
    try {
      unlinkSync(tmp)
    } catch {
      // already gone
    }
    throw error
  }
  fsyncDirectory(dirname(file))
}

/**
 * Removes what interrupted durable writes left in `dir` (`<name>.tmp-<pid>`, from a process
 * killed mid-write); returns the files removed. Run at start, when no writer of ours is active.
 */
export function removeLeftoverTemporaries(dir: string): string[] {
  const removed: string[] = []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return removed
  }
  for (const name of names) {
    if (!temporaryPattern.test(name)) continue
    try {
      unlinkSync(join(dir, name))
      removed.push(join(dir, name))
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed
}
