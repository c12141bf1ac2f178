/**
 * One process per data dir. The lock is a Linux abstract Unix socket named after the data
 * dir's device and inode: binding it is atomic, and the kernel frees it the instant its owner
 * dies, even by SIGKILL, so there are no stale locks and no races between two starters. A LOCK
 * file beside the data holds the owner's pid and command, for the refusal message.
 */
import { createHash } from 'node:crypto'
import { readFileSync, statSync, unlinkSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { GeoclusterError } from '../errors/errors.ts'
import { writeFileDurably } from './durableFile.ts'

export class DataDirLock {
  private readonly server: Server
  private readonly infoFile: string
  private released = false

  private constructor(server: Server, infoFile: string) {
    this.server = server
    this.infoFile = infoFile
  }

  static async acquire(dataDir: string, command: string): Promise<DataDirLock> {
    const st = statSync(dataDir)
    const id = createHash('sha256').update(`${st.dev}:${st.ino}`).digest('hex').slice(0, 32)
    const server = createServer()
    const infoFile = join(dataDir, 'LOCK')
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EADDRINUSE') return reject(error)
        reject(
          new GeoclusterError(
            'GC_ERR_DATA_DIR_LOCKED',
            `data dir ${dataDir} is in use by ${describeOwner(infoFile)}; stop that process first or choose another --data-dir`,
          ),
        )
      })
      server.listen({ path: `\0geocluster-datadir-${id}`, exclusive: true }, resolve)
    })
    server.unref()
    writeFileDurably(
      infoFile,
      Buffer.from(`${JSON.stringify({ pid: process.pid, command, since: new Date().toISOString() })}\n`),
    )
    return new DataDirLock(server, infoFile)
  }

  release(): void {
    if (this.released) return
    this.released = true
    try {
      unlinkSync(this.infoFile)
    } catch {
      // Already gone: nothing to tidy.
    }
    this.server.close()
  }
}

function describeOwner(infoFile: string): string {
  try {
    const owner = JSON.parse(readFileSync(infoFile, 'utf8')) as {
      pid?: unknown
      command?: unknown
      since?: unknown
    }
    return `pid ${String(owner.pid)} (${String(owner.command)}, since ${String(owner.since)})`
  } catch {
    return 'another process'
  }
}
