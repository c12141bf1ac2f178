/**
 * Typed records of the cluster database. Every record lives at a path of the hierarchical key
 * space (see keySpace.ts); the path says what it is, the record says how it is configured.
 */
import type { AlertTarget } from './alertRules.ts'
import type { ResourceTypeName } from './resourceTypes.ts'

export const quorumModels = ['local', 'node-majority', 'node-and-witness', 'disk'] as const
export type QuorumModel = (typeof quorumModels)[number]

export type TargetState = 'online' | 'offline'

export interface ClusterRecord {
  kind: 'cluster'
  name: string
  quorumModel: QuorumModel
  /** Log index of the bootstrap entry: identifies this cluster's history. */
  bootstrapIndex: number
  /** Drawn at random when the cluster was bootstrapped (absent in clusters from before it was). */
  id?: string
  /**
   * Every fencing token ever issued, in any history this one replaced (a forced epoch, a
   * restore), is at most this: new tokens start above it. Absent: 0.
   */
  tokenFloor?: number
  /** Maintenance mode for the whole cluster (Pacemaker's maintenance-mode): see failover/maintenance.ts. */
  maintenance?: boolean
  /** The cluster functional level (functionalLevel.ts); absent: level 1, a cluster from before levels. */
  functionalLevel?: number
}

export interface SiteRecord {
  kind: 'site'
  name: string
}

export interface NodeRecord {
  kind: 'node'
  name: string
  site: string
  votes: number
  peerId: string | null
  address: string | null
  /** Evicted nodes stay on record so their key is refused from then on (revocation list). */
  evicted?: boolean
  /** Paused by an operator: a member that votes and keeps what it runs, but takes no new groups. */
  paused?: boolean
  /** Draining (paused, and its groups are being moved away gracefully). */
  draining?: boolean
  /** In maintenance: what runs there is left alone, and nothing is placed there. */
  maintenance?: boolean
}

export interface WitnessRecord {
  kind: 'witness'
  name: string
  site: string
  type: 'node' | 'file-share' | 'cloud'
  votes: number
  peerId: string | null
  address: string | null
  path: string | null
}

/** `never`, `immediate`, or a window of hours `HH-HH` (WSFC FailbackWindowStart/End). */
export type FailbackPolicy = string

/** What maintenance mode can be set on. */
export const maintenanceScopes = ['cluster', 'node', 'group', 'resource'] as const
export type MaintenanceScope = (typeof maintenanceScopes)[number]

/** Why a group changes owner: first placement, a node lost, back home, an operator, a drain. */
export const moveKinds = ['place', 'failover', 'failback', 'move', 'drain'] as const
export type MoveKind = (typeof moveKinds)[number]

/** A planned move under way: the owner stops the group, then releases it (WSFC's graceful move). */
export interface GroupMove {
  /** Where it should go; null lets placement choose. */
  to: string | null
  /** A node placement must not choose (where it just failed). */
  avoid: string | null
  kind: MoveKind
  reason: string
}

export interface GroupFailure {
  reason: string
  /** Log index of the entry that recorded the failure. */
  index: number
}

export interface GroupRecord {
  kind: 'group'
  name: string
  preferredOwners: string[]
  /** Empty = every node may own the group. */
  possibleOwners: string[]
  failback: FailbackPolicy
  antiAffinity: string[]
  target: TargetState
  owner: string | null
  /** Log index of the entry that gave the group its current owner; 0 = never owned. */
  fencingToken: number
  /** The owner before this one: failover prefers its site. */
  lastOwner: string | null
  moving: GroupMove | null
  /**
   * WSFC FailoverThreshold / FailoverPeriod: one more failover than this within the period and
   * the group is failed. Null: one less than the number of nodes that may own it (WSFC's default).
   */
  failoverThreshold: number | null
  failoverPeriodMs: number
  /** When (the deciding leader's wall clock, ms) the group failed over, within the period. */
  failovers: number[]
  /** When failbacks were started, within the failover period. */
  failbacks: number[]
  failed: GroupFailure | null
  /** In maintenance: its resources are left alone where they run, and the planner moves it nowhere. */
  maintenance?: boolean
}

/** WSFC defaults: FailoverPeriod 6 h; failback attempts allowed per period. */
export const groupDefaults = { failoverPeriodMs: 6 * 3_600_000, failbackLimit: 3 } as const

export type ResourceFailure = GroupFailure

export interface ResourceRecord {
  kind: 'resource'
  name: string
  group: string
  type: ResourceTypeName
  params: Record<string, string>
  dependsOn: string[]
  restartThreshold: number
  restartPeriodMs: number
  target: TargetState
  failed: ResourceFailure | null
  /** In maintenance (WSFC: monitoring turned off): neither checked, restarted, started nor stopped. */
  maintenance?: boolean
}

export interface ConfigRecord {
  kind: 'config'
  key: string
  value: string
  /** Log index of the last change (a cheap version for compare-and-set later). */
  version: number
}

export interface CheckpointFile {
  path: string
  /** The file's bytes in base64; null: the file did not exist (restoring removes it). */
  data: string | null
  /** Its permission bits when saved (absent in checkpoints saved before modes were kept). */
  mode?: number
}

/** A resource's checkpoint files (seed 000's Checkpoint Manager), as saved by the node that ran it. */
export interface CheckpointRecord {
  kind: 'checkpoint'
  resource: string
  group: string
  /** Where they were read. */
  node: string
  /** When (that node's wall clock, ms) and at which log index. */
  at: number
  index: number
  bytes: number
  files: CheckpointFile[]
}

/**
 * An operator's placement rule for a group on one node, with a lifetime (Pacemaker's
 * `cli-prefer` / `cli-ban` location constraints from `pcs resource move/ban --lifetime`).
 */
export const constraintRules = ['prefer', 'ban'] as const
export type ConstraintRule = (typeof constraintRules)[number]

export interface ConstraintRecord {
  kind: 'constraint'
  group: string
  node: string
  /** prefer: the group runs on `node` whenever it can; ban: it never runs there. */
  rule: ConstraintRule
  /** When it stops holding (wall-clock ms, the proposer's clock); null: until cleared. */
  expiresAt: number | null
  /** When it was added (the proposer's wall clock, ms) and at which log index. */
  at: number
  index: number
}

/** Where every node sends the events it sees that pass the filters (Pacemaker alerts). */
export interface AlertRecord {
  kind: 'alert'
  name: string
  to: AlertTarget
  /** Event kinds (`resource:failed`) or nouns (`resource:*`); empty: every kind. */
  events: string[]
  /** Empty: every severity. */
  severities: ('info' | 'warning' | 'error')[]
  timeoutMs: number
  attempts: number
}

export type DbRecord =
  | AlertRecord
  | ConstraintRecord
  | CheckpointRecord
  | ClusterRecord
  | SiteRecord
  | NodeRecord
  | WitnessRecord
  | GroupRecord
  | ResourceRecord
  | ConfigRecord
