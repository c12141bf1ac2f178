/**
 * Scenarios that read like the seeds: a cluster driven by hand through the simulator, with its
 * safety checks on (except where a forced quorum discards history on purpose).
 * Sites: n1 and n3 are in dc1, n2 and n4 in dc2, the witness w in dc3.
 */
import { describe, expect, it } from 'vitest'
import { RaftCore } from '../../src/consensus/raftCore.ts'
import type { HistoryOp } from './linearizability.ts'
import { SimCluster, type SimConfig, simDefaults } from './simCluster.ts'

function cluster(over: Partial<SimConfig> = {}): SimCluster {
  return new SimCluster({ ...simDefaults, seed: 11, spares: 0, faultTicks: 0, clients: 0, ...over })
}

function leaderOf(c: SimCluster, budget = 400): string {
  if (
    !c.runUntil(
      () => c.leader()?.core instanceof RaftCore && (c.leader()!.core as RaftCore).committedInTerm(),
      budget,
    )
  ) {
    throw new Error('no leader within budget')
  }
  return c.leader()!.id
}

/** A write through the current leader, waited for; true when acknowledged. */
function commit(c: SimCluster, value: string, budget = 300): boolean {
  const leader = c.leader()
  if (leader === undefined) return false
  const op = c.write('k', value, leader.id)
  c.runUntil(() => op.returnedAt !== undefined || op.failed === true, budget)
  return acked(op)
}

const acked = (op: HistoryOp) => op.returnedAt !== undefined && op.failed !== true

/** Tries writes through every live node for `ticks`; returns how many were acknowledged. */
function acceptedWrites(c: SimCluster, ticks: number): number {
  const ops: HistoryOp[] = []
  for (let t = 0; t < ticks; t += 10) {
    for (const n of c.nodes.values())
      if (n.alive && n.kind === 'node') ops.push(c.write('k', `try-${c.now}-${n.id}`, n.id))
    c.runTicks(10)
  }
  return ops.filter(acked).length
}

describe('2 sites × 2 nodes + a witness at a third site', () => {
  const geo = () => cluster({ voters: 4, witness: true })

  it('loses one site and carries on', () => {
    const c = geo()
    leaderOf(c)
    expect(commit(c, 'before')).toBe(true)
    c.crash('n1')
    c.crash('n3')
    const leader = leaderOf(c)
    expect(['n2', 'n4']).toContain(leader)
    expect(commit(c, 'after')).toBe(true)
    expect(c.runUntil(() => ['n2', 'n4'].every((id) => c.nodes.get(id)!.kv.get('k') === 'after'), 50)).toBe(
      true,
    )
  })

  it('loses the witness and one site: no quorum, no write accepted', () => {
    const c = geo()
    leaderOf(c)
    expect(commit(c, 'before')).toBe(true)
    const committedBefore = c.invariants.committed.size
    c.crash('w')
    c.crash('n1')
    c.crash('n3')
    expect(acceptedWrites(c, 600)).toBe(0)
    // Nothing new was committed anywhere.
    expect(c.invariants.committed.size).toBe(committedBefore)
    expect(
      c.leader()?.core instanceof RaftCore && (c.leader()!.core as RaftCore).committedInTerm(),
    ).toBeFalsy()
  })

  it('a whole-site split where the witness sides with dc2: dc2 writes, dc1 cannot', () => {
    const c = geo()
    leaderOf(c)
    c.partition([
      ['n1', 'n3'],
      ['n2', 'n4', 'w'],
    ])
    c.runTicks(80)
    const leader = leaderOf(c)
    expect(['n2', 'n4']).toContain(leader)
    expect(commit(c, 'dc2')).toBe(true)
    const dc1 = ['n1', 'n3'].map((id) => c.write('k', `dc1-${id}`, id))
    c.runTicks(200)
    expect(dc1.filter(acked)).toEqual([])
  })
})

