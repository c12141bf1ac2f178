import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { checkLinearizable, type HistoryOp } from '../sim/linearizability.ts'

// ---- building histories ---------------------------------------------------------------------------------

/** Small builder: times are explicit; `ret: undefined` means the call never returned. */
class History {
  readonly ops: HistoryOp[] = []

  write(
    key: string,
    value: string,
    inv: number,
    ret: number | undefined,
    extra: Partial<HistoryOp> = {},
  ): HistoryOp {
    return this.add({ op: { kind: 'write', key, value }, invokedAt: inv, returnedAt: ret, ...extra })
  }

  read(
    key: string,
    result: string | null,
    inv: number,
    ret: number | undefined,
    extra: Partial<HistoryOp> = {},
  ): HistoryOp {
    return this.add({
      op: { kind: 'read', key },
      invokedAt: inv,
      ...(ret === undefined ? {} : { returnedAt: ret, result }),
      ...extra,
    })
  }

  private add(partial: Omit<HistoryOp, 'id' | 'client'> & Partial<HistoryOp>): HistoryOp {
    const op: HistoryOp = { id: this.ops.length + 1, client: this.ops.length % 4, ...partial }
    if (op.returnedAt === undefined) delete op.returnedAt
    this.ops.push(op)
    return op
  }
}

const check = (h: History | HistoryOp[], stateBudget?: number) =>
  checkLinearizable(h instanceof History ? h.ops : h, stateBudget === undefined ? undefined : { stateBudget })

const ids = (ops: HistoryOp[] | undefined) => (ops ?? []).map((o) => o.id).sort((a, b) => a - b)

// ---- an independent oracle: try every order ------------------------------------------------------------

/**
 * Exhaustive search over all orders that respect real time (memoized on the set placed and the value);
 * writes that never returned may be left out.
 */
function bruteForceLinearizable(history: HistoryOp[]): boolean {
  const keys = new Set(history.map((h) => h.op.key))
  for (const key of keys) {
    const ops = history.filter(
      (h) => h.op.key === key && !h.failed && (h.returnedAt !== undefined || h.op.kind === 'write'),
    )
    const mustPlace = ops.filter((o) => o.returnedAt !== undefined).length
    const placed = new Set<HistoryOp>()
    const failed = new Set<string>()
    const search = (value: string | null, placedReturned: number): boolean => {
      if (placedReturned === mustPlace) return true
      const state = `${ops.map((o) => (placed.has(o) ? 1 : 0)).join('')}:${value}`
      if (failed.has(state)) return false
      for (const o of ops) {
        if (placed.has(o)) continue
        // Every op that returned before o was invoked must already be placed.
        const blocked = ops.some(
          (p) => !placed.has(p) && p !== o && p.returnedAt !== undefined && p.returnedAt < o.invokedAt,
        )
        if (blocked) continue
        if (o.op.kind === 'read' && o.result !== value) continue
        placed.add(o)
        const next = o.op.kind === 'write' ? o.op.value : value
        const found = search(next, placedReturned + (o.returnedAt === undefined ? 0 : 1))
        placed.delete(o)
        if (found) return true
      }
      failed.add(state)
      return false
    }
    if (!search(null, 0)) return false
  }
  return true
}

// ---- generating histories by running a real register ---------------------------------------------------

interface Spec {
  key: number
  write: boolean
  value: number
  before: number
  after: number
  outcome: 'ok' | 'lost' | 'failed'
  lostTookEffect: boolean
}

