/** The dashboard's view of the admin API: the status document and events it shows, and the calls it makes. */

export interface Status {
  node: string
  cluster: {
    name: string
    leader: string | null
    term: number
    quorum: {
      model: string
      state: string
      votesPresent: number
      votesTotal: number
      votesNeeded: number
      epoch: number
      forced: boolean
      epochId: string
      confirmed: boolean
      conflict: string | null
    }
    maintenance?: boolean
    functionalLevel?: number
  }
  nodes: { name: string; site: string; state: string; votes: number; maintenance?: boolean }[]
  witness: { name: string; site: string; type: string; state: string; votes: number; problem?: string } | null
  groups: StatusGroup[]
}

export interface StatusGroup {
  name: string
  state: string
  target: string
  owner: string | null
  fencingToken: number
  failure: string | null
  preferredOwners: string[]
  possibleOwners: string[]
  failback: string
  antiAffinity?: string[]
  maintenance?: boolean
  unmanaged?: string | null
  failovers?: number
  failoverThreshold?: number
  failoverThresholdSet?: number | null
  constraints?: { node: string; kind: 'prefer' | 'ban'; expiresAt: number | null }[]
  resources: StatusResource[]
}

export interface StatusResource {
  name: string
  type: string
  state: string
  target: string
  dependsOn: string[]
  restarts: number
  restartsByNode?: Record<string, number>
  failure: string | null
  maintenance?: boolean
  unmanaged?: string | null
}

export interface ClusterEvent {
  seq: number
  time: string
  node: string
  type: string
  severity: 'info' | 'warning' | 'error'
  message: string
}

const tokenKey = 'geocluster-token'

export const token = {
  get: (): string | null => sessionStorage.getItem(tokenKey),
  set: (t: string) => sessionStorage.setItem(tokenKey, t),
  clear: () => sessionStorage.removeItem(tokenKey),
}

export class Unauthorized extends Error {}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: {
      Authorization: `Bearer ${token.get() ?? ''}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  if (res.status === 401) throw new Unauthorized('the token was refused')
  const json = (await res.json().catch(() => ({}))) as { error?: { message: string } }
  if (!res.ok) throw new Error(json.error?.message ?? `${method} ${path}: HTTP ${res.status}`)
  return json as T
}

export const api = {
  status: () => call<Status>('GET', '/v1/status'),
  history: (limit: number) => call<{ events: ClusterEvent[] }>('GET', `/v1/events/history?limit=${limit}`),
  groupTarget: (group: string, target: 'online' | 'offline') =>
    call('POST', `/v1/groups/${encodeURIComponent(group)}/${target}`, {}),
  groupMove: (group: string, to: string | null, lifetimeMs?: number) =>
    call(
      'POST',
      `/v1/groups/${encodeURIComponent(group)}/move`,
      to === null ? {} : { to, ...(lifetimeMs === undefined ? {} : { lifetimeMs }) },
    ),
  /** Changes in place (group set): only the fields given. */
  groupUpdate: (group: string, change: Record<string, unknown>) =>
    call('PATCH', `/v1/groups/${encodeURIComponent(group)}`, change),
  groupBan: (group: string, node: string, lifetimeMs?: number) =>
    call('POST', `/v1/groups/${encodeURIComponent(group)}/ban`, {
      node,
      ...(lifetimeMs === undefined ? {} : { lifetimeMs }),
    }),
  groupClear: (group: string) => call('POST', `/v1/groups/${encodeURIComponent(group)}/clear`, {}),
  /** Changes in place (resource set); `restart` lets a running resource restart to take new parameters. */
  resourceUpdate: (
    resource: string,
    change: { params?: Record<string, string>; unset?: string[]; restart?: boolean },
  ) => call('PATCH', `/v1/resources/${encodeURIComponent(resource)}`, change),
  resourceCleanup: (resource: string) =>
    call('POST', `/v1/resources/${encodeURIComponent(resource)}/cleanup`, {}),
  node: (name: string, verb: 'pause' | 'resume' | 'drain') =>
    call('POST', `/v1/nodes/${encodeURIComponent(name)}/${verb}`, {}),
  groupCreate: (body: {
    name: string
    preferredOwners: string[]
    possibleOwners: string[]
    failback: string
  }) => call('POST', '/v1/groups', body),
  groupDelete: (group: string) => call('DELETE', `/v1/groups/${encodeURIComponent(group)}`),
  resourceCreate: (body: {
    name: string
    group: string
    type: string
    params: Record<string, string>
    dependsOn: string[]
  }) => call('POST', '/v1/resources', body),
  resourceDelete: (resource: string) => call('DELETE', `/v1/resources/${encodeURIComponent(resource)}`),
  resourceTarget: (resource: string, target: 'online' | 'offline') =>
    call('POST', `/v1/resources/${encodeURIComponent(resource)}/${target}`, {}),
  resourceDependencies: (resource: string, dependsOn: string[]) =>
    call('PUT', `/v1/resources/${encodeURIComponent(resource)}/dependencies`, { dependsOn }),
  /** Every member's newest events merged in time order (asked over the mesh); who did not answer. */
  clusterEvents: (limit: number) =>
    call<{ events: ClusterEvent[]; members: { node: string; error: string | null; events: number }[] }>(
      'GET',
      `/v1/events/cluster?limit=${limit}`,
    ),
  /** A backup of the cluster database, as `geocluster backup` writes it. */
  backup: () => call<{ cluster: { name: string }; index: number; checksum: string }>('GET', '/v1/backup'),
  /** Maintenance on or off: the whole cluster when nothing is named. */
  maintenance: (on: boolean, what: { node?: string; group?: string; resource?: string } = {}) =>
    call('POST', '/v1/maintenance', { on, ...what }),
}

/**
 * Live events over Server-Sent Events, read with fetch (EventSource cannot send the token).
 * Calls `onEvent` for each; resolves when the stream ends or `signal` aborts.
 */
export async function followEvents(
  since: number,
  onEvent: (e: ClusterEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await fetch(`/v1/events?since=${since}`, {
    headers: { Authorization: `Bearer ${token.get() ?? ''}` },
    signal,
  })
  if (!res.ok || res.body === null) throw new Error(`event stream: HTTP ${res.status}`)
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n')
      buffer = buffer.slice(end + 2)
      if (data !== '') onEvent(JSON.parse(data) as ClusterEvent)
    }
  }
}

export { survivableNow } from '../api/survivableNow.ts'
