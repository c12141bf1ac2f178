/**
 * An opened group: its settings changed in place (`group set`), its operators' moves and bans
 * with their lifetimes (`group move --lifetime`, `ban`, `clear`), and its resources.
 */
import { useState } from 'preact/hooks'
import { act, lifetimeMs, nameList, type Report } from './actions.ts'
import { api, type Status, type StatusGroup } from './api.ts'
import { Resources } from './resourcesView.tsx'

function GroupSettings(props: { g: StatusGroup; report: Report }) {
  const { g, report } = props
  const [preferred, setPreferred] = useState(g.preferredOwners.join(', '))
  const [possible, setPossible] = useState(g.possibleOwners.join(', '))
  const [failback, setFailback] = useState(g.failback)
  const [threshold, setThreshold] = useState(
    g.failoverThresholdSet == null ? 'default' : String(g.failoverThresholdSet),
  )
  const field = (set: (v: string) => void) => (e: Event) => set((e.target as HTMLInputElement).value)
  return (
    <form
      class="create"
      data-testid={`group-set-${g.name}`}
      onSubmit={(e) => {
        e.preventDefault()
        const t = threshold.trim()
        act(
          `change the settings of group ${g.name}?`,
          () =>
            api.groupUpdate(g.name, {
              preferredOwners: nameList(preferred),
              possibleOwners: nameList(possible),
              failback: failback.trim(),
              failoverThreshold: t === 'default' || t === '' ? null : Number(t),
            }),
          report,
        )
      }}
    >
      <strong>settings</strong>
      <label>
        preferred <input name="set-preferred" value={preferred} onInput={field(setPreferred)} />
      </label>
      <label>
        possible{' '}
        <input name="set-possible" placeholder="(all)" value={possible} onInput={field(setPossible)} />
      </label>
      <label>
        failback <input name="set-failback" value={failback} onInput={field(setFailback)} />
      </label>
      <label>
        failover threshold <input name="set-threshold" value={threshold} onInput={field(setThreshold)} />
      </label>
      <span class="muted">
        failovers {g.failovers ?? 0} of {g.failoverThreshold ?? '-'} allowed
      </span>
      <button type="submit">change</button>
    </form>
  )
}

function timeLeft(expiresAt: number | null): string {
  if (expiresAt === null) return 'until cleared'
  const s = Math.max(0, Math.round((expiresAt - Date.now()) / 1000))
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m left`
    : `${Math.floor(s / 60)}m${s % 60}s left`
}

function Constraints(props: { g: StatusGroup; s: Status; report: Report }) {
  const { g, s, report } = props
  const [node, setNode] = useState('')
  const [lifetime, setLifetime] = useState('1h')
  const target = node === '' ? (s.nodes[0]?.name ?? '') : node
  const constraints = g.constraints ?? []
  return (
    <div class="create" data-testid={`constraints-${g.name}`}>
      <strong>moves and bans</strong>
      {constraints.length === 0 && <span class="muted">none</span>}
      {constraints.map((c) => (
        <span key={`${c.kind}-${c.node}`} class="badge" data-testid={`constraint-${g.name}-${c.node}`}>
          {c.kind === 'ban' ? 'banned from' : 'preferred on'} {c.node} ({timeLeft(c.expiresAt)})
        </span>
      ))}
      <select
        aria-label={`node for ${g.name}`}
        value={target}
        onChange={(e) => setNode((e.target as HTMLSelectElement).value)}
      >
        {s.nodes.map((n) => (
          <option key={n.name} value={n.name}>
            {n.name}
          </option>
        ))}
      </select>
      <input
        name="lifetime"
        aria-label="lifetime"
        placeholder="lifetime: 30m, 1h, empty: until cleared"
        value={lifetime}
        onInput={(e) => setLifetime((e.target as HTMLInputElement).value)}
      />
      <button
        type="button"
        onClick={() =>
          act(
            `move group ${g.name} to ${target}${lifetime.trim() === '' ? '' : ` and keep it there for ${lifetime.trim()}`}?`,
            () => api.groupMove(g.name, target, lifetimeMs(lifetime)),
            report,
          )
        }
      >
        move there
      </button>
      <button
        type="button"
        onClick={() =>
          act(
            `ban group ${g.name} from ${target}${lifetime.trim() === '' ? ' until cleared' : ` for ${lifetime.trim()}`}?`,
            () => api.groupBan(g.name, target, lifetimeMs(lifetime)),
            report,
          )
        }
      >
        ban
      </button>
      <button
        type="button"
        onClick={() =>
          act(`clear the moves and bans of group ${g.name}?`, () => api.groupClear(g.name), report)
        }
      >
        clear
      </button>
    </div>
  )
}

export function GroupDetail(props: { g: StatusGroup; s: Status; report: Report }) {
  return (
    <div class="detail">
      <GroupSettings g={props.g} report={props.report} />
      <Constraints g={props.g} s={props.s} report={props.report} />
      <Resources g={props.g} report={props.report} />
    </div>
  )
}
