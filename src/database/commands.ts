/**
 * Commands: the only way the cluster database changes. Each is one log entry, applied in log
 * order on every node (the Global Update Manager's totally ordered updates). The shape is
 * checked here; whether the change makes sense against the current state is decided by
 * `ClusterDatabase.apply`, deterministically, so every node refuses the same commands.
 */
import { z } from 'zod'
import { memberAddressBytesMax, memberAddressProblem, peerIdProblem } from '../membership/memberAddress.ts'
import { alertFilters, alertTarget } from './alertRules.ts'
import { constraintCommands } from './constraintCommands.ts'
import { maintenanceScopes, moveKinds, quorumModels } from './entities.ts'
import { commandLevel, functionalLevelMax, opLevel, unsupportedLevelProblem } from './functionalLevel.ts'
import { configKeyLengthMax, configValueBytesMax, namePattern, nameRule } from './keySpace.ts'
import { checkpointBytesMax } from './resourceTypes.ts'

const name = z.string().regex(namePattern, `expected a name: ${nameRule}`)
const names = z.array(name).max(64)
const target = z.enum(['online', 'offline'])
const reason = z.string().min(1).max(512)
/**
 * The holding a change of owner expects to replace: the owner and the fencing token it holds the
 * group with. Every change of owner is a compare-and-set on both, so two deciders racing (the
 * planner, an operator, a node moving its groups away) can never both succeed.
 */
const holding = z.strictObject({ owner: name.nullable(), token: z.number().int().min(0) })
const failoverThreshold = z.number().int().min(0).max(1000).nullable()
/** A cluster functional level (functionalLevel.ts); bounded here, not by what this release supports. */
const functionalLevel = z.number().int().min(1).max(1000)
const failoverPeriodMs = z
  .number()
  .int()
  .min(60_000)
  .max(1193 * 3_600_000)

/** Checked with the mesh's own parser, so a committed address can always be dialled. */
export const memberAddress = z
  .string()
  .max(memberAddressBytesMax)
  .superRefine((s, ctx) => {
    const problem = memberAddressProblem(s)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })
export const peerId = z
  .string()
  .max(128)
  .superRefine((s, ctx) => {
    const problem = peerIdProblem(s)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })

const failbackPattern = /^(never|immediate|([01]\d|2[0-3])-([01]\d|2[0-3]))$/
const failback = z.string().regex(failbackPattern, 'expected never, immediate or a window HH-HH')
const restartThreshold = z.number().int().min(0).max(1000)
const restartPeriodMs = z
  .number()
  .int()
  .min(1000)
  .max(7 * 24 * 3_600_000)
const params = z.record(z.string().max(64), z.string().max(configValueBytesMax))

/** Field rules the admin API's request bodies share with the commands they become (requestSchemas.ts). */
export const commandFields = {
  name,
  names,
  failback,
  failoverThreshold,
  failoverPeriodMs,
  restartThreshold,
  restartPeriodMs,
} as const

const bootstrapNode = z.strictObject({
  name,
  votes: z.number().int().min(0).max(1),
  peerId: peerId.nullable(),
  address: memberAddress.nullable(),
})

const nodeAdd = z.strictObject({
  op: z.literal('node.add'),
  name,
  site: name,
  votes: z.number().int().min(0).max(1),
  peerId,
  address: memberAddress,
})
/** A node to add, as a forwarded `addNode` call carries it (the command without its op). */
export const nodeAddSpec = nodeAdd.omit({ op: true })
/** A node named in a forwarded call. */
export const nodeNameSpec = z.strictObject({ name })

/** What a group is configured with: `group.create` and a restored backup's groups. */
const groupShape = {
  name,
  preferredOwners: names,
  possibleOwners: names,
  failback,
  antiAffinity: names,
  failoverThreshold: failoverThreshold.optional(),
  failoverPeriodMs: failoverPeriodMs.optional(),
}

