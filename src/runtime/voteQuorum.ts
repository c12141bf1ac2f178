/**
 * The majority models (node-majority, node-and-witness: a majority of the current weights of the
 * nodes' votes and a witness's) and the one-node lab: a RaftCore over this node's write-ahead log.
 */
import { votesNeeded } from '../consensus/quorum/voteMath.ts'
import type { RaftCore, RaftStatus } from '../consensus/raftCore.ts'
import type { Ready } from '../consensus/types.ts'
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { QuorumModel } from '../database/entities.ts'
import { type EarlierLeaders, earlierLeadersByVotes } from '../failover/leaseAuthority.ts'
import type { ConsensusTiming } from './consensusTiming.ts'
import { persistInto } from './logPersistence.ts'
import type { LogStorage } from './logStorage.ts'
import type { QuorumProvider, QuorumStatus } from './quorumProvider.ts'
import type { StorageHealth } from './storageHealth.ts'

export interface VoteQuorumParts {
  /** As the topology names it (node-majority, node-and-witness, local). */
  model: QuorumModel
  core: RaftCore
  wal: LogStorage
  storage: StorageHealth
  timing: ConsensusTiming
}

/** Node votes plus a witness: the geo cluster's model. */
export class MajorityQuorum implements QuorumProvider {
  readonly core: RaftCore
  readonly meshed: boolean = true
  readonly soleVoter: boolean = false
  private readonly model: QuorumModel
  private readonly timing: ConsensusTiming
  private readonly toWal: (rd: Ready) => Promise<boolean>

  constructor(parts: VoteQuorumParts) {
    this.core = parts.core
    this.model = parts.model
    this.timing = parts.timing
    this.toWal = persistInto(parts.wal, {
      // Nothing of this Ready leaves the node; it is offered again on the next tick.
      refused: (error, rd) => {
        parts.core.persistFailed(rd)
        parts.storage.fault(error)
      },
      written: () => parts.storage.recovered(),
    })
  }

  startingDatabase(recovered: ClusterDatabase): ClusterDatabase {
    return recovered
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  persist(rd: Ready): Promise<boolean> {
    return this.toWal(rd)
  }

  quorumStatus(raft: RaftStatus, quorate: boolean, votesPresent: number): QuorumStatus {
    const config = raft.config
    const weights = new Map(Object.entries(config.incoming))
    return {
      model: this.model,
      state: quorate ? 'quorate' : 'no-quorum',
      votesPresent,
      votesTotal: [...weights.values()].reduce((a, b) => a + b, 0),
      votesNeeded: votesNeeded(weights),
      epoch: raft.epoch.epoch,
      forced: config.forced,
      epochId: raft.epoch.epochId,
      confirmed: !raft.epoch.unconfirmed,
      conflict:
        raft.epochConflict === null
          ? null
          : `epoch ${raft.epochConflict.ours} met ${raft.epochConflict.theirs} from ${raft.epochConflict.from}`,
      rebuilding: raft.rebuilding,
    }
  }

  votesOf(name: string): number {
    const incoming = this.core.config().incoming
    return Object.hasOwn(incoming, name) ? incoming[name]! : 0
  }

  holdsDisk(): null {
    return null
  }

  earlierLeaders(raft: RaftStatus): EarlierLeaders {
    return earlierLeadersByVotes(raft, this.timing.tickMs)
  }

  forceRefusal(): string | null {
    return null
  }
}

/** The one-node lab: its only voter leads at once and talks to nobody. */
export class LocalQuorum extends MajorityQuorum {
  override readonly meshed: boolean = false
  override readonly soleVoter: boolean = true

  override forceRefusal(): string {
    return '--force-quorum is for multi-node clusters; a lab node is its own quorum'
  }
}
