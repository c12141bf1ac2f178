/** What start-up recovery found, said once: damaged snapshots skipped, a torn tail dropped, leftovers removed. */
import type { ClusterEventInput } from '../events/clusterEvent.ts'
import type { Logger } from '../events/logger.ts'
import type { RecoveredStorage } from './recoverStorage.ts'

export function reportRecovery(
  report: RecoveredStorage['report'],
  emit: (e: ClusterEventInput) => void,
  log: Logger,
): void {
  for (const s of report.skippedSnapshots) {
    emit({
      type: 'storage:recovered',
      severity: 'warning',
      message: `skipped damaged snapshot ${s.file}: ${s.reason}; recovered from an older snapshot and the log`,
    })
  }
  if (report.tornTail !== null) {
    const t = report.tornTail
    emit({
      type: 'storage:recovered',
      severity: 'warning',
      message: `dropped a torn write at the end of the log: ${t.file} offset ${t.offset} (${t.droppedBytes} bytes: ${t.reason}); it was never acknowledged`,
      data: { ...t },
    })
  }
  if (report.leftovers.length > 0)
    log.info({ files: report.leftovers }, 'removed temporary files of interrupted writes')
  log.info(
    {
      snapshot: report.snapshotFile,
      snapshotIndex: report.snapshotIndex,
      entries: report.entriesReplayed,
      segments: report.segments,
    },
    'storage recovered',
  )
}
