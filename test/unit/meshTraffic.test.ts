import { describe, expect, it } from 'vitest'
import { MeshTraffic } from '../../src/mesh/meshTraffic.ts'

describe('MeshTraffic', () => {
  it('counts frames by direction, protocol and kind', () => {
    const t = new MeshTraffic()
    t.note('out', 'heartbeat', 'ping')
    t.note('out', 'heartbeat', 'ping')
    t.note('in', 'heartbeat', 'ping')
    t.note('out', 'raft', 'heartbeat')
    expect(t.list()).toEqual(
      expect.arrayContaining([
        { direction: 'out', protocol: 'heartbeat', kind: 'ping', frames: 2 },
        { direction: 'in', protocol: 'heartbeat', kind: 'ping', frames: 1 },
        { direction: 'out', protocol: 'raft', kind: 'heartbeat', frames: 1 },
      ]),
    )
    expect(t.list()).toHaveLength(3)
  })

  it('hands out copies', () => {
    const t = new MeshTraffic()
    t.note('in', 'raft', 'append')
    t.list()[0]!.frames = 99
    expect(t.list()[0]!.frames).toBe(1)
  })
})
