import fs from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fencingTiming, timingProblems } from '../../src/topology/clusterTiming.ts'
import { loadTopology, TopologyError } from '../../src/topology/loadTopology.ts'
import { lowerQuorumPriority } from '../../src/topology/tieBreaker.ts'
import { formatPath, timingDefaults } from '../../src/topology/topologySchema.ts'

const sitesDir = resolve(import.meta.dirname, '../../sites')

const peer = {
  atl1: '12D3KooWHp9M1xVKEEDxJoaTrApWBiH3uqW5dMEvXWhxCPDtrGAe',
  atl2: '12D3KooWDJb8suaJozpQBZmMncQYYaPyvX6HErdcsXayVXN8PB13',
  phx1: '12D3KooWS4Z4jLMsfFvp19Be1PzQFQbf2KxqPtLNZUKhBNp1Cpeb',
  phx2: '12D3KooWBQxGzmktdLHupNoayFRZz7SeiqgDRTB4ttsjpgmGM7Qx',
  w1: '12D3KooWCuuYh113qYiefTcyCQ9qxknsQAQf8x8fja81SEwzfcRk',
}

/** A valid node-and-witness file; line numbers are noted for the tests that count on them. */
const twoSites = (over: { phx2Name?: string; phx1Peer?: string; phx1Addr?: string; witness?: string } = {}) =>
  [
    'cluster:', // 1
    '  name: demo', // 2
    'quorum:', // 3
    '  model: node-and-witness', // 4
    'sites:', // 5
    '  - name: atlanta', // 6
    '    nodes:', // 7
    `      - { name: atl-1, address: /ip4/127.0.0.1/tcp/7401, peerId: ${peer.atl1} }`, // 8
    `      - { name: atl-2, address: /ip4/127.0.0.1/tcp/7402, peerId: ${peer.atl2} }`, // 9
    '  - name: phoenix', // 10
    '    nodes:', // 11
    `      - name: phx-1`, // 12
    `        address: ${over.phx1Addr ?? '/ip4/127.0.0.1/tcp/7411'}`, // 13
    `        peerId: ${over.phx1Peer ?? peer.phx1}`, // 14
    `      - name: ${over.phx2Name ?? 'phx-2'}`, // 15
    '        address: /ip4/127.0.0.1/tcp/7412', // 16
    `        peerId: ${peer.phx2}`, // 17
    over.witness ??
      [
        'witness:', // 18
        '  name: w1', // 19
        '  site: tiebreak', // 20
        '  address: /ip4/127.0.0.1/tcp/7421', // 21
        `  peerId: ${peer.w1}`, // 22
      ].join('\n'),
    '',
  ].join('\n')

/** A valid one-node local file. */
const localFile = (nodes = ['      - name: lab-1'], quorum = ['  model: local']) =>
  [
    'cluster:',
    '  name: lab',
    'quorum:',
    ...quorum,
    'sites:',
    '  - name: lab',
    '    nodes:',
    ...nodes,
    '',
  ].join('\n')

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), 'gc-'))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

