import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import { describe, expect, it } from 'vitest'
import { sendWindowUpdatesAtHalfWindow } from '../../src/mesh/yamuxWindowUpdates.ts'

/** A yamux stream's window bookkeeping, with the frames it would send recorded. */
function stream(state: StreamState, recvWindow: number, recvWindowCapacity: number) {
  const frames: { type: number; flag: number; length: number }[] = []
  const s = Object.create(YamuxStream.prototype) as YamuxStream
  Object.assign(s, {
    state,
    recvWindow,
    recvWindowCapacity,
    maxStreamWindowSize: recvWindow,
    epochStart: 0,
    streamId: 1,
    getRTT: () => -1,
    sendFrame: (header: { type: number; flag: number; length: number }) => frames.push(header),
  })
  return { s, frames }
}

describe('yamux window updates at half the window', () => {
  sendWindowUpdatesAtHalfWindow()

  it('sends nothing while less than half of the window is used', () => {
    const { s, frames } = stream(StreamState.Established, 1000, 501)
    s.sendWindowUpdate()
    expect(frames).toEqual([])
  })

  it('tops the window up once half of it is used', () => {
    const { s, frames } = stream(StreamState.Established, 1000, 500)
    s.sendWindowUpdate()
    expect(frames).toEqual([expect.objectContaining({ flag: 0, length: 500 })])
  })

  it('still answers at once when a flag must go (a stream being opened)', () => {
    const { s, frames } = stream(StreamState.SYNReceived, 1000, 990)
    s.sendWindowUpdate()
    expect(frames).toHaveLength(1)
    expect(frames[0]!.flag).not.toBe(0)
  })
})
