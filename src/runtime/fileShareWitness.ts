/**
 * The file-share witness (WSFC's most common witness): the witness's state — its term, its vote
 * and W (ARCHITECTURE.md "Quorum rules") — kept in a directory on shared storage, and its vote
 * cast by whichever node holds the share's lease. The lease is the quorum disk's
 * challenge/defense protocol on `<path>/lease`; the state is a log of hard states under
 * `<path>/state.log`, one ballot per holder, so a holder that lost the share cannot overwrite what
 * its successor read (sharedRecoveryLog.ts). The holder runs the same WitnessCore as a witness
 * process; nodes send it their messages through the holder, over the mesh.
 */

import { mkdirSync } from 'node:fs'
import { join, resolve as resolvePath } from 'node:path'
import type { HardState, Message, Ready } from '../consensus/types.ts'
import { WitnessCore } from '../consensus/witnessCore.ts'
import { assert } from '../errors/assert.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { Logger } from '../events/logger.ts'
import type { DiskLeaseEvent } from '../quorum/disk/diskLease.ts'
import { type DiskLeaseTiming, diskLeaseTimingProblems } from '../quorum/disk/diskLeaseTiming.ts'
import { SharedRecoveryLog } from '../storage/sharedRecoveryLog.ts'
import { diskTiming } from '../topology/clusterTiming.ts'
import type { Topology } from '../topology/topologySchema.ts'
import { DiskLeaseDriver } from './diskLeaseDriver.ts'
import { ReadyDriver } from './readyDriver.ts'

export interface FileShareWitnessOptions {
  self: string
  /** The witness's name in the configuration. */
  witness: string
  /** The share's directory (resolved). */
  path: string
  timing: DiskLeaseTiming
  electionTicks: number
  monotonic: () => number
  logger: Logger
  emit: (e: ClusterEventInput) => void
  /** A message from the witness to a node (this one included). */
  send: (m: Message) => void
  /** Does the mesh think this node is down (heartbeats stopped)? */
  peerDown: (name: string) => boolean
  crash: (error: Error) => void
}

/** The file-share witness this node may serve, if the topology has one, and its name. */
export function fileShareWitnessFor(
  topology: Topology,
  o: Omit<FileShareWitnessOptions, 'witness' | 'path' | 'timing'> & { topologyDir: string },
): { witness: FileShareWitness; name: string } | null {
  const w = topology.witness
  if (w?.type !== 'file-share' || w.path === undefined) return null
  const { topologyDir, ...options } = o
  const path = resolvePath(topologyDir, w.path)
  return {
    name: w.name,
    witness: new FileShareWitness({ ...options, witness: w.name, path, timing: diskTiming(topology) }),
  }
}

const initialState: HardState = { term: 0, vote: null, commit: 0, mark: { term: 0, index: 0 } }

export class FileShareWitness {
  private readonly o: FileShareWitnessOptions
  private readonly stateLog: SharedRecoveryLog
  private driver: DiskLeaseDriver | null = null
  private core: WitnessCore | null = null
  /** The Ready loop of the core this node serves now (one per ballot). */
  private ready: ReadyDriver | null = null
  private ballot = 0
  private nextIndex = 1

  constructor(options: FileShareWitnessOptions) {
    this.o = options
    // The topology loader refuses unsafe timing; this is the invariant it protects.
    const problems = diskLeaseTimingProblems(options.timing)
    assert(
      problems.length === 0,
      () => `unsafe quorum disk timing: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`,
    )
    mkdirSync(options.path, { recursive: true, mode: 0o700 })
    this.stateLog = new SharedRecoveryLog(join(options.path, 'state.log'))
  }

  async start(): Promise<void> {
    this.driver = await DiskLeaseDriver.open({
      self: this.o.self,
      path: join(this.o.path, 'lease'),
      highestBallot: this.stateLog.highestClaimed(),
      timing: this.o.timing,
      monotonic: this.o.monotonic,
      onEvent: (e) => this.onLeaseEvent(e),
    })
  }

