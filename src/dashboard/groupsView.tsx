/**
 * The groups: state, owner, fencing token, and what an operator does to them — online, offline,
 * move, maintenance, delete — and, opened, their settings, moves and bans, and resources
 * (groupDetail.tsx, resourcesView.tsx).
 */
import { useState } from 'preact/hooks'
import { act, type Report } from './actions.ts'
import { api, type Status } from './api.ts'
import { maintenanceButton, targetButtons } from './buttons.tsx'
import { GroupDetail } from './groupDetail.tsx'

export function Groups(props: { s: Status; report: Report }) {
  const { s, report } = props
  const [targets, setTargets] = useState<Record<string, string>>({})
  const [open, setOpen] = useState<string | null>(null)
  if (s.groups.length === 0) return <p class="muted">no groups yet: create one below</p>
  return (
    <table class="groups">
      <thead>
        <tr>
          <th>group</th>
          <th>state</th>
          <th>owner</th>
          <th>token</th>
          <th>resources</th>
          <th>actions</th>
        </tr>
      </thead>
      <tbody>
        {s.groups.flatMap((g) => [
          <tr key={g.name} data-testid={`group-${g.name}`}>
            <td>
              <button type="button" class="link" onClick={() => setOpen(open === g.name ? null : g.name)}>
                {open === g.name ? '▾' : '▸'} {g.name}
              </button>
            </td>
            <td>
              <span class={`badge ${g.state}`}>{g.state}</span>
              {g.unmanaged != null && (
                <span class="badge maintenance" title={g.unmanaged}>
                  maintenance
                </span>
              )}
            </td>
            <td data-testid={`owner-${g.name}`}>{g.owner ?? '-'}</td>
            <td>{g.fencingToken}</td>
            <td class="muted">{g.resources.map((r) => `${r.name}:${r.state}`).join(' ') || '-'}</td>
            <td class="actions">
              {targetButtons(`group ${g.name}`, (t) => api.groupTarget(g.name, t), report)}
              <select
                aria-label={`move ${g.name} to`}
                value={targets[g.name] ?? ''}
                onChange={(e) => setTargets({ ...targets, [g.name]: (e.target as HTMLSelectElement).value })}
              >
                <option value="">placement decides</option>
                {s.nodes
                  .filter((n) => n.name !== g.owner)
                  .map((n) => (
                    <option value={n.name} key={n.name}>
                      {n.name}
                    </option>
                  ))}
              </select>
              <button
                type="button"
                onClick={() => {
                  const to = targets[g.name] ?? ''
                  act(
                    `move group ${g.name} ${to === '' ? 'where placement says' : `to ${to}`}?`,
                    () => api.groupMove(g.name, to === '' ? null : to),
                    report,
                  )
                }}
              >
                move
              </button>
              {maintenanceButton(
                `group ${g.name}`,
                g.maintenance === true,
                (on) => api.maintenance(on, { group: g.name }),
                report,
              )}
              <button
                type="button"
                onClick={() => act(`delete group ${g.name}?`, () => api.groupDelete(g.name), report)}
              >
                delete
              </button>
            </td>
          </tr>,
          ...(open === g.name
            ? [
                <tr key={`${g.name}-detail`}>
                  <td colSpan={6}>
                    <GroupDetail g={g} s={s} report={report} />
                  </td>
                </tr>,
              ]
            : []),
        ])}
      </tbody>
    </table>
  )
}
