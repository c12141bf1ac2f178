/**
 * `geocluster lab --sites N --nodes-per-site M [--witness [node|cloud]] [--rtt-ms R]`: a whole geo
 * cluster on one machine. It generates the members' keys, the pre-shared key and a topology file
 * in the data dir (kept, so a second run continues the same cluster), starts the WAN emulator
 * (each node on its own loopback address behind a proxy that adds the sites' latency), then one
 * process per node and the witness, and streams their logs merged, one compact line each. A cloud
 * witness is a blob in Azurite (started here when the package is installed), reached through a
 * proxy that adds the WAN round trip. Ctrl-C stops them all (each takes its groups offline),
 * then Azurite, and leaves no process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GeoclusterError } from '../errors/errors.ts'
import { createSecret } from '../mesh/clusterSecret.ts'
import { loadOrCreateIdentity } from '../mesh/nodeIdentity.ts'
import { AzuriteServer, azuriteAccount, writeAzuriteCredentials } from './azuriteServer.ts'
import { StorageFaultProxy } from './storageFaultProxy.ts'
import { type EmulatedNode, WanEmulator } from './wanEmulator.ts'

export interface MultiSiteLabSpec {
  dataDir: string
  sites: number
  nodesPerSite: number
  /** A witness: a `geocluster witness` process (node) or a blob in Azurite (cloud); false: none. */
  witness: false | 'node' | 'cloud'
  /** Round trip between sites (ms); within a site the loopback's own. */
  rttMs: number
  /** Where the merged log goes (one line each). */
  out: (line: string) => void
}

interface LabMember {
  name: string
  site: string
  kind: 'node' | 'witness'
  dataDir: string
  ip: string
  proxyIp: string
  port: number
  apiPort: number
}

interface LabLayout {
  sites: number
  nodesPerSite: number
  /** `true` in labs written before the cloud witness: a node witness. */
  witness: boolean | 'node' | 'cloud'
  members: LabMember[]
  /** A cloud witness: Azurite's port and the WAN proxy's in front of it (kept across runs). */
  cloud?: { azuritePort: number; proxyPort: number }
}

/** What the lab runs for a cloud witness, stopped after the nodes. */
interface LabCloud {
  azurite: AzuriteServer
  proxy: StorageFaultProxy
}

