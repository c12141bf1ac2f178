/** The one node-state classification, as a table: the facts in, what status and placement read. */
import { describe, expect, it } from 'vitest'
import { classifyNode, type NodeFacts, type NodeState } from '../../src/membership/nodeState.ts'

const peer: NodeFacts = {
  self: false,
  seen: 'up',
  catchingUp: false,
  leaseEnded: false,
  paused: false,
  evicted: false,
}

const table: [string, Partial<NodeFacts>, NodeState][] = [
  ['a peer heard from', {}, { shown: 'up', present: true, placement: 'up' }],
  ['this node', { self: true, seen: undefined }, { shown: 'up', present: true, placement: 'up' }],
  [
    'a silent peer whose lease may hold',
    { seen: 'down' },
    { shown: 'down', present: false, placement: 'suspect' },
  ],
  [
    'a silent peer whose lease has ended',
    { seen: 'down', leaseEnded: true },
    { shown: 'down', present: false, placement: 'down' },
  ],
  [
    'a peer never heard (not watched)',
    { seen: undefined },
    { shown: 'down', present: false, placement: 'suspect' },
  ],
  [
    'a peer the detector has as joining',
    { seen: 'joining' },
    { shown: 'joining', present: false, placement: 'suspect' },
  ],
  ['a peer taking a snapshot', { catchingUp: true }, { shown: 'joining', present: false, placement: 'up' }],
  [
    'this node taking a snapshot',
    { self: true, catchingUp: true },
    { shown: 'joining', present: false, placement: 'up' },
  ],
  ['a paused peer that is up', { paused: true }, { shown: 'paused', present: true, placement: 'up' }],
  [
    'a paused peer that is down',
    { paused: true, seen: 'down' },
    { shown: 'down', present: false, placement: 'suspect' },
  ],
  ['an evicted peer still heard', { evicted: true }, { shown: 'evicted', present: true, placement: 'up' }],
  [
    'an evicted peer gone silent, lease ended',
    { evicted: true, seen: 'down', leaseEnded: true },
    { shown: 'evicted', present: false, placement: 'down' },
  ],
  [
    'a heard peer whose last grant is long past',
    { leaseEnded: true },
    { shown: 'up', present: true, placement: 'up' },
  ],
]

describe('classifyNode', () => {
  it.each(table)('%s', (_, facts, expected) => {
    expect(classifyNode({ ...peer, ...facts })).toEqual(expected)
  })
})
