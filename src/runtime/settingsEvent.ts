/** A change of settings (`group set`, `resource set`) is an event, said on every node from the log. */
import type { ApplyResult, ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import type { GroupRecord } from '../database/entities.ts'
import type { ClusterEventInput } from '../events/clusterEvent.ts'

/** A group's field as people read it. */
function groupValue(g: GroupRecord, field: string): string {
  const v = (g as unknown as Record<string, unknown>)[field]
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.join(',')
  return v === null ? 'default' : String(v)
}

/**
 * The event for an applied settings change, or null (another command, or nothing differed).
 * Parameter values are not said: one may hold a secret (`environment`).
 */
export function settingsEvent(
  c: Command,
  result: ApplyResult,
  db: ClusterDatabase,
): ClusterEventInput | null {
  if (!result.ok || (result.fields ?? []).length === 0) return null
  const fields = result.fields ?? []
  if (c.op === 'group.update') {
    const g = db.group(c.name)
    const said = g === undefined ? fields : fields.map((f) => `${f} ${groupValue(g, f)}`)
    return {
      type: 'group:changed',
      severity: 'info',
      group: c.name,
      message: `group ${c.name} changed: ${said.join('; ')}`,
      data: { fields },
    }
  }
  if (c.op !== 'resource.update') return null
  const r = db.resource(c.name)
  const owner = r === undefined ? undefined : db.group(r.group)?.owner
  const restarting = result.restarting === true
  return {
    type: 'resource:changed',
    severity: restarting ? 'warning' : 'info',
    ...(r === undefined ? {} : { group: r.group }),
    resource: c.name,
    message: `resource ${c.name} changed: ${fields.join(', ')}${restarting ? `; restarting it on ${owner ?? 'its owner'} to take its new parameters` : ''}`,
    data: { fields, restarting },
  }
}
