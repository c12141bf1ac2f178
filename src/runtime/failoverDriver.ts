import type { Command } from '../database/commands.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import { commandFor, type NodeView, type PlanAction, planFailover } from '../failover/failoverPlanner.ts'
import { heldBackFromPlanning } from '../failover/maintenance.ts'
import { placementViews } from '../failover/placementViews.ts'
import type { LeaseGrants } from './leaseGrants.ts'
import type { NodeContext } from './nodeContext.ts'

export interface FailoverDriverParts
  extends Pick<
    NodeContext,
    | 'name'
    | 'clock'
    | 'random'
    | 'core'
    | 'db'
    | 'mesh'
    | 'members'
    | 'stopping'
    | 'proposeHere'
    | 'emit'
    | 'log'
  > {
  /** The downAfter rule's duration (topology timing.fencing). */
  downAfterMs: number
  leases: Pick<LeaseGrants, 'earlierLeasesAskedBefore'>
  /** The node no longer runs cycles (stopped or failed): no more decisions. */
  halted: () => boolean
}

export class FailoverDriver {
  private readonly p: FailoverDriverParts
  /** When this node started (monotonic ms). */
  private readonly startedAt: number
  /** Since when each member has been up (monotonic ms). */
  private readonly upSince = new Map<string, number>()
  /** When the mesh dropped each former member (monotonic ms): its last possible lease renewal. */
  private readonly departedAt = new Map<string, number>()
  /** Monotonic ms when this node last became leader (null while it is not). */
  private leaderSince: number | null = null
  /** Groups with a failover decision proposed and not yet applied. */
  private readonly planning = new Set<string>()
  /** The last reason given per group that could not be placed (said once, not every tick). */
  private readonly stuckReasons = new Map<string, string>()
  private planSoonAsked = false

  constructor(parts: FailoverDriverParts) {
    this.p = parts
    this.startedAt = parts.clock.monotonic()
  }

  /** This node leads now, or not (from the core's soft state). */
  leading(leads: boolean): void {
    if (leads && this.leaderSince === null) this.leaderSince = this.p.clock.monotonic()
    if (!leads) this.leaderSince = null
  }

  /**
   * Gives the mesh the current members. A member it drops (evicted) is heard no more and gets
   * no more lease renewals from here: when that was is remembered, so its groups wait until its
   * lease has certainly ended (the downAfter rule) rather than moving at once.
   */
  setMeshMembers(): void {
    const mesh = this.p.mesh()
    if (mesh === null) return
    const members = this.p.members()
    const now = this.p.clock.monotonic()
    const staying = new Set(members.map((m) => m.name))
    for (const n of this.p.db().nodes()) {
      if (staying.has(n.name) || this.departedAt.has(n.name)) continue
      const heard = mesh.detector.lastHeard(n.name)
      if (heard !== null || mesh.peerState(n.name) !== undefined) this.departedAt.set(n.name, now)
    }
    mesh.setMembers(members)
  }

  /**
   * Members this node now sees come up or go down, as events. A member gone silent for its
   * detection time is suspected; the regroup that follows is the consensus layer's: without a
   * leader's word for an election timeout (the same detection time) the others elect one, and
   * with dynamic quorum the leader takes a silent voter's vote away through the log.
   */
  notePeerChanges(): void {
    for (const change of this.p.mesh()?.peerChanges() ?? []) {
      if (change.state === 'joining') continue
      const up = change.state === 'up'
      if (up) this.upSince.set(change.name, this.p.clock.monotonic())
      else this.upSince.delete(change.name)
      this.p.emit({
        type: up ? 'node:up' : 'node:down',
        severity: up ? 'info' : 'warning',
        message: up
          ? `${change.name} is up (seen from ${this.p.name})`
          : change.silentMs === null
            ? `${change.name} is down: not heard from within its detection time of ${change.windowMs} ms`
            : `${change.name} is down: silent for ${change.silentMs} ms (detection time ${change.windowMs} ms)`,
        data: { node: change.name, silentMs: change.silentMs, windowMs: change.windowMs },
      })
    }
  }