const siteNames = ['east', 'west', 'south', 'north', 'central', 'island', 'coast', 'hills']
const cliMain = fileURLToPath(
  new URL(`../cli/main${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
)

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

export class MultiSiteLab {
  private readonly spec: MultiSiteLabSpec
  private readonly layout: LabLayout
  private readonly wan: WanEmulator
  private readonly procs = new Map<string, ChildProcess>()
  private readonly cloud: LabCloud | null
  private stopping = false

  private constructor(spec: MultiSiteLabSpec, layout: LabLayout, wan: WanEmulator, cloud: LabCloud | null) {
    this.spec = spec
    this.layout = layout
    this.wan = wan
    this.cloud = cloud
  }

  /** The cloud witness's blob endpoint (through the WAN proxy), if the lab has one. */
  get cloudEndpoint(): string | null {
    return this.cloud?.proxy.endpointFor(azuriteAccount.name) ?? null
  }

  get topologyFile(): string {
    return join(this.spec.dataDir, 'topology.yaml')
  }

  /** The nodes' admin API URLs, by name. */
  apis(): Record<string, string> {
    return Object.fromEntries(
      this.layout.members
        .filter((m) => m.kind === 'node')
        .map((m) => [m.name, `http://127.0.0.1:${m.apiPort}`]),
    )
  }

  tokenFile(node: string): string {
    return join(this.spec.dataDir, node, 'admin.token')
  }

  static async start(spec: MultiSiteLabSpec): Promise<MultiSiteLab> {
    if (spec.sites < 1 || spec.nodesPerSite < 1 || spec.sites * spec.nodesPerSite > 32)
      throw new GeoclusterError('GC_ERR_USAGE', 'a lab has 1 to 32 nodes (--sites × --nodes-per-site)')
    mkdirSync(spec.dataDir, { recursive: true, mode: 0o700 })
    const layout = await MultiSiteLab.layoutFor(spec)
    if (!existsSync(join(spec.dataDir, 'cluster.psk'))) createSecret(join(spec.dataDir, 'cluster.psk'))
    if (layout.cloud !== undefined && AzuriteServer.available() === null)
      throw new GeoclusterError(
        'GC_ERR_UNSUPPORTED',
        'the cloud witness lab needs Azurite: npm install --save-dev azurite (or use --witness node)',
      )
    const peerIds = new Map<string, string>()
    for (const m of layout.members) {
      mkdirSync(m.dataDir, { recursive: true, mode: 0o700 })
      peerIds.set(m.name, (await loadOrCreateIdentity(m.dataDir)).peerId)
    }
    writeFileSync(join(spec.dataDir, 'topology.yaml'), MultiSiteLab.topologyYaml(layout, peerIds))
    const emulated: EmulatedNode[] = layout.members.map((m) => ({
      name: m.name,
      site: m.site,
      ip: m.ip,
      port: m.port,
      proxyHost: m.proxyIp,
      proxyPort: m.port,
    }))
    const wan = new WanEmulator(emulated)
    await wan.start()
    const sites = [...new Set(layout.members.map((m) => m.site))]
    for (const a of sites)
      for (const b of sites) if (a < b) wan.setLatency(a, b, { oneWayMs: spec.rttMs / 2, jitterMs: 0 })
    const cloud = layout.cloud === undefined ? null : await MultiSiteLab.startCloud(spec, layout.cloud)
    const lab = new MultiSiteLab(spec, layout, wan, cloud)
    for (const m of layout.members) lab.spawn(m)
    return lab
  }

  /** Azurite with the lab's blobs (kept in the data dir), behind a proxy adding the WAN round trip. */
  private static async startCloud(
    spec: MultiSiteLabSpec,
    ports: NonNullable<LabLayout['cloud']>,
  ): Promise<LabCloud> {
    const azurite = await AzuriteServer.start({
      dataDir: join(spec.dataDir, 'azurite'),
      port: ports.azuritePort,
    })
    try {
      const proxy = await StorageFaultProxy.start({ host: '127.0.0.1', port: azurite.port }, ports.proxyPort)
      proxy.set({ delayMs: spec.rttMs })
      spec.out(
        `${''.padEnd(12)} azurite    blob service on ${azurite.endpoint}, ${spec.rttMs} ms away through ${proxy.endpointFor(azuriteAccount.name)}`,
      )
      return { azurite, proxy }
    } catch (error) {
      await azurite.stop()
      throw error
    }
  }

  /** Reuses the layout a previous run wrote (same ports: the database remembers addresses). */
  private static async layoutFor(spec: MultiSiteLabSpec): Promise<LabLayout> {
    const file = join(spec.dataDir, 'lab.json')
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as LabLayout
      const savedWitness = saved.witness === true ? 'node' : saved.witness
      if (
        saved.sites !== spec.sites ||
        saved.nodesPerSite !== spec.nodesPerSite ||
        savedWitness !== spec.witness
      )
        throw new GeoclusterError(
          'GC_ERR_USAGE',
          `${spec.dataDir} holds a lab of ${saved.sites} site(s) × ${saved.nodesPerSite}${savedWitness === false ? '' : ` + ${savedWitness} witness`}: remove it or pick another --data-dir`,
        )
      return saved
    }
    const members: LabMember[] = []
    let k = 0
    const add = async (name: string, site: string, kind: LabMember['kind']) => {
      k++
      const ip = `127.0.10.${k}`
      members.push({
        name,
        site,
        kind,
        dataDir: join(spec.dataDir, name),
        ip,
        proxyIp: `127.0.20.${k}`,
        port: await freePort(ip),
        apiPort: await freePort('127.0.0.1'),
      })
    }
    for (let s = 0; s < spec.sites; s++) {
      const site = siteNames[s] ?? `site-${s + 1}`
      for (let n = 1; n <= spec.nodesPerSite; n++) await add(`${site}-${n}`, site, 'node')
    }
    if (spec.witness === 'node') await add('w1', 'tiebreak', 'witness')
    const layout: LabLayout = {
      sites: spec.sites,
      nodesPerSite: spec.nodesPerSite,
      witness: spec.witness,
      members,
    }
    if (spec.witness === 'cloud') {
      layout.cloud = { azuritePort: await freePort('127.0.0.1'), proxyPort: await freePort('127.0.0.1') }
      writeAzuriteCredentials(join(spec.dataDir, 'cloud-witness.credentials'))
    }
    writeFileSync(file, `${JSON.stringify(layout, null, 2)}\n`)
    return layout
  }

  private static topologyYaml(layout: LabLayout, peerIds: Map<string, string>): string {
    const nodes = layout.members.filter((m) => m.kind === 'node')
    const witness = layout.members.find((m) => m.kind === 'witness')
    const entry = (m: LabMember) =>
      `{ name: ${m.name}, address: /ip4/${m.proxyIp}/tcp/${m.port}, listen: /ip4/${m.ip}/tcp/${m.port}, peerId: ${peerIds.get(m.name)} }`
    const sites = [...new Set(nodes.map((m) => m.site))]
    return [
      '# written by geocluster lab --sites: every node on its own loopback address behind the WAN emulator',
      'cluster: { name: lab, secret: ./cluster.psk }',
      `quorum: { model: ${witness === undefined && layout.cloud === undefined ? 'node-majority' : 'node-and-witness'}, dynamic: true }`,
      'sites:',
      ...sites.flatMap((site) => [
        `  - name: ${site}`,
        '    nodes:',
        ...nodes.filter((m) => m.site === site).map((m) => `      - ${entry(m)}`),
      ]),
      ...(layout.cloud !== undefined
        ? [
            `witness: { name: w1, site: cloud, type: cloud, provider: azure-blob, endpoint: "http://127.0.0.1:${layout.cloud.proxyPort}/${azuriteAccount.name}", container: geocluster, credentialsFile: ./cloud-witness.credentials }`,
          ]
        : witness === undefined
          ? []
          : [`witness: { site: ${witness.site}, type: node, ${entry(witness).slice(2, -2)} }`]),
      '',
    ].join('\n')
  }

  private spawn(m: LabMember): void {
    const args =
      m.kind === 'witness'
        ? ['witness', 'start', '--config', this.topologyFile, '--data-dir', m.dataDir]
        : [
            'node',
            'start',
            '--config',
            this.topologyFile,
            '--node',
            m.name,
            '--data-dir',
            m.dataDir,
            '--api-port',
            String(m.apiPort),
          ]
    const proc = spawn(process.execPath, [cliMain, ...args], {
      env: { ...process.env, GEOCLUSTER_LOG_LEVEL: process.env.GEOCLUSTER_LOG_LEVEL ?? 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.procs.set(m.name, proc)
    const relay = (chunk: string, buffer: { rest: string }) => {
      buffer.rest += chunk
      for (let nl = buffer.rest.indexOf('\n'); nl >= 0; nl = buffer.rest.indexOf('\n')) {
        const line = buffer.rest.slice(0, nl)
        buffer.rest = buffer.rest.slice(nl + 1)
        if (line.trim() !== '') this.spec.out(compact(m.name, line))
      }
    }
    const out = { rest: '' }
    const err = { rest: '' }
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => relay(d, out))
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => relay(d, err))
    proc.once('exit', (code, signal) => {
      this.procs.delete(m.name)
      if (!this.stopping) this.spec.out(`${m.name.padEnd(10)} exited (${signal ?? `code ${code}`})`)
    })
  }

  /** Resolves once every node says it is in a quorate cluster with a bootstrapped database. */
  async waitQuorate(timeoutMs: number): Promise<number> {
    const started = performance.now()
    const node = this.layout.members.find((m) => m.kind === 'node')!
    for (;;) {
      try {
        const token = readFileSync(this.tokenFile(node.name), 'utf8').trim()
        const res = await fetch(`http://127.0.0.1:${node.apiPort}/v1/status`, {
          headers: { Authorization: `Bearer ${token}` },
        })
        const s = (await res.json()) as { cluster?: { name: string; quorum: { state: string } } }
        if (s.cluster?.quorum.state === 'quorate' && s.cluster.name !== '') return performance.now() - started
      } catch {
        // not up yet
      }
      if (performance.now() - started > timeoutMs)
        throw new GeoclusterError(
          'GC_ERR_UNREACHABLE',
          `the lab was not quorate within ${timeoutMs / 1000} s`,
        )
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** Stops every process (SIGTERM, SIGKILL after 20 s) and the WAN emulator. */
  async stop(): Promise<void> {
    this.stopping = true
    const exits = [...this.procs.values()].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve()
          p.once('exit', () => resolve())
          p.kill('SIGTERM')
          setTimeout(() => p.kill('SIGKILL'), 20_000).unref()
        }),
    )
    await Promise.all(exits)
    await this.wan.stop()
    await this.cloud?.proxy.stop()
    await this.cloud?.azurite.stop()
  }
}

/** A node's log line (pino JSON) as `time name message`; anything else as it came. */
function compact(name: string, line: string): string {
  try {
    const j = JSON.parse(line) as { time?: number; level?: number; msg?: string; err?: { message?: string } }
    const time = j.time === undefined ? '' : new Date(j.time).toISOString().slice(11, 23)
    const level = (j.level ?? 30) >= 50 ? 'ERROR ' : (j.level ?? 30) >= 40 ? 'WARN ' : ''
    return `${time} ${name.padEnd(10)} ${level}${j.msg ?? ''}${j.err?.message === undefined ? '' : `: ${j.err.message}`}`
  } catch {
    return `${''.padEnd(12)} ${name.padEnd(10)} ${line}`
  }
}
