/**
 * A userspace WAN between sites on one machine (no root, no netem): a TCP proxy in front of each
 * node. The topology gives each node the proxy's address; nodes dial out from their own loopback
 * IP, so the proxy knows which node (and site) a connection comes from and applies that site
 * pair's one-way latency and jitter in each direction. Links can be cut both ways or one way (the
 * reading side stops, so TCP backpressure stalls the sender exactly as a black hole would), and
 * connections reset.
 */
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface EmulatedNode {
  name: string
  site: string
  /** The IP the node dials from (its own loopback address) and listens on. */
  ip: string
  /** Where the node really listens. */
  port: number
  /** Where the proxy in front of it listens (what the topology lists as its address). */
  proxyHost: string
  proxyPort: number
}

export interface LinkDelay {
  oneWayMs: number
  jitterMs: number
}

interface Pipe {
  from: string
  to: string
  client: Socket
  upstream: Socket
}

/** One direction of a proxied connection: delivers chunks in order, each after its delay. */
class DelayedFlow {
  private queue: { at: number; chunk: Buffer }[] = []
  private timer: NodeJS.Timeout | null = null
  private lastAt = 0
  private ending = false
  private readonly out: Socket
  private readonly delay: () => number

  constructor(out: Socket, delay: () => number) {
    this.out = out
    this.delay = delay
  }

  push(chunk: Buffer): void {
    const d = this.delay()
    if (d <= 0 && this.queue.length === 0) {
      this.out.write(chunk)
      return
    }
    // Order is kept: a chunk never overtakes the one before it.
    this.lastAt = Math.max(this.lastAt, performance.now() + d)
    this.queue.push({ at: this.lastAt, chunk })
    this.arm()
  }

  private arm(): void {
    if (this.timer !== null || this.queue.length === 0) return
    this.timer = setTimeout(
      () => {
        this.timer = null
        const now = performance.now()
        while (this.queue.length > 0 && this.queue[0]!.at <= now + 0.5) {
          if (!this.out.destroyed) this.out.write(this.queue.shift()!.chunk)
          else this.queue.shift()
        }
        if (this.ending && this.queue.length === 0) this.out.end()
        this.arm()
      },
      Math.max(0, this.queue[0]!.at - performance.now()),
    )
  }

  /** The sender finished (FIN): end `out` once every chunk queued before it is written. */
  end(): void {
    this.ending = true
    if (this.queue.length === 0) this.out.end()
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.queue = []
  }
}

export class WanEmulator {
  private readonly nodes: EmulatedNode[]
  private readonly byIp = new Map<string, EmulatedNode>()
  private readonly servers: Server[] = []
  private readonly pipes = new Set<Pipe>()
  private readonly delays = new Map<string, LinkDelay>()
  /** Directed cuts `from>to` between node names. */
  private readonly cuts = new Set<string>()
  private readonly random: () => number

  constructor(nodes: EmulatedNode[], options: { random?: () => number } = {}) {
    this.nodes = nodes
    for (const n of nodes) this.byIp.set(n.ip, n)
    this.random = options.random ?? Math.random
  }

