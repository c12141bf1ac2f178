/**
 * Requests between members (a follower's write forwarded to the leader, validate's self-reports)
 * over one long-lived stream per peer, each request tagged with an id so many can be in flight
 * and answers may come back in any order. Opening a stream per request costs a stream open and
 * a protocol negotiation — one more round trip per forwarded write, 50 ms at a remote site.
 *
 * A call frame is `id (4 bytes, big-endian) · kind (1 byte) · payload`, inside the mesh's
 * length-prefixed framing. Kind 0 is a request (caller → callee) or its answer (callee →
 * caller); kind 1 is a refusal by the callee's transport, its payload a UTF-8 reason. A peer that
 * does not speak this protocol (an older release) is asked one request per stream, as before.
 */
import type { Stream } from '@libp2p/interface'

export const callProtocol = '/geocluster/call/1.0.0'

export const callLimits = {
  /** Requests one peer may have waiting for answers, each way; beyond, new ones are refused. */
  inFlightMax: 1024,
  /** How long a peer found without the call protocol is asked the old way before trying again. */
  legacyRetryMs: 60_000,
} as const

const headerBytes = 5
const kindAnswer = 0
const kindRefused = 1

export function encodeCall(id: number, kind: 0 | 1, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(headerBytes + payload.length)
  new DataView(out.buffer).setUint32(0, id)
  out[4] = kind
  out.set(payload, headerBytes)
  return out
}

export type DecodedCall = { id: number; kind: 0 | 1; payload: Uint8Array } | { problem: string }

/** A call frame from the wire (hostile input: a bad one is named, never thrown). */
export function decodeCall(frame: Uint8Array): DecodedCall {
  if (frame.length < headerBytes) return { problem: `a call frame of ${frame.length} bytes is too short` }
  const kind = frame[4]
  if (kind !== kindAnswer && kind !== kindRefused) return { problem: `unknown call frame kind ${kind}` }
  const id = new DataView(frame.buffer, frame.byteOffset, frame.length).getUint32(0)
  return { id, kind, payload: frame.subarray(headerBytes) }
}

interface Pending {
  resolve: (answer: Uint8Array) => void
  reject: (error: Error) => void
}

/** What a caller's stream needs from the mesh: framing both ways and the stream itself. */
export interface CallStreamIo {
  /** Writes one frame (the mesh adds the length prefix). */
  write(stream: Stream, frame: Uint8Array): void
  /** Calls `frame` for each whole frame read from `stream`; a throw closes the stream. */
  read(stream: Stream, frame: (f: Uint8Array) => void): void
}

/**
 * The caller's side for one peer: a stream opened on the first request and kept; requests that
 * arrive while it opens wait for it; when it closes, whatever was waiting fails (the callee may
 * or may not have acted on it — the same as a dropped connection in the middle of a request).
 */
export class CallChannel {
  private stream: Stream | null = null
  private opening: Promise<Stream> | null = null
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closed = false
  private readonly peer: string
  private readonly open: () => Promise<Stream>
  private readonly io: CallStreamIo

  constructor(peer: string, open: () => Promise<Stream>, io: CallStreamIo) {
    this.peer = peer
    this.open = open
    this.io = io
  }

  get inFlight(): number {
    return this.pending.size
  }

  async request(payload: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    if (this.pending.size >= callLimits.inFlightMax)
      throw new Error(`${callLimits.inFlightMax} requests to ${this.peer} are already waiting`)
    const stream = await this.streamFor(signal)
    signal.throwIfAborted()
    const id = this.takeId()
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(id)
        reject(
          signal.reason instanceof Error ? signal.reason : new Error(`the request to ${this.peer} timed out`),
        )
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.pending.set(id, {
        resolve: (a) => {
          signal.removeEventListener('abort', onAbort)
          resolve(a)
        },
        reject: (e) => {
          signal.removeEventListener('abort', onAbort)
          reject(e)
        },
      })
    })
    try {
      this.io.write(stream, encodeCall(id, kindAnswer, payload))
    } catch (error) {
      // The stream closed under us: this request was never sent and waits for nothing.
      this.pending.get(id)?.reject(error as Error)
      this.pending.delete(id)
    }
    return answer
  }

  /** Closes the stream; waiting requests fail with `reason`. */
  close(reason: string): void {
    this.closed = true
    this.failAll(reason)
    this.stream?.abort(new Error(reason))
  }

  private takeId(): number {
    // Ids wrap after 2^32 requests; one still waiting after that long has long timed out.
    const id = this.nextId
    this.nextId = this.nextId === 0xffff_ffff ? 1 : this.nextId + 1
    return id
  }

  private streamFor(signal: AbortSignal): Promise<Stream> {
    if (this.closed) return Promise.reject(new Error(`the call stream to ${this.peer} is closed`))
    if (this.stream !== null && this.stream.status === 'open') return Promise.resolve(this.stream)
    if (this.opening === null) {
      this.opening = this.open()
        .then((stream) => {
          this.opening = null
          if (this.closed) {
            stream.abort(new Error('closed while opening'))
            throw new Error(`the call stream to ${this.peer} is closed`)
          }
          this.attach(stream)
          return stream
        })
        .catch((error: unknown) => {
          this.opening = null
          throw error
        })
    }
    return raceAbort(this.opening, signal)
  }

  private attach(stream: Stream): void {
    this.stream = stream
    stream.addEventListener(
      'close',
      () => {
        if (this.stream !== stream) return
        this.stream = null
        this.failAll(`the call stream to ${this.peer} closed`)
      },
      { once: true },
    )
    this.io.read(stream, (frame) => {
      const call = decodeCall(frame)
      if ('problem' in call) throw new Error(call.problem)
      const waiting = this.pending.get(call.id)
      // An answer nobody waits for any more (timed out) is dropped.
      if (waiting === undefined) return
      this.pending.delete(call.id)
      if (call.kind === kindAnswer) waiting.resolve(call.payload)
      else
        waiting.reject(
          new Error(`${this.peer} refused the request: ${new TextDecoder().decode(call.payload)}`),
        )
    })
  }

  private failAll(reason: string): void {
    const waiting = [...this.pending.values()]
    this.pending.clear()
    for (const p of waiting) p.reject(new Error(reason))
  }
}

/**
 * The callee's side of one inbound call stream from member `from`: each request is answered
 * with its id when `answer` resolves, in whatever order they finish. A caller with too many
 * requests waiting is refused per request, not disconnected.
 */
export function answerCalls(
  stream: Stream,
  io: CallStreamIo,
  answer: (payload: Uint8Array) => Promise<Uint8Array>,
): void {
  let waiting = 0
  const reply = (id: number, kind: 0 | 1, payload: Uint8Array) => {
    if (stream.status === 'open') io.write(stream, encodeCall(id, kind, payload))
  }
  io.read(stream, (frame) => {
    const call = decodeCall(frame)
    if ('problem' in call) throw new Error(call.problem)
    if (call.kind !== kindAnswer) throw new Error('a call stream carried a refusal to its callee')
    if (waiting >= callLimits.inFlightMax) {
      reply(call.id, kindRefused, new TextEncoder().encode('too many requests waiting'))
      return
    }
    waiting++
    answer(call.payload).then(
      (a) => {
        waiting--
        reply(call.id, kindAnswer, a)
      },
      (error: unknown) => {
        waiting--
        reply(call.id, kindRefused, new TextEncoder().encode((error as Error).message.slice(0, 512)))
      },
    )
  })
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}