  /** The leader answers a release or a failure at once rather than at its next tick. */
  planSoon(): void {
    if (this.planSoonAsked) return
    this.planSoonAsked = true
    setImmediate(() => {
      this.planSoonAsked = false
      this.plan()
    })
  }

  /** Runs the planner and proposes its decisions; called every tick on the leader. */
  plan(): void {
    const { core } = this.p
    const db = this.p.db()
    if (this.p.halted()) return
    const raft = core.status()
    if (raft.role !== 'leader' || !core.committedInTerm() || db.cluster() === undefined) return
    // Decide on the newest committed state only.
    if (db.appliedIndex < raft.commit) return
    const wall = this.p.clock.now()
    const groups = db.groups()
    const resources = db.resources()
    const heldBack = heldBackFromPlanning(
      { cluster: db.cluster(), node: (n) => db.node(n), group: (g) => db.group(g) },
      groups,
      resources,
      db.nodes(),
    )
    const actions = planFailover({
      groups,
      resources,
      nodes: this.nodeViews(this.p.clock.monotonic()).map((v) =>
        heldBack.nodes.has(v.name) ? { ...v, paused: true } : v,
      ),
      nowMs: wall,
      hourOfDay: new Date(wall).getHours(),
      failbackAfterUpMs: this.p.downAfterMs,
      inFlight: heldBack.groups.size === 0 ? this.planning : new Set([...this.planning, ...heldBack.groups]),
      random: this.p.random,
    })
    for (const action of actions) this.act(action, wall)
  }

  /** Asks for every group this node runs to be moved elsewhere; how many were accepted. */
  async moveAway(reason: string, propose: (c: Command) => Promise<AppliedCommand>, timeoutMs: number) {
    const name = this.p.name
    const mine = this.p
      .db()
      .groups()
      .filter((g) => g.owner === name && g.moving === null && g.target === 'online')
    const outcomes = await Promise.all(
      mine.map((g) =>
        Promise.race([
          propose({
            op: 'group.move',
            name: g.name,
            expect: { owner: name, token: g.fencingToken },
            to: null,
            avoid: name,
            kind: 'move',
            reason,
          }).then((a) => a.result.ok),
          new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs)),
        ]).catch(() => false),
      ),
    )
    return outcomes.filter(Boolean).length
  }

  /** What the leader knows of each node, for placement. */
  private nodeViews(now: number): NodeView[] {
    const mesh = this.p.mesh()
    return placementViews({
      nodes: this.p.db().nodes(),
      self: this.p.name,
      nowMs: now,
      stopping: this.p.stopping(),
      seen: (name) => mesh?.peerState(name),
      // A member the mesh dropped counts as heard until it was dropped (see setMeshMembers).
      lastHeardMs: (name) => mesh?.detector.lastHeard(name) ?? this.departedAt.get(name) ?? null,
      upSinceMs: (name) => (name === this.p.name ? this.startedAt : this.upSince.get(name)),
      earlierLeasesAskedBeforeMs: this.p.leases.earlierLeasesAskedBefore(this.leaderSince ?? now),
      downAfterMs: this.p.downAfterMs,
    })
  }

  /** One decision of the planner: said (stuck) or proposed. */
  private act(action: PlanAction, wall: number): void {
    if (action.kind === 'stuck') {
      if (this.stuckReasons.get(action.group) === action.reason) return
      this.stuckReasons.set(action.group, action.reason)
      this.p.emit({ type: 'group:stuck', severity: 'warning', group: action.group, message: action.reason })
      return
    }
    this.stuckReasons.delete(action.group)
    const command = commandFor(action, wall)
    this.planning.add(action.group)
    this.p
      .proposeHere(command, `node:${this.p.name}`)
      .then((applied) => {
        if (!applied.result.ok)
          this.p.log.warn(
            { group: action.group, reason: applied.result.message },
            'failover decision refused',
          )
      })
      .catch((error: Error) =>
        this.p.log.debug({ group: action.group, err: error.message }, 'failover decision not committed'),
      )
      .finally(() => this.planning.delete(action.group))
  }
}
