import type { Stream } from '@libp2p/interface'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import * as lp from 'it-length-prefixed'
import { describe, expect, it } from 'vitest'
import {
  answerCalls,
  CallChannel,
  type CallStreamIo,
  callLimits,
  decodeCall,
  encodeCall,
} from '../../src/mesh/callStreams.ts'

/** One end of an in-memory duplex: what one end sends arrives at the other a turn later. */
class End extends EventTarget {
  status: 'open' | 'closed' | 'aborted' = 'open'
  other: End | null = null
  readonly sent: Uint8Array[] = []

  send(bytes: Uint8Array): boolean {
    if (this.status !== 'open') throw new Error('send on a closed stream')
    this.sent.push(bytes)
    const to = this.other
    queueMicrotask(() => {
      if (to === null || to.status !== 'open') return
      const e = new Event('message') as Event & { data: Uint8Array }
      e.data = bytes
      to.dispatchEvent(e)
    })
    return true
  }

  abort(_error: Error): void {
    if (this.status !== 'open') return
    this.status = 'aborted'
    this.dispatchEvent(new Event('close'))
    this.other?.abort(new Error('remote reset'))
  }
}

function pair(): [End, End] {
  const a = new End()
  const b = new End()
  a.other = b
  b.other = a
  return [a, b]
}

/** The mesh's framing, as in Mesh: a length prefix each way, bad framing aborts the stream. */
const io: CallStreamIo = {
  write: (stream, frame) => {
    stream.send(lp.encode.single(frame).subarray())
  },
  read: (stream, onFrame) => {
    const decoder = new LengthPrefixedDecoder()
    stream.addEventListener('message', (e) => {
      try {
        for (const f of decoder.decode((e as Event & { data: Uint8Array }).data)) onFrame(f.subarray())
      } catch (error) {
        stream.abort(error as Error)
      }
    })
  },
}

const text = (s: string) => new TextEncoder().encode(s)
const read = (b: Uint8Array) => new TextDecoder().decode(b)
const never = () => new AbortController().signal

/** A caller wired to a callee that answers with `answer`; counts the streams opened. */
function wired(answer: (payload: Uint8Array) => Promise<Uint8Array>) {
  const opened: End[] = []
  const channel = new CallChannel(
    'leader',
    async () => {
      const [mine, theirs] = pair()
      answerCalls(theirs as unknown as Stream, io, answer)
      opened.push(mine)
      return mine as unknown as Stream
    },
    io,
  )
  return { channel, opened }
}

describe('call frames', () => {
  it('carry an id, a kind and a payload, and name what is wrong with a bad one', () => {
    const f = encodeCall(0xfffffffe, 1, text('why'))
    const d = decodeCall(f)
    expect(d).toEqual({ id: 0xfffffffe, kind: 1, payload: text('why') })
    expect(decodeCall(f.subarray(0, 4))).toEqual({ problem: 'a call frame of 4 bytes is too short' })
    const bad = encodeCall(7, 0, text('x'))
    bad[4] = 9
    expect(decodeCall(bad)).toEqual({ problem: 'unknown call frame kind 9' })
    // A frame that is a view into a larger buffer decodes from its own offset.
    const inside = new Uint8Array(20)
    inside.set(encodeCall(42, 0, text('ok')), 3)
    expect(decodeCall(inside.subarray(3, 3 + 7))).toMatchObject({ id: 42, kind: 0 })
  })
})

