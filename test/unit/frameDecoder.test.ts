import fc from 'fast-check'
import * as lp from 'it-length-prefixed'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { FrameDecoder } from '../../src/mesh/frameDecoder.ts'

const limits = { frameBytesMax: 1024, bufferBytesMax: 4096 }
const encode = (frame: Uint8Array) => lp.encode.single(frame).subarray()
const joined = (...parts: Uint8Array[]) => new Uint8ArrayList(...parts).subarray()
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

describe('FrameDecoder', () => {
  it('yields every whole frame a chunk holds, in order', () => {
    const d = new FrameDecoder(limits)
    const chunk = joined(encode(bytes(3, 1)), encode(bytes(200, 2)), encode(bytes(1, 3)))
    expect([...d.decode(chunk)]).toEqual([bytes(3, 1), bytes(200, 2), bytes(1, 3)])
  })

  it('waits for the rest of a frame, and of a length prefix, split across chunks', () => {
    const d = new FrameDecoder(limits)
    // 200 needs a two-byte prefix: the first chunk ends inside it.
    const wire = joined(encode(bytes(200, 9)), encode(bytes(2, 4)))
    expect([...d.decode(wire.subarray(0, 1))]).toEqual([])
    expect([...d.decode(wire.subarray(1, 100))]).toEqual([])
    expect([...d.decode(wire.subarray(100, 203))]).toEqual([bytes(200, 9)])
    expect([...d.decode(wire.subarray(203))]).toEqual([bytes(2, 4)])
  })

  it('takes a list of chunks as one', () => {
    const d = new FrameDecoder(limits)
    const wire = encode(bytes(10, 5))
    expect([...d.decode(new Uint8ArrayList(wire.subarray(0, 4), wire.subarray(4)))]).toEqual([bytes(10, 5)])
  })

  it('skips empty frames', () => {
    const d = new FrameDecoder(limits)
    expect([...d.decode(joined(encode(new Uint8Array(0)), encode(bytes(1, 1))))]).toEqual([bytes(1, 1)])
  })

  it('refuses a frame over the limit before it arrives, and a buffer over its own', () => {
    expect(() => [...new FrameDecoder(limits).decode(encode(bytes(1025, 0)).subarray(0, 2))]).toThrow(
      /over the limit/,
    )
    const d = new FrameDecoder({ frameBytesMax: 1024, bufferBytesMax: 100 })
    expect(() => [...d.decode(encode(bytes(500, 0)).subarray(0, 101))]).toThrow(/over the limit/)
    expect(() => [...new FrameDecoder(limits).decode(bytes(9, 0xff))]).toThrow(/prefix too long/)
  })

  it('decodes what it-length-prefixed encodes, however the bytes are cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(400), { maxLength: 10 }),
        (frames, cuts) => {
          const wire = joined(...frames.map(encode))
          const points = [...new Set([0, ...cuts.map((c) => c % (wire.length + 1)), wire.length])].sort(
            (a, b) => a - b,
          )
          const d = new FrameDecoder({ frameBytesMax: 1024, bufferBytesMax: 1 << 20 })
          const out: Uint8Array[] = []
          for (let i = 1; i < points.length; i++)
            out.push(...d.decode(wire.subarray(points[i - 1], points[i])))
          expect(out).toEqual(frames)
        },
      ),
    )
  })
})
