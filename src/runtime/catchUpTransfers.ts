/**
 * Snapshots streamed to members catching up, and received from the leader, each on a catch-up
 * stream of its own (snapshotTransfer.ts frames them): at most one per member in each direction,
 * with progress in logs and status.
 */
import type { Logger } from '../events/logger.ts'
import type { CatchUpSink, Mesh } from '../mesh/mesh.ts'
import {
  catchUpLimits,
  SnapshotAssembly,
  type SnapshotMessage,
  snapshotFrames,
} from '../mesh/snapshotTransfer.ts'

/** A snapshot on its way to or from a member, for logs and status. */
export interface CatchUpTransfer {
  peer: string
  direction: 'sending' | 'receiving'
  snapshotIndex: number
  bytes: number
  totalBytes: number
  elapsedMs: number
}

interface Transfer extends Omit<CatchUpTransfer, 'elapsedMs'> {
  term: number
  startedAt: number
  loggedAt: number
}

/** Progress lines at most this often per transfer, plus one at the start and one at the end. */
const progressLogMs = 2_000

export interface CatchUpTransfersParts {
  mesh: Pick<Mesh, 'stream'>
  logger: Logger
  monotonic: () => number
  /** A frame came from `from`: it is alive. */
  heard: (from: string) => void
  /** A whole snapshot from `from`, for the core; false refuses it. */
  deliver: (from: string, m: SnapshotMessage) => boolean
  /** A transfer was refused (counted with the mesh's refused frames). */
  refused: () => void
}

export class CatchUpTransfers {
  private readonly o: CatchUpTransfersParts
  private readonly outbound = new Map<string, Transfer & { abort: AbortController }>()
  private readonly inbound = new Map<string, Transfer>()

  constructor(parts: CatchUpTransfersParts) {
    this.o = parts
  }

  /** Snapshots under way in either direction. */
  list(): CatchUpTransfer[] {
    const now = this.o.monotonic()
    return [...this.outbound.values(), ...this.inbound.values()].map((t) => ({
      peer: t.peer,
      direction: t.direction,
      snapshotIndex: t.snapshotIndex,
      bytes: t.bytes,
      totalBytes: t.totalBytes,
      elapsedMs: Math.round(now - t.startedAt),
    }))
  }

  /** Aborts every snapshot being sent. */
  stop(): void {
    for (const t of this.outbound.values()) t.abort.abort(new Error('stopping'))
  }

  /**
   * Streams a snapshot to a member on its own catch-up stream. The consensus core offers the
   * same snapshot again when it hears nothing back for an election timeout; while that one is
   * still on its way the repeat is not needed (a large snapshot over a WAN takes longer).
   */
  send(m: SnapshotMessage): void {
    const current = this.outbound.get(m.to)
    if (current !== undefined && current.snapshotIndex === m.meta.index && current.term === m.term) return
    current?.abort.abort(new Error('a newer snapshot replaces it'))
    if (m.data.length > catchUpLimits.snapshotBytesMax) {
      // The database's quotas keep snapshots well below this; should one still be larger, the
      // member is not sent what it would refuse, and the leader goes on.
      this.o.logger.error(
        { peer: m.to, bytes: m.data.length, limit: catchUpLimits.snapshotBytesMax },
        'snapshot too large to send; the member cannot catch up until it is smaller',
      )
      return
    }
    const { totalBytes, frames } = snapshotFrames(m)
    const now = this.o.monotonic()
    const t = {
      peer: m.to,
      direction: 'sending' as const,
      snapshotIndex: m.meta.index,
      term: m.term,
      bytes: 0,
      totalBytes,
      startedAt: now,
      loggedAt: now,
      abort: new AbortController(),
    }
    this.outbound.set(m.to, t)
    const log = this.o.logger
    log.info({ peer: t.peer, snapshotIndex: t.snapshotIndex, totalBytes }, 'catch-up: sending a snapshot')
    this.o.mesh
      .stream(m.to, frames, t.abort.signal, (n) => {
        t.bytes = Math.min(totalBytes, t.bytes + n)
        this.logProgress(t)
      })
      .then(() => {
        t.bytes = totalBytes
        log.info(this.progressFields(t), 'catch-up: snapshot sent')
      })
      .catch((error: Error) => {
        log.warn(
          { ...this.progressFields(t), err: error.message },
          'catch-up: snapshot transfer failed; consensus offers it again',
        )
      })
      .finally(() => {
        if (this.outbound.get(m.to) === t) this.outbound.delete(m.to)
      })
  }

  /** The receiving end of one catch-up stream from `from`. */
  receive(from: string): CatchUpSink {
    const assembly = new SnapshotAssembly(from)
    const now = this.o.monotonic()
    const t: Transfer = {
      peer: from,
      direction: 'receiving',
      snapshotIndex: 0,
      bytes: 0,
      totalBytes: 0,
      term: 0,
      startedAt: now,
      loggedAt: now,
    }
    const log = this.o.logger
    let offered = false
    return {
      frame: (frame) => {
        // A newer transfer from the same member supersedes this one (one at a time per member).
        if (offered && this.inbound.get(from) !== t) return 'refused'
        this.o.heard(from)
        const step = assembly.take(frame)
        switch (step.kind) {
          case 'offer':
            offered = true
            t.snapshotIndex = step.snapshotIndex
            t.totalBytes = step.totalBytes
            this.inbound.set(from, t)
            log.info(
              { peer: from, snapshotIndex: t.snapshotIndex, totalBytes: t.totalBytes },
              'catch-up: receiving a snapshot',
            )
            return 'more'
          case 'progress':
            t.bytes = step.bytes
            this.logProgress(t)
            return 'more'
          case 'done': {
            t.bytes = t.totalBytes
            if (this.inbound.get(from) === t) this.inbound.delete(from)
            log.info(this.progressFields(t), 'catch-up: snapshot received')
            return this.o.deliver(from, step.message) ? 'done' : 'refused'
          }
          case 'refused':
            this.o.refused()
            if (this.inbound.get(from) === t) this.inbound.delete(from)
            log.warn(
              { peer: from, reason: step.reason },
              'catch-up: refused a snapshot transfer; closing the stream',
            )
            return 'refused'
        }
      },
      closed: () => {
        if (this.inbound.get(from) !== t) return
        this.inbound.delete(from)
        log.warn(this.progressFields(t), 'catch-up: the stream closed before the snapshot was complete')
      },
    }
  }

  private progressFields(t: Transfer) {
    const ms = Math.max(1, this.o.monotonic() - t.startedAt)
    return {
      peer: t.peer,
      snapshotIndex: t.snapshotIndex,
      bytes: t.bytes,
      totalBytes: t.totalBytes,
      ms: Math.round(ms),
      mbPerS: Math.round((t.bytes / 1e6 / (ms / 1000)) * 10) / 10,
    }
  }

  private logProgress(t: Transfer): void {
    const now = this.o.monotonic()
    if (now - t.loggedAt < progressLogMs) return
    t.loggedAt = now
    const percent = t.totalBytes === 0 ? 100 : Math.floor((100 * t.bytes) / t.totalBytes)
    this.o.logger.info({ ...this.progressFields(t), percent }, `catch-up: ${t.direction} a snapshot`)
  }
}
