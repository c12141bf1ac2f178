/**
 * The disk quorum model's runtime half: the quorum disk's lease (challenge/defense, through
 * DiskLeaseDriver), the recovery log beside it, and the DiskCore the node runtime drives like
 * RaftCore. The lease holder leads: on taking the lease it claims its ballot in the recovery
 * log, reads every entry its predecessors left there, records which prefix it continues from,
 * and only then leads. Every other node follows by reading the recovery log. Losing the lease
 * ends leadership at once; the node's leases for its groups then stop being renewed, so its
 * resource monitor fences them (the same rule as the geo model).
 */
import type { RaftStatus } from '../consensus/raftCore.ts'
import type { Configuration, Entry, Ready } from '../consensus/types.ts'
import { ClusterDatabase } from '../database/clusterDatabase.ts'
import { assert } from '../errors/assert.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { Logger } from '../events/logger.ts'
import type { EarlierLeaders } from '../failover/leaseAuthority.ts'
import { DiskCore } from '../quorum/disk/diskCore.ts'
import type { DiskLeaseEvent } from '../quorum/disk/diskLease.ts'
import { type DiskLeaseTiming, diskLeaseTimingProblems } from '../quorum/disk/diskLeaseTiming.ts'
import { SharedRecoveryLog } from '../storage/sharedRecoveryLog.ts'
import { DiskLeaseDriver } from './diskLeaseDriver.ts'
import type { QuorumProvider, QuorumStatus } from './quorumProvider.ts'

export interface DiskQuorumOptions {
  self: string
  /** The quorum file or device (already resolved against the topology file's directory). */
  path: string
  /** The recovery log's directory (resolved; default `<path>.log`). */
  logDir?: string | undefined
  timing: DiskLeaseTiming
  configuration: Configuration
  monotonic: () => number
  logger: Logger
  /** How often followers read the recovery log (ms). */
  tailMs: number
  /** Does the mesh think this node is down (heartbeats stopped)? */
  peerDown: (name: string) => boolean
  emit: (e: ClusterEventInput) => void
  /** Something changed the core: run the Ready loop. */
  changed: () => void
  crash: (error: Error) => void
}

export class DiskQuorum implements QuorumProvider {
  readonly core: DiskCore
  readonly recoveryLog: SharedRecoveryLog
  readonly meshed = true
  readonly soleVoter = false
  private readonly o: DiskQuorumOptions
  private driver: DiskLeaseDriver | null = null
  private tailTimer: NodeJS.Timeout | null = null
  private writing: number | null = null

  constructor(options: DiskQuorumOptions) {
    this.o = options
    // The topology loader refuses unsafe timing; this is the invariant it protects.
    const problems = diskLeaseTimingProblems(options.timing)
    assert(
      problems.length === 0,
      () => `unsafe quorum disk timing: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`,
    )
    this.recoveryLog = new SharedRecoveryLog(options.logDir ?? SharedRecoveryLog.dirFor(options.path))
    this.core = new DiskCore(options.self, options.configuration, { index: 0, term: 0 })
  }

  /** Reads the recovery log (the node starts from it), then joins the contest for the disk. */
  async start(): Promise<void> {
    this.tail()
    this.driver = await DiskLeaseDriver.open({
      self: this.o.self,
      path: this.o.path,
      highestBallot: this.recoveryLog.highestClaimed(),
      timing: this.o.timing,
      monotonic: this.o.monotonic,
      onEvent: (e) => this.onLeaseEvent(e),
    })
    this.tailTimer = setInterval(() => this.tail(), this.o.tailMs)
  }

  /** True while this node holds the disk lease and may act on it. */
  holds(): boolean {
    return this.driver?.holds() ?? false
  }

  /** Under the disk model the database comes from the recovery log on the disk, not the data dir. */
  startingDatabase(): ClusterDatabase {
    return new ClusterDatabase()
  }

  /**
   * The holder's entries go to the recovery log. A write refused there ends leadership at once
   * (stepDown), so what the Ready carries is never acknowledged as this holder's.
   */
  persist(rd: Ready): boolean {
    this.write(rd.entries)
    return true
  }

  /** The quorum disk is the one vote; its ballot counts the holders it has had. */
  quorumStatus(raft: RaftStatus, quorate: boolean): QuorumStatus {
    return {
      model: 'disk',
      state: quorate ? 'quorate' : 'no-quorum',
      votesPresent: raft.leader === null ? 0 : 1,
      votesTotal: 1,
      votesNeeded: 1,
      epoch: raft.term,
      forced: false,
      epochId: '',
      confirmed: true,
      conflict: null,
      rebuilding: false,
    }
  }

  votesOf(): number {
    return 0
  }

  holdsDisk(): boolean {
    return this.holds()
  }

  earlierLeaders(): EarlierLeaders {
    return { model: 'disk', grantsEndedBeforeTakingMs: this.grantsEndedBeforeTakingMs() }
  }

  forceRefusal(): null {
    return null
  }

