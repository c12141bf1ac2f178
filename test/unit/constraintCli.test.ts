/** How the CLI reads `--lifetime` and prints a constraint (src/cli/commands/constraintCommands.ts). */
import { describe, expect, it } from 'vitest'
import { describeConstraint, parseLifetime } from '../../src/cli/commands/constraintCommands.ts'

describe('--lifetime', () => {
  it('reads short forms and ISO 8601 durations', () => {
    expect(parseLifetime('90s')).toBe(90_000)
    expect(parseLifetime('30m')).toBe(1_800_000)
    expect(parseLifetime('1h30m')).toBe(5_400_000)
    expect(parseLifetime('2d')).toBe(172_800_000)
    expect(parseLifetime('PT1H')).toBe(3_600_000)
    expect(parseLifetime('P1DT12H')).toBe(129_600_000)
    expect(parseLifetime('pt5m')).toBe(300_000)
  })

  it('refuses what is no lifetime, or less than a second', () => {
    for (const bad of ['', '1', 'h', '1x', '-1h', '0s', 'P', 'PT', 'P1M', '1h 30m', 'soon'])
      expect(() => parseLifetime(bad), bad).toThrow(/expected a lifetime/)
  })
})

describe('constraints in print', () => {
  const now = Date.UTC(2025, 0, 1, 10, 0, 0)
  it('says what, where, until when and how long is left', () => {
    expect(describeConstraint({ node: 'atl-1', kind: 'ban', expiresAt: null }, now)).toBe(
      'banned from atl-1 until cleared',
    )
    expect(describeConstraint({ node: 'atl-1', kind: 'prefer', expiresAt: now + 5_400_000 }, now)).toBe(
      'preferred on atl-1 until 2025-01-01T11:30:00.000Z (1h30m left)',
    )
    expect(describeConstraint({ node: 'atl-1', kind: 'ban', expiresAt: now + 20_000 }, now)).toMatch(
      /\(20s left\)$/,
    )
    expect(describeConstraint({ node: 'atl-1', kind: 'ban', expiresAt: now - 1 }, now)).toMatch(
      /\(expired\)$/,
    )
  })
})