function write(name: string, text: string): string {
  const file = join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

/** Loads a file that must be refused and returns the error. */
function refuse(file: string): TopologyError {
  try {
    loadTopology(file)
  } catch (error) {
    expect(error).toBeInstanceOf(TopologyError)
    const e = error as TopologyError
    expect(e.exitCode).toBe(2)
    expect(e.code).toBe('GC_ERR_CONFIG')
    expect(e.message).toBe(e.problems.join('\n'))
    return e
  }
  throw new Error(`${file} was accepted`)
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** `<file>: <field.path>: <problem> (line N)` */
const problemLine = (file: string) =>
  new RegExp(
    `^${escapeRe(file)}: (\\(top level\\)|[A-Za-z]\\w*(\\[\\d+\\]|\\.[A-Za-z]\\w*)*): \\S.* \\(line \\d+\\)$`,
  )

/** Refuses the file and checks each problem has the documented form; returns the problems. */
function problemsOf(name: string, text: string): { file: string; problems: string[] } {
  const file = write(name, text)
  const { problems } = refuse(file)
  expect(problems.length).toBeGreaterThan(0)
  for (const p of problems) expect(p).toMatch(problemLine(file))
  return { file, problems }
}

describe('the example topologies', () => {
  it('loads sites/lab.yaml with defaults filled in', () => {
    const file = join(sitesDir, 'lab.yaml')
    const { topology, baseDir } = loadTopology(file)
    expect(baseDir).toBe(sitesDir)
    expect(topology.cluster).toEqual({ name: 'lab' })
    expect(topology.quorum).toEqual({ model: 'local', dynamic: true })
    expect(topology.timing).toEqual({
      profile: 'default',
      sameSite: { heartbeatMs: 100, threshold: 10 },
      crossSite: { heartbeatMs: 100, threshold: 10 },
      fencing: {},
    })
    expect(topology.sites).toEqual([{ name: 'lab', nodes: [{ name: 'lab-1', votes: 1 }] }])
    expect(topology.witness).toBeUndefined()
  })

  it('loads sites/two-sites-witness.yaml: two sites of two nodes and a witness, 5 votes', () => {
    const file = join(sitesDir, 'two-sites-witness.yaml')
    const { topology, baseDir } = loadTopology(file)
    expect(baseDir).toBe(sitesDir)
    expect(topology.cluster).toEqual({ name: 'demo', secret: './demo.psk' })
    expect(topology.quorum).toEqual({ model: 'node-and-witness', dynamic: true })
    expect(topology.timing.crossSite).toEqual({ heartbeatMs: 100, threshold: 10 })
    // The fencing block spells out what the heartbeats imply.
    expect(fencingTiming({ ...topology, timing: { ...topology.timing, fencing: {} } })).toEqual({
      ...topology.timing.fencing,
      grantWindowMs: 300,
    })
    expect(topology.sites.map((s) => [s.name, s.nodes.map((n) => n.name)])).toEqual([
      ['atlanta', ['atl-1', 'atl-2']],
      ['phoenix', ['phx-1', 'phx-2']],
    ])
    expect(topology.sites[1]!.nodes[0]).toEqual({
      name: 'phx-1',
      address: '/ip4/127.0.0.1/tcp/7411',
      peerId: peer.phx1,
      votes: 1,
    })
    expect(topology.witness).toMatchObject({ name: 'w1', site: 'tiebreak', type: 'node', votes: 1 })
    const votes = topology.sites.flatMap((s) => s.nodes).reduce((sum, n) => sum + n.votes, 0)
    expect(votes + (topology.witness?.votes ?? 0)).toBe(5)
  })

  it('fills partial timing with the defaults', () => {
    const file = write(
      't.yaml',
      `${localFile()}timing:\n  sameSite: { heartbeatMs: 500 }\n  crossSite: { threshold: 30 }\n`,
    )
    const { topology } = loadTopology(file)
    expect(topology.timing.sameSite).toEqual({
      heartbeatMs: 500,
      threshold: timingDefaults.sameSite.threshold,
    })
    expect(topology.timing.crossSite).toEqual({ heartbeatMs: 100, threshold: 30 })
    const onlySameSite = loadTopology(
      write('t2.yaml', `${localFile()}timing:\n  sameSite: { threshold: 5 }\n`),
    )
    expect(onlySameSite.topology.timing).toEqual({
      profile: 'default',
      sameSite: { heartbeatMs: 100, threshold: 5 },
      crossSite: { heartbeatMs: 100, threshold: 10 },
      fencing: {},
    })
  })

  it('the fast profile: 5 beats to down, 1 s leases, a dead owner replaced after 1.5 s, the fencing rule kept', () => {
    const fast = loadTopology(write('fast.yaml', `${twoSites()}timing:\n  profile: fast\n`)).topology
    expect(fast.timing).toMatchObject({
      profile: 'fast',
      sameSite: { heartbeatMs: 100, threshold: 5 },
      crossSite: { heartbeatMs: 100, threshold: 5 },
    })
    const f = fencingTiming(fast)
    expect(f).toEqual({
      fenceAfterMs: 1000,
      stopTimeoutMs: 200,
      marginMs: 200,
      downAfterMs: 1500,
      grantWindowMs: 300,
    })
    expect(f.downAfterMs).toBeGreaterThan(f.fenceAfterMs + f.stopTimeoutMs + f.marginMs)
    expect(timingProblems(fast)).toEqual([])
    // A field the file gives wins over the profile's.
    const slower = loadTopology(
      write('fast2.yaml', `${twoSites()}timing:\n  profile: fast\n  crossSite: { threshold: 8 }\n`),
    ).topology
    expect(slower.timing.crossSite).toEqual({ heartbeatMs: 100, threshold: 8 })
    expect(fencingTiming(slower).fenceAfterMs).toBe(1600)
    // An unknown profile is named.
    const { problems } = problemsOf('slowest.yaml', `${twoSites()}timing:\n  profile: turbo\n`)
    expect(problems[0]).toMatch(/timing\.profile: expected one of default \| fast, got 'turbo'/)
  })

  it('the test fixtures themselves are valid', () => {
    expect(loadTopology(write('a.yaml', twoSites())).topology.sites).toHaveLength(2)
    expect(loadTopology(write('b.yaml', localFile())).topology.quorum.model).toBe('local')
  })
})

describe('broken topology files', () => {
  it('reports a missing field', () => {
    const text = [
      'cluster:',
      '  name: lab',
      'sites:',
      '  - name: lab',
      '    nodes:',
      '      - name: n1',
      '',
    ].join('\n')
    const { file, problems } = problemsOf('no-quorum.yaml', text)
    // A missing field points at its parent: here the top-level mapping on line 1.
    expect(problems).toEqual([`${file}: quorum: required field is missing (line 1)`])
  })

  it('reports a wrong type with the bad value, on the right line', () => {
    const { file, problems } = problemsOf(
      'votes.yaml',
      localFile(['      - name: lab-1', '        votes: "1"']),
    )
    expect(problems).toEqual([`${file}: sites[0].nodes[0].votes: expected number, got '1' (line 9)`])
  })

  it('refuses fencing timing that would let a group run twice, or fence everything in an election', () => {
    const timing = (fencing: string) =>
      `${localFile()}timing:\n  sameSite: { heartbeatMs: 100, threshold: 10 }\n  fencing: ${fencing}\n`
    const tooShort = problemsOf('fence.yaml', timing('{ fenceAfterMs: 1000 }'))
    expect(tooShort.problems).toEqual([
      expect.stringMatching(
        /timing\.fencing\.fenceAfterMs: 1000 ms is shorter than an election can take \(1\.5 × the 1000 ms election timeout \+ 2 heartbeats = 1700 ms\)/,
      ),
    ])
    const overlap = problemsOf(
      'down.yaml',
      timing('{ fenceAfterMs: 2000, stopTimeoutMs: 500, downAfterMs: 2700 }'),
    )
    expect(overlap.problems).toEqual([
      expect.stringMatching(
        /timing\.fencing\.downAfterMs: 2700 ms must exceed fenceAfterMs \+ stopTimeoutMs \+ marginMs = 2750 ms/,
      ),
    ])
    // Derived values always satisfy the rules.
    expect(loadTopology(write('ok.yaml', timing('{ stopTimeoutMs: 2000 }'))).topology.timing.fencing).toEqual(
      {
        stopTimeoutMs: 2000,
      },
    )
  })

  it('reports a duplicate node name across sites, pointing at the second one', () => {
    const { file, problems } = problemsOf('dup.yaml', twoSites({ phx2Name: 'atl-1' }))
    expect(problems).toEqual([
      `${file}: sites[1].nodes[1].name: duplicate node name 'atl-1' (first at sites[0].nodes[0].name) (line 15)`,
    ])
  })

  it('reports an unknown quorum model, listing the valid ones and the bad value', () => {
    const { file, problems } = problemsOf('model.yaml', localFile(undefined, ['  model: majority']))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toBe(
      `${file}: quorum.model: expected one of local | node-majority | node-and-witness | disk, got 'majority' (line 4)`,
    )
  })

  it('reports an unknown field (a typo) at its own line', () => {
    const { file, problems } = problemsOf(
      'typo.yaml',
      localFile(['      - name: lab-1', '        adress: /ip4/127.0.0.1/tcp/7401']),
    )
    expect(problems).toEqual([`${file}: sites[0].nodes[0].adress: unknown field (line 9)`])
  })

  it('reports every problem at once', () => {
    const { file, problems } = problemsOf(
      'many.yaml',
      localFile(['      - name: lab-1', '        votes: "1"', '        adress: x']),
    )
    expect(problems.sort()).toEqual(
      [
        `${file}: sites[0].nodes[0].adress: unknown field (line 10)`,
        `${file}: sites[0].nodes[0].votes: expected number, got '1' (line 9)`,
      ].sort(),
    )
  })

  it('reports a bad peer ID', () => {
    const { file, problems } = problemsOf('peer.yaml', twoSites({ phx1Peer: 'QmNotAPeerId' }))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(new RegExp(`^${escapeRe(file)}: sites\\[1\\]\\.nodes\\[0\\]\\.peerId: `))
    expect(problems[0]).toContain('expected a libp2p peer ID')
    expect(problems[0]).toMatch(/\(line 14\)$/)
  })

  it.each([
    ['not a multiaddr', 'localhost:7411', 'String multiaddr must start with "/"'],
    ['a multiaddr without TCP', '/ip4/127.0.0.1/udp/7411', null],
    ['a port over 65535', '/ip4/127.0.0.1/tcp/99999', 'Value must be smaller than or equal to 65535'],
    ['port 0', '/ip4/127.0.0.1/tcp/0', 'port must be 1-65535'],
    ['an IPv4 address out of range', '/ip4/999.1.1.1/tcp/7400', 'Invalid IPv4 address'],
    ['an IPv6 address that is not one', '/ip6/zz/tcp/7400', 'Invalid IPv6 address'],
    ['a host name that is not one', '/dns4/-bad-/tcp/7400', 'bad host name'],
    ['more than host and port', '/ip4/127.0.0.1/tcp/7411/ws', null],
  ])('reports a bad address: %s', (_name, address, why) => {
    const { file, problems } = problemsOf('addr.yaml', twoSites({ phx1Addr: address }))
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(
      new RegExp(
        `^${escapeRe(file)}: sites\\[1\\]\\.nodes\\[0\\]\\.address: expected a TCP multiaddr such as /ip4/10\\.0\\.0\\.5/tcp/7400`,
      ),
    )
    if (why !== null) expect(problems[0]).toContain(why)
    expect(problems[0]).toMatch(/\(line 13\)$/)
  })

  it('reports node-and-witness without a witness', () => {
    const { file, problems } = problemsOf('nowitness.yaml', twoSites({ witness: '' }))
    expect(problems).toEqual([`${file}: witness: required with quorum model node-and-witness (line 1)`])
  })

  it('reports a witness under a model that does not use one', () => {
    const text = twoSites().replace('model: node-and-witness', 'model: node-majority')
    const { file, problems } = problemsOf('extra-witness.yaml', text)
    expect(problems).toEqual([
      `${file}: witness: only used with quorum model node-and-witness, not node-majority (line 19)`,
    ])
  })

  it('reports quorum model local with two nodes', () => {
    const { file, problems } = problemsOf('local2.yaml', localFile(['      - name: n1', '      - name: n2']))
    expect(problems).toEqual([
      `${file}: sites: quorum model local runs exactly one node; this file lists 2 (line 6)`,
    ])
  })

  it('reports a witness named like a node', () => {
    const witness = [
      'witness:',
      '  name: atl-2',
      '  site: tiebreak',
      '  address: /ip4/127.0.0.1/tcp/7421',
      `  peerId: ${peer.w1}`,
    ]
    const { file, problems } = problemsOf('wname.yaml', twoSites({ witness: witness.join('\n') }))
    expect(problems).toEqual([`${file}: witness.name: 'atl-2' is already a node name (line 19)`])
  })

  it('reports addresses and peer IDs required by a multi-node model', () => {
    const text = localFile(['      - name: n1', '      - name: n2'], ['  model: node-majority'])
    const { file, problems } = problemsOf('missing-addr.yaml', text)
    expect(problems).toEqual([
      `${file}: sites[0].nodes[0].address: required with quorum model node-majority (line 8)`,
      `${file}: sites[0].nodes[0].peerId: required with quorum model node-majority (line 8)`,
      `${file}: sites[0].nodes[1].address: required with quorum model node-majority (line 9)`,
      `${file}: sites[0].nodes[1].peerId: required with quorum model node-majority (line 9)`,
    ])
  })

  it('reports a YAML syntax error as a TopologyError naming the file', () => {
    const file = write('syntax.yaml', 'cluster:\n  name: lab\nquorum:\n  model: [local\nsites:\n')
    const { problems } = refuse(file)
    expect(problems).toHaveLength(1)
    expect(problems[0]!.startsWith(`${file}: `)).toBe(true)
    expect(problems[0]).toContain('Flow sequence')
  })

  // With prettyErrors off the yaml library leaves `linePos` empty: the loader computes the line.
  it('reports the line of a YAML syntax error', () => {
    const file = write('syntax.yaml', 'cluster:\n  name: lab\nquorum:\n  model: [local\nsites:\n')
    const { problems } = refuse(file)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(new RegExp(`^${escapeRe(file)}: line 5, column 1: Flow sequence`))
  })

  // A duplicate key is refused (uniqueKeys: true) with its line too.
  it('reports the line of a duplicate key', () => {
    const file = write('dupkey.yaml', 'cluster:\n  name: lab\n  name: other\n')
    const { problems } = refuse(file)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/: line 3, column \d+: Map keys must be unique/)
  })

  it('reports a file that does not exist', () => {
    const file = join(dir, 'missing.yaml')
    const { problems } = refuse(file)
    expect(problems).toEqual([`${file}: cannot read: no such file`])
  })

  it.each([
    ['a YAML list', '- cluster\n- quorum\n'],
    ['a scalar', 'just words\n'],
    ['an empty file', ''],
  ])('reports %s instead of a mapping', (_name, text) => {
    const file = write('list.yaml', text)
    const { problems } = refuse(file)
    expect(problems).toEqual([`${file}: (top level): expected a mapping with cluster, quorum and sites`])
  })
})

describe('quorum.tieBreaker', () => {
  /** The two-site file with a tie-breaker (line 5) and optionally other quorum lines. */
  const withTieBreaker = (tieBreaker: string, quorum = ['  model: node-and-witness']) =>
    twoSites().replace('  model: node-and-witness', [...quorum, `  tieBreaker: ${tieBreaker}`].join('\n'))

  it('loads preferSite and lowerPriorityNode, and derives who gives up a vote first', () => {
    const site = loadTopology(write('site.yaml', withTieBreaker('{ preferSite: atlanta }'))).topology
    expect(site.quorum.tieBreaker).toEqual({ preferSite: 'atlanta' })
    expect(lowerQuorumPriority(site)).toEqual(['phx-2', 'phx-1'])
    const node = loadTopology(write('node.yaml', withTieBreaker('{ lowerPriorityNode: atl-1 }'))).topology
    expect(lowerQuorumPriority(node)).toEqual(['atl-1'])
    expect(lowerQuorumPriority(loadTopology(write('none.yaml', twoSites())).topology)).toEqual([])
  })

  it.each([
    [
      '{ preferSite: tiebreak }',
      "quorum.tieBreaker.preferSite: no site 'tiebreak' with nodes (sites: atlanta, phoenix)",
    ],
    ['{ lowerPriorityNode: atl-9 }', "quorum.tieBreaker.lowerPriorityNode: no node 'atl-9'"],
    ['{ lowerPriorityNode: w1 }', "quorum.tieBreaker.lowerPriorityNode: no node 'w1' (that is the witness)"],
    ['{}', 'quorum.tieBreaker: expected preferSite or lowerPriorityNode'],
    ['{ preferSite: Atlanta! }', 'quorum.tieBreaker.preferSite: expected a name'],
    ['{ site: atlanta }', 'quorum.tieBreaker.site: unknown field'],
  ])('refuses %s, naming the file, the field and the problem', (tieBreaker, problem) => {
    const { file, problems } = problemsOf('tb.yaml', withTieBreaker(tieBreaker))
    expect(problems[0]).toContain(`${file}: ${problem}`)
  })

  it('refuses both at once, and a tie-breaker that nothing would use', () => {
    const both = problemsOf('both.yaml', withTieBreaker('{ preferSite: atlanta, lowerPriorityNode: atl-1 }'))
    expect(both.problems).toEqual([
      `${both.file}: quorum.tieBreaker: set preferSite or lowerPriorityNode, not both (line 5)`,
    ])
    const off = problemsOf(
      'off.yaml',
      withTieBreaker('{ preferSite: atlanta }', ['  model: node-and-witness', '  dynamic: false']),
    )
    expect(off.problems).toEqual([
      `${off.file}: quorum.tieBreaker: used by dynamic quorum, which is off (quorum.dynamic: false): nothing would take a vote away (line 6)`,
    ])
  })
})

describe('formatPath', () => {
  it.each([
    [[], '(top level)'],
    [['quorum'], 'quorum'],
    [['quorum', 'model'], 'quorum.model'],
    [['sites', 1, 'nodes', 0, 'peerId'], 'sites[1].nodes[0].peerId'],
  ] as [(string | number)[], string][])('%j → %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected)
  })
})
