/**
 * Linearizability checker for a history of key-value register operations.
 *
 * Model: one register per key, initially absent (null). A write sets the value; a read returns the value
 * of the latest linearized write, or null. Keys are independent, so each key's sub-history is checked on
 * its own (P-compositionality, as Porcupine does).
 *
 * Search: Wing–Gong–Lowe with memoization, following Lowe, "Testing for linearizability" (2017) and
 * Porcupine. Call and return events sit in one doubly linked list ordered by time. Walking the list from
 * its head, every call met before the first return is a pending operation that may be linearized next;
 * linearizing it removes its call and return from the list and restarts the walk. Meeting a return means
 * the earliest-returning pending operation can no longer be placed, so the search backtracks. A state is
 * (set of linearized operations, register value); each state is entered at most once, because any state
 * seen before was either explored to failure or ended the search with success.
 *
 * Uncertain operations:
 * - `failed: true`: the call had no effect, so it is dropped.
 * - A read that never returned says nothing, so it is dropped.
 * - A write that never returned gets a return time of +infinity: it may be linearized anywhere after its
 *   call, or never (linearizing it after everything else is the same as never), which is exactly "it may or
 *   may not have taken effect". Such writes have no return event in the list, and the search succeeds once
 *   every returned operation is linearized. Before searching, those whose value nobody read are dropped
 *   and those that alone wrote a value somebody read get a deadline (see searchKey); the rest are tried
 *   only when nothing else fits, with subset pruning, so lost writes do not blow the search up.
 *
 * Cheap checks run first (a read of a value never written, or written only later; null after a completed
 * write). On a violation the key's history is shrunk, by steps that keep it non-linearizable, to a small
 * set of ops that fails on its own; that set is the counterexample.
 *
 * Real time: A precedes B only when A.returnedAt < B.invokedAt. Equal times count as overlapping, as in
 * Porcupine (a call event sorts before a return event at the same time).
 */

export type KvOp = { kind: 'write'; key: string; value: string } | { kind: 'read'; key: string }

export interface HistoryOp {
  id: number
  client: number
  op: KvOp
  /** logical time the call started */
  invokedAt: number
  /** undefined = never returned (indeterminate: it may or may not have taken effect) */
  returnedAt?: number
  /** for reads that returned: the value seen (null = key absent) */
  result?: string | null
  /** true when the call returned an error that guarantees it had NO effect */
  failed?: boolean
}

export interface LinearizabilityResult {
  /** true only when every key was proved linearizable */
  ok: boolean
  /** operations that took part in the check, summed over the keys examined (failed ops and reads that never returned are not counted) */
  checkedOps: number
  /** search states explored, summed over keys (includes the searches that shrink a counterexample) */
  explored: number
  /** when a key is proved not linearizable: the key, a small set of ops that is not linearizable on its own, and an explanation */
  counterexample?: { key: string; ops: HistoryOp[]; message: string }
  /** true if the search hit the state budget before deciding some key; `ok` is then false (not proved) */
  budgetExceeded?: boolean
}

export interface CheckOptions {
  /** most search states to explore, over all keys, before giving up (default 5,000,000) */
  stateBudget?: number
}

const DEFAULT_STATE_BUDGET = 5_000_000
/** Shrinking a counterexample is best effort: it stops after this many states in total... */
const SHRINK_BUDGET = 500_000
/** ...and gives up on one candidate sub-history after this many. */
const SHRINK_CHECK_BUDGET = 50_000
/** Most ops listed in a counterexample message. */
const MESSAGE_OPS = 10

