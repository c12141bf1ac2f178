/**
 * The node's Transport: consensus messages to and from members over the mesh, and to and from a
 * file-share witness, which has no address of its own — whichever node holds the share serves
 * it, so messages to the witness go to that node (or, here, straight to it), and its answers go
 * out from there — and to and from a cloud witness, for which each node acts on its own messages. What comes in is checked before the core may take it.
 */
import type { Message } from '../consensus/types.ts'
import { decodeEnvelope } from '../database/commands.ts'
import { functionalLevelMax } from '../database/functionalLevel.ts'
import type { Logger } from '../events/logger.ts'
import type { CloudWitness } from './cloudWitness.ts'
import type { FileShareWitness } from './fileShareWitness.ts'
import type { NodeMesh } from './nodeMesh.ts'
import { decodeNodeSnapshot } from './nodeSnapshot.ts'
import type { Transport } from './transport.ts'

/**
 * Contents the consensus core would carry into the database must be readable before they are
 * taken: a command entry must decode, a snapshot must be one. Crash-fault consensus trusts
 * members, but a damaged or hostile frame must not become a crash later, at apply time.
 */
export function payloadProblem(m: Message, supportedLevel = functionalLevelMax): string | null {
  if (m.type === 'append') {
    for (const e of m.entries) {
      if (e.kind !== 'command') continue
      // A known command with a refused field is taken: every node refuses it alike at apply.
      const decoded = decodeEnvelope(e.data, supportedLevel)
      if (!decoded.ok && !decoded.known) return `entry ${e.index}: ${decoded.problem}`
    }
  }
  if (m.type === 'snapshot') {
    const decoded = decodeNodeSnapshot(m.data)
    if (typeof decoded === 'string') return `snapshot: ${decoded}`
  }
  return null
}

export interface ConsensusRoutingParts {
  self: string
  /** The highest cluster functional level this node supports (what it can read). */
  supportedLevel: number
  /** The file-share witness this node may serve, and its name (null: the topology has none). */
  shareWitness: { witness: FileShareWitness; name: string } | null
  /** The cloud witness this node acts for on its own messages (null: the topology has none). */
  cloudWitness?: CloudWitness | null
  mesh: () => NodeMesh | null
  log: Logger
  /** The node no longer takes messages (it is closing). */
  closed: () => boolean
}

export class ConsensusRouting implements Transport {
  private readonly p: ConsensusRoutingParts
  private toCore: (m: Message) => boolean = () => true

  constructor(parts: ConsensusRoutingParts) {
    this.p = parts
  }

  deliverTo(handler: (m: Message) => boolean): void {
    this.toCore = handler
  }

  /** A consensus message out: to its member, or to whichever node serves the file-share witness. */
  send(m: Message): void {
    const cloud = this.p.cloudWitness ?? null
    if (cloud !== null && m.to === cloud.name) {
      cloud.submit(m)
      return
    }
    const w = this.p.shareWitness
    const mesh = this.p.mesh()
    if (w === null || m.to !== w.name) {
      mesh?.send(m)
      return
    }
    const host = w.witness.host()
    if (host === this.p.self) setImmediate(() => w.witness.step(m))
    else if (host !== null) mesh?.send(m, host)
  }

  /** A message from the mesh (the NodeMesh's onRaft): checked, then to the witness served here or the core. */
  fromMesh(m: Message): boolean {
    if (this.p.closed()) return true
    const problem = payloadProblem(m, this.p.supportedLevel)
    if (problem !== null) {
      this.p.log.warn(
        { peer: m.from, type: m.type, reason: problem },
        'refused a consensus message with unreadable contents',
      )
      return false
    }
    const w = this.p.shareWitness
    if (w !== null && m.to === w.name) {
      w.witness.step(m)
      return true
    }
    return this.toCore(m)
  }

  /** The file-share witness this node serves (or the cloud witness it acts for) answers a member (this node too). */
  fromWitness(m: Message): void {
    if (m.to !== this.p.self) {
      this.p.mesh()?.send(m)
      return
    }
    setImmediate(() => {
      if (!this.p.closed()) this.toCore(m)
    })
  }
}
