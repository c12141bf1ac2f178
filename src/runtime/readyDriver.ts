/**
 * The one Ready loop (etcd-io/raft's): take a Ready batch from a consensus core and work it off
 * in this order — wipe local state if the core gave its history up; install a snapshot; apply
 * what is committed; persist the hard state and new entries (fsync when the Ready says so); only
 * then send its messages (nothing leaves before the disk has it); hand out read states and the
 * soft state; advance. The node, the witness process, the file-share witness and the disk quorum
 * all run it; what persists, what sends and what applies are injected, so a simulator can run
 * it too. One cycle at a time; a cycle asked for while one runs follows it.
 */
import type { ReadState, Ready, SoftState } from '../consensus/types.ts'
import type { Transport } from './transport.ts'

/** What the driver needs of a consensus core (RaftCore, WitnessCore and DiskCore have it). */
export interface ReadyCore {
  hasReady(): boolean
  ready(): Ready
  advance(rd: Ready): void
}

/** The state machine's side of a Ready, each step optional (a witness applies nothing). */
export interface ReadyMachine {
  /** The core gave its history up (forced quorum): wipe what is kept to match. */
  reset?(rd: Ready): void
  installSnapshot?(snapshot: NonNullable<Ready['snapshot']>): void
  /** Applies `rd.committedEntries` in order. */
  apply?(rd: Ready): void
  readState?(r: ReadState): void
  softState?(s: SoftState): void
}

export interface ReadyDriverParts {
  core: ReadyCore
  /**
   * Makes the Ready's hard state and entries durable (fsync when `rd.mustSync`); false when they
   * could not be: nothing of this Ready is sent and the loop stops until it is asked again.
   */
  persist: (rd: Ready) => boolean | Promise<boolean>
  transport: Pick<Transport, 'send'>
  machine?: ReadyMachine
  /** After each advance (snapshots, waiters that need the advanced core). */
  advanced?: () => void
  /** Anything thrown: the caller cannot vouch for its state any more. */
  crash: (error: Error) => void
  /**
   * Waits before a drain so that work arriving in the same turn shares one fsync (group
   * commit); the event loop's next turn unless a simulator says otherwise.
   */
  turn?: () => Promise<void>
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r))

export class ReadyDriver {
  private readonly p: ReadyDriverParts
  private running: Promise<void> | null = null
  private again = false
  private closed = false

  constructor(parts: ReadyDriverParts) {
    this.p = parts
  }

  /** Asks for a drain: now, or right after the one under way. */
  schedule(): void {
    if (this.closed) return
    if (this.running !== null) {
      this.again = true
      return
    }
    this.running = this.drain().finally(() => {
      this.running = null
      if (this.again) {
        this.again = false
        this.schedule()
      }
    })
  }

  /** True while a drain is under way or asked for. */
  get busy(): boolean {
    return this.running !== null
  }

  /** No more drains; waits for the one under way (its fsync) to finish. */
  async close(): Promise<void> {
    this.closed = true
    while (this.running !== null) await this.running
  }

  private async drain(): Promise<void> {
    await (this.p.turn ?? nextTurn)()
    const { core, machine: m } = this.p
    try {
      while (core.hasReady()) {
        const rd = core.ready()
        if (rd.reset) m?.reset?.(rd)
        if (rd.snapshot !== null) m?.installSnapshot?.(rd.snapshot)
        m?.apply?.(rd)
        if (!(await this.p.persist(rd))) break
        // Persist before reply: nothing leaves before the disk has it.
        for (const msg of rd.messages) this.p.transport.send(msg)
        if (m?.readState !== undefined) for (const r of rd.readStates) m.readState(r)
        if (rd.softState !== null) m?.softState?.(rd.softState)
        core.advance(rd)
        this.p.advanced?.()
      }
    } catch (error) {
      this.p.crash(error as Error)
    }
  }
}
