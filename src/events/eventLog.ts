/**
 * A bounded in-memory log of this node's events with live subscribers (SSE, logs). Bounded so
 * a flapping resource cannot grow memory without limit; the oldest events drop first.
 */
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

  constructor(init: { node: string; now: () => number; capacity?: number }) {
    this.node = init.node
    this.now = init.now
    this.capacity = init.capacity ?? eventLogCapacityDefault
  }

  emit(input: ClusterEventInput): ClusterEvent {
    const event: ClusterEvent = {
      seq: this.nextSeq++,
      time: new Date(this.now()).toISOString(),
      node: this.node,
      ...input,
    }
    this.buffer.push(event)
    if (this.buffer.length > this.capacity) this.buffer.splice(0, this.buffer.length - this.capacity)
    for (const listener of this.listeners) listener(event)
    return event
  }

  /** Events with `seq` greater than `after`, oldest first, at most `limit`. */
  since(after: number, limit = this.capacity): ClusterEvent[] {
    const out = this.buffer.filter((e) => e.seq > after)
    return out.slice(Math.max(0, out.length - limit))
  }

  recent(limit: number): ClusterEvent[] {
    return this.buffer.slice(Math.max(0, this.buffer.length - limit))
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  get lastSeq(): number {
    return this.nextSeq - 1
  }
}