  /** The node that serves the witness now, as far as the share says (null: none yet). */
  host(): string | null {
    if (this.core !== null) return this.o.self
    return this.driver?.status().holder ?? null
  }

  hosting(): boolean {
    return this.core !== null
  }

  /** A message to the witness, received here (this node hosts it, or should). */
  step(m: Message): void {
    if (this.core === null || m.to !== this.o.witness) return
    this.core.step(m)
    this.ready?.schedule()
  }

  tick(): void {
    if (this.core === null) {
      // A host the mesh has lost need not be waited for until the share's block goes stale.
      const host = this.driver?.status().holder ?? null
      this.driver?.suspect(host !== null && host !== this.o.self && this.o.peerDown(host) ? host : null)
      return
    }
    this.core.tick()
    this.ready?.schedule()
  }

  async stop(): Promise<void> {
    this.dropCore('the node is stopping')
    await this.driver?.stop({ release: true })
  }

  // ---- internals ------------------------------------------------------------------------------

  /** Persist before reply, and reply only while the share is still ours once it is persisted. */
  private persist(rd: Ready): boolean {
    if (rd.hardState !== null) {
      if (!this.holds()) {
        this.dropCore('lost the share before saving the witness state')
        return false
      }
      try {
        this.stateLog.append([
          {
            index: this.nextIndex,
            term: this.ballot,
            kind: 'command',
            data: new TextEncoder().encode(JSON.stringify(rd.hardState)),
          },
        ])
        this.nextIndex++
      } catch (error) {
        this.dropCore(`saving the witness state failed: ${(error as Error).message}`)
        return false
      }
    }
    if (!this.holds()) {
      this.dropCore('lost the share while saving the witness state')
      return false
    }
    return true
  }

  private holds(): boolean {
    return this.driver?.holds() ?? false
  }

  private onLeaseEvent(e: DiskLeaseEvent): void {
    if (e.kind === 'acquired') this.serve(e.ballot)
    else if (e.kind === 'lost') this.dropCore(e.why)
    else if (e.kind === 'challenging' || e.kind === 'backed-off')
      this.o.logger.debug({ why: e.why }, `file-share witness: ${e.kind}`)
  }

  /** Took the share under `ballot`: load the witness's state its last host saved, then serve it. */
  private serve(ballot: number): void {
    try {
      if (!this.stateLog.claim(ballot)) {
        this.driver?.raiseBallot(ballot)
        return
      }
      const r = this.stateLog.read(0, ballot)
      const last = r.entries.at(-1)
      const state =
        last === undefined ? initialState : (JSON.parse(new TextDecoder().decode(last.data)) as HardState)
      this.stateLog.begin({
        ballot,
        holder: this.o.self,
        adopts:
          r.head === null || last === undefined
            ? null
            : { ballot: r.head.ballot, lastIndex: last.index, lastTerm: last.term },
      })
      this.ballot = ballot
      this.nextIndex = (last?.index ?? 0) + 1
      const core = new WitnessCore({ id: this.o.witness, electionTicks: this.o.electionTicks }, state)
      this.core = core
      this.ready = new ReadyDriver({
        core,
        // A drain of a core this node no longer serves (the share was lost, maybe taken again
        // under a new ballot) saves and sends nothing: only the current core speaks for the witness.
        persist: (rd) => this.core === core && this.persist(rd),
        transport: { send: (m) => this.o.send(m) },
        crash: (error) => this.o.crash(error),
      })
      this.o.emit({
        type: 'witness:hosted',
        severity: 'info',
        message: `${this.o.self} holds the file-share witness ${this.o.witness} (ballot ${ballot}; term ${state.term}, W ${state.mark?.term ?? 0}/${state.mark?.index ?? 0})`,
      })
    } catch (error) {
      this.o.crash(error as Error)
    }
  }

  private dropCore(why: string): void {
    if (this.core === null) return
    this.core = null
    void this.ready?.close()
    this.ready = null
    this.stateLog.close()
    this.o.emit({
      type: 'witness:dropped',
      severity: 'warning',
      message: `${this.o.self} no longer serves the file-share witness ${this.o.witness}: ${why}`,
    })
  }
}
