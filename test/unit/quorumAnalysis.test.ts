/**
 * `geocluster validate`'s vote math (src/topology/quorumAnalysis.ts): the verdicts for
 * the five example topologies in sites/, and the warnings on topologies built to earn them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadTopology } from '../../src/topology/loadTopology.ts'
import { analyseQuorum } from '../../src/topology/quorumAnalysis.ts'

const sitesDir = resolve(import.meta.dirname, '../../sites')
const example = (file: string) => analyseQuorum(loadTopology(join(sitesDir, file)).topology)

const scratch = mkdtempSync(join(tmpdir(), 'gc-quorum-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

// Peer IDs from the example topologies (the loader checks their form).
const peerIds = [
  '12D3KooWHp9M1xVKEEDxJoaTrApWBiH3uqW5dMEvXWhxCPDtrGAe',
  '12D3KooWDJb8suaJozpQBZmMncQYYaPyvX6HErdcsXayVXN8PB13',
  '12D3KooWS4Z4jLMsfFvp19Be1PzQFQbf2KxqPtLNZUKhBNp1Cpeb',
  '12D3KooWBQxGzmktdLHupNoayFRZz7SeiqgDRTB4ttsjpgmGM7Qx',
  '12D3KooWCuuYh113qYiefTcyCQ9qxknsQAQf8x8fja81SEwzfcRk',
]

/** A node-majority/witness topology from `site: votes...` lines (nodes named site-1, site-2, ...). */
function topology(sites: Record<string, number[]>, witnessSite?: string, quorum = '') {
  const lines = [
    'cluster: { name: t }',
    `quorum: { model: ${witnessSite === undefined ? 'node-majority' : 'node-and-witness'}${quorum} }`,
    'sites:',
  ]
  let port = 7000
  for (const [site, votes] of Object.entries(sites)) {
    lines.push(`  - name: ${site}`, '    nodes:')
    for (const [i, v] of votes.entries()) {
      const peerId = peerIds[port - 7000]!
      lines.push(
        `      - { name: ${site}-${i + 1}, address: /ip4/127.0.0.1/tcp/${port++}, peerId: ${peerId}, votes: ${v} }`,
      )
    }
  }
  if (witnessSite !== undefined)
    lines.push(`witness: { name: w, site: ${witnessSite}, type: file-share, path: ./share }`)
  const file = join(scratch, `t${port}.yaml`)
  writeFileSync(file, `${lines.join('\n')}\n`)
  return analyseQuorum(loadTopology(file).topology)
}

describe('the example topologies', () => {
  it('two sites of two nodes and a witness: any one site, not either node site without the witness', () => {
    const a = example('two-sites-witness.yaml')
    expect(a).toMatchObject({ votesTotal: 5, votesNeeded: 3, warnings: [] })
    expect(a.siteLoss).toEqual({ atlanta: true, phoenix: true, tiebreak: true })
    expect(a.siteLossWithoutWitness).toEqual({ atlanta: false, phoenix: false })
    expect(a.survivableSiteSets).toEqual([['atlanta'], ['phoenix'], ['tiebreak']])
    expect(Object.values(a.singleFailures).every(Boolean)).toBe(true)
  })

  it('a node per site and a file-share witness: the same verdicts with 3 votes', () => {
    const a = example('two-sites-file-share.yaml')
    expect(a).toMatchObject({ votesTotal: 3, votesNeeded: 2, warnings: [] })
    expect(a.siteLoss).toEqual({ atlanta: true, phoenix: true, tiebreak: true })
    expect(a.siteLossWithoutWitness).toEqual({ atlanta: false, phoenix: false })
  })

  it('three sites, one node each: any one site, no two', () => {
    const a = example('three-sites-majority.yaml')
    expect(a).toMatchObject({ votesTotal: 3, votesNeeded: 2, siteLossWithoutWitness: null, warnings: [] })
    expect(a.survivableSiteSets).toEqual([['east'], ['west'], ['south']])
  })

  it('the lab: nothing can be lost', () => {
    const a = example('lab.yaml')
    expect(a).toMatchObject({ model: 'local', votesTotal: 1, siteLoss: { lab: false } })
    expect(a.singleFailures).toEqual({ 'lab-1': false })
  })

  it('the quorum disk: any node but the last, never the disk (said as a warning)', () => {
    const a = example('disk-three-nodes.yaml')
    expect(a).toMatchObject({ model: 'disk', votesTotal: 1, votesNeeded: 1, siteLoss: { dc1: false } })
    expect(a.singleFailures).toEqual({ n1: true, n2: true, n3: true })
    expect(a.warnings).toEqual([expect.stringMatching(/quorum disk is the only vote/)])
  })
})

