import { describe, expect, it } from 'vitest'
import { initialConfiguration } from '../../src/consensus/configuration.ts'
import type { VoterWeights } from '../../src/consensus/quorum/voteMath.ts'
import { RaftCore, type RaftOptions } from '../../src/consensus/raftCore.ts'
import { RaftLog } from '../../src/consensus/raftLog.ts'
import type { Entry, HardState, Ready, SnapshotMeta } from '../../src/consensus/types.ts'
import { InvariantError } from '../../src/errors/assert.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const cmd = (s: string) => encoder.encode(s)
const text = (e: Entry) => (e.kind === 'noop' ? '<noop>' : decoder.decode(e.data))

/** What the runtime keeps on stable storage. */
interface Disk {
  hardState: HardState
  snapshot: SnapshotMeta
  entries: Entry[]
}

interface Node {
  core: RaftCore
  disk: Disk
  /** Every entry handed out for applying in this incarnation, in order. */
  applied: Entry[]
  /** Every Ready this incarnation handed out, in order. */
  readies: Ready[]
}

/** Core options plus the voters of the starting configuration. */
type RaftConfig = RaftOptions & { voters: VoterWeights }

function newCore(
  cfg: RaftConfig,
  restore: { hardState: HardState; snapshot: SnapshotMeta; entries: Entry[] },
): RaftCore {
  const { voters, ...options } = cfg
  return new RaftCore(options, {
    ...restore,
    initialConfig: initialConfiguration(Object.fromEntries(voters)),
  })
}

const emptyDisk = (): Disk => ({
  hardState: { term: 0, vote: null, commit: 0 },
  snapshot: { index: 0, term: 0 },
  entries: [],
})

function config(id: string, voters: VoterWeights, over: Partial<RaftConfig> = {}): RaftConfig {
  // Pre-vote off: these tests follow the plain election path (pre-vote has its own tests).
  return { id, voters, electionTicks: 10, heartbeatTicks: 1, random: () => 0, preVote: false, ...over }
}

const sole: VoterWeights = new Map([['a', 1]])

function start(disk: Disk = emptyDisk(), cfg: RaftConfig = config('a', sole)): Node {
  const core = newCore(cfg, {
    hardState: { ...disk.hardState },
    snapshot: { ...disk.snapshot },
    entries: disk.entries.map((e) => ({ ...e })),
  })
  return { core, disk, applied: [], readies: [] }
}

/** The runtime's half of a Ready: write the hard state and entries (overwriting from the first index). */
function persist(disk: Disk, rd: Ready): void {
  if (rd.hardState !== null) disk.hardState = { ...rd.hardState }
  const first = rd.entries[0]
  if (first === undefined) return
  disk.entries = disk.entries.filter((e) => e.index < first.index)
  disk.entries.push(...rd.entries.map((e) => ({ ...e })))
}

function apply(node: Node, rd: Ready): void {
  node.applied.push(...rd.committedEntries)
}

/** One Ready handed out and fully handled: persist, apply, advance. */
function step(node: Node): Ready {
  const rd = node.core.ready()
  node.readies.push(rd)
  persist(node.disk, rd)
  apply(node, rd)
  node.core.advance(rd)
  return rd
}

/** Handles Readies until the core has nothing more; returns the ones handled. */
function drive(node: Node): Ready[] {
  const handled: Ready[] = []
  while (node.core.hasReady()) {
    handled.push(step(node))
    if (handled.length > 100) throw new Error('the core never settles')
  }
  return handled
}

function leader(): Node {
  const node = start()
  node.core.tick()
  drive(node)
  return node
}

