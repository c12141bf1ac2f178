/**
 * Frames a member sent and received on the mesh, by direction, protocol and kind (a consensus
 * message's type, `ping` or `pong`, an admin request): what an idle cluster costs is mostly how
 * many frames cross the mesh, each paying for its encryption, muxing and a socket write, so the
 * counts are kept where they can be read (`/metrics`, bench:idle) rather than guessed from code.
 * Plain counters: two map lookups and an increment per frame.
 */

export type FrameDirection = 'in' | 'out'

export interface FrameCount {
  direction: FrameDirection
  protocol: string
  kind: string
  frames: number
}

export class MeshTraffic {
  /** By direction, protocol, then kind: nothing is built per frame but the first of its kind. */
  private readonly counts: Record<FrameDirection, Map<string, Map<string, FrameCount>>> = {
    in: new Map(),
    out: new Map(),
  }

  note(direction: FrameDirection, protocol: string, kind: string): void {
    let kinds = this.counts[direction].get(protocol)
    if (kinds === undefined) {
      kinds = new Map()
      this.counts[direction].set(protocol, kinds)
    }
    const c = kinds.get(kind)
    if (c === undefined) kinds.set(kind, { direction, protocol, kind, frames: 1 })
    else c.frames++
  }

  /** Every count so far, since the member started. */
  list(): FrameCount[] {
    return [this.counts.in, this.counts.out].flatMap((byProtocol) =>
      [...byProtocol.values()].flatMap((kinds) => [...kinds.values()].map((c) => ({ ...c }))),
    )
  }
}
