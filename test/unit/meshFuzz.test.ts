/**
 * One million random and mutated frames at the mesh's real boundary (issue: hardening, fuzzing):
 * byte chunks on inbound streams of every protocol (consensus, heartbeat, admin, catch-up), cut
 * anywhere, through the real length-prefixed decoder and member check (Mesh.accept) into
 * NodeMesh's handlers and a live consensus core — from members and from a peer that is not one.
 * Nothing crashes, bad framing closes its stream, a non-member changes nothing, and memory
 * stays bounded. The counts are printed.
 */
import { create, toBinary } from '@bufbuild/protobuf'
import type { Connection, Stream } from '@libp2p/interface'
import fc from 'fast-check'
import * as lp from 'it-length-prefixed'
import { describe, expect, it } from 'vitest'
import { initialConfiguration } from '../../src/consensus/configuration.ts'
import { RaftCore } from '../../src/consensus/raftCore.ts'
import type { Message } from '../../src/consensus/types.ts'
import { encodeEnvelope } from '../../src/database/commands.ts'
import { encodeCall } from '../../src/mesh/callStreams.ts'
import { AdminRequestSchema, PingSchema } from '../../src/mesh/gen/geocluster_pb.ts'
import type { ProtocolName } from '../../src/mesh/mesh.ts'
import { encodeRaftMessage } from '../../src/mesh/raftCodec.ts'
import { snapshotFrames } from '../../src/mesh/snapshotTransfer.ts'

import { Prng } from '../sim/prng.ts'
import { unstartedMesh } from '../support/unstartedMesh.ts'

const members = ['a', 'b', 'c']

function entryArb(index: number) {
  return fc.oneof(
    fc.record({
      index: fc.constant(index),
      term: fc.integer({ min: 0, max: 9 }),
      kind: fc.constant('noop' as const),
      data: fc.constant(new Uint8Array(0)),
    }),
    fc.record({
      index: fc.constant(index),
      term: fc.integer({ min: 0, max: 9 }),
      kind: fc.constant('command' as const),
      data: fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc.constant(
          encodeEnvelope({ v: 1, by: 'x', at: 1, command: { op: 'config.set', key: 'k', value: 'v' } }),
        ),
      ),
    }),
  )
}

const id = fc.record({ term: fc.integer({ min: 0, max: 12 }), index: fc.integer({ min: 0, max: 40 }) })
const messageArb: fc.Arbitrary<Message> = fc
  .record({
    from: fc.constantFrom(...members, 'zz'),
    to: fc.constantFrom('a', 'b'),
    term: fc.integer({ min: 0, max: 12 }),
    epoch: fc.constantFrom(0, 0, 0, 1, 5),
  })
  .chain((base) =>
    fc
      .oneof(
        fc.record({
          type: fc.constantFrom('pre-vote' as const, 'vote' as const),
          last: id,
          transfer: fc.boolean(),
        }),
        fc.record({
          type: fc.constantFrom('pre-vote-resp' as const, 'vote-resp' as const),
          granted: fc.boolean(),
        }),
        id.chain((prev) =>
          fc.record({
            type: fc.constant('append' as const),
            prev: fc.constant(prev),
            entries: fc
              .array(fc.nat(5), { maxLength: 5 })
              .chain((xs) => fc.tuple(...xs.map((_, i) => entryArb(prev.index + 1 + i)))),
            commit: fc.integer({ min: 0, max: 50 }),
          }),
        ),
        fc.record({
          type: fc.constant('append-resp' as const),
          success: fc.boolean(),
          index: fc.integer({ min: 0, max: 1e6 }),
          hint: fc.integer({ min: 0, max: 1e6 }),
        }),
        fc.record({
          type: fc.constant('heartbeat' as const),
          commit: fc.integer({ min: 0, max: 1e6 }),
          ctx: fc.option(fc.string({ maxLength: 8 })),
        }),
        fc.record({
          type: fc.constant('heartbeat-resp' as const),
          ctx: fc.option(fc.string({ maxLength: 8 })),
        }),
        fc.record({
          type: fc.constantFrom('witness-append' as const, 'witness-resp' as const),
          mark: id,
          ctx: fc.option(fc.string({ maxLength: 8 })),
        }),
        fc.record({
          type: fc.constant('snapshot' as const),
          meta: id,
          data: fc.uint8Array({ maxLength: 64 }),
        }),
        fc.record({ type: fc.constantFrom('timeout-now' as const, 'epoch' as const) }),
        fc.record({ type: fc.constant('read-index' as const), ctx: fc.string({ maxLength: 8 }) }),
        fc.record({
          type: fc.constant('read-index-resp' as const),
          ctx: fc.string({ maxLength: 8 }),
          index: fc.integer({ min: 0, max: 1e6 }),
        }),
      )
      .map((body) => ({ ...base, ...body }) as Message),
  )

