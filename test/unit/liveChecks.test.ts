/** `validate --live`'s findings (src/cli/liveChecks.ts) from members' reports, without a cluster. */
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { liveFindings } from '../../src/cli/liveChecks.ts'
import type { MemberReport } from '../../src/membership/memberReport.ts'
import { loadTopology } from '../../src/topology/loadTopology.ts'

const t = loadTopology(join(resolve(import.meta.dirname, '../../sites'), 'two-sites-witness.yaml')).topology

function report(
  node: string,
  site: string,
  peers: Record<string, number | null>,
  over: Partial<MemberReport> = {},
) {
  return {
    node,
    site,
    version: '1.0.0',
    wallMs: 0,
    offsetMs: 0,
    error: null,
    peers: Object.fromEntries(
      Object.entries(peers).map(([p, rtt]) => [p, { state: rtt === null ? 'down' : 'up', rttMs: rtt }]),
    ),
    ...over,
  } satisfies MemberReport
}

describe('validate --live findings', () => {
  it('a healthy cluster: every pair, round trips per site pair, no warnings', () => {
    const f = liveFindings(t, [
      report('atl-1', 'atlanta', { 'atl-2': 1, 'phx-1': 50, 'phx-2': 52 }),
      report('phx-1', 'phoenix', { 'atl-1': 51, 'atl-2': 50, 'phx-2': 1 }),
    ])
    expect(f.errors).toEqual([])
    expect(f.warnings).toEqual([])
    expect(f.pairs).toEqual({ checked: 6, failed: [] })
    expect(f.rtt.map((r) => r.sites).sort()).toEqual([
      'atlanta ↔ atlanta',
      'atlanta ↔ phoenix',
      'phoenix ↔ phoenix',
    ])
  })

  it('names what is wrong: a lost pair, a member that did not answer, slow links, clocks, versions', () => {
    const f = liveFindings(t, [
      report('atl-1', 'atlanta', { 'atl-2': 1, 'phx-1': 180, 'phx-2': null }, { offsetMs: 0 }),
      report(
        'phx-1',
        'phoenix',
        { 'atl-1': 170, 'atl-2': 170, 'phx-2': 1 },
        { offsetMs: 2_400, version: '1.1.0' },
      ),
      { ...report('phx-2', '', {}), error: 'no answer within 2 s', offsetMs: null },
    ])
    expect(f.errors).toEqual([
      'phx-2 did not answer: no answer within 2 s',
      'no heartbeats atl-1 → phx-2: down',
    ])
    expect(f.warnings).toEqual([
      expect.stringMatching(
        /^heartbeat round trips atlanta ↔ phoenix reach 180 ms against 100 ms heartbeats/,
      ),
      expect.stringMatching(/^phx-1's clock is 2400 ms off/),
      'nodes run different versions: atl-1 1.0.0, phx-1 1.1.0 (finish the rolling upgrade)',
    ])
  })

  it('shows each member’s level and the cluster’s: mixed while upgrading, then a raise is due', () => {
    const mixed = liveFindings(t, [
      report('atl-1', 'atlanta', {}, { supportedLevel: 2, clusterLevel: 1 }),
      // A release from before levels says none: it supports level 1.
      report('phx-1', 'phoenix', {}, { clusterLevel: 1 }),
      { ...report('w1', 'tiebreak', {}), role: 'witness', supportedLevel: 2 },
    ])
    expect(mixed.members.map((m) => [m.node, m.role, m.supportedLevel])).toEqual([
      ['atl-1', 'node', 2],
      ['phx-1', 'node', 1],
      ['w1', 'witness', 2],
    ])
    expect(mixed.functionalLevel).toEqual({ cluster: 1, supportedByAll: 1 })
    expect(mixed.warnings).toContain(
      'members support different functional levels: atl-1 2, phx-1 1, w1 2 (finish the rolling upgrade, then run geocluster cluster upgrade-level)',
    )
    const due = liveFindings(t, [
      report('atl-1', 'atlanta', {}, { supportedLevel: 2, clusterLevel: 1 }),
      report('phx-1', 'phoenix', {}, { supportedLevel: 2, clusterLevel: 1 }),
    ])
    expect(due.warnings).toEqual([
      'every member supports functional level 2, the cluster is at level 1: run geocluster cluster upgrade-level',
    ])
    // A witness that cannot answer for itself (an older release) is a warning, not an error.
    const quiet = liveFindings(t, [
      report('atl-1', 'atlanta', {}, { supportedLevel: 2, clusterLevel: 2 }),
      { ...report('w1', '', {}), role: 'witness', error: 'a witness serves no admin API', offsetMs: null },
    ])
    expect(quiet.errors).toEqual([])
    expect(quiet.warnings).toEqual(['w1 did not answer: a witness serves no admin API'])
    expect(quiet.functionalLevel).toEqual({ cluster: 2, supportedByAll: 2 })
  })
})
