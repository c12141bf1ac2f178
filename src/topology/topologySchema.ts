/**
 * The topology file (`sites/*.yaml`): the cluster's name, quorum model, timing, sites with
 * their nodes, and the witness. It names who may form or join the cluster; once formed, the
 * replicated cluster database is the source of truth.
 */
import { z } from 'zod'
import { quorumModels } from '../database/entities.ts'
import { namePattern, nameRule } from '../database/keySpace.ts'
import { memberAddressProblem, peerIdProblem } from '../membership/memberAddress.ts'
import { timingProblems } from './clusterTiming.ts'
import { tieBreakerProblems } from './tieBreaker.ts'
import { timingProfileNames, timingProfiles } from './timingProfiles.ts'

const name = z.string().regex(namePattern, `expected a name: ${nameRule}`)

const address = z.string().superRefine((s, ctx) => {
  const problem = memberAddressProblem(s)
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
})

const peerId = z.string().superRefine((s, ctx) => {
  const problem = peerIdProblem(s)
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
})

/** A heartbeat period and how many may be missed; what is left out comes from the timing profile. */
const heartbeat = z
  .strictObject({
    heartbeatMs: z.number().int().min(100).max(60_000).optional(),
    threshold: z.number().int().min(2).max(100).optional(),
  })
  .optional()

/** The default profile's heartbeats (timingProfiles.ts says why these numbers). */
export const timingDefaults = {
  sameSite: { ...timingProfiles.default.sameSite },
  crossSite: { ...timingProfiles.default.crossSite },
} as const

const duration = z.number().int().min(1).max(3_600_000)

/** Optional: each omitted field is derived (src/topology/clusterTiming.ts). */
const fencing = z
  .strictObject({
    fenceAfterMs: duration.optional(),
    stopTimeoutMs: duration.optional(),
    marginMs: duration.optional(),
    downAfterMs: duration.optional(),
  })
  .default({})

