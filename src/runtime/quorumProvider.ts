/**
 * What the node needs of its quorum model (ARCHITECTURE.md "quorum/: providers"): the consensus
 * core it drives, where a Ready's entries are made durable, what status shows of the quorum, and
 * what the lease authority must know of earlier leaders. `majority` (node votes and a witness),
 * `local` (the one-node lab) and `disk` (the quorum disk's lease as the only vote) provide it;
 * the node asks the provider instead of asking which model it runs.
 */
import type { ConsensusCore } from '../consensus/consensusCore.ts'
import type { RaftStatus } from '../consensus/raftCore.ts'
import type { Ready } from '../consensus/types.ts'
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { EarlierLeaders } from '../failover/leaseAuthority.ts'
import type { StatusDocument } from './statusDocument.ts'

export type QuorumStatus = StatusDocument['cluster']['quorum']

export interface QuorumProvider {
  readonly core: ConsensusCore
  /** Talks to other members over the mesh (every model but the one-node lab). */
  readonly meshed: boolean
  /**
   * A lone voter: it leads at once, so the node waits for that and writes the database's first
   * entry before it serves; a late tick costs it nothing, so its API never sheds load.
   */
  readonly soleVoter: boolean
  /** The database the node starts from, given the one recovered from its data dir. */
  startingDatabase(recovered: ClusterDatabase): ClusterDatabase
  start(): Promise<void>
  /** Stops contesting or serving; called once the node's groups are stopped. */
  stop(): Promise<void>
  /** Makes a Ready's hard state and entries durable; false: send nothing of it (see ReadyDriver). */
  persist(rd: Ready): boolean | Promise<boolean>
  /**
   * Where snapshots go when the model keeps them itself (the quorum disk's recovery log, by its
   * holder); absent: the node's data dir.
   */
  saveSnapshot?: (index: number, term: number, data: Uint8Array) => void
  /** The quorum part of the status document; `votesPresent`: the votes of voters heard from. */
  quorumStatus(raft: RaftStatus, quorate: boolean, votesPresent: number): QuorumStatus
  /** A member's vote as status shows it (dynamic quorum may have lowered it). */
  votesOf(name: string): number
  /** Does this node hold the quorum disk (null: the model has none)? For the lease authority. */
  holdsDisk(): boolean | null
  /** What is known of earlier leaders' lease grants, for the lease authority. */
  earlierLeaders(raft: RaftStatus): EarlierLeaders
  /** Why the operator may not force quorum under this model, or null. */
  forceRefusal(): string | null
}
