/**
 * The transport's twin: members of one `MemoryNetwork` reach each other in memory, in order per
 * pair, each message delivered on a later turn of the event loop (as a socket would). A message
 * to a member that is not there, or whose handler refused it, or one sent in another member's
 * name, is lost.
 */
import type { Message } from '../consensus/types.ts'
import type { Transport } from './transport.ts'

export class MemoryNetwork {
  private readonly handlers = new Map<string, (m: Message) => boolean>()
  private readonly queue: Message[] = []
  private flushing = false
  /** Messages lost so far (no such member, or refused). */
  lost = 0

  /** The transport of member `name`. */
  endpoint(name: string): Transport {
    return {
      send: (m) => {
        // The mesh refuses a sender that speaks as another member; so does its twin.
        if (m.from === name) this.enqueue(m)
        else this.lost++
      },
      deliverTo: (handler) => {
        this.handlers.set(name, handler)
      },
    }
  }

  private enqueue(m: Message): void {
    this.queue.push(m)
    if (this.flushing) return
    this.flushing = true
    setImmediate(() => this.flush())
  }

  private flush(): void {
    this.flushing = false
    for (const m of this.queue.splice(0)) {
      const handler = this.handlers.get(m.to)
      if (handler === undefined || !handler(m)) this.lost++
    }
  }
}