const specArb = (keys: number, values: number): fc.Arbitrary<Spec> =>
  fc.record({
    key: fc.nat(keys - 1),
    write: fc.boolean(),
    value: fc.nat(values - 1),
    before: fc.nat(40),
    after: fc.nat(40),
    outcome: fc.constantFrom<Spec['outcome']>('ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'lost', 'failed'),
    lostTookEffect: fc.boolean(),
  })

/**
 * Op i takes effect at time 10*i (its linearization point) and its interval is built around that point,
 * so neighbours overlap or not at random. Reads return what the register holds at their point; a call
 * that never returned took effect or not at random; a failed call had no effect.
 */
function execute(specs: Spec[]): HistoryOp[] {
  const register = new Map<string, string>()
  return specs.map((s, i) => {
    const point = 10 * i + 100
    const key = `k${s.key}`
    const base = { id: i + 1, client: i % 5, invokedAt: point - s.before }
    const returnedAt = point + s.after
    if (s.write) {
      const value = `v${s.value}`
      const op = { ...base, op: { kind: 'write' as const, key, value } }
      if (s.outcome === 'failed') return { ...op, returnedAt, failed: true }
      if (s.outcome === 'lost') {
        if (s.lostTookEffect) register.set(key, value)
        return op
      }
      register.set(key, value)
      return { ...op, returnedAt }
    }
    const op = { ...base, op: { kind: 'read' as const, key } }
    if (s.outcome === 'failed') return { ...op, returnedAt, failed: true }
    if (s.outcome === 'lost') return op
    return { ...op, returnedAt, result: register.get(key) ?? null }
  })
}

/** Arbitrary small histories, not built from a register, for comparison with brute force. */
const arbitraryHistory = fc
  .array(
    fc.record({
      key: fc.constantFrom('x', 'y'),
      write: fc.boolean(),
      value: fc.constantFrom('a', 'b'),
      result: fc.constantFrom(null, 'a', 'b'),
      invokedAt: fc.nat(30),
      length: fc.nat(12),
      returned: fc.constantFrom(true, true, true, true, false),
      failed: fc.constantFrom(false, false, false, false, true),
    }),
    { maxLength: 8 },
  )
  .map((rows) =>
    rows.map((r, i): HistoryOp => {
      const base: HistoryOp = {
        id: i + 1,
        client: i,
        op: r.write ? { kind: 'write', key: r.key, value: r.value } : { kind: 'read', key: r.key },
        invokedAt: r.invokedAt,
      }
      if (!r.returned && !r.failed) return base
      return {
        ...base,
        returnedAt: r.invokedAt + r.length,
        ...(r.write ? {} : { result: r.result }),
        ...(r.failed ? { failed: true } : {}),
      }
    }),
  )

/** A long history from closed-loop clients (one call outstanding each), some calls lost or failed. */
function clientsHistory(opCount: number, keys: number, clients: number, seed: number): HistoryOp[] {
  let s = seed >>> 0
  const rand = (n: number) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return Math.floor((s / 2 ** 32) * n)
  }
  interface Call {
    spec: HistoryOp
    point: number
    lost: boolean
    failed: boolean
  }
  const calls: Call[] = []
  const freeAt = new Array<number>(clients).fill(0)
  for (let i = 0; i < opCount; i++) {
    const client = freeAt.indexOf(Math.min(...freeAt))
    const invokedAt = freeAt[client]! + rand(3)
    const duration = 1 + rand(40)
    const key = `key-${rand(keys)}`
    const write = rand(2) === 0
    const roll = rand(100)
    const lost = roll < 2
    const failed = !lost && roll < 4
    const spec: HistoryOp = {
      id: i + 1,
      client,
      op: write ? { kind: 'write', key, value: `c${client}-${i}` } : { kind: 'read', key },
      invokedAt,
    }
    if (!lost) spec.returnedAt = invokedAt + duration
    if (failed) spec.failed = true
    // A lost call times out; the client moves on.
    freeAt[client] = invokedAt + duration + 1
    calls.push({ spec, point: invokedAt + rand(duration + 1), lost, failed })
  }
  const register = new Map<string, string>()
  const byPoint = [...calls].sort((a, b) => a.point - b.point || a.spec.id - b.spec.id)
  for (const c of byPoint) {
    const op = c.spec.op
    if (c.failed) continue
    if (op.kind === 'write') {
      if (!c.lost || rand(2) === 0) register.set(op.key, op.value)
    } else if (!c.lost) {
      c.spec.result = register.get(op.key) ?? null
    }
  }
  return calls.map((c) => c.spec)
}

