/** Creating groups and resources from the page, with the fields `group create` and `resource create` take. */
import { useState } from 'preact/hooks'
import { act, nameList, paramsOf, type Report } from './actions.ts'
import { api } from './api.ts'

const resourceTypes = ['generic-app', 'generic-script', 'ip-address', 'network-name'] as const

export function NewGroup(props: { report: Report }) {
  const [name, setName] = useState('')
  const [preferred, setPreferred] = useState('')
  const [possible, setPossible] = useState('')
  const [failback, setFailback] = useState('never')
  const field = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value)
  return (
    <form
      class="create"
      data-testid="new-group"
      onSubmit={(e) => {
        e.preventDefault()
        act(
          `create group ${name}?`,
          () =>
            api.groupCreate({
              name: name.trim(),
              preferredOwners: nameList(preferred),
              possibleOwners: nameList(possible),
              failback,
            }),
          props.report,
        )
      }}
    >
      <strong>new group</strong>
      <input name="group-name" placeholder="name" value={name} onInput={field(setName)} />
      <input
        name="preferred"
        placeholder="preferred owners a, b"
        value={preferred}
        onInput={field(setPreferred)}
      />
      <input
        name="possible"
        placeholder="possible owners (all)"
        value={possible}
        onInput={field(setPossible)}
      />
      <input
        name="failback"
        placeholder="never | immediate | HH-HH"
        value={failback}
        onInput={field(setFailback)}
      />
      <button type="submit">create</button>
    </form>
  )
}

export function NewResource(props: { group: string; report: Report }) {
  const [name, setName] = useState('')
  const [type, setType] = useState<string>('generic-app')
  const [params, setParams] = useState('')
  const [deps, setDeps] = useState('')
  return (
    <form
      class="create"
      data-testid={`new-resource-${props.group}`}
      onSubmit={(e) => {
        e.preventDefault()
        act(
          `create resource ${name} in ${props.group}?`,
          () =>
            api.resourceCreate({
              name: name.trim(),
              group: props.group,
              type,
              params: paramsOf(params),
              dependsOn: nameList(deps),
            }),
          props.report,
        )
      }}
    >
      <strong>new resource</strong>
      <input
        name="resource-name"
        placeholder="name"
        value={name}
        onInput={(e) => setName((e.target as HTMLInputElement).value)}
      />
      <select
        name="type"
        aria-label="type"
        value={type}
        onChange={(e) => setType((e.target as HTMLSelectElement).value)}
      >
        {resourceTypes.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
      <textarea
        name="params"
        placeholder={'command=/opt/app/run\nstopTimeoutMs=20000'}
        value={params}
        onInput={(e) => setParams((e.target as HTMLTextAreaElement).value)}
      />
      <input
        name="depends"
        placeholder="depends on a, b"
        value={deps}
        onInput={(e) => setDeps((e.target as HTMLInputElement).value)}
      />
      <button type="submit">create</button>
    </form>
  )
}
