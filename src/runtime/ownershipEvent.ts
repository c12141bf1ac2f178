/** Every ownership decision is an event with its reason, said on every node from the log. */
import type { Command } from '../database/commands.ts'
import type { GroupRecord } from '../database/entities.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'

/** The event for an applied command `c` that changed group `g` (as it is now), or null. */
export function ownershipEvent(c: Command, g: GroupRecord): ClusterEventInput | null {
  switch (c.op) {
    case 'group.assign':
      return {
        type: 'group:owner',
        severity: c.kind === 'failover' ? 'warning' : 'info',
        group: c.name,
        message: `group ${c.name} owned by ${g.owner ?? 'nobody'} with fencing token ${g.fencingToken}${c.reason === undefined ? '' : `: ${c.reason}`}`,
        data: { owner: g.owner, fencingToken: g.fencingToken, kind: c.kind ?? 'move' },
      }
    case 'group.move':
      return {
        type: 'group:moving',
        severity: c.kind === 'failover' ? 'warning' : 'info',
        group: c.name,
        message: `group ${c.name} moving from ${g.owner}${c.to === null ? '' : ` to ${c.to}`}: ${c.reason}`,
        data: { from: g.owner, to: c.to, kind: c.kind },
      }
    case 'group.release':
      return {
        type: 'group:released',
        severity: 'info',
        group: c.name,
        message: `${g.lastOwner} stopped group ${c.name} and released it (token ${c.token})`,
      }
    case 'group.fail':
      return {
        type: 'group:failed',
        severity: 'error',
        group: c.name,
        message: `group ${c.name} failed: ${c.reason}`,
      }
    default:
      return null
  }
}
