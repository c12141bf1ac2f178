/**
 * The cloud witness, as this node acts for it: the messages its consensus core sends to the
 * witness are taken here, in turns of one read and at most one conditional write of the
 * witness's blob (quorum/cloud/witnessTurn.ts says why that is as safe as a witness process),
 * and the witness's answers go back to the core once the write has landed. One turn at a time;
 * messages that come meanwhile wait for the next turn, and those older than the election
 * timeout are dropped (the core has moved on and will ask again). Each turn, retries and
 * conflicts included, ends within the election timeout, so a slow or throttled service costs an
 * election, never a stuck node. When this node has nothing to ask, it reads the blob now and
 * then, so that `status` can say whether the witness is reachable from here.
 */
import { resolve as resolvePath } from 'node:path'
import type { Message } from '../consensus/types.ts'
import { assert } from '../errors/assert.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { Logger } from '../events/logger.ts'
import { witnessBlobBytesMax } from '../quorum/cloud/witnessBlob.ts'
import { witnessTurn } from '../quorum/cloud/witnessTurn.ts'
import { loadCloudCredentials } from '../storage/cloudCredentials.ts'
import { type BlobFailureKind, BlobStoreError, type WitnessBlobStore } from '../storage/witnessBlobStore.ts'
import type { Topology } from '../topology/topologySchema.ts'
import type { ConsensusTiming } from './consensusTiming.ts'

export interface CloudWitnessOptions {
  self: string
  /** The witness's name in the configuration. */
  witness: string
  cluster: string
  /** Opened on start (the SDK is loaded only by nodes that have a cloud witness). */
  openStore: () => Promise<WitnessBlobStore>
  electionTicks: number
  /** The election timeout (ms): every turn ends within it. */
  budgetMs: number
  /** An idle node reads the blob this often (ms). */
  probeEveryMs: number
  monotonic: () => number
  logger: Logger
  emit: (e: ClusterEventInput) => void
  /** An answer from the witness to this node's core. */
  deliver: (m: Message) => void
}

/** What this node knows of the witness: reachable and sane, or why not. */
export interface CloudWitnessView {
  name: string
  type: 'cloud'
  state: 'up' | 'down'
  /** Why it is down (null: up). */
  problem: string | null
  failure: BlobFailureKind | 'garbage' | null
  where: string
}

/** Messages kept for the next turn; older ones go first (the core resends what matters). */
const queueMax = 64
/** Conditional writes lost to other members within one turn before it gives up. */
const conflictsMax = 5

export class CloudWitness {
  readonly name: string
  private readonly o: CloudWitnessOptions
  private store: WitnessBlobStore | null = null
  private queue: { m: Message; at: number }[] = []
  private running: Promise<void> | null = null
  private readonly stopping = new AbortController()
  private lastTriedAt = Number.NEGATIVE_INFINITY
  private lastOkAt = Number.NEGATIVE_INFINITY
  private trouble: { kind: BlobFailureKind | 'garbage'; message: string } | null = {
    kind: 'unreachable',
    message: 'not reached yet',
  }
  private announced: string | null = null

  constructor(options: CloudWitnessOptions) {
    this.o = options
    this.name = options.witness
  }

  /** Opens the store and reads the blob once, so a bad endpoint or key shows in the start log. */
  async start(): Promise<void> {
    this.store = await this.o.openStore()
    this.kick()
    await this.running
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    this.queue = []
    await this.running
  }

  /** A message from this node's core to the witness. */
  submit(m: Message): void {
    if (this.stopping.signal.aborted || m.to !== this.name) return
    this.queue.push({ m, at: this.o.monotonic() })
    if (this.queue.length > queueMax) this.queue.shift()
    this.kick()
  }

  tick(): void {
    if (this.running === null && this.o.monotonic() - this.lastTriedAt >= this.o.probeEveryMs) this.kick()
  }

