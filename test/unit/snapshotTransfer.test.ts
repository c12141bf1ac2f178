/**
 * Catch-up by streamed snapshot: the frames a leader sends, the receiver's checks (order, total,
 * digest, who it claims to be from), the progress it reports, and a real transfer between two
 * meshes larger than one frame may be.
 */
import { randomBytes } from 'node:crypto'
import { create, toBinary } from '@bufbuild/protobuf'
import { generateKeyPair } from '@libp2p/crypto/keys'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { initialConfiguration } from '../../src/consensus/configuration.ts'
import type { Message } from '../../src/consensus/types.ts'
import { CatchUpFrameSchema } from '../../src/mesh/gen/geocluster_pb.ts'
import { meshLimits } from '../../src/mesh/mesh.ts'
import { encodeRaftMessage } from '../../src/mesh/raftCodec.ts'
import {
  catchUpLimits,
  SnapshotAssembly,
  type SnapshotMessage,
  snapshotFrames,
} from '../../src/mesh/snapshotTransfer.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import { NodeMesh } from '../../src/runtime/nodeMesh.ts'

const snapshot = (data: Uint8Array, from = 'a', to = 'b'): SnapshotMessage => ({
  type: 'snapshot',
  from,
  to,
  term: 3,
  epoch: 0,
  meta: { index: 120, term: 2, config: initialConfiguration({ a: 1, b: 1, c: 1 }) },
  data,
})

const framesOf = (m: SnapshotMessage, chunk?: number) => [...snapshotFrames(m, chunk).frames]
const chunkFrame = (offset: number, data: Uint8Array) =>
  toBinary(
    CatchUpFrameSchema,
    create(CatchUpFrameSchema, { body: { case: 'chunk', value: { offset: BigInt(offset), data } } }),
  )

function feed(assembly: SnapshotAssembly, frames: Uint8Array[]) {
  return frames.map((f) => assembly.take(f))
}