  /** The holder's entries go to the recovery log; false when it no longer holds the lease. */
  private write(entries: Entry[]): boolean {
    if (entries.length === 0) return this.holds()
    if (this.writing === null || !this.holds()) {
      this.stepDown('lost the quorum disk before writing')
      return false
    }
    try {
      this.recoveryLog.append(entries)
    } catch (error) {
      this.o.logger.error({ err: (error as Error).message }, 'recovery log append failed')
      this.stepDown(`recovery log append failed: ${(error as Error).message}`)
      return false
    }
    // Durable, but acknowledged only if the lease still held once it was: a holder that lost
    // the disk meanwhile must not answer for a write its successor may not have adopted.
    if (!this.holds()) {
      this.stepDown('lost the quorum disk while writing')
      return false
    }
    return true
  }

  /** The holder saves the database beside its entries (followers and successors start from it). */
  readonly saveSnapshot = (index: number, term: number, data: Uint8Array): void => {
    if (this.writing === null || !this.holds()) return
    try {
      this.recoveryLog.saveSnapshot(index, term, data)
    } catch (error) {
      this.o.logger.warn({ err: (error as Error).message }, 'could not save a snapshot to the recovery log')
    }
  }

  /**
   * How long before this node took the disk every earlier holder had stopped granting leases: a
   * holder grants only while its lease holds, which ends `leaseMs` after a renewal began; a
   * challenger takes the disk `challengeWaitMs` after its challenge landed (so at least
   * `challengeWaitMs - leaseMs` after that end), or `releaseWaitMs` after a clean release.
   */
  grantsEndedBeforeTakingMs(): number {
    const t = this.o.timing
    return Math.max(0, Math.min(t.challengeWaitMs - t.leaseMs, t.releaseWaitMs))
  }

  status() {
    const s = this.driver?.status()
    return {
      holder: this.core.status().role === 'leader' ? this.o.self : (s?.holder ?? null),
      ballot: this.core.status().term,
      role: s?.role ?? 'observer',
      lastSeen: s?.lastSeen ?? null,
    }
  }

  /** Stops contesting; a holder writes `released` so the next one need not wait in full. */
  async stop(): Promise<void> {
    if (this.tailTimer !== null) clearInterval(this.tailTimer)
    this.tailTimer = null
    this.core.follow(null)
    this.recoveryLog.close()
    this.writing = null
    await this.driver?.stop({ release: true })
  }

  // ---- internals ------------------------------------------------------------------------------

  /** Followers: learn what the holder committed (and answer reads waiting for a fresh look). */
  private tail(): void {
    if (this.core.status().role === 'leader') return
    try {
      const reads = this.core.takeReadRequests()
      const r = this.recoveryLog.read(this.core.status().lastIndex)
      this.core.learn(r.entries, reads, r.snapshot)
      const holder = this.driver?.status().holder ?? r.head?.holder ?? null
      this.core.follow(holder)
      // A holder the mesh has lost need not be waited for until its block goes stale.
      this.driver?.suspect(
        holder !== null && holder !== this.o.self && this.o.peerDown(holder) ? holder : null,
      )
      this.driver?.noteBallot(this.recoveryLog.highestClaimed())
      if (r.entries.length > 0 || reads.length > 0 || r.snapshot !== null) this.o.changed()
    } catch (error) {
      this.o.crash(error as Error)
    }
  }

  private onLeaseEvent(e: DiskLeaseEvent): void {
    switch (e.kind) {
      case 'acquired':
        this.takeOver(e.ballot)
        return
      case 'lost':
        this.o.emit({
          type: 'quorum:disk-lost',
          severity: 'error',
          message: `${this.o.self} lost the quorum disk (ballot ${e.ballot}): ${e.why}; its groups are fenced`,
        })
        this.stepDown(e.why)
        return
      case 'challenging':
        this.o.logger.info({ why: e.why, waitMs: e.waitMs }, 'challenging for the quorum disk')
        return
      case 'backed-off':
        this.o.logger.info({ why: e.why }, 'backed off from the quorum disk')
        return
      case 'defended':
        this.o.emit({
          type: 'quorum:disk-defended',
          severity: 'warning',
          message: `${this.o.self} defended the quorum disk: ${e.why}`,
        })
        return
      case 'released':
        this.o.logger.info({ ballot: e.ballot }, 'released the quorum disk')
        return
    }
  }

  private takeOver(ballot: number): void {
    try {
      if (!this.recoveryLog.claim(ballot)) {
        // Someone we never saw held this ballot and vanished: hold on under a higher one.
        this.driver?.raiseBallot(ballot)
        return
      }
      const r = this.recoveryLog.read(this.core.status().lastIndex, ballot)
      this.core.learn(r.entries, [], r.snapshot)
      const last = this.core.status().lastIndex
      const head = r.head
      this.recoveryLog.begin({
        ballot,
        holder: this.o.self,
        adopts:
          last === 0 || head === null
            ? null
            : { ballot: head.ballot, lastIndex: last, lastTerm: r.last.term },
      })
      this.writing = ballot
      this.core.lead(ballot)
      this.o.emit({
        type: 'quorum:disk-acquired',
        severity: 'info',
        message: `${this.o.self} holds the quorum disk (ballot ${ballot}) and continues the recovery log from entry ${last}`,
      })
      this.o.changed()
    } catch (error) {
      this.o.crash(error as Error)
    }
  }

  private stepDown(why: string): void {
    if (this.core.status().role !== 'leader') return
    this.o.logger.warn({ why }, 'no longer leads: the quorum disk is not ours')
    this.core.follow(null)
    this.recoveryLog.close()
    this.writing = null
    this.o.changed()
  }
}
