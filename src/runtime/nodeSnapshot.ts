/**
 * What a snapshot file holds: the cluster database and the voting configuration at the same
 * log index. The same bytes go to a follower that is too far behind to catch up from the log.
 */
import type { Configuration } from '../consensus/types.ts'
import type { DatabaseSnapshot } from '../database/clusterDatabase.ts'

export interface NodeSnapshot {
  format: 'geocluster.snapshot/1'
  config: Configuration
  database: DatabaseSnapshot
}

export function encodeNodeSnapshot(s: Omit<NodeSnapshot, 'format'>): Buffer {
  return Buffer.from(JSON.stringify({ format: 'geocluster.snapshot/1', ...s }))
}

/** The snapshot, or why it cannot be one. */
export function decodeNodeSnapshot(bytes: Uint8Array): NodeSnapshot | string {
  let parsed: Partial<NodeSnapshot>
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<NodeSnapshot>
  } catch (error) {
    return `snapshot payload is not JSON: ${(error as Error).message}`
  }
  if (parsed.format !== 'geocluster.snapshot/1') return `unknown snapshot format ${String(parsed.format)}`
  if (parsed.config === undefined || parsed.database === undefined)
    return 'snapshot lacks its configuration or database'
  return parsed as NodeSnapshot
}
