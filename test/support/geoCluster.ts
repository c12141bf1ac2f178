/**
 * A geo cluster of real processes for integration tests and benchmarks: keys, a secret and a
 * topology in a temp dir, one `geocluster node start` per node and a `witness start`, each on its
 * own loopback IP behind the WAN emulator's proxy (so sites can be given latency and cut apart).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type EmulatedNode, WanEmulator } from '../../src/lab/wanEmulator.ts'
import { createSecret } from '../../src/mesh/clusterSecret.ts'
import { loadOrCreateIdentity } from '../../src/mesh/nodeIdentity.ts'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { type CliResult, cliMain, repoRoot, runCli, tempDir } from './processes.ts'

export interface GeoSpec {
  sites: { name: string; nodes: number }[]
  /** Site of a node witness (a third site), if any. */
  witnessSite?: string
  heartbeatMs?: number
  sameSiteThreshold?: number
  crossSiteThreshold?: number
  dynamic?: boolean
  /** Nodes with keys, addresses and a WAN proxy but not in the topology until `admit` (joiners). */
  spares?: { name: string; site: string }[]
  /** A file-share witness (a directory `witness-share` in the cluster's directory) at this site. */
  shareWitnessSite?: string
  /** Quorum model disk: a quorum file in the cluster's directory (`quorum.img`), no witness. */
  quorumDisk?: boolean
  /** Extra environment for a member's process (the chaos run's libfaketime). */
  env?: (name: string) => NodeJS.ProcessEnv
  /** `--snapshot-every N` for every node. */
  snapshotEvery?: number
}

export interface GeoMember {
  name: string
  site: string
  kind: 'node' | 'witness'
  dataDir: string
  ip: string
  port: number
  proxyIp: string
  peerId: string
  proc: ChildProcess | null
  url: string | null
  output: string
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** Two sites of two nodes each and a witness at a third: the shape of the issues' acceptance runs. */
export const twoByTwoWithWitness: GeoSpec = {
  sites: [
    { name: 'atl', nodes: 2 },
    { name: 'phx', nodes: 2 },
  ],
  witnessSite: 'tie',
}

/** Three sites of one node each: the smallest geo cluster that survives a site's loss. */
export const threeSites: GeoSpec['sites'] = [
  { name: 'east', nodes: 1 },
  { name: 'west', nodes: 1 },
  { name: 'south', nodes: 1 },
]

const clusters = new Set<GeoCluster>()

export class GeoCluster {
  readonly dir: string
  readonly topologyFile: string
  readonly members = new Map<string, GeoMember>()
  readonly wan: WanEmulator
  private readonly spec: GeoSpec
  /** Spares not yet admitted to the topology file. */
  private readonly outside: Set<string>

  private constructor(spec: GeoSpec, dir: string, members: GeoMember[], wan: WanEmulator) {
    this.spec = spec
    this.dir = dir
    this.topologyFile = join(dir, 'topology.yaml')
    for (const m of members) this.members.set(m.name, m)
    this.outside = new Set((spec.spares ?? []).map((s) => s.name))
    this.wan = wan
    clusters.add(this)
    this.writeTopology()
  }

  /** Lists a spare in the topology file (after `node add` put it in the cluster database). */
  admit(name: string): void {
    if (!this.outside.delete(name)) throw new Error(`${name} is not a spare`)
    this.writeTopology()
  }

  private writeTopology(): void {
    const spec = this.spec
    const inside = [...this.members.values()].filter((m) => !this.outside.has(m.name))
    const hb = spec.heartbeatMs ?? 100
    const node = (m: GeoMember) =>
      `      - { name: ${m.name}, address: /ip4/${m.proxyIp}/tcp/${m.port}, listen: /ip4/${m.ip}/tcp/${m.port}, peerId: ${m.peerId} }`
    const witness = inside.find((m) => m.kind === 'witness')
    const sites = [...new Set(inside.filter((m) => m.kind === 'node').map((m) => m.site))]
    const yaml = [
      'cluster: { name: geo, secret: ./cluster.psk }',
      spec.quorumDisk === true
        ? 'quorum: { model: disk, dynamic: false, disk: { path: ./quorum.img } }'
        : `quorum: { model: ${witness === undefined && spec.shareWitnessSite === undefined ? 'node-majority' : 'node-and-witness'}, dynamic: ${spec.dynamic ?? false} }`,
      'timing:',
      `  sameSite: { heartbeatMs: ${hb}, threshold: ${spec.sameSiteThreshold ?? 5} }`,
      `  crossSite: { heartbeatMs: ${hb}, threshold: ${spec.crossSiteThreshold ?? 10} }`,
      'sites:',
      ...sites.flatMap((site) => [
        `  - name: ${site}`,
        '    nodes:',
        ...inside.filter((m) => m.site === site && m.kind === 'node').map(node),
      ]),
      ...(spec.shareWitnessSite !== undefined
        ? [`witness: { name: w1, site: ${spec.shareWitnessSite}, type: file-share, path: ./witness-share }`]
        : witness === undefined
          ? []
          : [
              'witness:',
              `  { name: ${witness.name}, site: ${witness.site}, type: node, address: /ip4/${witness.proxyIp}/tcp/${witness.port}, listen: /ip4/${witness.ip}/tcp/${witness.port}, peerId: ${witness.peerId} }`,
            ]),
    ].join('\n')
    writeFileSync(this.topologyFile, `${yaml}\n`)
  }

