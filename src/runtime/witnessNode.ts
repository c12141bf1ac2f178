/**
 * The witness process (`geocluster witness start`): a voter at a third site that keeps only its
 * term, vote and W on disk, answers heartbeats and votes, and serves no data and no admin API.
 * Asked by a node, it says what it is (its release and the functional level it supports), so
 * that a raise of the cluster's level counts it too.
 */
import { mkdirSync } from 'node:fs'
import { join, resolve as resolvePath } from 'node:path'
import { WitnessCore } from '../consensus/witnessCore.ts'
import { functionalLevelMax } from '../database/functionalLevel.ts'
import { GeoclusterError } from '../errors/errors.ts'
import type { Logger } from '../events/logger.ts'
import type { SelfReport } from '../membership/memberReport.ts'
import { loadSecret } from '../mesh/clusterSecret.ts'
import { protocols } from '../mesh/mesh.ts'
import { loadOrCreateIdentity } from '../mesh/nodeIdentity.ts'
import { DataDirLock } from '../storage/dataDirLock.ts'
import { WriteAheadLog } from '../storage/writeAheadLog.ts'
import type { Topology } from '../topology/topologySchema.ts'
import { consensusTiming } from './consensusTiming.ts'
import { answerRefused, answerWith } from './leaderCalls.ts'
import { persistInto } from './logPersistence.ts'
import { dialFromOf, type Member, NodeMesh } from './nodeMesh.ts'
import { ReadyDriver } from './readyDriver.ts'
import { guardTimer } from './timerGuard.ts'

export interface WitnessNodeInit {
  dataDir: string
  topology: Topology
  topologyDir: string
  logger: Logger
  /** geocluster's release (for validate --live and upgrade-level). */
  version?: string
  /** The highest cluster functional level this witness supports (this build's when absent). */
  supportedLevel?: number
}

export class WitnessNode {
  readonly name: string
  private readonly log: Logger
  private readonly lock: DataDirLock
  private readonly wal: WriteAheadLog
  private readonly mesh: NodeMesh
  /** Persists term, vote and W (fsync) before any reply leaves. */
  private readonly driver: ReadyDriver
  private ticker: NodeJS.Timeout | null = null

  private constructor(
    name: string,
    log: Logger,
    lock: DataDirLock,
    core: WitnessCore,
    wal: WriteAheadLog,
    mesh: NodeMesh,
  ) {
    this.name = name
    this.log = log
    this.lock = lock
    this.wal = wal
    this.mesh = mesh
    this.driver = new ReadyDriver({
      core,
      persist: persistInto(wal),
      transport: mesh,
      crash: (error) => {
        this.log.fatal({ err: error }, 'fatal: the witness stops to protect its vote')
        process.exit(1)
      },
    })
  }

  static async start(init: WitnessNodeInit): Promise<WitnessNode> {
    const t = init.topology
    const w = t.witness
    if (w === undefined || w.type !== 'node') {
      throw new GeoclusterError('GC_ERR_CONFIG', 'the topology has no witness of type node to run here', {
        path: 'witness',
      })
    }
    if (t.cluster.secret === undefined) {
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        'a witness needs cluster.secret (a file from geocluster secret)',
        { path: 'cluster.secret' },
      )
    }
    mkdirSync(init.dataDir, { recursive: true, mode: 0o700 })
    const lock = await DataDirLock.acquire(init.dataDir, 'geocluster witness start')
    try {
      const psk = loadSecret(resolvePath(init.topologyDir, t.cluster.secret))
      const identity = await loadOrCreateIdentity(init.dataDir)
      if (w.peerId !== undefined && w.peerId !== identity.peerId) {
        throw new GeoclusterError(
          'GC_ERR_CONFIG',
          `${identity.file} holds peer ID ${identity.peerId}, but the topology lists ${w.peerId} for witness ${w.name}`,
          {
            path: 'witness.peerId',
          },
        )
      }
      const walDir = join(init.dataDir, 'wal')
      mkdirSync(walDir, { recursive: true, mode: 0o700 })
      const { wal, recovery } = WriteAheadLog.open(walDir)
      const timing = consensusTiming(t)
      const core = new WitnessCore({ id: w.name, electionTicks: timing.electionTicks }, recovery.hardState)
      let node: WitnessNode | null = null
      const mesh = new NodeMesh({
        self: w.name,
        site: w.site,
        privateKey: identity.privateKey,
        psk,
        listen: [w.listen ?? w.address!],
        ...dialFromOf(w.listen ?? w.address!),
        logger: init.logger,
        timing: t.timing,
        monotonic: () => performance.now(),
        onRaft: (m) => {
          if (node === null) return true
          core.step(m)
          node.driver.schedule()
          return true
        },
        leaderView: () => ({ leader: core.status().leader ?? '', term: core.status().term }),
        onAdmin: async (_from, call) =>
          call.method === 'selfReport'
            ? answerWith({
                node: w.name,
                site: w.site,
                version: init.version ?? 'unknown',
                wallMs: Date.now(),
                peers: {},
                api: null,
                role: 'witness',
                supportedLevel: init.supportedLevel ?? functionalLevelMax,
                protocols: Object.values(protocols),
              } satisfies SelfReport)
            : answerRefused(503, { code: 'GC_ERR_NOT_LEADER', message: 'a witness serves no admin API' }),
      })
      node = new WitnessNode(w.name, init.logger, lock, core, wal, mesh)
      const members: Member[] = t.sites.flatMap((s) =>
        s.nodes.flatMap((n) =>
          n.peerId !== undefined && n.address !== undefined
            ? [{ name: n.name, site: s.name, peerId: n.peerId, address: n.address }]
            : [],
        ),
      )
      await mesh.start(members)
      node.ticker = setInterval(
        guardTimer('the witness tick', init.logger, () => {
          core.tick()
          mesh.heartbeat()
          node!.driver.schedule()
        }),
        timing.tickMs,
      )
      init.logger.info(
        { witness: w.name, peerId: identity.peerId, listen: mesh.mesh.listening, mark: core.status().mark },
        'witness is up',
      )
      return node
    } catch (error) {
      lock.release()
      throw error
    }
  }

  get peerId(): string {
    return this.mesh.mesh.peerId
  }

  async stop(): Promise<void> {
    if (this.ticker !== null) clearInterval(this.ticker)
    await this.driver.close()
    await this.mesh.stop()
    this.wal.close()
    this.lock.release()
  }
}
