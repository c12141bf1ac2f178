/**
 * The Checkpoint Manager (seed 000) on a node: the files a resource names are saved with the
 * cluster database when the resource goes offline here (its group is released only after) and
 * periodically while online (when they changed), and written back before it starts on a node
 * where they were saved elsewhere.
 */
import type { ApplyResult, ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import { checkpointPaths } from '../database/resourceTypes.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { Logger } from '../events/logger.ts'
import type { ActualState } from '../failover/groupReconciler.ts'
import { needsRestore, readCheckpoint, restoreCheckpoint } from './checkpointFiles.ts'
import { guardTimer } from './timerGuard.ts'

/** How often resources online here are looked at for a periodic save (ms). */
const checkpointTickMs = 1_000

export interface ResourceCheckpointsParts {
  name: string
  logger: Logger
  monotonic: () => number
  db: () => ClusterDatabase
  propose: (command: Command, by: string) => Promise<{ index: number; result: ApplyResult }>
  emit: (e: ClusterEventInput) => void
  /** Resources' states on this node. */
  actual: ReadonlyMap<string, ActualState>
  /** A save ended: the reconciler looks again (a release may have waited for it). */
  schedule: () => void
}

export class ResourceCheckpoints {
  private readonly d: ResourceCheckpointsParts
  /** Checkpoints being saved (resource names). */
  readonly saving = new Set<string>()
  /** What was saved last per resource (content hash, when). */
  private readonly saved = new Map<string, { hash: string; atMs: number }>()
  /** When each resource last came online here (monotonic ms): the first periodic save counts from it. */
  private readonly onlineAt = new Map<string, number>()
  private timer: NodeJS.Timeout | null = null

  constructor(parts: ResourceCheckpointsParts) {
    this.d = parts
  }

  start(): void {
    this.timer = setInterval(
      guardTimer('the checkpoint timer', this.d.logger, () => this.tick()),
      checkpointTickMs,
    )
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
  }

  /** Resource `name` came online here. */
  online(name: string): void {
    this.onlineAt.set(name, this.d.monotonic())
  }

  /**
   * Reads the resource's checkpoint files and saves them with the cluster: when it goes offline
   * here (its group is released only after), and periodically while online (when they changed).
   */
  save(name: string, why: 'offline' | 'periodic'): void {
    const r = this.d.db().resource(name)
    if (r === undefined || this.saving.has(name)) return
    const say = (severity: 'info' | 'error', message: string) =>
      this.d.emit({ type: 'resource:checkpoint', severity, group: r.group, resource: name, message })
    const read = readCheckpoint(checkpointPaths(r.params))
    if (!read.ok) {
      say('error', `checkpoint of ${name} not saved: ${read.problem}`)
      return
    }
    const last = this.saved.get(name)
    if (why === 'periodic' && last?.hash === read.hash) {
      this.saved.set(name, { hash: read.hash, atMs: this.d.monotonic() })
      return
    }
    this.saving.add(name)
    this.d
      .propose(
        { op: 'resource.checkpoint', name, node: this.d.name, at: Math.floor(Date.now()), files: read.files },
        `node:${this.d.name}`,
      )
      .then(({ result }) => {
        if (!result.ok) {
          say('error', `checkpoint of ${name} not saved: ${result.message}`)
          return
        }
        this.saved.set(name, { hash: read.hash, atMs: this.d.monotonic() })
        if (why === 'offline')
          say('info', `saved the checkpoint of ${name}: ${read.files.length} file(s), ${read.bytes} bytes`)
      })
      .catch((error: Error) =>
        this.d.logger.warn({ resource: name, err: error.message }, 'could not save a checkpoint'),
      )
      .finally(() => {
        this.saving.delete(name)
        this.d.schedule()
      })
  }

  /** Every second: save the checkpoints of resources online here whose interval has passed. */
  private tick(): void {
    const db = this.d.db()
    const now = this.d.monotonic()
    for (const [name, state] of this.d.actual) {
      if (state !== 'online') continue
      const r = db.resource(name)
      if (r === undefined || checkpointPaths(r.params).length === 0) continue
      const interval = Number(r.params.checkpointIntervalMs ?? 60_000)
      const last = this.saved.get(name)?.atMs ?? this.onlineAt.get(name) ?? now
      if (now - last >= interval) this.save(name, 'periodic')
    }
  }

  /** Before a start: write back files saved elsewhere; null, or why it could not. */
  restore(name: string): string | null {
    const db = this.d.db()
    const r = db.resource(name)
    const record = db.checkpoint(name)
    if (r === undefined || record === undefined || checkpointPaths(r.params).length === 0) return null
    if (!needsRestore(record, this.d.name)) return null
    const problem = restoreCheckpoint(record)
    if (problem !== null) return problem
    this.d.emit({
      type: 'resource:checkpoint',
      severity: 'info',
      group: r.group,
      resource: name,
      message: `restored the checkpoint of ${name} saved on ${record.node} (${record.files.length} file(s), ${record.bytes} bytes, log index ${record.index})`,
    })
    return null
  }
}