describe('no partition in time', () => {
  it('a stale node plus the witness cannot form a cluster after the others moved on', () => {
    const c = cluster({ voters: 2, witness: true })
    leaderOf(c)
    expect(commit(c, 'v1')).toBe(true)
    c.crash('n1')
    // n2 and the witness go on without n1.
    leaderOf(c)
    expect(c.leader()!.id).toBe('n2')
    expect(commit(c, 'v2')).toBe(true)
    expect(commit(c, 'v3')).toBe(true)
    c.crash('n2')
    // n1 comes back with its old log: the witness remembers it is behind and refuses it.
    c.restart('n1')
    expect(acceptedWrites(c, 600)).toBe(0)
    expect(c.core('n1').status().role).not.toBe('leader')
    expect(c.witness()!.status().mark.index).toBeGreaterThan(c.core('n1').status().lastIndex)
    // With n2 back, the cluster continues from n2's history and n1 catches up.
    c.restart('n2')
    leaderOf(c)
    expect(commit(c, 'v4')).toBe(true)
    c.runTicks(50)
    expect(c.nodes.get('n1')!.kv.get('k')).toBe('v4')
  })
})

describe('dynamic quorum', () => {
  it('5 nodes lose 3, one at a time, and stay quorate', () => {
    const c = cluster({ voters: 5, dynamicQuorum: true })
    let leader = leaderOf(c)
    for (let lost = 0; lost < 3; lost++) {
      const victim = ['n1', 'n2', 'n3', 'n4', 'n5'].find((id) => id !== leader && c.nodes.get(id)!.alive)!
      c.crash(victim)
      // The leader takes the silent node's vote away through the log.
      const gone = c.runUntil(() => {
        const l = c.leader()
        return (
          l !== undefined &&
          (l.core as RaftCore).config().incoming[victim] === 0 &&
          (l.core as RaftCore).config().outgoing === null
        )
      }, 400)
      expect(gone, `vote of ${victim} removed`).toBe(true)
      leader = leaderOf(c)
      expect(commit(c, `after-${lost}`)).toBe(true)
    }
    const config = (c.leader()!.core as RaftCore).config()
    const votes = Object.values(config.incoming).reduce((a, b) => a + b, 0)
    expect(votes).toBe(1) // two nodes left: one of them breaks the tie by giving up its vote
  })

  it('without dynamic quorum the same losses end the quorum', () => {
    const c = cluster({ voters: 5 })
    const leader = leaderOf(c)
    for (const victim of ['n1', 'n2', 'n3', 'n4', 'n5'].filter((id) => id !== leader).slice(0, 3))
      c.crash(victim)
    expect(acceptedWrites(c, 400)).toBe(0)
  })

  it('gives a vote back when the node returns', () => {
    const c = cluster({ voters: 3, dynamicQuorum: true })
    const leader = leaderOf(c)
    const victim = ['n1', 'n2', 'n3'].find((id) => id !== leader)!
    c.crash(victim)
    expect(
      c.runUntil(() => (c.leader()?.core as RaftCore | undefined)?.config().incoming[victim] === 0, 400),
    ).toBe(true)
    c.restart(victim)
    expect(
      c.runUntil(() => (c.leader()?.core as RaftCore | undefined)?.config().incoming[victim] === 1, 400),
    ).toBe(true)
  })

  it('dynamic witness: the witness votes only while the nodes are even', () => {
    const c = cluster({ voters: 3, witness: true, dynamicQuorum: true })
    leaderOf(c)
    expect(c.runUntil(() => (c.leader()!.core as RaftCore).config().incoming.w === 0, 400)).toBe(true)
    const leader = c.leader()!.id
    c.crash(['n1', 'n2', 'n3'].find((id) => id !== leader)!)
    expect(c.runUntil(() => (c.leader()?.core as RaftCore | undefined)?.config().incoming.w === 1, 400)).toBe(
      true,
    )
    expect(commit(c, 'two nodes and the witness')).toBe(true)
  })
})

describe('even split without a witness', () => {
  it('has no quorum on either side', () => {
    const c = cluster({ voters: 4 })
    leaderOf(c)
    c.partition([
      ['n1', 'n2'],
      ['n3', 'n4'],
    ])
    c.runTicks(60)
    expect(acceptedWrites(c, 500)).toBe(0)
  })
})

