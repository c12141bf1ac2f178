/**
 * A resource's stdout/stderr, appended to `<data-dir>/resources/<name>.log` and rotated to
 * `.log.1` past a size limit, so a chatty application cannot fill the disk.
 */
import { closeSync, fstatSync, openSync, renameSync, writeSync } from 'node:fs'

export const resourceLogBytesMax = 10 * 1024 * 1024

export class RotatingLog {
  private readonly file: string
  private readonly bytesMax: number
  private fd: number
  private size: number

  constructor(file: string, bytesMax = resourceLogBytesMax) {
    this.file = file
    this.bytesMax = bytesMax
    this.fd = openSync(file, 'a', 0o640)
    this.size = fstatSync(this.fd).size
  }

  write(chunk: Uint8Array): void {
    if (this.size + chunk.length > this.bytesMax) this.rotate()
    writeSync(this.fd, chunk)
    this.size += chunk.length
  }

  line(text: string): void {
    this.write(Buffer.from(`${new Date().toISOString()} [geocluster] ${text}\n`))
  }

  close(): void {
    closeSync(this.fd)
  }

  private rotate(): void {
    closeSync(this.fd)
    renameSync(this.file, `${this.file}.1`)
    this.fd = openSync(this.file, 'a', 0o640)
    this.size = 0
  }
}
