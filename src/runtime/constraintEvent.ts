/** Operators' constraints added, cleared and expired, said on every node from the log. */
import type { ApplyResult } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import { holdsUntil } from '../database/groupConstraints.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'

/** The nodes of the constraint paths (`constraints/<group>/<node>`) a command changed. */
const nodesOf = (changed: readonly string[]) =>
  changed.filter((p) => p.startsWith('constraints/')).map((p) => p.slice(p.lastIndexOf('/') + 1))

/** The event for an applied command `c`, or null when it is no constraint's or changed nothing. */
export function constraintEvent(c: Command, result: ApplyResult): ClusterEventInput | null {
  if (!result.ok) return null
  switch (c.op) {
    case 'constraint.add':
      return {
        type: 'constraint:added',
        severity: 'info',
        group: c.name,
        message:
          c.rule === 'ban'
            ? `group ${c.name} banned from ${c.node} ${holdsUntil(c.expiresAt)}`
            : `group ${c.name} preferred on ${c.node} ${holdsUntil(c.expiresAt)}`,
        data: { node: c.node, kind: c.rule, expiresAt: c.expiresAt },
      }
    case 'constraint.clear': {
      const nodes = nodesOf(result.changed)
      if (nodes.length === 0) return null
      return {
        type: 'constraint:cleared',
        severity: 'info',
        group: c.name,
        message: `constraints of group ${c.name} cleared on ${nodes.join(', ')}`,
        data: { nodes },
      }
    }
    case 'constraint.expire':
      return {
        type: 'constraint:expired',
        severity: 'info',
        group: c.name,
        message: `the constraint of group ${c.name} on ${c.node} expired`,
        data: { node: c.node, expiresAt: c.expiresAt },
      }
    default:
      return null
  }
}