describe('RaftCore: a single voter', () => {
  it('refuses proposals and has nothing to do before its first tick', () => {
    const node = start()
    expect(node.core.hasReady()).toBe(false)
    expect(node.core.propose(cmd('x'))).toMatchObject({ ok: false, leader: null })
    expect(node.core.status()).toMatchObject({ role: 'follower', term: 0, leader: null, lastIndex: 0 })
    expect(node.core.canServeReads()).toBe(false)
  })

  it('leads term 1 after one tick and appends a noop', () => {
    const node = start()
    node.core.tick()
    expect(node.core.status()).toMatchObject({
      role: 'leader',
      term: 1,
      leader: 'a',
      lastIndex: 1,
      commit: 0,
    })
    expect(node.core.termOf(1)).toBe(1)
    expect(node.core.hasReady()).toBe(true)
    const rd = node.core.ready()
    expect(rd.softState).toEqual({ role: 'leader', leader: 'a' })
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 0 })
    expect(rd.entries).toHaveLength(1)
    expect(rd.entries[0]).toMatchObject({ index: 1, term: 1, kind: 'noop' })
    expect(rd.committedEntries).toEqual([])
    expect(rd.mustSync).toBe(true)
  })

  it('commits the noop only after it is persisted, then serves reads once it is applied', () => {
    const node = start()
    node.core.tick()
    expect(node.core.canServeReads()).toBe(false)

    step(node) // persists the noop
    expect(node.core.status()).toMatchObject({ stable: 1, commit: 1, applied: 0 })
    expect(node.core.canServeReads()).toBe(false)

    const rd = node.core.ready()
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1])
    expect(rd.entries).toEqual([])
    expect(node.core.canServeReads()).toBe(false) // handed out, not applied yet
    node.core.advance(rd)
    expect(node.core.status()).toMatchObject({ applied: 1 })
    expect(node.core.canServeReads()).toBe(true)
    expect(node.core.hasReady()).toBe(false)
  })

  it('does not commit a proposal in the Ready that carries it for persistence, but in the next', () => {
    const node = leader()
    const result = node.core.propose(cmd('set x=1'))
    expect(result).toEqual({ ok: true, ticket: { index: 2, term: 1 } })

    const carrying = step(node)
    expect(carrying.entries.map(text)).toEqual(['set x=1'])
    expect(carrying.committedEntries).toEqual([])
    expect(carrying.mustSync).toBe(true)
    expect(node.core.status()).toMatchObject({ stable: 2, commit: 2, applied: 1 })

    const next = step(node)
    expect(next.entries).toEqual([])
    expect(next.committedEntries.map(text)).toEqual(['set x=1'])
    expect(next.committedEntries[0]).toMatchObject({ index: 2, term: 1, kind: 'command' })
    expect(node.core.hasReady()).toBe(false)
  })

  it('throws when ready() is called twice without advance()', () => {
    const node = start()
    node.core.tick()
    const rd = node.core.ready()
    expect(node.core.hasReady()).toBe(false) // nothing new while a Ready is in flight
    expect(() => node.core.ready()).toThrow(InvariantError)
    node.core.advance(rd)
    expect(() => node.core.ready()).not.toThrow()
  })

  it('throws when advance() gets a Ready it did not hand out', () => {
    const node = start()
    node.core.tick()
    const rd = node.core.ready()
    expect(() => node.core.advance({ ...rd })).toThrow(InvariantError)
    node.core.advance(rd)
    expect(() => node.core.advance(rd)).toThrow(InvariantError)
  })

  it('persists many proposals in one Ready (group commit) and commits them all in the next', () => {
    const node = leader()
    const tickets = ['a', 'b', 'c', 'd', 'e'].map((s) => node.core.propose(cmd(s)))
    expect(tickets.map((t) => (t.ok ? t.ticket.index : -1))).toEqual([2, 3, 4, 5, 6])

    const readies = drive(node)
    expect(readies).toHaveLength(2)
    expect(readies[0]!.entries.map(text)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(readies[0]!.committedEntries).toEqual([])
    expect(readies[1]!.entries).toEqual([])
    expect(readies[1]!.committedEntries.map(text)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(node.core.status()).toMatchObject({ commit: 6, applied: 6, stable: 6, lastIndex: 6 })
  })

  it('carries a proposal made while a Ready is in flight in the next Ready, uncommitted until then', () => {
    const node = leader()
    node.core.propose(cmd('first'))
    const rd = node.core.ready()
    persist(node.disk, rd)
    node.core.propose(cmd('second')) // arrives while the runtime is writing
    node.core.advance(rd)
    expect(node.core.status()).toMatchObject({ commit: 2, stable: 2, lastIndex: 3 })

    const next = step(node)
    expect(next.entries.map(text)).toEqual(['second'])
    expect(next.committedEntries.map(text)).toEqual(['first'])
    const last = step(node)
    expect(last.committedEntries.map(text)).toEqual(['second'])
  })

  it('asks for fsync when entries or term/vote change, not when only the commit index does', () => {
    const node = start()
    node.core.tick()
    const [first, second] = drive(node)
    // New term and vote plus the noop.
    expect(first!.mustSync).toBe(true)
    // Only the commit index moved.
    expect(second!.hardState).toEqual({ term: 1, vote: 'a', commit: 1 })
    expect(second!.entries).toEqual([])
    expect(second!.mustSync).toBe(false)

    node.core.propose(cmd('x'))
    const [withEntry, commitOnly] = drive(node)
    expect(withEntry!.hardState).toBeNull()
    expect(withEntry!.mustSync).toBe(true)
    expect(commitOnly!.hardState).toEqual({ term: 1, vote: 'a', commit: 2 })
    expect(commitOnly!.mustSync).toBe(false)
  })

  it('asks for fsync on a term and vote change without entries', () => {
    const node = start(emptyDisk(), config('a', new Map([...'abc'].map((id) => [id, 1]))))
    node.core.campaign()
    const rd = node.core.ready()
    expect(rd.entries).toEqual([])
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 0 })
    expect(rd.mustSync).toBe(true)
  })

  it('after a restart leads term 2 and applies every persisted entry exactly once, in order', () => {
    const before = leader()
    before.core.propose(cmd('p1'))
    before.core.propose(cmd('p2'))
    drive(before)
    expect(before.core.status()).toMatchObject({ commit: 3, applied: 3 })

    // p3 and p4 reach the disk, then the process dies before advance(): never committed.
    before.core.propose(cmd('p3'))
    before.core.propose(cmd('p4'))
    const lastRd = before.core.ready()
    persist(before.disk, lastRd)
    expect(before.core.status().commit).toBe(3)
    expect(before.disk.hardState).toEqual({ term: 1, vote: 'a', commit: 3 })
    expect(before.disk.entries.map(text)).toEqual(['<noop>', 'p1', 'p2', 'p3', 'p4'])

    const after = start(before.disk)
    expect(after.core.status()).toMatchObject({ role: 'follower', term: 1, commit: 3, applied: 0, stable: 5 })
    after.core.tick()
    expect(after.core.status()).toMatchObject({ role: 'leader', term: 2, leader: 'a', lastIndex: 6 })
    drive(after)

    expect(after.applied.map((e) => [e.index, e.term, text(e)])).toEqual([
      [1, 1, '<noop>'],
      [2, 1, 'p1'],
      [3, 1, 'p2'],
      [4, 1, 'p3'],
      [5, 1, 'p4'],
      [6, 2, '<noop>'],
    ])
    expect(after.core.status()).toMatchObject({ commit: 6, applied: 6, stable: 6 })
    expect(after.core.canServeReads()).toBe(true)
    expect(after.disk.hardState).toEqual({ term: 2, vote: 'a', commit: 6 })

    // Only the new noop was written again: the old entries keep their original terms on disk.
    expect(after.readies.flatMap((r) => r.entries).map((e) => [e.index, e.term])).toEqual([[6, 2]])
    expect(after.disk.entries.map((e) => e.term)).toEqual([1, 1, 1, 1, 1, 2])
  })

  it('does not commit entries of an older term by counting until one of its own term is stored', () => {
    const before = leader()
    before.core.propose(cmd('p1'))
    const rd = before.core.ready()
    persist(before.disk, rd) // p1 stored at index 2, never committed
    expect(before.disk.hardState.commit).toBe(1)

    const after = start(before.disk)
    const inFlight = after.core.ready() // hands out the noop at 1 for applying
    after.core.tick() // leads term 2 while that Ready is in flight; its noop (3) is not stored yet
    apply(after, inFlight)
    after.core.advance(inFlight)
    // Index 2 is stored by this sole voter, but it is from term 1: it may only commit with the noop.
    expect(after.core.status()).toMatchObject({ role: 'leader', term: 2, stable: 2, commit: 1 })
    drive(after)
    expect(after.core.status()).toMatchObject({ stable: 3, commit: 3, applied: 3 })
    expect(after.applied.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ])
  })

  it('restarts twice in a row without losing or repeating anything', () => {
    const first = leader()
    first.core.propose(cmd('x'))
    drive(first)
    const second = start(first.disk)
    second.core.tick()
    drive(second)
    const third = start(second.disk)
    third.core.tick()
    third.core.propose(cmd('y'))
    drive(third)
    expect(third.applied.map((e) => [e.index, e.term, text(e)])).toEqual([
      [1, 1, '<noop>'],
      [2, 1, 'x'],
      [3, 2, '<noop>'],
      [4, 3, '<noop>'],
      [5, 3, 'y'],
    ])
  })

  it('compacts applied entries and continues from a snapshot after a restart', () => {
    const node = leader()
    for (const s of ['p1', 'p2', 'p3']) node.core.propose(cmd(s))
    drive(node)
    expect(node.core.status()).toMatchObject({ applied: 4, snapshotIndex: 0 })

    node.core.compact({ index: 3, term: 1 }, new Uint8Array(0))
    expect(node.core.status()).toMatchObject({ snapshotIndex: 3, lastIndex: 4, commit: 4, applied: 4 })
    expect(node.core.termOf(2)).toBeUndefined()
    expect(node.core.termOf(3)).toBe(1) // the snapshot's own term is still known
    expect(node.core.termOf(4)).toBe(1)
    // The leader goes on after compaction.
    node.core.propose(cmd('p4'))
    drive(node)
    expect(node.applied.map(text)).toEqual(['<noop>', 'p1', 'p2', 'p3', 'p4'])

    // The runtime drops the compacted entries too, then restarts from the snapshot.
    const disk: Disk = {
      hardState: node.disk.hardState,
      snapshot: { index: 3, term: 1 },
      entries: node.disk.entries.filter((e) => e.index > 3),
    }
    const after = start(disk)
    expect(after.core.status()).toMatchObject({ snapshotIndex: 3, applied: 3, commit: 5, lastIndex: 5 })
    after.core.tick()
    after.core.propose(cmd('p5'))
    drive(after)
    expect(after.applied.map((e) => [e.index, e.term, text(e)])).toEqual([
      [4, 1, 'p3'],
      [5, 1, 'p4'],
      [6, 2, '<noop>'],
      [7, 2, 'p5'],
    ])
    expect(after.core.status()).toMatchObject({ term: 2, commit: 7, applied: 7, snapshotIndex: 3 })
  })

  it('restarts from a snapshot that covers the whole log', () => {
    const node = leader()
    node.core.propose(cmd('p1'))
    drive(node)
    node.core.compact({ index: 2, term: 1 }, new Uint8Array(0))
    const after = start({ hardState: node.disk.hardState, snapshot: { index: 2, term: 1 }, entries: [] })
    after.core.tick()
    drive(after)
    expect(after.applied.map((e) => [e.index, e.term, e.kind])).toEqual([[3, 2, 'noop']])
  })

  it('refuses to compact beyond what is applied or with the wrong term', () => {
    const node = leader()
    node.core.propose(cmd('p1'))
    step(node) // persisted and committed, not applied yet
    expect(node.core.status()).toMatchObject({ commit: 2, applied: 1 })
    expect(() => node.core.compact({ index: 2, term: 1 }, new Uint8Array(0))).toThrow(InvariantError)
    expect(() => node.core.compact({ index: 1, term: 7 }, new Uint8Array(0))).toThrow(InvariantError)
    node.core.compact({ index: 1, term: 1 }, new Uint8Array(0))
    expect(node.core.status().snapshotIndex).toBe(1)
    // Compacting to an older point is a no-op.
    node.core.compact({ index: 0, term: 0 }, new Uint8Array(0))
    expect(node.core.status().snapshotIndex).toBe(1)
  })
})

