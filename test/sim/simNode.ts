/**
 * A simulated server: the real consensus core (or witness core) with in-memory storage that
 * has a page cache and a disk. What was written but not synced is lost on a crash; a restart
 * rebuilds the core from what was synced, exactly as the node runtime does from its WAL.
 *
 * The state machine is a key-value map (`kv`), or — in the failover model — the real cluster
 * database, fed the way the runtime feeds it: command entries through `applyCommitted`, no-ops
 * and configuration entries as `skip`, snapshots as the database's records.
 */
import { RaftCore, type RaftOptions } from '../../src/consensus/raftCore.ts'
import type {
  Configuration,
  Entry,
  HardState,
  Message,
  Ready,
  SnapshotMeta,
} from '../../src/consensus/types.ts'
import { WitnessCore } from '../../src/consensus/witnessCore.ts'
import {
  ClusterDatabase,
  type DatabaseSnapshot,
  type DatabaseUnsafe,
} from '../../src/database/clusterDatabase.ts'
import { applyCommitted, type CommittedOutcome } from '../../src/database/committedCommand.ts'
import { functionalLevelMax } from '../../src/database/functionalLevel.ts'
import { drainNow, type ReadyMachine } from '../../src/runtime/readyDriver.ts'

export interface Durable {
  hardState: HardState
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | null
  entries: Entry[]
}

export interface NodeHooks {
  send(m: Message): void
  /** Entries that reached this node's disk (log matching is checked on them). */
  persisted(node: SimNode, entries: Entry[], hardState: HardState | null): void
  /** `outcome`: what the cluster database made of a command entry (database mode only). */
  applied(node: SimNode, entry: Entry, outcome?: CommittedOutcome): void
  readReady(node: SimNode, ctx: string, index: number): void
  becameLeader(node: SimNode, term: number): void
  snapshotInstalled(node: SimNode, meta: SnapshotMeta): void
  /** The node is about to wipe its state (its database still holds what it had). */
  resetting?(node: SimNode): void
  reset(node: SimNode): void
}