export function checkLinearizable(history: HistoryOp[], options: CheckOptions = {}): LinearizabilityResult {
  const stateBudget = options.stateBudget ?? DEFAULT_STATE_BUDGET
  const byKey = new Map<string, HistoryOp[]>()
  for (const h of history) {
    validate(h)
    const list = byKey.get(h.op.key)
    if (list === undefined) byKey.set(h.op.key, [h])
    else list.push(h)
  }

  const values = new ValueTable()
  let checkedOps = 0
  let explored = 0
  let budgetExceeded = false
  for (const [key, keyHistory] of byKey) {
    const ops = prepareKey(keyHistory, values)
    checkedOps += ops.length
    const quick = quickViolation(key, keyHistory, ops, values)
    if (quick !== undefined) return result(false, checkedOps, explored, budgetExceeded, quick)

    const outcome = searchKey(ops, Math.max(0, stateBudget - explored))
    explored += outcome.explored
    if (outcome.status === 'budget') {
      budgetExceeded = true
      continue
    }
    if (outcome.status === 'violation') {
      const shrunk = shrinkViolation(ops, Math.ceil(outcome.stuckAt))
      explored += shrunk.explored
      const counterexample = describeViolation(key, shrunk.core, shrunk.complete, values)
      return result(false, checkedOps, explored, budgetExceeded, counterexample)
    }
  }
  return result(!budgetExceeded, checkedOps, explored, budgetExceeded)
}

function result(
  ok: boolean,
  checkedOps: number,
  explored: number,
  budgetExceeded: boolean,
  counterexample?: LinearizabilityResult['counterexample'],
): LinearizabilityResult {
  const r: LinearizabilityResult = { ok, checkedOps, explored }
  if (counterexample !== undefined) r.counterexample = counterexample
  if (budgetExceeded) r.budgetExceeded = true
  return r
}

function validate(h: HistoryOp): void {
  const where = `linearizability: op #${h.id} (client ${h.client})`
  if (!Number.isFinite(h.invokedAt)) throw new RangeError(`${where}: invokedAt must be a finite number`)
  if (h.returnedAt !== undefined) {
    if (!Number.isFinite(h.returnedAt)) throw new RangeError(`${where}: returnedAt must be a finite number`)
    if (h.returnedAt < h.invokedAt) throw new RangeError(`${where}: returned before it was invoked`)
    if (h.op.kind === 'read' && !h.failed && h.result === undefined) {
      throw new TypeError(`${where}: a read that returned without failing needs a result (null = absent)`)
    }
  }
}

// ---- one key's sub-history ----------------------------------------------------------------------------

/** Interns register values as small integers; 0 is null (absent). */
class ValueTable {
  private readonly ids = new Map<string, number>()
  private readonly names: string[] = []

  id(v: string | null): number {
    if (v === null) return 0
    let id = this.ids.get(v)
    if (id === undefined) {
      this.names.push(v)
      id = this.names.length
      this.ids.set(v, id)
    }
    return id
  }

  show(id: number): string {
    return id === 0 ? 'null' : JSON.stringify(this.names[id - 1])
  }
}

/** One operation of a key's sub-history, its times replaced by distinct event positions. */
interface KeyOp {
  src: HistoryOp
  read: boolean
  /** interned: the value written, or the value the read returned (0 = null) */
  value: number
  call: number
  /** Infinity = never returned (only writes; reads that never returned are dropped) */
  ret: number
}

/** Drops what carries no information and numbers the call/return events in real-time order. */
function prepareKey(history: HistoryOp[], values: ValueTable): KeyOp[] {
  const kept = history.filter((h) => !h.failed && (h.returnedAt !== undefined || h.op.kind === 'write'))
  const ops: KeyOp[] = kept.map((h) => ({
    src: h,
    read: h.op.kind === 'read',
    value: h.op.kind === 'write' ? values.id(h.op.value) : values.id(h.result ?? null),
    call: 0,
    ret: Number.POSITIVE_INFINITY,
  }))
  const events: Array<{ time: number; isReturn: number; seq: number; op: KeyOp }> = []
  ops.forEach((op, seq) => {
    events.push({ time: op.src.invokedAt, isReturn: 0, seq, op })
    if (op.src.returnedAt !== undefined) events.push({ time: op.src.returnedAt, isReturn: 1, seq, op })
  })
  // Calls before returns at equal times: touching intervals overlap.
  events.sort((a, b) => a.time - b.time || a.isReturn - b.isReturn || a.seq - b.seq)
  events.forEach((ev, pos) => {
    if (ev.isReturn) ev.op.ret = pos
    else ev.op.call = pos
  })
  return ops
}

