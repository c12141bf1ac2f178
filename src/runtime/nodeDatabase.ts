import type { Entry, Ready } from '../consensus/types.ts'
import { type ApplyResult, ClusterDatabase } from '../database/clusterDatabase.ts'
import { type CommandEnvelope, commandSubject, concernsPlacement } from '../database/commands.ts'
import { applyCommitted } from '../database/committedCommand.ts'
import { unsupportedLevelProblem } from '../database/functionalLevel.ts'
import { assert } from '../errors/assert.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { SnapshotStore } from '../storage/snapshotStore.ts'
import type { LogStorage } from './logStorage.ts'
import type { NodeContext } from './nodeContext.ts'
import { decodeNodeSnapshot, encodeNodeSnapshot } from './nodeSnapshot.ts'
import type { ProposalTracker } from './proposalTracker.ts'
import type { QuorumProvider } from './quorumProvider.ts'
import type { ReadyMachine } from './readyDriver.ts'
import { SnapshotWriter } from './snapshotWriter.ts'
import type { StorageHealth } from './storageHealth.ts'

export interface NodeDatabaseParts extends Pick<NodeContext, 'core' | 'emit' | 'crash' | 'scheduleDrive'> {
  dataDir: string
  /** The highest cluster functional level this node supports: it stops at an entry above it. */
  supportedLevel: number
  /** The database recovered at start (or the empty one the quorum model starts from). */
  initial: ClusterDatabase
  wal: LogStorage
  snapshots: SnapshotStore
  /** The newest snapshot's index at start. */
  snapshotIndex: number
  /** Take a snapshot after this many applied entries. */
  snapshotEntries: number
  quorum: Pick<QuorumProvider, 'saveSnapshot'>
  tracker: ProposalTracker
  storage: StorageHealth
  /** The core gave its history up: keep what must outlive it (the fencing floor), say so. */
  givingUpHistory: () => void
  /** What follows from what was applied. */
  follow: {
    /** Membership or addresses may have changed: the mesh follows. */
    membersChanged(): void
    /** A command the database took. */
    applied(envelope: CommandEnvelope, result: ApplyResult): void
    /** Something changed ownership (or may have): reconcile, and let the leader plan soon. */
    changed(): void
    /** A leader's snapshot replaced the database. */
    snapshotInstalled(): void
  }
}

export class NodeDatabase implements ReadyMachine {
  private readonly p: NodeDatabaseParts
  private db: ClusterDatabase
  private lastSnapshotIndex: number
  private readonly writer: SnapshotWriter

  constructor(parts: NodeDatabaseParts) {
    this.p = parts
    this.db = parts.initial
    this.lastSnapshotIndex = parts.snapshotIndex
    this.writer = new SnapshotWriter({
      dataDir: parts.dataDir,
      wal: parts.wal,
      snapshots: parts.snapshots,
      core: () => parts.core,
      emit: parts.emit,
      storageFault: (e) => parts.storage.fault(e),
      crash: parts.crash,
      // Durable: the Ready loop compacts the log between its cycles.
      written: parts.scheduleDrive,
    })
  }

  /** The database as this node has it now (replaced by a reset or a leader's snapshot). */
  get current(): ClusterDatabase {
    return this.db
  }

  /** The core discarded this node's history (forced quorum): wipe what is on disk to match. */
  reset(rd: Ready): void {
    this.p.givingUpHistory()
    this.p.wal.reset(rd.hardState ?? { term: this.p.core.status().term, vote: null, commit: 0 })
    this.writer.overtaken()
    this.p.snapshots.clear()
    this.db = new ClusterDatabase()
    this.lastSnapshotIndex = 0
    this.p.tracker.failProposals(
      new GeoclusterError('GC_ERR_NO_QUORUM', 'this node gave up its history; retry'),
    )
  }

  /** A snapshot from the leader replaces this node's database (it was too far behind). */
  installSnapshot(s: NonNullable<Ready['snapshot']>): void {
    const decoded = decodeNodeSnapshot(s.data)
    assert(typeof decoded !== 'string', () => `snapshot from the leader is unreadable: ${String(decoded)}`)
    const db = ClusterDatabase.restore(decoded.database)
    // A cluster at a level above this node's cannot be followed: stop before taking it.
    if (db.functionalLevel() > this.p.supportedLevel)
      throw new GeoclusterError(
        'GC_ERR_FUNCTIONAL_LEVEL',
        `the leader's snapshot at index ${s.meta.index}: ${unsupportedLevelProblem(db.functionalLevel(), this.p.supportedLevel)}`,
      )
    this.db = db
    this.writer.overtaken()
    this.p.snapshots.save({ index: s.meta.index, term: s.meta.term }, s.data)
    this.p.wal.markSnapshot({ index: s.meta.index, term: s.meta.term })
    this.lastSnapshotIndex = s.meta.index
    this.p.tracker.snapshotCovers(s.meta.index)
    this.p.emit({
      type: 'storage:snapshot',
      severity: 'info',
      message: `installed the leader's snapshot at index ${s.meta.index}`,
    })
    this.p.follow.snapshotInstalled()
  }

