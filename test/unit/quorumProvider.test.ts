/**
 * The quorum providers the node asks instead of asking which model it runs: what each says of
 * the quorum, of votes, of earlier leaders, and whether the operator may force quorum.
 */
import { describe, expect, it } from 'vitest'
import { initialConfiguration } from '../../src/consensus/configuration.ts'
import { RaftCore } from '../../src/consensus/raftCore.ts'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import type { LogStorage } from '../../src/runtime/logStorage.ts'
import { MemoryLogDisk } from '../../src/runtime/memoryLogStorage.ts'
import { StorageHealth } from '../../src/runtime/storageHealth.ts'
import { LocalQuorum, MajorityQuorum } from '../../src/runtime/voteQuorum.ts'
import { StorageExhaustedError } from '../../src/storage/storageErrors.ts'

function provider(kind: 'majority' | 'local', weights: Record<string, number>) {
  const disk = new MemoryLogDisk()
  const { storage } = disk.open()
  const events: string[] = []
  const full = { on: false }
  const wal: LogStorage = {
    append: (batch) => {
      if (full.on)
        throw new StorageExhaustedError('/wal', Object.assign(new Error('full'), { code: 'ENOSPC' }))
      storage.append(batch)
    },
    sync: () => storage.sync(),
    reset: (h) => storage.reset(h),
    markSnapshot: (m) => storage.markSnapshot(m),
    rollForCompaction: () => storage.rollForCompaction(),
    releaseTo: (i) => storage.releaseTo(i),
    statistics: () => storage.statistics(),
    close: () => storage.close(),
  }
  const core = new RaftCore(
    {
      id: 'a',
      electionTicks: 10,
      heartbeatTicks: 1,
      random: () => 0.5,
      dynamicQuorum: null,
      preventQuorum: false,
    },
    {
      hardState: { term: 0, vote: null, commit: 0 },
      snapshot: { index: 0, term: 0 },
      entries: [],
      initialConfig: initialConfiguration(weights, null),
    },
  )
  const parts = {
    model: kind === 'local' ? ('local' as const) : ('node-majority' as const),
    core,
    wal,
    storage: new StorageHealth({ name: 'a', monotonic: () => 0, emit: (e) => events.push(e.type) }),
    timing: {
      tickMs: 100,
      heartbeatTicks: 1,
      electionTicks: 10,
      sameSiteDownMs: 1000,
      crossSiteDownMs: 1000,
    },
  }
  return {
    q: kind === 'local' ? new LocalQuorum(parts) : new MajorityQuorum(parts),
    core,
    disk,
    events,
    full,
  }
}

describe('the vote quorum providers', () => {
  it('majority: meshed, not a lone voter, may be forced; says votes, needed votes and the epoch', () => {
    const { q, core } = provider('majority', { a: 1, b: 1, c: 1 })
    expect(q.meshed).toBe(true)
    expect(q.soleVoter).toBe(false)
    expect(q.forceRefusal()).toBeNull()
    expect(q.holdsDisk()).toBeNull()
    expect(q.votesOf('b')).toBe(1)
    expect(q.votesOf('nobody')).toBe(0)
    expect(q.quorumStatus(core.status(), false, 1)).toMatchObject({
      model: 'node-majority',
      state: 'no-quorum',
      votesPresent: 1,
      votesTotal: 3,
      votesNeeded: 2,
      epoch: 0,
      confirmed: true,
      conflict: null,
      rebuilding: false,
    })
    expect(q.earlierLeaders(core.status())).toEqual({ model: 'votes', earlierLeaderHeardMsAgo: null })
    const recovered = new ClusterDatabase()
    expect(q.startingDatabase(recovered)).toBe(recovered)
  })

  it('local: a lone voter without a mesh that refuses to be forced', () => {
    const { q } = provider('local', { a: 1 })
    expect(q.meshed).toBe(false)
    expect(q.soleVoter).toBe(true)
    expect(q.forceRefusal()).toMatch(/lab node is its own quorum/)
  })

  it('persists a Ready into the log storage; a full disk sends nothing, says so once, and the core offers it again', async () => {
    const { q, core, disk, events, full } = provider('local', { a: 1 })
    for (let i = 0; i < 30 && !core.hasReady(); i++) core.tick()
    full.on = true
    const refused = core.ready()
    expect(refused.hardState).not.toBeNull()
    expect(await q.persist(refused)).toBe(false)
    expect(events).toEqual(['storage:error'])
    expect(disk.hardState.term).toBe(0)
    full.on = false
    expect(core.hasReady()).toBe(true)
    const again = core.ready()
    expect(await q.persist(again)).toBe(true)
    core.advance(again)
    expect(disk.hardState.term).toBeGreaterThan(0)
    expect(events).toEqual(['storage:error', 'storage:recovered'])
  })
})