describe('even split with a tie-breaker (quorum.tieBreaker)', () => {
  // Dynamic quorum keeps 2+2 nodes at 3 votes; the tie-breaker says whose vote goes.
  const fourNodes = (lowerQuorumPriority: string[]) =>
    cluster({ voters: 4, dynamicQuorum: true, lowerQuorumPriority })
  // Every node holds the same final weights (a node still on the joint configuration would need
  // both halves' majorities, which a split then denies both sides).
  const settled = (c: SimCluster, votes: Record<string, number>) =>
    c.runUntil(() => {
      const l = c.leader()
      if (l === undefined || !(l.core as RaftCore).committedInTerm()) return false
      const want = JSON.stringify((l.core as RaftCore).config())
      return (
        ['n1', 'n2', 'n3', 'n4'].every((id) => JSON.stringify(c.core(id).config()) === want) &&
        (l.core as RaftCore).config().outgoing === null &&
        Object.entries(votes).every(([id, w]) => (l.core as RaftCore).config().incoming[id] === w)
      )
    }, 600)
  const splitSites = (c: SimCluster) => {
    c.partition([
      ['n1', 'n3'],
      ['n2', 'n4'],
    ])
    c.runTicks(80)
  }

  it('preferSite dc2: dc2 keeps quorum in a 2+2 split, even with the leader in dc1 when it happens', () => {
    // Without the tie-breaker, n4 (last by name) would give up its vote under a dc1 leader.
    const c = fourNodes(['n3', 'n1'])
    leaderOf(c)
    expect(settled(c, { n2: 1, n4: 1 })).toBe(true)
    // Move leadership to the voting node of dc1 and let the new leader settle the weights.
    const dc1Voter = ['n1', 'n3'].find((id) => (c.leader()!.core as RaftCore).config().incoming[id] === 1)!
    if (c.leader()!.id !== dc1Voter) {
      expect(c.core(c.leader()!.id).transferLeadership(dc1Voter)).toBe(true)
      expect(c.runUntil(() => c.leader()?.id === dc1Voter, 200)).toBe(true)
    }
    expect(settled(c, { n2: 1, n4: 1, [dc1Voter]: 1 })).toBe(true)
    expect(c.leader()!.id).toBe(dc1Voter)
    splitSites(c)
    expect(['n2', 'n4']).toContain(leaderOf(c))
    expect(commit(c, 'dc2 carries on')).toBe(true)
    const dc1 = ['n1', 'n3'].map((id) => c.write('k', `dc1-${id}`, id))
    c.runTicks(200)
    expect(dc1.filter(acked)).toEqual([])
  })

  it('lowerPriorityNode: the leader itself gives up its vote, steps down, and its side loses the split', () => {
    // The same seed elects the same first leader: name it the lower-priority node.
    const lower = leaderOf(fourNodes([]))
    const c = fourNodes([lower])
    expect(leaderOf(c)).toBe(lower)
    expect(settled(c, { [lower]: 0 })).toBe(true)
    // Once its vote is gone for good, it no longer leads; the next leader keeps the vote away.
    expect(c.runUntil(() => c.leader() !== undefined && c.leader()!.id !== lower, 300)).toBe(true)
    expect(settled(c, { [lower]: 0 })).toBe(true)
    expect(c.leader()!.id).not.toBe(lower)
    const lowerSide = ['n1', 'n3'].includes(lower) ? ['n1', 'n3'] : ['n2', 'n4']
    splitSites(c)
    expect(lowerSide).not.toContain(leaderOf(c))
    expect(commit(c, 'the other side carries on')).toBe(true)
    const lost = lowerSide.map((id) => c.write('k', `lost-${id}`, id))
    c.runTicks(200)
    expect(lost.filter(acked)).toEqual([])
  })
})

describe('elections', () => {
  it('pre-vote: a node back from a partition does not unseat a healthy leader', () => {
    const c = cluster({ voters: 3 })
    const leader = leaderOf(c)
    const term = c.core(leader).status().term
    const loner = ['n1', 'n2', 'n3'].find((id) => id !== leader)!
    c.partition([[loner], ['n1', 'n2', 'n3'].filter((id) => id !== loner)])
    c.runTicks(300)
    expect(c.core(loner).status().term).toBe(term) // pre-votes failed: its term never moved
    c.healNetwork()
    c.runTicks(100)
    expect(c.leader()!.id).toBe(leader)
    expect(c.core(leader).status().term).toBe(term)
  })

  it('check-quorum: a leader cut off from the majority steps down', () => {
    const c = cluster({ voters: 3 })
    const leader = leaderOf(c)
    c.partition([[leader], ['n1', 'n2', 'n3'].filter((id) => id !== leader)])
    expect(c.runUntil(() => c.core(leader).status().role !== 'leader', 2 * c.config.electionTicks + 2)).toBe(
      true,
    )
    const next = leaderOf(c)
    expect(next).not.toBe(leader)
  })

  it('leadership transfer for a planned shutdown', () => {
    const c = cluster({ voters: 3 })
    const leader = leaderOf(c)
    const term = c.core(leader).status().term
    const to = ['n1', 'n2', 'n3'].find((id) => id !== leader)!
    expect(c.core(leader).transferLeadership(to)).toBe(true)
    c.nodes.get(leader)!.drain()
    expect(c.runUntil(() => c.leader()?.id === to, c.config.electionTicks)).toBe(true)
    expect(c.core(to).status().term).toBe(term + 1)
    expect(commit(c, 'after transfer')).toBe(true)
  })
})

