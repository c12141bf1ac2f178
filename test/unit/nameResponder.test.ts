/**
 * Network names answered from the cluster database (src/runtime/nameResponder.ts): the group's
 * address while it is owned and online, nothing while it is not, NXDOMAIN for unknown names.
 */
import * as dns from '@leichtgewicht/dns-packet'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import type { Command } from '../../src/database/commands.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import {
  lookUpNetworkName,
  NameResponder,
  nameResponderLimits,
  SourceRateLimit,
} from '../../src/runtime/nameResponder.ts'

function cluster(extra: Command[] = []) {
  const db = new ClusterDatabase()
  const commands: Command[] = [
    {
      op: 'cluster.bootstrap',
      cluster: { name: 'c', quorumModel: 'node-majority' },
      sites: [{ name: 's', nodes: [{ name: 'n1', votes: 1, peerId: null, address: null }] }],
      witness: null,
    },
    {
      op: 'group.create',
      name: 'web',
      preferredOwners: [],
      possibleOwners: [],
      failback: 'never',
      antiAffinity: [],
    },
    ...(['10.1.0.5/24', 'fd00::7/64'] as const).map(
      (address, i): Command => ({
        op: 'resource.create',
        name: `ip${i}`,
        group: 'web',
        type: 'ip-address',
        params: { address, interface: 'eth0' },
        dependsOn: [],
        restartThreshold: 3,
        restartPeriodMs: 900_000,
      }),
    ),
    {
      op: 'resource.create',
      name: 'name',
      group: 'web',
      type: 'network-name',
      params: { name: 'Web.Example' },
      dependsOn: ['ip1'],
      restartThreshold: 3,
      restartPeriodMs: 900_000,
    },
    ...extra,
  ]
  commands.forEach((c, i) => {
    const r = db.apply(i + 1, c)
    if (!r.ok) throw new Error(`${c.op}: ${r.message}`)
  })
  return db
}

const online: Command[] = [
  { op: 'group.setTarget', name: 'web', target: 'online' },
  { op: 'group.assign', name: 'web', owner: 'n1', expect: { owner: null, token: 0 } },
]

describe('lookUpNetworkName', () => {
  it('answers with the address of the ip-address it depends on, any case, trailing dot or not', () => {
    expect(lookUpNetworkName(cluster(online), 'web.example.')).toEqual({
      kind: 'address',
      address: 'fd00::7',
      group: 'web',
    })
  })

  it('is offline while the group has no owner, is offline, or is moving', () => {
    expect(lookUpNetworkName(cluster(), 'web.example')).toEqual({ kind: 'offline', group: 'web' })
    const moving = cluster([
      ...online,
      {
        op: 'group.move',
        name: 'web',
        expect: { owner: 'n1', token: 7 },
        to: null,
        kind: 'move',
        reason: 'r',
      },
    ])
    expect(lookUpNetworkName(moving, 'web.example').kind).toBe('offline')
    expect(lookUpNetworkName(cluster(online), 'other.example')).toEqual({ kind: 'unknown' })
  })
})

describe('lookUpNetworkName with per-site addresses', () => {
  /** Two sites, a node each; the group's ip-address lists an address per site. */
  function geo(owner: 'atl-1' | 'phx-1', addresses = 'atlanta=10.1.0.5/24,phoenix=10.2.0.5/24') {
    const db = new ClusterDatabase()
    const node = (name: string) => ({ name, votes: 1, peerId: null, address: null })
    const commands: Command[] = [
      {
        op: 'cluster.bootstrap',
        cluster: { name: 'c', quorumModel: 'node-majority' },
        sites: [
          { name: 'atlanta', nodes: [node('atl-1')] },
          { name: 'phoenix', nodes: [node('phx-1')] },
        ],
        witness: null,
      },
      {
        op: 'group.create',
        name: 'web',
        preferredOwners: [],
        possibleOwners: [],
        failback: 'never',
        antiAffinity: [],
      },
      {
        op: 'resource.create',
        name: 'web-ip',
        group: 'web',
        type: 'ip-address',
        params: { addresses, interface: 'eth0' },
        dependsOn: [],
        restartThreshold: 3,
        restartPeriodMs: 900_000,
      },
      {
        op: 'resource.create',
        name: 'web-name',
        group: 'web',
        type: 'network-name',
        params: { name: 'web.example' },
        dependsOn: ['web-ip'],
        restartThreshold: 3,
        restartPeriodMs: 900_000,
      },
      { op: 'group.setTarget', name: 'web', target: 'online' },
      { op: 'group.assign', name: 'web', owner, expect: { owner: null, token: 0 } },
    ]
    commands.forEach((c, i) => {
      const r = db.apply(i + 1, c)
      if (!r.ok) throw new Error(`${c.op}: ${r.message}`)
    })
    return db
  }

  it("answers with the address of the owner's site", () => {
    expect(lookUpNetworkName(geo('atl-1'), 'web.example')).toEqual({
      kind: 'address',
      address: '10.1.0.5',
      group: 'web',
    })
    expect(lookUpNetworkName(geo('phx-1'), 'web.example')).toMatchObject({ address: '10.2.0.5' })
  })

  it("has no address while the owner's site has none (the resource cannot be online there)", () => {
    expect(lookUpNetworkName(geo('phx-1', 'atlanta=10.1.0.5/24'), 'web.example')).toEqual({
      kind: 'offline',
      group: 'web',
    })
  })
})

