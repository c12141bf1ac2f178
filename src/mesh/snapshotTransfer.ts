/**
 * Catch-up by snapshot, streamed: a member too far behind for the log gets the leader's
 * snapshot on its own stream as an offer (the consensus message without its data, the total
 * size and a SHA-256) followed by chunks in order. The receiver holds at most the declared
 * total (itself capped), refuses anything out of order or over the total, and hands the
 * consensus core a snapshot only once every byte has arrived and the digest matches.
 */
import { createHash } from 'node:crypto'
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import type { Message } from '../consensus/types.ts'
import { assert } from '../errors/assert.ts'
import { type CatchUpFrame, CatchUpFrameSchema } from './gen/geocluster_pb.ts'
import { decodeRaftMessage, encodeRaftMessage } from './raftCodec.ts'

export type SnapshotMessage = Extract<Message, { type: 'snapshot' }>

export const catchUpLimits = {
  /** Bytes of snapshot per chunk frame. */
  chunkBytes: 256 * 1024,
  /** A catch-up frame, whole (a chunk plus its header, or an offer). */
  frameBytesMax: 1024 * 1024,
  /** The largest snapshot a node will take. */
  snapshotBytesMax: 512 * 1024 * 1024,
} as const

export interface SnapshotFrames {
  totalBytes: number
  /** The offer first, then the chunks; encoded lazily, so a large snapshot is not copied whole. */
  frames: Iterable<Uint8Array>
}

/** The frames that carry snapshot message `m`. */
export function snapshotFrames(
  m: SnapshotMessage,
  chunkBytes: number = catchUpLimits.chunkBytes,
): SnapshotFrames {
  assert(
    chunkBytes > 0 && chunkBytes <= catchUpLimits.frameBytesMax - 64,
    `chunk size ${chunkBytes} out of range`,
  )
  assert(
    m.data.length <= catchUpLimits.snapshotBytesMax,
    () => `snapshot of ${m.data.length} bytes exceeds the limit of ${catchUpLimits.snapshotBytesMax}`,
  )
  const data = m.data
  const offer: CatchUpFrame = create(CatchUpFrameSchema, {
    body: {
      case: 'offer',
      value: {
        message: encodeRaftMessage({ ...m, data: new Uint8Array(0) }),
        totalBytes: BigInt(data.length),
        sha256: createHash('sha256').update(data).digest(),
      },
    },
  })
  return {
    totalBytes: data.length,
    frames: (function* () {
      yield toBinary(CatchUpFrameSchema, offer)
      for (let offset = 0; offset < data.length; offset += chunkBytes) {
        const chunk = create(CatchUpFrameSchema, {
          body: {
            case: 'chunk',
            value: { offset: BigInt(offset), data: data.subarray(offset, offset + chunkBytes) },
          },
        })
        yield toBinary(CatchUpFrameSchema, chunk)
      }
    })(),
  }
}

export type AssemblyStep =
  | { kind: 'offer'; snapshotIndex: number; totalBytes: number }
  | { kind: 'progress'; bytes: number; totalBytes: number }
  | { kind: 'done'; message: SnapshotMessage }
  | { kind: 'refused'; reason: string }

/** One inbound transfer: feed it the stream's frames in order. */
export class SnapshotAssembly {
  private offer: { message: SnapshotMessage; totalBytes: number; sha256: Uint8Array } | null = null
  private readonly chunks: Uint8Array[] = []
  private received = 0
  private readonly hash = createHash('sha256')
  private finished = false
  /** Who opened the stream: the message inside the offer must come from them. */
  private readonly from: string

  constructor(from: string) {
    this.from = from
  }

  get bytes(): number {
    return this.received
  }

  get totalBytes(): number {
    return this.offer?.totalBytes ?? 0
  }

  get snapshotIndex(): number {
    return this.offer?.message.meta.index ?? 0
  }

  take(frame: Uint8Array): AssemblyStep {
    const refuse = (reason: string): AssemblyStep => {
      this.finished = true
      this.chunks.length = 0
      return { kind: 'refused', reason }
    }
    if (this.finished) return refuse('frame after the transfer ended')
    if (frame.length > catchUpLimits.frameBytesMax)
      return refuse(`frame of ${frame.length} bytes exceeds ${catchUpLimits.frameBytesMax}`)
    let pb: CatchUpFrame
    try {
      pb = fromBinary(CatchUpFrameSchema, frame)
    } catch (error) {
      return refuse(`not a catch-up frame: ${(error as Error).message}`)
    }
    const body = pb.body
    if (body.case === 'offer') {
      if (this.offer !== null) return refuse('a second offer on one stream')
      const m = decodeRaftMessage(body.value.message)
      if (typeof m === 'string') return refuse(`offer: ${m}`)
      if (m.type !== 'snapshot') return refuse(`offer carries a ${m.type} message, not a snapshot`)
      if (m.from !== this.from) return refuse(`offer claims to come from ${m.from}`)
      if (m.data.length !== 0) return refuse('offer carries data; data comes in chunks')
      const total = body.value.totalBytes
      if (total > BigInt(catchUpLimits.snapshotBytesMax))
        return refuse(`snapshot of ${total} bytes exceeds ${catchUpLimits.snapshotBytesMax}`)
      if (body.value.sha256.length !== 32) return refuse('offer lacks a SHA-256')
      this.offer = { message: m, totalBytes: Number(total), sha256: body.value.sha256 }
      if (this.offer.totalBytes === 0) return this.complete()
      return { kind: 'offer', snapshotIndex: m.meta.index, totalBytes: this.offer.totalBytes }
    }
    if (body.case === 'chunk') {
      if (this.offer === null) return refuse('a chunk before the offer')
      const { offset, data } = body.value
      if (offset !== BigInt(this.received))
        return refuse(`chunk at offset ${offset}, expected ${this.received}`)
      if (data.length === 0) return refuse('an empty chunk')
      if (this.received + data.length > this.offer.totalBytes)
        return refuse(`chunks exceed the offered ${this.offer.totalBytes} bytes`)
      // Copy: the frame's buffer belongs to the stream decoder.
      this.chunks.push(data.slice())
      this.hash.update(data)
      this.received += data.length
      if (this.received === this.offer.totalBytes) return this.complete()
      return { kind: 'progress', bytes: this.received, totalBytes: this.offer.totalBytes }
    }
    return refuse('an empty catch-up frame')
  }

  private complete(): AssemblyStep {
    const offer = this.offer!
    this.finished = true
    const digest = this.hash.digest()
    if (!digest.equals(Buffer.from(offer.sha256))) {
      this.chunks.length = 0
      return { kind: 'refused', reason: 'SHA-256 of the received snapshot does not match the offer' }
    }
    const data = Buffer.concat(this.chunks, offer.totalBytes)
    this.chunks.length = 0
    return { kind: 'done', message: { ...offer.message, data } }
  }
}