  async start(): Promise<void> {
    for (const target of this.nodes) {
      const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) =>
        this.accept(target, client),
      )
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(target.proxyPort, target.proxyHost, () => resolve())
      })
      this.servers.push(server)
    }
  }

  async stop(): Promise<void> {
    for (const p of this.pipes) {
      p.client.destroy()
      p.upstream.destroy()
    }
    this.pipes.clear()
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))))
  }

  /** One-way latency between two sites, both directions. */
  setLatency(siteA: string, siteB: string, delay: LinkDelay): void {
    this.delays.set(`${siteA}>${siteB}`, delay)
    this.delays.set(`${siteB}>${siteA}`, delay)
  }

  /** Cuts links from every node of `from` to every node of `to` (names or sites); both ways unless `oneWay`. */
  cut(from: string[], to: string[], options: { oneWay?: boolean } = {}): void {
    for (const a of this.expand(from)) {
      for (const b of this.expand(to)) {
        if (a === b) continue
        this.cuts.add(`${a}>${b}`)
        if (options.oneWay !== true) this.cuts.add(`${b}>${a}`)
      }
    }
    this.applyCuts()
  }

  /** Restores every link (or only those between `from` and `to`). */
  restore(from?: string[], to?: string[]): void {
    if (from === undefined || to === undefined) this.cuts.clear()
    else
      for (const a of this.expand(from))
        for (const b of this.expand(to)) {
          this.cuts.delete(`${a}>${b}`)
          this.cuts.delete(`${b}>${a}`)
        }
    this.applyCuts()
  }

  /** Resets (RST) every proxied connection touching these nodes or sites (all when omitted). */
  reset(which?: string[]): void {
    const names = which === undefined ? null : new Set(this.expand(which))
    for (const p of [...this.pipes]) {
      if (names !== null && !names.has(p.from) && !names.has(p.to)) continue
      p.client.resetAndDestroy()
      p.upstream.resetAndDestroy()
      this.pipes.delete(p)
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  private expand(names: string[]): string[] {
    const out: string[] = []
    for (const n of names) {
      const bySite = this.nodes.filter((x) => x.site === n).map((x) => x.name)
      out.push(...(bySite.length > 0 ? bySite : [n]))
    }
    return out
  }

  private delayOf(from: EmulatedNode | undefined, to: EmulatedNode): () => number {
    return () => {
      if (from === undefined) return 0
      const d = this.delays.get(`${from.site}>${to.site}`)
      if (d === undefined) return 0
      return d.oneWayMs + (d.jitterMs > 0 ? (this.random() * 2 - 1) * d.jitterMs : 0)
    }
  }

  private accept(target: EmulatedNode, client: Socket): void {
    const source = this.byIp.get(client.remoteAddress?.replace(/^::ffff:/, '') ?? '')
    const from = source?.name ?? `?${client.remoteAddress}`
    // From the caller's own address, as a member's connections arrive across a real WAN.
    const upstream = connect({
      host: target.ip,
      port: target.port,
      noDelay: true,
      allowHalfOpen: true,
      ...(source === undefined ? {} : { localAddress: source.proxyHost }),
    })
    client.setNoDelay(true)
    const pipe: Pipe = { from, to: target.name, client, upstream }
    this.pipes.add(pipe)
    const forward = new DelayedFlow(upstream, this.delayOf(source, target))
    const backward = new DelayedFlow(client, source === undefined ? () => 0 : this.delayOf(target, source))
    client.on('data', (chunk: Buffer) => forward.push(chunk))
    upstream.on('data', (chunk: Buffer) => backward.push(chunk))
    const close = () => {
      forward.stop()
      backward.stop()
      client.destroy()
      upstream.destroy()
      this.pipes.delete(pipe)
    }
    // A FIN travels like data: after what was sent before it, and one way only (half-close).
    client.on('end', () => forward.end())
    upstream.on('end', () => backward.end())
    let closed = 0
    const closedOne = () => {
      if (++closed === 2) close()
    }
    client.on('close', closedOne)
    upstream.on('close', closedOne)
    client.on('error', close)
    upstream.on('error', close)
    upstream.once('connect', () => this.applyPipe(pipe))
  }

  private applyCuts(): void {
    for (const p of this.pipes) this.applyPipe(p)
  }

  /** A cut direction stops reading its sender: the bytes wait in TCP's buffers, as in a black hole. */
  private applyPipe(p: Pipe): void {
    if (this.cuts.has(`${p.from}>${p.to}`)) p.client.pause()
    else p.client.resume()
    if (this.cuts.has(`${p.to}>${p.from}`)) p.upstream.pause()
    else p.upstream.resume()
  }
}