interface Violation {
  key: string
  ops: HistoryOp[]
  message: string
}

/**
 * Violations that need no search, each with a witness of one read and the writes it depends on:
 * a value no successful write wrote, a value whose every write started after the read returned, and
 * null after a completed write (writes never store null, so the register is never absent again).
 */
function quickViolation(
  key: string,
  history: HistoryOp[],
  ops: KeyOp[],
  values: ValueTable,
): Violation | undefined {
  const writes = ops.filter((o) => !o.read)
  const firstDone = writes.reduce<KeyOp | undefined>(
    (a, w) => (a === undefined || w.ret < a.ret ? w : a),
    undefined,
  )
  const reads = ops.filter((o) => o.read).sort((a, b) => a.call - b.call)
  for (const r of reads) {
    const seen = values.show(r.value)
    const read = `read #${r.src.id} (client ${r.src.client})`
    if (r.value === 0) {
      if (firstDone !== undefined && firstDone.ret < r.call) {
        const w = firstDone.src
        return {
          key,
          ops: sortOps([w, r.src]),
          message:
            `key ${JSON.stringify(key)}: ${read} returned null at [${span(r.src)}], but write #${w.id} ` +
            `of ${values.show(firstDone.value)} had already completed at [${span(w)}] and nothing removes a key`,
        }
      }
      continue
    }
    const sources = writes.filter((w) => w.value === r.value)
    if (sources.length === 0) {
      const failed = history.filter(
        (h) => h.failed && h.op.kind === 'write' && values.id(h.op.value) === r.value,
      )
      const note =
        failed.length === 0
          ? ''
          : ` (only failed write${failed.length > 1 ? 's' : ''} ${failed.map((f) => `#${f.id}`).join(', ')} ` +
            'wrote it, and a failed write has no effect)'
      return {
        key,
        ops: sortOps([r.src, ...failed]),
        message: `key ${JSON.stringify(key)}: ${read} returned ${seen}, which no successful write ever wrote${note}`,
      }
    }
    if (sources.every((w) => w.call > r.ret)) {
      return {
        key,
        ops: sortOps([r.src, ...sources.map((w) => w.src)]),
        message:
          `key ${JSON.stringify(key)}: ${read} returned ${seen} at [${span(r.src)}], ` +
          `before any write of ${seen} was invoked`,
      }
    }
  }
  return undefined
}

// ---- the search -------------------------------------------------------------------------------------

interface SearchOutcome {
  status: 'ok' | 'violation' | 'budget'
  explored: number
  /**
   * Latest return event at which the search got stuck. On a violation, the history cut just after it
   * (ops still running become open) is the shortest prefix that is not linearizable: a walk stuck at a
   * later return would have linearized that whole prefix, and linearizability is prefix-closed.
   */
  stuckAt: number
}

/**
 * Writes that never returned ("open" writes) are simplified first; each step keeps the answer unchanged:
 * - one whose value no read returned is dropped: in any linearization no read falls between it and the
 *   next write, so it can be left out, and leaving it out is always allowed;
 * - one that is the only write of a value some read returned must take effect before the earliest such
 *   read returns, so it is given that return time and searched like any returned op.
 * What remains (writes of a read value that other writes also wrote) stays optional. Those are tried only
 * when no returned op can be placed, and a state is pruned when a visited state with the same returned
 * ops and value had used a subset of them: it had every option this one has.
 */
