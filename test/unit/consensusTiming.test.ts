/**
 * From topology timing to consensus ticks (src/runtime/consensusTiming.ts): the election timeout
 * is the failure-detection time (same-site for a single site, the larger of same- and cross-site
 * when the cluster spans sites or has a witness); a tick is half the smaller heartbeat.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { consensusTiming } from '../../src/runtime/consensusTiming.ts'
import { parseTopology } from '../../src/topology/loadTopology.ts'
import type { Topology } from '../../src/topology/topologySchema.ts'

const peer = {
  atl1: '12D3KooWHp9M1xVKEEDxJoaTrApWBiH3uqW5dMEvXWhxCPDtrGAe',
  atl2: '12D3KooWDJb8suaJozpQBZmMncQYYaPyvX6HErdcsXayVXN8PB13',
  phx1: '12D3KooWS4Z4jLMsfFvp19Be1PzQFQbf2KxqPtLNZUKhBNp1Cpeb',
  phx2: '12D3KooWBQxGzmktdLHupNoayFRZz7SeiqgDRTB4ttsjpgmGM7Qx',
  w1: '12D3KooWCuuYh113qYiefTcyCQ9qxknsQAQf8x8fja81SEwzfcRk',
}

interface Timing {
  same?: { heartbeatMs: number; threshold: number }
  cross?: { heartbeatMs: number; threshold: number }
}

function timingYaml(t: Timing): string[] {
  if (t.same === undefined && t.cross === undefined) return []
  const line = (name: string, v: { heartbeatMs: number; threshold: number }) =>
    `  ${name}: { heartbeatMs: ${v.heartbeatMs}, threshold: ${v.threshold} }`
  return [
    'timing:',
    ...(t.same === undefined ? [] : [line('sameSite', t.same)]),
    ...(t.cross === undefined ? [] : [line('crossSite', t.cross)]),
  ]
}

const node = (name: string, port: number, peerId: string) =>
  `      - { name: ${name}, address: /ip4/127.0.0.1/tcp/${port}, peerId: ${peerId} }`

/** One site, node majority, three nodes. */
function oneSite(t: Timing = {}): Topology {
  return parseTopology(
    'one-site.yaml',
    [
      'cluster:',
      '  name: one',
      'quorum:',
      '  model: node-majority',
      ...timingYaml(t),
      'sites:',
      '  - name: atlanta',
      '    nodes:',
      node('atl-1', 7401, peer.atl1),
      node('atl-2', 7402, peer.atl2),
      node('atl-3', 7403, peer.phx1),
      '',
    ].join('\n'),
  )
}

/** A single local node (model local): one site, no witness. */
function local(t: Timing = {}): Topology {
  return parseTopology(
    'local.yaml',
    [
      'cluster:',
      '  name: lab',
      'quorum:',
      '  model: local',
      ...timingYaml(t),
      'sites:',
      '  - name: lab',
      '    nodes:',
      '      - name: lab-1',
      '',
    ].join('\n'),
  )
}

/** One site and a witness at another. */
function oneSiteWitness(t: Timing = {}): Topology {
  return parseTopology(
    'one-site-witness.yaml',
    [
      'cluster:',
      '  name: one',
      'quorum:',
      '  model: node-and-witness',
      ...timingYaml(t),
      'sites:',
      '  - name: atlanta',
      '    nodes:',
      node('atl-1', 7401, peer.atl1),
      node('atl-2', 7402, peer.atl2),
      'witness:',
      '  name: w1',
      '  site: tiebreak',
      '  address: /ip4/127.0.0.1/tcp/7421',
      `  peerId: ${peer.w1}`,
      '',
    ].join('\n'),
  )
}

/** Two sites, node majority, no witness. */
function twoSites(t: Timing = {}): Topology {
  return parseTopology(
    'two-sites.yaml',
    [
      'cluster:',
      '  name: two',
      'quorum:',
      '  model: node-majority',
      ...timingYaml(t),
      'sites:',
      '  - name: atlanta',
      '    nodes:',
      node('atl-1', 7401, peer.atl1),
      node('atl-2', 7402, peer.atl2),
      '  - name: phoenix',
      '    nodes:',
      node('phx-1', 7411, peer.phx1),
      '',
    ].join('\n'),
  )
}

