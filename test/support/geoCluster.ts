/**
 * A geo cluster of real processes for integration tests and benchmarks: keys, a secret and a
 * topology in a temp dir, one `geocluster node start` per node and a `witness start`, each on its
 * own loopback IP behind the WAN emulator's proxy (so sites can be given latency and cut apart).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type EmulatedNode, WanEmulator } from '../../src/lab/wanEmulator.ts'
import { createSecret } from '../../src/mesh/clusterSecret.ts'
import { loadOrCreateIdentity } from '../../src/mesh/nodeIdentity.ts'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { type CliResult, cliMain, killAndWait, repoRoot, runCli, tempDir } from './processes.ts'

export interface GeoSpec {
  sites: { name: string; nodes: number }[]
  /** Site of a node witness (a third site), if any. */
  witnessSite?: string
  heartbeatMs?: number
  /** A named timing profile (`timing.profile`); the heartbeat fields below then default to its own. */
  timingProfile?: 'fast'
  sameSiteThreshold?: number
  crossSiteThreshold?: number
  dynamic?: boolean
  /** Nodes with keys, addresses and a WAN proxy but not in the topology until `admit` (joiners). */
  spares?: { name: string; site: string }[]
  /** A file-share witness (a directory `witness-share` in the cluster's directory) at this site. */
  shareWitnessSite?: string
  /**
   * A cloud witness (type cloud, azure-blob) at site `cloud`: the blob endpoint (Azurite, or a
   * proxy in front of it) and a credentials file (mode 0600) for it.
   */
  cloudWitness?: { endpoint: string; credentialsFile: string; container?: string }
  /** Quorum model disk: a quorum file in the cluster's directory (`quorum.img`), no witness. */
  quorumDisk?: boolean
  /** Extra environment for a member's process (the chaos run's libfaketime). */
  env?: (name: string) => NodeJS.ProcessEnv
  /**
   * No WAN emulator: nodes dial each other directly on loopback (benchmarks against systems
   * that run without one); partitions and latency cannot be set.
   */
  direct?: boolean
  /**
   * The CLI entry the members run: the sources (default) or the build (`dist/cli/main.js`, what
   * an installed node runs: benchmarks of memory and idle CPU).
   */
  cliMain?: string
  /** Node's own flags before the CLI (benchmarks: `--cpu-prof --cpu-prof-dir DIR`). */
  nodeArgs?: string[]
  /** `--snapshot-every N` for every node. */
  snapshotEvery?: number
  /** How long a member may take to print its banner (default 30 s; benchmarks of many nodes on a busy machine need more). */
  startTimeoutMs?: number
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
  /** What the current (or last) process printed, its resource monitor's reports included. */
  output: string
  /** What earlier processes of this member printed, each ended by how it ended. */
  earlier: string
  /** How the last process ended, once it has. */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | null
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
        : `quorum: { model: ${witness === undefined && spec.shareWitnessSite === undefined && spec.cloudWitness === undefined ? 'node-majority' : 'node-and-witness'}, dynamic: ${spec.dynamic ?? false} }`,
      'timing:',
      ...(spec.timingProfile === undefined
        ? [
            `  sameSite: { heartbeatMs: ${hb}, threshold: ${spec.sameSiteThreshold ?? 5} }`,
            `  crossSite: { heartbeatMs: ${hb}, threshold: ${spec.crossSiteThreshold ?? 10} }`,
          ]
        : [`  profile: ${spec.timingProfile}`]),
      'sites:',
      ...sites.flatMap((site) => [
        `  - name: ${site}`,
        '    nodes:',
        ...inside.filter((m) => m.site === site && m.kind === 'node').map(node),
      ]),
      ...(spec.cloudWitness !== undefined
        ? [
            `witness: { name: w1, site: cloud, type: cloud, provider: azure-blob, endpoint: "${spec.cloudWitness.endpoint}", container: ${spec.cloudWitness.container ?? 'geocluster'}, credentialsFile: ${spec.cloudWitness.credentialsFile} }`,
          ]
        : spec.shareWitnessSite !== undefined
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
        proxyIp: spec.direct === true ? `127.0.10.${k}` : `127.0.20.${k}`,
        peerId: identity.peerId,
        proc: null,
        url: null,
        output: '',
        earlier: '',
        lastExit: null,
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
    if (spec.direct !== true) await wan.start()
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
    const proc = spawn(
      process.execPath,
      [...(this.spec.nodeArgs ?? []), this.spec.cliMain ?? cliMain, ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, GEOCLUSTER_LOG_LEVEL: 'info', ...this.spec.env?.(name) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    m.proc = proc
    if (m.output !== '') m.earlier += `${m.output}\n--- ${describeExit(m.lastExit)}; started again ---\n`
    m.output = ''
    m.url = null
    m.lastExit = null
    proc.stdout!.on('data', (d: Buffer) => {
      m.output += d.toString()
    })
    proc.stderr!.on('data', (d: Buffer) => {
      m.output += d.toString()
    })
    let exited = false
    proc.once('exit', (code, sig) => {
      exited = true
      if (m.proc === proc) {
        m.proc = null
        m.lastExit = { code, signal: sig }
      }
    })
    const startTimeoutMs = this.spec.startTimeoutMs ?? 30_000
    const deadline = Date.now() + startTimeoutMs
    for (;;) {
      const api = /API:\s+(https?:\/\/\S+)/.exec(m.output)
      if (m.kind === 'node' && api !== null) {
        m.url = api[1]!
        return
      }
      if (m.kind === 'witness' && /witness \S+ is running/.test(m.output)) return
      if (exited) throw new Error(`${name} exited during start:\n${m.output}`)
      if (Date.now() > deadline)
        throw new Error(`${name} did not start within ${startTimeoutMs / 1000} s:\n${m.output}`)
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
        const behind = names.filter(
          (_, i) =>
            all[i]?.cluster.quorum.state !== 'quorate' || all[i]?.cluster.leader !== all[0]?.cluster.leader,
        )
        const why = await Promise.all((behind.length > 0 ? behind : names).map((n) => this.diagnose(n)))
        throw new Error(
          `not quorate within ${timeoutMs} ms: ${all.map((s, i) => `${names[i]}=${s?.cluster.quorum.state ?? 'down'}/${s?.cluster.leader}`).join(' ')}\n  ${why.join('\n  ')}`,
        )
      }
      await sleep(50)
    }
  }

  /**
   * Why a member is not part of a quorate cluster, as far as can be told from outside: its
   * process (running, exited and how), what its own status says, and its last warnings.
   */
  async diagnose(name: string): Promise<string> {
    const m = this.member(name)
    const parts: string[] = []
    if (m.proc === null) parts.push(`not running (${describeExit(m.lastExit)})`)
    else {
      const state = processState(m.proc.pid!)
      parts.push(`pid ${m.proc.pid} ${state === 'T' ? 'stopped (SIGSTOP)' : `running (state ${state})`}`)
      if (m.kind === 'node') {
        const s = await this.status(name)
        if (s === null) parts.push('its API does not answer')
        else {
          const q = s.cluster.quorum
          const down = s.nodes.filter((n) => n.state !== 'up').map((n) => `${n.name}=${n.state}`)
          parts.push(
            `it says ${q.state} (votes ${q.votesPresent}/${q.votesTotal}, needs ${q.votesNeeded}), leader ${s.cluster.leader ?? 'none'}, term ${s.cluster.term}` +
              (down.length > 0 ? `, sees ${down.join(' ')}` : ''),
          )
        }
      }
    }
    const warnings = (m.earlier + m.output)
      .split('\n')
      .filter((l) => /"level":(40|50|60)|\bWARN\b|\bERROR\b|FATAL/.test(l))
      .slice(-5)
    if (warnings.length > 0) parts.push(`last warnings:\n    ${warnings.join('\n    ')}`)
    return `${name}: ${parts.join('; ')}`
  }

  /**
   * Keeps every member's log (all its processes, its monitor's reports included) and its
   * resources' output logs in `dir`, for a failed run: `<member>.log`, `<member>.resources/`.
   */
  keepLogs(dir: string): void {
    mkdirSync(dir, { recursive: true })
    for (const m of this.members.values()) {
      writeFileSync(
        join(dir, `${m.name}.log`),
        `${m.earlier}${m.output}\n--- ${describeExit(m.lastExit)} ---\n`,
      )
      const resources = join(m.dataDir, 'resources')
      if (existsSync(resources)) cpSync(resources, join(dir, `${m.name}.resources`), { recursive: true })
    }
  }

  /** Kills every member and waits until each has exited (their monitors end on their own). */
  async destroy(): Promise<void> {
    clusters.delete(this)
    await Promise.all(
      [...this.members.values()].map((m) => (m.proc === null ? undefined : killAndWait(m.proc))),
    )
    await this.wan.stop()
  }
}

function describeExit(exit: { code: number | null; signal: NodeJS.Signals | null } | null): string {
  if (exit === null) return 'still running'
  return exit.signal !== null ? `killed by ${exit.signal}` : `exited with code ${exit.code}`
}

/** The kernel's one-letter state of a process (R, S, T for stopped, Z...), or '?' when gone. */
function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!
  } catch {
    return '?'
  }
}

export async function destroyGeoClusters(): Promise<void> {
  await Promise.all([...clusters].map((c) => c.destroy()))
}
