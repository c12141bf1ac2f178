/**
 * The cloud witness's turn (quorum/cloud/witnessTurn.ts) without a server: given the blob as
 * read (absent, or a body and its ETag) and a member's messages, what it writes, under which
 * condition, and what it answers. A small conditional store below plays the blob's one rule —
 * a write lands only on the version it was computed from — so interleavings of members can be
 * laid out step by step.
 */
import { describe, expect, it } from 'vitest'
import type { EntryId, Message } from '../../src/consensus/types.ts'
import {
  decodeWitnessBlob,
  encodeWitnessBlob,
  witnessBlobFormat,
} from '../../src/quorum/cloud/witnessBlob.ts'
import {
  type WitnessBlobCondition,
  type WitnessBlobRead,
  type WitnessTurnOptions,
  witnessTurn,
} from '../../src/quorum/cloud/witnessTurn.ts'

const owner = { cluster: 'geo', witness: 'w1' }
/** A member's turn options: by default it has seen no live leader's stamp, and beats are not due. */
const turnOf = (self: string, over: Partial<WitnessTurnOptions> = {}): WitnessTurnOptions => ({
  ...owner,
  self,
  electionTicks: 10,
  inLease: () => false,
  beatDue: false,
  ...over,
})
const id = (term: number, index: number): EntryId => ({ term, index })

function vote(from: string, term: number, last: EntryId, pre = false): Message {
  return { type: pre ? 'pre-vote' : 'vote', from, to: 'w1', term, epoch: 0, last, transfer: false }
}

function append(from: string, term: number, mark: EntryId): Message {
  return { type: 'witness-append', from, to: 'w1', term, epoch: 0, mark, ctx: null, sentTick: 7 }
}

/** One blob with ETags: writes land only on the version read (If-Match / If-None-Match: *). */
class ConditionalBlob {
  private version = 0
  private body: string | null = null

  read(): WitnessBlobRead {
    return this.body === null
      ? { kind: 'absent' }
      : { kind: 'present', etag: `"v${this.version}"`, body: this.body }
  }

  write(body: string, condition: WitnessBlobCondition): boolean {
    const holds =
      'ifMatch' in condition
        ? this.body !== null && condition.ifMatch === `"v${this.version}"`
        : this.body === null
    if (!holds) return false
    this.body = body
    this.version++
    return true
  }

  doc() {
    const r = this.read()
    if (r.kind === 'absent') return null
    const d = decodeWitnessBlob(r.body, owner)
    if (!d.ok) throw new Error(d.problem)
    return d.doc
  }

  state() {
    return this.doc()?.state ?? null
  }
}

/** A member's whole turn against the blob: read, decide, write; again on a lost write. */
function takeTurn(
  blob: ConditionalBlob,
  self: string,
  messages: Message[],
  over: Partial<WitnessTurnOptions> = {},
): Message[] {
  for (let attempt = 0; attempt < 5; attempt++) {
    const t = witnessTurn(blob.read(), messages, turnOf(self, over))
    if (!t.ok) throw new Error(t.problem)
    if (t.write === null || blob.write(t.write.body, t.write.condition)) return t.replies
  }
  throw new Error('no turn in five attempts')
}

const granted = (replies: Message[]) =>
  replies.some((r) => r.type === 'vote-resp' && r.granted) ? 'granted' : 'refused'

