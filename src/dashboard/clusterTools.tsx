/**
 * What the CLI's `events --cluster` and `backup` give, in the page: every member's events merged
 * (asked when opened or refreshed, not every two seconds: each asks every member over the mesh),
 * and a backup of the cluster database downloaded as a file.
 */
import { useState } from 'preact/hooks'
import type { Report } from './actions.ts'
import { api, type ClusterEvent } from './api.ts'

export function BackupButton(props: { report: Report }) {
  return (
    <button
      type="button"
      data-testid="backup"
      onClick={() =>
        api.backup().then(
          (b) => {
            const blob = new Blob([`${JSON.stringify(b, null, 1)}\n`], { type: 'application/json' })
            const a = document.createElement('a')
            a.href = URL.createObjectURL(blob)
            a.download = `geocluster-backup-${b.cluster.name}-${b.index}.json`
            a.click()
            URL.revokeObjectURL(a.href)
            props.report(
              `done: backup of ${b.cluster.name} at index ${b.index} (sha256 ${b.checksum.slice(0, 12)}…)`,
            )
          },
          (e: Error) => props.report(`failed: backup: ${e.message}`),
        )
      }
    >
      backup
    </button>
  )
}

/** The events of every member, merged; members that did not answer are named. */
export function ClusterEvents(props: { report: Report }) {
  const [events, setEvents] = useState<ClusterEvent[] | null>(null)
  const [silent, setSilent] = useState<string[]>([])
  const load = () =>
    api.clusterEvents(100).then(
      (r) => {
        setEvents(r.events.slice().reverse())
        setSilent(r.members.filter((m) => m.error !== null).map((m) => `${m.node}: ${m.error}`))
      },
      (e: Error) => props.report(`failed: cluster events: ${e.message}`),
    )
  return (
    <div data-testid="cluster-events">
      <button type="button" onClick={() => void load()}>
        {events === null ? 'every member' : 'refresh'}
      </button>
      {events !== null && (
        <button type="button" onClick={() => setEvents(null)}>
          this node only
        </button>
      )}
      {silent.length > 0 && <p class="error">did not answer: {silent.join('; ')}</p>}
      {events !== null && (
        <ul>
          {events.map((e) => (
            <li key={`${e.node}-${e.seq}`} class={e.severity}>
              <span class="muted">{e.time.slice(11, 19)}</span> <strong>{e.node}</strong> {e.type}:{' '}
              {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}
