/**
 * Site-aware failure detection (the Node Manager's heartbeats): every member is pinged every
 * heartbeat period; one silent for `threshold` periods — the same-site or the cross-site
 * setting, by where it is — is down. Pure: time comes in as monotonic milliseconds.
 */

export type PeerState = 'up' | 'down' | 'joining'

export interface PeerTiming {
  heartbeatMs: number
  threshold: number
}

interface PeerRecord {
  timing: PeerTiming
  lastHeardMs: number | null
  rttMs: number | null
  /** Since when we have been trying to hear from it (start, or when it became a member). */
  sinceMs: number
  /** The state last handed out by `changes` (null: none yet). */
  reported: PeerState | null
}

export interface PeerChange {
  name: string
  state: PeerState
  /** How long it has been silent (null when never heard). */
  silentMs: number | null
  /** Its detection window: heartbeat period × threshold. */
  windowMs: number
}

export class FailureDetector {
  private readonly peers = new Map<string, PeerRecord>()

  /** Sets who is watched and with which timing; keeps what is known about existing peers. */
  setPeers(peers: ReadonlyMap<string, PeerTiming>, nowMs: number): void {
    for (const name of [...this.peers.keys()]) if (!peers.has(name)) this.peers.delete(name)
    for (const [name, timing] of peers) {
      const known = this.peers.get(name)
      if (known === undefined)
        this.peers.set(name, { timing, lastHeardMs: null, rttMs: null, sinceMs: nowMs, reported: null })
      else known.timing = timing
    }
  }

  heard(name: string, nowMs: number, rttMs?: number): void {
    const p = this.peers.get(name)
    if (p === undefined) return
    p.lastHeardMs = nowMs
    // A smoothed round trip (TCP's 7/8 rule), for status and validation.
    if (rttMs !== undefined) p.rttMs = p.rttMs === null ? rttMs : p.rttMs * 0.875 + rttMs * 0.125
  }

  /** Peers due a ping at `nowMs`, given when each was last pinged. */
  dueForPing(lastPingMs: ReadonlyMap<string, number>, nowMs: number): string[] {
    const out: string[] = []
    for (const [name, p] of this.peers) {
      const last = lastPingMs.get(name)
      if (last === undefined || nowMs - last >= p.timing.heartbeatMs) out.push(name)
    }
    return out
  }

  state(name: string, nowMs: number): PeerState | undefined {
    const p = this.peers.get(name)
    if (p === undefined) return undefined
    const window = p.timing.heartbeatMs * p.timing.threshold
    if (p.lastHeardMs === null) return nowMs - p.sinceMs < window ? 'joining' : 'down'
    return nowMs - p.lastHeardMs < window ? 'up' : 'down'
  }

  /**
   * What changed since the last call: a peer's first verdict (up or down; still joining is not
   * news) and every change after it. A suspected member shows here once, when it goes down.
   */
  changes(nowMs: number): PeerChange[] {
    const out: PeerChange[] = []
    for (const [name, p] of this.peers) {
      const state = this.state(name, nowMs)!
      if (state === p.reported || (p.reported === null && state === 'joining')) continue
      p.reported = state
      out.push({
        name,
        state,
        silentMs: p.lastHeardMs === null ? null : Math.round(nowMs - p.lastHeardMs),
        windowMs: p.timing.heartbeatMs * p.timing.threshold,
      })
    }
    return out
  }

  /** When anything last came from this peer (monotonic ms), or null if never. */
  lastHeard(name: string): number | null {
    return this.peers.get(name)?.lastHeardMs ?? null
  }

  rtt(name: string): number | null {
    return this.peers.get(name)?.rttMs ?? null
  }

  names(): string[] {
    return [...this.peers.keys()]
  }
}
