/** A group's resources and what an operator does to each, as `resource ...` does. */
import { useState } from 'preact/hooks'
import { act, nameList, paramsOf, type Report } from './actions.ts'
import { api, type StatusGroup } from './api.ts'
import { maintenanceButton, targetButtons } from './buttons.tsx'
import { NewResource } from './forms.tsx'

/** `resource set`: parameters set and unset; a running resource restarts only when allowed to. */
function ResourceSettings(props: { g: StatusGroup; report: Report }) {
  const { g, report } = props
  const [name, setName] = useState('')
  const [params, setParams] = useState('')
  const [unset, setUnset] = useState('')
  const [restart, setRestart] = useState(false)
  if (g.resources.length === 0) return null
  const target = name === '' ? g.resources[0]!.name : name
  return (
    <form
      class="create"
      data-testid={`resource-set-${g.name}`}
      onSubmit={(e) => {
        e.preventDefault()
        const change = {
          params: paramsOf(params),
          ...(nameList(unset).length > 0 ? { unset: nameList(unset) } : {}),
          ...(restart ? { restart: true } : {}),
        }
        act(
          `change the parameters of ${target}${restart ? ' (restarting it if it runs)' : ''}?`,
          () => api.resourceUpdate(target, change),
          report,
        )
      }}
    >
      <strong>change parameters</strong>
      <select
        aria-label="resource to change"
        value={target}
        onChange={(e) => setName((e.target as HTMLSelectElement).value)}
      >
        {g.resources.map((r) => (
          <option key={r.name} value={r.name}>
            {r.name}
          </option>
        ))}
      </select>
      <textarea
        name="set-params"
        placeholder="command=/opt/app/run2"
        value={params}
        onInput={(e) => setParams((e.target as HTMLTextAreaElement).value)}
      />
      <input
        name="unset"
        placeholder="unset a, b"
        value={unset}
        onInput={(e) => setUnset((e.target as HTMLInputElement).value)}
      />
      <label>
        <input
          type="checkbox"
          name="restart"
          checked={restart}
          onChange={(e) => setRestart((e.target as HTMLInputElement).checked)}
        />{' '}
        restart if running
      </label>
      <button type="submit">change</button>
    </form>
  )
}

export function Resources(props: { g: StatusGroup; report: Report }) {
  const { g, report } = props
  const [deps, setDeps] = useState<Record<string, string>>({})
  return (
    <div class="resources" data-testid={`resources-${g.name}`}>
      {g.resources.length === 0 && <p class="muted">no resources yet</p>}
      {g.resources.map((r) => (
        <div class="resource" key={r.name} data-testid={`resource-${r.name}`}>
          <strong>{r.name}</strong> <span class="muted">{r.type}</span>{' '}
          <span class={`badge ${r.state}`}>{r.state}</span>
          {r.unmanaged != null && (
            <span class="badge maintenance" title={r.unmanaged}>
              maintenance
            </span>
          )}
          <span class="muted">
            {' '}
            restarts {r.restarts}
            {Object.keys(r.restartsByNode ?? {}).length > 0
              ? ` (${Object.entries(r.restartsByNode ?? {})
                  .map(([n, k]) => `${n}: ${k}`)
                  .join(', ')})`
              : ''}
            {r.failure === null ? '' : ` · failed: ${r.failure}`}
          </span>
          <div class="actions">
            {targetButtons(`resource ${r.name}`, (t) => api.resourceTarget(r.name, t), report)}
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
            <button
              type="button"
              onClick={() =>
                act(
                  `clean up ${r.name} (forget its failures; the monitor checks it again)?`,
                  () => api.resourceCleanup(r.name),
                  report,
                )
              }
            >
              cleanup
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
      <ResourceSettings g={g} report={report} />
      <NewResource group={g.name} report={report} />
    </div>
  )
}
