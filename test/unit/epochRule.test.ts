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
const anyone: EpochContext = { fromLeader: false }
const leaderSays: EpochContext = { fromLeader: true }

describe('meetEpoch', () => {
  const cases: [string, EpochIdentity, EpochIdentity, EpochContext, EpochMeeting][] = [
    [
      'a confirmed newer epoch is followed, even by a working cluster',
      boot,
      forced(1, 'a/x', false),
      anyone,
      'follow',
    ],
    ['and when its leader says so', boot, forced(1, 'a/x', false), leaderSays, 'follow'],
    // Following means wiping: entries of the old epoch that only this node holds would be lost
    // without the operator having asserted anything.
    ['an unconfirmed newer epoch is followed by nobody', boot, forced(1, 'a/x', true), anyone, 'tell'],
    ['not even when its leader says so', boot, forced(1, 'a/x', true), leaderSays, 'tell'],
    [
      'an unconfirmed epoch yields to a leader of an older epoch',
      forced(1, 'a/x', true),
      boot,
      leaderSays,
      'follow',
    ],
    ['but not to a follower or candidate of it', forced(1, 'a/x', true), boot, anyone, 'tell'],
    ['a confirmed epoch never yields to an older one', forced(1, 'a/x', false), boot, leaderSays, 'tell'],
    [
      'same number: the unconfirmed one follows the confirmed one',
      forced(2, 'a/x', true),
      forced(2, 'b/y', false),
      anyone,
      'follow',
    ],
    [
      'same number: the confirmed one stays',
      forced(2, 'a/x', false),
      forced(2, 'b/y', true),
      leaderSays,
      'tell',
    ],
    [
      'same number, both unconfirmed: neither gives way (each waits for its operator)',
      forced(2, 'b/y', true),
      forced(2, 'a/x', true),
      leaderSays,
      'tell',
    ],
    [
      'same number, both unconfirmed, the other way round',
      forced(2, 'a/x', true),
      forced(2, 'b/y', true),
      leaderSays,
      'tell',
    ],
    [
      'same number, both confirmed: a conflict, never merged',
      forced(2, 'a/x', false),
      forced(2, 'b/y', false),
      anyone,
      'conflict',
    ],
    [
      'same number, both confirmed: a conflict when its leader speaks too',
      forced(2, 'a/x', false),
      forced(2, 'b/y', false),
      leaderSays,
      'conflict',
    ],
  ]
  for (const [name, mine, theirs, ctx, expected] of cases)
    it(name, () => expect(meetEpoch(mine, theirs, ctx)).toBe(expected))
})
