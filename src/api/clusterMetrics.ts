/**
 * `GET /metrics`: the node's view of the cluster in Prometheus text format (prom-client). Gauges
 * are read from the node when scraped; counters count this node's events as they happen (since
 * it started), so failovers, restarts and every other event type can be graphed and alerted on.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { AdminBackend } from './adminBackend.ts'

const groupStates = ['online', 'offline', 'pending', 'partial', 'failed'] as const

export class ClusterMetrics {
  readonly registry = new Registry()

  constructor(node: AdminBackend) {
    const r = this.registry
    // prom-client samples event-loop delay every 10 ms by default: a hundred wakeups a second on
    // an idle node. The consensus tick's own delay is reported too; 100 ms resolution is plenty.
    collectDefaultMetrics({ register: r, prefix: 'geocluster_', eventLoopMonitoringPrecision: 100 })
    const status = () => node.status()
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        collect() {
          this.reset()
          collect(this)
        },
      })
    gauge('geocluster_quorate', '1 when this node is part of a quorate cluster', [], (g) =>
      g.set(status().cluster.quorum.state === 'quorate' ? 1 : 0),
    )
    gauge('geocluster_votes', 'Votes: present (reachable), needed for quorum, total', ['kind'], (g) => {
      const q = status().cluster.quorum
      g.set({ kind: 'present' }, q.votesPresent)
      g.set({ kind: 'needed' }, q.votesNeeded)
      g.set({ kind: 'total' }, q.votesTotal)
    })
    gauge('geocluster_term', 'The consensus term (the ballot under the disk model)', [], (g) =>
      g.set(status().cluster.term),
    )
    gauge('geocluster_is_leader', '1 when this node leads the cluster', [], (g) => {
      const s = status()
      g.set(s.cluster.leader === s.node ? 1 : 0)
    })
    gauge('geocluster_commit_index', 'Highest log index known committed', [], (g) =>
      g.set(status().storage.commitIndex),
    )
    gauge('geocluster_applied_index', 'Highest log index applied to the cluster database here', [], (g) =>
      g.set(status().storage.appliedIndex),
    )
    gauge('geocluster_apply_lag', 'Committed entries not yet applied here', [], (g) => {
      const s = status().storage
      g.set(Math.max(0, s.commitIndex - s.appliedIndex))
    })
    gauge(
      'geocluster_tick_delay_max_seconds',
      'Largest delay of the consensus tick over the last minute (event-loop saturation)',
      [],
      (g) => {
        const d = node.tickDelayMaxMs?.()
        if (d !== undefined) g.set(d / 1000)
      },
    )
    gauge('geocluster_node_up', '1 when this node sees the member up', ['node', 'site'], (g) => {
      for (const n of status().nodes) g.set({ node: n.name, site: n.site }, n.state === 'up' ? 1 : 0)
    })
    gauge('geocluster_peer_rtt_seconds', 'Smoothed heartbeat round trip to each member', ['peer'], (g) => {
      for (const [peer, ms] of Object.entries(node.peerRtts())) if (ms !== null) g.set({ peer }, ms / 1000)
    })
    gauge(
      'geocluster_maintenance',
      '1 for what is in maintenance: the cluster, a node, a group or a resource',
      ['scope', 'name'],
      (g) => {
        const s = status()
        if (s.cluster.maintenance) g.set({ scope: 'cluster', name: s.cluster.name }, 1)
        for (const n of s.nodes) if (n.maintenance) g.set({ scope: 'node', name: n.name }, 1)
        for (const x of s.groups) {
          if (x.maintenance) g.set({ scope: 'group', name: x.name }, 1)
          for (const r of x.resources) if (r.maintenance) g.set({ scope: 'resource', name: r.name }, 1)
        }
      },
    )
    gauge('geocluster_groups', 'Groups by state', ['state'], (g) => {
      const groups = status().groups
      for (const state of groupStates) g.set({ state }, groups.filter((x) => x.state === state).length)
    })
    gauge('geocluster_group_online', '1 when the group is online, by owner', ['group', 'owner'], (g) => {
      for (const x of status().groups)
        g.set({ group: x.name, owner: x.owner ?? '' }, x.state === 'online' ? 1 : 0)
    })
    gauge('geocluster_group_fencing_token', 'The fencing token of each group', ['group'], (g) => {
      for (const x of status().groups) g.set({ group: x.name }, x.fencingToken)
    })
    new Counter({
      name: 'geocluster_mesh_frames_total',
      help: 'Frames sent and received on the mesh since the node started, by direction, protocol and kind',
      labelNames: ['direction', 'protocol', 'kind'],
      registers: [r],
      collect() {
        this.reset()
        for (const f of node.meshFrames?.() ?? [])
          this.inc({ direction: f.direction, protocol: f.protocol, kind: f.kind }, f.frames)
      },
    })
    const events = new Counter({
      name: 'geocluster_events_total',
      help: 'Events this node emitted since it started, by type and severity',
      labelNames: ['type', 'severity'],
      registers: [r],
    })
    const assignments = new Counter({
      name: 'geocluster_group_assignments_total',
      help: 'Group ownership changes seen here, by kind (placement, failover, move, failback, drain)',
      labelNames: ['kind'],
      registers: [r],
    })
    const restarts = new Counter({
      name: 'geocluster_resource_restarts_total',
      help: 'Resource restarts on this node, by resource',
      labelNames: ['resource'],
      registers: [r],
    })
    node.events.subscribe((e) => {
      events.inc({ type: e.type, severity: e.severity })
      if (e.type === 'group:owner') assignments.inc({ kind: String(e.data?.kind ?? 'placement') })
      if (e.type === 'resource:restart') restarts.inc({ resource: e.resource ?? '' })
    })
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
