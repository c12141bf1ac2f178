/**
 * A bounded in-memory log of this node's events with live subscribers (SSE, logs). Bounded so
 * a flapping resource cannot grow memory without limit; the oldest events drop first.
 */
import { assert } from '../errors/assert.ts'
import type { ClusterEvent, ClusterEventInput } from './clusterEvent.ts'

export const eventLogCapacityDefault = 10_000

export type EventListener = (event: ClusterEvent) => void

export class EventLog {
  private readonly node: string
  private readonly capacity: number
  private readonly now: () => number
  private readonly buffer: ClusterEvent[] = []
  private readonly listeners = new Set<EventListener>()
  private nextSeq = 1
  /** Index of the oldest event once the ring is full. */
  private head = 0

  /**
   * `history`: events from before a restart (the journal's), oldest first with growing `seq`;
   * the newest of them are kept and numbering goes on after the last, so an SSE client's
   * Last-Event-ID still means the same event.
   */
  constructor(init: { node: string; now: () => number; capacity?: number; history?: ClusterEvent[] }) {
    this.node = init.node
    this.now = init.now
    this.capacity = init.capacity ?? eventLogCapacityDefault
    const history = init.history ?? []
    for (let i = 1; i < history.length; i++)
      assert(history[i]!.seq > history[i - 1]!.seq, 'event history is in order of seq')
    this.buffer.push(...history.slice(Math.max(0, history.length - this.capacity)))
    this.nextSeq = (history.at(-1)?.seq ?? 0) + 1
  }

  emit(input: ClusterEventInput): ClusterEvent {
    const event: ClusterEvent = {
      seq: this.nextSeq++,
      time: new Date(this.now()).toISOString(),
      node: this.node,
      ...input,
    }
    // A ring: once full, each event overwrites the oldest in place.
    if (this.buffer.length < this.capacity) this.buffer.push(event)
    else {
      this.buffer[this.head] = event
      this.head = (this.head + 1) % this.capacity
    }
    for (const listener of this.listeners) listener(event)
    return event
  }

  /** Events with `seq` greater than `after`, oldest first, at most `limit` (the newest ones). */
  since(after: number, limit = this.capacity): ClusterEvent[] {
    const ordered = this.ordered()
    // Sequence numbers grow (with gaps where the journal left events out): binary search.
    let low = 0
    let high = ordered.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (ordered[mid]!.seq <= after) low = mid + 1
      else high = mid
    }
    return ordered.slice(Math.max(low, ordered.length - limit))
  }

  recent(limit: number): ClusterEvent[] {
    return this.since(0, limit)
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private ordered(): ClusterEvent[] {
    return this.head === 0
      ? this.buffer
      : [...this.buffer.slice(this.head), ...this.buffer.slice(0, this.head)]
  }

  get lastSeq(): number {
    return this.nextSeq - 1
  }
}
