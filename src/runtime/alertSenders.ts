/**
 * The two ways an alert reaches someone: a webhook gets a POST of the event as JSON; a script
 * gets it as JSON on stdin and as GEOCLUSTER_EVENT_* variables, in a clean environment (as
 * resources do: not the node's, which holds tokens). Both are bounded by the alert's timeout
 * and by `signal` (the node stopping); neither throws: each says how the attempt went.
 */
import { spawn } from 'node:child_process'
import type { AlertRecord } from '../database/entities.ts'
import type { ClusterEvent } from '../events/clusterEvent.ts'
import { resourceEnvironment } from '../resources/resourceEnvironment.ts'

export type AttemptResult = { ok: true } | { ok: false; error: string }

/** What a script says on stderr, kept for the failure's message (its tail). */
const stderrBytesKept = 1024

/** The event's variables for a script (Pacemaker's CRM_alert_* in our names). */
export function alertVariables(
  alert: AlertRecord,
  event: ClusterEvent,
  attempt: number,
): Record<string, string> {
  return {
    GEOCLUSTER_ALERT: alert.name,
    GEOCLUSTER_ALERT_ATTEMPT: String(attempt),
    GEOCLUSTER_EVENT_SEQ: String(event.seq),
    GEOCLUSTER_EVENT_TIME: event.time,
    GEOCLUSTER_EVENT_NODE: event.node,
    GEOCLUSTER_EVENT_TYPE: event.type,
    GEOCLUSTER_EVENT_SEVERITY: event.severity,
    GEOCLUSTER_EVENT_MESSAGE: event.message,
    ...(event.group === undefined ? {} : { GEOCLUSTER_EVENT_GROUP: event.group }),
    ...(event.resource === undefined ? {} : { GEOCLUSTER_EVENT_RESOURCE: event.resource }),
  }
}

export async function postWebhook(
  url: string,
  event: ClusterEvent,
  timeoutMs: number,
  signal: AbortSignal,
  userAgent: string,
): Promise<AttemptResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': userAgent },
      body: JSON.stringify(event),
      // A redirect is the receiver's mistake to fix, not a second address to post the event to.
      redirect: 'manual',
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
    })
    // The answer's body is not wanted; reading none of it frees the connection.
    await res.body?.cancel().catch(() => {})
    return res.status >= 200 && res.status < 300
      ? { ok: true }
      : { ok: false, error: `answered HTTP ${res.status}` }
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } }
    if (e.name === 'TimeoutError') return { ok: false, error: `no answer within ${timeoutMs} ms` }
    if (e.name === 'AbortError') return { ok: false, error: 'the node is stopping' }
    return { ok: false, error: e.cause?.code ?? e.cause?.message ?? e.message }
  }
}

export function runAlertScript(
  path: string,
  variables: Record<string, string>,
  event: ClusterEvent,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<AttemptResult> {
  return new Promise((resolve) => {
    let stderr = ''
    let timedOut = false
    let settled = false
    const finish = (result: AttemptResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', stop)
      resolve(result)
    }
    const child = spawn(path, [], {
      env: resourceEnvironment(process.env, variables, {}),
      stdio: ['pipe', 'ignore', 'pipe'],
      // Its own process group, so that a timeout ends whatever it started too.
      detached: true,
    })
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      kill()
    }, timeoutMs)
    const stop = () => kill()
    signal.addEventListener('abort', stop)
    child.on('error', (error: Error & { code?: string }) =>
      finish({ ok: false, error: `cannot run ${path}: ${error.code ?? error.message}` }),
    )
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-stderrBytesKept)
    })
    // A script that does not read its stdin is no failure.
    child.stdin.on('error', () => {})
    child.stdin.end(`${JSON.stringify(event)}\n`)
    // 'exit', not 'close': a daemon the script left behind may hold stderr open for ever.
    child.on('exit', (code, sig) => {
      const said = stderr.trim().split('\n').at(-1) ?? ''
      if (code === 0) finish({ ok: true })
      else if (timedOut) finish({ ok: false, error: `${path} took longer than ${timeoutMs} ms (killed)` })
      else if (signal.aborted) finish({ ok: false, error: 'the node is stopping' })
      else
        finish({
          ok: false,
          error: `${path} ${sig === null ? `exited with ${code}` : `was killed by ${sig}`}${said === '' ? '' : `: ${said.slice(0, 200)}`}`,
        })
    })
  })
}