describe('RaftCore: a Ready whose entries could not be saved (disk full)', () => {
  it('offers the same entries and hard state again, commits nothing meanwhile, and commits once saved', () => {
    const node = leader()
    const proposed = node.core.propose(cmd('x'))
    expect(proposed.ok).toBe(true)
    const failed = node.core.ready()
    expect(failed.entries.map(text)).toEqual(['x'])
    node.core.persistFailed(failed)
    expect(node.core.status().commit).toBe(1)
    // Offered again, with nothing committed past what the disk holds.
    expect(node.core.hasReady()).toBe(true)
    const again = node.core.ready()
    expect(again.entries.map(text)).toEqual(['x'])
    expect(again.committedEntries).toEqual([])
    node.core.persistFailed(again)
    expect(node.core.status().commit).toBe(1)
    // Space is back: the same entry is saved, committed and applied once.
    drive(node)
    expect(node.core.status().commit).toBe(2)
    expect(node.applied.map(text)).toEqual(['<noop>', 'x'])
  })

  it('refuses a Ready that was not handed out, as advance() does', () => {
    const node = leader()
    node.core.propose(cmd('y'))
    const rd = node.core.ready()
    node.core.persistFailed(rd)
    expect(() => node.core.persistFailed(rd)).toThrow(InvariantError)
  })
})