  static async create(spec: GeoSpec): Promise<GeoCluster> {
    const dir = tempDir('gc-geo-')
    const members: GeoMember[] = []
    let k = 0
    const add = async (name: string, site: string, kind: 'node' | 'witness') => {
      k++
      const dataDir = join(dir, name)
      mkdirSync(dataDir, { recursive: true })
      const identity = await loadOrCreateIdentity(dataDir)
      members.push({
        name,
        site,
        kind,
        dataDir,
        ip: `127.0.10.${k}`,
        port: await freePort(),
        proxyIp: `127.0.20.${k}`,
        peerId: identity.peerId,
        proc: null,
        url: null,
        output: '',
      })
    }
    for (const s of spec.sites) for (let i = 1; i <= s.nodes; i++) await add(`${s.name}-${i}`, s.name, 'node')
    if (spec.witnessSite !== undefined) await add('w1', spec.witnessSite, 'witness')
    for (const spare of spec.spares ?? []) await add(spare.name, spare.site, 'node')
    createSecret(join(dir, 'cluster.psk'))
    const emulated: EmulatedNode[] = members.map((m) => ({
      name: m.name,
      site: m.site,
      ip: m.ip,
      port: m.port,
      proxyHost: m.proxyIp,
      proxyPort: m.port,
    }))
    const wan = new WanEmulator(emulated)
    await wan.start()
    return new GeoCluster(spec, dir, members, wan)
  }

  /** Members in the topology (spares not yet admitted are left out). */
  names(kind: 'node' | 'witness' | 'all' = 'node'): string[] {
    return [...this.members.values()]
      .filter((m) => (kind === 'all' || m.kind === kind) && !this.outside.has(m.name))
      .map((m) => m.name)
  }

  member(name: string): GeoMember {
    const m = this.members.get(name)
    if (m === undefined) throw new Error(`no member ${name}`)
    return m
  }

  /** Starts a member's process (with `extraArgs` for `node start`) and waits for its banner. */
  async start(name: string, extraArgs: string[] = []): Promise<void> {
    const m = this.member(name)
    const args =
      m.kind === 'witness'
        ? ['witness', 'start', '--config', this.topologyFile, '--data-dir', m.dataDir]
        : [
            'node',
            'start',
            '--config',
            this.topologyFile,
            '--node',
            name,
            '--data-dir',
            m.dataDir,
            '--api-port',
            '0',
            ...(this.spec.snapshotEvery === undefined
              ? []
              : ['--snapshot-every', String(this.spec.snapshotEvery)]),
            ...extraArgs,
          ]
    const proc = spawn(process.execPath, [cliMain, ...args], {
      cwd: repoRoot,
      env: { ...process.env, GEOCLUSTER_LOG_LEVEL: 'info', ...this.spec.env?.(name) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    m.proc = proc
    m.output = ''
    m.url = null
    proc.stdout!.on('data', (d: Buffer) => {
      m.output += d.toString()
    })
    proc.stderr!.on('data', (d: Buffer) => {
      m.output += d.toString()
    })
    let exited = false
    proc.once('exit', () => {
      exited = true
      if (m.proc === proc) m.proc = null
    })
    const deadline = Date.now() + 30_000
    for (;;) {
      const api = /API:\s+(http:\/\/\S+)/.exec(m.output)
      if (m.kind === 'node' && api !== null) {
        m.url = api[1]!
        return
      }
      if (m.kind === 'witness' && /witness \S+ is running/.test(m.output)) return
      if (exited) throw new Error(`${name} exited during start:\n${m.output}`)
      if (Date.now() > deadline) throw new Error(`${name} did not start within 30 s:\n${m.output}`)
      await sleep(25)
    }
  }

  async startAll(): Promise<void> {
    await Promise.all(this.names('all').map((n) => this.start(n)))
  }

  /** Sends a signal; for SIGKILL waits until the process is gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.member(name).proc
    if (proc === null) return
    const gone = new Promise<void>((r) => proc.once('exit', () => r()))
    proc.kill(signal)
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await gone
  }

  token(name: string): string {
    return readFileSync(join(this.member(name).dataDir, 'admin.token'), 'utf8').trim()
  }

  cli(name: string, args: string[]): Promise<CliResult> {
    const m = this.member(name)
    if (m.url === null) throw new Error(`${name} has no API`)
    return runCli([...args, '--api', m.url, '--token', this.token(name)])
  }

  async api<T = unknown>(
    name: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const m = this.member(name)
    const res = await fetch(`${m.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.token(name)}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    })
    const text = await res.text()
    return { status: res.status, body: (text === '' ? null : JSON.parse(text)) as T }
  }

  async status(name: string): Promise<StatusDocument | null> {
    try {
      const r = await this.api<StatusDocument>(name, 'GET', '/v1/status')
      return r.status === 200 ? r.body : null
    } catch {
      return null
    }
  }

  /** Waits until every listed node reports quorate with the same leader; returns the leader. */
  async waitQuorate(names: string[], timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const all = await Promise.all(names.map((n) => this.status(n)))
      // Quorate with one leader, and the cluster database bootstrapped (it has a name).
      const leaders = new Set(
        all.map((s) =>
          s?.cluster.quorum.state === 'quorate' && s.cluster.name !== '' ? s.cluster.leader : null,
        ),
      )
      if (leaders.size === 1 && !leaders.has(null)) return [...leaders][0]!
      if (Date.now() > deadline) {
        throw new Error(
          `not quorate within ${timeoutMs} ms: ${all.map((s, i) => `${names[i]}=${s?.cluster.quorum.state ?? 'down'}/${s?.cluster.leader}`).join(' ')}`,
        )
      }
      await sleep(50)
    }
  }

  async destroy(): Promise<void> {
    clusters.delete(this)
    for (const m of this.members.values()) m.proc?.kill('SIGKILL')
    await sleep(50)
    await this.wan.stop()
  }
}

export async function destroyGeoClusters(): Promise<void> {
  await Promise.all([...clusters].map((c) => c.destroy()))
}