describe('snapshot frames and their assembly', () => {
  it('a snapshot of several chunks arrives whole, with progress per chunk', () => {
    const data = randomBytes(1_000_003)
    const frames = framesOf(snapshot(data), 100_000)
    expect(frames).toHaveLength(1 + 11)
    const steps = feed(new SnapshotAssembly('a'), frames)
    expect(steps[0]).toEqual({ kind: 'offer', snapshotIndex: 120, totalBytes: 1_000_003 })
    expect(steps.slice(1, -1).map((s) => (s.kind === 'progress' ? s.bytes : -1))).toEqual(
      Array.from({ length: 10 }, (_, i) => (i + 1) * 100_000),
    )
    const last = steps.at(-1)!
    expect(last.kind).toBe('done')
    if (last.kind !== 'done') return
    expect(Buffer.from(last.message.data).equals(data)).toBe(true)
    expect(last.message.meta).toEqual(snapshot(data).meta)
    expect(last.message.from).toBe('a')
  })

  it('an empty snapshot is done with its offer', () => {
    const steps = feed(new SnapshotAssembly('a'), framesOf(snapshot(new Uint8Array(0))))
    expect(steps.map((s) => s.kind)).toEqual(['done'])
  })

  const refusals: [string, (frames: Uint8Array[]) => Uint8Array[], RegExp][] = [
    ['a chunk out of order', (f) => [f[0]!, f[2]!, f[1]!], /offset/],
    ['a chunk twice', (f) => [f[0]!, f[1]!, f[1]!], /offset/],
    ['a chunk before the offer', (f) => [f[1]!], /before the offer/],
    ['a second offer', (f) => [f[0]!, f[0]!], /second offer/],
    ['more bytes than offered', (f) => [...f.slice(0, -1), chunkFrame(200, new Uint8Array(200))], /exceed/],
    [
      'bytes that do not match the digest',
      (f) => [...f.slice(0, -1), chunkFrame(200, new Uint8Array(100).fill(7))],
      /SHA-256/,
    ],
    ['an empty chunk', (f) => [f[0]!, chunkFrame(0, new Uint8Array(0))], /empty chunk/],
    ['garbage', () => [Uint8Array.from([0xff, 0xff, 0xff])], /not a catch-up frame/],
    ['an empty frame', () => [new Uint8Array(0)], /empty catch-up frame/],
  ]
  it.each(refusals)('%s is refused, and nothing after it is taken', (_, mangle, reason) => {
    const frames = framesOf(snapshot(randomBytes(300)), 100)
    const steps = feed(new SnapshotAssembly('a'), mangle(frames))
    const refused = steps.find((step) => step.kind === 'refused')
    expect(refused).toMatchObject({ kind: 'refused', reason })
    expect(steps.at(-1)?.kind).toBe('refused')
    expect(new SnapshotAssembly('a').take(frames[0]!).kind).toBe('offer')
    const after = new SnapshotAssembly('a')
    feed(after, mangle(frames))
    expect(after.take(frames[1]!).kind).toBe('refused')
  })

  it('an offer is refused when it claims another sender, carries another message, or is too large', () => {
    const forged = framesOf(snapshot(randomBytes(10), 'c'))[0]!
    expect(new SnapshotAssembly('a').take(forged)).toMatchObject({ kind: 'refused', reason: /from c/ })
    const vote: Message = {
      type: 'vote',
      from: 'a',
      to: 'b',
      term: 1,
      epoch: 0,
      last: { term: 0, index: 0 },
      transfer: false,
    }
    const offerOf = (message: Uint8Array, totalBytes: bigint) =>
      toBinary(
        CatchUpFrameSchema,
        create(CatchUpFrameSchema, {
          body: { case: 'offer', value: { message, totalBytes, sha256: new Uint8Array(32) } },
        }),
      )
    expect(new SnapshotAssembly('a').take(offerOf(encodeRaftMessage(vote), 1n))).toMatchObject({
      kind: 'refused',
      reason: /vote message/,
    })
    const empty = encodeRaftMessage(snapshot(new Uint8Array(0)))
    expect(
      new SnapshotAssembly('a').take(offerOf(empty, BigInt(catchUpLimits.snapshotBytesMax) + 1n)),
    ).toMatchObject({ kind: 'refused', reason: /exceeds/ })
  })

  it('random frames after a valid offer never throw and never complete without the right bytes', () => {
    const data = randomBytes(2_000)
    const [offer] = framesOf(snapshot(data), 500)
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }), (junk) => {
        const a = new SnapshotAssembly('a')
        a.take(offer!)
        for (const f of junk) {
          const step = a.take(f)
          if (step.kind === 'done') expect(Buffer.from(step.message.data).equals(data)).toBe(true)
        }
      }),
      { numRuns: 2_000 },
    )
  })
})