/** What a resource is configured with: `resource.create` and a restored backup's resources. */
const resourceShape = {
  name,
  group: name,
  type: z.string(),
  params: z.record(z.string(), z.string().max(configValueBytesMax)),
  dependsOn: names,
  restartThreshold,
  restartPeriodMs,
}

const checkpointFiles = z
  .array(
    z.strictObject({
      path: z.string().min(1).max(4096),
      data: z
        .string()
        .max(Math.ceil((checkpointBytesMax * 4) / 3) + 4)
        .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64')
        .nullable(),
      mode: z.number().int().min(0).max(0o777).optional(),
    }),
  )
  .max(16)

const counter = z
  .number()
  .int()
  .min(0)
  .max(2 ** 48)

/**
 * What an authoritative restore puts back (clusterBackup.ts): the configuration, not who runs
 * what. The database's own quotas decide how much fits; these bounds only bound the parse.
 */
export const restoreContentSchema = z.strictObject({
  groups: z.array(z.strictObject({ ...groupShape, target })).max(1_000),
  resources: z.array(z.strictObject({ ...resourceShape, target })).max(10_000),
  config: z
    .array(
      z.strictObject({ key: z.string().max(configKeyLengthMax), value: z.string().max(configValueBytesMax) }),
    )
    .max(100_000),
  checkpoints: z
    .array(z.strictObject({ resource: name, node: name, at: counter, files: checkpointFiles }))
    .max(10_000),
})
export type RestoreContent = z.infer<typeof restoreContentSchema>

/** Where a backup comes from: its cluster, the log position and term it was taken at, its checksum. */
export const backupSourceSchema = z.strictObject({
  cluster: z.strictObject({ name, id: z.string().min(1).max(128) }),
  index: counter,
  term: counter,
  checksum: z.string().regex(/^[0-9a-f]{64}$/, 'expected a SHA-256 in hex'),
  /** The highest fencing token the backed-up history had issued. */
  highestToken: counter,
})
export type BackupSource = z.infer<typeof backupSourceSchema>

