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
import { type LeaderStamp, sameStamp, witnessBlobBytesMax } from '../quorum/cloud/witnessBlob.ts'
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
  /** An idle node reads the blob this often (ms), and so learns of the leader's stamps. */
  probeEveryMs: number
  /** The leader writes its stamp this often (ms). */
  beatEveryMs: number
  /** A leader stamp that changed less than this long ago keeps other candidates away (ms). */
  stickyMs: number
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
  /** The leader stamp last read, and when this node first saw it (monotonic ms). */
  private stampSeen: { stamp: LeaderStamp; at: number } | null = null
  /** When this node last wrote its own stamp as leader. */
  private lastBeatAt = Number.NEGATIVE_INFINITY

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
        const now = this.o.monotonic()
        const t = witnessTurn(read, messages, {
          self: this.o.self,
          witness: this.name,
          cluster: this.o.cluster,
          electionTicks: this.o.electionTicks,
          inLease: (stamp) => this.inLease(stamp, now),
          beatDue: now - this.lastBeatAt >= this.o.beatEveryMs,
        })
        if (!t.ok) {
          this.failed('garbage', `the blob ${store.where} is refused: ${t.problem}`)
          return
        }
        if (t.write !== null) {
          const w = await store.write(t.write.body, t.write.condition, signal)
          // Another member took a turn since the read: decide again from what it wrote.
          if (w.kind === 'conflict') continue
          if (t.beat) this.lastBeatAt = now
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

  /**
   * Whether the leader that wrote `stamp` is alive as far as this node can tell: the stamp
   * changed less than the stickiness window ago by this node's clock. A stamp first seen now
   * counts as fresh (it was written before this read, maybe just before).
   */
  private inLease(stamp: LeaderStamp, now: number): boolean {
    if (this.stampSeen === null || !sameStamp(this.stampSeen.stamp, stamp))
      this.stampSeen = { stamp, at: now }
    return now - this.stampSeen.at < this.o.stickyMs
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

/** Where a topology's cloud witness keeps its blob, and whether its credentials file is usable here. */
export function cloudWitnessSettings(
  topology: Topology,
  topologyDir: string,
): {
  endpoint: string
  container: string
  blob: string
  credentialsFile: string
  problem: string | null
} | null {
  const w = topology.witness
  if (w?.type !== 'cloud' || w.endpoint === undefined || w.container === undefined) return null
  const credentialsFile = resolvePath(topologyDir, w.credentialsFile ?? '')
  let problem: string | null = null
  try {
    loadCloudCredentials(credentialsFile)
  } catch (error) {
    problem = (error as Error).message
  }
  return {
    endpoint: w.endpoint,
    container: w.container,
    blob: blobNameOf(topology),
    credentialsFile,
    problem,
  }
}

function blobNameOf(topology: Topology): string {
  return topology.witness?.blob ?? `${topology.cluster.name}/${topology.witness?.name}.json`
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
    blob: blobNameOf(topology),
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
    ...cloudWitnessPace(budgetMs),
  })
}

/**
 * How often members read the blob and the leader stamps it, against the election timeout E:
 * a live leader's stamp changes every E/4, so a member that reads it sees a stamp first seen
 * less than E/4 (plus a write's latency) ago, within the E/2 window; a dead leader's last stamp
 * was seen by a member that reads every E/4 at least 3E/4 before that member's election
 * timeout ends, past the window, so the first candidate after E gets the vote.
 */
export function cloudWitnessPace(electionTimeoutMs: number) {
  return {
    probeEveryMs: Math.max(50, Math.floor(electionTimeoutMs / 4)),
    beatEveryMs: Math.max(50, Math.floor(electionTimeoutMs / 4)),
    stickyMs: Math.floor(electionTimeoutMs / 2),
  }
}