function searchKey(ops: KeyOp[], budget: number): SearchOutcome {
  const INF = Number.POSITIVE_INFINITY
  const firstReadReturn = new Map<number, number>()
  const writers = new Map<number, number>()
  for (const o of ops) {
    if (o.read) firstReadReturn.set(o.value, Math.min(o.ret, firstReadReturn.get(o.value) ?? INF))
    else writers.set(o.value, (writers.get(o.value) ?? 0) + 1)
  }
  const returned: KeyOp[] = []
  const open: KeyOp[] = []
  for (const o of ops) {
    if (o.ret !== INF) returned.push(o)
    else if (!o.read && firstReadReturn.has(o.value)) {
      const deadline = firstReadReturn.get(o.value)!
      if (writers.get(o.value) !== 1) open.push(o)
      else if (deadline < o.call) return { status: 'violation', explored: 0, stuckAt: deadline }
      else returned.push({ ...o, ret: deadline - 0.5 })
    }
  }
  const byCall = (a: KeyOp, b: KeyOp) => a.call - b.call
  returned.sort(byCall)
  open.sort(byCall)
  const m = returned.length
  const k = open.length
  if (m === 0) return { status: 'ok', explored: 0, stuckAt: -1 }
  if (budget <= 0) return { status: 'budget', explored: 0, stuckAt: -1 }
  const all = returned.concat(open)
  const n = m + k

  const opValue = Int32Array.from(all, (o) => o.value)
  const opRead = Uint8Array.from(all, (o) => (o.read ? 1 : 0))

  // Returned ops: call and return events in one list. Node 0 is the head, 1..E the events in time order,
  // E+1 the tail.
  const events: Array<{ pos: number; op: number; call: boolean }> = []
  for (let i = 0; i < m; i++) {
    const o = all[i]!
    events.push({ pos: o.call, op: i, call: true }, { pos: o.ret, op: i, call: false })
  }
  events.sort((a, b) => a.pos - b.pos)
  const nodes = events.length + 2
  const next = new Int32Array(nodes)
  const prev = new Int32Array(nodes)
  const nodeOp = new Int32Array(nodes)
  const nodeIsCall = new Uint8Array(nodes)
  const nodePos = new Float64Array(nodes)
  const callNode = new Int32Array(m)
  const retNode = new Int32Array(m)
  events.forEach((ev, i) => {
    const node = i + 1
    nodeOp[node] = ev.op
    nodeIsCall[node] = ev.call ? 1 : 0
    nodePos[node] = ev.pos
    if (ev.call) callNode[ev.op] = node
    else retNode[ev.op] = node
  })
  for (let node = 0; node < nodes - 1; node++) {
    next[node] = node + 1
    prev[node + 1] = node
  }
  const unlink = (x: number) => {
    next[prev[x]!] = next[x]!
    prev[next[x]!] = prev[x]!
  }
  const relink = (x: number) => {
    next[prev[x]!] = x
    prev[next[x]!] = x
  }

  // Open writes: a second list in call order. Node j+1 is open write m+j; 0 is the head, k+1 the tail.
  const openNext = new Int32Array(k + 2)
  const openPrev = new Int32Array(k + 2)
  for (let j = 0; j <= k; j++) {
    openNext[j] = j + 1
    openPrev[j + 1] = j
  }
  const openCall = Float64Array.from(open, (o) => o.call)
  // Open writes of one value are interchangeable: only the earliest one not yet used is tried.
  const prevSame = new Int32Array(k).fill(-1)
  const lastOfValue = new Map<number, number>()
  for (let j = 0; j < k; j++) {
    const v = opValue[m + j]!
    const p = lastOfValue.get(v)
    if (p !== undefined) prevSame[j] = p
    lastOfValue.set(v, j)
  }

  // Linearized set: `bits` for returned ops (hashed incrementally), `openBits` for open writes.
  const bits = new Uint32Array((m + 31) >>> 5)
  const openBits = new Uint32Array((k + 31) >>> 5)
  const rand1 = new Uint32Array(m)
  const rand2 = new Uint32Array(m)
  const rng = splitmix32(0x5eed + n)
  for (let i = 0; i < m; i++) {
    rand1[i] = rng()
    rand2[i] = rng()
  }
  const cache = new StateCache(openBits.length)
  const openUsed = (j: number) => (openBits[j >>> 5]! & (1 << (j & 31))) !== 0
  const hasBit = (o: number) => (bits[o >>> 5]! & (1 << (o & 31))) !== 0

  let h1 = 0
  let h2 = 0
  let value = 0
  let done = 0 // returned ops linearized
  let lo = 0 // smallest returned op not linearized
  let hi = 0 // 1 + largest returned op linearized
  let explored = 0
  let stuckAt = -1

  const stackOp = new Int32Array(n)
  const stackValue = new Int32Array(n)
  const stackLo = new Int32Array(n)
  const stackHi = new Int32Array(n)
  const stackLimit = new Float64Array(n)
  let sp = 0

  /** Tries to linearize op `o` next; true if that reached a new state (which is then pushed). */
  const tryOp = (o: number, limit: number): boolean => {
    const newValue = opRead[o] ? value : opValue[o]!
    if (opRead[o] && opValue[o] !== value) return false
    const oldLo = lo
    const oldHi = hi
    if (o < m) {
      bits[o >>> 5]! |= 1 << (o & 31)
      h1 ^= rand1[o]!
      h2 ^= rand2[o]!
      if (o === lo) while (lo < m && hasBit(lo)) lo++
      if (o >= hi) hi = o + 1
    } else {
      openBits[(o - m) >>> 5]! |= 1 << ((o - m) & 31)
    }
    const a = (h1 ^ Math.imul(newValue + 1, 0x9e3779b1)) >>> 0
    const b = (h2 ^ Math.imul(newValue + 1, 0x85ebca6b)) >>> 0
    if (!cache.insert(a, b, newValue, lo, hi, bits, openBits)) {
      if (o < m) {
        bits[o >>> 5]! &= ~(1 << (o & 31))
        h1 ^= rand1[o]!
        h2 ^= rand2[o]!
        lo = oldLo
        hi = oldHi
      } else {
        openBits[(o - m) >>> 5]! &= ~(1 << ((o - m) & 31))
      }
      return false
    }
    explored++
    stackOp[sp] = o
    stackValue[sp] = value
    stackLo[sp] = oldLo
    stackHi[sp] = oldHi
    stackLimit[sp] = limit
    sp++
    value = newValue
    if (o < m) {
      done++
      unlink(callNode[o]!)
      unlink(retNode[o]!)
    } else {
      const x = o - m + 1
      openNext[openPrev[x]!] = openNext[x]!
      openPrev[openNext[x]!] = openPrev[x]!
    }
    return true
  }

  // Walk the returned ops' list from its head, trying each call met; at the first return, try the open
  // writes invoked before it; when nothing fits, undo the last step and resume after it.
  let inOpen = false
  let e = next[0]!
  let j = 0 // open node
  let limit = 0
  for (;;) {
    if (!inOpen) {
      if (nodeIsCall[e]) {
        const o = nodeOp[e]!
        if (tryOp(o, 0)) {
          if (done === m) return { status: 'ok', explored, stuckAt }
          if (explored >= budget) return { status: 'budget', explored, stuckAt }
          e = next[0]!
        } else {
          e = next[e]!
        }
        continue
      }
      inOpen = true
      limit = nodePos[e]!
      j = openNext[0]!
      continue
    }
    if (j <= k && openCall[j - 1]! < limit) {
      const same = prevSame[j - 1]!
      if ((same < 0 || openUsed(same)) && tryOp(m + j - 1, limit)) {
        if (explored >= budget) return { status: 'budget', explored, stuckAt }
        inOpen = false
        e = next[0]!
      } else {
        j = openNext[j]!
      }
      continue
    }
    // Nothing fits before the earliest pending return: undo the last step.
    if (limit > stuckAt) stuckAt = limit
    if (sp === 0) return { status: 'violation', explored, stuckAt }
    sp--
    const o = stackOp[sp]!
    value = stackValue[sp]!
    if (o < m) {
      bits[o >>> 5]! &= ~(1 << (o & 31))
      h1 ^= rand1[o]!
      h2 ^= rand2[o]!
      lo = stackLo[sp]!
      hi = stackHi[sp]!
      done--
      relink(retNode[o]!)
      relink(callNode[o]!)
      inOpen = false
      e = next[callNode[o]!]!
    } else {
      openBits[(o - m) >>> 5]! &= ~(1 << ((o - m) & 31))
      const x = o - m + 1
      openNext[openPrev[x]!] = x
      openPrev[openNext[x]!] = x
      inOpen = true
      limit = stackLimit[sp]!
      j = openNext[x]!
    }
  }
}