// ---- tests ---------------------------------------------------------------------------------------------

describe('checkLinearizable: single key', () => {
  it('accepts an empty history', () => {
    expect(check([])).toEqual({ ok: true, checkedOps: 0, explored: 0 })
  })

  it('accepts a sequential history and reports the work it did', () => {
    const h = new History()
    h.read('x', null, 0, 1)
    h.write('x', 'a', 2, 3)
    h.read('x', 'a', 4, 5)
    h.write('x', 'b', 6, 7)
    h.read('x', 'b', 8, 9)
    h.read('x', 'b', 10, 11)
    const r = check(h)
    expect(r.ok).toBe(true)
    expect(r.checkedOps).toBe(6)
    expect(r.explored).toBeGreaterThanOrEqual(6)
    expect(r.counterexample).toBeUndefined()
    expect(r.budgetExceeded).toBeUndefined()
  })

  it('rejects a read of a value never written', () => {
    const h = new History()
    h.write('x', 'a', 0, 1)
    const bad = h.read('x', 'z', 2, 3)
    const r = check(h)
    expect(r.ok).toBe(false)
    expect(r.counterexample?.ops).toEqual([bad])
    expect(r.counterexample?.message).toContain('"z"')
  })

  it('rejects a read of a value whose only write started after the read returned', () => {
    const h = new History()
    const read = h.read('x', 'a', 0, 1)
    const write = h.write('x', 'a', 2, 3)
    const r = check(h)
    expect(r.ok).toBe(false)
    expect(ids(r.counterexample?.ops)).toEqual(ids([read, write]))
  })

  it('rejects a stale read after a completed overwrite', () => {
    const h = new History()
    const a = h.write('x', 'a', 0, 1)
    const b = h.write('x', 'b', 2, 3)
    const stale = h.read('x', 'a', 4, 5)
    const r = check(h)
    expect(r.ok).toBe(false)
    expect(ids(r.counterexample?.ops)).toEqual(ids([a, b, stale]))
  })

  it('rejects reading null (absent) after a completed write', () => {
    const h = new History()
    h.write('x', 'a', 0, 1)
    h.read('x', null, 2, 3)
    expect(check(h).ok).toBe(false)
  })

  it('accepts a read concurrent with a write whichever value it saw', () => {
    for (const seen of [null, 'a']) {
      const h = new History()
      h.write('x', 'a', 0, 10)
      h.read('x', seen, 2, 5)
      expect(check(h).ok).toBe(true)
    }
  })

  it('counts intervals that touch (return time = call time) as overlapping', () => {
    const h = new History()
    h.write('x', 'a', 0, 5)
    h.read('x', null, 5, 6)
    expect(check(h).ok).toBe(true)
  })

  it('rejects the classic pattern: a read sees the new value, a later read the old one', () => {
    const h = new History()
    const w = h.write('x', 'new', 0, 10)
    const first = h.read('x', 'new', 1, 3)
    const later = h.read('x', null, 4, 6)
    const r = check(h)
    expect(r.ok).toBe(false)
    expect(ids(r.counterexample?.ops)).toEqual(ids([w, first, later]))
    // Either read alone is fine, so both are needed.
    expect(check([w, first]).ok).toBe(true)
    expect(check([w, later]).ok).toBe(true)
  })

  it('accepts the same reads when they overlap each other', () => {
    const h = new History()
    h.write('x', 'new', 0, 10)
    h.read('x', 'new', 1, 5)
    h.read('x', null, 4, 6)
    expect(check(h).ok).toBe(true)
  })

  it('shrinks a violation buried in a long history to the ops that matter', () => {
    const h = new History()
    let t = 0
    for (let i = 0; i < 40; i++) {
      h.write('x', `v${i}`, t, t + 3)
      h.read('x', `v${i}`, t + 4, t + 6)
      t += 10
    }
    const w = h.write('x', 'new', t, t + 10)
    const first = h.read('x', 'new', t + 1, t + 3)
    const later = h.read('x', 'v39', t + 4, t + 6)
    for (let i = 0; i < 10; i++) h.read('x', 'new', t + 20 + i, t + 21 + i)
    const r = check(h)
    expect(r.ok).toBe(false)
    const core = ids(r.counterexample?.ops)
    expect(core).toEqual(expect.arrayContaining(ids([w, first, later])))
    // The write of v39 is needed for the later read to see it at all.
    expect(core.length).toBe(4)
  })
})