describe('RaftCore: configuration checks', () => {
  it('refuses timing where the election timeout does not exceed the heartbeat', () => {
    expect(() => start(emptyDisk(), config('a', sole, { electionTicks: 2, heartbeatTicks: 2 }))).toThrow(
      InvariantError,
    )
  })

  it('refuses a configuration without votes', () => {
    expect(() => start(emptyDisk(), config('a', new Map([['a', 0]])))).toThrow(InvariantError)
  })

  it('refuses a log whose last term is above the hard state term', () => {
    const disk: Disk = {
      hardState: { term: 1, vote: 'a', commit: 0 },
      snapshot: { index: 0, term: 0 },
      entries: [{ index: 1, term: 2, kind: 'noop', data: new Uint8Array(0) }],
    }
    expect(() => start(disk)).toThrow(InvariantError)
  })
})

describe('RaftCore: more than one member', () => {
  const three: VoterWeights = new Map([
    ['a', 1],
    ['b', 1],
    ['c', 1],
  ])

  it('a non-voter (weight 0) never campaigns', () => {
    const node = start(
      emptyDisk(),
      config(
        'b',
        new Map([
          ['a', 1],
          ['b', 0],
        ]),
      ),
    )
    for (let i = 0; i < 200; i++) node.core.tick()
    expect(node.core.status()).toMatchObject({ role: 'follower', term: 0, leader: null })
    expect(node.core.hasReady()).toBe(false)
    node.core.campaign() // refused quietly: it has no vote to campaign with
    expect(node.core.status()).toMatchObject({ role: 'follower', term: 0 })
    expect(node.core.propose(cmd('x'))).toMatchObject({ ok: false, leader: null })
  })

  it('a member missing from the voters never campaigns either', () => {
    const node = start(emptyDisk(), config('z', sole))
    for (let i = 0; i < 200; i++) node.core.tick()
    expect(node.core.status()).toMatchObject({ role: 'follower', term: 0 })
  })

  it('one of three voters campaigns after its election timeout but does not win alone', () => {
    const node = start(emptyDisk(), config('a', three))
    for (let i = 0; i < 9; i++) node.core.tick()
    expect(node.core.status()).toMatchObject({ role: 'follower', term: 0 })

    node.core.tick() // the 10th tick: random() = 0 gives a timeout of exactly electionTicks
    expect(node.core.status()).toMatchObject({ role: 'candidate', term: 1, leader: null })
    const rd = step(node)
    expect(rd.softState).toEqual({ role: 'candidate', leader: null })
    expect(rd.hardState).toEqual({ term: 1, vote: 'a', commit: 0 })
    expect(rd.entries).toEqual([])
    expect(node.core.propose(cmd('x'))).toMatchObject({ ok: false, leader: null })
    expect(node.core.canServeReads()).toBe(false)

    for (let i = 0; i < 100; i++) {
      node.core.tick()
      drive(node)
    }
    const status = node.core.status()
    expect(status.role).toBe('candidate')
    expect(status.term).toBeGreaterThan(1) // it keeps retrying in new terms
    expect(status.lastIndex).toBe(0) // and never appended a leader's noop
  })

  it('an explicit campaign in a three-voter config leaves it a candidate', () => {
    const node = start(emptyDisk(), config('a', three))
    node.core.campaign()
    expect(node.core.status()).toMatchObject({ role: 'candidate', term: 1, leader: null, lastIndex: 0 })
    node.core.campaign()
    expect(node.core.status()).toMatchObject({ role: 'candidate', term: 2 })
  })

  it('randomizes the election timeout in [n, n + jitter·n) from the injected random', () => {
    // Default jitter 0.5: 10 + floor(0.999 * 10 * 0.5) = 14 ticks.
    const node = start(emptyDisk(), config('a', three, { random: () => 0.999 }))
    for (let i = 0; i < 14; i++) node.core.tick()
    expect(node.core.status().role).toBe('candidate')
    const early = start(emptyDisk(), config('a', three, { random: () => 0.999 }))
    for (let i = 0; i < 13; i++) early.core.tick()
    expect(early.core.status().role).toBe('follower')
    // Raft's classic [n, 2n) with jitter 1: 10 + floor(0.999 * 10) = 19 ticks.
    const wide = start(emptyDisk(), config('a', three, { random: () => 0.999, electionJitter: 1 }))
    for (let i = 0; i < 18; i++) wide.core.tick()
    expect(wide.core.status().role).toBe('follower')
    wide.core.tick()
    expect(wide.core.status().role).toBe('candidate')
  })

  it('a voter holding a majority of the weight by itself wins and commits alone', () => {
    const node = start(
      emptyDisk(),
      config(
        'a',
        new Map([
          ['a', 2],
          ['b', 1],
        ]),
      ),
    )
    node.core.tick()
    expect(node.core.status().role).toBe('follower') // not a sole voter: it waits for the timeout
    node.core.campaign()
    expect(node.core.status()).toMatchObject({ role: 'leader', term: 1 })
    node.core.propose(cmd('x'))
    drive(node)
    expect(node.applied.map(text)).toEqual(['<noop>', 'x'])
  })
})