describe('CallChannel and answerCalls', () => {
  it('send many requests over one stream and match answers that come back in any order', async () => {
    const { channel, opened } = wired(async (p) => {
      // Later requests answer first.
      await new Promise((r) => setTimeout(r, 50 - Number(read(p))))
      return text(`answer ${read(p)}`)
    })
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => channel.request(text(String(i)), never())),
    )
    expect(answers.map(read)).toEqual(Array.from({ length: 40 }, (_, i) => `answer ${i}`))
    expect(opened.length).toBe(1)
    expect(channel.inFlight).toBe(0)
  })

  it("passes on the callee's failure as a refusal of that request only", async () => {
    const { channel } = wired(async (p) => {
      if (read(p) === 'bad') throw new Error('the handler broke')
      return p
    })
    const [bad, good] = await Promise.allSettled([
      channel.request(text('bad'), never()),
      channel.request(text('good'), never()),
    ])
    expect(bad.status).toBe('rejected')
    expect((bad as PromiseRejectedResult).reason.message).toBe(
      'leader refused the request: the handler broke',
    )
    expect(good.status === 'fulfilled' && read(good.value)).toBe('good')
  })

  it('fails what is waiting when the stream closes, and opens a new stream for the next request', async () => {
    let hold = true
    const { channel, opened } = wired(async (p) => {
      while (hold) await new Promise((r) => setTimeout(r, 5))
      return p
    })
    const waiting = channel.request(text('a'), never())
    await new Promise((r) => setTimeout(r, 10))
    opened[0]!.abort(new Error('connection lost'))
    await expect(waiting).rejects.toThrow('the call stream to leader closed')
    hold = false
    expect(read(await channel.request(text('b'), never()))).toBe('b')
    expect(opened.length).toBe(2)
  })

  it('forgets a request that timed out; its late answer is dropped', async () => {
    let delay = 60
    const { channel } = wired(async (p) => {
      await new Promise((r) => setTimeout(r, delay))
      return p
    })
    await expect(channel.request(text('slow'), AbortSignal.timeout(10))).rejects.toThrow()
    expect(channel.inFlight).toBe(0)
    delay = 0
    expect(read(await channel.request(text('next'), never()))).toBe('next')
    await new Promise((r) => setTimeout(r, 80))
    expect(channel.inFlight).toBe(0)
  })

  it('refuses more than its limit of waiting requests, without closing the stream', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    const { channel, opened } = wired(async (p) => {
      await gate
      return p
    })
    const waiting = Array.from({ length: callLimits.inFlightMax }, (_, i) =>
      channel.request(text(String(i)), never()),
    )
    await new Promise((r) => setTimeout(r, 10))
    await expect(channel.request(text('one more'), never())).rejects.toThrow('are already waiting')
    release()
    expect((await Promise.all(waiting)).length).toBe(callLimits.inFlightMax)
    expect(opened.length).toBe(1)
  })

  it('a request whose write fails (the stream closed under it) fails and leaves nothing waiting', async () => {
    const { channel, opened } = wired(async (p) => p)
    expect(read(await channel.request(text('first'), never()))).toBe('first')
    // Closed for writing while still reported open: send throws, as libp2p's does.
    opened[0]!.send = () => {
      throw new Error('Cannot write to a stream that is closing')
    }
    await expect(channel.request(text('lost'), never())).rejects.toThrow('closing')
    expect(channel.inFlight).toBe(0)
  })

  it('a closed channel refuses new requests and fails the waiting ones', async () => {
    const { channel } = wired(() => new Promise(() => {}))
    const waiting = channel.request(text('a'), never())
    await new Promise((r) => setTimeout(r, 5))
    channel.close('membership changed')
    await expect(waiting).rejects.toThrow('membership changed')
    await expect(channel.request(text('b'), never())).rejects.toThrow('is closed')
  })
})

describe('the callee under hostile frames', () => {
  it('closes the stream on a frame it cannot read, answers nothing, and never throws', async () => {
    for (const frame of [new Uint8Array([1, 2]), encodeCall(3, 1, text('a refusal sent to the callee'))]) {
      const [mine, theirs] = pair()
      let asked = 0
      answerCalls(theirs as unknown as Stream, io, async (p) => {
        asked++
        return p
      })
      mine.send(lp.encode.single(frame).subarray())
      await new Promise((r) => setTimeout(r, 5))
      expect(theirs.status).toBe('aborted')
      expect(asked).toBe(0)
      expect(theirs.sent).toEqual([])
    }
  })

  it('refuses requests beyond its limit per stream and answers the rest', async () => {
    const [mine, theirs] = pair()
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    answerCalls(theirs as unknown as Stream, io, async (p) => {
      await gate
      return p
    })
    const answers: { id: number; kind: number }[] = []
    io.read(mine as unknown as Stream, (f) => {
      const d = decodeCall(f)
      if (!('problem' in d)) answers.push({ id: d.id, kind: d.kind })
    })
    for (let id = 1; id <= callLimits.inFlightMax + 3; id++)
      mine.send(lp.encode.single(encodeCall(id, 0, text('x'))).subarray())
    await new Promise((r) => setTimeout(r, 10))
    expect(answers.filter((a) => a.kind === 1).map((a) => a.id)).toEqual([
      callLimits.inFlightMax + 1,
      callLimits.inFlightMax + 2,
      callLimits.inFlightMax + 3,
    ])
    release()
    await new Promise((r) => setTimeout(r, 10))
    expect(answers.filter((a) => a.kind === 0).length).toBe(callLimits.inFlightMax)
    expect(theirs.status).toBe('open')
  })
})
