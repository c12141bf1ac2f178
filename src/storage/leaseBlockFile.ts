/**
 * The lease block on shared storage: 512 bytes at offset 0 of the quorum file (or device),
 * written with O_DSYNC so a completed write is on the medium, not in this host's page cache.
 * Reads check the record's checksum (leaseRecord.ts). A missing file is created blank, which
 * the protocol treats as held by someone unknown: the first holder still waits in full.
 */
import { closeSync, constants, existsSync, openSync, statSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { GeoclusterError } from '../errors/errors.ts'
import {
  type DecodedLease,
  decodeLeaseRecord,
  encodeLeaseRecord,
  type LeaseRecord,
  leaseBlockBytes,
} from '../quorum/disk/leaseRecord.ts'

export class LeaseBlockFile {
  readonly path: string
  private readonly handle: FileHandle

  private constructor(path: string, handle: FileHandle) {
    this.path = path
    this.handle = handle
  }

  static async open(path: string): Promise<LeaseBlockFile> {
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
      return new LeaseBlockFile(path, handle)
    } catch (error) {
      if (error instanceof GeoclusterError) throw error
      throw cannotUse(path, error)
    }
  }

  async read(): Promise<DecodedLease> {
    const buf = new Uint8Array(leaseBlockBytes)
    const { bytesRead } = await this.handle.read(buf, 0, leaseBlockBytes, 0)
    // A fresh file is shorter than a block: what is missing reads as zeros (blank).
    return decodeLeaseRecord(bytesRead < leaseBlockBytes ? buf.fill(0, bytesRead) : buf)
  }

  async write(record: LeaseRecord): Promise<void> {
    const bytes = encodeLeaseRecord(record)
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
