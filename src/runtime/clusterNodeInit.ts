/** What starts a node: its data dir, the topology and its name in it, and the operator's switches. */
import type { Logger } from '../events/logger.ts'
import type { EventJournalLimits } from '../storage/eventJournal.ts'
import type { Topology } from '../topology/topologySchema.ts'
import type { Clock, Timers } from './clock.ts'
import type { NodeTiming } from './nodeTiming.ts'

export interface ClusterNodeInit {
  dataDir: string
  /** geocluster's version (for validate's live checks). */
  version?: string
  /** The highest cluster functional level this node supports (this build's when absent; supportedLevel.ts). */
  supportedLevel?: number
  topology: Topology
  /** Directory of the topology file: its relative paths (the secret) resolve from here. */
  topologyDir?: string
  nodeName: string
  logger: Logger
  /** What started the node, for the data-dir lock's message (`geocluster lab`). */
  command: string
  timing?: Partial<NodeTiming>
  clock?: Clock
  /** Timers on that clock (Node's own when absent). */
  timers?: Timers
  random?: () => number
  segmentBytesMax?: number
  /**
   * Disaster recovery (WSFC /forcequorum): once started, this node alone forms a new
   * configuration (a new epoch) from its own log. Refused for the one-voter lab.
   */
  forceQuorum?: boolean
  /**
   * With `forceQuorum`: the operator asserts the other side is down, so the forced epoch takes
   * writes and runs groups at once. Without it, the epoch stays read-only until confirmed
   * (`geocluster cluster confirm-forced --other-side-is-down`).
   */
  otherSideIsDown?: boolean
  /** WSFC /pq: take part in no election until a leader has been heard (see RaftOptions). */
  preventQuorum?: boolean
  /** The event journal's file size and rotated files (eventJournalDefaults when absent). */
  eventJournal?: Partial<EventJournalLimits>
  /** Serve the cluster's network names over DNS (UDP) here; off when absent. */
  nameService?: { host: string; port: number }
}
