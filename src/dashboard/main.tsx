/**
 * The geocluster dashboard: sites as columns with their nodes and the witness, a quorum gauge
 * (votes present, needed, total, and which single losses the cluster survives right now), the
 * groups with owner, state and fencing token, and the live event feed. What the CLI does to
 * groups, resources, nodes and maintenance is here too (clusterView, groupsView, forms); every
 * action asks for confirmation first and shows the API's own error. Served by every node at `/`.
 */
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, type ClusterEvent, followEvents, type Status, token, Unauthorized } from './api.ts'
import { BackupButton, ClusterEvents } from './clusterTools.tsx'
import { Gauge, Sites } from './clusterView.tsx'
import { NewGroup } from './forms.tsx'
import { Groups } from './groupsView.tsx'
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
      <p>
        The admin token is in the node's data dir: <code>&lt;data-dir&gt;/admin.token</code>
      </p>
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
          via {status.node} · leader {status.cluster.leader ?? '-'} · term {status.cluster.term}
          {status.cluster.functionalLevel === undefined ? '' : ` · level ${status.cluster.functionalLevel}`}{' '}
          <BackupButton report={setNotice} />{' '}
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
      <Gauge s={status} report={setNotice} />
      <Sites s={status} report={setNotice} />
      <div class="lower">
        <section>
          <h2>groups</h2>
          <Groups s={status} report={setNotice} />
          <NewGroup report={setNotice} />
        </section>
        <section class="events" data-testid="events">
          <h2>events</h2>
          <ClusterEvents report={setNotice} />
          <ul>
            {events.map((e) => (
              <li key={e.seq} class={e.severity}>
                <span class="muted">{e.time.slice(11, 19)}</span> <strong>{e.node}</strong> {e.type}:{' '}
                {e.message}
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