describe('cloud witness turn', () => {
  it('a first vote creates the blob (If-None-Match: *) and is answered after the write', () => {
    const t = witnessTurn({ kind: 'absent' }, [vote('a', 1, id(0, 0))], turnOf('a'))
    expect(t.ok).toBe(true)
    if (!t.ok) return
    expect(t.write?.condition).toEqual({ ifNoneMatch: '*' })
    expect(t.replies).toEqual([
      expect.objectContaining({ type: 'vote-resp', from: 'w1', to: 'a', term: 1, granted: true }),
    ])
    const d = decodeWitnessBlob(t.write!.body, owner)
    expect(d.ok && d.doc.state).toMatchObject({ term: 1, vote: 'a', mark: id(0, 0) })
  })

  it('a later write is conditioned on the ETag read', () => {
    const blob = new ConditionalBlob()
    takeTurn(blob, 'a', [vote('a', 1, id(0, 0))])
    const read = blob.read()
    const t = witnessTurn(read, [append('a', 1, id(1, 5))], turnOf('a'))
    expect(t.ok && t.write?.condition).toEqual({ ifMatch: '"v1"' })
  })

  it('two candidates racing in one term: both read "no vote", exactly one write lands, the other is refused', () => {
    const blob = new ConditionalBlob()
    const before = blob.read()
    const ta = witnessTurn(before, [vote('a', 3, id(1, 4))], turnOf('a'))
    const tb = witnessTurn(before, [vote('b', 3, id(1, 4))], turnOf('b'))
    // Each would win alone...
    expect(ta.ok && granted(ta.replies)).toBe('granted')
    expect(tb.ok && granted(tb.replies)).toBe('granted')
    if (!ta.ok || !tb.ok) return
    // ...but only the first write lands; the second answers nobody and decides again.
    expect(blob.write(ta.write!.body, ta.write!.condition)).toBe(true)
    expect(blob.write(tb.write!.body, tb.write!.condition)).toBe(false)
    const again = witnessTurn(blob.read(), [vote('b', 3, id(1, 4))], turnOf('b'))
    expect(again.ok && again.write).toBeNull()
    expect(again.ok && granted(again.replies)).toBe('refused')
    expect(blob.state()).toMatchObject({ term: 3, vote: 'a' })
  })

  it('many members racing, in any order: one vote per term', () => {
    for (let round = 0; round < 20; round++) {
      const blob = new ConditionalBlob()
      const members = ['a', 'b', 'c', 'd']
      let winners = 0
      // Everyone reads first, then they write in a rotating order; losers take their turn again.
      const reads = members.map((m) => witnessTurn(blob.read(), [vote(m, 2, id(1, 1))], turnOf(m)))
      const order = members.map((_, i) => (i + round) % members.length)
      for (const i of order) {
        const t = reads[i]!
        if (!t.ok) throw new Error(t.problem)
        const replies = blob.write(t.write!.body, t.write!.condition)
          ? t.replies
          : takeTurn(blob, members[i]!, [vote(members[i]!, 2, id(1, 1))])
        if (granted(replies) === 'granted') winners++
      }
      expect(winners).toBe(1)
    }
  })

  it('a candidate whose log is behind W does not get the vote; one at least as far does', () => {
    const blob = new ConditionalBlob()
    takeTurn(blob, 'a', [vote('a', 2, id(1, 1))])
    takeTurn(blob, 'a', [append('a', 2, id(2, 10))])
    expect(blob.state()?.mark).toEqual(id(2, 10))
    expect(granted(takeTurn(blob, 'b', [vote('b', 3, id(2, 9))]))).toBe('refused')
    expect(granted(takeTurn(blob, 'b', [vote('b', 4, id(1, 50))]))).toBe('refused')
    expect(granted(takeTurn(blob, 'b', [vote('b', 5, id(2, 10))]))).toBe('granted')
  })

  it('W never decreases, and an append from a deposed leader is answered with the newer term (and stamps nothing)', () => {
    const blob = new ConditionalBlob()
    takeTurn(blob, 'a', [vote('a', 2, id(1, 1))])
    takeTurn(blob, 'a', [append('a', 2, id(2, 10))])
    const replies = takeTurn(blob, 'a', [append('a', 2, id(2, 4))])
    expect(replies).toEqual([expect.objectContaining({ type: 'witness-resp', mark: id(2, 10), sentTick: 7 })])
    expect(blob.state()?.mark).toEqual(id(2, 10))
    takeTurn(blob, 'b', [vote('b', 3, id(2, 10))])
    const stale = takeTurn(blob, 'a', [append('a', 2, id(2, 11))])
    expect(stale).toEqual([expect.objectContaining({ type: 'witness-resp', term: 3, mark: id(2, 10) })])
    expect(blob.state()).toMatchObject({ term: 3, vote: 'b', mark: id(2, 10) })
    expect(blob.doc()?.heard).toEqual({ leader: 'a', term: 2, beat: 1 })
  })

  it('a turn that changes nothing writes nothing (a pre-vote, a repeated vote)', () => {
    const blob = new ConditionalBlob()
    takeTurn(blob, 'a', [vote('a', 2, id(1, 1))])
    const pre = witnessTurn(blob.read(), [vote('b', 3, id(1, 1), true)], turnOf('b'))
    expect(pre.ok && pre.write).toBeNull()
    expect(pre.ok && pre.replies).toEqual([expect.objectContaining({ type: 'pre-vote-resp', granted: true })])
    // The vote a lost answer carried is given again to the same candidate, without a write.
    const repeat = witnessTurn(blob.read(), [vote('a', 2, id(1, 1))], turnOf('a'))
    expect(repeat.ok && repeat.write).toBeNull()
    expect(repeat.ok && granted(repeat.replies)).toBe('granted')
  })

  it("the leader stamps the blob (a new term at once, then when a beat is due); a live leader's stamp keeps other candidates away", () => {
    const blob = new ConditionalBlob()
    takeTurn(blob, 'a', [vote('a', 2, id(1, 1))])
    takeTurn(blob, 'a', [append('a', 2, id(1, 1))])
    expect(blob.doc()?.heard).toEqual({ leader: 'a', term: 2, beat: 1 })
    // A heartbeat with nothing new writes nothing until a beat is due.
    expect(witnessTurn(blob.read(), [append('a', 2, id(1, 1))], turnOf('a')).ok).toBe(true)
    const idle = witnessTurn(blob.read(), [append('a', 2, id(1, 1))], turnOf('a'))
    expect(idle.ok && idle.write).toBeNull()
    takeTurn(blob, 'a', [append('a', 2, id(1, 1))], { beatDue: true })
    expect(blob.doc()?.heard).toEqual({ leader: 'a', term: 2, beat: 2 })
    // b, cut off from a, sees a's stamp change: neither its pre-vote nor its vote is answered.
    const seen: unknown[] = []
    const alive = {
      inLease: (s: unknown) => {
        seen.push(s)
        return true
      },
    }
    expect(takeTurn(blob, 'b', [vote('b', 3, id(1, 1), true)], alive)).toEqual([])
    expect(takeTurn(blob, 'b', [vote('b', 3, id(1, 1))], alive)).toEqual([])
    expect(seen[0]).toEqual({ leader: 'a', term: 2, beat: 2 })
    expect(blob.state()).toMatchObject({ term: 2, vote: 'a' })
    // Once the stamp has stood still past the window, b gets the vote; a's stale stamp stays for people.
    expect(granted(takeTurn(blob, 'b', [vote('b', 3, id(1, 1))]))).toBe('granted')
    expect(blob.doc()).toMatchObject({ state: { term: 3, vote: 'b' }, heard: { leader: 'a', term: 2 } })
    // A stamp of an older term keeps nobody away; a hand-over (transfer) is never kept away.
    expect(granted(takeTurn(blob, 'c', [vote('c', 4, id(1, 1))], alive))).toBe('granted')
    const transfer = { ...vote('d', 5, id(1, 1)), transfer: true }
    takeTurn(blob, 'c', [append('c', 4, id(1, 1))])
    expect(granted(takeTurn(blob, 'd', [transfer], alive))).toBe('granted')
  })

  it('acts only on messages from the member taking the turn, to this witness', () => {
    const t = witnessTurn(
      { kind: 'absent' },
      [vote('b', 1, id(0, 0)), { ...vote('a', 1, id(0, 0)), to: 'w2' }],
      turnOf('a'),
    )
    expect(t.ok && t.write).toBeNull()
    expect(t.ok && t.replies).toEqual([])
  })

  it('a blob with garbage in it is refused with a reason, never taken for a blank witness', () => {
    const good = encodeWitnessBlob({
      format: witnessBlobFormat,
      ...owner,
      writer: 'a',
      writes: 1,
      state: { term: 2, vote: 'a', commit: 0, mark: id(2, 3) },
    })
    const cases: [string, RegExp][] = [
      ['', /not JSON/],
      ['{"term": 5', /not JSON/],
      ['[]', /not a geocluster witness document/],
      ['null', /not a geocluster witness document/],
      [good.replace('"term": 2', '"term": -1'), /state\.term/],
      [good.replace('"term": 2', '"term": 1e300'), /state\.term/],
      [good.replace('"vote": "a"', '"vote": 7'), /state\.vote/],
      [good.replace(witnessBlobFormat, 'geocluster-witness/9'), /format/],
      [good.replace('"cluster": "geo"', '"cluster": "other"'), /cluster other, not w1 of geo/],
      [good.replace('"writes": 1', '"writes": 1, "extra": true'), /extra/],
      ['x'.repeat(20_000), /more than a witness blob/],
    ]
    for (const [body, problem] of cases) {
      const t = witnessTurn({ kind: 'present', etag: '"v1"', body }, [vote('b', 9, id(9, 9))], turnOf('b'))
      expect(t.ok, body.slice(0, 40)).toBe(false)
      if (!t.ok) expect(t.problem).toMatch(problem)
    }
    const t = witnessTurn(
      { kind: 'present', etag: '"v1"', body: good },
      [vote('b', 9, id(9, 9))],
      turnOf('b'),
    )
    expect(t.ok && granted(t.replies)).toBe('granted')
  })
})
