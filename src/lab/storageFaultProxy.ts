/**
 * An HTTP proxy on loopback in front of an object-storage emulator (Azurite): it forwards every
 * request, after a delay when asked (the WAN between a site and the cloud region), and can answer
 * throttling instead (503 Server Busy, as Azure Storage does when an account is over its
 * targets). The lab uses it for the cloud witness's WAN delay; tests and the benchmark for slow
 * and throttled answers. Requests are signed over the path, not the host, so a proxy on another
 * port needs no re-signing.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface StorageFaults {
  /** Added before each request is forwarded (ms): the round trip a WAN adds to each request. */
  delayMs: number
  /** Answer this many of the next requests with 503 Server Busy instead of forwarding them. */
  throttleNext: number
}

export class StorageFaultProxy {
  /** Requests answered with 503 so far. */
  throttled = 0
  /** Requests forwarded so far. */
  forwarded = 0
  private readonly server: Server
  private readonly target: { host: string; port: number }
  private readonly sockets = new Set<Socket>()
  private faults: StorageFaults = { delayMs: 0, throttleNext: 0 }

  private constructor(server: Server, target: { host: string; port: number }) {
    this.server = server
    this.target = target
  }

  /** Listens on 127.0.0.1 (`port`, or a free one), forwarding to `target`. */
  static async start(target: { host: string; port: number }, port = 0): Promise<StorageFaultProxy> {
    let proxy: StorageFaultProxy | null = null
    const server = createServer((req, res) => proxy!.handle(req, res))
    proxy = new StorageFaultProxy(server, target)
    server.on('connection', (s) => {
      proxy!.sockets.add(s)
      s.once('close', () => proxy!.sockets.delete(s))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    return proxy
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port
  }

  /** The endpoint through the proxy for a path-style account: `http://127.0.0.1:PORT/account`. */
  endpointFor(account: string): string {
    return `http://127.0.0.1:${this.port}/${account}`
  }

  set(faults: Partial<StorageFaults>): void {
    this.faults = { ...this.faults, ...faults }
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.faults.throttleNext > 0) {
      this.faults.throttleNext--
      this.throttled++
      // Drain the body first: the client may still be sending it.
      req.resume()
      req.once('end', () => {
        const body =
          '<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>' +
          '<Message>The server is busy (geocluster fault proxy).</Message></Error>'
        res.writeHead(503, {
          'content-type': 'application/xml',
          'x-ms-error-code': 'ServerBusy',
          'content-length': Buffer.byteLength(body),
        })
        res.end(body)
      })
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.once('end', () => {
      const forward = () => {
        if (res.destroyed) return
        this.forwarded++
        const upstream = request(
          {
            host: this.target.host,
            port: this.target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers)
            up.pipe(res)
          },
        )
        upstream.once('error', () => res.destroy())
        res.once('close', () => upstream.destroy())
        upstream.end(Buffer.concat(chunks))
      }
      if (this.faults.delayMs > 0) setTimeout(forward, this.faults.delayMs)
      else forward()
    })
  }
}
