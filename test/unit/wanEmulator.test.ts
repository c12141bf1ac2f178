/**
 * The userspace WAN (src/lab/wanEmulator.ts) over real loopback sockets: two nodes on their own
 * loopback IPs in sites `x` and `y`, each behind a proxy; clients dial from a node's IP (its
 * identity to the proxy). Checks delivery, per-site-pair latency, order under jitter, cuts both
 * ways and one way, resets and stop. Timing assertions are functional (is there a delay at all),
 * with generous slack, not benchmarks.
 */
import { once } from 'node:events'
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { type EmulatedNode, WanEmulator } from '../../src/lab/wanEmulator.ts'
import { Prng } from '../sim/prng.ts'

const X_IP = '127.0.30.1'
const Y_IP = '127.0.30.2'
const X_PROXY = '127.0.31.1'
const Y_PROXY = '127.0.31.2'
/** Dials from here are from no node the emulator knows. */
const STRANGER_IP = '127.0.30.9'

/** How long "nothing arrives" is watched for while a link is cut. */
const STALL_MS = 150

// ---- resources, all closed after each test ------------------------------------------------------

const servers: Server[] = []
const sockets = new Set<Socket>()
let emulator: WanEmulator | null = null

afterEach(async () => {
  for (const s of sockets) s.destroy()
  sockets.clear()
  if (emulator !== null) await emulator.stop()
  emulator = null
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))))
  servers.length = 0
})

interface Inbox {
  socket: Socket
  text: string
  closed: boolean
  error: NodeJS.ErrnoException | null
}

function track(socket: Socket): Inbox {
  sockets.add(socket)
  const box: Inbox = { socket, text: '', closed: false, error: null }
  socket.on('data', (d: Buffer) => {
    box.text += d.toString('latin1')
  })
  socket.on('error', (e: NodeJS.ErrnoException) => {
    box.error = e
  })
  socket.on('close', () => {
    box.closed = true
    sockets.delete(socket)
  })
  return box
}

/** A node's real server: echoes (or only records) and may greet every connection. */
interface NodeServer {
  port: number
  /** Server ends of accepted connections, in order. */
  conns: Inbox[]
}

async function nodeServer(ip: string, mode: { echo: boolean; greet?: string }): Promise<NodeServer> {
  const out: NodeServer = { port: 0, conns: [] }
  const server = createServer((s) => {
    const box = track(s)
    out.conns.push(box)
    if (mode.echo) s.on('data', (d: Buffer) => s.write(d))
    if (mode.greet !== undefined) s.write(mode.greet)
  })
  servers.push(server)
  server.listen(0, ip)
  await once(server, 'listening')
  out.port = (server.address() as AddressInfo).port
  return out
}

