/** The chaos run's lost-write checker (test/chaos/lostWrites.ts) finds a lost write and passes a kept one. */
import { describe, expect, it } from 'vitest'
import { lostWrites } from '../chaos/lostWrites.ts'
import type { HistoryOp } from '../sim/linearizability.ts'

const w = (id: number, key: string, value: string, invokedAt: number, returnedAt?: number): HistoryOp => ({
  id,
  client: 0,
  op: { kind: 'write', key, value },
  invokedAt,
  ...(returnedAt === undefined ? {} : { returnedAt }),
})
const final = (key: string, result: string | null): HistoryOp => ({
  id: 99,
  client: 1,
  op: { kind: 'read', key },
  invokedAt: 1_000,
  returnedAt: 1_001,
  result,
})

describe('lost writes', () => {
  const history = [w(1, 'a', 'x', 0, 10), w(2, 'a', 'y', 20, 30), w(3, 'a', 'z', 25)]
  it('keeps: the final value is the last acknowledged write, or one still in flight with it', () => {
    expect(lostWrites(history, [final('a', 'y')])).toEqual({ checked: 2, lost: [] })
    expect(lostWrites(history, [final('a', 'z')])).toEqual({ checked: 2, lost: [] })
  })
  it('catches: an older value came back, a value nobody wrote, or the key vanished', () => {
    expect(lostWrites(history, [final('a', 'x')]).lost).toEqual(['a'])
    expect(lostWrites(history, [final('a', 'q')]).lost).toEqual(['a'])
    expect(lostWrites(history, [final('a', null)]).lost).toEqual(['a'])
  })
})