describe('reads', () => {
  it('a read-index read through a follower sees every acknowledged write', () => {
    const c = cluster({ voters: 3 })
    const leader = leaderOf(c)
    expect(commit(c, 'fresh')).toBe(true)
    const follower = ['n1', 'n2', 'n3'].find((id) => id !== leader)!
    const read = c.read('k', follower)
    c.runUntil(() => read.returnedAt !== undefined, 100)
    expect(read.result).toBe('fresh')
  })

  it('a deposed leader cut off from the majority never answers a read', () => {
    const c = cluster({ voters: 3 })
    const leader = leaderOf(c)
    c.partition([[leader], ['n1', 'n2', 'n3'].filter((id) => id !== leader)])
    const read = c.read('k', leader)
    c.runTicks(200)
    expect(read.returnedAt).toBeUndefined()
  })
})

describe('catch-up', () => {
  it('installs a snapshot on a follower that fell behind the compacted log', () => {
    const c = cluster({ voters: 3, snapshotEvery: 10 })
    const leader = leaderOf(c)
    const behind = ['n1', 'n2', 'n3'].find((id) => id !== leader)!
    c.partition([[behind], ['n1', 'n2', 'n3'].filter((id) => id !== behind)])
    for (let i = 0; i < 30; i++) expect(commit(c, `w${i}`)).toBe(true)
    expect(c.nodes.get(leader)!.disk.snapshot?.meta.index ?? 0).toBeGreaterThan(10)
    c.healNetwork()
    expect(c.runUntil(() => c.nodes.get(behind)!.kv.get('k') === 'w29', 300)).toBe(true)
    expect(c.nodes.get(behind)!.disk.snapshot).not.toBeNull()
  })
})

describe('membership and weights through joint consensus', () => {
  it('adds a node, removes another, and moves weight, committing throughout', () => {
    const c = cluster({ voters: 3, spares: 1 })
    const leader = leaderOf(c)
    const core = () => c.leader()!.core as RaftCore
    const change = (base: Record<string, number>) => {
      expect(core().changeConfiguration({ incoming: base, base, witness: null }).ok).toBe(true)
      c.leader()!.drain()
      expect(
        c.runUntil(
          () =>
            c.leader() !== undefined &&
            core().config().outgoing === null &&
            JSON.stringify(core().config().base) === JSON.stringify(base),
          400,
        ),
      ).toBe(true)
    }
    change({ n1: 1, n2: 1, n3: 1, s1: 1 })
    expect(commit(c, 'four')).toBe(true)
    expect(c.runUntil(() => c.nodes.get('s1')!.kv.get('k') === 'four', 200)).toBe(true)
    const removed = ['n1', 'n2', 'n3'].find((id) => id !== leader)!
    const base: Record<string, number> = { n1: 1, n2: 1, n3: 1, s1: 1 }
    delete base[removed]
    base[leader] = 2
    change(base)
    expect(commit(c, 'weighted')).toBe(true)
    c.crash(removed)
    expect(commit(c, 'without the removed node')).toBe(true)
  })

  it('refuses a second change while one is under way', () => {
    const c = cluster({ voters: 3 })
    leaderOf(c)
    const core = c.leader()!.core as RaftCore
    expect(
      core.changeConfiguration({ incoming: { n1: 1, n2: 1 }, base: { n1: 1, n2: 1 }, witness: null }).ok,
    ).toBe(true)
    expect(core.changeConfiguration({ incoming: { n1: 1 }, base: { n1: 1 }, witness: null })).toMatchObject({
      ok: false,
      reason: 'a configuration change is under way',
    })
  })
})

