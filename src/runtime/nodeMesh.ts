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
import { decodeRaftMessage, encodeRaftMessage } from '../mesh/raftCodec.ts'
import {
  catchUpLimits,
  SnapshotAssembly,
  type SnapshotMessage,
  snapshotFrames,
} from '../mesh/snapshotTransfer.ts'

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

/** A snapshot on its way to or from a member, for logs and status. */
export interface CatchUpTransfer {
  peer: string
  direction: 'sending' | 'receiving'
  snapshotIndex: number
  bytes: number
  totalBytes: number
  elapsedMs: number
}

interface Transfer extends Omit<CatchUpTransfer, 'elapsedMs'> {
  term: number
  startedAt: number
  loggedAt: number
}

/** Progress lines at most this often per transfer, plus one at the start and one at the end. */
const progressLogMs = 2_000

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
  /** A decoded consensus message from an authenticated member; false refuses it (closes the stream). */
  onRaft: (m: Message) => boolean
  /** This node's resources and their states, for its answers to pings. */
  resourceStates?: () => Record<string, string>
  /** The name of a file-share witness whose messages members relay (none when absent). */
  relayedWitness?: string
  /** Who this node thinks leads, for pongs. */
  leaderView: () => { leader: string; term: number }
  /** A lease for the member that pinged, if this node (a leader) grants one now: the index to apply first. */
  leaseFor?: (from: string) => { mustApply: number } | null
  /** A leader granted this node a lease for the ping it sent at `askedAtMs`. */
  onLease?: (from: string, askedAtMs: number, mustApply: number) => void
  onAdmin: (from: string, call: AdminCall) => Promise<{ status: number; body: Uint8Array }>
}

/** A member claiming more resources than this in one answer is ignored (bounded memory). */
const resourceStatesMax = 10_000

export class NodeMesh {
  readonly mesh: Mesh
  readonly detector = new FailureDetector()
  private readonly init: NodeMeshInit
  private members = new Map<string, Member>()
  private readonly lastPing = new Map<string, number>()
  private pingSeq = 0
  private readonly pingsSent = new Map<number, number>()
  /** Each member's resource states from its latest answer, and when that came. */
  private readonly peerStates = new Map<string, { at: number; states: Map<string, string> }>()
  /** Frames refused (bad encoding or a forged sender), for status and tests. */
  rejectedFrames = 0
  private readonly outbound = new Map<string, Transfer & { abort: AbortController }>()
  private readonly inbound = new Map<string, Transfer>()

