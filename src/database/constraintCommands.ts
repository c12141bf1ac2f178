/**
 * The commands of an operator's placement constraints (`group move --lifetime`, `group ban`,
 * `group clear`) and the leader's expiry of them. Shapes only, as in commands.ts; whether one
 * makes sense against the state is decided by `applyConstraintCommand`, the same on every node.
 */
import { z } from 'zod'
import { constraintRules } from './entities.ts'
import { namePattern, nameRule } from './keySpace.ts'

const name = z.string().regex(namePattern, `expected a name: ${nameRule}`)
/** Wall-clock ms since the epoch; 2^48 ms is in the year 10889. */
const wallMs = z
  .number()
  .int()
  .min(0)
  .max(2 ** 48)

/** The longest lifetime a constraint may be given: a year (without one it holds until cleared). */
export const constraintLifetimeMsMax = 366 * 24 * 3_600_000

export const constraintCommands = [
  /** `name`: the group. `at`: the proposer's wall clock, against which bans still hold. */
  z.strictObject({
    op: z.literal('constraint.add'),
    name,
    node: name,
    rule: z.enum(constraintRules),
    expiresAt: wallMs.nullable(),
    at: wallMs,
  }),
  /** Removes the group's constraints (only those on `node` when it is given). */
  z.strictObject({ op: z.literal('constraint.clear'), name, node: name.nullable() }),
  /**
   * The leader saw the constraint expire on its clock (`at`): a compare-and-set on `expiresAt`,
   * so a constraint renewed meanwhile is not removed by a stale expiry.
   */
  z.strictObject({ op: z.literal('constraint.expire'), name, node: name, expiresAt: wallMs, at: wallMs }),
] as const