  apply(rd: Ready): void {
    let changed = false
    for (const entry of rd.committedEntries) changed = this.applyEntry(entry) || changed
    // A snapshot installed just before counts as applied too: waiters up to it are done.
    if (rd.committedEntries.length > 0 || rd.snapshot !== null) this.p.tracker.appliedMore()
    if (changed) this.p.follow.changed()
  }

  /**
   * Between Ready cycles: compacts the log up to a snapshot just written, and starts the next
   * snapshot once enough entries were applied since the last.
   */
  maybeSnapshot(): void {
    this.writer.finish()
    const { core } = this.p
    const applied = this.db.appliedIndex
    if (applied - this.lastSnapshotIndex < this.p.snapshotEntries) return
    const saveSnapshot = this.p.quorum.saveSnapshot
    if (saveSnapshot !== undefined) {
      // The model keeps snapshots itself (the quorum disk's holder, into its recovery log).
      if (core.status().role !== 'leader') return
      const term = core.termOf(applied)
      if (term === undefined) return
      saveSnapshot(
        applied,
        term,
        encodeNodeSnapshot({ config: core.configAt(applied), database: this.db.snapshot() }),
      )
      this.lastSnapshotIndex = applied
      return
    }
    const term = core.termOf(applied)
    assert(term !== undefined, () => `no term for applied index ${applied}`)
    // Written off the tick's path; the log is compacted once it is durable (`finish`).
    if (this.writer.start({ index: applied, term }, core.configAt(applied), this.db.snapshotView()))
      this.lastSnapshotIndex = applied
  }

  /** Waits for a snapshot under way (at shutdown). */
  settled(): Promise<void> {
    return this.writer.settled()
  }

  /** Applies one entry; true when it may have changed what runs where. */
  private applyEntry(entry: Entry): boolean {
    let result: ApplyResult | null = null
    let placementChanged = false
    if (entry.kind === 'noop' || entry.kind === 'config') {
      this.db.skip(entry.index)
      if (entry.kind === 'config') this.p.follow.membersChanged()
    } else {
      const outcome = applyCommitted(this.db, entry.index, entry.data, this.p.supportedLevel)
      // A committed entry this node cannot read means it can no longer follow the cluster.
      assert(
        outcome.kind !== 'unreadable',
        () =>
          `committed entry ${entry.index} is unreadable: ${outcome.kind === 'unreadable' ? outcome.problem : ''}`,
      )
      if (outcome.kind === 'applied') {
        result = outcome.result
        placementChanged = concernsPlacement(outcome.envelope.command)
        this.afterApply(entry.index, outcome.envelope, result)
      } else if (outcome.kind === 'refused') {
        result = { ok: false, reason: 'invalid', message: outcome.problem }
        this.p.emit({
          type: 'database:refused',
          severity: 'warning',
          message: `committed entry ${entry.index} refused: ${outcome.problem}`,
          data: { index: entry.index },
        })
      }
    }
    this.p.tracker.settle(entry, result)
    return result?.ok === true && placementChanged
  }

  private afterApply(index: number, envelope: CommandEnvelope, result: ApplyResult): void {
    const c = envelope.command
    const subject = commandSubject(c)
    if (!result.ok) {
      this.p.emit({
        type: 'database:refused',
        severity: 'warning',
        message: `${c.op} ${subject} refused: ${result.message}`,
        data: { index, by: envelope.by },
      })
      return
    }
    if (c.op === 'maintenance.set' && result.changed.length > 0)
      this.p.emit({
        type: c.on ? 'maintenance:on' : 'maintenance:off',
        severity: c.on ? 'warning' : 'info',
        message: c.on
          ? `${subject} is in maintenance: left as it is (no health checks, restarts, starts, stops or moves)`
          : `${subject} is out of maintenance: its resources are probed, then managed again`,
        data: { index, by: envelope.by, scope: c.scope, name: c.subject },
      })
    this.p.emit(
      c.op === 'cluster.restore'
        ? {
            type: 'database:restored',
            severity: 'warning',
            message: `the cluster database was restored from a backup taken at index ${c.source.index} (term ${c.source.term}): ${c.content.groups.length} groups, ${c.content.resources.length} resources, ${c.content.config.length} config keys`,
            data: {
              index,
              by: envelope.by,
              from: { index: c.source.index, term: c.source.term, checksum: c.source.checksum },
            },
          }
        : {
            type: 'database:changed',
            severity: 'info',
            message: `${c.op} ${subject}`.trim(),
            data: { index, by: envelope.by },
          },
    )
    this.p.follow.applied(envelope, result)
    // Membership and addresses come from the log: the mesh follows every change.
    if (c.op === 'cluster.bootstrap' || c.op.startsWith('node.')) this.p.follow.membersChanged()
  }
}
