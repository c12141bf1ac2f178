/**
 * Typed calls between members: each call survives the wire, anything else is refused 400 with a
 * reason (mesh input is hostile), and the desk answers only nodes, for themselves.
 */
import { describe, expect, it } from 'vitest'
import type { RaftCore } from '../../src/consensus/raftCore.ts'
import type { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { GeoclusterError } from '../../src/errors/errors.ts'
import {
  answerFailed,
  decodeLeaderCall,
  encodeLeaderCall,
  type LeaderCall,
  readAnswer,
} from '../../src/runtime/leaderCalls.ts'
import { LeaderDesk } from '../../src/runtime/leaderDesk.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import type { AdminCall } from '../../src/runtime/nodeMesh.ts'

const calls: LeaderCall[] = [
  { method: 'propose', command: { op: 'group.release', name: 'web', token: 4 } },
  {
    method: 'addNode',
    spec: {
      name: 'n4',
      site: 's',
      address: '/ip4/127.0.0.1/tcp/7000',
      peerId: '12D3KooWHJCWaBzh5qFnGJ9XKHbLvoVxBBUyRkrNJ5JL4THrgmD4',
      votes: 1,
    },
  },
  { method: 'evictNode', name: 'n2' },
  { method: 'selfReport' },
  { method: 'recentEvents', limit: 50 },
  { method: 'supportReport' },
]

const raw = (method: string, body: string): AdminCall => ({
  method,
  path: '',
  body: Buffer.from(body),
  by: 'admin',
})

describe('leader calls on the wire', () => {
  it.each(calls.map((c) => [c.method, c] as const))('%s decodes to what was encoded', (_, call) => {
    const decoded = decodeLeaderCall(encodeLeaderCall(call, 'node:a'))
    expect(decoded).toEqual({ ok: true, call, by: 'node:a' })
  })

  it('refuses what does not decode, with a reason, and never throws', () => {
    expect(decodeLeaderCall(raw('dropTables', '{}'))).toEqual({
      ok: false,
      method: 'dropTables',
      problem: 'unknown call dropTables',
    })
    expect(decodeLeaderCall(raw('propose', '{not json'))).toMatchObject({ ok: false, problem: /not JSON/ })
    expect(decodeLeaderCall(raw('propose', 'null'))).toMatchObject({
      ok: false,
      problem: /command is invalid/,
    })
    expect(decodeLeaderCall(raw('propose', '{"command":{"op":"nope"}}'))).toMatchObject({ ok: false })
    expect(decodeLeaderCall(raw('evictNode', '{"name":5}'))).toMatchObject({
      ok: false,
      problem: /node is invalid/,
    })
    expect(decodeLeaderCall(raw('addNode', '[]'))).toMatchObject({ ok: false })
    expect(decodeLeaderCall(raw('x'.repeat(10_000), '')).ok).toBe(false)
  })

  it('a refusal reads back as the error it names; a value as itself', () => {
    const refused = answerFailed(new GeoclusterError('GC_ERR_NO_QUORUM', 'no quorum here'))
    expect(refused.status).toBe(503)
    expect(() => readAnswer(refused, 'the leader')).toThrow(
      expect.objectContaining({ code: 'GC_ERR_NO_QUORUM', message: 'no quorum here' }),
    )
    expect(() => readAnswer({ status: 500, body: Buffer.from('<html>') }, 'the leader')).toThrow(
      expect.objectContaining({ code: 'GC_ERR_FAILED' }),
    )
    expect(() =>
      readAnswer({ status: 418, body: Buffer.from('{"error":{"code":"GC_ERR_MADE_UP"}}') }, 'x'),
    ).toThrow(expect.objectContaining({ code: 'GC_ERR_FAILED', message: 'x answered 418' }))
    expect(readAnswer({ status: 200, body: Buffer.from('{"index":3}') }, 'x')).toEqual({ index: 3 })
  })
})

describe('the leader desk', () => {
  function desk(role: 'leader' | 'follower') {
    const core = {
      status: () => ({ role, leader: role === 'leader' ? 'a' : 'b' }),
      quorate: () => true,
    } as unknown as RaftCore
    const nodes: Record<string, { evicted?: boolean }> = { b: {}, c: { evicted: true } }
    const proposed: string[] = []
    const d = new LeaderDesk({
      name: 'a',
      core,
      db: () =>
        ({
          node: (n: string) => nodes[n],
          group: () => ({ owner: 'b' }),
        }) as unknown as ClusterDatabase,
      mesh: () => null,
      log: createLogger({ pretty: false, level: 'silent' }),
      here: {
        propose: async (command, by) => {
          proposed.push(`${command.op} by ${by}`)
          return { index: 1, result: { ok: true, changed: [] } } as never
        },
        addNode: async () => ({ index: 2 }) as never,
        evictNode: async () => ({ index: 3 }) as never,
        selfReport: () => ({ node: 'a' }) as never,
        recentEvents: (limit) => [{ seq: limit }] as never,
        supportReport: () => ({ node: 'a', events: [] }) as never,
      },
    })
    return { d, proposed }
  }
  const json = (a: { status: number; body: Uint8Array }) => ({
    status: a.status,
    body: JSON.parse(Buffer.from(a.body).toString('utf8')),
  })

  it('answers nodes only: not the witness, not an evicted node', async () => {
    const { d } = desk('leader')
    expect(json(await d.answer('w', raw('selfReport', '{}'))).status).toBe(403)
    expect(json(await d.answer('c', raw('selfReport', '{}'))).status).toBe(403)
  })

  it('any node reports itself; everything else is the leader’s', async () => {
    const f = desk('follower').d
    expect(json(await f.answer('b', raw('selfReport', 'junk')))).toEqual({ status: 200, body: { node: 'a' } })
    expect(json(await f.answer('b', raw('evictNode', '{"name":"x"}'))).body.error.code).toBe(
      'GC_ERR_NOT_LEADER',
    )
  })

  it('any node sends its events and support report; a bad limit is a 400', async () => {
    const f = desk('follower').d
    expect(json(await f.answer('b', raw('recentEvents', '{"limit":7}')))).toEqual({
      status: 200,
      body: [{ seq: 7 }],
    })
    expect(json(await f.answer('b', raw('supportReport', '')))).toEqual({
      status: 200,
      body: { node: 'a', events: [] },
    })
    for (const bad of ['{"limit":0}', '{"limit":1e9}', '{}', '{"limit":5,"x":1}', 'nope'])
      expect(json(await f.answer('b', raw('recentEvents', bad))).status).toBe(400)
    expect(json(await f.answer('w', raw('supportReport', ''))).status).toBe(403)
  })

  it('on the leader: an unknown or malformed call is a 400; a call is stamped with its caller', async () => {
    const { d, proposed } = desk('leader')
    expect(json(await d.answer('b', raw('dropTables', '{}')))).toEqual({
      status: 400,
      body: { error: { code: 'GC_ERR_BAD_REQUEST', message: 'unknown call dropTables' } },
    })
    expect(json(await d.answer('b', raw('propose', '{'))).status).toBe(400)
    const release = JSON.stringify({ command: { op: 'group.release', name: 'g', token: 1 } })
    expect(json(await d.answer('b', { ...raw('propose', release), by: 'admin' })).status).toBe(200)
    expect(proposed).toEqual(['group.release by admin@b'])
  })

  it('a node speaks only for itself', async () => {
    const { d } = desk('leader')
    const cp = JSON.stringify({
      command: { op: 'resource.checkpoint', name: 'r', node: 'c', at: 1, files: [] },
    })
    const a = json(await d.answer('b', raw('propose', cp)))
    expect(a.status).toBe(403)
    expect(a.body.error.message).toMatch(/on behalf of c/)
  })
})