export const commandSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('cluster.bootstrap'),
    /**
     * `id`: drawn at random by the bootstrapping node, so backups know their cluster (absent
     * before). `functionalLevel`: the highest the bootstrapping node supports (absent: level 1).
     */
    cluster: z.strictObject({
      name,
      quorumModel: z.enum(quorumModels),
      id: z.string().min(1).max(128).optional(),
      functionalLevel: functionalLevel.optional(),
    }),
    sites: z
      .array(z.strictObject({ name, nodes: z.array(bootstrapNode).min(1).max(64) }))
      .min(1)
      .max(16),
    witness: z
      .strictObject({
        name,
        site: name,
        type: z.enum(['node', 'file-share', 'cloud']),
        votes: z.number().int().min(0).max(1),
        peerId: peerId.nullable(),
        address: memberAddress.nullable(),
        path: z.string().max(4096).nullable(),
      })
      .nullable(),
  }),
  z.strictObject({
    op: z.literal('config.set'),
    key: z.string().max(configKeyLengthMax),
    value: z.string().max(configValueBytesMax),
  }),
  z.strictObject({ op: z.literal('config.delete'), key: z.string().max(configKeyLengthMax) }),
  /**
   * Fencing tokens issued from now on start above `floor`: a node that gave up another history
   * (a forced epoch met it, a restore) carries the highest token that history issued.
   */
  z.strictObject({
    op: z.literal('cluster.raiseTokenFloor'),
    floor: counter,
  }),
  /** The cluster's functional level raised (`cluster upgrade-level`); it never goes down. */
  z.strictObject({ op: z.literal('cluster.setLevel'), level: functionalLevel }),
  z.strictObject({ op: z.literal('group.create'), ...groupShape }),
  /** A group's settings changed in place (`group set`): only the fields given change. */
  z.strictObject({
    op: z.literal('group.update'),
    name,
    preferredOwners: names.optional(),
    possibleOwners: names.optional(),
    failback: failback.optional(),
    antiAffinity: names.optional(),
    /** Null: back to the default (one less than the nodes that may own the group). */
    failoverThreshold: failoverThreshold.optional(),
    failoverPeriodMs: failoverPeriodMs.optional(),
  }),
  z.strictObject({ op: z.literal('group.delete'), name }),
  z.strictObject({ op: z.literal('group.setTarget'), name, target }),
  /** The Failover Manager's decision (the leader's): the group's new owner, why, and when. */
  z.strictObject({
    op: z.literal('group.assign'),
    name,
    owner: name.nullable(),
    expect: holding,
    kind: z.enum(moveKinds).optional(),
    reason: reason.optional(),
    /** The deciding leader's wall clock (ms): failover and failback history. */
    at: z.number().int().min(0).optional(),
  }),
  /** A planned move: the owner stops the group and releases it; then it is placed. */
  z.strictObject({
    op: z.literal('group.move'),
    name,
    expect: holding,
    to: name.nullable(),
    avoid: name.nullable().optional(),
    kind: z.enum(moveKinds),
    reason,
    at: z.number().int().min(0).optional(),
  }),
  /** The owner has stopped every resource of the group it held with `token`. */
  z.strictObject({ op: z.literal('group.release'), name, token: z.number().int().min(1) }),
  /** Too many failovers within the period: the group stays down until an operator starts it. */
  z.strictObject({ op: z.literal('group.fail'), name, reason }),
  z.strictObject({ op: z.literal('resource.create'), ...resourceShape }),
  /**
   * A resource's settings changed in place (`resource set`): parameters set and unset, the
   * restart policy. `restart`: the operator agrees that a running resource restarts to take new
   * parameters; without it such a change is refused.
   */
  z.strictObject({
    op: z.literal('resource.update'),
    name,
    params: params.optional(),
    unset: z.array(z.string().max(64)).max(64).optional(),
    restartThreshold: restartThreshold.optional(),
    restartPeriodMs: restartPeriodMs.optional(),
    restart: z.boolean().optional(),
  }),
  z.strictObject({ op: z.literal('resource.delete'), name }),
  nodeAdd,
  z.strictObject({ op: z.literal('node.evict'), name }),
  z.strictObject({ op: z.literal('node.setAddress'), name, address: memberAddress }),
  z.strictObject({
    op: z.literal('node.setPaused'),
    name,
    paused: z.boolean(),
    drain: z.boolean().optional(),
  }),
  z.strictObject({ op: z.literal('resource.setDependencies'), name, dependsOn: names }),
  z.strictObject({ op: z.literal('resource.setTarget'), name, target }),
  /** The node running a resource saved its checkpoint files. */
  z.strictObject({
    op: z.literal('resource.checkpoint'),
    name,
    node: name,
    at: z.number().int().min(0),
    files: checkpointFiles,
  }),
  z.strictObject({ op: z.literal('resource.markFailed'), name, reason: z.string().max(1024) }),
  /**
   * Maintenance mode on or off: for the whole cluster (no `subject`), a node, a group or a resource
   * (failover/maintenance.ts says what it holds back).
   */
  z.strictObject({
    op: z.literal('maintenance.set'),
    scope: z.enum(maintenanceScopes),
    /** The node, group or resource; null for the cluster. */
    subject: name.nullable(),
    on: z.boolean(),
  }),
  /** An authoritative restore: the backup's configuration replaces this one's (clusterBackup.ts). */
  z.strictObject({
    op: z.literal('cluster.restore'),
    source: backupSourceSchema,
    content: restoreContentSchema,
  }),
  ...constraintCommands,
  /**
   * Forget failure counts (`resource cleanup`): `names` null is every resource; `node` limits the
   * restart history forgotten (and the re-probe) to that node's, the cluster's counts go anyway.
   */
  z.strictObject({
    op: z.literal('resource.cleanup'),
    names: z.array(name).min(1).max(10_000).nullable(),
    node: name.nullable(),
  }),
  /** An alert every node runs for the events it sees (Pacemaker alerts). */
  z.strictObject({ op: z.literal('alert.add'), name, to: alertTarget, ...alertFilters }),
  z.strictObject({ op: z.literal('alert.delete'), name }),
])