/**
 * Set of visited states in flat typed arrays (no per-state objects). An entry is
 * [hashA, hashB, value, lo, hi, window..., openBits...]: every returned op below `lo` is linearized and none
 * at or above `hi`, so only the words of `bits` from lo/32 to (hi-1)/32 are stored. With bounded
 * concurrency that window is a word or two however long the history is. The hash leaves out the open
 * writes, so entries that differ only there share a probe chain, where the subset test is made.
 */
class StateCache {
  private pool = new Uint32Array(1 << 16)
  private used = 0
  private table = new Int32Array(1 << 12).fill(-1)
  private count = 0
  private readonly openWords: number

  constructor(openWords: number) {
    this.openWords = openWords
  }

  /** Adds the state; false if it, or a state with the same returned ops and value but fewer open writes used, was there. */
  insert(
    a: number,
    b: number,
    value: number,
    lo: number,
    hi: number,
    bits: Uint32Array,
    open: Uint32Array,
  ): boolean {
    const first = lo >>> 5
    const words = windowWords(lo, hi)
    const mask = this.table.length - 1
    let slot = a & mask
    for (;;) {
      const off = this.table[slot]!
      if (off < 0) break
      const p = this.pool
      if (
        p[off] === a &&
        p[off + 1] === b &&
        p[off + 2] === value &&
        p[off + 3] === lo &&
        p[off + 4] === hi
      ) {
        let same = true
        let at = off + 5
        for (let w = 0; w < words && same; w++) same = p[at++] === bits[first + w]
        for (let w = 0; w < this.openWords && same; w++) same = (p[at++]! & ~open[w]!) === 0
        if (same) return false
      }
      slot = (slot + 1) & mask
    }
    const size = 5 + words + this.openWords
    if (this.used + size > this.pool.length) {
      const bigger = new Uint32Array(Math.max(this.pool.length * 2, this.used + size))
      bigger.set(this.pool.subarray(0, this.used))
      this.pool = bigger
    }
    const p = this.pool
    const off = this.used
    p[off] = a
    p[off + 1] = b
    p[off + 2] = value
    p[off + 3] = lo
    p[off + 4] = hi
    p.set(bits.subarray(first, first + words), off + 5)
    p.set(open, off + 5 + words)
    this.used += size
    this.table[slot] = off
    if (++this.count * 2 > this.table.length) this.grow()
    return true
  }