function mutate(bytes: Uint8Array, r: Prng): Uint8Array {
  const out = new Uint8Array(bytes)
  switch (r.int(0, 3)) {
    case 0: // flip a few bytes
      for (let i = 0; i < 3 && out.length > 0; i++) {
        const at = r.int(0, out.length - 1)
        out[at] = out[at]! ^ (1 << r.int(0, 7))
      }
      return out
    case 1: // cut it short
      return out.subarray(0, r.int(0, out.length))
    case 2: // garbage appended
      return Uint8Array.from([...out, ...Array.from({ length: r.int(1, 20) }, () => r.int(0, 255))])
    default: // a huge varint length inside
      return Uint8Array.from([...out.subarray(0, 2), 0xff, 0xff, 0xff, 0xff, 0x0f, ...out.subarray(2)])
  }
}

/** Enough of a libp2p stream for the mesh's inbound handlers: events in, frames out. */
class FakeStream extends EventTarget {
  status: 'open' | 'closed' | 'aborted' = 'open'
  readonly sent: Uint8Array[] = []
  private readonly queued: Uint8Array[]

  constructor(queued: Uint8Array[] = []) {
    super()
    this.queued = queued
  }

  send(bytes: Uint8Array): boolean {
    this.sent.push(bytes)
    return true
  }

  abort(_error: Error): void {
    if (this.status !== 'open') return
    this.status = 'aborted'
    this.dispatchEvent(new Event('close'))
  }

  async close(): Promise<void> {
    if (this.status !== 'open') return
    this.status = 'closed'
    this.dispatchEvent(new Event('close'))
  }

  async onDrain(): Promise<void> {}

  push(chunk: Uint8Array): void {
    const e = new Event('message') as Event & { data: Uint8Array }
    e.data = chunk
    this.dispatchEvent(e)
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (const c of this.queued) yield c
  }
}

const connectionOf = (peerId: string) => ({ remotePeer: { toString: () => peerId } }) as unknown as Connection
const frameOf = (bytes: Uint8Array) => lp.encode.single(bytes).subarray()