  constructor(init: NodeMeshInit) {
    this.init = init
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

  /** Sends to `m.to`, or through `via` (the node that serves a file-share witness). */
  send(m: Message, via?: string): void {
    if (m.type === 'snapshot') this.sendSnapshot(m)
    else this.mesh.send('raft', via ?? m.to, encodeRaftMessage(m))
  }

  /** Snapshots under way in either direction. */
  catchUpTransfers(): CatchUpTransfer[] {
    const now = this.init.monotonic()
    return [...this.outbound.values(), ...this.inbound.values()].map((t) => ({
      peer: t.peer,
      direction: t.direction,
      snapshotIndex: t.snapshotIndex,
      bytes: t.bytes,
      totalBytes: t.totalBytes,
      elapsedMs: Math.round(now - t.startedAt),
    }))
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
      const ping = create(PingSchema, { from: this.init.self, seq: BigInt(seq), sentAt: now })
      this.mesh.send('heartbeat', name, toBinary(PingSchema, ping))
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
    const bytes = await this.mesh.request(to, toBinary(AdminRequestSchema, request))
    const response = fromBinary(AdminResponseSchema, bytes)
    return { status: response.status, body: response.body }
  }

  async stop(): Promise<void> {
    for (const t of this.outbound.values()) t.abort.abort(new Error('stopping'))
    await this.mesh.stop()
  }

  /**
   * Streams a snapshot to a member on its own catch-up stream. The consensus core offers the
   * same snapshot again when it hears nothing back for an election timeout; while that one is
   * still on its way the repeat is not needed (a large snapshot over a WAN takes longer).
   */
  private sendSnapshot(m: SnapshotMessage): void {
    const current = this.outbound.get(m.to)
    if (current !== undefined && current.snapshotIndex === m.meta.index && current.term === m.term) return
    current?.abort.abort(new Error('a newer snapshot replaces it'))
    if (m.data.length > catchUpLimits.snapshotBytesMax) {
      // The database's quotas keep snapshots well below this; should one still be larger, the
      // member is not sent what it would refuse, and the leader goes on.
      this.init.logger.error(
        { peer: m.to, bytes: m.data.length, limit: catchUpLimits.snapshotBytesMax },
        'snapshot too large to send; the member cannot catch up until it is smaller',
      )
      return
    }
    const { totalBytes, frames } = snapshotFrames(m)
    const now = this.init.monotonic()
    const t = {
      peer: m.to,
      direction: 'sending' as const,
      snapshotIndex: m.meta.index,
      term: m.term,
      bytes: 0,
      totalBytes,
      startedAt: now,
      loggedAt: now,
      abort: new AbortController(),
    }
    this.outbound.set(m.to, t)
    const log = this.init.logger
    log.info({ peer: t.peer, snapshotIndex: t.snapshotIndex, totalBytes }, 'catch-up: sending a snapshot')
    this.mesh
      .stream(m.to, frames, t.abort.signal, (n) => {
        t.bytes = Math.min(totalBytes, t.bytes + n)
        this.logProgress(t)
      })
      .then(() => {
        t.bytes = totalBytes
        log.info(this.progressFields(t), 'catch-up: snapshot sent')
      })
      .catch((error: Error) => {
        log.warn(
          { ...this.progressFields(t), err: error.message },
          'catch-up: snapshot transfer failed; consensus offers it again',
        )
      })
      .finally(() => {
        if (this.outbound.get(m.to) === t) this.outbound.delete(m.to)
      })
  }

  /** The receiving end of one catch-up stream from `from` (the mesh feeds it; so do the fuzz tests). */
  catchUpStream(from: string): CatchUpSink {
    const assembly = new SnapshotAssembly(from)
    const now = this.init.monotonic()
    const t: Transfer = {
      peer: from,
      direction: 'receiving',
      snapshotIndex: 0,
      bytes: 0,
      totalBytes: 0,
      term: 0,
      startedAt: now,
      loggedAt: now,
    }
    const log = this.init.logger
    let offered = false
    return {
      frame: (frame) => {
        // A newer transfer from the same member supersedes this one (one at a time per member).
        if (offered && this.inbound.get(from) !== t) return 'refused'
        this.detector.heard(from, this.init.monotonic())
        const step = assembly.take(frame)
        switch (step.kind) {
          case 'offer':
            offered = true
            t.snapshotIndex = step.snapshotIndex
            t.totalBytes = step.totalBytes
            this.inbound.set(from, t)
            log.info(
              { peer: from, snapshotIndex: t.snapshotIndex, totalBytes: t.totalBytes },
              'catch-up: receiving a snapshot',
            )
            return 'more'
          case 'progress':
            t.bytes = step.bytes
            this.logProgress(t)
            return 'more'
          case 'done': {
            t.bytes = t.totalBytes
            if (this.inbound.get(from) === t) this.inbound.delete(from)
            log.info(this.progressFields(t), 'catch-up: snapshot received')
            return this.deliver(from, step.message) ? 'done' : 'refused'
          }
          case 'refused':
            this.rejectedFrames++
            if (this.inbound.get(from) === t) this.inbound.delete(from)
            log.warn(
              { peer: from, reason: step.reason },
              'catch-up: refused a snapshot transfer; closing the stream',
            )
            return 'refused'
        }
      },
      closed: () => {
        if (this.inbound.get(from) !== t) return
        this.inbound.delete(from)
        log.warn(this.progressFields(t), 'catch-up: the stream closed before the snapshot was complete')
      },
    }
  }

  private progressFields(t: Transfer) {
    const ms = Math.max(1, this.init.monotonic() - t.startedAt)
    return {
      peer: t.peer,
      snapshotIndex: t.snapshotIndex,
      bytes: t.bytes,
      totalBytes: t.totalBytes,
      ms: Math.round(ms),
      mbPerS: Math.round((t.bytes / 1e6 / (ms / 1000)) * 10) / 10,
    }
  }

  private logProgress(t: Transfer): void {
    const now = this.init.monotonic()
    if (now - t.loggedAt < progressLogMs) return
    t.loggedAt = now
    const percent = t.totalBytes === 0 ? 100 : Math.floor((100 * t.bytes) / t.totalBytes)
    this.init.logger.info({ ...this.progressFields(t), percent }, `catch-up: ${t.direction} a snapshot`)
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
    if (!this.init.onRaft(m)) {
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
        this.detector.heard(from, now, Math.max(0, now - pong.sentAt))
        const states = Object.entries(pong.resourceStates)
        if (states.length <= resourceStatesMax)
          this.peerStates.set(from, { at: now, states: new Map(states) })
        // The lease counts from when this node asked, by its own record of the ping.
        const askedAt = this.pingsSent.get(Number(pong.seq))
        if (pong.leaseGranted && askedAt !== undefined)
          this.init.onLease?.(from, askedAt, Number(pong.mustApply))
        return true
      }
      const ping = tryDecode(PingSchema, frame)
      if (ping === null || ping.from !== from) {
        this.rejectedFrames++
        return false
      }
      this.detector.heard(from, now)
      const view = this.init.leaderView()
      const grant = this.init.leaseFor?.(from) ?? null
      const answer = create(PongSchema, {
        from: this.init.self,
        seq: ping.seq,
        sentAt: ping.sentAt,
        leader: view.leader,
        term: BigInt(view.term),
        leaseGranted: grant !== null,
        mustApply: BigInt(grant?.mustApply ?? 0),
        resourceStates: this.init.resourceStates?.() ?? {},
      })
      reply(markPong(toBinary(PongSchema, answer)))
      return true
    } catch (error) {
      this.rejectedFrames++
      this.init.logger.warn({ peer: from, err: (error as Error).message }, 'refused a heartbeat frame')
      return false
    }
  }

  private async onRequest(from: string, frame: Uint8Array): Promise<Uint8Array> {
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