  view(): CloudWitnessView {
    const stale = this.o.monotonic() - this.lastOkAt > 2 * this.o.probeEveryMs + this.o.budgetMs
    const problem = this.trouble?.message ?? (stale ? 'no answer from the storage lately' : null)
    return {
      name: this.name,
      type: 'cloud',
      state: problem === null ? 'up' : 'down',
      problem,
      failure: this.trouble?.kind ?? (stale ? 'timeout' : null),
      where: this.store?.where ?? '',
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  private kick(): void {
    if (this.running !== null || this.store === null || this.stopping.signal.aborted) return
    this.running = this.drain().finally(() => {
      this.running = null
      if (this.queue.length > 0) this.kick()
    })
  }

  private async drain(): Promise<void> {
    do {
      const now = this.o.monotonic()
      const batch = this.queue.splice(0).filter((q) => now - q.at < this.o.budgetMs)
      await this.turn(batch.map((q) => q.m))
    } while (this.queue.length > 0 && !this.stopping.signal.aborted)
  }

  /** One turn: read, decide, write if the state changed, answer. An empty turn is a probe. */
  private async turn(messages: Message[]): Promise<void> {
    const store = this.store!
    this.lastTriedAt = this.o.monotonic()
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(this.o.budgetMs)])
    try {
      for (let conflicts = 0; conflicts <= conflictsMax; conflicts++) {
        const read = await store.read(signal)
        const t = witnessTurn(read, messages, {
          self: this.o.self,
          witness: this.name,
          cluster: this.o.cluster,
          electionTicks: this.o.electionTicks,
        })
        if (!t.ok) {
          this.failed('garbage', `the blob ${store.where} is refused: ${t.problem}`)
          return
        }
        if (t.write !== null) {
          const w = await store.write(t.write.body, t.write.condition, signal)
          // Another member took a turn since the read: decide again from what it wrote.
          if (w.kind === 'conflict') continue
        }
        this.reached()
        for (const reply of t.replies) this.o.deliver(reply)
        return
      }
      this.reached()
      this.o.logger.debug(
        { witness: this.name },
        'cloud witness: lost every write of a turn to other members',
      )
    } catch (error) {
      if (this.stopping.signal.aborted) return
      if (error instanceof BlobStoreError) this.failed(error.kind, error.message)
      else if ((error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError')
        this.failed('timeout', `${store.where}: no answer within ${this.o.budgetMs} ms`)
      else this.failed('refused', `${store.where}: ${(error as Error).message}`)
    }
  }

  private reached(): void {
    this.lastOkAt = this.o.monotonic()
    if (this.trouble === null) return
    const was = this.announced
    this.trouble = null
    this.announced = null
    if (was === null) return
    this.o.logger.info({ witness: this.name }, `cloud witness ${this.name} is reachable again`)
    this.o.emit({
      type: 'witness:reachable',
      severity: 'info',
      message: `${this.o.self} reaches the cloud witness ${this.name} again`,
    })
  }

  private failed(kind: BlobFailureKind | 'garbage', message: string): void {
    this.trouble = { kind, message }
    // Said once per kind of trouble, not at every probe.
    const key = `${kind}`
    if (this.announced === key) return
    this.announced = key
    const refused = kind === 'garbage' || kind === 'credentials'
    const text = `${this.o.self} cannot use the cloud witness ${this.name}: ${message}`
    if (refused) this.o.logger.error({ witness: this.name, failure: kind }, text)
    else this.o.logger.warn({ witness: this.name, failure: kind }, text)
    this.o.emit({
      type: kind === 'garbage' ? 'witness:refused' : 'witness:unreachable',
      severity: refused ? 'error' : 'warning',
      message: text,
    })
  }
}

/** The cloud witness this node acts for, if the topology has one (its credentials checked now). */
export function cloudWitnessFor(
  topology: Topology,
  o: Pick<CloudWitnessOptions, 'self' | 'monotonic' | 'logger' | 'emit' | 'deliver'> & {
    topologyDir: string
    timing: Pick<ConsensusTiming, 'tickMs' | 'electionTicks'>
  },
): CloudWitness | null {
  const w = topology.witness
  if (w?.type !== 'cloud') return null
  assert(
    w.endpoint !== undefined && w.container !== undefined && w.credentialsFile !== undefined,
    'the topology loader requires endpoint, container and credentialsFile for a cloud witness',
  )
  // A bad credentials file stops the start here (exit 2), naming the file.
  const credentials = loadCloudCredentials(resolvePath(o.topologyDir, w.credentialsFile))
  const budgetMs = o.timing.tickMs * o.timing.electionTicks
  const store = {
    endpoint: w.endpoint,
    container: w.container,
    blob: w.blob ?? `${topology.cluster.name}/${w.name}.json`,
    credentials,
    budgetMs,
    bytesMax: witnessBlobBytesMax,
  }
  return new CloudWitness({
    ...o,
    witness: w.name,
    cluster: topology.cluster.name,
    openStore: async () => new (await import('../storage/azureBlobStore.ts')).AzureBlobStore(store),
    electionTicks: o.timing.electionTicks,
    budgetMs,
    probeEveryMs: Math.min(10_000, Math.max(1_000, budgetMs)),
  })
}
