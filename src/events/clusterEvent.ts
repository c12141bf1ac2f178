/** Typed cluster events (the Event Processor's notifications), named `noun:verb`. */

export const eventTypes = [
  'node:started',
  'node:stopping',
  'node:stopped',
  'node:up',
  'node:down',
  'leader:elected',
  'lease:granted',
  'lease:lost',
  'quorum:forced',
  'quorum:confirmed',
  'quorum:yielded',
  'quorum:epoch-conflict',
  'quorum:disk-acquired',
  'quorum:disk-lost',
  'quorum:disk-defended',
  'witness:hosted',
  'witness:dropped',
  'witness:unreachable',
  'witness:reachable',
  'witness:refused',
  'storage:error',
  'storage:recovered',
  'storage:snapshot',
  'database:changed',
  'database:refused',
  'database:restored',
  'maintenance:on',
  'maintenance:off',
  'group:owner',
  'group:moving',
  'group:released',
  'group:stuck',
  'group:failed',
  'group:state',
  'constraint:added',
  'constraint:expired',
  'constraint:cleared',
  'group:changed',
  'resource:starting',
  'resource:online',
  'resource:stopping',
  'resource:offline',
  'resource:failed',
  'resource:restart',
  'resource:gave-up',
  'resource:checkpoint',
  'resource:changed',
  'address:announced',
  'address:not-announced',
  'resource:cleanup',
  'monitor:restarted',
  'alert:failed',
  'alert:dropped',
] as const

export type ClusterEventType = (typeof eventTypes)[number]
export type Severity = 'info' | 'warning' | 'error'

export interface ClusterEvent {
  /** Increases by one per event on this node; SSE clients resume with Last-Event-ID. */
  seq: number
  /** Wall-clock time, ISO 8601, for people; ordering uses `seq`. */
  time: string
  node: string
  type: ClusterEventType
  severity: Severity
  message: string
  group?: string
  resource?: string
  data?: Record<string, unknown>
}

export type ClusterEventInput = Omit<ClusterEvent, 'seq' | 'time' | 'node'>
