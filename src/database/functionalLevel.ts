/**
 * The cluster functional level (WSFC's cluster functional level): which command kinds the
 * cluster may commit. Each release supports up to some level; the cluster's level is recorded in
 * its database and raised by the operator (`geocluster cluster upgrade-level`) only once every
 * member supports the new one. Until then no node proposes a command of a higher level, so a
 * node of an older release never meets an entry it cannot read during a rolling upgrade.
 *
 * A level only ever adds command kinds; the table below is the one place that says which.
 */
import type { Command, CommandOp } from './commands.ts'

/** What each level introduced. A new release that adds command kinds adds a level here. */
export const functionalLevels = [
  {
    level: 1,
    summary: 'the first release: groups, resources, nodes, config keys, checkpoints, forced quorum',
    introduced: [
      'cluster.bootstrap',
      'cluster.raiseTokenFloor',
      'config.set',
      'config.delete',
      'group.create',
      'group.delete',
      'group.setTarget',
      'group.assign',
      'group.move',
      'group.release',
      'group.fail',
      'resource.create',
      'resource.delete',
      'resource.setDependencies',
      'resource.setTarget',
      'resource.checkpoint',
      'resource.markFailed',
      'node.add',
      'node.evict',
      'node.setAddress',
      'node.setPaused',
    ],
  },
  {
    level: 2,
    summary:
      'group set and resource set, maintenance mode, backup restore, move/ban constraints, resource cleanup, alerts, functional levels',
    introduced: [
      'group.update',
      'resource.update',
      'maintenance.set',
      'cluster.restore',
      'constraint.add',
      'constraint.clear',
      'constraint.expire',
      'resource.cleanup',
      'alert.add',
      'alert.delete',
      'cluster.setLevel',
    ],
  },
] as const satisfies readonly { level: number; summary: string; introduced: readonly CommandOp[] }[]

type ListedOp = (typeof functionalLevels)[number]['introduced'][number]
/** Every command kind has a level: the build fails here when a new kind is missing from the table. */
export const everyOpHasALevel: [Exclude<CommandOp, ListedOp>] extends [never] ? true : never = true

/** The highest level this code knows (a node may advertise less: see the runtime's supportedLevel). */
export const functionalLevelMax: number = functionalLevels.length

/** A cluster whose database records no level (made before levels existed) is at this one. */
export const functionalLevelDefault = 1

const levelOfOp: ReadonlyMap<string, number> = new Map(
  functionalLevels.flatMap((l) => l.introduced.map((op) => [op, l.level] as const)),
)

/** The level that introduced command kind `op`. */
export function opLevel(op: CommandOp): number {
  const level = levelOfOp.get(op)
  if (level === undefined) throw new Error(`command kind ${op} has no functional level`)
  return level
}

/**
 * The level a node must support to apply `command`: its kind's, or for a command that sets the
 * cluster's level (a bootstrap, a raise), that level — a node below it cannot follow what comes.
 */
export function commandLevel(command: Command): number {
  if (command.op === 'cluster.setLevel') return Math.max(opLevel(command.op), command.level)
  if (command.op === 'cluster.bootstrap') return command.cluster.functionalLevel ?? functionalLevelDefault
  return opLevel(command.op)
}

/**
 * Why the cluster, at level `clusterLevel`, may not take `command` now; null when it may. A raise
 * (`cluster.setLevel`) is judged by whoever proposes it (every member must support the level),
 * not by the level it leaves.
 */
export function levelRefusal(command: Command, clusterLevel: number): string | null {
  if (command.op === 'cluster.setLevel' || command.op === 'cluster.bootstrap') return null
  const needed = opLevel(command.op)
  if (needed <= clusterLevel) return null
  return `${command.op} needs cluster functional level ${needed}; the cluster is at level ${clusterLevel}: once every node and the witness run a release that supports level ${needed}, run geocluster cluster upgrade-level`
}

/** What a node that supports up to `supported` says when the cluster is at `level`, above it. */
export function unsupportedLevelProblem(level: number, supported: number): string {
  return `the cluster is at functional level ${level}, but this node supports at most level ${supported}: install a release that supports level ${level}`
}
