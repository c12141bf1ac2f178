/** The quorum gauge and the sites with their nodes and the witness. */
import { act, type Report } from './actions.ts'
import { api, type Status, survivableNow } from './api.ts'

export function Gauge(props: { s: Status; report: Report }) {
  const q = props.s.cluster.quorum
  const { can, cannot } = survivableNow(props.s)
  const percent = q.votesTotal === 0 ? 0 : Math.round((100 * q.votesPresent) / q.votesTotal)
  const needAt = q.votesTotal === 0 ? 0 : Math.round((100 * q.votesNeeded) / q.votesTotal)
  const maintenance = props.s.cluster.maintenance === true
  return (
    <section class="gauge" data-testid="quorum">
      <div class="gauge-head">
        <strong class={`badge ${q.state}`}>{q.state}</strong> {q.votesPresent} of {q.votesTotal} votes
        present, {q.votesNeeded} needed · model {q.model}{' '}
        <button
          type="button"
          data-testid="cluster-maintenance"
          onClick={() =>
            act(
              maintenance
                ? 'take the whole cluster out of maintenance?'
                : 'put the whole cluster in maintenance (nothing is checked, restarted, started, stopped or moved)?',
              () => api.maintenance(!maintenance),
              props.report,
            )
          }
        >
          {maintenance ? 'end maintenance' : 'maintenance'}
        </button>
      </div>
      <div class="bar">
        <div class="fill" style={{ width: `${percent}%` }} />
        <div class="need" style={{ left: `${needAt}%` }} title="needed for quorum" />
      </div>
      {maintenance && (
        <div class="forced maintenance" data-testid="maintenance-banner">
          MAINTENANCE: the whole cluster is left as it is (no checks, restarts, starts, stops or moves)
        </div>
      )}
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
          FORCED QUORUM in effect (epoch {q.epoch}
          {q.epochId === '' ? '' : `, ${q.epochId}`}): votes return as members come back
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

export function Sites(props: { s: Status; report: Report }) {
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
                  {n.maintenance === true && <span class="badge maintenance">maintenance</span>}
                </div>
                <div class="muted">
                  {n.votes} vote{n.votes === 1 ? '' : 's'} ·{' '}
                  {s.groups.filter((g) => g.owner === n.name).length} group(s)
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
                  <button
                    type="button"
                    onClick={() =>
                      act(
                        `${n.maintenance === true ? 'end maintenance of' : 'put in maintenance'} node ${n.name}?`,
                        () => api.maintenance(n.maintenance !== true, { node: n.name }),
                        report,
                      )
                    }
                  >
                    {n.maintenance === true ? 'end maintenance' : 'maintenance'}
                  </button>
                </div>
              </div>
            ))}
          {s.witness !== null && s.witness.site === site && (
            <div class="card witness" data-testid={`witness-${s.witness.name}`}>
              <strong>{s.witness.name}</strong>{' '}
              <span class={`badge ${s.witness.state}`}>{s.witness.state}</span>
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
