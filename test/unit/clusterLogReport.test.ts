/** The cluster log's pure parts: merging members' events, checking their reports, removing secrets. */
import { describe, expect, it } from 'vitest'
import type { ClusterEvent } from '../../src/events/clusterEvent.ts'
import { mergeMemberEvents, readSupportReport } from '../../src/events/clusterLogReport.ts'
import { isSecretName, redacted, redactSecrets } from '../../src/events/secretRedaction.ts'

const at = (node: string, seq: number, ms: number): ClusterEvent => ({
  seq,
  time: new Date(1_700_000_000_000 + ms).toISOString(),
  node,
  type: 'node:up',
  severity: 'info',
  message: `${node}#${seq}`,
})

describe('mergeMemberEvents', () => {
  it('puts every member’s events in time order, then by member, then by sequence', () => {
    const a = [at('a', 1, 10), at('a', 2, 30), at('a', 3, 30)]
    const b = [at('b', 7, 5), at('b', 8, 30), at('b', 9, 40)]
    expect(mergeMemberEvents([a, b], 100).map((e) => e.message)).toEqual([
      'b#7',
      'a#1',
      'a#2',
      'a#3',
      'b#8',
      'b#9',
    ])
  })

  it('keeps the newest `limit` and leaves out what is not an event', () => {
    const a: unknown[] = [
      at('a', 1, 10),
      null,
      'junk',
      { ...at('a', 2, 20), type: 'no:such' },
      at('a', 3, 30),
    ]
    const b: unknown[] = [{ seq: -1 }, at('b', 1, 25)]
    expect(mergeMemberEvents([a, b], 2).map((e) => e.message)).toEqual(['b#1', 'a#3'])
  })
})

describe('readSupportReport', () => {
  it('names the member that was asked and keeps only fields of the right type', () => {
    const r = readSupportReport(
      {
        node: 'mallory',
        site: 3,
        version: '1.0.0',
        wallMs: 'soon',
        status: { a: 1 },
        events: [at('x', 1, 1), 5],
      },
      'b',
    )
    expect(r).toEqual({
      node: 'b',
      site: '',
      version: '1.0.0',
      wallMs: 0,
      status: { a: 1 },
      topology: null,
      events: [at('x', 1, 1)],
    })
    expect(readSupportReport(null, 'c')).toMatchObject({ node: 'c', events: [] })
  })
})

describe('redactSecrets', () => {
  it('replaces values under secret names, keeps fencing tokens and peer IDs', () => {
    const topology = {
      cluster: { name: 'demo', secret: './demo.psk' },
      sites: [{ name: 'a', nodes: [{ name: 'n1', peerId: '12D3KooWabc' }] }],
      groups: [{ name: 'web', fencingToken: 12 }],
      api: { token: 'x', adminToken: 'y', password: 'p', apiKey: 'k', privateKey: 'z', tlsKey: null },
    }
    expect(redactSecrets(topology)).toEqual({
      cluster: { name: 'demo', secret: redacted },
      sites: [{ name: 'a', nodes: [{ name: 'n1', peerId: '12D3KooWabc' }] }],
      groups: [{ name: 'web', fencingToken: 12 }],
      api: {
        token: redacted,
        adminToken: redacted,
        password: redacted,
        apiKey: redacted,
        privateKey: redacted,
        tlsKey: null,
      },
    })
    expect(isSecretName('fencingToken')).toBe(false)
    expect(isSecretName('leaseAuthority')).toBe(false)
    expect(isSecretName('Authorization')).toBe(true)
  })

  it('scrubs known secret values wherever they appear in text', () => {
    const token = 'f00dfeedcafebabe1234'
    const out = redactSecrets({ message: `header Bearer ${token} refused`, list: [token, 'ok'] }, [
      token,
      'ab',
    ])
    expect(JSON.stringify(out)).not.toContain(token)
    expect(out).toEqual({ message: `header Bearer ${redacted} refused`, list: [redacted, 'ok'] })
  })

  it('copies, leaving the original as it was', () => {
    const original = { secret: 's', nested: { password: 'p' } }
    redactSecrets(original)
    expect(original).toEqual({ secret: 's', nested: { password: 'p' } })
  })
})
