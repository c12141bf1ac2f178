/**
 * What a node or witness does over the mesh: consensus messages (authenticated: a message's
 * `from` must be the member whose key opened the stream), heartbeats for site-aware failure
 * detection, and admin requests forwarded to the leader.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import type { Connection, PrivateKey, Stream } from '@libp2p/interface'
import type { Message } from '../consensus/types.ts'
import type { Logger } from '../events/logger.ts'
import {
  FailureDetector,
  type PeerChange,
  type PeerState,
  type PeerTiming,
} from '../membership/failureDetector.ts'
import { AdminRequestSchema, AdminResponseSchema, PingSchema, PongSchema } from '../mesh/gen/geocluster_pb.ts'
import { type CatchUpSink, Mesh, type MeshPeer, type ProtocolName } from '../mesh/mesh.ts'
import { MeshTraffic } from '../mesh/meshTraffic.ts'
import { decodeRaftMessage, encodeRaftMessage } from '../mesh/raftCodec.ts'
import { type CatchUpTransfer, CatchUpTransfers } from './catchUpTransfers.ts'
import type { Transport } from './transport.ts'

/** Dial from the IP we listen on (when it is a specific one), so peers and proxies see who calls. */
export function dialFromOf(listen: string): { dialFrom?: string } {
  const m = /^\/ip4\/([0-9.]+)\//.exec(listen)
  return m === null || m[1] === '0.0.0.0' ? {} : { dialFrom: m[1]! }
}

export interface Member extends MeshPeer {
  site: string
}

export interface AdminCall {
  method: string
  path: string
  body: Uint8Array
  by: string
}

export type { CatchUpTransfer }

export interface NodeMeshInit {
  self: string
  site: string
  privateKey: PrivateKey
  psk: Uint8Array
  listen: string[]
  /** IP to dial from; see Mesh. */
  dialFrom?: string
  logger: Logger
  timing: { sameSite: PeerTiming; crossSite: PeerTiming }
  monotonic: () => number
  /**
   * A decoded consensus message from an authenticated member; false refuses it (closes the
   * stream). Also set later with `deliverTo`; until either, messages are refused.
   */
  onRaft?: (m: Message) => boolean
  /** This node's resources and their states, for its answers to pings. */
  resourceStates?: () => Record<string, string>
  /** Restarts of this node's resources within their periods (those restarted), for its answers. */
  resourceRestarts?: () => Record<string, number>
  /** The name of a file-share witness whose messages members relay (none when absent). */
  relayedWitness?: string
  /** Who this node thinks leads, for pongs. */
  leaderView: () => { leader: string; term: number }
  /** This node's epoch, which its pings and pongs carry (leases stay within one history). */
  epoch?: () => { epoch: number; epochId: string }
  /** A lease for the member of epoch `asker` that pinged, if this node (a leader) grants one now: the index to apply first. */
  leaseFor?: (from: string, asker: { epoch: number; epochId: string }) => { mustApply: number } | null
  /** A leader of epoch `grantor` granted this node a lease for the ping it sent at `askedAtMs`. */
  onLease?: (
    from: string,
    grantor: { epoch: number; epochId: string },
    askedAtMs: number,
    mustApply: number,
  ) => void
  onAdmin: (from: string, call: AdminCall) => Promise<{ status: number; body: Uint8Array }>
}

/** A member claiming more resources than this in one answer is ignored (bounded memory). */
const resourceStatesMax = 10_000

/** The mesh is the real Transport (transport.ts). */
export class NodeMesh implements Transport {
  readonly mesh: Mesh
  readonly detector = new FailureDetector()
  /** Frames sent and received, by protocol and kind (metrics, bench:idle). */
  readonly traffic = new MeshTraffic()
  private readonly init: NodeMeshInit
  private members = new Map<string, Member>()
  private readonly lastPing = new Map<string, number>()
  private pingSeq = 0
  private readonly pingsSent = new Map<number, number>()
  /** Each member's resource states from its latest answer, and when that came. */
  private readonly peerStates = new Map<
    string,
    { at: number; states: Map<string, string>; restarts: Map<string, number> }
  >()
  /** Frames refused (bad encoding or a forged sender), for status and tests. */
  rejectedFrames = 0
  private readonly catchUp: CatchUpTransfers
  private onRaft: (m: Message) => boolean

  constructor(init: NodeMeshInit) {
    this.init = init
    this.onRaft = init.onRaft ?? (() => false)
    this.mesh = new Mesh({
      self: init.self,
      privateKey: init.privateKey,
      psk: init.psk,
      listen: init.listen,
      logger: init.logger,
      ...(init.dialFrom === undefined ? {} : { dialFrom: init.dialFrom }),
      onFrame: (protocol, from, frame, reply) => this.receive(protocol, from, frame, reply),
      onRequest: (from, frame) => this.onRequest(from, frame),
      onCatchUp: (from) => this.catchUpStream(from),
    })
    this.catchUp = new CatchUpTransfers({
      mesh: this.mesh,
      logger: init.logger,
      monotonic: init.monotonic,
      heard: (from) => this.detector.heard(from, init.monotonic()),
      deliver: (from, m) => this.deliver(from, m),
      refused: () => this.rejectedFrames++,
    })
  }

