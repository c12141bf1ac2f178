/**
 * The geocluster dashboard: sites as columns with their nodes and the witness, a quorum gauge
 * (votes present, needed, total, and which single losses the cluster survives right now), the
 * groups with owner, state and fencing token, and the live event feed. Actions (move, online,
 * offline, pause, resume, drain) ask for confirmation first. Served by every node at `/`.
 */
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, type ClusterEvent, followEvents, type Status, survivableNow, token, Unauthorized } from './api.ts'
import './styles.css'

function Login(props: { onLogin: () => void; error: string | null }) {
  const [value, setValue] = useState('')
  return (
    <form
      class="login"
      onSubmit={(e) => {
        e.preventDefault()
        token.set(value.trim())
        props.onLogin()
      }}
    >
      <h1>geocluster</h1>
      <p>The admin token is in the node's data dir: <code>&lt;data-dir&gt;/admin.token</code></p>
      <input
        name="token"
        type="password"
        placeholder="admin token"
        value={value}
        onInput={(e) => setValue((e.target as HTMLInputElement).value)}
      />
      <button type="submit">Sign in</button>
      {props.error !== null && <p class="error">{props.error}</p>}
    </form>
  )
}

function act(question: string, run: () => Promise<unknown>, report: (m: string) => void) {
  if (!window.confirm(question)) return
  run().then(
    () => report(`done: ${question.replace(/\?$/, '')}`),
    (e: Error) => report(`failed: ${e.message}`),
  )
}

function Gauge(props: { s: Status }) {
  const q = props.s.cluster.quorum
  const { can, cannot } = survivableNow(props.s)
  const percent = q.votesTotal === 0 ? 0 : Math.round((100 * q.votesPresent) / q.votesTotal)
  const needAt = q.votesTotal === 0 ? 0 : Math.round((100 * q.votesNeeded) / q.votesTotal)
  return (
    <section class="gauge" data-testid="quorum">
      <div class="gauge-head">
        <strong class={`badge ${q.state}`}>{q.state}</strong> {q.votesPresent} of {q.votesTotal} votes present,{' '}
        {q.votesNeeded} needed · model {q.model}
      </div>
      <div class="bar">
        <div class="fill" style={{ width: `${percent}%` }} />
        <div class="need" style={{ left: `${needAt}%` }} title="needed for quorum" />
      </div>
      {q.conflict !== null && (
        <div class="forced" data-testid="epoch-conflict">
          EPOCH CONFLICT: {q.conflict}. Two forced histories are never merged: this side takes no writes.
        </div>
      )}
      {!q.confirmed && (
        <div class="forced" data-testid="forced-unconfirmed">
          FORCED QUORUM NOT CONFIRMED (epoch {q.epoch}, {q.epochId}): reads only, no writes, no groups. If the
          other side is down: geocluster cluster confirm-forced --other-side-is-down
        </div>
      )}
      {q.confirmed && q.forced && (
        <div class="forced" data-testid="forced">
          FORCED QUORUM in effect (epoch {q.epoch}{q.epochId === '' ? '' : `, ${q.epochId}`}): votes return as
          members come back
        </div>
      )}
      <div class="survives">
        {q.model === 'disk'
          ? 'the quorum disk is the one vote: any node may go while one reaches it'
          : `can lose now and stay quorate: ${can.join(', ') || 'nobody'}${cannot.length > 0 ? ` · not: ${cannot.join(', ')}` : ''}`}
      </div>
    </section>
  )
}

function Sites(props: { s: Status; report: (m: string) => void }) {
  const { s, report } = props
  const sites = [...new Set([...s.nodes.map((n) => n.site), ...(s.witness === null ? [] : [s.witness.site])])]
  return (
    <section class="sites">
      {sites.map((site) => (
        <div class="site" key={site} data-testid={`site-${site}`}>
          <h2>{site}</h2>
          {s.nodes
            .filter((n) => n.site === site)
            .map((n) => (
              <div class="card" key={n.name} data-testid={`node-${n.name}`}>
                <div>
                  <strong>{n.name}</strong> <span class={`badge ${n.state}`}>{n.state}</span>
                  {s.cluster.leader === n.name && <span class="badge leader">leader</span>}
                </div>
                <div class="muted">
                  {n.votes} vote{n.votes === 1 ? '' : 's'} · {s.groups.filter((g) => g.owner === n.name).length} group(s)
                </div>
                <div class="actions">
                  {(['pause', 'resume', 'drain'] as const).map((verb) => (
                    <button
                      type="button"
                      key={verb}
                      onClick={() => act(`${verb} node ${n.name}?`, () => api.node(n.name, verb), report)}
                    >
                      {verb}
                    </button>
                  ))}
                </div>
              </div>
            ))}
          {s.witness !== null && s.witness.site === site && (
            <div class="card witness" data-testid={`witness-${s.witness.name}`}>
              <strong>{s.witness.name}</strong> <span class={`badge ${s.witness.state}`}>{s.witness.state}</span>
              <div class="muted">
                witness ({s.witness.type}) · {s.witness.votes} vote
              </div>
            </div>
          )}
        </div>
      ))}
    </section>
  )
}

