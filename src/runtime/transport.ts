/**
 * How consensus messages leave a voter and reach it. The mesh (nodeMesh.ts, over libp2p) is the
 * real one; memoryTransport.ts is its twin for tests and simulators. One compliance suite holds
 * both to the same contract (test/unit/transportCompliance.test.ts).
 */
import type { Message } from '../consensus/types.ts'

export interface Transport {
  /** Sends `m` to `m.to`, best effort: a message may be lost, never forged or changed. */
  send(m: Message): void
  /**
   * Where messages for this member go, each authenticated as from its `from`; the handler
   * returns false to refuse one (the link it came on is closed).
   */
  deliverTo(handler: (m: Message) => boolean): void
}
