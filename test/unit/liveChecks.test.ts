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
})