export const topologySchema = z.strictObject({
  cluster: z.strictObject({
    name,
    secret: z.string().min(1).optional(),
  }),
  quorum: z.strictObject({
    model: z.enum(quorumModels),
    dynamic: z.boolean().default(true),
    /**
     * Who survives a 50/50 split when no witness can break the tie (WSFC preferred site and
     * LowerQuorumPriorityNodeID): one of the two; tieBreaker.ts checks the names.
     */
    tieBreaker: z
      .strictObject({
        preferSite: name.optional(),
        lowerPriorityNode: name.optional(),
      })
      .optional(),
    /** The quorum disk: its lease block, and the recovery log beside it (`<path>.log/`). */
    disk: z
      .strictObject({
        path: z.string().min(1),
        /** Where the recovery log lives (default `<path>.log`): a directory on shared storage. */
        logDir: z.string().min(1).optional(),
        renewMs: duration.optional(),
        ioTimeoutMs: duration.optional(),
        leaseMs: duration.optional(),
        challengeWaitMs: duration.optional(),
      })
      .optional(),
  }),
  timing: z
    .strictObject({
      /** Where omitted fields start from: `default` or `fast` (timingProfiles.ts). */
      profile: z.enum(timingProfileNames).default('default'),
      sameSite: heartbeat,
      crossSite: heartbeat,
      fencing,
    })
    .default({ profile: 'default', fencing: {} })
    .transform((t) => {
      const p = timingProfiles[t.profile]
      return {
        profile: t.profile,
        sameSite: {
          heartbeatMs: t.sameSite?.heartbeatMs ?? p.sameSite.heartbeatMs,
          threshold: t.sameSite?.threshold ?? p.sameSite.threshold,
        },
        crossSite: {
          heartbeatMs: t.crossSite?.heartbeatMs ?? p.crossSite.heartbeatMs,
          threshold: t.crossSite?.threshold ?? p.crossSite.threshold,
        },
        fencing: t.fencing,
      }
    }),
  sites: z
    .array(
      z.strictObject({
        name,
        nodes: z
          .array(
            z.strictObject({
              name,
              address: address.optional(),
              listen: address.optional(),
              peerId: peerId.optional(),
              votes: z.number().int().min(0).max(1).default(1),
            }),
          )
          .min(1, 'a site needs at least one node'),
      }),
    )
    .min(1, 'at least one site is needed'),
  witness: z
    .strictObject({
      name,
      site: name,
      type: z.enum(['node', 'file-share', 'cloud']).default('node'),
      address: address.optional(),
      listen: address.optional(),
      peerId: peerId.optional(),
      path: z.string().min(1).optional(),
      // type cloud: the witness's state in one blob (WSFC's cloud witness)
      provider: z.enum(['azure-blob']).optional(),
      endpoint: z
        .string()
        .regex(/^https?:\/\/[^\s?#]+$/, 'expected the blob endpoint, http(s)://host[:port][/account]')
        .optional(),
      container: z
        .string()
        .regex(/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, 'expected a container name: 3-63 of a-z, 0-9, -')
        .optional(),
      /** The blob's name in the container (default: `<cluster>/<witness>.json`). */
      blob: z.string().min(1).max(1024).optional(),
      credentialsFile: z.string().min(1).optional(),
      votes: z.number().int().min(0).max(1).default(1),
    })
    .optional(),
})

export type Topology = z.infer<typeof topologySchema>
export type TopologyNode = Topology['sites'][number]['nodes'][number]

export interface TopologyProblem {
  path: (string | number)[]
  message: string
}

/** Rules across fields that a per-field schema cannot state. */
export function topologyProblems(t: Topology): TopologyProblem[] {
  const problems: TopologyProblem[] = []
  const add = (path: (string | number)[], message: string) => problems.push({ path, message })
  const siteNames = new Map<string, number>()
  const nodeNames = new Map<string, (string | number)[]>()
  const seen = (
    map: Map<string, (string | number)[]>,
    key: string,
    path: (string | number)[],
    what: string,
  ) => {
    const first = map.get(key)
    if (first !== undefined) add(path, `duplicate ${what} '${key}' (first at ${formatPath(first)})`)
    else map.set(key, path)
  }
  const addresses = new Map<string, (string | number)[]>()
  const peerIds = new Map<string, (string | number)[]>()
  for (const [i, site] of t.sites.entries()) {
    if (siteNames.has(site.name))
      add(
        ['sites', i, 'name'],
        `duplicate site name '${site.name}' (first at sites[${siteNames.get(site.name)}])`,
      )
    else siteNames.set(site.name, i)
    for (const [j, node] of site.nodes.entries()) {
      const at = ['sites', i, 'nodes', j]
      seen(nodeNames, node.name, [...at, 'name'], 'node name')
      if (node.address !== undefined) seen(addresses, node.address, [...at, 'address'], 'address')
      if (node.peerId !== undefined) seen(peerIds, node.peerId, [...at, 'peerId'], 'peer ID')
    }
  }
  const nodes = t.sites.flatMap((s, i) => s.nodes.map((n, j) => ({ n, at: ['sites', i, 'nodes', j] })))
  const model = t.quorum.model
  if (model === 'local') {
    if (nodes.length !== 1)
      add(['sites'], `quorum model local runs exactly one node; this file lists ${nodes.length}`)
  } else {
    for (const { n, at } of nodes) {
      if (n.address === undefined) add([...at, 'address'], `required with quorum model ${model}`)
      if (n.peerId === undefined) add([...at, 'peerId'], `required with quorum model ${model}`)
    }
  }
  if (model === 'disk' && t.quorum.disk === undefined)
    add(['quorum', 'disk'], 'required with quorum model disk (quorum.disk.path)')
  if (model !== 'disk' && t.quorum.disk !== undefined)
    add(['quorum', 'disk'], `only used with quorum model disk, not ${model}`)
  if (model === 'node-and-witness' && t.witness === undefined)
    add(['witness'], 'required with quorum model node-and-witness')
  if (model !== 'node-and-witness' && t.witness !== undefined)
    add(['witness'], `only used with quorum model node-and-witness, not ${model}`)
  if (t.witness !== undefined) {
    const w = t.witness
    if (nodeNames.has(w.name)) add(['witness', 'name'], `'${w.name}' is already a node name`)
    if (w.type === 'node') {
      if (w.address === undefined) add(['witness', 'address'], 'required for a node witness')
      if (w.peerId === undefined) add(['witness', 'peerId'], 'required for a node witness')
      if (w.address !== undefined && addresses.has(w.address))
        add(['witness', 'address'], `address '${w.address}' is already a node's`)
      if (w.peerId !== undefined && peerIds.has(w.peerId))
        add(['witness', 'peerId'], "peer ID is already a node's")
    } else if (w.type === 'file-share') {
      if (w.path === undefined) add(['witness', 'path'], 'required for a file-share witness')
    } else {
      for (const field of ['provider', 'endpoint', 'container', 'credentialsFile'] as const)
        if (w[field] === undefined) add(['witness', field], 'required for a cloud witness')
    }
    if (w.type !== 'cloud')
      for (const field of ['provider', 'endpoint', 'container', 'blob', 'credentialsFile'] as const)
        if (w[field] !== undefined) add(['witness', field], `only used with a cloud witness, not ${w.type}`)
  }
  const votes = nodes.reduce((sum, { n }) => sum + n.votes, 0) + (t.witness?.votes ?? 0)
  if (votes === 0) add(['sites'], 'no node or witness has a vote')
  problems.push(...tieBreakerProblems(t))
  problems.push(...timingProblems(t))
  return problems
}

export function formatPath(path: readonly (string | number | symbol)[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out === '' ? String(p) : `.${String(p)}`
  }
  return out === '' ? '(top level)' : out
}