describe('RaftLog', () => {
  const e = (index: number, term = 1, s = `e${index}`): Entry => ({
    index,
    term,
    kind: 'command',
    data: cmd(s),
  })
  const log = (entries: Entry[], committed = 0, snapshot: SnapshotMeta = { index: 0, term: 0 }) =>
    new RaftLog(snapshot, entries, committed)

  it('starts with restored entries stable and the commit clamped to the log', () => {
    const l = log([e(1), e(2), e(3)], 9)
    expect([l.firstIndex(), l.lastIndex(), l.lastTerm(), l.stable, l.committed, l.applied]).toEqual([
      1, 3, 1, 3, 3, 0,
    ])
    expect(l.unstableEntries()).toEqual([])
    expect(l.nextCommitted().map((x) => x.index)).toEqual([1, 2, 3])
  })

  it('never puts the commit below the snapshot', () => {
    const l = log([e(6)], 0, { index: 5, term: 1 })
    expect([l.firstIndex(), l.committed, l.applied, l.stable]).toEqual([6, 5, 5, 6])
    expect(l.term(5)).toBe(1)
    expect(l.term(4)).toBeUndefined()
    expect(l.entry(5)).toBeUndefined()
    expect(l.entry(6)?.index).toBe(6)
  })

  it('throws when an append would overwrite a committed entry', () => {
    const l = log([e(1), e(2), e(3)], 2)
    expect(() => l.append([e(2, 2)])).toThrow(InvariantError)
    expect(() => l.append([e(1, 2)])).toThrow(/overwrite committed/)
    expect(l.entry(2)?.term).toBe(1)
  })

  it('overwrites an uncommitted tail and lowers stable to before it', () => {
    const l = log([e(1), e(2), e(3)], 1)
    l.append([e(2, 2, 'new')])
    expect(l.lastIndex()).toBe(2)
    expect(l.lastTerm()).toBe(2)
    expect(l.stable).toBe(1)
    expect(l.unstableEntries().map((x) => [x.index, x.term])).toEqual([[2, 2]])
  })

  it('throws on a gap and on non-contiguous entries', () => {
    const l = log([e(1)])
    expect(() => l.append([e(3)])).toThrow(/gap/)
    expect(() => l.append([e(2), e(4)])).toThrow(InvariantError)
    expect(l.lastIndex()).toBe(1)
  })

  it('throws when restored entries do not follow the snapshot', () => {
    expect(() => log([e(8)], 0, { index: 5, term: 1 })).toThrow(InvariantError)
    expect(() => log([e(5)], 0, { index: 5, term: 1 })).toThrow(InvariantError)
  })

  it('throws when stable, commit or applied run past what exists', () => {
    const l = log([e(1), e(2)], 1)
    expect(() => l.stableTo(3)).toThrow(InvariantError)
    expect(() => l.commitTo(3)).toThrow(InvariantError)
    expect(() => l.appliedTo(2)).toThrow(InvariantError)
    expect(l.commitTo(1)).toBe(false)
    expect(l.commitTo(2)).toBe(true)
    l.appliedTo(2)
    expect(l.applied).toBe(2)
  })

  it('throws when compacting beyond applied, and compacts what is applied', () => {
    const l = log([e(1), e(2), e(3)], 3)
    l.appliedTo(2)
    expect(() => l.compact({ index: 3, term: 1 })).toThrow(/beyond applied/)
    expect(() => l.compact({ index: 2, term: 9 })).toThrow(InvariantError)
    l.compact({ index: 2, term: 1 })
    expect(l.snapshotMeta()).toEqual({ index: 2, term: 1 })
    expect([l.firstIndex(), l.lastIndex()]).toEqual([3, 3])
    expect(l.nextCommitted().map((x) => x.index)).toEqual([3])
  })
})