function Groups(props: { s: Status; report: (m: string) => void }) {
  const { s, report } = props
  const [targets, setTargets] = useState<Record<string, string>>({})
  if (s.groups.length === 0) return <p class="muted">no groups yet: geocluster group create NAME</p>
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
        {s.groups.map((g) => (
          <tr key={g.name} data-testid={`group-${g.name}`}>
            <td>{g.name}</td>
            <td>
              <span class={`badge ${g.state}`}>{g.state}</span>
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
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function Dashboard(props: { onLogout: (why: string) => void }) {
  const [status, setStatus] = useState<Status | null>(null)
  const [events, setEvents] = useState<ClusterEvent[]>([])
  const [notice, setNotice] = useState<string | null>(null)
  const [problem, setProblem] = useState<string | null>(null)

  useEffect(() => {
    let stopped = false
    const refresh = () =>
      api.status().then(
        (s) => {
          if (!stopped) {
            setStatus(s)
            setProblem(null)
          }
        },
        (e: Error) => (e instanceof Unauthorized ? props.onLogout(e.message) : setProblem(e.message)),
      )
    void refresh()
    const timer = setInterval(refresh, 2_000)
    const controller = new AbortController()
    const follow = async () => {
      // Reconnects with a pause if the node goes away, from the last event seen.
      let since = 0
      try {
        const { events: past } = await api.history(50)
        setEvents(past.slice().reverse())
        since = past.at(-1)?.seq ?? 0
      } catch {}
      while (!stopped) {
        try {
          await followEvents(
            since,
            (e) => {
              since = e.seq
              setEvents((list) => [e, ...list].slice(0, 200))
              void refresh()
            },
            controller.signal,
          )
        } catch {}
        await new Promise((r) => setTimeout(r, 1_000))
      }
    }
    void follow()
    return () => {
      stopped = true
      clearInterval(timer)
      controller.abort()
    }
  }, [])

  if (status === null) return <p class="muted">{problem ?? 'loading…'}</p>
  return (
    <div class="page">
      <header>
        <h1>
          geocluster <span class="muted">cluster {status.cluster.name}</span>
        </h1>
        <div class="muted">
          via {status.node} · leader {status.cluster.leader ?? '-'} · term {status.cluster.term}{' '}
          <button type="button" onClick={() => props.onLogout('signed out')}>
            sign out
          </button>
        </div>
      </header>
      {problem !== null && <p class="error">{problem}</p>}
      {notice !== null && (
        <p class="notice" data-testid="notice">
          {notice}
        </p>
      )}
      <Gauge s={status} />
      <Sites s={status} report={setNotice} />
      <div class="lower">
        <section>
          <h2>groups</h2>
          <Groups s={status} report={setNotice} />
        </section>
        <section class="events" data-testid="events">
          <h2>events</h2>
          <ul>
            {events.map((e) => (
              <li key={e.seq} class={e.severity}>
                <span class="muted">{e.time.slice(11, 19)}</span> <strong>{e.node}</strong> {e.type}: {e.message}
              </li>
            ))}
          </ul>
        </section>
      </div>
    </div>
  )
}

function App() {
  const [signedIn, setSignedIn] = useState(token.get() !== null)
  const [error, setError] = useState<string | null>(null)
  if (!signedIn)
    return (
      <Login
        error={error}
        onLogin={() => {
          setError(null)
          setSignedIn(true)
        }}
      />
    )
  return (
    <Dashboard
      onLogout={(why) => {
        token.clear()
        setError(why)
        setSignedIn(false)
      }}
    />
  )
}

render(<App />, document.getElementById('app')!)