describe('the mesh boundary under 1,000,000 random and mutated frames', () => {
  it('never crashes, closes streams on bad framing, ignores non-members, keeps memory bounded', async () => {
    const core = new RaftCore(
      { id: 'a', electionTicks: 10, heartbeatTicks: 1, random: () => 0.5, preVote: true },
      {
        hardState: { term: 0, vote: null, commit: 0 },
        snapshot: { index: 0, term: 0 },
        entries: [],
        initialConfig: initialConfiguration({ a: 1, b: 1, c: 1 }),
      },
    )
    let stepped = 0
    const drain = () => {
      while (core.hasReady()) core.advance(core.ready())
    }
    const mesh = await unstartedMesh((m: Message) => {
      core.step(m)
      drain()
      stepped++
      return true
    })
    mesh.setMembers(
      members.map((m) => ({ name: m, site: 's', peerId: `p-${m}`, address: '/ip4/127.0.0.1/tcp/1' })),
    )
    const fingerprint = () => JSON.stringify([core.status(), core.config()])

    const heapBefore = process.memoryUsage().heapUsed
    const samples = fc.sample(messageArb, { seed: 424242, numRuns: 20_000 })
    const rand = new Prng(99)
    const counts = {
      frames: 0,
      chunks: 0,
      streamsOpened: 0,
      streamsClosedByTheNode: 0,
      adminRequests: 0,
      adminAnswered: 0,
      snapshotsTaken: 0,
      nonMemberStreams: 0,
      nonMemberFrames: 0,
      leaderTurns: 0,
      streamsEndedBySender: 0,
    }
    const open = new Map<string, FakeStream>()
    const callStreams: FakeStream[] = []
    /** The stream `key` (protocol and peer) on `connection`, opening a new one when needed. */
    const streamFor = (protocol: ProtocolName, peerId: string): FakeStream => {
      const key = `${protocol}:${peerId}`
      let s = open.get(key)
      if (s === undefined || s.status !== 'open') {
        s = new FakeStream()
        open.set(key, s)
        if (protocol === 'call') callStreams.push(s)
        counts.streamsOpened++
        mesh.accept(protocol, s as unknown as Stream, connectionOf(peerId))
      }
      return s
    }
    /** A catch-up snapshot's frames, for the catch-up streams. */
    let offered: Uint8Array[] = []
    let next = 0
    const catchUpFrame = (sender: string): Uint8Array => {
      if (next >= offered.length || rand.int(0, 30) === 0) {
        const data = Uint8Array.from({ length: rand.int(0, 3000) }, () => rand.int(0, 255))
        offered = [
          ...snapshotFrames(
            {
              type: 'snapshot',
              from: rand.int(0, 9) === 0 ? 'c' : sender,
              to: 'a',
              term: rand.int(0, 12),
              epoch: 0,
              meta: {
                index: rand.int(0, 40),
                term: rand.int(0, 12),
                config: initialConfiguration({ a: 1, b: 1, c: 1 }),
              },
              data,
            },
            rand.int(1, 1000),
          ).frames,
        ]
        next = 0
      }
      return offered[next++]!
    }
    /** One frame's bytes for `protocol`: well-formed, mutated, or garbage. */
    const payload = (protocol: ProtocolName, i: number, sender: string): Uint8Array => {
      const roll = rand.int(0, 9)
      if (protocol === 'call') {
        // Call frames: an id and a kind around an admin request, mutated, or garbage.
        const request = toBinary(
          AdminRequestSchema,
          create(AdminRequestSchema, { method: 'propose', body: payload('raft', i, sender) }),
        )
        return roll < 6
          ? encodeCall(i, 0, request)
          : roll < 8
            ? mutate(encodeCall(i, rand.int(0, 1) as 0 | 1, request), rand)
            : Uint8Array.from({ length: rand.int(0, 8) }, () => rand.int(0, 255))
      }
      if (protocol !== 'catchup' && rand.int(0, 3) !== 0) {
        // Three in four frames are well-formed: streams live long enough to carry many.
        const m = samples[i % samples.length]!
        return protocol === 'heartbeat' && roll < 5
          ? toBinary(PingSchema, create(PingSchema, { from: sender, seq: BigInt(i), sentAt: i }))
          : encodeRaftMessage({ ...m, from: sender, to: 'a' })
      }
      if (protocol === 'catchup')
        return roll < 7
          ? catchUpFrame(sender)
          : roll < 9
            ? mutate(catchUpFrame(sender), rand)
            : Uint8Array.from({ length: rand.int(0, 300) }, () => rand.int(0, 255))
      if (protocol === 'heartbeat' && roll < 5)
        return roll < 3
          ? toBinary(PingSchema, create(PingSchema, { from: sender, seq: BigInt(i), sentAt: i }))
          : mutate(toBinary(PingSchema, create(PingSchema, { from: sender, seq: 1n, sentAt: 1 })), rand)
      const m = samples[i % samples.length]!
      // Mostly from the stream's own member (anything else closes the stream).
      if (roll < 6) return encodeRaftMessage({ ...m, from: rand.int(0, 20) === 0 ? m.from : sender, to: 'a' })
      if (roll < 9) return mutate(encodeRaftMessage(m), rand)
      return Uint8Array.from({ length: rand.int(0, 200) }, () => rand.int(0, 255))
    }
    /** A chunk of several frames (or broken framing), pushed whole or cut in two anywhere. */
    const pushChunk = (s: FakeStream, protocol: ProtocolName, i: number, sender: string): number => {
      const n = rand.int(1, 6)
      const parts: Uint8Array[] = []
      let garbled = false
      for (let k = 0; k < n; k++) {
        const roll = rand.int(0, 199)
        if (roll === 0)
          parts.push(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])) // a 4 GiB length
        else if (roll === 1) {
          // Raw bytes where a frame belongs: may read as a long frame the node waits for.
          parts.push(Uint8Array.from({ length: rand.int(1, 16) }, () => rand.int(0, 255)))
          garbled = true
        } else parts.push(frameOf(payload(protocol, i + k, sender)))
      }
      const chunk = Buffer.concat(parts)
      if (rand.int(0, 3) === 0 && chunk.length > 1) {
        const cut = rand.int(1, chunk.length - 1)
        s.push(chunk.subarray(0, cut))
        if (s.status === 'open') s.push(chunk.subarray(cut))
      } else s.push(chunk)
      // A sender whose framing broke gives up the stream (it resets, as a real one would).
      if (garbled && s.status === 'open') {
        void s.close()
        counts.streamsEndedBySender++
      }
      counts.chunks++
      return n
    }

    const target = 1_000_000
    const nonMemberFrom = target * 0.4
    const nonMemberTo = target * 0.5
    let i = 0
    while (counts.frames < target) {
      i++
      const nonMember = counts.frames >= nonMemberFrom && counts.frames < nonMemberTo
      const sender = members[rand.int(1, 2)]!
      const peerId = nonMember ? `p-stranger-${rand.int(0, 3)}` : `p-${sender}`
      const protocols: ProtocolName[] = ['raft', 'raft', 'raft', 'heartbeat', 'heartbeat', 'catchup', 'call']
      const protocol = protocols[i % protocols.length]!
      if (nonMember) {
        const before = fingerprint()
        const steppedBefore = stepped
        const s = streamFor(protocol, peerId)
        counts.nonMemberStreams++
        expect(s.status).toBe('aborted')
        const n = pushChunk(s, protocol, i, sender)
        counts.frames += n
        counts.nonMemberFrames += n
        if (i % 1000 === 0) {
          const admin = new FakeStream([
            frameOf(
              toBinary(
                AdminRequestSchema,
                create(AdminRequestSchema, { method: 'propose', body: new Uint8Array([1]) }),
              ),
            ),
          ])
          mesh.accept('admin', admin as unknown as Stream, connectionOf(peerId))
          await new Promise((r) => setImmediate(r))
          expect(admin.sent).toEqual([])
        }
        expect(stepped).toBe(steppedBefore)
        expect(fingerprint()).toBe(before)
        continue
      }
      const s = streamFor(protocol, peerId)
      counts.frames += pushChunk(s, protocol, i, sender)
      if (s.status === 'aborted') counts.streamsClosedByTheNode++
      if (protocol === 'catchup' && s.status === 'closed') counts.snapshotsTaken++
      if (i % 40 === 0) {
        const request =
          rand.int(0, 1) === 0
            ? toBinary(
                AdminRequestSchema,
                create(AdminRequestSchema, { method: 'propose', body: payload('raft', i, sender) }),
              )
            : payload('raft', i, sender)
        const admin = new FakeStream([frameOf(request)])
        const closed = new Promise((r) => admin.addEventListener('close', r, { once: true }))
        mesh.accept('admin', admin as unknown as Stream, connectionOf(peerId))
        // Bounded: every admin stream ends, answered or refused.
        const outcome = await Promise.race([
          closed.then(() => 'closed'),
          new Promise((r) => setTimeout(() => r('still open'), 5_000)),
        ])
        expect(outcome).toBe('closed')
        counts.adminRequests++
        counts.frames++
        if (admin.sent.length > 0) counts.adminAnswered++
      }
      if (i % 500 === 0) {
        core.tick()
        drain()
        // Keep 'a' leading most of the time, so the leader's handlers (responses) take frames too.
        if (core.status().role !== 'leader') {
          // A frame of a newer epoch made it wipe itself: 'b' leads that epoch and has it caught up.
          const epoch = core.epochIdentity()
          const header = {
            from: 'b',
            to: 'a',
            epoch: epoch.epoch,
            ...(epoch.epochId === '' ? {} : { epochId: epoch.epochId }),
          }
          if (core.rebuilding())
            core.step({
              ...header,
              type: 'append',
              term: core.status().term,
              prev: { index: 0, term: 0 },
              entries: [],
              commit: 0,
            })
          drain()
          core.campaign('real')
          core.step({ ...header, type: 'vote-resp', term: core.status().term, granted: true })
          drain()
          if (core.status().role === 'leader') counts.leaderTurns++
        }
      }
    }
    await new Promise((r) => setImmediate(r))
    const callAnswers = callStreams.reduce((n, s) => n + s.sent.length, 0)
    for (const s of open.values()) await s.close()
    const heapAfter = process.memoryUsage().heapUsed
    console.log(
      `mesh boundary fuzz: ${JSON.stringify({ ...counts, callAnswers, stepped, rejectedFrames: mesh.rejectedFrames })}`,
    )
    expect(counts.frames).toBeGreaterThanOrEqual(target)
    // Every side of the contract was exercised: frames taken by the core and refused, streams
    // closed by the node on bad framing, snapshots completed, admin requests answered, strangers.
    expect(stepped).toBeGreaterThan(100_000)
    expect(mesh.rejectedFrames).toBeGreaterThan(50_000)
    expect(counts.streamsClosedByTheNode).toBeGreaterThan(10_000)
    expect(counts.snapshotsTaken).toBeGreaterThan(100)
    // Call streams answered what they could read (the node's admin handler, 503 here).
    expect(callAnswers).toBeGreaterThan(1_000)
    expect(counts.adminAnswered).toBeGreaterThan(1_000)
    expect(counts.nonMemberFrames).toBeGreaterThan(50_000)
    expect(counts.leaderTurns).toBeGreaterThan(10)
    expect(mesh.catchUpTransfers().length).toBeLessThanOrEqual(2)
    expect(heapAfter - heapBefore).toBeLessThan(128 * 1024 * 1024)
  }, 600_000)
})
