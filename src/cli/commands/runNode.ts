/**
 * Runs a node in the foreground (`lab`, `node start`): cluster node + admin API, logs to
 * stdout, the API URL and token path printed once ready; SIGINT/SIGTERM take this node's groups
 * offline and exit 0. A second signal exits at once (the monitor still stops the resources).
 */

import { buildAdminApi } from '../../api/adminApi.ts'
import { listenAdminApi } from '../../api/adminServer.ts'
import { apiHostNames } from '../../api/requestOrigin.ts'
import type { ApiTls } from '../../runtime/apiCertificate.ts'
import { ClusterNode } from '../../runtime/clusterNode.ts'
import { descriptorsWanted, raiseDescriptorLimit } from '../../runtime/descriptorLimit.ts'
import { createLogger } from '../../runtime/logger.ts'
import type { NodeTiming } from '../../runtime/nodeTiming.ts'
import { supportedLevelFrom } from '../../runtime/supportedLevel.ts'
import type { Topology } from '../../topology/topologySchema.ts'
import { packageVersion } from '../program.ts'

export interface RunNodeOptions {
  topology: Topology
  /** Directory of the topology file (relative paths in it resolve from here). */
  topologyDir?: string
  nodeName: string
  dataDir: string
  apiHost: string
  apiPort: number
  /** Further names clients reach the API by (its Host header; the TLS certificate's names). */
  apiNames?: string[]
  /** Serve the API over TLS: the operator's certificate, or one generated in the data dir. */
  apiTls?: { certFile: string; keyFile: string } | 'self-signed'
  pretty: boolean | undefined
  command: string
  timing: Partial<NodeTiming>
  /** Form a new configuration from this node's log alone (disaster recovery). */
  forceQuorum?: boolean
  /** With forceQuorum: the operator asserts the other side is down (writes at once). */
  otherSideIsDown?: boolean
  /** Join, don't form: no election until this node has heard from a leader. */
  preventQuorum?: boolean
  /** Answer the cluster's network names over DNS on this UDP port (and host). */
  dnsPort?: number
  dnsHost?: string
  banner: (info: { url: string; tokenFile: string; fingerprint: string | null }) => string
}

export async function runNode(o: RunNodeOptions): Promise<void> {
  const logger = createLogger(o.pretty === undefined ? {} : { pretty: o.pretty })
  const descriptors = raiseDescriptorLimit()
  if (descriptors !== null) {
    const level = descriptors.soft < descriptorsWanted ? 'warn' : 'info'
    logger[level](
      { ...descriptors, wanted: descriptorsWanted },
      descriptors.soft < descriptorsWanted
        ? `open-file limit ${descriptors.soft} is low (raise LimitNOFILE / ulimit -n to ${descriptorsWanted} or more)`
        : `open-file limit ${descriptors.soft}`,
    )
  }
  const node = await ClusterNode.start({
    dataDir: o.dataDir,
    version: packageVersion(),
    supportedLevel: supportedLevelFrom(process.env),
    topology: o.topology,
    ...(o.topologyDir === undefined ? {} : { topologyDir: o.topologyDir }),
    nodeName: o.nodeName,
    logger,
    command: o.command,
    timing: o.timing,
    forceQuorum: o.forceQuorum === true,
    otherSideIsDown: o.otherSideIsDown === true,
    preventQuorum: o.preventQuorum === true,
    ...(o.dnsPort === undefined ? {} : { nameService: { host: o.dnsHost ?? o.apiHost, port: o.dnsPort } }),
  })
  let server: Awaited<ReturnType<typeof listenAdminApi>>
  let tls: ApiTls | undefined
  try {
    if (o.apiTls !== undefined) {
      // Loaded only for a node that serves TLS (node-forge is not small).
      const { ensureSelfSignedApiTls, loadApiTls } = await import('../../runtime/apiCertificate.ts')
      tls =
        o.apiTls === 'self-signed'
          ? ensureSelfSignedApiTls(o.dataDir, [o.apiHost, ...(o.apiNames ?? [])])
          : loadApiTls(o.apiTls.certFile, o.apiTls.keyFile)
    }
    server = await listenAdminApi(
      buildAdminApi(node, logger, {
        version: packageVersion(),
        hostNames: apiHostNames(o.apiHost, o.apiNames ?? []),
      }),
      o.apiHost,
      o.apiPort,
      {
        ...(descriptors === null ? {} : { descriptorLimit: descriptors.soft }),
        ...(tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } }),
      },
    )
  } catch (error) {
    await node.stop()
    throw error
  }
  const fingerprint = tls?.fingerprint ?? null
  node.noteApi({ url: server.url, tlsFingerprint: fingerprint })
  logger.info(
    {
      api: server.url,
      token: node.adminTokenFile,
      dataDir: o.dataDir,
      tls: fingerprint === null ? 'off' : fingerprint,
    },
    'admin API listening',
  )
  process.stdout.write(o.banner({ url: server.url, tokenFile: node.adminTokenFile, fingerprint }))

  await new Promise<void>((resolve) => {
    let signalled = false
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: exiting now; the resource monitor stops what is left')
        process.exit(1)
      }
      signalled = true
      logger.info({ signal }, 'shutting down: taking groups offline')
      void (async () => {
        await server.close()
        await node.stop()
        resolve()
      })()
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}
