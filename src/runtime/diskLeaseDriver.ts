/**
 * Runs the quorum disk's challenge/defense core (src/quorum/disk/diskLease.ts) against the lease
 * block: the time comes from the monotonic clock, one I/O at a time, and every decision is
 * handed to `onEvent` for logs and cluster events. The core judges I/O that takes too long; a
 * hung I/O simply never completes, and the holder's lease runs out meanwhile. The block file
 * moves bytes; the lease record's layout is the quorum core's (leaseRecord.ts), read and written
 * here.
 */
import { DiskLease, type DiskLeaseEvent, type DiskLeaseStatus } from '../quorum/disk/diskLease.ts'
import type { DiskLeaseTiming } from '../quorum/disk/diskLeaseTiming.ts'
import {
  type DecodedLease,
  decodeLeaseRecord,
  encodeLeaseRecord,
  type LeaseRecord,
  leaseBlockBytes,
} from '../quorum/disk/leaseRecord.ts'
import { LeaseBlockFile } from '../storage/leaseBlockFile.ts'

export interface DiskLeaseDriverOptions {
  self: string
  file: LeaseBlockFile
  timing: DiskLeaseTiming
  monotonic: () => number
  onEvent: (e: DiskLeaseEvent) => void
  /** How often to look at the timers (default 20 ms). */
  pollMs?: number
}

export class DiskLeaseDriver {
  private readonly o: DiskLeaseDriverOptions
  private readonly core: DiskLease
  private timer: NodeJS.Timeout | null = null
  private busy = false
  private closed = false

  constructor(options: DiskLeaseDriverOptions) {
    this.o = options
    this.core = new DiskLease(
      {
        self: options.self,
        // Random per process: a restarted node is a different writer from its earlier self.
        incarnation: Math.floor(Math.random() * Number.MAX_SAFE_INTEGER),
        timing: options.timing,
        random: Math.random,
      },
      options.monotonic(),
    )
  }

  /**
   * Opens the lease block at `path` and joins the contest, its ballots above `highestBallot` (the
   * highest its log has seen claimed).
   */
  static async open(
    options: Omit<DiskLeaseDriverOptions, 'file'> & { path: string; highestBallot: number },
  ): Promise<DiskLeaseDriver> {
    const { path, highestBallot, ...rest } = options
    const driver = new DiskLeaseDriver({ ...rest, file: await LeaseBlockFile.open(path, leaseBlockBytes) })
    driver.noteBallot(highestBallot)
    driver.start()
    return driver
  }

  start(): void {
    this.timer = setInterval(() => this.step(), this.o.pollMs ?? 20)
    this.step()
  }

  holds(): boolean {
    return this.core.holds(this.o.monotonic())
  }

  status(): DiskLeaseStatus {
    return this.core.status()
  }

  /** See DiskLease.noteBallot / raiseBallot. */
  noteBallot(ballot: number): void {
    this.core.noteBallot(ballot)
  }

  /** See DiskLease.suspect. */
  suspect(writer: string | null): void {
    this.core.suspect(writer)
  }

  raiseBallot(claimed: number): void {
    this.core.raiseBallot(claimed)
    this.drainEvents()
  }

  /** Stops; a holder first writes `released` (bounded by twice the I/O timeout) when asked to. */
  async stop(opts: { release: boolean }): Promise<void> {
    if (opts.release && this.core.status().role === 'holder') {
      this.core.release()
      const deadline = this.o.monotonic() + 2 * this.o.timing.ioTimeoutMs
      while (this.core.status().role === 'releasing' && this.o.monotonic() < deadline) {
        this.step()
        await new Promise((r) => setTimeout(r, 5))
      }
    } else this.core.release()
    this.closed = true
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    // An I/O still in flight finishes into a closed driver; closing the handle waits for nothing.
    await this.o.file.close().catch(() => {})
  }

  private step(): void {
    if (this.closed || this.busy) return
    const now = this.o.monotonic()
    this.core.tick(now)
    const io = this.core.nextIo(now)
    this.drainEvents()
    if (io === null) return
    this.busy = true
    const done =
      io.kind === 'read'
        ? this.readRecord().then((read) => ({ ok: true as const, read }))
        : this.writeRecord(io.record).then(() => ({ ok: true as const }))
    void done
      .catch((error: unknown) => ({ ok: false as const, error: (error as Error).message }))
      .then((result) => {
        this.busy = false
        if (this.closed) return
        this.core.done(this.o.monotonic(), result)
        this.drainEvents()
        // The next I/O (a renewal's write after its read) starts at once.
        this.step()
      })
  }

  private async readRecord(): Promise<DecodedLease> {
    return decodeLeaseRecord(await this.o.file.read())
  }

  /** Async, so that a record that cannot be encoded fails this I/O rather than the step. */
  private async writeRecord(record: LeaseRecord): Promise<void> {
    await this.o.file.write(encodeLeaseRecord(record))
  }

  private drainEvents(): void {
    for (const e of this.core.takeEvents()) this.o.onEvent(e)
  }
}