/** A port the OS considers free on `host` right now (the proxy binds it next). */
async function freePort(host: string): Promise<number> {
  const probe = createServer()
  probe.listen(0, host)
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

interface Lab {
  x: EmulatedNode
  y: EmulatedNode
  sx: NodeServer
  sy: NodeServer
  wan: WanEmulator
}

async function lab(
  mode: { echo: boolean; greet?: string } = { echo: true },
  options: { random?: () => number } = {},
): Promise<Lab> {
  const sx = await nodeServer(X_IP, mode)
  const sy = await nodeServer(Y_IP, mode)
  const x: EmulatedNode = {
    name: 'x1',
    site: 'x',
    ip: X_IP,
    port: sx.port,
    proxyHost: X_PROXY,
    proxyPort: await freePort(X_PROXY),
  }
  const y: EmulatedNode = {
    name: 'y1',
    site: 'y',
    ip: Y_IP,
    port: sy.port,
    proxyHost: Y_PROXY,
    proxyPort: await freePort(Y_PROXY),
  }
  const wan = new WanEmulator([x, y], options)
  emulator = wan
  await wan.start()
  return { x, y, sx, sy, wan }
}

/** Dials `to`'s proxy from `fromIp` (a node's own address, or a stranger's). */
async function dial(fromIp: string, to: EmulatedNode): Promise<Inbox> {
  const box = track(connect({ host: to.proxyHost, port: to.proxyPort, localAddress: fromIp }))
  await once(box.socket, 'connect')
  return box
}

async function until(what: string, cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Writes `text`, waits for the echo, returns the round trip in ms. */
async function roundTrip(box: Inbox, text: string): Promise<number> {
  const want = box.text + text
  const t0 = performance.now()
  box.socket.write(text)
  await until(`echo of ${text}`, () => box.text.length >= want.length)
  expect(box.text).toBe(want)
  return performance.now() - t0
}

const numbered = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')};`)

// ---- tests ----------------------------------------------------------------------------------------

describe('WanEmulator', () => {
  it('proxies bytes from one node to the other and back', async () => {
    const { x, y, sy, sx } = await lab()
    const c = await dial(X_IP, y)
    await roundTrip(c, 'hello over the wan')
    // It really went to y's server, from the proxy, and not to x's.
    await until('y server connection', () => sy.conns.length === 1)
    expect(sy.conns[0]!.text).toBe('hello over the wan')
    expect(sx.conns).toHaveLength(0)
    // And the other way round.
    const d = await dial(Y_IP, x)
    await roundTrip(d, 'and back')
    expect(sx.conns[0]!.text).toBe('and back')
    // A larger payload arrives whole.
    const big = 'z'.repeat(256 * 1024)
    await roundTrip(c, big)
  })

  it('applies the one-way latency of the site pair in each direction', async () => {
    const { y, wan, sy } = await lab()
    const c = await dial(X_IP, y)
    await roundTrip(c, 'warm-up') // the pipe is up
    const plain = await roundTrip(c, 'fast')
    expect(plain).toBeLessThan(40)

    wan.setLatency('x', 'y', { oneWayMs: 40, jitterMs: 0 })
    const server = sy.conns[0]!
    const before = server.text.length
    let arrivedAt = 0
    server.socket.once('data', () => {
      arrivedAt = performance.now()
    })
    const t0 = performance.now()
    const slow = await roundTrip(c, 'slow')
    expect(server.text.slice(before)).toBe('slow')
    // Each direction is delayed (timers may fire a little early or late; allow slack).
    expect(arrivedAt - t0).toBeGreaterThanOrEqual(35)
    expect(t0 + slow - arrivedAt).toBeGreaterThanOrEqual(35)
    expect(slow).toBeGreaterThanOrEqual(70)
    expect(slow).toBeLessThan(2000)
  })

  it('keeps order under jitter (200 numbered chunks arrive in order, both ways)', async () => {
    const prng = new Prng(99)
    const { y, wan, sy } = await lab({ echo: true }, { random: () => prng.next() })
    // Jitter larger than the latency: some chunks draw a negative delay and must still wait their turn.
    wan.setLatency('x', 'y', { oneWayMs: 15, jitterMs: 25 })
    const c = await dial(X_IP, y)
    const chunks = numbered('#', 200)
    for (const chunk of chunks) {
      c.socket.write(chunk)
      // Let the proxy read each chunk on its own (it lives in this event loop).
      await new Promise((resolve) => setImmediate(resolve))
    }
    const all = chunks.join('')
    await until('all 200 echoed chunks', () => c.text.length >= all.length, 5000)
    expect(sy.conns[0]!.text).toBe(all)
    expect(c.text).toBe(all)
  })

  it('cut both ways stalls data in both directions; restore delivers it all, in order', async () => {
    const { y, wan, sy } = await lab({ echo: false })
    const c = await dial(X_IP, y)
    await until('y server connection', () => sy.conns.length === 1)
    const server = sy.conns[0]!
    // Both directions flow before the cut.
    c.socket.write('w')
    server.socket.write('v')
    await until('pre-cut bytes', () => server.text === 'w' && c.text === 'v')

    wan.cut(['x'], ['y'])
    const up = numbered('u', 50)
    const down = numbered('d', 50)
    for (const chunk of up) c.socket.write(chunk)
    for (const chunk of down) server.socket.write(chunk)
    await sleep(STALL_MS)
    expect(server.text).toBe('w')
    expect(c.text).toBe('v')
    expect(c.closed || server.closed).toBe(false)

    wan.restore()
    await until(
      'restored delivery',
      () => server.text.length >= 1 + up.join('').length && c.text.length >= 1 + down.join('').length,
    )
    expect(server.text).toBe(`w${up.join('')}`)
    expect(c.text).toBe(`v${down.join('')}`)
  })

  it('a one-way cut x→y stalls x→y while y→x still flows (connection dialed by x)', async () => {
    const { y, wan, sy } = await lab({ echo: false, greet: 'hello' })
    wan.cut(['x'], ['y'], { oneWay: true })
    // Cut before the connection exists: it applies as soon as the pipe is up.
    const c = await dial(X_IP, y)
    await until('greeting from y', () => c.text === 'hello')
    c.socket.write('data')
    await until('y server connection', () => sy.conns.length === 1)
    const server = sy.conns[0]!
    server.socket.write(' more')
    await until('more from y', () => c.text === 'hello more')
    await sleep(STALL_MS)
    expect(server.text).toBe('')

    wan.restore()
    await until('x→y after restore', () => server.text === 'data')
  })

  it('a one-way cut x→y is by direction of data, not of dialing (connection dialed by y)', async () => {
    const { x, wan, sx } = await lab({ echo: false, greet: 'hello' })
    wan.cut(['x'], ['y'], { oneWay: true })
    const c = await dial(Y_IP, x)
    c.socket.write('up')
    await until('x server connection', () => sx.conns.length === 1)
    const server = sx.conns[0]!
    await until('y→x data', () => server.text === 'up')
    await sleep(STALL_MS)
    expect(c.text).toBe('') // x's greeting is held back
    wan.restore(['x'], ['y'])
    await until('x→y after restore', () => c.text === 'hello')
  })

  it('cuts can be named by node and restored per pair', async () => {
    const { y, wan, sy } = await lab({ echo: false })
    const c = await dial(X_IP, y)
    await until('y server connection', () => sy.conns.length === 1)
    wan.cut(['x1'], ['y1'])
    c.socket.write('held')
    await sleep(STALL_MS)
    expect(sy.conns[0]!.text).toBe('')
    wan.restore(['y'], ['x']) // either order
    await until('delivery after restore', () => sy.conns[0]!.text === 'held')
  })

  it('reset destroys the connections touching a site; the emulator keeps serving new ones', async () => {
    const { y, wan, sy } = await lab()
    const c = await dial(X_IP, y)
    await roundTrip(c, 'before reset')
    await until('y server connection', () => sy.conns.length === 1)

    wan.reset(['nobody'])
    await roundTrip(c, 'still up')

    wan.reset(['x'])
    await until('client close', () => c.closed)
    if (c.error !== null) expect(c.error.code).toBe('ECONNRESET')
    await until('server end closed', () => sy.conns[0]!.closed)

    const again = await dial(X_IP, y)
    await roundTrip(again, 'after reset')
  })

  it('a connection from an unknown IP is proxied without delay', async () => {
    const { y, wan } = await lab()
    wan.setLatency('x', 'y', { oneWayMs: 40, jitterMs: 0 })
    const stranger = await dial(STRANGER_IP, y)
    await roundTrip(stranger, 'warm-up')
    expect(await roundTrip(stranger, 'quick')).toBeLessThan(40)
    // The same link from a node of x is delayed.
    const fromX = await dial(X_IP, y)
    await roundTrip(fromX, 'warm-up')
    expect(await roundTrip(fromX, 'slow')).toBeGreaterThanOrEqual(70)
  })

  it('stop closes every proxied connection and the listeners', async () => {
    const { x, y, wan } = await lab()
    const c = await dial(X_IP, y)
    const d = await dial(Y_IP, x)
    await roundTrip(c, 'one')
    await roundTrip(d, 'two')
    await wan.stop()
    emulator = null
    await until('proxied connections closed', () => c.closed && d.closed)
    for (const node of [x, y]) {
      const refused = connect({ host: node.proxyHost, port: node.proxyPort, localAddress: X_IP })
      sockets.add(refused)
      const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException]
      expect(error.code).toBe('ECONNREFUSED')
      refused.destroy()
    }
  })

  // Regression: bytes still waiting out their latency were once dropped when the sender ended its
  // side; real TCP delivers everything sent before the FIN.
  it('bytes written just before end() still arrive under latency', async () => {
    const { y, wan, sy } = await lab({ echo: false })
    wan.setLatency('x', 'y', { oneWayMs: 40, jitterMs: 0 })
    const c = await dial(X_IP, y)
    c.socket.end('last words')
    await until('y server connection', () => sy.conns.length === 1)
    await until('the bytes sent before FIN', () => sy.conns[0]!.text === 'last words', 1000)
  })
})
