/**
 * Frames a member sent and received on the mesh, by direction, protocol and kind (a consensus
 * message's type, `ping` or `pong`, an admin request): what an idle cluster costs is mostly how
 * many frames cross the mesh, each paying for its encryption, muxing and a socket write, so the
 * counts are kept where they can be read (`/metrics`, bench:idle) rather than guessed from code.
 * Plain counters: one map update per frame.
 */

export type FrameDirection = 'in' | 'out'

export interface FrameCount {
  direction: FrameDirection
  protocol: string
  kind: string
  frames: number
}

export class MeshTraffic {
  private readonly counts = new Map<string, FrameCount>()

  note(direction: FrameDirection, protocol: string, kind: string): void {
    const key = `${direction} ${protocol} ${kind}`
    const c = this.counts.get(key)
    if (c === undefined) this.counts.set(key, { direction, protocol, kind, frames: 1 })
    else c.frames++
  }

  /** Every count so far, since the member started. */
  list(): FrameCount[] {
    return [...this.counts.values()].map((c) => ({ ...c }))
  }
}