describe('checkLinearizable: uncertain calls', () => {
  it('accepts a write that never returned and is observed later', () => {
    const h = new History()
    h.write('x', 'a', 0, undefined)
    h.read('x', null, 1, 2)
    h.read('x', 'a', 50, 51)
    expect(check(h).ok).toBe(true)
  })

  it('lets a write that never returned take effect after a later completed write', () => {
    const h = new History()
    h.write('x', 'a', 0, undefined)
    h.write('x', 'b', 1, 2)
    h.read('x', 'b', 3, 4)
    h.read('x', 'a', 5, 6)
    expect(check(h).ok).toBe(true)
  })

  it('lets a write that never returned take effect only once', () => {
    const h = new History()
    h.write('x', 'a', 0, undefined)
    h.write('x', 'b', 1, 2)
    h.read('x', 'a', 3, 4)
    h.write('x', 'c', 5, 6)
    h.read('x', 'a', 7, 8)
    expect(check(h).ok).toBe(false)
    // A second lost write of the same value makes it possible again.
    h.write('x', 'a', 0, undefined)
    expect(check(h).ok).toBe(true)
  })

  it('lets writes that never returned take effect in the opposite order to their calls', () => {
    // Each value also has a completed write, so neither lost write is forced to precede its readers.
    const h = new History()
    h.write('x', 'a', 0, undefined)
    h.write('x', 'b', 1, undefined)
    h.read('x', 'b', 2, 3)
    h.read('x', 'a', 4, 5)
    h.write('x', 'b', 6, 7)
    h.read('x', 'b', 8, 9)
    h.write('x', 'a', 10, 11)
    h.read('x', 'a', 12, 13)
    expect(check(h).ok).toBe(true)

    const g = new History()
    g.write('x', 'b', 0, 1)
    g.write('x', 'b', 2, undefined)
    g.write('x', 'a', 4, undefined)
    g.read('x', 'a', 6, 7)
    g.read('x', 'b', 8, 9)
    g.write('x', 'a', 10, 11)
    g.read('x', 'a', 12, 13)
    expect(check(g).ok).toBe(true)
  })

  it('never lets a write that never returned take effect before its call', () => {
    const h = new History()
    h.write('x', 'a', 0, undefined)
    h.read('x', 'a', 1, 2)
    h.write('x', 'b', 3, 4)
    h.read('x', 'a', 5, 6)
    h.write('x', 'a', 7, undefined)
    expect(check(h).ok).toBe(false)
    h.read('x', 'a', 8, 9)
    expect(check(h).ok).toBe(false)
  })

  it('accepts a write that never returned and is never observed', () => {
    const h = new History()
    h.write('x', 'a', 0, undefined)
    h.read('x', null, 1, 2)
    h.write('x', 'b', 3, 4)
    h.read('x', 'b', 5, 6)
    h.read('x', 'b', 7, 8)
    expect(check(h).ok).toBe(true)
  })

  it('still rejects a write that never returned being observed before it was invoked', () => {
    const h = new History()
    h.read('x', 'a', 0, 1)
    h.write('x', 'a', 2, undefined)
    expect(check(h).ok).toBe(false)
  })

  it('drops a read that never returned', () => {
    const h = new History()
    h.write('x', 'a', 0, 1)
    h.read('x', null, 2, undefined)
    h.read('x', 'a', 3, 4)
    const r = check(h)
    expect(r.ok).toBe(true)
    expect(r.checkedOps).toBe(2)
  })

  it('rejects a failed write that is observed, and says so', () => {
    const h = new History()
    const failed = h.write('x', 'a', 0, 1, { failed: true })
    const read = h.read('x', 'a', 2, 3)
    const r = check(h)
    expect(r.ok).toBe(false)
    expect(ids(r.counterexample?.ops)).toEqual(ids([failed, read]))
    expect(r.counterexample?.message).toMatch(/failed/)
  })

  it('ignores a failed write that is not observed, and failed reads', () => {
    const h = new History()
    h.write('x', 'a', 0, 1)
    h.write('x', 'b', 2, 3, { failed: true })
    h.read('x', 'zzz', 4, 5, { failed: true })
    h.read('x', 'a', 6, 7)
    expect(check(h).ok).toBe(true)
  })

  it('refuses malformed input', () => {
    const h = new History()
    h.write('x', 'a', 5, 4)
    expect(() => check(h)).toThrow(RangeError)
    const noResult: HistoryOp = {
      id: 1,
      client: 0,
      op: { kind: 'read', key: 'x' },
      invokedAt: 0,
      returnedAt: 1,
    }
    expect(() => check([noResult])).toThrow(TypeError)
  })
})