describe('warnings', () => {
  it('even votes and no witness: a split into halves stops both', () => {
    const a = topology({ a: [1, 1], b: [1, 1] })
    expect(a.warnings).toContainEqual(expect.stringMatching(/^4 votes and no witness/))
    expect(a.siteLoss).toEqual({ a: false, b: false })
    expect(a.warnings).toContainEqual('no single site can be lost: every site is needed for quorum')
  })

  it('a majority inside one site', () => {
    const a = topology({ main: [1, 1, 1], backup: [1, 1] })
    expect(a.warnings).toEqual([expect.stringMatching(/^site main holds 3 of 5 votes, a majority by itself/)])
    expect(a.siteLoss).toEqual({ main: false, backup: true })
  })

  it('a witness in a site with nodes', () => {
    const a = topology({ a: [1], b: [1] }, 'a')
    expect(a.warnings).toContainEqual(
      expect.stringMatching(/^the witness w is at site a with nodes: losing that site loses its vote too/),
    )
    expect(a.siteLoss).toEqual({ a: false, b: true })
  })

  it('weights count: a node with 0 votes changes nothing when lost', () => {
    const a = topology({ a: [1, 0], b: [1], c: [1] })
    expect(a.singleFailures).toMatchObject({ 'a-2': true })
    expect(a.votesTotal).toBe(3)
  })
})

describe('even splits: who keeps quorum when the votes split 50/50 and no witness votes', () => {
  it('the example: 2+2 after the witness was lost, decided today by node names', () => {
    const [split, ...more] = example('two-sites-witness.yaml').evenSplits
    expect(more).toEqual([])
    expect(split).toMatchObject({
      sides: [['atlanta'], ['phoenix']],
      votes: [2, 2],
      witness: 'lost',
      survivor: ['atlanta'],
      decidedBy: 'node-names',
    })
    expect(example('three-sites-majority.yaml').evenSplits).toEqual([])
    expect(example('disk-three-nodes.yaml').evenSplits).toEqual([])
  })

  it('tieBreaker.preferSite: that site keeps quorum, said in one line', () => {
    const a = topology({ a: [1, 1], b: [1, 1] }, undefined, ', tieBreaker: { preferSite: b }')
    expect(a.evenSplits).toEqual([
      {
        sides: [['a'], ['b']],
        votes: [2, 2],
        witness: 'none',
        survivor: ['b'],
        decidedBy: 'tieBreaker.preferSite',
        text: 'a 2+2 split (site a | site b) with no witness: site b keeps quorum (tieBreaker.preferSite b)',
      },
    ])
    // The tie-breaker answers the even-votes warning.
    expect(a.warnings.filter((w) => w.startsWith('4 votes and no witness'))).toEqual([])
  })

  it('tieBreaker.lowerPriorityNode: the other side keeps quorum, whoever leads', () => {
    const a = topology({ a: [1, 1], b: [1, 1] }, undefined, ', tieBreaker: { lowerPriorityNode: a-1 }')
    expect(a.evenSplits).toMatchObject([{ survivor: ['b'], decidedBy: 'tieBreaker.lowerPriorityNode' }])
    expect(a.evenSplits[0]!.text).toMatch(/: site b keeps quorum \(tieBreaker\.lowerPriorityNode a-1\)$/)
  })

  it('one node per site without a tie-breaker: it depends on who leads; with one, it does not', () => {
    const plain = topology({ a: [1], b: [1] })
    expect(plain.evenSplits).toMatchObject([{ survivor: null, decidedBy: 'leader' }])
    expect(plain.evenSplits[0]!.text).toMatch(
      /depends on which node leads at the time; set quorum\.tieBreaker/,
    )
    const chosen = topology({ a: [1], b: [1] }, undefined, ', tieBreaker: { preferSite: b }')
    expect(chosen.evenSplits).toMatchObject([{ survivor: ['b'], decidedBy: 'tieBreaker.preferSite' }])
  })

  it('sides of several sites, and static quorum where neither side survives', () => {
    const a = topology({ a: [1, 1], b: [1], c: [1] }, undefined, ', tieBreaker: { preferSite: c }')
    expect(a.evenSplits).toMatchObject([{ sides: [['a'], ['b', 'c']], survivor: ['b', 'c'] }])
    expect(a.evenSplits[0]!.text).toBe(
      'a 2+2 split (site a | sites b + c) with no witness: sites b + c keep quorum (tieBreaker.preferSite c)',
    )
    expect(a.warnings).toEqual([])
    // Four sites: no single vote to take away serves every split; validate says so.
    const four = topology({ a: [1], b: [1], c: [1], d: [1] }, undefined, ', tieBreaker: { preferSite: c }')
    const against = four.evenSplits.filter((s) => !(s.survivor ?? []).includes('c'))
    expect(against.length).toBeGreaterThan(0)
    expect(four.warnings).toContainEqual(
      expect.stringMatching(/^tieBreaker\.preferSite c does not decide a \d\+\d split \(/),
    )
    const fixed = topology({ a: [1, 1], b: [1, 1] }, undefined, ', dynamic: false')
    expect(fixed.evenSplits).toMatchObject([{ survivor: null, decidedBy: 'nobody' }])
    expect(fixed.evenSplits[0]!.text).toMatch(/: neither side keeps quorum \(quorum\.dynamic is false\)$/)
  })
})
