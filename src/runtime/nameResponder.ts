/**
 * The name responder: a small authoritative DNS server (UDP) on every node that answers the
 * cluster's network names (`network-name` resources) with their group's current address, from
 * this node's copy of the cluster database. Point a forwarding zone of the site's resolver at
 * the nodes (e.g. `cluster.example` → every node's responder) and clients follow a group across
 * nodes and sites. A name whose group is not online has no address (an empty answer); a name the
 * cluster does not know is NXDOMAIN.
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIP } from 'node:net'
import * as dns from '@leichtgewicht/dns-packet'
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import { addressForSite } from '../database/siteAddresses.ts'
import type { Logger } from '../events/logger.ts'

export type NameLookup =
  | { kind: 'address'; address: string; group: string }
  /** The cluster has the name, but its group is not online anywhere now. */
  | { kind: 'offline'; group: string }
  | { kind: 'unknown' }

const bare = (name: string) => name.toLowerCase().replace(/\.$/, '')

/** What a name resolves to now, from committed state. Pure. */
export function lookUpNetworkName(db: ClusterDatabase, name: string): NameLookup {
  const wanted = bare(name)
  const resource = db
    .resources()
    .find((r) => r.type === 'network-name' && bare(r.params.name ?? '') === wanted)
  if (resource === undefined) return { kind: 'unknown' }
  const group = db.group(resource.group)
  if (group === undefined || group.owner === null || group.target !== 'online' || group.moving !== null)
    return { kind: 'offline', group: resource.group }
  const explicit = resource.params.address
  const ipResource = db
    .resources(resource.group)
    .filter((r) => r.type === 'ip-address')
    .sort(
      (a, b) => Number(resource.dependsOn.includes(b.name)) - Number(resource.dependsOn.includes(a.name)),
    )[0]
  // Per-site addresses: the one the owner's site brings online (siteAddresses.ts).
  const online =
    ipResource === undefined
      ? undefined
      : addressForSite(
          { address: ipResource.params.address, addresses: ipResource.params.addresses },
          db.node(group.owner)?.site,
        )
  const ip =
    explicit ?? (online !== undefined && 'address' in online ? online.address.split('/')[0] : undefined)
  if (ip === undefined || isIP(ip) === 0) return { kind: 'offline', group: resource.group }
  return { kind: 'address', address: ip, group: resource.group }
}

export interface NameResponderInit {
  db: () => ClusterDatabase
  logger: Logger
  host: string
  port: number
  /** Seconds resolvers may cache an answer; short, so a failover is seen quickly. */
  ttlSeconds?: number
}

const rcode = { noError: 0, formErr: 1, nxDomain: 3, notImp: 4 } as const

/**
 * Limits that keep the responder from being an amplifier: answers fit the classic 512-byte UDP
 * size (a single-question answer here is a fraction of that), a refusal never echoes the query,
 * and each source address gets a bounded rate of answers.
 */
export const nameResponderLimits = {
  answerBytesMax: 512,
  queryBytesMax: 512,
  /** Answers per second per source address, and the burst allowed above it. */
  answersPerSecond: 50,
  burst: 100,
  /** Source addresses tracked at once (the oldest are forgotten first). */
  sourcesTracked: 10_000,
} as const

/** A token bucket per source address, on a clock the caller passes (monotonic ms). */
export class SourceRateLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  allow(source: string, nowMs: number): boolean {
    const { answersPerSecond, burst, sourcesTracked } = nameResponderLimits
    let b = this.buckets.get(source)
    if (b === undefined) {
      if (this.buckets.size >= sourcesTracked) this.buckets.delete(this.buckets.keys().next().value!)
      b = { tokens: burst, at: nowMs }
      this.buckets.set(source, b)
    }
    b.tokens = Math.min(burst, b.tokens + ((nowMs - b.at) / 1000) * answersPerSecond)
    b.at = nowMs
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}

export class NameResponder {
  private readonly init: NameResponderInit
  private socket: Socket | null = null
  private readonly rate = new SourceRateLimit()
  /** Queries left unanswered because their source went over its rate. */
  dropped = 0

  constructor(init: NameResponderInit) {
    this.init = init
  }

  /** Binds the UDP socket; resolves with the port (0 picks a free one). */
  async start(): Promise<number> {
    const socket = createSocket(isIP(this.init.host) === 6 ? 'udp6' : 'udp4')
    this.socket = socket
    socket.on('message', (msg, from) => {
      if (!this.rate.allow(from.address, performance.now())) {
        this.dropped++
        return
      }
      const reply = this.answer(msg)
      if (reply !== null) socket.send(reply, from.port, from.address)
    })
    socket.on('error', (error) => this.init.logger.warn({ err: error.message }, 'name responder error'))
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(this.init.port, this.init.host, () => {
        socket.off('error', reject)
        resolve()
      })
    })
    return socket.address().port
  }

  async stop(): Promise<void> {
    const socket = this.socket
    this.socket = null
    if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }

  /**
   * The response to one query packet (never over 512 bytes), or null for what is not a query
   * at all. Only single-question queries are answered; any other is refused with FORMERR and
   * without its questions echoed, so a large query never buys a larger answer.
   */
  answer(msg: Uint8Array): Uint8Array | null {
    if (msg.length > nameResponderLimits.queryBytesMax) return null
    let query: dns.Packet
    try {
      query = dns.decode(msg)
    } catch {
      return null
    }
    if (query.type !== 'query') return null
    const questions = query.questions ?? []
    const rd = (query.flags ?? 0) & dns.RECURSION_DESIRED
    const refuse = (code: number) =>
      dns.encode({ type: 'response', id: query.id ?? 0, flags: rd | code, questions: [], answers: [] })
    if (questions.length !== 1 || (query.answers ?? []).length > 0 || (query.authorities ?? []).length > 0)
      return refuse(rcode.formErr)
    const q = questions[0]!
    const base = { type: 'response' as const, id: query.id ?? 0, questions }
    if (q.class !== undefined && q.class !== 'IN' && q.class !== 'ANY') return refuse(rcode.notImp)
    const found = lookUpNetworkName(this.init.db(), q.name)
    const flags = dns.AUTHORITATIVE_ANSWER | rd
    if (found.kind === 'unknown') return dns.encode({ ...base, flags: flags | rcode.nxDomain, answers: [] })
    const family = found.kind === 'address' ? isIP(found.address) : 0
    const wants = q.type === 'ANY' || (q.type === 'A' && family === 4) || (q.type === 'AAAA' && family === 6)
    const answers: dns.Answer[] =
      found.kind === 'address' && wants
        ? [
            {
              type: family === 4 ? 'A' : 'AAAA',
              name: q.name,
              ttl: this.init.ttlSeconds ?? 5,
              data: found.address,
            } as dns.Answer,
          ]
        : []
    const reply = dns.encode({ ...base, flags: flags | rcode.noError, answers })
    return reply.length <= nameResponderLimits.answerBytesMax ? reply : refuse(rcode.formErr)
  }
}