const emptyHardState: HardState = { term: 0, vote: null, commit: 0 }
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class SimNode {
  readonly id: string
  readonly kind: 'node' | 'witness'
  readonly site: string
  core: RaftCore | WitnessCore | null = null
  corrupted = false
  /** What survives a crash. */
  disk: Durable = { hardState: { ...emptyHardState }, snapshot: null, entries: [] }
  /** Written, not yet synced: gone on a crash. */
  private cache: { hardState: HardState | null } = { hardState: null }
  /** The key-value state machine. */
  kv = new Map<string, string>()
  /** The cluster database (database mode), and per group the index of the entry that gave it its holder. */
  db: ClusterDatabase
  holdings = new Map<string, number>()
  readonly database: { unsafe: DatabaseUnsafe } | null
  appliedIndex = 0
  private readonly options: () => RaftOptions
  private readonly initialConfig: Configuration
  private readonly hooks: NodeHooks
  private readonly sendBeforePersist: boolean
  private readonly witnessUnsafe: boolean
  /** With sendBeforePersist: the chance that a crash lands between sending and syncing. */
  private readonly crashBeforeSync: () => boolean
  /** A crash after a Ready's early replication left and before the Ready is durable. */
  private readonly crashAfterEarlySend: () => boolean
  private readonly supportedLevel: number

  constructor(init: {
    id: string
    kind: 'node' | 'witness'
    site: string
    options: () => RaftOptions
    initialConfig: Configuration
    hooks: NodeHooks
    sendBeforePersist: boolean
    witnessSkipsUpToDateCheck: boolean
    crashBeforeSync: () => boolean
    crashAfterEarlySend?: () => boolean
    /** Run the cluster database as the state machine (with these test-only switches). */
    database?: { unsafe: DatabaseUnsafe } | null
    /** The highest functional level it reads (an older release's: `--older-peer`); this build's when absent. */
    supportedLevel?: number
  }) {
    this.id = init.id
    this.kind = init.kind
    this.site = init.site
    this.options = init.options
    this.initialConfig = init.initialConfig
    this.hooks = init.hooks
    this.sendBeforePersist = init.sendBeforePersist
    this.witnessUnsafe = init.witnessSkipsUpToDateCheck
    this.crashBeforeSync = init.crashBeforeSync
    this.crashAfterEarlySend = init.crashAfterEarlySend ?? (() => false)
    this.database = init.database ?? null
    this.supportedLevel = init.supportedLevel ?? functionalLevelMax
    this.db = this.newDatabase()
  }

  private newDatabase(): ClusterDatabase {
    return new ClusterDatabase({ unsafe: this.database?.unsafe ?? {} })
  }

  /** The state machine's snapshot bytes. */
  private stateBytes(): Uint8Array {
    if (this.database === null) return encoder.encode(JSON.stringify([...this.kv]))
    const view = this.db.snapshotView()
    // The audit trail is left out: nothing here reads it, and it would dominate every snapshot.
    return encoder.encode(
      JSON.stringify({
        appliedIndex: view.appliedIndex,
        records: view.records,
        holdings: [...this.holdings],
      }),
    )
  }

  /** Loads the state machine from snapshot bytes (empty: the initial state). */
  private loadState(data: Uint8Array | null): void {
    const text = data === null ? '' : decoder.decode(data)
    if (this.database === null) {
      this.kv = new Map(JSON.parse(text || '[]') as [string, string][])
      return
    }
    if (text === '') {
      this.db = this.newDatabase()
      this.holdings = new Map()
      return
    }
    const parsed = JSON.parse(text) as {
      appliedIndex: number
      records: DatabaseSnapshot['records']
      holdings: [string, number][]
    }
    this.db = ClusterDatabase.restore(
      { format: 'geocluster.database/1', appliedIndex: parsed.appliedIndex, records: parsed.records },
      { unsafe: this.database.unsafe },
    )
    this.holdings = new Map(parsed.holdings)
  }

  get alive(): boolean {
    return this.core !== null
  }

  start(): void {
    this.cache = { hardState: null }
    if (this.kind === 'witness') {
      this.core = new WitnessCore(
        {
          id: this.id,
          electionTicks: this.options().electionTicks,
          ...(this.witnessUnsafe ? { unsafe: { skipUpToDateCheck: true } } : {}),
        },
        this.disk.hardState,
      )
      return
    }
    const snap = this.disk.snapshot
    const snapIndex = snap?.meta.index ?? 0
    this.loadState(snap === null ? null : snap.data)
    this.appliedIndex = snapIndex
    this.core = new RaftCore(this.options(), {
      hardState: { ...this.disk.hardState },
      snapshot: snap?.meta ?? { index: 0, term: 0 },
      ...(snap === null ? {} : { snapshotData: snap.data }),
      entries: this.disk.entries.filter((e) => e.index > snapIndex),
      initialConfig: this.initialConfig,
    })
  }

  crash(): void {
    this.core = null
    this.cache = { hardState: null }
  }

  /** Feeds a message and works off every Ready it causes. */
  step(m: Message): void {
    if (this.core === null) return
    this.core.step(m)
    this.drain()
  }

  tick(): void {
    if (this.core === null) return
    this.core.tick()
    this.drain()
  }

  /** Works off every Ready with the runtime's own cycle (readyDriver.ts), on this in-memory disk. */
  drain(): void {
    const core = this.core
    if (core === null) return
    drainNow({
      core,
      live: () => this.core === core,
      machine: this.machine(core),
      persist: (rd) => this.persistOrCrash(rd),
      transport: { send: (m) => (this.sentEarly ? undefined : this.hooks.send(m)) },
      advanced: () => {
        this.sentEarly = false
      },
    })
  }

  /** Compacts the log behind a snapshot of the state machine (the runtime does this every N entries). */
  snapshot(): void {
    const core = this.core
    if (!(core instanceof RaftCore) || this.appliedIndex <= (this.disk.snapshot?.meta.index ?? 0)) return
    const index = this.appliedIndex
    const term = core.termOf(index)
    if (term === undefined) return
    const meta: SnapshotMeta = { index, term, config: core.configAt(index) }
    const data = this.stateBytes()
    this.disk.snapshot = { meta, data }
    this.disk.entries = this.disk.entries.filter((e) => e.index > index)
    core.compact(meta, data)
  }

  /** The state machine's side of a Ready, as the node runtime's (nodeReplica.ts) does it. */
  private machine(core: RaftCore | WitnessCore): ReadyMachine {
    return {
      reset: () => {
        this.hooks.resetting?.(this)
        this.disk = {
          hardState: { ...emptyHardState, term: this.disk.hardState.term },
          snapshot: null,
          entries: [],
        }
        this.kv = new Map()
        this.loadState(null)
        this.appliedIndex = 0
        this.hooks.reset(this)
      },
      installSnapshot: (snapshot) => {
        this.disk.snapshot = { meta: snapshot.meta, data: snapshot.data }
        this.disk.entries = []
        this.loadState(snapshot.data)
        this.appliedIndex = snapshot.meta.index
        this.hooks.snapshotInstalled(this, snapshot.meta)
      },
      apply: (rd) => {
        for (const e of rd.committedEntries) {
          let outcome: CommittedOutcome | undefined
          if (this.database !== null) outcome = this.applyToDatabase(e)
          else if (e.kind === 'command') {
            const cmd = JSON.parse(decoder.decode(e.data)) as { key: string; value: string }
            this.kv.set(cmd.key, cmd.value)
          }
          this.appliedIndex = e.index
          this.hooks.applied(this, e, outcome)
        }
      },
      readState: (r) => this.hooks.readReady(this, r.ctx, r.index),
      softState: (soft) => {
        if (soft.role === 'leader' && core instanceof RaftCore)
          this.hooks.becameLeader(this, core.status().term)
      },
    }
  }

  /** Set while a Ready's messages went out before its sync (test-only `sendBeforePersist`). */
  private sentEarly = false

  private persistOrCrash(rd: Ready): boolean {
    if ((rd.sendableBeforePersist ?? 0) > 0 && rd.mustSync && this.crashAfterEarlySend()) {
      this.crash()
      return false
    }
    if (this.sendBeforePersist && rd.mustSync) {
      // Test-only: reply before the disk has it, and sometimes crash in between.
      for (const m of rd.messages.slice(rd.sendableBeforePersist ?? 0)) this.hooks.send(m)
      this.sentEarly = true
      if (this.crashBeforeSync()) {
        this.sentEarly = false
        this.crash()
        return false
      }
    }
    this.persist(rd)
    return true
  }

  /** As the runtime applies an entry: commands through `applyCommitted`, the rest as `skip`. */
  private applyToDatabase(e: Entry): CommittedOutcome | undefined {
    if (e.kind !== 'command') {
      this.db.skip(e.index)
      return undefined
    }
    const outcome = applyCommitted(this.db, e.index, e.data, this.supportedLevel)
    if (outcome.kind === 'unreadable')
      throw new Error(`${this.id}: committed entry ${e.index} is unreadable: ${outcome.problem}`)
    if (outcome.kind === 'applied' && outcome.result.ok) {
      const c = outcome.envelope.command
      if (c.op === 'group.assign' && c.owner !== null) this.holdings.set(c.name, e.index)
    }
    return outcome
  }

  private persist(rd: Ready): void {
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index
      this.disk.entries = this.disk.entries.filter((e) => e.index < first).concat(rd.entries)
    }
    // A hard state whose term and vote did not change (only the commit index moved) is written
    // without a sync: it reaches the disk with the next fsync, or is lost in a crash.
    if (rd.hardState !== null) this.cache.hardState = { ...rd.hardState }
    if (rd.mustSync && this.cache.hardState !== null) {
      this.disk.hardState = this.cache.hardState
      this.cache.hardState = null
    }
    if (rd.entries.length > 0 || rd.hardState !== null) this.hooks.persisted(this, rd.entries, rd.hardState)
  }
}
