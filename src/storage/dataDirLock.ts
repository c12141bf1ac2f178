/**
 * One process per data dir: an exclusive `flock` on `<data dir>/LOCK`. Only a user who can open
 * that file (0600, in a 0700 directory) can take the lock, so nobody else on the host can squat
 * it; the kernel drops it the instant its holder dies, even by SIGKILL, so there are no stale
 * locks; and it is taken in one atomic call, so two starters never both win. The descriptor is
 * close-on-exec (Node opens every file so), so the resource monitor and the resources the node
 * starts never inherit the lock. The file also holds the owner's pid and command, for the
 * refusal message.
 *
 * Node has no flock; libc's is called through koffi (a maintained FFI with prebuilt binaries).
 */
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import koffi from 'koffi'
import { GeoclusterError } from '../errors/errors.ts'

const LOCK_EX = 2
const LOCK_NB = 4
const EWOULDBLOCK = 11

type Flock = (fd: number, operation: number) => number
let flockCall: Flock | null = null

function flock(fd: number, operation: number): number {
  if (flockCall === null) {
    try {
      flockCall = koffi.load('libc.so.6').func('int flock(int fd, int operation)') as unknown as Flock
    } catch (error) {
      throw new GeoclusterError(
        'GC_ERR_UNSUPPORTED',
        `cannot lock the data dir: libc's flock is not available here (${(error as Error).message})`,
      )
    }
  }
  return flockCall(fd, operation)
}

export class DataDirLock {
  private readonly fd: number
  private released = false

  private constructor(fd: number) {
    this.fd = fd
  }

  static async acquire(dataDir: string, command: string): Promise<DataDirLock> {
    const file = join(dataDir, 'LOCK')
    const fd = openSync(file, 'a+', 0o600)
    if (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const errno = koffi.errno()
      closeSync(fd)
      if (errno !== EWOULDBLOCK)
        throw new GeoclusterError('GC_ERR_FAILED', `cannot lock ${file}: flock failed with errno ${errno}`)
      throw new GeoclusterError(
        'GC_ERR_DATA_DIR_LOCKED',
        `data dir ${dataDir} is in use by ${describeOwner(file)}; stop that process first or choose another --data-dir`,
      )
    }
    // Ours now: say who holds it (no fsync needed: the lock, not the text, is what counts).
    ftruncateSync(fd, 0)
    const info = Buffer.from(
      `${JSON.stringify({ pid: process.pid, command, since: new Date().toISOString() })}\n`,
    )
    writeSync(fd, info, 0, info.length, 0)
    return new DataDirLock(fd)
  }

  release(): void {
    if (this.released) return
    this.released = true
    try {
      ftruncateSync(this.fd, 0)
    } catch {
      // Nothing to tidy.
    }
    // Closing the only descriptor of the open file releases the lock. The file stays: removing
    // a lock file lets a later starter lock a new file while another holds the old one.
    closeSync(this.fd)
  }
}

function describeOwner(file: string): string {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as {
      pid?: unknown
      command?: unknown
      since?: unknown
    }
    return `pid ${String(owner.pid)} (${String(owner.command)}, since ${String(owner.since)})`
  } catch {
    return 'another process'
  }
}
