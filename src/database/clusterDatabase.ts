/**
 * The cluster database: a deterministic state machine fed by committed log entries. Pure: no
 * clock, no I/O, no randomness; the same commands in the same order give the same state on
 * every node. A command that does not make sense against the current state is refused with a
 * reason and changes nothing, identically everywhere.
 */
import { assert } from '../errors/assert.ts'
import { alertsMax } from './alertRules.ts'
import { foreignProblem, restoreSteps } from './clusterBackup.ts'
import { type Command, type CommandOp, commandSubject } from './commands.ts'
import {
  type AlertRecord,
  type CheckpointRecord,
  type ClusterRecord,
  type ConfigRecord,
  type ConstraintRecord,
  type DbRecord,
  type GroupRecord,
  groupDefaults,
  type NodeRecord,
  type ResourceRecord,
  type SiteRecord,
  type WitnessRecord,
} from './entities.ts'
import { applyResourceCleanup, type CleanupStore } from './failureCleanup.ts'
import { functionalLevelDefault } from './functionalLevel.ts'
import { applyConstraintCommand, type ConstraintStore } from './groupConstraints.ts'
import { configKeyProblem, paths } from './keySpace.ts'
import { RecordStore } from './recordStore.ts'
import {
  checkpointBytesMax,
  checkpointPaths,
  isResourceTypeName,
  parseResourceParams,
  resourceTypeNames,
} from './resourceTypes.ts'
import {
  ownerListProblem,
  preferredOutsidePossible,
  type SettingsChange,
  updatedGroup,
  updatedResource,
} from './settingsUpdates.ts'

export type Refusal = {
  ok: false
  /** `restart-needed`: the change would restart a running resource and did not say it may. */
  reason: 'invalid' | 'not-found' | 'conflict' | 'quota' | 'restart-needed'
  message: string
  path?: string
}
export type ApplyResult =
  | {
      ok: true
      changed: string[]
      /** A settings change (`group.update`, `resource.update`): the fields that differ now. */
      fields?: string[]
      /** A settings change that restarts the resource where it runs. */
      restarting?: boolean
    }
  | Refusal

export interface DatabaseSnapshot {
  format: 'geocluster.database/1'
  appliedIndex: number
  records: [string, DbRecord][]
  /** The newest audit records (absent in snapshots from before the audit trail). */
  audit?: AuditRecord[]
}

/** A database snapshot's contents by reference (see `snapshotView`). */
export interface DatabaseSnapshotView {
  appliedIndex: number
  records: readonly (readonly [string, DbRecord])[]
  audit: readonly AuditRecord[]
}

/** Who changed the database, when, and with what result: one per applied command. */
export interface AuditRecord {
  index: number
  /** Wall-clock ms the change was proposed (the proposer's clock, for people). */
  at: number
  /** `admin@<node>` for a request through a node's API, `node:<name>` for the cluster itself. */
  by: string
  op: string
  subject: string
  ok: boolean
  reason?: string
}

/** Audit records kept (the oldest drop first), in snapshots too. */
export const auditRecordsKept = 5_000

/**
 * How much the cluster database holds at most. Every node keeps it in memory and writes it in
 * every snapshot (which catch-up sends whole), so it is bounded well below what a snapshot may
 * be (512 MiB); what would go past a quota is refused, the same way on every node.
 */
export const databaseLimits = {
  bytesMax: 256 * 1024 * 1024,
  configKeysMax: 100_000,
  configBytesMax: 64 * 1024 * 1024,
  /** Checkpoint files of all resources together (each resource's own limit is smaller). */
  checkpointBytesMax: 64 * 1024 * 1024,
  groupsMax: 1_000,
  resourcesMax: 10_000,
} as const

/**
 * What a restore replaces; every other record (membership, alerts) stays. Operators' moves and
 * bans go with the groups they were about: a restored cluster starts without any.
 */
const restoredKinds: ReadonlySet<DbRecord['kind']> = new Set([
  'group',
  'resource',
  'config',
  'checkpoint',
  'constraint',
])

/** Commands that only remove or shrink: never refused for want of space. */
const shrinking: ReadonlySet<Command['op']> = new Set([
  'config.delete',
  'group.delete',
  'resource.delete',
  'node.evict',
  'alert.delete',
])

