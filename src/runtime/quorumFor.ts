/** Opens the quorum provider the topology names, with the consensus core it drives. */
import { resolve as resolvePath } from 'node:path'
import { RaftCore, type RaftRestore } from '../consensus/raftCore.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { Logger } from '../events/logger.ts'
import { diskTiming } from '../topology/clusterTiming.ts'
import { lowerQuorumPriority } from '../topology/tieBreaker.ts'
import type { Topology } from '../topology/topologySchema.ts'
import type { ConsensusTiming } from './consensusTiming.ts'
import { DiskQuorum } from './diskQuorum.ts'
import type { LogStorage } from './logStorage.ts'
import type { QuorumProvider } from './quorumProvider.ts'
import type { StorageHealth } from './storageHealth.ts'
import { topologyConfiguration } from './topologyConfiguration.ts'
import { LocalQuorum, MajorityQuorum } from './voteQuorum.ts'

export interface QuorumInit {
  self: string
  topology: Topology
  /** Relative paths of the topology (the quorum disk) resolve from here. */
  topologyDir: string
  timing: ConsensusTiming
  random: () => number
  /** WSFC /pq: take part in no election until a leader has been heard (see RaftOptions). */
  preventQuorum: boolean
  /** What this node's data dir held (the majority models start from it). */
  restore: Omit<RaftRestore, 'initialConfig'>
  wal: LogStorage
  storage: StorageHealth
  monotonic: () => number
  logger: Logger
  /** Does the mesh think this member went down (heard, then silent)? */
  peerDown: (name: string) => boolean
  emit: (e: ClusterEventInput) => void
  /** Something changed the core from outside the Ready loop: run it. */
  changed: () => void
  crash: (error: Error) => void
}

export function quorumFor(o: QuorumInit): QuorumProvider {
  const t = o.topology
  const disk = t.quorum.disk
  if (t.quorum.model === 'disk' && disk !== undefined)
    return new DiskQuorum({
      self: o.self,
      path: resolvePath(o.topologyDir, disk.path),
      logDir: disk.logDir === undefined ? undefined : resolvePath(o.topologyDir, disk.logDir),
      timing: diskTiming(t),
      configuration: topologyConfiguration(t),
      monotonic: o.monotonic,
      logger: o.logger,
      tailMs: o.timing.tickMs * 2,
      peerDown: o.peerDown,
      emit: o.emit,
      changed: o.changed,
      crash: o.crash,
    })
  const core = new RaftCore(
    {
      id: o.self,
      electionTicks: o.timing.electionTicks,
      heartbeatTicks: o.timing.heartbeatTicks,
      random: o.random,
      dynamicQuorum: t.quorum.dynamic
        ? { downAfterTicks: o.timing.electionTicks, lowerQuorumPriority: lowerQuorumPriority(t) }
        : null,
      preventQuorum: o.preventQuorum,
    },
    { ...o.restore, initialConfig: topologyConfiguration(t) },
  )
  const parts = { model: t.quorum.model, core, wal: o.wal, storage: o.storage, timing: o.timing }
  return t.quorum.model === 'local' ? new LocalQuorum(parts) : new MajorityQuorum(parts)
}
