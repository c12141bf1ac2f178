/**
 * Typed records of the cluster database. Every record lives at a path of the hierarchical key
 * space (see keySpace.ts); the path says what it is, the record says how it is configured.
 */
import type { ResourceTypeName } from '../resources/types/catalog.ts'

export const quorumModels = ['local', 'node-majority', 'node-and-witness', 'disk'] as const
export type QuorumModel = (typeof quorumModels)[number]

export type TargetState = 'online' | 'offline'

export interface ClusterRecord {
  kind: 'cluster'
  name: string
  quorumModel: QuorumModel
  /** Log index of the bootstrap entry: identifies this cluster's history. */
  bootstrapIndex: number
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
}

export interface WitnessRecord {
  kind: 'witness'
  name: string
  site: string
  type: 'node' | 'file-share'
  votes: number
  peerId: string | null
  address: string | null
  path: string | null
}

/** `never`, `immediate`, or a window of hours `HH-HH` (WSFC FailbackWindowStart/End). */
export type FailbackPolicy = string

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
}

export interface ResourceFailure {
  reason: string
  /** Log index of the entry that recorded the failure. */
  index: number
}

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
}

export interface ConfigRecord {
  kind: 'config'
  key: string
  value: string
  /** Log index of the last change (a cheap version for compare-and-set later). */
  version: number
}

export type DbRecord =
  | ClusterRecord
  | SiteRecord
  | NodeRecord
  | WitnessRecord
  | GroupRecord
  | ResourceRecord
  | ConfigRecord