  async start(members: Member[]): Promise<void> {
    this.setMembers(members)
    await this.mesh.start([...this.members.values()])
  }

  setMembers(members: Member[]): void {
    this.members = new Map(members.filter((m) => m.name !== this.init.self).map((m) => [m.name, m]))
    this.mesh.setPeers([...this.members.values()])
    const timing = new Map<string, PeerTiming>()
    for (const m of this.members.values())
      timing.set(m.name, m.site === this.init.site ? this.init.timing.sameSite : this.init.timing.crossSite)
    this.detector.setPeers(timing, this.init.monotonic())
  }

  deliverTo(handler: (m: Message) => boolean): void {
    this.onRaft = handler
  }

  /** Sends to `m.to`, or through `via` (the node that serves a file-share witness). */
  send(m: Message, via?: string): void {
    if (m.type === 'snapshot') {
      this.traffic.note('out', 'catchup', m.type)
      this.catchUp.send(m)
    } else if (this.mesh.send('raft', via ?? m.to, encodeRaftMessage(m)))
      this.traffic.note('out', 'raft', m.type)
  }

  /** Snapshots under way in either direction. */
  catchUpTransfers(): CatchUpTransfer[] {
    return this.catchUp.list()
  }

  /** The receiving end of one catch-up stream from `from` (the mesh feeds it; so do the fuzz tests). */
  catchUpStream(from: string): CatchUpSink {
    this.traffic.note('in', 'catchup', 'stream')
    return this.catchUp.receive(from)
  }

  /** Pings every member whose heartbeat period has come round (call every tick). */
  heartbeat(): void {
    const now = this.init.monotonic()
    for (const name of this.detector.dueForPing(this.lastPing, now)) {
      this.lastPing.set(name, now)
      const seq = ++this.pingSeq
      this.pingsSent.set(seq, now)
      // Answers older than this many pings are not waited for (bounded memory).
      this.pingsSent.delete(seq - pingsRemembered)
      const epoch = this.init.epoch?.() ?? { epoch: 0, epochId: '' }
      const ping = create(PingSchema, {
        from: this.init.self,
        seq: BigInt(seq),
        sentAt: now,
        epoch: BigInt(epoch.epoch),
        epochId: epoch.epochId,
      })
      if (this.mesh.send('heartbeat', name, toBinary(PingSchema, ping)))
        this.traffic.note('out', 'heartbeat', 'ping')
    }
  }

  /** Members whose state changed since the last call (see FailureDetector.changes). */
  peerChanges(): PeerChange[] {
    return this.detector.changes(this.init.monotonic())
  }

  peerState(name: string): PeerState | undefined {
    return this.detector.state(name, this.init.monotonic())
  }

  /** Forwards an admin call to `to` (the leader) and returns its answer. */
  async forward(to: string, call: AdminCall): Promise<{ status: number; body: Uint8Array }> {
    const request = create(AdminRequestSchema, {
      method: call.method,
      path: call.path,
      body: call.body,
      by: call.by,
    })
    this.traffic.note('out', 'admin', 'request')
    const bytes = await this.mesh.request(to, toBinary(AdminRequestSchema, request))
    const response = fromBinary(AdminResponseSchema, bytes)
    return { status: response.status, body: response.body }
  }

  async stop(): Promise<void> {
    this.catchUp.stop()
    await this.mesh.stop()
  }

  // ---- inbound -----------------------------------------------------------------------------

  /**
   * One frame from member `from` on a long-lived stream; false means "close that stream". Every
   * protocol handler comes through here (and `request`), which is what the fuzz tests drive.
   */
  receive(
    protocol: 'raft' | 'heartbeat',
    from: string,
    frame: Uint8Array,
    reply: (f: Uint8Array) => void,
  ): boolean {
    return protocol === 'raft' ? this.onRaftFrame(from, frame) : this.onHeartbeat(from, frame, reply)
  }

  /**
   * The states of `member`'s resources as its last answer said (null when it has not answered
   * within its detection window: then nobody here knows).
   */
  peerResourceStates(member: string): ReadonlyMap<string, string> | null {
    const p = this.peerStates.get(member)
    if (p === undefined || this.peerState(member) !== 'up') return null
    return p.states
  }

  /** Restarts of `member`'s resources within their periods, as its last answer said (null: unknown). */
  peerResourceRestarts(member: string): ReadonlyMap<string, number> | null {
    const p = this.peerStates.get(member)
    if (p === undefined || this.peerState(member) !== 'up') return null
    return p.restarts
  }

  /** One admin request frame from member `from`; resolves with the response frame. */
  request(from: string, frame: Uint8Array): Promise<Uint8Array> {
    return this.onRequest(from, frame)
  }

  /** An inbound libp2p stream, through the mesh's framing and member check (see Mesh.accept). */
  accept(protocol: ProtocolName, stream: Stream, connection: Connection): void {
    this.mesh.accept(protocol, stream, connection)
  }