const silent = createLogger({ pretty: false, level: (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent' })
const timing = {
  sameSite: { heartbeatMs: 100, threshold: 5 },
  crossSite: { heartbeatMs: 100, threshold: 10 },
}

async function nodeMesh(self: string, delivered: Message[]) {
  return new NodeMesh({
    self,
    site: 's',
    privateKey: await generateKeyPair('Ed25519'),
    psk: pskBytes,
    // The OS picks a free port.
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dialFrom: '127.0.0.1',
    logger: silent,
    timing,
    monotonic: () => performance.now(),
    onRaft: (m) => {
      delivered.push(m)
      return true
    },
    leaderView: () => ({ leader: '', term: 0 }),
    onAdmin: async () => ({ status: 503, body: new Uint8Array(0) }),
  })
}

// The libp2p private-network key file format: a 32-byte key in base16.
const pskBytes = new TextEncoder().encode(
  `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`,
)

describe('a catch-up stream between two meshes', () => {
  const started: NodeMesh[] = []
  afterEach(async () => {
    await Promise.all(started.splice(0).map((m) => m.stop()))
  })

  it('reports progress on the receiving side, frame by frame', async () => {
    const mesh = await nodeMesh('b', [])
    const sink = mesh.catchUpStream('a')
    const data = randomBytes(4 * catchUpLimits.chunkBytes)
    const frames = framesOf(snapshot(data))
    expect(sink.frame(frames[0]!)).toBe('more')
    expect(mesh.catchUpTransfers()).toMatchObject([
      { peer: 'a', direction: 'receiving', snapshotIndex: 120, bytes: 0, totalBytes: data.length },
    ])
    expect(sink.frame(frames[1]!)).toBe('more')
    expect(sink.frame(frames[2]!)).toBe('more')
    expect(mesh.catchUpTransfers()[0]?.bytes).toBe(2 * catchUpLimits.chunkBytes)
    // A newer offer from the same member supersedes this one.
    const newer = mesh.catchUpStream('a')
    expect(newer.frame(frames[0]!)).toBe('more')
    expect(sink.frame(frames[3]!)).toBe('refused')
    newer.closed()
    expect(mesh.catchUpTransfers()).toEqual([])
  })

  it(`delivers a snapshot larger than one frame (${meshLimits.frameBytesMax / 2 ** 20} MiB) to the consensus handler`, async () => {
    const got: Message[] = []
    const a = await nodeMesh('a', [])
    const b = await nodeMesh('b', got)
    started.push(a, b)
    await a.start([])
    await b.start([])
    const member = (name: string, m: NodeMesh) => ({
      name,
      site: 's',
      peerId: m.mesh.peerId,
      address: m.mesh.listening[0]!.replace(/\/p2p\/.*$/, ''),
    })
    const members = [member('a', a), member('b', b)]
    a.setMembers(members)
    b.setMembers(members)
    const data = randomBytes(meshLimits.frameBytesMax + 5 * catchUpLimits.chunkBytes + 17)
    a.send(snapshot(data))
    // The core's repeat of the same snapshot while it is on its way does not start a second one.
    a.send(snapshot(data))
    expect(a.catchUpTransfers()).toHaveLength(1)
    for (let i = 0; i < 600 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(got).toHaveLength(1)
    const m = got[0]!
    expect(m.type).toBe('snapshot')
    if (m.type === 'snapshot') expect(Buffer.from(m.data).equals(data)).toBe(true)
    for (let i = 0; i < 100 && a.catchUpTransfers().length > 0; i++)
      await new Promise((r) => setTimeout(r, 20))
    expect(a.catchUpTransfers()).toEqual([])
    expect(b.catchUpTransfers()).toEqual([])
    // Consensus frames larger than the stream decoder's default buffer (4 MiB) pass too.
    const big = randomBytes(6 * 2 ** 20)
    a.send({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 3,
      epoch: 0,
      prev: { term: 2, index: 120 },
      entries: [{ index: 121, term: 3, kind: 'command', data: big }],
      commit: 120,
    })
    for (let i = 0; i < 600 && got.length === 1; i++) await new Promise((r) => setTimeout(r, 50))
    const append = got[1]
    expect(append?.type).toBe('append')
    if (append?.type === 'append') expect(Buffer.from(append.entries[0]!.data).equals(big)).toBe(true)
    // And small ones keep flowing afterwards, both ways (the private network once died here: its
    // cipher memory grew on every write after one larger than 640 KiB, up to a fatal maximum).
    for (let i = 0; i < 3_000; i++) {
      const heartbeat = { type: 'heartbeat' as const, term: 3, epoch: 0, commit: 120, ctx: null }
      a.send({ ...heartbeat, from: 'a', to: 'b' })
      b.send({ ...heartbeat, from: 'b', to: 'a' })
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 1))
    }
    for (let i = 0; i < 600 && got.length < 2 + 3_000; i++) await new Promise((r) => setTimeout(r, 20))
    expect(got.length).toBe(2 + 3_000)
  }, 60_000)
})
