/**
 * The authenticated mesh between members: libp2p over TCP with Noise (identity = Ed25519 peer
 * ID), yamux, a private-network pre-shared key, and a connection gater that fails closed and
 * admits only the peer IDs of current members. Each protocol is versioned
 * (`/geocluster/<name>/1.0.0`) and frames one protobuf message per length-prefixed frame, with
 * a size limit; a malformed or oversized frame closes that stream with a logged reason.
 *
 * Outbound traffic to a peer uses one long-lived stream per protocol, opened on demand and
 * re-dialled with exponential backoff and jitter; its queue is bounded (consensus tolerates a
 * lost message, memory would not tolerate an unbounded queue).
 */

import { noise } from '@chainsafe/libp2p-noise'
import type { Connection, Libp2p, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import * as lp from 'it-length-prefixed'
import { createLibp2p } from 'libp2p'
import type { Logger } from '../events/logger.ts'
import { memberAddressProblem, peerIdProblem } from '../membership/memberAddress.ts'
import { answerCalls, CallChannel, type CallStreamIo, callLimits, callProtocol } from './callStreams.ts'
import { takeFrameBatch } from './frameBatch.ts'
import { FrameDecoder } from './frameDecoder.ts'
import { privateNetwork } from './privateNetwork.ts'
import { catchUpLimits } from './snapshotTransfer.ts'
import { sendWindowUpdatesAtHalfWindow } from './yamuxWindowUpdates.ts'

export const protocols = {
  raft: '/geocluster/raft/1.0.0',
  heartbeat: '/geocluster/heartbeat/1.0.0',
  /** One request per stream: what older releases speak, still answered. */
  admin: '/geocluster/admin/1.0.0',
  /** Requests with ids over one long-lived stream per peer (callStreams.ts). */
  call: callProtocol,
  catchup: '/geocluster/catchup/1.0.0',
} as const
export type ProtocolName = keyof typeof protocols

export const meshLimits = {
  frameBytesMax: 16 * 1024 * 1024,
  /** Frames waiting per outbound link before the oldest are dropped. */
  queueFramesMax: 4096,
  queueBytesMax: 64 * 1024 * 1024,
  dialTimeoutMs: 5_000,
  backoffMsMin: 100,
  backoffMsMax: 10_000,
  requestTimeoutMs: 10_000,
  /**
   * Undecoded bytes one stream may hold: a frame plus what yamux may deliver at once (its
   * stream window grows to 16 MiB). The decoder's own default (4 MiB) is below one frame.
   */
  streamBufferBytesMax: 40 * 1024 * 1024,
  /** The private network's nonce exchange: a peer without the key is dropped after this. */
  pskHandshakeTimeoutMs: 1_000,
  /** The whole inbound upgrade (nonce, Noise, muxer), over a slow WAN link included. */
  inboundUpgradeTimeoutMs: 3_000,
  /** Connections still upgrading, beyond members (who are exempt): per member, and at least. */
  pendingInboundPerMember: 4,
  pendingInboundMin: 32,
} as const

/**
 * The IPs of members' addresses (where they connect from, as seen through NAT or a proxy too):
 * libp2p's allow list, which exempts them from the pending-connection limit and the per-host
 * rate limit, so idle sockets from elsewhere can never lock members out.
 */
export function memberIps(peers: MeshPeer[]): string[] {
  const ips = new Set<string>()
  for (const p of peers) {
    const m = /^\/(ip4|ip6)\/([^/]+)\//.exec(p.address)
    if (m !== null) ips.add(`/${m[1]}/${m[2]}`)
  }
  return [...ips]
}

/** One varint-length-prefixed frame (it-length-prefixed's own default limit is 4 MiB). */
function encodeFrame(frame: Uint8Array, maxDataLength: number): Uint8Array {
  return lp.encode.single(frame, { maxDataLength }).subarray()
}

function frameDecoder(frameBytesMax: number): FrameDecoder {
  return new FrameDecoder({ frameBytesMax, bufferBytesMax: meshLimits.streamBufferBytesMax })
}

export interface MeshPeer {
  name: string
  peerId: string
  /** Where to dial it (a multiaddr without /p2p). */
  address: string
}

export interface MeshInit {
  self: string
  privateKey: PrivateKey
  psk: Uint8Array
  listen: string[]
  logger: Logger
  /** IP to dial from (the node's own address), so a WAN emulator can tell who is calling. */
  dialFrom?: string
  /** A frame arrived on a long-lived stream from member `from`. Return false to close the stream. */
  onFrame: (
    protocol: 'raft' | 'heartbeat',
    from: string,
    frame: Uint8Array,
    reply: (frame: Uint8Array) => void,
  ) => boolean
  /** A request (admin protocol) from member `from`; resolves with the response frame. */
  onRequest: (from: string, frame: Uint8Array) => Promise<Uint8Array>
  /** A catch-up stream from member `from` opened: where its frames go, in order. */
  onCatchUp: (from: string) => CatchUpSink
  random?: () => number
}

export interface CatchUpSink {
  /** One frame: `refused` resets the stream, `done` closes it gracefully. */
  frame(frame: Uint8Array): 'more' | 'done' | 'refused'
  /** The stream ended, whether or not the transfer completed. */
  closed(): void
}

interface Link {
  peer: MeshPeer
  protocol: 'raft' | 'heartbeat'
  stream: Stream | null
  queue: Uint8Array[]
  queuedBytes: number
  dialing: boolean
  failures: number
  nextDialAt: number
  dropped: number
  writing: boolean
  /** A write of what is queued is due at the end of this turn (frameBatch.ts). */
  flushDue: boolean
}

export class Mesh {
  private readonly init: MeshInit
  private node: Libp2p | null = null
  private peers = new Map<string, MeshPeer>()
  private byPeerId = new Map<string, string>()
  /** Where each peer is dialled; absent for a peer whose address or key cannot be parsed. */
  private dialAddresses = new Map<string, Multiaddr>()
  private readonly links = new Map<string, Link>()
  private readonly calls = new Map<string, { peer: MeshPeer; channel: CallChannel }>()
  /** Peers found without the call protocol, and until when they are asked one request per stream. */
  private readonly legacyCallers = new Map<string, number>()
  private readonly callIo: CallStreamIo
  private stopped = false
  private readonly random: () => number

  constructor(init: MeshInit) {
    this.init = init
    this.random = init.random ?? Math.random
    this.callIo = {
      write: (stream, frame) => {
        stream.send(encodeFrame(frame, meshLimits.frameBytesMax))
      },
      read: (stream, onFrame) => this.readFrames(stream, { protocol: 'call' }, onFrame),
    }
  }

  get peerId(): string {
    return this.node?.peerId.toString() ?? ''
  }

  get listening(): string[] {
    return this.node?.getMultiaddrs().map((m) => m.toString()) ?? []
  }

  async start(peers: MeshPeer[]): Promise<void> {
    sendWindowUpdatesAtHalfWindow()
    this.setPeers(peers)
    const allowed = (peer: PeerId) => this.byPeerId.has(peer.toString())
    this.node = await createLibp2p({
      privateKey: this.init.privateKey,
      addresses: { listen: this.init.listen },
      // No Nagle: consensus messages are small and latency-bound (with Nagle and delayed ACKs a
      // round trip can wait 40 ms). localAddress is a net.connect option the transport passes
      // through (not in its types).
      transports: [
        tcp({
          dialOpts: {
            noDelay: true,
            ...(this.init.dialFrom === undefined ? {} : { localAddress: this.init.dialFrom }),
          } as { noDelay?: boolean },
          listenOpts: { noDelay: true },
        }),
      ],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionProtector: privateNetwork({
        psk: this.init.psk,
        timeoutMs: meshLimits.pskHandshakeTimeoutMs,
      }),
      connectionManager: {
        allow: memberIps(peers),
        maxIncomingPendingConnections: Math.max(
          meshLimits.pendingInboundMin,
          meshLimits.pendingInboundPerMember * (peers.length + 1),
        ),
        inboundUpgradeTimeout: meshLimits.inboundUpgradeTimeoutMs,
      },
      // Fails closed: only current members (witness included) get past the handshake.
      connectionGater: {
        denyDialPeer: async (peer: PeerId) => !allowed(peer),
        denyInboundEncryptedConnection: async (peer: PeerId) => !allowed(peer),
        denyOutboundEncryptedConnection: async (peer: PeerId) => !allowed(peer),
      },
    })
    for (const protocol of Object.keys(protocols) as ProtocolName[]) {
      await this.node.handle(protocols[protocol], (stream, connection) =>
        this.accept(protocol, stream, connection),
      )
    }
  }

  /**
   * An inbound stream of `protocol` that libp2p opened on `connection`: framed by the
   * length-prefixed decoder and handed to this node's handlers, or closed when the peer is not
   * a member (or sends what the framing refuses). Public so the boundary fuzzer drives exactly
   * this path.
   */
  accept(protocol: ProtocolName, stream: Stream, connection: Connection): void {
    if (protocol === 'raft' || protocol === 'heartbeat') this.acceptStream(protocol, stream, connection)
    else if (protocol === 'admin') void this.acceptRequest(stream, connection)
    else if (protocol === 'call') this.acceptCalls(stream, connection)
    else this.acceptCatchUp(stream, connection)
  }

  /** Replaces who may connect and where to dial them (membership changes through the log). */
  setPeers(peers: MeshPeer[]): void {
    this.peers = new Map(peers.filter((p) => p.name !== this.init.self).map((p) => [p.name, p]))
    this.byPeerId = new Map([...this.peers.values()].map((p) => [p.peerId, p.name]))
    this.dialAddresses = new Map()
    for (const p of this.peers.values()) {
      // Addresses are checked before they are committed; one that still fails to parse (an old
      // database, a hand-edited topology) leaves that peer undialled, never a throw in a timer.
      const problem = memberAddressProblem(p.address) ?? peerIdProblem(p.peerId)
      if (problem === null) this.dialAddresses.set(p.name, multiaddr(`${p.address}/p2p/${p.peerId}`))
      else this.init.logger.error({ peer: p.name, address: p.address, problem }, 'cannot dial this member')
    }
    for (const [key, link] of this.links) {
      const now = this.peers.get(link.peer.name)
      if (now === undefined || now.peerId !== link.peer.peerId || now.address !== link.peer.address) {
        link.stream?.abort(new Error('membership changed'))
        this.links.delete(key)
      }
    }
    for (const [name, { peer, channel }] of this.calls) {
      const now = this.peers.get(name)
      if (now === undefined || now.peerId !== peer.peerId || now.address !== peer.address) {
        channel.close('membership changed')
        this.calls.delete(name)
      }
    }
    // Connections of peers no longer admitted are closed at once.
    if (this.node !== null) {
      for (const conn of this.node.getConnections()) {
        if (!this.byPeerId.has(conn.remotePeer.toString())) void conn.close().catch(() => {})
      }
    }
  }

  /** Sends a frame to a member on a long-lived stream; false when it had to be dropped. */
  send(protocol: 'raft' | 'heartbeat', to: string, frame: Uint8Array): boolean {
    if (this.stopped) return false
    const peer = this.peers.get(to)
    if (peer === undefined || !this.dialAddresses.has(to)) return false
    if (frame.length > meshLimits.frameBytesMax) {
      // The sender bounds its messages below this; one that is not is dropped, not sent to be refused.
      this.init.logger.error(
        { peer: to, protocol, bytes: frame.length, limit: meshLimits.frameBytesMax },
        'dropped an outbound frame over the size limit',
      )
      return false
    }
    const key = `${protocol}:${to}`
    let link = this.links.get(key)
    if (link === undefined) {
      link = {
        peer,
        protocol,
        stream: null,
        queue: [],
        queuedBytes: 0,
        dialing: false,
        failures: 0,
        nextDialAt: 0,
        dropped: 0,
        writing: false,
        flushDue: false,
      }
      this.links.set(key, link)
    }
    const bytes = encodeFrame(frame, meshLimits.frameBytesMax)
    link.queue.push(bytes)
    link.queuedBytes += bytes.length
    while (link.queue.length > meshLimits.queueFramesMax || link.queuedBytes > meshLimits.queueBytesMax) {
      const dropped = link.queue.shift()!
      link.queuedBytes -= dropped.length
      link.dropped++
    }
    // Everything sent to this link in the same turn leaves in one write.
    if (!link.flushDue) {
      link.flushDue = true
      queueMicrotask(() => {
        link.flushDue = false
        this.pump(link)
      })
    }
    return true
  }

  /**
   * One request/response exchange (admin forwarding) on the peer's call stream; a peer of an
   * older release, without the call protocol, is asked on a stream of its own.
   */
  async request(to: string, frame: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    const peer = this.peers.get(to)
    if (peer === undefined || this.node === null || this.stopped) throw new Error(`${to} is not a member`)
    const timeout = AbortSignal.timeout(meshLimits.requestTimeoutMs)
    const s = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    if ((this.legacyCallers.get(to) ?? 0) > Date.now()) return this.requestOnce(peer, frame, s)
    let entry = this.calls.get(to)
    if (entry === undefined) {
      const open = () =>
        this.node!.dialProtocol(this.addressOf(peer), protocols.call, {
          signal: AbortSignal.timeout(meshLimits.dialTimeoutMs),
        })
      entry = { peer, channel: new CallChannel(to, open, this.callIo) }
      this.calls.set(to, entry)
    }
    try {
      return await entry.channel.request(frame, s)
    } catch (error) {
      if ((error as Error).name !== 'UnsupportedProtocolError') throw error
      this.legacyCallers.set(to, Date.now() + callLimits.legacyRetryMs)
      return this.requestOnce(peer, frame, s)
    }
  }

  /** Requests waiting for answers per peer (status, tests). */
  callsInFlight(): Map<string, number> {
    return new Map([...this.calls].map(([name, { channel }]) => [name, channel.inFlight]))
  }

  /**
   * Writes `frames` to `to` on a catch-up stream of its own, respecting backpressure, and
   * resolves once the receiver has taken them all and closed its end. `written` reports each
   * frame's size as it leaves, for progress.
   */
  async stream(
    to: string,
    frames: Iterable<Uint8Array>,
    signal: AbortSignal,
    written: (frameBytes: number) => void,
  ): Promise<void> {
    const peer = this.peers.get(to)
    if (peer === undefined || this.node === null) throw new Error(`${to} is not a member`)
    const stream = await this.node.dialProtocol(this.addressOf(peer), protocols.catchup, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(meshLimits.dialTimeoutMs)]),
    })
    try {
      for (const frame of frames) {
        signal.throwIfAborted()
        if (!stream.send(encodeFrame(frame, catchUpLimits.frameBytesMax)))
          await stream.onDrain({
            signal: AbortSignal.any([signal, AbortSignal.timeout(meshLimits.requestTimeoutMs)]),
          })
        written(frame.length)
      }
      // The receiver closes its end once it has checked the whole transfer.
      const confirm = AbortSignal.any([signal, AbortSignal.timeout(meshLimits.requestTimeoutMs)])
      await new Promise<void>((resolve, reject) => {
        stream.addEventListener('close', (e) => (e.error === undefined ? resolve() : reject(e.error)), {
          once: true,
        })
        confirm.addEventListener('abort', () => reject(new Error(`${to} did not confirm the transfer`)), {
          once: true,
        })
        stream.close({ signal: confirm }).catch(reject)
      })
    } catch (error) {
      stream.abort(error as Error)
      throw error
    }
  }

  /** Which members we currently hold an open connection to. */
  connectedPeers(): string[] {
    if (this.node === null) return []
    return this.node
      .getConnections()
      .map((c) => this.byPeerId.get(c.remotePeer.toString()))
      .filter((n): n is string => n !== undefined)
  }

  linkStats(): { peer: string; protocol: string; queued: number; dropped: number; failures: number }[] {
    return [...this.links.values()].map((l) => ({
      peer: l.peer.name,
      protocol: l.protocol,
      queued: l.queue.length,
      dropped: l.dropped,
      failures: l.failures,
    }))
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const { channel } of this.calls.values()) channel.close('stopping')
    this.calls.clear()
    for (const link of this.links.values()) link.stream?.abort(new Error('stopping'))
    this.links.clear()
    await this.node?.stop()
  }

  // ---- internals ---------------------------------------------------------------------------

  private addressOf(peer: MeshPeer): Multiaddr {
    const address = this.dialAddresses.get(peer.name)
    if (address === undefined) throw new Error(`${peer.name} has no address that can be dialled`)
    return address
  }

  /** Opens the link's stream if needed (respecting backoff) and writes what is queued. */
  private pump(link: Link): void {
    if (this.stopped || this.node === null) return
    // A link dropped since (its member left or moved: setPeers) takes its queue with it.
    if (this.links.get(`${link.protocol}:${link.peer.name}`) !== link) return
    if (link.stream === null || link.stream.status !== 'open') {
      link.stream = null
      if (link.dialing || Date.now() < link.nextDialAt) return
      link.dialing = true
      this.node
        .dialProtocol(this.addressOf(link.peer), protocols[link.protocol], {
          signal: AbortSignal.timeout(meshLimits.dialTimeoutMs),
        })
        .then((stream) => {
          link.dialing = false
          link.failures = 0
          if (this.stopped || this.links.get(`${link.protocol}:${link.peer.name}`) !== link) {
            stream.abort(new Error('link no longer wanted'))
            return
          }
          link.stream = stream
          if (link.protocol === 'heartbeat') this.readReplies(link, stream)
          stream.addEventListener('close', () => {
            if (link.stream === stream) link.stream = null
          })
          this.pump(link)
        })
        .catch((error: Error) => {
          link.dialing = false
          link.failures++
          // Exponential backoff with jitter, so a returning site is not stormed by every node at once.
          const base = Math.min(
            meshLimits.backoffMsMax,
            meshLimits.backoffMsMin * 2 ** Math.min(link.failures, 10),
          )
          link.nextDialAt = Date.now() + base * (0.5 + this.random())
          if (link.failures === 1 || link.failures % 20 === 0) {
            this.init.logger.debug(
              { peer: link.peer.name, protocol: link.protocol, err: error.message, failures: link.failures },
              'dial failed',
            )
          }
          const retry = setTimeout(() => this.pump(link), link.nextDialAt - Date.now())
          retry.unref()
        })
      return
    }
    if (link.writing) return
    const stream = link.stream
    link.writing = true
    void (async () => {
      try {
        while (link.queue.length > 0 && link.stream === stream && stream.status === 'open') {
          const bytes = takeFrameBatch(link.queue)
          link.queuedBytes -= bytes.length
          if (!stream.send(bytes)) {
            try {
              await stream.onDrain({ signal: AbortSignal.timeout(meshLimits.requestTimeoutMs) })
            } catch {
              stream.abort(new Error('peer stopped reading'))
              return
            }
          }
        }
      } finally {
        link.writing = false
      }
      // Frames queued while the stream was being replaced go out on the next one.
      if (link.queue.length > 0 && link.stream !== stream) this.pump(link)
    })()
  }

  /** Heartbeat links carry pongs back on the same stream. */
  private readReplies(link: Link, stream: Stream): void {
    this.readFrames(stream, { peer: link.peer.name, protocol: link.protocol }, (f) =>
      this.init.onFrame(link.protocol, link.peer.name, f, () => {}),
    )
  }

  /**
   * Hands each whole frame `stream` carries to `onFrame`. `false` from it closes the stream (its
   * handler refused the frame and said why); a throw, or framing the decoder refuses (oversized,
   * broken), closes it with a logged reason. The stream goes, the node stays.
   */
  private readFrames(
    stream: Stream,
    context: { peer?: string; protocol: string },
    onFrame: (frame: Uint8Array) => unknown,
  ): void {
    const decoder = frameDecoder(meshLimits.frameBytesMax)
    stream.addEventListener('message', (e) => {
      try {
        for (const f of decoder.decode(e.data)) {
          if (onFrame(f) === false) {
            stream.abort(new Error('bad frame'))
            return
          }
        }
      } catch (error) {
        this.init.logger.warn({ ...context, err: (error as Error).message }, 'closing a stream: bad frame')
        stream.abort(error as Error)
      }
    })
  }

  /** One request on a stream of its own (the admin protocol, for peers of older releases). */
  private async requestOnce(peer: MeshPeer, frame: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    const stream = await this.node!.dialProtocol(this.addressOf(peer), protocols.admin, { signal })
    try {
      const decoder = frameDecoder(meshLimits.frameBytesMax)
      if (!stream.send(encodeFrame(frame, meshLimits.frameBytesMax))) await stream.onDrain({ signal })
      for await (const chunk of stream) {
        for (const f of decoder.decode(chunk)) return f
      }
      throw new Error(`${peer.name} closed the request stream without answering`)
    } finally {
      await stream.close().catch(() => {})
    }
  }

  private memberOf(connection: Connection): string | undefined {
    return this.byPeerId.get(connection.remotePeer.toString())
  }

  private acceptStream(protocol: 'raft' | 'heartbeat', stream: Stream, connection: Connection): void {
    const from = this.memberOf(connection)
    if (from === undefined) {
      stream.abort(new Error('not a member'))
      return
    }
    const reply = (frame: Uint8Array) => {
      if (stream.status === 'open') stream.send(encodeFrame(frame, meshLimits.frameBytesMax))
    }
    this.readFrames(stream, { peer: from, protocol }, (f) => this.init.onFrame(protocol, from, f, reply))
  }

  private acceptCatchUp(stream: Stream, connection: Connection): void {
    const from = this.memberOf(connection)
    if (from === undefined) {
      stream.abort(new Error('not a member'))
      return
    }
    const sink = this.init.onCatchUp(from)
    const decoder = frameDecoder(catchUpLimits.frameBytesMax)
    stream.addEventListener('close', () => sink.closed(), { once: true })
    stream.addEventListener('message', (e) => {
      try {
        for (const f of decoder.decode(e.data)) {
          const step = sink.frame(f)
          if (step === 'refused') {
            stream.abort(new Error('catch-up refused'))
            return
          }
          if (step === 'done') {
            void stream.close().catch(() => {})
            return
          }
        }
      } catch (error) {
        this.init.logger.warn(
          { peer: from, err: (error as Error).message },
          'closing a catch-up stream: bad frame',
        )
        stream.abort(error as Error)
      }
    })
  }

  private acceptCalls(stream: Stream, connection: Connection): void {
    const from = this.memberOf(connection)
    if (from === undefined) {
      stream.abort(new Error('not a member'))
      return
    }
    answerCalls(stream, this.callIo, (payload) => this.init.onRequest(from, payload))
  }

  private async acceptRequest(stream: Stream, connection: Connection): Promise<void> {
    const from = this.memberOf(connection)
    if (from === undefined) {
      stream.abort(new Error('not a member'))
      return
    }
    const decoder = frameDecoder(meshLimits.frameBytesMax)
    try {
      for await (const chunk of stream) {
        for (const f of decoder.decode(chunk)) {
          const response = await this.init.onRequest(from, f)
          if (!stream.send(encodeFrame(response, meshLimits.frameBytesMax))) await stream.onDrain()
          await stream.close()
          return
        }
      }
      // The caller ended its side without a whole request: nothing to answer.
      stream.abort(new Error('the admin stream ended before a request'))
    } catch (error) {
      this.init.logger.warn({ peer: from, err: (error as Error).message }, 'closing an admin stream')
      stream.abort(error as Error)
    }
  }
}