export type Command = z.infer<typeof commandSchema>
export type CommandOp = Command['op']

/** A command as it sits in a log entry: who asked for it and when (wall clock, for the audit). */
export const envelopeSchema = z.strictObject({
  v: z.literal(1),
  by: z.string().max(128),
  at: z.number().int().nonnegative(),
  command: commandSchema,
})
export type CommandEnvelope = z.infer<typeof envelopeSchema>

/** What a command is about, for the audit trail and events: a name, a key, a scope, or nothing. */
export function commandSubject(c: Command): string {
  if ('name' in c) return c.name
  if ('key' in c) return c.key
  if (c.op === 'maintenance.set') return c.subject === null ? c.scope : `${c.scope} ${c.subject}`
  return ''
}

/**
 * Whether a command can change what runs where (groups, resources, nodes, the cluster): the
 * reconciler and the planner look again after one. Configuration keys and alerts never do.
 */
export function concernsPlacement(command: Command): boolean {
  return command.op !== 'config.set' && command.op !== 'config.delete' && !command.op.startsWith('alert.')
}

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

/** One command's encoded size at most: a log entry, and many of them share one append. */
export const commandBytesMax = 1024 * 1024

export function encodeEnvelope(envelope: CommandEnvelope): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(envelope))
}

/**
 * `known`: the entry is of this version and names a command this code knows — only a field is
 * wrong, so every node running this code refuses it alike. Otherwise it is unreadable here: a
 * command of a functional level above what this node supports is too, as it is for a release
 * that predates it.
 */
export type DecodedEnvelope =
  | { ok: true; envelope: CommandEnvelope }
  | { ok: false; problem: string; known: false }
  | { ok: false; problem: string; known: true; op: CommandOp; by: string; at: number }

const commandOps: ReadonlySet<string> = new Set(commandSchema.options.map((o) => o.shape.op.value))

/** Decodes a log entry's command as a node supporting functional levels up to `supportedLevel` reads it. */
export function decodeEnvelope(bytes: Uint8Array, supportedLevel = functionalLevelMax): DecodedEnvelope {
  let json: unknown
  try {
    json = JSON.parse(utf8Decoder.decode(bytes))
  } catch (error) {
    return { ok: false, problem: `not UTF-8 JSON: ${(error as Error).message}`, known: false }
  }
  const parsed = envelopeSchema.safeParse(json)
  if (parsed.success) {
    const needed = commandLevel(parsed.data.command)
    if (needed <= supportedLevel) return { ok: true, envelope: parsed.data }
    return { ok: false, problem: beyondLevel(parsed.data.command, needed, supportedLevel), known: false }
  }
  const issue = parsed.error.issues[0]
  const problem = `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`
  const e = json as { v?: unknown; by?: unknown; at?: unknown; command?: { op?: unknown } } | null
  const op = e?.command?.op
  if (e?.v !== 1 || typeof op !== 'string' || !commandOps.has(op)) return { ok: false, problem, known: false }
  const needed = opLevel(op as CommandOp)
  if (needed > supportedLevel)
    return { ok: false, problem: `${op}: ${unsupportedOpProblem(needed, supportedLevel)}`, known: false }
  return {
    ok: false,
    problem,
    known: true,
    op: op as CommandOp,
    by: typeof e.by === 'string' ? e.by.slice(0, 128) : '',
    at: typeof e.at === 'number' && Number.isSafeInteger(e.at) && e.at >= 0 ? e.at : 0,
  }
}

function beyondLevel(command: Command, needed: number, supported: number): string {
  if (command.op === 'cluster.setLevel' || command.op === 'cluster.bootstrap')
    return `${command.op}: ${unsupportedLevelProblem(needed, supported)}`
  return `${command.op}: ${unsupportedOpProblem(needed, supported)}`
}

function unsupportedOpProblem(needed: number, supported: number): string {
  return `a command of functional level ${needed}, but this node supports at most level ${supported}: install a release that supports level ${needed}`
}