/** As sites/two-sites-witness.yaml. */
function twoSitesWitness(t: Timing = {}): Topology {
  return parseTopology(
    'two-sites-witness.yaml',
    [
      'cluster:',
      '  name: demo',
      'quorum:',
      '  model: node-and-witness',
      ...timingYaml(t),
      'sites:',
      '  - name: atlanta',
      '    nodes:',
      node('atl-1', 7401, peer.atl1),
      node('atl-2', 7402, peer.atl2),
      '  - name: phoenix',
      '    nodes:',
      node('phx-1', 7411, peer.phx1),
      node('phx-2', 7412, peer.phx2),
      'witness:',
      '  name: w1',
      '  site: tiebreak',
      '  address: /ip4/127.0.0.1/tcp/7421',
      `  peerId: ${peer.w1}`,
      '',
    ].join('\n'),
  )
}

describe('consensusTiming: which detection time is the election timeout', () => {
  it('defaults, single site: same-site detection time (100 ms × 10)', () => {
    for (const t of [oneSite(), local()]) {
      expect(consensusTiming(t)).toEqual({
        tickMs: 50,
        heartbeatTicks: 2,
        electionTicks: 20,
        sameSiteDownMs: 1_000,
        crossSiteDownMs: 1_000,
      })
    }
  })

  it('WSFC-like timing, two sites with a witness: cross-site (1000 ms × 20)', () => {
    const wsfc: Timing = {
      same: { heartbeatMs: 1000, threshold: 10 },
      cross: { heartbeatMs: 1000, threshold: 20 },
    }
    expect(consensusTiming(twoSitesWitness(wsfc))).toEqual({
      tickMs: 500,
      heartbeatTicks: 2,
      electionTicks: 40,
      sameSiteDownMs: 10_000,
      crossSiteDownMs: 20_000,
    })
  })

  it('two sites without a witness, and one site with a witness at another, count as multi-site', () => {
    const t: Timing = {
      same: { heartbeatMs: 1000, threshold: 10 },
      cross: { heartbeatMs: 1000, threshold: 20 },
    }
    expect(consensusTiming(oneSite(t)).electionTicks).toBe(20)
    expect(consensusTiming(twoSites(t)).electionTicks).toBe(40)
    expect(consensusTiming(oneSiteWitness(t)).electionTicks).toBe(40)
  })

  it('single site ignores a longer cross-site time; multi-site takes it', () => {
    const t: Timing = { same: { heartbeatMs: 100, threshold: 5 }, cross: { heartbeatMs: 300, threshold: 3 } }
    // tick = 100 / 2 = 50; same = 500 ms, cross = 900 ms.
    expect(consensusTiming(oneSite(t))).toEqual({
      tickMs: 50,
      heartbeatTicks: 2,
      electionTicks: 10,
      sameSiteDownMs: 500,
      crossSiteDownMs: 900,
    })
    expect(consensusTiming(twoSites(t)).electionTicks).toBe(18)
    expect(consensusTiming(oneSiteWitness(t)).electionTicks).toBe(18)
    expect(consensusTiming(twoSitesWitness(t)).electionTicks).toBe(18)
  })

  it('multi-site takes the larger even when it is the same-site time', () => {
    const t: Timing = {
      same: { heartbeatMs: 2000, threshold: 10 },
      cross: { heartbeatMs: 500, threshold: 20 },
    }
    // Smaller heartbeat is cross-site's: tick = 250; same = 20 000 ms, cross = 10 000 ms.
    const single = consensusTiming(oneSite(t))
    const multi = consensusTiming(twoSitesWitness(t))
    expect(single.tickMs).toBe(250)
    expect(single.heartbeatTicks).toBe(2)
    expect(single.electionTicks).toBe(80)
    expect(multi.electionTicks).toBe(80)
    expect(multi.crossSiteDownMs).toBe(10_000)
  })

  it('different cross-site thresholds give different election timeouts across sites only', () => {
    const same = { heartbeatMs: 1000, threshold: 10 }
    const a = consensusTiming(twoSitesWitness({ same, cross: { heartbeatMs: 1000, threshold: 20 } }))
    const b = consensusTiming(twoSitesWitness({ same, cross: { heartbeatMs: 1000, threshold: 30 } }))
    expect(a.electionTicks).toBe(40)
    expect(b.electionTicks).toBe(60)
    expect(
      consensusTiming(oneSite({ same, cross: { heartbeatMs: 1000, threshold: 20 } })).electionTicks,
    ).toBe(consensusTiming(oneSite({ same, cross: { heartbeatMs: 1000, threshold: 30 } })).electionTicks)
  })
})

