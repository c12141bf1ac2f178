/** Small durable-file primitives: atomic replace and directory fsync. */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

/** Makes a directory's entries (created, renamed, deleted files) durable. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * Replaces `file` with `bytes` so that after a crash it holds either the old or the new
 * content, never a mix: write a temporary file, fsync it, rename over, fsync the directory.
 */
export function writeFileDurably(file: string, bytes: Uint8Array, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', mode)
  try {
    let written = 0
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, file)
  fsyncDirectory(dirname(file))
}
