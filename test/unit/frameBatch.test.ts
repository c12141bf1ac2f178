import { describe, expect, it } from 'vitest'
import { takeFrameBatch } from '../../src/mesh/frameBatch.ts'

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

describe('takeFrameBatch', () => {
  it('joins the queued frames in order into one buffer', () => {
    const queue = [bytes(3, 1), bytes(2, 2), bytes(1, 3)]
    expect([...takeFrameBatch(queue, 100)]).toEqual([1, 1, 1, 2, 2, 3])
    expect(queue).toEqual([])
  })

  it('stops before the frame that would pass the bound, and leaves it queued', () => {
    const queue = [bytes(4, 1), bytes(4, 2), bytes(4, 3)]
    expect([...takeFrameBatch(queue, 9)]).toEqual([1, 1, 1, 1, 2, 2, 2, 2])
    expect(queue).toEqual([bytes(4, 3)])
  })

  it('sends a frame larger than the bound alone, as it is', () => {
    const big = bytes(10, 7)
    const queue = [big, bytes(1, 1)]
    expect(takeFrameBatch(queue, 4)).toBe(big)
    expect(queue).toHaveLength(1)
  })

  it('refuses an empty queue', () => {
    expect(() => takeFrameBatch([])).toThrow(/invariant/)
  })
})