  private grow(): void {
    const table = new Int32Array(this.table.length * 2).fill(-1)
    const mask = table.length - 1
    const p = this.pool
    for (let off = 0; off < this.used; off += 5 + windowWords(p[off + 3]!, p[off + 4]!) + this.openWords) {
      let slot = p[off]! & mask
      while (table[slot]! >= 0) slot = (slot + 1) & mask
      table[slot] = off
    }
    this.table = table
  }
}

function windowWords(lo: number, hi: number): number {
  const first = lo >>> 5
  const last = hi === 0 ? first : Math.max(first, (hi - 1) >>> 5)
  return last - first + 1
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
}

// ---- counterexamples ----------------------------------------------------------------------------------

/**
 * Shrinks a non-linearizable sub-history to a small one that is still not linearizable and whose failure
 * implies the original's. Only sound steps are taken:
 * - cut the history just after the return where the search got stuck last (linearizability is
 *   prefix-closed; ops still running at the cut become never-returned writes, or are dropped if reads);
 * - drop reads (a linearization of the whole restricts to one without them);
 * - drop writes whose value no remaining read returned (in any linearization no read falls between such
 *   a write and the next write, so it can be cut out).
 * First the cut history is narrowed to its last few ops (plus the writes their reads need), doubling the
 * window until it fails; then single ops and chunks are dropped while the rest still fails. Writes whose
 * value is read are kept even when another write of that value could do. Every candidate is checked, and
 * if no candidate is proved to fail the whole sub-history is returned. Best effort within SHRINK_BUDGET.
 */