describe('consensusTiming: ticks', () => {
  it('a tick is half the smaller heartbeat, rounded down', () => {
    const slowCross = { heartbeatMs: 1000, threshold: 20 }
    expect(consensusTiming(oneSite({ same: { heartbeatMs: 101, threshold: 2 }, cross: slowCross }))).toEqual({
      tickMs: 50,
      heartbeatTicks: 2, // round(101 / 50)
      electionTicks: 5, // ceil(202 / 50)
      sameSiteDownMs: 202,
      crossSiteDownMs: 20_000,
    })
    const t = consensusTiming(
      twoSites({ same: { heartbeatMs: 5000, threshold: 2 }, cross: { heartbeatMs: 333, threshold: 7 } }),
    )
    expect(t.tickMs).toBe(166)
    expect(t.heartbeatTicks).toBe(2)
    expect(t.electionTicks).toBe(61) // ceil(10 000 / 166)
    expect(t.sameSiteDownMs).toBe(10_000)
    expect(t.crossSiteDownMs).toBe(2_331)
  })

  it('the election timeout is rounded up to whole ticks, never shorter than the detection time', () => {
    const t = consensusTiming(
      oneSite({ same: { heartbeatMs: 333, threshold: 3 }, cross: { heartbeatMs: 333, threshold: 3 } }),
    )
    expect(t.tickMs).toBe(166)
    expect(t.electionTicks).toBe(7) // 999 / 166 = 6.02
    expect(t.electionTicks * t.tickMs).toBeGreaterThanOrEqual(999)
  })

  it('a tick is never below 10 ms (heartbeats below the schema minimum, set directly)', () => {
    const t = oneSite()
    t.timing.sameSite = { heartbeatMs: 15, threshold: 4 }
    t.timing.crossSite = { heartbeatMs: 15, threshold: 4 }
    expect(consensusTiming(t)).toEqual({
      tickMs: 10,
      heartbeatTicks: 2, // round(1.5)
      electionTicks: 6, // ceil(60 / 10)
      sameSiteDownMs: 60,
      crossSiteDownMs: 60,
    })
    t.timing.sameSite = { heartbeatMs: 4, threshold: 2 }
    const tiny = consensusTiming(t)
    expect(tiny.tickMs).toBe(10)
    expect(tiny.heartbeatTicks).toBe(1) // at least one
    expect(tiny.electionTicks).toBe(3) // at least three
  })

  it('property: over the whole schema range, ticks follow the rules and election ticks exceed heartbeat ticks', () => {
    const heartbeat = fc.record({
      heartbeatMs: fc.integer({ min: 100, max: 60_000 }),
      threshold: fc.integer({ min: 2, max: 100 }),
    })
    const shapes = [oneSite, local, oneSiteWitness, twoSites, twoSitesWitness] as const
    fc.assert(
      fc.property(heartbeat, heartbeat, fc.nat(shapes.length - 1), (same, cross, shape) => {
        const topology = shapes[shape]!({ same, cross })
        const multiSite = topology.sites.length > 1 || topology.witness !== undefined
        const t = consensusTiming(topology)
        const heartbeatMs = Math.min(same.heartbeatMs, cross.heartbeatMs)
        const downMs = multiSite
          ? Math.max(same.heartbeatMs * same.threshold, cross.heartbeatMs * cross.threshold)
          : same.heartbeatMs * same.threshold
        expect(t.tickMs).toBe(Math.max(10, Math.floor(heartbeatMs / 2)))
        expect(t.heartbeatTicks).toBe(Math.max(1, Math.round(heartbeatMs / t.tickMs)))
        expect(t.electionTicks).toBeGreaterThan(t.heartbeatTicks)
        // The election timeout is the detection time, rounded up to a whole tick.
        expect(t.electionTicks * t.tickMs).toBeGreaterThanOrEqual(downMs)
        expect((t.electionTicks - 1) * t.tickMs).toBeLessThan(downMs)
        // The leader's heartbeat interval is never longer than the configured heartbeat.
        expect(t.heartbeatTicks * t.tickMs).toBeLessThanOrEqual(heartbeatMs)
        expect(t.sameSiteDownMs).toBe(same.heartbeatMs * same.threshold)
        expect(t.crossSiteDownMs).toBe(cross.heartbeatMs * cross.threshold)
      }),
      { seed: 777, numRuns: 200 },
    )
  })
})
