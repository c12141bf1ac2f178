/**
 * Leader stability, checked against what the simulator delivered: a leader that a majority still
 * hears is not deposed by an election. It is the outcome of in-lease vote refusal (raftCore
 * ignores vote and pre-vote requests while it heard its leader within the election timeout,
 * Raft thesis §4.2.3, etcd's CheckQuorum): a node cut off from the leader, or one whose clock
 * runs fast, cannot take leadership from one the rest of the cluster hears — and it is what
 * keeps a flapping WAN link from becoming a stream of elections.
 *
 * Why it holds: a node that wins an election by votes (no hand-over, no forced quorum) wins a
 * majority of its configuration, each voter having heard no leader for an election timeout on
 * its own clock, or having just restarted (a restart forgets what the process heard, and so does
 * this check). So none of its voters accepted a leader's message less than an election timeout
 * before (in real time, allowing for the fastest clock): the members that did must leave a
 * majority outside them.
 */
import { jointHasMajority, votersOf } from '../../src/consensus/quorum/jointQuorum.ts'
import type { Configuration } from '../../src/consensus/types.ts'
import { Violation } from './invariants.ts'

/** The fastest a node's clock may run against real time (the simulator's drift is within ±10 %). */
const fastestClockRate = 1.1

export class LeaderStability {
  /** member -> the last message it accepted from its leader: the leader's term, simulator tick */
  private readonly heard = new Map<string, { leader: string; term: number; at: number }>()
  /** Real ticks within which a node has not yet counted an election timeout since it heard. */
  private readonly windowTicks: number
  checks = 0

  constructor(electionTicks: number) {
    // E node ticks after a delivery take at least (E - 1) / rate real ticks (the first may come
    // at once); one tick less keeps the check on the safe side of the tick order.
    this.windowTicks = Math.floor((electionTicks - 1) / fastestClockRate) - 1
  }

  /** `id` accepted a message of `leader`'s term `term` as its follower at simulator tick `now`. */
  accepted(id: string, leader: string, term: number, now: number): void {
    this.heard.set(id, { leader, term, at: now })
  }

  /** `id` crashed or restarted: what its earlier process heard no longer holds it back. */
  forget(id: string): void {
    this.heard.delete(id)
  }

  /** `id` won term `term` by votes counted in `config` at simulator tick `now`. */
  elected(id: string, term: number, config: Configuration, now: number): void {
    this.checks++
    const hearing = new Map<string, { leader: string; term: number; at: number }>()
    for (const [member, h] of this.heard)
      if (member !== id && h.term < term && now - h.at < this.windowTicks) hearing.set(member, h)
    const others = [...votersOf(config)].filter((v) => !hearing.has(v))
    if (jointHasMajority(config, others)) return
    const who = [...hearing].map(([m, h]) => `${m} (heard ${h.leader} term ${h.term} at ${h.at})`)
    throw new Violation(
      `leader stability: ${id} won term ${term} at ${now} while ${who.join(', ')} still heard a leader within the election timeout — enough that its voters must include one of them (in-lease vote refusal)`,
    )
  }
}