describe('NameResponder.answer', () => {
  const responder = new NameResponder({
    db: () => cluster(online),
    logger: createLogger({ pretty: false, level: 'silent' }),
    host: '127.0.0.1',
    port: 0,
  })
  const ask = (questions: dns.Question[]) =>
    dns.decode(responder.answer(dns.encode({ type: 'query', id: 42, questions }))!)

  it('answers AAAA for an IPv6 address and nothing for A', () => {
    const six = ask([{ type: 'AAAA', name: 'web.example' }])
    expect(six).toMatchObject({ id: 42, type: 'response', rcode: 'NOERROR', flag_aa: true })
    expect(six.answers).toEqual([expect.objectContaining({ type: 'AAAA', data: 'fd00::7' })])
    expect(ask([{ type: 'A', name: 'web.example' }]).answers).toEqual([])
  })

  it('NXDOMAIN for unknown names, FORMERR for several questions, nothing for garbage or responses', () => {
    expect(ask([{ type: 'A', name: 'x.example' }]).rcode).toBe('NXDOMAIN')
    expect(
      ask([
        { type: 'A', name: 'a' },
        { type: 'A', name: 'b' },
      ]).rcode,
    ).toBe('FORMERR')
    expect(responder.answer(new Uint8Array([1, 2, 3]))).toBeNull()
    expect(responder.answer(dns.encode({ type: 'response', id: 1, questions: [] }))).toBeNull()
  })
})

describe('the name responder is no amplifier', () => {
  const responder = new NameResponder({
    db: () => cluster(online),
    logger: createLogger({ pretty: false, level: 'silent' }),
    host: '127.0.0.1',
    port: 0,
  })

  it('refuses several questions with FORMERR and no echo, and ignores oversized queries', () => {
    // Many questions sharing one name by compression: a small query that used to buy a 20 KB answer.
    const many = dns.encode({
      type: 'query',
      id: 7,
      questions: Array.from({ length: 60 }, (_, i) => ({
        type: 'ANY' as const,
        name: `${'a'.repeat(40)}.web.example${i % 2 === 0 ? '' : '.'}`,
      })),
    })
    expect(many.length).toBeGreaterThan(512)
    expect(responder.answer(many)).toBeNull()
    const few = dns.encode({
      type: 'query',
      id: 8,
      questions: Array.from({ length: 5 }, () => ({ type: 'ANY' as const, name: 'web.example' })),
    })
    const reply = responder.answer(few)!
    expect(dns.decode(reply)).toMatchObject({ id: 8, rcode: 'FORMERR', questions: [] })
    expect(reply.length).toBeLessThanOrEqual(12)
  })

  it('never answers with more than 512 bytes, nor more than one record beyond the query (fast-check)', () => {
    const name = fc.oneof(
      fc.constantFrom('web.example', 'WEB.EXAMPLE.', 'x.example', ''),
      fc.stringMatching(/^[a-z0-9]{1,20}(\.[a-z0-9]{1,20}){0,5}$/),
    )
    const question = fc.record({
      type: fc.constantFrom('A' as const, 'AAAA' as const, 'ANY' as const, 'TXT' as const, 'MX' as const),
      name,
    })
    let answered = 0
    fc.assert(
      fc.property(fc.array(question, { minLength: 0, maxLength: 6 }), fc.nat(65535), (questions, id) => {
        const query = dns.encode({ type: 'query', id, questions })
        const reply = responder.answer(query)
        if (reply === null) return
        answered++
        expect(reply.length).toBeLessThanOrEqual(512)
        // At most the question echoed and one address record (name, type, TTL, 16 bytes).
        expect(reply.length).toBeLessThanOrEqual(query.length + 12 + 255 + 26)
      }),
      { seed: 6, numRuns: 2_000 },
    )
    expect(answered).toBeGreaterThan(1_000)
  })

  it('rate-limits answers per source address', () => {
    const limit = new SourceRateLimit()
    let allowed = 0
    for (let i = 0; i < 500; i++) if (limit.allow('192.0.2.1', 0)) allowed++
    expect(allowed).toBe(nameResponderLimits.burst)
    // Another source is not held back by the first; time refills the first.
    expect(limit.allow('192.0.2.2', 0)).toBe(true)
    let later = 0
    for (let i = 0; i < 500; i++) if (limit.allow('192.0.2.1', 1_000)) later++
    expect(later).toBe(nameResponderLimits.answersPerSecond)
  })
})