function shrinkViolation(ops: KeyOp[], cut: number): { core: KeyOp[]; complete: boolean; explored: number } {
  let left = SHRINK_BUDGET
  let explored = 0
  let complete = true
  const fails = (sub: KeyOp[]): boolean => {
    if (left <= 0) {
      complete = false
      return false
    }
    const out = searchKey(sub, Math.min(left, SHRINK_CHECK_BUDGET))
    left -= out.explored
    explored += out.explored
    if (out.status === 'budget') complete = false
    return out.status === 'violation'
  }
  /** Drops the reads in `drop`, then every write (in `drop`) whose value no remaining read returned. */
  const without = (core: KeyOp[], drop: Set<KeyOp>): KeyOp[] => {
    const readLeft = new Set(core.filter((o) => o.read && !drop.has(o)).map((o) => o.value))
    return core.filter((o) => !drop.has(o) || (!o.read && readLeft.has(o.value)))
  }

  // 1. The cut, narrowed to a window of its last ops.
  const prefix = ops
    .filter((o) => o.call < cut && (o.ret <= cut || !o.read))
    .map((o) => (o.ret <= cut ? o : { ...o, ret: Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.call - b.call)
  let core: KeyOp[] | undefined
  for (let size = 4; core === undefined; size *= 2) {
    if (size >= prefix.length) {
      core = fails(prefix) ? prefix : ops
      break
    }
    const candidate = without(prefix, new Set(prefix.slice(0, prefix.length - size)))
    if (fails(candidate)) core = candidate
    else if (left <= 0) core = ops
  }

  // 2. Drop chunks, then single ops, while the rest still fails (delta debugging).
  let chunk = Math.ceil(core.length / 2)
  for (;;) {
    let i = 0
    while (i < core.length && left > 0) {
      const rest = without(core, new Set(core.slice(i, i + chunk)))
      if (rest.length < core.length && fails(rest)) core = rest
      else i += chunk
    }
    if (chunk === 1 || left <= 0) break
    chunk = Math.ceil(chunk / 2)
  }
  if (left <= 0) complete = false
  return { core, complete, explored }
}

function describeViolation(key: string, core: KeyOp[], complete: boolean, values: ValueTable): Violation {
  const sorted = [...core].sort((a, b) => a.call - b.call)
  const lines = sorted.slice(0, MESSAGE_OPS).map((o) => `  ${showOp(o, values)}`)
  if (sorted.length > MESSAGE_OPS) lines.push(`  … and ${sorted.length - MESSAGE_OPS} more`)
  const size = complete ? `${core.length} ops` : `${core.length} ops (not fully shrunk)`
  return {
    key,
    ops: sorted.map((o) => o.src),
    message:
      `key ${JSON.stringify(key)}: not linearizable. No order of these ${size} respects both real time ` +
      `and the register (each read returns the latest write, or null):\n${lines.join('\n')}`,
  }
}

function showOp(o: KeyOp, values: ValueTable): string {
  const h = o.src
  const what = h.op.kind === 'write' ? `write ${values.show(o.value)}` : `read → ${values.show(o.value)}`
  const pending =
    o.ret === Number.POSITIVE_INFINITY && h.returnedAt !== undefined ? ' (still running at the cut)' : ''
  return `#${h.id} client ${h.client} ${what} [${span(h)}]${pending}`
}

function span(h: HistoryOp): string {
  return `${h.invokedAt}, ${h.returnedAt === undefined ? '∞' : h.returnedAt}`
}

function sortOps(ops: HistoryOp[]): HistoryOp[] {
  return [...ops].sort((a, b) => a.invokedAt - b.invokedAt || a.id - b.id)
}
