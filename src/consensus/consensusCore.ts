/**
 * What the runtime needs from a consensus core. RaftCore (node majority, witness, local) and
 * DiskCore (the quorum disk as the only vote) both provide it, so one runtime drives either.
 */
import type { EpochIdentity } from './configuration.ts'
import type { ProposeResult, RaftStatus } from './raftCore.ts'
import type { Configuration, Message, NodeId, Ready, SnapshotMeta } from './types.ts'

export interface ConsensusCore {
  tick(): void
  step(m: Message): void
  propose(data: Uint8Array): ProposeResult
  changeConfiguration(next: {
    incoming: Record<NodeId, number>
    base: Record<NodeId, number>
    witness: NodeId | null
    forced?: boolean
  }): ProposeResult
  readIndex(ctx: string): void
  transferLeadership(to: NodeId): boolean
  /** See RaftCore.forceQuorum: a new epoch named by this node and `nonce`. */
  forceQuorum(opts: { nonce: string; confirmed: boolean }): void
  /** The operator asserts the other side is down: the forced epoch takes writes. */
  confirmForced(): ProposeResult
  /** The epoch this node last gave up to follow another (a reset), or null. */
  lastEpochGivenUp(): EpochIdentity | null
  /** The epoch this node belongs to (while rebuilding, the one it follows). */
  epochIdentity(): EpochIdentity
  /** Why this node's epoch takes no writes now (unconfirmed, conflicting), or null. */
  epochRefusal(): string | null
  hasReady(): boolean
  ready(): Ready
  advance(rd: Ready): void
  /** The Ready's entries and hard state could not be saved: offer them again later, send nothing. */
  persistFailed(rd: Ready): void
  compact(meta: SnapshotMeta, data: Uint8Array): void
  status(): RaftStatus
  canServeReads(): boolean
  committedInTerm(): boolean
  termOf(index: number): number | undefined
  config(): Configuration
  configAt(index: number): Configuration
  quorate(): boolean
}
