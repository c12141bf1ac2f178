/**
 * What a snapshot file holds: the cluster database and the voting configuration at the same
 * log index. The same bytes go to a follower that is too far behind to catch up from the log.
 */
import type { Configuration } from '../consensus/types.ts'
import type { DatabaseSnapshot, DatabaseSnapshotView } from '../database/clusterDatabase.ts'

export interface NodeSnapshot {
  format: 'geocluster.snapshot/1'
  config: Configuration
  database: DatabaseSnapshot
}

export function encodeNodeSnapshot(s: Omit<NodeSnapshot, 'format'>): Buffer {
  return Buffer.from(JSON.stringify({ format: 'geocluster.snapshot/1', ...s }))
}

/** Records encoded per slice before the encoder gives the event loop a turn. */
const recordsPerSlice = 1_000

/**
 * The same bytes as `encodeNodeSnapshot`, in slices, giving the event loop a turn between them:
 * a database of hundreds of megabytes is encoded without stalling the consensus tick.
 */
export async function* encodeNodeSnapshotStreamed(
  config: Configuration,
  view: DatabaseSnapshotView,
): AsyncGenerator<Buffer> {
  const head = JSON.stringify({ format: 'geocluster.snapshot/1', config }).slice(0, -1)
  yield Buffer.from(
    `${head},"database":{"format":"geocluster.database/1","appliedIndex":${JSON.stringify(view.appliedIndex)},"records":[`,
  )
  for (let i = 0; i < view.records.length; i += recordsPerSlice) {
    await new Promise<void>((r) => setImmediate(r))
    const slice = view.records.slice(i, i + recordsPerSlice).map((entry) => JSON.stringify(entry))
    yield Buffer.from(`${i === 0 ? '' : ','}${slice.join(',')}`)
  }
  yield Buffer.from(`],"audit":${JSON.stringify(view.audit)}}}`)
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