const mib = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MiB`

const refuse = (reason: Refusal['reason'], message: string, path?: string): Refusal =>
  path === undefined ? { ok: false, reason, message } : { ok: false, reason, message, path }

/** Decoded size of a base64 string. */
function base64Bytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0
  return Math.floor((data.length * 3) / 4) - padding
}

/** A new group's failover bookkeeping. */
function groupFailoverFields(): Pick<
  GroupRecord,
  'lastOwner' | 'moving' | 'failovers' | 'failbacks' | 'failed'
> {
  return { lastOwner: null, moving: null, failovers: [], failbacks: [], failed: null }
}

/**
 * Test-only switches that each remove one rule, so the simulator can prove it catches the loss
 * (test/sim/mutations.test.ts). Never set by the runtime, the CLI or a topology.
 */
export interface DatabaseUnsafe {
  /** UNSAFE: group.assign and group.move ignore the holding they `expect` (no compare-and-set). */
  skipHoldingCheck?: boolean
}

export class ClusterDatabase {
  private readonly unsafe: DatabaseUnsafe
  private readonly records = new RecordStore()
  /** resource name -> group name; resource names are unique across the cluster. */
  private readonly resourceGroups = new Map<string, string>()
  private applied = 0
  private audit: AuditRecord[] = []
  /** What the constraint and cleanup commands (their own modules) read and change. */
  private readonly constraintStore: ConstraintStore & CleanupStore = {
    resource: (name) => this.resource(name),
    resources: () => this.resources(),
    group: (name) => this.group(name),
    node: (name) => this.node(name),
    nodes: () => this.nodes(),
    constraints: (group) => this.constraints(group),
    get: (path) => this.records.get(path),
    set: (path, record) => this.records.set(path, record),
    delete: (path) => this.records.delete(path),
  }

  constructor(options: { unsafe?: DatabaseUnsafe } = {}) {
    this.unsafe = options.unsafe ?? {}
  }

  get appliedIndex(): number {
    return this.applied
  }

  /** Applies the command of log entry `index`. Indexes must arrive in increasing order. */
  apply(index: number, command: Command): ApplyResult {
    assert(index > this.applied, () => `apply index ${index} after ${this.applied}`)
    this.applied = index
    return this.applyCommand(index, command)
  }

  private applyCommand(index: number, command: Command): ApplyResult {
    const full = this.quotaRefusal(command)
    if (full !== null) return full
    switch (command.op) {
      case 'cluster.bootstrap':
        return this.bootstrap(index, command)
      case 'cluster.restore':
        return this.restoreBackup(index, command)
      case 'maintenance.set':
        return this.maintenanceSet(command)
      case 'cluster.raiseTokenFloor':
        return this.raiseTokenFloor(command.floor)
      case 'cluster.setLevel':
        return this.setLevel(command.level)
      case 'config.set':
        return this.configSet(index, command.key, command.value)
      case 'config.delete':
        return this.configDelete(command.key)
      case 'group.create':
        return this.groupCreate(command)
      case 'group.update':
        return this.groupUpdate(command)
      case 'group.delete':
        return this.groupDelete(command.name)
      case 'group.setTarget':
        return this.groupSetTarget(command.name, command.target)
      case 'group.assign':
        return this.groupAssign(index, command)
      case 'group.move':
        return this.groupMove(command)
      case 'group.release':
        return this.groupRelease(command.name, command.token)
      case 'group.fail':
        return this.groupFail(index, command.name, command.reason)
      case 'node.add':
        return this.nodeAdd(command)
      case 'node.evict':
        return this.nodeEvict(command.name)
      case 'node.setAddress':
        return this.nodeSetAddress(command.name, command.address)
      case 'node.setPaused':
        return this.nodeSetPaused(command.name, command.paused, command.drain === true)
      case 'resource.create':
        return this.resourceCreate(command)
      case 'resource.update':
        return this.resourceUpdate(command)
      case 'resource.delete':
        return this.resourceDelete(command.name)
      case 'resource.setDependencies':
        return this.resourceSetDependencies(command.name, command.dependsOn)
      case 'resource.setTarget':
        return this.resourceSetTarget(command.name, command.target)
      case 'resource.checkpoint':
        return this.resourceCheckpoint(index, command)
      case 'resource.markFailed':
        return this.resourceMarkFailed(index, command.name, command.reason)
      case 'constraint.add':
      case 'constraint.clear':
      case 'constraint.expire':
        return applyConstraintCommand(this.constraintStore, index, command)
      case 'resource.cleanup':
        return applyResourceCleanup(this.constraintStore, command)
      case 'alert.add':
        return this.alertAdd(command)
      case 'alert.delete':
        return this.alertDelete(command.name)
    }
  }

  /** What the database holds, against its limits (status, metrics, the quota checks). */
  usage(): { bytes: number; configKeys: number; configBytes: number; checkpointBytes: number } {
    return {
      bytes: this.records.bytes,
      configKeys: this.records.countOf('config'),
      configBytes: this.records.bytesOf('config'),
      checkpointBytes: this.records.bytesOf('checkpoint'),
    }
  }

  /** A command that would take the database past one of its limits, refused; else null. */
  private quotaRefusal(command: Command): Refusal | null {
    if (shrinking.has(command.op)) return null
    const r = this.records
    // A generous bound on what the command adds: its own encoding and a record's framing.
    const adds = JSON.stringify(command).length + 256
    if (r.bytes + adds > databaseLimits.bytesMax)
      return refuse(
        'quota',
        `the cluster database is full (${mib(r.bytes)} of ${mib(databaseLimits.bytesMax)})`,
      )
    if (command.op === 'config.set') {
      const path = paths.config(command.key)
      if (!r.has(path) && r.countOf('config') >= databaseLimits.configKeysMax)
        return refuse('quota', `config holds ${databaseLimits.configKeysMax} keys, the most it may`, 'key')
      if (r.bytesOf('config') - r.weightOf(path) + adds > databaseLimits.configBytesMax)
        return refuse(
          'quota',
          `config would hold more than ${mib(databaseLimits.configBytesMax)} (it holds ${mib(r.bytesOf('config'))})`,
          'value',
        )
    }
    if (command.op === 'resource.checkpoint') {
      const held = r.bytesOf('checkpoint') - r.weightOf(paths.checkpoint(command.name))
      if (held + adds > databaseLimits.checkpointBytesMax)
        return refuse(
          'quota',
          `checkpoints would hold more than ${mib(databaseLimits.checkpointBytesMax)} in all (others hold ${mib(held)})`,
          'files',
        )
    }
    if (command.op === 'group.create' && r.countOf('group') >= databaseLimits.groupsMax)
      return refuse('quota', `the cluster has ${databaseLimits.groupsMax} groups, the most it may`, 'name')
    if (command.op === 'resource.create' && r.countOf('resource') >= databaseLimits.resourcesMax)
      return refuse(
        'quota',
        `the cluster has ${databaseLimits.resourcesMax} resources, the most it may`,
        'name',
      )
    return null
  }

  /** Applies a command and records who proposed it and when in the audit trail. */
  applyAs(index: number, command: Command, who: { by: string; at: number }): ApplyResult {
    const result = this.apply(index, command)
    const subject = commandSubject(command)
    this.audit.push({
      index,
      at: who.at,
      by: who.by,
      op: command.op,
      subject,
      ok: result.ok,
      ...(result.ok ? {} : { reason: result.message }),
    })
    this.trimAudit()
    return result
  }

  /** Audit records after index `after`, oldest first, at most the newest `limit`. */
  auditTrail(after = 0, limit = auditRecordsKept): AuditRecord[] {
    const newer = this.audit.filter((a) => a.index > after)
    return newer.slice(Math.max(0, newer.length - limit)).map((a) => ({ ...a }))
  }

  /**
   * A committed command every node refuses without applying (a field this code does not accept
   * — an entry from before a check was added): the index is applied, the audit says why.
   */
  refuse(index: number, what: { op: CommandOp; by: string; at: number; reason: string }): void {
    this.skip(index)
    this.audit.push({
      index,
      at: what.at,
      by: what.by,
      op: what.op,
      subject: '',
      ok: false,
      reason: what.reason,
    })
    this.trimAudit()
  }

  /**
   * Keeps the newest `auditRecordsKept` records. One at a time from the front: V8 trims an
   * array's front in place, while `splice(0, n)` copies the 5,000 that stay, on every write once
   * the trail is full (about 50 µs a write, bench:db's profile).
   */
  private trimAudit(): void {
    while (this.audit.length > auditRecordsKept) this.audit.shift()
  }

  /** Marks an index as applied without a command (leader no-ops, configuration entries). */
  skip(index: number): void {
    assert(index > this.applied, () => `skip index ${index} after ${this.applied}`)
    this.applied = index
  }

  // ---- reads -------------------------------------------------------------------------------

  get(path: string): DbRecord | undefined {
    return this.records.get(path)
  }

  /** Key paths under `prefix` (all when empty), sorted, with their records. */
  list(prefix = ''): [string, DbRecord][] {
    const out: [string, DbRecord][] = []
    for (const entry of this.records) if (entry[0].startsWith(prefix)) out.push(entry)
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  }

  cluster(): ClusterRecord | undefined {
    return this.typed(paths.cluster(), 'cluster')
  }

  witness(): WitnessRecord | undefined {
    return this.typed(paths.witness(), 'witness')
  }

  sites(): SiteRecord[] {
    return this.ofKind('site')
  }

  nodes(): NodeRecord[] {
    return this.ofKind('node')
  }

  node(name: string): NodeRecord | undefined {
    return this.typed(paths.node(name), 'node')
  }

  groups(): GroupRecord[] {
    return this.ofKind('group')
  }

  group(name: string): GroupRecord | undefined {
    return this.typed(paths.group(name), 'group')
  }

  resources(group?: string): ResourceRecord[] {
    const all = this.ofKind('resource')
    return group === undefined ? all : all.filter((r) => r.group === group)
  }

  checkpoint(resource: string): CheckpointRecord | undefined {
    return this.typed(paths.checkpoint(resource), 'checkpoint')
  }

  resource(name: string): ResourceRecord | undefined {
    const group = this.resourceGroups.get(name)
    return group === undefined ? undefined : this.typed(paths.resource(group, name), 'resource')
  }

  /** Operators' placement constraints (of one group, or all), by group and node. */
  constraints(group?: string): ConstraintRecord[] {
    const out: ConstraintRecord[] = []
    for (const record of this.records.ofKind('constraint')) {
      const c = record as ConstraintRecord
      if (group === undefined || c.group === group) out.push(c)
    }
    const key = (c: ConstraintRecord) => `${c.group}/${c.node}`
    return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
  }

  alerts(): AlertRecord[] {
    return this.ofKind('alert')
  }

  /** How many alerts there are, without listing them (asked for every event a node sees). */
  get alertCount(): number {
    return this.records.countOf('alert')
  }

  configGet(key: string): ConfigRecord | undefined {
    return this.typed(paths.config(key), 'config')
  }

  configList(prefix = ''): ConfigRecord[] {
    return this.list(paths.config(prefix)).map(([, record]) => record as ConfigRecord)
  }

  // ---- snapshots ---------------------------------------------------------------------------

  snapshot(): DatabaseSnapshot {
    return {
      format: 'geocluster.database/1',
      appliedIndex: this.applied,
      records: [...this.records].map(([path, record]) => [path, structuredClone(record)]),
      audit: this.audit.map((a) => ({ ...a })),
    }
  }

  /**
   * This moment's records and audit trail, by reference: records are never changed in place
   * (RecordStore freezes them), so the view stays as it is while the database goes on — a
   * snapshot can be written from it without copying the database first.
   */
  snapshotView(): DatabaseSnapshotView {
    return { appliedIndex: this.applied, records: [...this.records], audit: this.audit.slice() }
  }

  static restore(snapshot: DatabaseSnapshot, options: { unsafe?: DatabaseUnsafe } = {}): ClusterDatabase {
    assert(snapshot.format === 'geocluster.database/1', `unknown snapshot format ${String(snapshot.format)}`)
    const db = new ClusterDatabase(options)
    db.applied = snapshot.appliedIndex
    db.audit = (snapshot.audit ?? []).map((a) => ({ ...a }))
    for (const [path, stored] of snapshot.records) {
      // Groups from before the failover fields existed get their defaults.
      const record: DbRecord =
        stored.kind === 'group'
          ? {
              ...groupFailoverFields(),
              ...({ failoverThreshold: null, failoverPeriodMs: groupDefaults.failoverPeriodMs } as const),
              ...stored,
            }
          : stored
      db.records.set(path, record)
      if (record.kind === 'resource') db.resourceGroups.set(record.name, record.group)
    }
    return db
  }

  // ---- commands ----------------------------------------------------------------------------

  private bootstrap(index: number, c: Extract<Command, { op: 'cluster.bootstrap' }>): ApplyResult {
    if (this.cluster() !== undefined) return refuse('conflict', 'the cluster is already bootstrapped')
    const seen = new Set<string>()
    const changed: string[] = []
    const put = (path: string, record: DbRecord) => {
      this.records.set(path, record)
      changed.push(path)
    }
    for (const [i, site] of c.sites.entries()) {
      if (seen.has(`site:${site.name}`))
        return refuse('invalid', `duplicate site ${site.name}`, `sites[${i}].name`)
      seen.add(`site:${site.name}`)
      for (const [j, node] of site.nodes.entries()) {
        if (seen.has(`member:${node.name}`)) {
          return refuse('invalid', `duplicate node ${node.name}`, `sites[${i}].nodes[${j}].name`)
        }
        seen.add(`member:${node.name}`)
      }
    }
    if (c.witness !== null && seen.has(`member:${c.witness.name}`)) {
      return refuse('invalid', `witness ${c.witness.name} has the name of a node`, 'witness.name')
    }
    put(paths.cluster(), {
      kind: 'cluster',
      name: c.cluster.name,
      quorumModel: c.cluster.quorumModel,
      bootstrapIndex: index,
      ...(c.cluster.id === undefined ? {} : { id: c.cluster.id }),
      ...(c.cluster.functionalLevel === undefined ? {} : { functionalLevel: c.cluster.functionalLevel }),
    })
    for (const site of c.sites) {
      put(paths.site(site.name), { kind: 'site', name: site.name })
      for (const node of site.nodes) put(paths.node(node.name), { kind: 'node', site: site.name, ...node })
    }
    if (c.witness !== null) put(paths.witness(), { kind: 'witness', ...c.witness })
    return { ok: true, changed }
  }

  /** Only ever raised: a lower floor changes nothing. */
  private raiseTokenFloor(floor: number): ApplyResult {
    const cluster = this.cluster()
    if (cluster === undefined) return refuse('conflict', 'the cluster is not bootstrapped')
    if (floor <= (cluster.tokenFloor ?? 0)) return { ok: true, changed: [] }
    this.records.set(paths.cluster(), { ...cluster, tokenFloor: floor })
    return { ok: true, changed: [paths.cluster()] }
  }

  /** The cluster functional level: only ever raised (whoever proposes checks every member supports it). */
  private setLevel(level: number): ApplyResult {
    const cluster = this.cluster()
    if (cluster === undefined) return refuse('conflict', 'the cluster is not bootstrapped')
    const current = this.functionalLevel()
    if (level < current)
      return refuse(
        'conflict',
        `the cluster is at functional level ${current}, and a functional level is never lowered`,
        'level',
      )
    if (level === current) return { ok: true, changed: [] }
    this.records.set(paths.cluster(), { ...cluster, functionalLevel: level })
    return { ok: true, changed: [paths.cluster()] }
  }

  /** The cluster functional level: which command kinds it may commit (functionalLevel.ts). */
  functionalLevel(): number {
    return this.cluster()?.functionalLevel ?? functionalLevelDefault
  }

  /**
   * The highest fencing token this history has issued or carries: a node that gives the
   * history up keeps it, so that tokens never go back (see `cluster.raiseTokenFloor`).
   */
  highestToken(): number {
    return Math.max(this.cluster()?.tokenFloor ?? 0, ...this.groups().map((g) => g.fencingToken))
  }

  /**
   * An authoritative restore: the backup's groups, resources, config and checkpoints replace
   * this database's; membership (cluster, sites, nodes, witness) stays as the log made it. Every
   * group must be offline and released first — what deleting it asks — so nothing of the
   * configuration it replaces still runs anywhere. The content is rebuilt with the ordinary
   * commands on a scratch database holding this membership, so it passes every check it passed
   * when first made, and all of it or none is taken. Fencing tokens issued from now on start
   * above every token this history and the backup's ever issued.
   */
  private restoreBackup(index: number, c: Extract<Command, { op: 'cluster.restore' }>): ApplyResult {
    const cluster = this.cluster()
    const foreign = foreignProblem(c.source.cluster, cluster)
    if (foreign !== null || cluster === undefined) return refuse('invalid', foreign ?? '', 'source.cluster')
    const held = this.groups().filter((g) => g.target === 'online' || g.owner !== null)
    if (held.length > 0)
      return refuse(
        'conflict',
        `a restore replaces every group: take ${held.map((g) => g.name).join(', ')} offline first (and wait until ${held.length === 1 ? 'it is' : 'they are'} released)`,
      )
    const scratch = new ClusterDatabase({ unsafe: this.unsafe })
    for (const [path, record] of this.records)
      if (!restoredKinds.has(record.kind)) scratch.records.set(path, record)
    for (const step of restoreSteps(c.content)) {
      const result =
        step.op === 'resource.checkpoint'
          ? scratch.resourceCheckpoint(index, step, true)
          : scratch.applyCommand(index, step)
      if (!result.ok) {
        const subject = 'name' in step ? ` ${step.name}` : 'key' in step ? ` ${step.key}` : ''
        return refuse(
          result.reason,
          `the backup cannot be restored here: ${step.op}${subject}: ${result.message}`,
        )
      }
    }
    const floor = Math.max(this.highestToken(), c.source.highestToken)
    const changed = new Set([...this.records.keys(), ...scratch.records.keys()])
    this.records.clear()
    this.resourceGroups.clear()
    for (const [path, record] of scratch.records) this.records.set(path, record)
    for (const [resource, group] of scratch.resourceGroups) this.resourceGroups.set(resource, group)
    this.records.set(paths.cluster(), { ...cluster, tokenFloor: floor })
    return { ok: true, changed: [...changed] }
  }

  private configSet(index: number, key: string, value: string): ApplyResult {
    const problem = configKeyProblem(key)
    if (problem !== null) return refuse('invalid', `config key ${problem}`, 'key')
    const path = paths.config(key)
    this.records.set(path, { kind: 'config', key, value, version: index })
    return { ok: true, changed: [path] }
  }

  private configDelete(key: string): ApplyResult {
    const path = paths.config(key)
    if (!this.records.delete(path)) return refuse('not-found', `no config key ${key}`, 'key')
    return { ok: true, changed: [path] }
  }

  private groupCreate(c: Extract<Command, { op: 'group.create' }>): ApplyResult {
    if (this.group(c.name) !== undefined) return refuse('conflict', `group ${c.name} already exists`, 'name')
    for (const field of ['preferredOwners', 'possibleOwners'] as const) {
      const problem = ownerListProblem(c[field], (n) => this.node(n))
      if (problem !== null) return refuse('invalid', problem, field)
    }
    const outside = preferredOutsidePossible(c.preferredOwners, c.possibleOwners)
    if (outside !== null) return refuse('invalid', outside, 'preferredOwners')
    if (new Set(c.antiAffinity).size !== c.antiAffinity.length) {
      return refuse('invalid', 'anti-affinity classes repeat', 'antiAffinity')
    }
    const record: GroupRecord = {
      kind: 'group',
      name: c.name,
      preferredOwners: [...c.preferredOwners],
      possibleOwners: [...c.possibleOwners],
      failback: c.failback,
      antiAffinity: [...c.antiAffinity],
      target: 'offline',
      owner: null,
      fencingToken: 0,
      ...groupFailoverFields(),
      failoverThreshold: c.failoverThreshold ?? null,
      failoverPeriodMs: c.failoverPeriodMs ?? groupDefaults.failoverPeriodMs,
    }
    this.records.set(paths.group(c.name), record)
    return { ok: true, changed: [paths.group(c.name)] }
  }

  private groupUpdate(c: Extract<Command, { op: 'group.update' }>): ApplyResult {
    const group = this.group(c.name)
    if (group === undefined) return refuse('not-found', `no group ${c.name}`, 'name')
    return this.settingsChanged(
      paths.group(c.name),
      updatedGroup(group, c, (n) => this.node(n)),
    )
  }

  private resourceUpdate(c: Extract<Command, { op: 'resource.update' }>): ApplyResult {
    const r = this.resource(c.name)
    if (r === undefined) return refuse('not-found', `no resource ${c.name}`, 'name')
    const group = this.group(r.group)
    assert(group !== undefined, `resource ${c.name} has no group ${r.group}`)
    return this.settingsChanged(paths.resource(r.group, r.name), updatedResource(r, group, c))
  }

  /** Writes a settings change (only when a field differs) and says what changed. */
  private settingsChanged(path: string, change: SettingsChange<DbRecord> | Refusal): ApplyResult {
    if ('ok' in change) return change
    if (change.fields.length === 0) return { ok: true, changed: [], fields: [], restarting: false }
    this.records.set(path, change.record)
    return { ok: true, changed: [path], fields: change.fields, restarting: change.restarting }
  }

  private groupDelete(name: string): ApplyResult {
    const group = this.group(name)
    if (group === undefined) return refuse('not-found', `no group ${name}`, 'name')
    const members = this.resources(name).map((r) => r.name)
    if (members.length > 0) {
      return refuse(
        'conflict',
        `group ${name} still has resources (${members.join(', ')}); delete them first`,
      )
    }
    if (group.target === 'online') return refuse('conflict', `group ${name} is online; take it offline first`)
    // A group still held may still be stopping there: a group of the same name created now
    // could start elsewhere before it has. The holder releases it once everything is down.
    if (group.owner !== null)
      return refuse(
        'conflict',
        `group ${name} is still held by ${group.owner} (token ${group.fencingToken}); it is released once everything of it has stopped there`,
      )
    this.records.delete(paths.group(name))
    const changed = [paths.group(name)]
    // A group created later under the same name starts without the old one's moves and bans.
    for (const c of this.constraints(name)) {
      this.records.delete(paths.constraint(name, c.node))
      changed.push(paths.constraint(name, c.node))
    }
    return { ok: true, changed }
  }

  private groupSetTarget(name: string, target: 'online' | 'offline'): ApplyResult {
    const group = this.group(name)
    if (group === undefined) return refuse('not-found', `no group ${name}`, 'name')
    const changed = [paths.group(name)]
    // Starting a group again forgets that it failed and how often it failed over (WSFC).
    this.records.set(
      paths.group(name),
      target === 'online' ? { ...group, target, failed: null, failovers: [] } : { ...group, target },
    )
    if (target === 'online') {
      // Starting a group starts all of its resources and forgets their failures
      // (WSFC Start-ClusterGroup); stopping it leaves their own targets as they are.
      for (const r of this.resources(name)) {
        const path = paths.resource(name, r.name)
        this.records.set(path, { ...r, target: 'online', failed: null })
        changed.push(path)
      }
    }
    return { ok: true, changed }
  }

  /**
   * The one way a group gets a new owner (or none): a compare-and-set on the holding it expects.
   * Taking a group from a node that still holds it is a failover only: the leader decided that
   * the holder's lease has certainly ended. Every other change waits for the holder's release.
   */
  private groupAssign(index: number, c: Extract<Command, { op: 'group.assign' }>): ApplyResult {
    const { name, owner } = c
    const group = this.group(name)
    if (group === undefined) return refuse('not-found', `no group ${name}`, 'name')
    const changedHolding = this.holdingProblem(group, c.expect)
    if (changedHolding !== null) return changedHolding
    if (group.owner !== null && owner !== group.owner && c.kind !== 'failover')
      return refuse(
        'conflict',
        `group ${name} is held by ${group.owner}; it moves only once ${group.owner} releases it`,
        'expect',
      )
    if (owner !== null) {
      const node = this.node(owner)
      if (node === undefined) return refuse('not-found', `no node ${owner}`, 'owner')
      if (node.evicted === true) return refuse('conflict', `node ${owner} is evicted`, 'owner')
      if (node.paused === true && group.owner !== owner)
        return refuse('conflict', `node ${owner} is paused; it takes no new groups`, 'owner')
      if (group.possibleOwners.length > 0 && !group.possibleOwners.includes(owner)) {
        return refuse('conflict', `node ${owner} is not a possible owner of group ${name}`, 'owner')
      }
    }
    // The token grows with every new holding: the entry's index (log indexes only grow), above
    // the group's last token and above every token an earlier history issued.
    const token = Math.max(index, group.fencingToken + 1, (this.cluster()?.tokenFloor ?? 0) + 1)
    assert(token > group.fencingToken, () => `fencing token of ${name} would not grow: ${token}`)
    const newOwner = owner !== group.owner
    const at = c.at ?? 0
    const within = (times: number[]) => times.filter((t) => at - t < group.failoverPeriodMs)
    const changed = [paths.group(name)]
    this.records.set(paths.group(name), {
      ...group,
      owner,
      fencingToken: owner === null ? group.fencingToken : token,
      lastOwner: newOwner && group.owner !== null ? group.owner : group.lastOwner,
      moving: null,
      failovers: c.kind === 'failover' ? [...within(group.failovers), at] : group.failovers,
      failbacks: c.kind === 'failback' ? [...within(group.failbacks), at] : group.failbacks,
    })
    // A new owner tries afresh what failed on the old one (the failover after the restarts).
    if (newOwner && owner !== null) {
      for (const r of this.resources(name)) {
        if (r.failed === null) continue
        const path = paths.resource(name, r.name)
        this.records.set(path, { ...r, failed: null })
        changed.push(path)
      }
    }
    return { ok: true, changed }
  }

  /** Null when the group is held as expected; else why the compare-and-set fails. */
  private holdingProblem(
    group: GroupRecord,
    expect: { owner: string | null; token: number },
  ): Refusal | null {
    if (group.owner === expect.owner && group.fencingToken === expect.token) return null
    if (this.unsafe.skipHoldingCheck === true) return null
    return refuse(
      'conflict',
      `group ${group.name} changed hands meanwhile: it is held by ${group.owner ?? 'nobody'} with token ${group.fencingToken}, not by ${expect.owner ?? 'nobody'} with token ${expect.token}`,
      'expect',
    )
  }

  private groupMove(c: Extract<Command, { op: 'group.move' }>): ApplyResult {
    const group = this.group(c.name)
    if (group === undefined) return refuse('not-found', `no group ${c.name}`, 'name')
    if (group.owner === null)
      return refuse('conflict', `group ${c.name} has no owner to move it from`, 'name')
    const changedHolding = this.holdingProblem(group, c.expect)
    if (changedHolding !== null) return changedHolding
    if (c.to !== null) {
      const node = this.node(c.to)
      if (node === undefined || node.evicted === true) return refuse('not-found', `no node ${c.to}`, 'to')
      if (c.to === group.owner) return refuse('conflict', `group ${c.name} is already on ${c.to}`, 'to')
      if (node.paused === true)
        return refuse('conflict', `node ${c.to} is paused; it takes no new groups`, 'to')
      if (group.possibleOwners.length > 0 && !group.possibleOwners.includes(c.to))
        return refuse('conflict', `node ${c.to} is not a possible owner of group ${c.name}`, 'to')
    }
    this.records.set(paths.group(c.name), {
      ...group,
      moving: { to: c.to, avoid: c.avoid ?? null, kind: c.kind, reason: c.reason },
    })
    return { ok: true, changed: [paths.group(c.name)] }
  }

  private groupRelease(name: string, token: number): ApplyResult {
    const group = this.group(name)
    if (group === undefined) return refuse('not-found', `no group ${name}`, 'name')
    if (group.owner === null || group.fencingToken !== token)
      return refuse('conflict', `group ${name} is no longer held with token ${token}`, 'token')
    // The move (if any) stays: placement reads where the group should go next.
    this.records.set(paths.group(name), { ...group, owner: null, lastOwner: group.owner })
    return { ok: true, changed: [paths.group(name)] }
  }

  /**
   * The group is failed: it stays down until an operator starts it. Its owner keeps holding it
   * until it has stopped everything of it and released it (or its lease has certainly ended).
   */
  private groupFail(index: number, name: string, reason: string): ApplyResult {
    const group = this.group(name)
    if (group === undefined) return refuse('not-found', `no group ${name}`, 'name')
    this.records.set(paths.group(name), { ...group, failed: { reason, index } })
    return { ok: true, changed: [paths.group(name)] }
  }

  private nodeAdd(c: Extract<Command, { op: 'node.add' }>): ApplyResult {
    if (this.cluster() === undefined) return refuse('conflict', 'the cluster is not bootstrapped')
    const existing = this.node(c.name)
    if (existing !== undefined) {
      return refuse(
        'conflict',
        existing.evicted === true
          ? `node ${c.name} was evicted; pick a new name`
          : `node ${c.name} already exists`,
        'name',
      )
    }
    if (this.witness()?.name === c.name) return refuse('conflict', `${c.name} is the witness`, 'name')
    for (const n of this.nodes()) {
      if (n.peerId === c.peerId)
        return refuse(
          'conflict',
          `peer ID already belongs to ${n.name}${n.evicted === true ? ' (evicted)' : ''}`,
          'peerId',
        )
      if (n.address === c.address && n.evicted !== true)
        return refuse('conflict', `address already belongs to ${n.name}`, 'address')
    }
    const changed = [paths.node(c.name)]
    if (this.records.get(paths.site(c.site)) === undefined) {
      this.records.set(paths.site(c.site), { kind: 'site', name: c.site })
      changed.push(paths.site(c.site))
    }
    this.records.set(paths.node(c.name), {
      kind: 'node',
      name: c.name,
      site: c.site,
      votes: c.votes,
      peerId: c.peerId,
      address: c.address,
    })
    return { ok: true, changed }
  }

  private nodeSetAddress(name: string, address: string): ApplyResult {
    const node = this.node(name)
    if (node === undefined) return refuse('not-found', `no node ${name}`, 'name')
    if (node.evicted === true) return refuse('conflict', `node ${name} is evicted`, 'name')
    const taken = this.nodes().find((n) => n.name !== name && n.evicted !== true && n.address === address)
    if (taken !== undefined) return refuse('conflict', `address already belongs to ${taken.name}`, 'address')
    this.records.set(paths.node(name), { ...node, address })
    return { ok: true, changed: [paths.node(name)] }
  }

  /** Pause (optionally draining its groups away) or resume a node; resuming ends a drain too. */
  private nodeSetPaused(name: string, paused: boolean, drain: boolean): ApplyResult {
    const node = this.node(name)
    if (node === undefined) return refuse('not-found', `no node ${name}`, 'name')
    if (node.evicted === true) return refuse('conflict', `node ${name} is evicted`, 'name')
    const draining = paused && drain
    if ((node.paused === true) === paused && (node.draining === true) === draining)
      return { ok: true, changed: [] }
    const { paused: _, draining: __, ...rest } = node
    this.records.set(
      paths.node(name),
      paused ? { ...rest, paused: true, ...(draining ? { draining: true } : {}) } : rest,
    )
    return { ok: true, changed: [paths.node(name)] }
  }

  /** Sets or clears one record's maintenance flag (absent when off, as in older records). */
  private maintenanceSet(c: Extract<Command, { op: 'maintenance.set' }>): ApplyResult {
    const record =
      c.scope === 'cluster'
        ? this.cluster()
        : c.subject === null
          ? undefined
          : c.scope === 'node'
            ? this.node(c.subject)
            : c.scope === 'group'
              ? this.group(c.subject)
              : this.resource(c.subject)
    if (record === undefined)
      return c.scope === 'cluster'
        ? refuse('conflict', 'the cluster is not bootstrapped')
        : c.subject === null
          ? refuse('invalid', `name a ${c.scope}`, 'subject')
          : refuse('not-found', `no ${c.scope} ${c.subject}`, 'subject')
    if ((record.maintenance === true) === c.on) return { ok: true, changed: [] }
    const { maintenance: _, ...rest } = record
    const path =
      record.kind === 'cluster'
        ? paths.cluster()
        : record.kind === 'node'
          ? paths.node(record.name)
          : record.kind === 'group'
            ? paths.group(record.name)
            : paths.resource(record.group, record.name)
    this.records.set(path, c.on ? { ...rest, maintenance: true } : rest)
    return { ok: true, changed: [path] }
  }

  private nodeEvict(name: string): ApplyResult {
    const node = this.node(name)
    if (node === undefined) return refuse('not-found', `no node ${name}`, 'name')
    if (node.evicted === true) return refuse('conflict', `node ${name} is already evicted`, 'name')
    const changed = [paths.node(name)]
    this.records.set(paths.node(name), { ...node, votes: 0, evicted: true })
    // Its groups leave it, but are not taken from it: they stay held by it (and leaving) until
    // it releases them or its lease has certainly ended; only then does the planner place them.
    for (const g of this.groups()) {
      if (g.owner === name) {
        this.records.set(paths.group(g.name), {
          ...g,
          moving: { to: g.moving?.to ?? null, avoid: name, kind: 'failover', reason: `${name} was evicted` },
        })
        changed.push(paths.group(g.name))
      }
    }
    return { ok: true, changed }
  }

  private resourceCreate(c: Extract<Command, { op: 'resource.create' }>): ApplyResult {
    if (this.resourceGroups.has(c.name))
      return refuse('conflict', `resource ${c.name} already exists`, 'name')
    const group = this.group(c.group)
    if (group === undefined) return refuse('not-found', `no group ${c.group}`, 'group')
    if (!isResourceTypeName(c.type)) {
      return refuse(
        'invalid',
        `unknown resource type ${c.type} (this build runs ${resourceTypeNames.join(', ')})`,
        'type',
      )
    }
    const parsed = parseResourceParams(c.type, c.params)
    if (!parsed.ok) return refuse('invalid', parsed.problem.message, `params.${parsed.problem.param}`)
    const depProblem = this.dependencyProblem(c.name, c.group, c.dependsOn)
    if (depProblem !== null) return depProblem
    const record: ResourceRecord = {
      kind: 'resource',
      name: c.name,
      group: c.group,
      type: c.type,
      params: { ...c.params },
      dependsOn: [...c.dependsOn],
      restartThreshold: c.restartThreshold,
      restartPeriodMs: c.restartPeriodMs,
      target: 'offline',
      failed: null,
    }
    const path = paths.resource(c.group, c.name)
    this.records.set(path, record)
    this.resourceGroups.set(c.name, c.group)
    return { ok: true, changed: [path] }
  }

  private resourceDelete(name: string): ApplyResult {
    const r = this.resource(name)
    if (r === undefined) return refuse('not-found', `no resource ${name}`, 'name')
    const dependents = this.resources(r.group).filter((other) => other.dependsOn.includes(name))
    if (dependents.length > 0) {
      return refuse(
        'conflict',
        `${dependents.map((d) => d.name).join(', ')} depend on ${name}; delete them first`,
      )
    }
    if (r.target === 'online' && this.group(r.group)?.target === 'online') {
      return refuse('conflict', `resource ${name} is online; take it offline first`)
    }
    const path = paths.resource(r.group, name)
    this.records.delete(path)
    this.resourceGroups.delete(name)
    const changed = [path]
    if (this.records.delete(paths.checkpoint(name))) changed.push(paths.checkpoint(name))
    return { ok: true, changed }
  }

  /** `restoring`: a restore installs a backup's checkpoint, which no owner saved now. */
  private resourceCheckpoint(
    index: number,
    c: Extract<Command, { op: 'resource.checkpoint' }>,
    restoring = false,
  ): ApplyResult {
    const r = this.resource(c.name)
    if (r === undefined) return refuse('not-found', `no resource ${c.name}`, 'name')
    // Only what the group's owner saved is kept: nobody else runs the resource's files.
    const owner = this.group(r.group)?.owner ?? null
    if (owner !== c.node && !restoring)
      return refuse(
        'conflict',
        `${c.node} does not own ${r.group}; its checkpoint of ${c.name} is not kept`,
        'node',
      )
    const allowed = checkpointPaths(r.params)
    const stray = c.files.find((f) => !allowed.includes(f.path))
    if (stray !== undefined)
      return refuse('invalid', `${stray.path} is not a checkpoint file of ${c.name}`, 'files')
    const bytes = c.files.reduce((sum, f) => sum + (f.data === null ? 0 : base64Bytes(f.data)), 0)
    if (bytes > checkpointBytesMax) {
      return refuse(
        'invalid',
        `checkpoint of ${c.name} holds ${bytes} bytes; all its files together may hold at most ${checkpointBytesMax}`,
        'files',
      )
    }
    const record: CheckpointRecord = {
      kind: 'checkpoint',
      resource: c.name,
      group: r.group,
      node: c.node,
      at: c.at,
      index,
      bytes,
      files: c.files.map((f) => ({
        path: f.path,
        data: f.data,
        ...(f.mode === undefined ? {} : { mode: f.mode }),
      })),
    }
    this.records.set(paths.checkpoint(c.name), record)
    return { ok: true, changed: [paths.checkpoint(c.name)] }
  }

  private resourceSetTarget(name: string, target: 'online' | 'offline'): ApplyResult {
    const r = this.resource(name)
    if (r === undefined) return refuse('not-found', `no resource ${name}`, 'name')
    const changed: string[] = []
    if (target === 'offline') {
      // Taking a provider offline takes its dependents offline too.
      for (const dependent of this.closure(r, (x) =>
        this.resources(x.group).filter((o) => o.dependsOn.includes(x.name)),
      )) {
        this.records.set(paths.resource(dependent.group, dependent.name), { ...dependent, target: 'offline' })
        changed.push(paths.resource(dependent.group, dependent.name))
      }
      return { ok: true, changed }
    }
    // Bringing a resource online brings what it depends on online, clears its failure, and
    // brings its group online if it was not (WSFC Start-ClusterResource).
    for (const provider of this.closure(r, (x) => x.dependsOn.map((d) => this.resource(d)!))) {
      this.records.set(paths.resource(provider.group, provider.name), {
        ...provider,
        target: 'online',
        failed: null,
      })
      changed.push(paths.resource(provider.group, provider.name))
    }
    const group = this.group(r.group)
    assert(group !== undefined, `resource ${name} has no group ${r.group}`)
    if (group.target !== 'online') {
      this.records.set(paths.group(group.name), { ...group, target: 'online' })
      changed.push(paths.group(group.name))
    }
    return { ok: true, changed }
  }

  private resourceSetDependencies(name: string, dependsOn: string[]): ApplyResult {
    const r = this.resource(name)
    if (r === undefined) return refuse('not-found', `no resource ${name}`, 'name')
    const problem = this.dependencyProblem(name, r.group, dependsOn)
    if (problem !== null) return problem
    const path = paths.resource(r.group, name)
    this.records.set(path, { ...r, dependsOn: [...dependsOn] })
    return { ok: true, changed: [path] }
  }

  private resourceMarkFailed(index: number, name: string, reason: string): ApplyResult {
    const r = this.resource(name)
    if (r === undefined) return refuse('not-found', `no resource ${name}`, 'name')
    const path = paths.resource(r.group, name)
    this.records.set(path, { ...r, failed: { reason, index } })
    return { ok: true, changed: [path] }
  }

  private alertAdd(c: Extract<Command, { op: 'alert.add' }>): ApplyResult {
    const path = paths.alert(c.name)
    if (this.records.has(path)) return refuse('conflict', `alert ${c.name} already exists`, 'name')
    if (this.records.countOf('alert') >= alertsMax)
      return refuse('quota', `the cluster has ${alertsMax} alerts, the most it may`, 'name')
    const { op: _, ...fields } = c
    this.records.set(path, { kind: 'alert', ...fields })
    return { ok: true, changed: [path] }
  }

  private alertDelete(name: string): ApplyResult {
    const path = paths.alert(name)
    if (!this.records.delete(path)) return refuse('not-found', `no alert ${name}`, 'name')
    return { ok: true, changed: [path] }
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** `start` and everything reachable from it through `next`, each once. */
  private closure(start: ResourceRecord, next: (r: ResourceRecord) => ResourceRecord[]): ResourceRecord[] {
    const seen = new Map<string, ResourceRecord>([[start.name, start]])
    const stack = [start]
    while (stack.length > 0) {
      for (const n of next(stack.pop()!)) {
        if (!seen.has(n.name)) {
          seen.set(n.name, n)
          stack.push(n)
        }
      }
    }
    return [...seen.values()]
  }

  /**
   * Dependencies must name resources of the same group, once each, and keep the group's
   * dependency graph acyclic: `name` may not depend on anything that (transitively) depends on it.
   */
  private dependencyProblem(name: string, group: string, dependsOn: string[]): Refusal | null {
    if (new Set(dependsOn).size !== dependsOn.length)
      return refuse('invalid', 'dependencies repeat', 'dependsOn')
    for (const dep of dependsOn) {
      if (dep === name) return refuse('invalid', 'a resource cannot depend on itself', 'dependsOn')
      const provider = this.resource(dep)
      if (provider === undefined) return refuse('not-found', `no resource ${dep}`, 'dependsOn')
      if (provider.group !== group) {
        return refuse(
          'invalid',
          `${dep} is in group ${provider.group}; dependencies stay within a group`,
          'dependsOn',
        )
      }
      const reach = this.closure(provider, (x) => x.dependsOn.map((d) => this.resource(d)!))
      if (reach.some((x) => x.name === name)) {
        const cycle = this.dependencyPath(dep, name)
        return refuse('invalid', `dependency cycle: ${[name, ...cycle].join(' -> ')}`, 'dependsOn')
      }
    }
    return null
  }

  /** A dependency path from `from` to `to` (both included), for error messages. */
  private dependencyPath(from: string, to: string): string[] {
    const previous = new Map<string, string | null>([[from, null]])
    const queue = [from]
    while (queue.length > 0) {
      const at = queue.shift()!
      if (at === to) break
      for (const next of this.resource(at)?.dependsOn ?? []) {
        if (!previous.has(next)) {
          previous.set(next, at)
          queue.push(next)
        }
      }
    }
    const out: string[] = []
    for (let at: string | null | undefined = to; at != null; at = previous.get(at)) out.unshift(at)
    return out
  }

  private typed<K extends DbRecord['kind']>(
    path: string,
    kind: K,
  ): Extract<DbRecord, { kind: K }> | undefined {
    const record = this.records.get(path)
    if (record === undefined) return undefined
    assert(record.kind === kind, () => `record at ${path} is a ${record.kind}, expected ${kind}`)
    return record as Extract<DbRecord, { kind: K }>
  }

  private ofKind<K extends Exclude<DbRecord['kind'], 'config'>>(kind: K): Extract<DbRecord, { kind: K }>[] {
    const out: Extract<DbRecord, { kind: K }>[] = []
    for (const record of this.records.ofKind(kind)) out.push(record as Extract<DbRecord, { kind: K }>)
    const nameOf = (r: unknown) => (r as { name: string }).name
    return out.sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0))
  }
}
