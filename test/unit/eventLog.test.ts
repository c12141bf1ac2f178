import { describe, expect, it } from 'vitest'
import { EventLog } from '../../src/events/eventLog.ts'

const log = (capacity: number) => new EventLog({ node: 'n1', now: () => 0, capacity })
const emitN = (l: EventLog, n: number) => {
  for (let i = 0; i < n; i++) l.emit({ type: 'database:changed', severity: 'info', message: `m${i}` })
}

describe('EventLog', () => {
  it('numbers events from 1 and returns them oldest first', () => {
    const l = log(10)
    emitN(l, 3)
    expect(l.since(0).map((e) => e.seq)).toEqual([1, 2, 3])
    expect(l.since(1).map((e) => e.seq)).toEqual([2, 3])
    expect(l.since(3)).toEqual([])
    expect(l.lastSeq).toBe(3)
  })

  it('keeps only the newest `capacity` events once the ring wraps', () => {
    const l = log(4)
    emitN(l, 11)
    expect(l.since(0).map((e) => e.seq)).toEqual([8, 9, 10, 11])
    expect(l.since(9).map((e) => e.seq)).toEqual([10, 11])
    expect(l.since(0, 2).map((e) => e.seq)).toEqual([10, 11])
    expect(l.recent(3).map((e) => e.message)).toEqual(['m8', 'm9', 'm10'])
  })

  it('tells subscribers of every event until they unsubscribe', () => {
    const l = log(2)
    const seen: number[] = []
    const stop = l.subscribe((e) => seen.push(e.seq))
    emitN(l, 3)
    stop()
    emitN(l, 1)
    expect(seen).toEqual([1, 2, 3])
  })
})
