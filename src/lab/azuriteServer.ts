/**
 * Azurite (Microsoft's Azure Storage emulator, the npm package `azurite`), its blob service
 * only, as a child process on a loopback port: the cloud witness's storage for the lab, the
 * tests and the benchmark. Present only where the package is installed (a devDependency);
 * `available()` says so. Its well-known development account and key are public (Azurite's
 * documentation): fine for a laptop, never for a real account.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { GeoclusterError } from '../errors/errors.ts'

export const azuriteAccount = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
}

export interface AzuriteStart {
  /** Keep blobs in this directory (they outlive a restart); absent: in memory. */
  dataDir?: string
  /** A fixed port (a restart on the same endpoint); absent: a free one. */
  port?: number
  /** How long it may take to listen (ms). */
  startTimeoutMs?: number
}

/** Writes the development account's credentials file (mode 0600) for a cloud witness. */
export function writeAzuriteCredentials(file: string): void {
  writeFileSync(file, `accountName: ${azuriteAccount.name}\naccountKey: ${azuriteAccount.key}\n`, {
    mode: 0o600,
  })
}

export class AzuriteServer {
  readonly port: number
  /** Path-style blob endpoint of the development account. */
  readonly endpoint: string
  private readonly proc: ChildProcess
  private readonly exited: Promise<void>

  private constructor(port: number, proc: ChildProcess, exited: Promise<void>) {
    this.port = port
    this.endpoint = `http://127.0.0.1:${port}/${azuriteAccount.name}`
    this.proc = proc
    this.exited = exited
  }

  /** Where Azurite's blob service is installed, or null when the package is not. */
  static available(): string | null {
    try {
      return createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js')
    } catch {
      return null
    }
  }

  static async start(o: AzuriteStart = {}): Promise<AzuriteServer> {
    const main = AzuriteServer.available()
    if (main === null)
      throw new GeoclusterError(
        'GC_ERR_UNSUPPORTED',
        'Azurite is not installed (npm install --save-dev azurite): the cloud witness lab needs it',
      )
    const args = [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(o.port ?? 0),
      '--loose',
      '--skipApiVersionCheck',
      '--disableTelemetry',
    ]
    if (o.dataDir === undefined) args.push('--inMemoryPersistence')
    else {
      mkdirSync(o.dataDir, { recursive: true, mode: 0o700 })
      args.push('--location', o.dataDir)
    }
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
    let output = ''
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL')
        reject(new Error(`Azurite did not listen within ${o.startTimeoutMs ?? 20_000} ms:\n${output}`))
      }, o.startTimeoutMs ?? 20_000)
      const onData = (d: Buffer) => {
        output += d.toString()
        const m = /successfully listens on https?:\/\/[^:\s]+:(\d+)/.exec(output)
        if (m !== null) {
          clearTimeout(timer)
          resolve(Number(m[1]))
        }
      }
      proc.stdout!.on('data', onData)
      proc.stderr!.on('data', onData)
      proc.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`Azurite exited (${signal ?? `code ${code}`}) before listening:\n${output}`))
      })
    })
    // Keep draining its output so it never blocks on a full pipe.
    proc.stdout!.resume()
    proc.stderr!.resume()
    return new AzuriteServer(port, proc, exited)
  }

  get pid(): number | undefined {
    return this.proc.pid
  }

  /** Stops it (SIGTERM, SIGKILL after 5 s) and waits until the process is gone. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000)
    await this.exited
    clearTimeout(timer)
  }
}
