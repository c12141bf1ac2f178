/**
 * Frames queued for one stream leave together: one write carries every frame queued in the same
 * turn (a Ready's appends and heartbeats to a peer), so each pays the muxer's header, the Noise
 * seal and the socket write once per batch rather than once per frame. The receiver's decoder
 * reads length-prefixed frames from any chunking, so a batch is just the frames back to back.
 */
import { assert } from '../errors/assert.ts'

/** At most this much per write (a bigger frame still goes, alone). */
export const frameBatchBytesMax = 256 * 1024

/** Takes frames off the head of `queue` up to `maxBytes` (always at least one) as one buffer. */
export function takeFrameBatch(queue: Uint8Array[], maxBytes = frameBatchBytesMax): Uint8Array {
  assert(queue.length > 0, 'a frame batch from an empty queue')
  const first = queue.shift()!
  if (queue.length === 0 || first.length + queue[0]!.length > maxBytes) return first
  const parts = [first]
  let bytes = first.length
  while (queue.length > 0 && bytes + queue[0]!.length <= maxBytes) {
    const next = queue.shift()!
    parts.push(next)
    bytes += next.length
  }
  const batch = new Uint8Array(bytes)
  let at = 0
  for (const p of parts) {
    batch.set(p, at)
    at += p.length
  }
  return batch
}