describe('checkLinearizable: keys', () => {
  it('checks keys independently', () => {
    const h = new History()
    h.write('x', 'a', 0, 10)
    h.write('y', 'b', 0, 10)
    h.read('y', null, 1, 2)
    h.read('x', 'a', 3, 4)
    h.read('y', 'b', 5, 6)
    h.read('x', 'a', 11, 12)
    h.read('y', 'b', 11, 12)
    const r = check(h)
    expect(r.ok).toBe(true)
    expect(r.checkedOps).toBe(7)
  })

  it('does not let a write to one key satisfy a read of another', () => {
    const h = new History()
    h.write('x', 'a', 0, 1)
    h.read('y', 'a', 2, 3)
    expect(check(h).ok).toBe(false)
  })

  it('names the key of the violation and lists only its ops', () => {
    const h = new History()
    h.write('x', 'a', 0, 1)
    h.read('x', 'a', 2, 3)
    h.write('orders/42', 'paid', 0, 10)
    h.read('orders/42', 'paid', 1, 3)
    h.read('orders/42', null, 4, 6)
    h.read('x', 'a', 7, 8)
    const r = check(h)
    expect(r.ok).toBe(false)
    expect(r.counterexample?.key).toBe('orders/42')
    expect(r.counterexample?.message).toContain('"orders/42"')
    expect(r.counterexample?.ops.every((o) => o.op.key === 'orders/42')).toBe(true)
  })
})

describe('checkLinearizable: state budget', () => {
  it('reports an exceeded budget instead of a verdict', () => {
    const h = execute(
      Array.from({ length: 30 }, (_, i) => ({
        key: 0,
        write: i % 2 === 0,
        value: i,
        before: 25,
        after: 25,
        outcome: 'ok' as const,
        lostTookEffect: false,
      })),
    )
    const r = check(h, 5)
    expect(r.budgetExceeded).toBe(true)
    expect(r.ok).toBe(false)
    expect(r.counterexample).toBeUndefined()
    expect(r.explored).toBeLessThanOrEqual(5)
    expect(check(h).ok).toBe(true)
  })
})