  private onRaftFrame(from: string, frame: Uint8Array): boolean {
    const m = decodeRaftMessage(frame)
    if (typeof m === 'string' || m.type === 'snapshot') {
      this.rejectedFrames++
      this.init.logger.warn(
        { peer: from, reason: typeof m === 'string' ? m : 'a snapshot belongs on the catch-up protocol' },
        'refused a consensus frame; closing the stream',
      )
      return false
    }
    this.traffic.note('in', 'raft', m.type)
    return this.deliver(from, m)
  }

  /** A decoded consensus message from `from` goes to the core if it really is from them to us. */
  private deliver(from: string, m: Message): boolean {
    // A file-share witness has no address: its host relays what it says and what it is told.
    const w = this.init.relayedWitness
    const toUs = m.to === this.init.self || (w !== undefined && m.to === w && m.from === from)
    const fromThem = m.from === from || (w !== undefined && m.from === w && m.to === this.init.self)
    if (!toUs || !fromThem) {
      this.rejectedFrames++
      this.init.logger.warn(
        { peer: from, reason: `claims to be ${m.from} to ${m.to}` },
        'refused a consensus message; closing the stream',
      )
      return false
    }
    this.detector.heard(from, this.init.monotonic())
    if (!this.onRaft(m)) {
      this.rejectedFrames++
      return false
    }
    return true
  }

  /** Heartbeat streams carry pings one way and pongs back. */
  private onHeartbeat(from: string, frame: Uint8Array, reply: (f: Uint8Array) => void): boolean {
    const now = this.init.monotonic()
    try {
      if (frame[0] === pongTag) {
        const pong = tryDecode(PongSchema, frame.subarray(1))
        if (pong === null || pong.from !== from) {
          this.rejectedFrames++
          return false
        }
        this.traffic.note('in', 'heartbeat', 'pong')
        this.detector.heard(from, now, Math.max(0, now - pong.sentAt))
        const states = Object.entries(pong.resourceStates)
        const restarts = Object.entries(pong.resourceRestarts)
        if (states.length <= resourceStatesMax && restarts.length <= resourceStatesMax)
          this.peerStates.set(from, { at: now, states: new Map(states), restarts: new Map(restarts) })
        // The lease counts from when this node asked, by its own record of the ping.
        const askedAt = this.pingsSent.get(Number(pong.seq))
        if (pong.leaseGranted && askedAt !== undefined)
          this.init.onLease?.(
            from,
            { epoch: Number(pong.epoch), epochId: pong.epochId },
            askedAt,
            Number(pong.mustApply),
          )
        return true
      }
      const ping = tryDecode(PingSchema, frame)
      if (ping === null || ping.from !== from) {
        this.rejectedFrames++
        return false
      }
      this.traffic.note('in', 'heartbeat', 'ping')
      this.detector.heard(from, now)
      const view = this.init.leaderView()
      const grant = this.init.leaseFor?.(from, { epoch: Number(ping.epoch), epochId: ping.epochId }) ?? null
      const own = this.init.epoch?.() ?? { epoch: 0, epochId: '' }
      const answer = create(PongSchema, {
        epoch: BigInt(own.epoch),
        epochId: own.epochId,
        from: this.init.self,
        seq: ping.seq,
        sentAt: ping.sentAt,
        leader: view.leader,
        term: BigInt(view.term),
        leaseGranted: grant !== null,
        mustApply: BigInt(grant?.mustApply ?? 0),
        resourceStates: this.init.resourceStates?.() ?? {},
        resourceRestarts: this.init.resourceRestarts?.() ?? {},
      })
      reply(markPong(toBinary(PongSchema, answer)))
      this.traffic.note('out', 'heartbeat', 'pong')
      return true
    } catch (error) {
      this.rejectedFrames++
      this.init.logger.warn({ peer: from, err: (error as Error).message }, 'refused a heartbeat frame')
      return false
    }
  }

  private async onRequest(from: string, frame: Uint8Array): Promise<Uint8Array> {
    this.traffic.note('in', 'admin', 'request')
    const req = tryDecode(AdminRequestSchema, frame)
    if (req === null) {
      this.rejectedFrames++
      return toBinary(
        AdminResponseSchema,
        create(AdminResponseSchema, {
          status: 400,
          body: new TextEncoder().encode('{"error":"malformed request"}'),
        }),
      )
    }
    const answer = await this.init.onAdmin(from, {
      method: req.method,
      path: req.path,
      body: req.body,
      by: req.by,
    })
    return toBinary(
      AdminResponseSchema,
      create(AdminResponseSchema, { status: answer.status, body: answer.body }),
    )
  }
}

function tryDecode<T extends Parameters<typeof fromBinary>[0]>(schema: T, bytes: Uint8Array) {
  try {
    return fromBinary(schema, bytes) as ReturnType<typeof fromBinary<T>>
  } catch {
    return null
  }
}

const pingsRemembered = 1024

// Pongs are tagged with a leading byte so the two directions of a heartbeat stream cannot be
// confused (protobuf bytes alone could parse as either message; no Ping starts with 0xf0,
// which would be field 30).
const pongTag = 0xf0

function markPong(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1)
  out[0] = pongTag
  out.set(bytes, 1)
  return out
}
