/**
 * Network names answered from the cluster database (src/runtime/nameResponder.ts): the group's
 * address while it is owned and online, nothing while it is not, NXDOMAIN for unknown names.
 */
import * as dns from '@leichtgewicht/dns-packet'
import { describe, expect, it } from 'vitest'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import type { Command } from '../../src/database/commands.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import { lookUpNetworkName, NameResponder } from '../../src/runtime/nameResponder.ts'

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
  { op: 'group.assign', name: 'web', owner: 'n1' },
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
      { op: 'group.move', name: 'web', to: null, kind: 'move', reason: 'r' },
    ])
    expect(lookUpNetworkName(moving, 'web.example').kind).toBe('offline')
    expect(lookUpNetworkName(cluster(online), 'other.example')).toEqual({ kind: 'unknown' })
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