describe('checkLinearizable: properties', () => {
  it('accepts every history produced by running a real register', () => {
    fc.assert(
      fc.property(fc.array(specArb(3, 4), { maxLength: 60 }), (specs) => {
        const r = check(execute(specs))
        expect(r.budgetExceeded).toBeUndefined()
        expect(r.counterexample).toBeUndefined()
        expect(r.ok).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('rejects such a history once one read result is changed to a value never written', () => {
    fc.assert(
      fc.property(fc.array(specArb(3, 4), { minLength: 1, maxLength: 60 }), fc.nat(), (specs, pick) => {
        const history = execute(specs)
        const reads = history.filter((o) => o.op.kind === 'read' && !o.failed && o.returnedAt !== undefined)
        fc.pre(reads.length > 0)
        const victim = reads[pick % reads.length]!
        const mutated = history.map((o) => (o === victim ? { ...o, result: 'never-written' } : o))
        const r = check(mutated)
        expect(r.ok).toBe(false)
        expect(r.counterexample?.key).toBe(victim.op.key)
        expect(ids(r.counterexample?.ops)).toContain(victim.id)
      }),
      { numRuns: 300 },
    )
  })

  it('agrees with brute force on small arbitrary histories', () => {
    let rejected = 0
    fc.assert(
      fc.property(arbitraryHistory, (history) => {
        const r = check(history)
        const expected = bruteForceLinearizable(history)
        expect(r.ok).toBe(expected)
        if (!expected) rejected++
      }),
      { numRuns: 1500 },
    )
    // Both verdicts were exercised.
    expect(rejected).toBeGreaterThan(50)
    expect(rejected).toBeLessThan(1450)
  })

  it('agrees with brute force on register histories with lost writes and one read changed', () => {
    const lossy = fc.record({
      key: fc.constant(0),
      write: fc.boolean(),
      value: fc.nat(1),
      before: fc.nat(35),
      after: fc.nat(35),
      outcome: fc.constantFrom<Spec['outcome']>('ok', 'ok', 'lost', 'lost', 'failed'),
      lostTookEffect: fc.boolean(),
    })
    let rejected = 0
    fc.assert(
      fc.property(
        fc.array(lossy, { minLength: 4, maxLength: 14 }),
        fc.nat(),
        fc.constantFrom(null, 'v0', 'v1'),
        (specs, pick, seen) => {
          const history = execute(specs)
          const reads = history.filter((o) => o.op.kind === 'read' && !o.failed && o.returnedAt !== undefined)
          if (reads.length > 0) reads[pick % reads.length]!.result = seen
          const expected = bruteForceLinearizable(history)
          const r = check(history)
          expect(r.ok).toBe(expected)
          if (!expected) {
            rejected++
            expect(bruteForceLinearizable(r.counterexample?.ops ?? [])).toBe(false)
          }
        },
      ),
      { numRuns: 4000 },
    )
    expect(rejected).toBeGreaterThan(200)
  })

  it('gives counterexamples that are themselves not linearizable', () => {
    fc.assert(
      fc.property(arbitraryHistory, (history) => {
        const r = check(history)
        fc.pre(!r.ok)
        const core = r.counterexample?.ops ?? []
        expect(core.length).toBeGreaterThan(0)
        expect(core.every((o) => history.includes(o))).toBe(true)
        expect(bruteForceLinearizable(core)).toBe(false)
        expect(core.length).toBeLessThanOrEqual(history.length)
      }),
      { numRuns: 800 },
    )
  })
})

describe('checkLinearizable: performance', () => {
  it('decides a 2,000-op history over 5 keys with 8 concurrent clients', () => {
    const history = clientsHistory(2000, 5, 8, 42)
    expect(new Set(history.map((o) => o.op.key)).size).toBe(5)
    expect(history.some((o) => o.returnedAt === undefined)).toBe(true)
    const r = check(history)
    expect(r.budgetExceeded).toBeUndefined()
    expect(r.ok).toBe(true)
    expect(r.checkedOps).toBeGreaterThan(1900)
  })

  it('decides a 2,000-op violation within the budget too', () => {
    const history = clientsHistory(2000, 5, 8, 7)
    // Make the last completed read of key-3 see the first value ever written to it.
    const reads = history.filter((o) => o.op.key === 'key-3' && o.op.kind === 'read' && o.result != null)
    const writes = history.filter(
      (o) => o.op.key === 'key-3' && o.op.kind === 'write' && !o.failed && o.returnedAt !== undefined,
    )
    const victim = reads[reads.length - 1]!
    const first = writes[0]!
    expect(first.op.kind).toBe('write')
    if (first.op.kind === 'write') victim.result = first.op.value
    const r = check(history)
    expect(r.budgetExceeded).toBeUndefined()
    expect(r.ok).toBe(false)
    expect(r.counterexample?.key).toBe('key-3')
    expect(ids(r.counterexample?.ops)).toContain(victim.id)
  })
})
