/**
 * The lease block on shared storage: one block (a sector) at offset 0 of the quorum file (or
 * device), written whole with O_DSYNC so a completed write is on the medium, not in this host's
 * page cache. It holds bytes: what they mean, and their checksum, is the quorum core's lease
 * record (quorum/disk/leaseRecord.ts), which the runtime encodes and decodes. A missing file is
 * created blank, which the protocol treats as held by someone unknown: the first holder still
 * waits in full.
 */
import { closeSync, constants, existsSync, openSync, statSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { assert } from '../errors/assert.ts'
import { GeoclusterError } from '../errors/errors.ts'

export class LeaseBlockFile {
  readonly path: string
  /** The block's size: every read returns, and every write must bring, exactly this many bytes. */
  readonly blockBytes: number
  private readonly handle: FileHandle

  private constructor(path: string, blockBytes: number, handle: FileHandle) {
    this.path = path
    this.blockBytes = blockBytes
    this.handle = handle
  }

  static async open(path: string, blockBytes: number): Promise<LeaseBlockFile> {
    try {
      if (!existsSync(path))
        closeSync(openSync(path, constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL, 0o600))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotUse(path, error)
    }
    try {
      const st = statSync(path)
      if (!st.isFile() && !st.isBlockDevice())
        throw new GeoclusterError('GC_ERR_CONFIG', `quorum disk ${path}: not a file or block device`, {
          path: 'quorum.disk.path',
        })
      const handle = await open(path, constants.O_RDWR | constants.O_DSYNC)
      return new LeaseBlockFile(path, blockBytes, handle)
    } catch (error) {
      if (error instanceof GeoclusterError) throw error
      throw cannotUse(path, error)
    }
  }

  async read(): Promise<Uint8Array> {
    const buf = new Uint8Array(this.blockBytes)
    const { bytesRead } = await this.handle.read(buf, 0, this.blockBytes, 0)
    // A fresh file is shorter than a block: what is missing reads as zeros (blank).
    return bytesRead < this.blockBytes ? buf.fill(0, bytesRead) : buf
  }

  async write(bytes: Uint8Array): Promise<void> {
    assert(
      bytes.length === this.blockBytes,
      () => `a lease block is ${this.blockBytes} bytes, not ${bytes.length}`,
    )
    const { bytesWritten } = await this.handle.write(bytes, 0, bytes.length, 0)
    if (bytesWritten !== bytes.length)
      throw new Error(`short write (${bytesWritten} of ${bytes.length} bytes)`)
  }

  async close(): Promise<void> {
    await this.handle.close()
  }
}

function cannotUse(path: string, error: unknown): GeoclusterError {
  return new GeoclusterError('GC_ERR_CONFIG', `quorum disk ${path}: ${(error as Error).message}`, {
    path: 'quorum.disk.path',
  })
}
