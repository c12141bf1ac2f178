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
function topology(sites: Record<string, number[]>, witnessSite?: string) {
  const lines = [
    'cluster: { name: t }',
    `quorum: { model: ${witnessSite === undefined ? 'node-majority' : 'node-and-witness'} }`,
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
