/**
 * Raising the cluster functional level (`geocluster cluster upgrade-level`, WSFC's
 * Update-ClusterFunctionalLevel): every node of the cluster — voting or not, up or down — and
 * the witness process are asked which level their release supports, and the level is raised
 * only when each of them answers and supports it. Then one `cluster.setLevel` goes through the
 * log like any change, and the leader proposes it only if it supports the level itself; from
 * then on commands of the new level are taken. A member that cannot be asked counts as behind:
 * it may still run the older release, and would stop at the first entry it cannot read.
 */
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import { GeoclusterError } from '../errors/errors.ts'
import { type MemberReport, supportedLevelOf } from '../membership/memberReport.ts'

/** A member as the raise sees it: its release and the level it supports, or why it did not say. */
export interface LevelMember {
  name: string
  role: 'node' | 'witness'
  version: string | null
  supportedLevel: number | null
  error: string | null
}

export interface LevelUpgrade {
  /** The cluster's level now. */
  level: number
  previous: number
  raised: boolean
  /** The log index of the raise (null when nothing changed). */
  index: number | null
  members: LevelMember[]
}

/** Who must support a raise: every node not evicted, and the witness when it is a process. */
export function levelVoters(db: ClusterDatabase): { name: string; role: 'node' | 'witness' }[] {
  const nodes = db
    .nodes()
    .filter((n) => n.evicted !== true)
    .map((n) => ({ name: n.name, role: 'node' as const }))
  const w = db.witness()
  return w?.type === 'node' ? [...nodes, { name: w.name, role: 'witness' }] : nodes
}

/** Each member that must support the level, with what its report says (or that it sent none). */
export function levelMembers(
  voters: { name: string; role: 'node' | 'witness' }[],
  reports: MemberReport[],
): LevelMember[] {
  const byName = new Map(reports.map((r) => [r.node, r]))
  return voters.map(({ name, role }) => {
    const r = byName.get(name)
    if (r === undefined) return { name, role, version: null, supportedLevel: null, error: 'not asked' }
    if (r.error !== null) return { name, role, version: null, supportedLevel: null, error: r.error }
    return { name, role, version: r.version, supportedLevel: supportedLevelOf(r), error: null }
  })
}

/** Members that keep the cluster below `target`, as the operator reads them. */
export function laggards(members: LevelMember[], target: number): string[] {
  return members.flatMap((m) =>
    m.error !== null
      ? [`${m.name} did not answer (${m.error})`]
      : (m.supportedLevel ?? 1) < target
        ? [`${m.name} (version ${m.version}) supports level ${m.supportedLevel}`]
        : [],
  )
}

export interface LevelUpgradeParts {
  name: string
  /** The highest level this node supports: the default target. */
  supportedLevel: number
  read: <T>(fn: (db: ClusterDatabase) => T) => Promise<T>
  propose: (command: Command, by: string) => Promise<AppliedCommand>
  membersReport: () => Promise<MemberReport[]>
}

/** Raises the cluster's level to `requested`, or to the highest this node supports. */
export async function upgradeLevel(
  p: LevelUpgradeParts,
  requested: number | undefined,
  by: string,
): Promise<LevelUpgrade> {
  const { previous, voters } = await p.read((db) => ({
    previous: db.functionalLevel(),
    voters: levelVoters(db),
  }))
  const target = requested ?? Math.max(previous, p.supportedLevel)
  if (target < previous)
    throw new GeoclusterError(
      'GC_ERR_FUNCTIONAL_LEVEL',
      `the cluster is at functional level ${previous}: a functional level is never lowered (every node must keep a release that supports it)`,
      { path: 'level' },
    )
  if (target > p.supportedLevel)
    throw new GeoclusterError(
      'GC_ERR_FUNCTIONAL_LEVEL',
      `${p.name} supports at most functional level ${p.supportedLevel}: ask a node of a release that supports level ${target}`,
      { path: 'level' },
    )
  const members = levelMembers(voters, await p.membersReport())
  if (target === previous) return { level: previous, previous, raised: false, index: null, members }
  const behind = laggards(members, target)
  if (behind.length > 0)
    throw new GeoclusterError(
      'GC_ERR_FUNCTIONAL_LEVEL',
      `cannot raise the functional level from ${previous} to ${target}: not every member supports it: ${behind.join('; ')}. Upgrade ${behind.length === 1 ? 'it' : 'them'} one at a time (drain, install, restart, resume), then run geocluster cluster upgrade-level again`,
    )
  const applied = await p.propose({ op: 'cluster.setLevel', level: target }, by)
  if (!applied.result.ok) throw new GeoclusterError('GC_ERR_CONFLICT', applied.result.message)
  return { level: target, previous, raised: true, index: applied.index, members }
}
