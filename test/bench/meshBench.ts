/**
 * bench:mesh — what one message costs on the production mesh (libp2p TCP, the private network,
 * Noise, yamux, geocluster's framing): two meshes in one process on loopback bounce a frame of
 * S bytes back and forth (one in flight), then K in flight at once. Prints round trips per
 * second and the process's CPU per round trip (both ends' work: two frames). It is the floor
 * under every consensus message a node sends or receives, idle heartbeats included.
 * Usage: npm run bench:mesh [-- --seconds S] [-- --bytes B] [-- --json]
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { createSecret, loadSecret } from '../../src/mesh/clusterSecret.ts'
import { Mesh } from '../../src/mesh/mesh.ts'
import { loadOrCreateIdentity } from '../../src/mesh/nodeIdentity.ts'

const argv = process.argv.slice(2)
const arg = (name: string, fallback: number) =>
  argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback
const seconds = arg('--seconds', 5)
const frameBytes = arg('--bytes', 200)
const asJson = argv.includes('--json')

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

interface Phase {
  inFlight: number
  roundTrips: number
  perSecond: number
  cpuUsPerRoundTrip: number
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gc-meshbench-'))
  const meshes: Mesh[] = []
  try {
    createSecret(join(dir, 'cluster.psk'))
    const psk = loadSecret(join(dir, 'cluster.psk'))
    const names = ['a', 'b']
    for (const n of names) mkdirSync(join(dir, n))
    const ids = await Promise.all(names.map((n) => loadOrCreateIdentity(join(dir, n))))
    const ports = [await freePort(), await freePort()]
    const peers = names.map((name, i) => ({
      name,
      peerId: ids[i]!.peerId,
      address: `/ip4/127.0.0.1/tcp/${ports[i]}`,
    }))
    let onA: () => void = () => {}
    const frame = new Uint8Array(frameBytes).fill(7)
    for (const [i, name] of names.entries()) {
      const mesh: Mesh = new Mesh({
        self: name,
        privateKey: ids[i]!.privateKey,
        psk,
        listen: [peers[i]!.address],
        logger: pino({ level: 'silent' }),
        onFrame: (_protocol, from, f) => {
          // b answers every frame; a counts the answers.
          if (name === 'b') mesh.send('raft', from, f)
          else onA()
          return true
        },
        onRequest: async () => new Uint8Array(),
        onCatchUp: () => ({ frame: () => 'refused', closed: () => {} }),
      })
      meshes.push(mesh)
    }
    await Promise.all(meshes.map((m) => m.start(peers)))
    const [a] = meshes as [Mesh, Mesh]

    const run = async (inFlight: number, ms: number): Promise<Phase> => {
      let count = 0
      let stop = false
      const end = performance.now() + ms
      const cpu0 = process.cpuUsage()
      await new Promise<void>((resolve) => {
        onA = () => {
          count++
          if (performance.now() >= end) stop = true
          if (!stop) a.send('raft', 'b', frame)
          else if (--inFlightNow === 0) resolve()
        }
        let inFlightNow = inFlight
        for (let k = 0; k < inFlight; k++) a.send('raft', 'b', frame)
      })
      const cpu = process.cpuUsage(cpu0)
      return {
        inFlight,
        roundTrips: count,
        perSecond: Math.round(count / (ms / 1000)),
        cpuUsPerRoundTrip: Math.round((cpu.user + cpu.system) / count),
      }
    }
    await run(1, 1000) // warm-up: links dialled, code optimised
    const phases = [await run(1, seconds * 1000), await run(16, seconds * 1000)]
    if (asJson) {
      process.stdout.write(`${JSON.stringify({ seconds, frameBytes, phases })}\n`)
      return
    }
    process.stdout.write(
      [
        `bench:mesh — two meshes in one process on loopback, ${frameBytes}-byte frames, ${seconds} s per phase`,
        '',
        '| in flight | round trips/s | CPU per round trip (both ends) |',
        '|---|---|---|',
        ...phases.map((p) => `| ${p.inFlight} | ${p.perSecond} | ${p.cpuUsPerRoundTrip} µs |`),
        '',
      ].join('\n'),
    )
  } finally {
    await Promise.all(meshes.map((m) => m.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
