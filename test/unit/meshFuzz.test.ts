/**
 * 100,000 random and mutated frames against every protocol handler of the mesh (consensus,
 * heartbeat, admin, catch-up), fed through NodeMesh into a live consensus core: nothing crashes, bad
 * frames are refused (their stream would close), and memory stays bounded.
 */
import { create, toBinary } from '@bufbuild/protobuf'
import { generateKeyPair } from '@libp2p/crypto/keys'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { initialConfiguration } from '../../src/consensus/configuration.ts'
import { RaftCore } from '../../src/consensus/raftCore.ts'
import type { Message } from '../../src/consensus/types.ts'
import { encodeEnvelope } from '../../src/database/commands.ts'
import { AdminRequestSchema, PingSchema } from '../../src/mesh/gen/geocluster_pb.ts'
import type { CatchUpSink } from '../../src/mesh/mesh.ts'
import { encodeRaftMessage } from '../../src/mesh/raftCodec.ts'
import { snapshotFrames } from '../../src/mesh/snapshotTransfer.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import { NodeMesh } from '../../src/runtime/nodeMesh.ts'
import { Prng } from '../sim/prng.ts'

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

describe('mesh handlers under 100,000 random and mutated frames', () => {
  it('never crash, refuse what is malformed, and keep memory bounded', async () => {
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
    const mesh = new NodeMesh({
      self: 'a',
      site: 's',
      privateKey: await generateKeyPair('Ed25519'),
      psk: new Uint8Array(95),
      listen: [],
      logger: createLogger({ pretty: false, level: 'silent' }),
      timing: {
        sameSite: { heartbeatMs: 100, threshold: 5 },
        crossSite: { heartbeatMs: 100, threshold: 10 },
      },
      monotonic: () => performance.now(),
      onRaft: (m) => {
        core.step(m)
        drain()
        stepped++
        return true
      },
      leaderView: () => ({ leader: 'a', term: 1 }),
      onAdmin: async () => ({ status: 503, body: new Uint8Array([123, 125]) }),
    })
    mesh.setMembers(
      members.map((m) => ({ name: m, site: 's', peerId: `p-${m}`, address: '/ip4/127.0.0.1/tcp/1' })),
    )

    const heapBefore = process.memoryUsage().heapUsed
    const samples = fc.sample(messageArb, { seed: 424242, numRuns: 20_000 })
    const rand = new Prng(99)
    let frames = 0
    let refused = 0
    let leaderTurns = 0
    // Catch-up streams: a real snapshot's frames in order, mutated, or random, on a fresh stream now and then.
    let sink: CatchUpSink | null = null
    let offered: Uint8Array[] = []
    let next = 0
    let snapshotsTaken = 0
    let catchUpRefused = 0
    for (let i = 0; i < 100_000; i++) {
      const kind = i % 10
      if (kind === 3) {
        const sender = members[rand.int(1, 2)]!
        if (sink === null || rand.int(0, 30) === 0) {
          sink?.closed()
          sink = mesh.catchUpStream(sender)
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
        const choice = rand.int(0, 5)
        let f = offered[Math.min(next, offered.length - 1)]!
        if (choice < 4) next++
        if (choice === 4) f = mutate(f, rand)
        if (choice === 5) f = Uint8Array.from({ length: rand.int(0, 300) }, () => rand.int(0, 255))
        const step = sink.frame(f)
        if (step === 'refused') catchUpRefused++
        if (step === 'done') snapshotsTaken++
        if (step !== 'more') {
          sink.closed()
          sink = null
        }
        frames++
        continue
      }
      let frame: Uint8Array
      let from = members[rand.int(1, 2)]!
      let protocol: 'raft' | 'heartbeat' = i % 3 === 0 ? 'heartbeat' : 'raft'
      if (kind < 4) {
        // Well-formed messages, mostly on the right stream from the right sender.
        const m = samples[i % samples.length]!
        frame = encodeRaftMessage({ ...m, to: i % 8 === 0 ? m.to : 'a' })
        if (members.includes(m.from) && m.from !== 'a' && i % 8 !== 1) {
          from = m.from
          protocol = 'raft'
        }
      } else if (kind < 7) frame = mutate(encodeRaftMessage(samples[(i * 7) % samples.length]!), rand)
      else if (kind < 9) frame = Uint8Array.from({ length: rand.int(0, 200) }, () => rand.int(0, 255))
      else frame = mutate(toBinary(PingSchema, create(PingSchema, { from: 'b', seq: 1n, sentAt: 1 })), rand)
      if (!mesh.receive(protocol, from, frame, () => {})) refused++
      if (i % 50 === 0) {
        const admin =
          i % 100 === 0
            ? toBinary(AdminRequestSchema, create(AdminRequestSchema, { method: 'propose', body: frame }))
            : frame
        await mesh.request(from, admin)
      }
      if (i % 500 === 0) {
        core.tick()
        drain()
        // Keep 'a' leading most of the time, so the leader's handlers (responses) take frames too.
        if (core.status().role !== 'leader') {
          core.campaign('real')
          const term = core.status().term
          core.step({
            type: 'vote-resp',
            from: 'b',
            to: 'a',
            term,
            epoch: core.config().epoch,
            granted: true,
          })
          drain()
          if (core.status().role === 'leader') leaderTurns++
        }
      }
      frames++
    }
    const heapAfter = process.memoryUsage().heapUsed
    expect(frames).toBe(100_000)
    // Both sides of the contract were exercised: many frames refused, many taken by the core.
    expect(refused).toBeGreaterThan(30_000)
    expect(stepped).toBeGreaterThan(10_000)
    expect(leaderTurns).toBeGreaterThan(10)
    expect(snapshotsTaken).toBeGreaterThan(100)
    expect(catchUpRefused).toBeGreaterThan(1_000)
    expect(mesh.catchUpTransfers().length).toBeLessThanOrEqual(2)
    expect(mesh.rejectedFrames).toBeGreaterThan(30_000)
    expect(heapAfter - heapBefore).toBeLessThan(64 * 1024 * 1024)
  }, 120_000)
})
