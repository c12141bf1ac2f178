/**
 * The groups: state, owner, fencing token, and what an operator does to them — online, offline,
 * move, maintenance, delete — and, opened, their resources with theirs (online, offline,
 * dependencies, maintenance, delete).
 */
import { useState } from 'preact/hooks'
import { act, nameList, type Report } from './actions.ts'
import { api, type Status, type StatusGroup } from './api.ts'
import { NewResource } from './forms.tsx'

function maintenanceButton(
  what: string,
  on: boolean,
  run: (on: boolean) => Promise<unknown>,
  report: Report,
) {
  return (
    <button
      type="button"
      onClick={() => act(`${on ? 'end maintenance of' : 'put in maintenance'} ${what}?`, () => run(!on), report)}
    >
      {on ? 'end maintenance' : 'maintenance'}
    </button>
  )
}

function Resources(props: { g: StatusGroup; report: Report }) {
  const { g, report } = props
  const [deps, setDeps] = useState<Record<string, string>>({})
  return (
    <div class="resources" data-testid={`resources-${g.name}`}>
      {g.resources.length === 0 && <p class="muted">no resources yet</p>}
      {g.resources.map((r) => (
        <div class="resource" key={r.name} data-testid={`resource-${r.name}`}>
          <strong>{r.name}</strong> <span class="muted">{r.type}</span> <span class={`badge ${r.state}`}>{r.state}</span>
          {r.unmanaged != null && <span class="badge maintenance" title={r.unmanaged}>maintenance</span>}
          <span class="muted">
            {' '}
            restarts {r.restarts}
            {r.failure === null ? '' : ` · failed: ${r.failure}`}
          </span>
          <div class="actions">
            <button
              type="button"
              onClick={() => act(`bring resource ${r.name} online?`, () => api.resourceTarget(r.name, 'online'), report)}
            >
              online
            </button>
            <button
              type="button"
              onClick={() => act(`take resource ${r.name} offline?`, () => api.resourceTarget(r.name, 'offline'), report)}
            >
              offline
            </button>
            <input
              aria-label={`dependencies of ${r.name}`}
              placeholder="depends on a, b"
              value={deps[r.name] ?? r.dependsOn.join(', ')}
              onInput={(e) => setDeps({ ...deps, [r.name]: (e.target as HTMLInputElement).value })}
            />
            <button
              type="button"
              onClick={() => {
                const list = nameList(deps[r.name] ?? r.dependsOn.join(', '))
                act(
                  `make ${r.name} depend on ${list.length === 0 ? 'nothing' : list.join(', ')}?`,
                  () => api.resourceDependencies(r.name, list),
                  report,
                )
              }}
            >
              set dependencies
            </button>
            {maintenanceButton(
              `resource ${r.name}`,
              r.maintenance === true,
              (on) => api.maintenance(on, { resource: r.name }),
              report,
            )}
            <button
              type="button"
              onClick={() => act(`delete resource ${r.name}?`, () => api.resourceDelete(r.name), report)}
            >
              delete
            </button>
          </div>
        </div>
      ))}
      <NewResource group={g.name} report={report} />
    </div>
  )
}

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
              <button
                type="button"
                onClick={() => act(`bring group ${g.name} online?`, () => api.groupTarget(g.name, 'online'), report)}
              >
                online
              </button>
              <button
                type="button"
                onClick={() => act(`take group ${g.name} offline?`, () => api.groupTarget(g.name, 'offline'), report)}
              >
                offline
              </button>
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
              <button type="button" onClick={() => act(`delete group ${g.name}?`, () => api.groupDelete(g.name), report)}>
                delete
              </button>
            </td>
          </tr>,
          ...(open === g.name
            ? [
                <tr key={`${g.name}-detail`}>
                  <td colSpan={6}>
                    <Resources g={g} report={report} />
                  </td>
                </tr>,
              ]
            : []),
        ])}
      </tbody>
    </table>
  )
}