describe('force quorum', () => {
  it('a confirmed forced partition is authoritative: a majority that kept going is rebuilt from it, losing its later writes', () => {
    const c = cluster({ voters: 5, checks: false })
    leaderOf(c)
    expect(commit(c, 'agreed')).toBe(true)
    c.partition([['n1'], ['n2', 'n3', 'n4', 'n5']])
    c.runTicks(60)
    // The operator asserted that the other side was down, and was wrong.
    c.core('n1').forceQuorum({ nonce: 'x', confirmed: true })
    c.nodes.get('n1')!.drain()
    c.runTicks(5)
    const forced = c.write('k', 'forced', 'n1')
    c.runUntil(() => forced.returnedAt !== undefined, 50)
    expect(acked(forced)).toBe(true) // the operator's override works alone
    // Meanwhile the majority, which never stopped, elects its own leader and writes.
    const majorityLeader = () => ['n2', 'n3', 'n4', 'n5'].find((id) => c.core(id).status().role === 'leader')
    expect(
      c.runUntil(() => majorityLeader() !== undefined && c.core(majorityLeader()!).committedInTerm(), 200),
    ).toBe(true)
    const majority = c.write('k', 'majority', majorityLeader()!)
    c.runUntil(() => majority.returnedAt !== undefined, 200)
    expect(acked(majority)).toBe(true)
    c.healNetwork()
    // The majority meets n1's newer epoch, wipes its history and is rebuilt from n1 (WSFC: the
    // forced copy is golden; force quorum said what it would cost).
    expect(c.runUntil(() => [...c.nodes.values()].every((n) => n.kv.get('k') === 'forced'), 600)).toBe(true)
    for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) expect(c.core(id).config().epoch, id).toBe(1)
    expect(c.core('n1').status().role).toBe('leader')
  })

  it('forced on a live minority without confirmation: no write is taken there, and nothing the majority acknowledged is lost', () => {
    const c = cluster({ voters: 5, checks: false })
    leaderOf(c)
    expect(commit(c, 'agreed')).toBe(true)
    c.partition([
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ])
    c.runTicks(60)
    c.core('n1').forceQuorum({ nonce: 'x', confirmed: false })
    c.nodes.get('n1')!.drain()
    c.runTicks(5)
    const forced = c.write('k', 'forced', 'n1')
    c.runUntil(() => forced.returnedAt !== undefined, 50)
    expect(acked(forced)).toBe(false)
    const majorityLeader = () => ['n3', 'n4', 'n5'].find((id) => c.core(id).status().role === 'leader')
    expect(
      c.runUntil(() => majorityLeader() !== undefined && c.core(majorityLeader()!).committedInTerm(), 200),
    ).toBe(true)
    const majority = c.write('k', 'majority', majorityLeader()!)
    c.runUntil(() => majority.returnedAt !== undefined, 200)
    expect(acked(majority)).toBe(true)
    c.healNetwork()
    // n1 meets the working majority and gives its epoch up; everyone keeps the majority's write.
    expect(c.runUntil(() => [...c.nodes.values()].every((n) => n.kv.get('k') === 'majority'), 600)).toBe(true)
    for (const id of ['n1', 'n2', 'n3', 'n4', 'n5']) expect(c.core(id).config().epoch, id).toBe(0)
  })

  it('nodes without a working cluster adopt the forced one, which becomes normal again once a majority is back', () => {
    const c = cluster({ voters: 3, checks: false, dynamicQuorum: true })
    leaderOf(c)
    expect(commit(c, 'agreed')).toBe(true)
    c.crash('n1')
    c.crash('n2')
    c.crash('n3')
    c.restart('n1')
    c.core('n1').forceQuorum({ nonce: 'x', confirmed: true })
    c.nodes.get('n1')!.drain()
    c.runTicks(5)
    expect(commit(c, 'after the disaster')).toBe(true)
    c.restart('n2')
    c.restart('n3')
    // They join n1's epoch; n1 gives their votes back and leaves forced mode.
    expect(
      c.runUntil(() => {
        const cfg = (c.leader()?.core as RaftCore | undefined)?.config()
        return (
          cfg !== undefined &&
          !cfg.forced &&
          cfg.incoming.n2 === 1 &&
          cfg.incoming.n3 === 1 &&
          cfg.outgoing === null
        )
      }, 600),
    ).toBe(true)
    expect(c.nodes.get('n2')!.kv.get('k')).toBe('after the disaster')
    // A real quorum again: losing the node that forced it is survivable.
    c.crash('n1')
    leaderOf(c, 600)
    expect(commit(c, 'normal again')).toBe(true)
  })
})
