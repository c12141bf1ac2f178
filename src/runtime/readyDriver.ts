/**
 * The one Ready loop (etcd-io/raft's): take a Ready batch from a consensus core and work it off
 * in this order — wipe local state if the core gave its history up; install a snapshot; apply
 * what is committed; persist the hard state and new entries (fsync when the Ready says so); only
 * then send its messages (nothing leaves before the disk has it, except a leader's replication,
 * which the core marks as `sendableBeforePersist` and which goes first); hand out read states and
 * the soft state; advance. The node, the witness process, the file-share witness and the disk quorum
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
    const { core } = this.p
    try {
      while (core.hasReady()) {
        const rd = core.ready()
        beforePersist(rd, this.p)
        if (!(await this.p.persist(rd))) break
        afterPersist(rd, this.p)
      }
    } catch (error) {
      this.p.crash(error as Error)
    }
  }
}

/**
 * The cycle's first half: send the replication that need not wait for the disk (the Ready's
 * first `sendableBeforePersist` messages: a leader's appends go out while it writes them
 * itself), then wipe if the history was given up, install a snapshot, apply.
 */
export function beforePersist(rd: Ready, p: Pick<ReadyDriverParts, 'transport' | 'machine'>): void {
  for (let i = 0; i < (rd.sendableBeforePersist ?? 0); i++) p.transport.send(rd.messages[i]!)
  const m = p.machine
  if (rd.reset) m?.reset?.(rd)
  if (rd.snapshot !== null) m?.installSnapshot?.(rd.snapshot)
  m?.apply?.(rd)
}

/**
 * The cycle's second half, once the Ready is durable: send (persist before reply: nothing leaves
 * before the disk has it), read states, soft state, advance.
 */
export function afterPersist(
  rd: Ready,
  p: Pick<ReadyDriverParts, 'core' | 'transport' | 'machine' | 'advanced'>,
): void {
  const m = p.machine
  for (let i = rd.sendableBeforePersist ?? 0; i < rd.messages.length; i++) p.transport.send(rd.messages[i]!)
  if (m?.readState !== undefined) for (const r of rd.readStates) m.readState(r)
  if (rd.softState !== null) m?.softState?.(rd.softState)
  p.core.advance(rd)
  p.advanced?.()
}

/**
 * Works off every Ready at once with a synchronous `persist`: the simulator's loop, the same
 * cycle as `ReadyDriver` without the event loop (a bound on cycles catches a core that never
 * settles).
 */
export function drainNow(
  p: Pick<ReadyDriverParts, 'core' | 'transport' | 'machine' | 'advanced'> & {
    persist: (rd: Ready) => boolean
    /** The core may be replaced or dropped by what a cycle does (a crash): ask each time. */
    live?: () => boolean
  },
  maxCycles = 10_000,
): void {
  let cycles = 0
  while ((p.live?.() ?? true) && p.core.hasReady()) {
    if (++cycles > maxCycles) throw new Error(`the Ready loop does not settle after ${maxCycles} cycles`)
    const rd = p.core.ready()
    beforePersist(rd, p)
    if (!p.persist(rd)) return
    afterPersist(rd, p)
  }
}
