/**
 * Whether this node's storage takes writes: the last write the disk or the descriptors refused,
 * said loudly once and again every so often while it goes on, and said again when writes go
 * through. A leader whose storage refuses writes turns writes away (GC_ERR_STORAGE_FULL).
 */
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { StorageExhaustedError } from '../storage/storageErrors.ts'

/** A storage fault that goes on is said again this often. */
const storageProblemRepeatMs = 30_000

export class StorageHealth {
  private readonly name: string
  private readonly monotonic: () => number
  private readonly emit: (e: ClusterEventInput) => void
  private problem: StorageExhaustedError | null = null
  private saidAt = 0

  constructor(o: { name: string; monotonic: () => number; emit: (e: ClusterEventInput) => void }) {
    this.name = o.name
    this.monotonic = o.monotonic
    this.emit = o.emit
  }

  /** The last write refused, until a write succeeds again. */
  get refused(): StorageExhaustedError | null {
    return this.problem
  }

  /** A write to this node's storage was refused (disk full, no descriptors): say so, once a while. */
  fault(error: StorageExhaustedError): void {
    const now = this.monotonic()
    const first = this.problem === null
    this.problem = error
    if (!first && now - this.saidAt < storageProblemRepeatMs) return
    this.saidAt = now
    this.emit({
      type: 'storage:error',
      severity: 'error',
      message: `${this.name} cannot write its storage: ${error.message}`,
      data: { file: error.file, errno: error.errno },
    })
  }

  /** A write went through. */
  recovered(): void {
    if (this.problem === null) return
    this.problem = null
    this.emit({
      type: 'storage:recovered',
      severity: 'info',
      message: `${this.name} writes its storage again`,
    })
  }
}
