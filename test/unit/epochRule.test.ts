/** What a node does when it meets another epoch (src/consensus/epochRule.ts), as a table. */
import { describe, expect, it } from 'vitest'
import type { EpochIdentity } from '../../src/consensus/configuration.ts'
import { type EpochContext, type EpochMeeting, meetEpoch } from '../../src/consensus/epochRule.ts'

const boot: EpochIdentity = { epoch: 0, epochId: '', unconfirmed: false }
const forced = (epoch: number, id: string, unconfirmed: boolean): EpochIdentity => ({
  epoch,
  epochId: id,
  unconfirmed,
})
const working: EpochContext = { quorate: true, longSilent: false, fromLeader: false }
const survivor: EpochContext = { quorate: false, longSilent: true, fromLeader: false }
const justLost: EpochContext = { quorate: false, longSilent: false, fromLeader: false }
const leaderSays: EpochContext = { quorate: false, longSilent: false, fromLeader: true }

describe('meetEpoch', () => {
  const cases: [string, EpochIdentity, EpochIdentity, EpochContext, EpochMeeting][] = [
    [
      'a confirmed newer epoch is followed, even by a working cluster',
      boot,
      forced(1, 'a/x', false),
      working,
      'follow',
    ],
    [
      'an unconfirmed newer epoch is joined by a long-silent survivor',
      boot,
      forced(1, 'a/x', true),
      survivor,
      'follow',
    ],
    [
      'an unconfirmed newer epoch does not move a working cluster',
      boot,
      forced(1, 'a/x', true),
      working,
      'tell',
    ],
    ['nor a node that lost its leader only just now', boot, forced(1, 'a/x', true), justLost, 'tell'],
    [
      'an unconfirmed epoch yields to a leader of an older epoch',
      forced(1, 'a/x', true),
      boot,
      leaderSays,
      'follow',
    ],
    ['but not to a follower or candidate of it', forced(1, 'a/x', true), boot, survivor, 'tell'],
    ['a confirmed epoch never yields to an older one', forced(1, 'a/x', false), boot, leaderSays, 'tell'],
    [
      'same number: the unconfirmed one follows the confirmed one',
      forced(2, 'a/x', true),
      forced(2, 'b/y', false),
      working,
      'follow',
    ],
    [
      'same number: the confirmed one stays',
      forced(2, 'a/x', false),
      forced(2, 'b/y', true),
      working,
      'tell',
    ],
    [
      'same number, both unconfirmed: the later id follows the earlier',
      forced(2, 'b/y', true),
      forced(2, 'a/x', true),
      working,
      'follow',
    ],
    [
      'same number, both unconfirmed: the earlier id stays',
      forced(2, 'a/x', true),
      forced(2, 'b/y', true),
      working,
      'tell',
    ],
    [
      'same number, both confirmed: a conflict, never merged',
      forced(2, 'a/x', false),
      forced(2, 'b/y', false),
      working,
      'conflict',
    ],
    [
      'same number, both confirmed: a conflict for a survivor too',
      forced(2, 'a/x', false),
      forced(2, 'b/y', false),
      survivor,
      'conflict',
    ],
  ]
  for (const [name, mine, theirs, ctx, expected] of cases)
    it(name, () => expect(meetEpoch(mine, theirs, ctx)).toBe(expected))
})
