/**
 * A cluster event as read from outside the process that made it: a journal line on disk, a
 * member's answer over the mesh. Checked before use, so a torn line or a hostile answer is
 * dropped rather than trusted; events of kinds this code does not know are dropped too.
 */
import { z } from 'zod'
import { type ClusterEvent, eventTypes } from './clusterEvent.ts'

export const clusterEventSchema = z.object({
  seq: z.number().int().min(1),
  time: z.string().max(64),
  node: z.string().max(128),
  type: z.enum(eventTypes),
  severity: z.enum(['info', 'warning', 'error']),
  message: z.string().max(64 * 1024),
  group: z.string().max(128).optional(),
  resource: z.string().max(128).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
})

/** `value` as an event, or null when it is not one. */
export function readClusterEvent(value: unknown): ClusterEvent | null {
  const parsed = clusterEventSchema.safeParse(value)
  return parsed.success ? (parsed.data as ClusterEvent) : null
}
