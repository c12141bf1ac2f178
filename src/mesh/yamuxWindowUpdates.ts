/**
 * yamux window updates at half the window, as Go's yamux sends them.
 *
 * js-libp2p's yamux (8.x, stream.js `sendWindowUpdate`) answers every data frame it receives
 * with a window update: any byte consumed leaves the window below its size, and it tops it up at
 * once. On a cluster's traffic — small frames, one at a time — that is an extra frame for every
 * message in each direction, each sealed by Noise, XORed by the private network and written to
 * the socket: a third of a node's socket writes under load and half of its frames when idle
 * (bench:mesh, BENCHMARKS.md). Go's yamux, which the protocol comes from, sends an update only
 * once half of the window is used, or when a flag (SYN, ACK) must go; this restores that for
 * established streams. The sender may still have half a window (128 KiB by default) in flight,
 * so nothing waits on it.
 */
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

interface WindowFields {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
}

let installed = false

/** Installs the rule on every yamux stream of this process (idempotent). */
export function sendWindowUpdatesAtHalfWindow(): void {
  if (installed) return
  installed = true
  const eachFrame = YamuxStream.prototype.sendWindowUpdate
  YamuxStream.prototype.sendWindowUpdate = function (this: YamuxStream): void {
    const s = this as unknown as WindowFields
    if (s.state === StreamState.Established && s.recvWindowCapacity * 2 > s.recvWindow) return
    eachFrame.call(this)
  }
}
