/**
 * The CLI's only way to a cluster: HTTP to a node's admin API. Resolves where and with which
 * token, and turns every failure into a GeoclusterError with the right exit code.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Dispatcher } from 'undici'
import { type ErrorCode, GeoclusterError, isErrorCode } from '../errors/errors.ts'
import { adminTokenPath } from '../runtime/adminToken.ts'
import type { TlsTrust } from './apiTransport.ts'

export const apiUrlDefault = 'http://127.0.0.1:7480'
export const labDataDirDefault = '.geocluster-lab'
const requestTimeoutMs = 30_000

export interface ConnectionOptions {
  api?: string | undefined
  token?: string | undefined
  dataDir?: string | undefined
  /** Pin the API's TLS certificate (default: $GEOCLUSTER_API_FINGERPRINT). */
  apiFingerprint?: string | undefined
  /** Trust this CA or certificate for the API (default: $GEOCLUSTER_API_CA). */
  apiCa?: string | undefined
}

export class ApiClient {
  readonly baseUrl: string
  private readonly token: string | null
  private readonly tokenSource: string
  private readonly trust: TlsTrust
  /** The TLS transport for `trust`, made on first use (undici loads only when needed). */
  private transport: Promise<{ dispatcher: Dispatcher; fetch: typeof import('undici').fetch } | null> | null =
    null

  constructor(options: ConnectionOptions) {
    this.baseUrl = (options.api ?? process.env.GEOCLUSTER_API ?? apiUrlDefault).replace(/\/+$/, '')
    const found = resolveToken(options)
    this.token = found?.token ?? null
    this.tokenSource = found?.source ?? 'none'
    const env = (name: string) => (process.env[name] === '' ? undefined : process.env[name])
    this.trust = {
      fingerprint: options.apiFingerprint ?? env('GEOCLUSTER_API_FINGERPRINT'),
      caFile: options.apiCa ?? env('GEOCLUSTER_API_CA'),
    }
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path)
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {})
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body)
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body)
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path)
  }

  /** Opens a streaming GET (Server-Sent Events). */
  async stream(path: string, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const res = await this.fetch('GET', path, undefined, signal, { Accept: 'text/event-stream' })
    if (!res.ok) await this.fail(res, 'GET', path)
    if (res.body === null) throw new GeoclusterError('GC_ERR_FAILED', 'the event stream has no body')
    return res.body
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, path, body, AbortSignal.timeout(requestTimeoutMs))
    if (!res.ok) return this.fail(res, method, path)
    return (await res.json()) as T
  }

  private async fetch(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    if (this.token === null) {
      throw new GeoclusterError(
        'GC_ERR_USAGE',
        'no admin token: pass --token, set GEOCLUSTER_TOKEN, or pass --data-dir of the node (it reads <data-dir>/admin.token)',
      )
    }
    const init = {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal,
    }
    this.transport ??=
      this.trust.fingerprint === undefined && this.trust.caFile === undefined
        ? Promise.resolve(null)
        : Promise.all([import('./apiTransport.ts'), import('undici')]).then(([t, u]) => ({
            dispatcher: t.tlsDispatcher(this.trust)!,
            fetch: u.fetch,
          }))
    const transport = await this.transport
    try {
      if (transport === null) return await fetch(`${this.baseUrl}${path}`, init)
      // undici's own fetch with its own dispatcher (the pinned or CA-trusting TLS connector).
      return (await transport.fetch(`${this.baseUrl}${path}`, {
        ...init,
        dispatcher: transport.dispatcher,
      })) as unknown as Response
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause
      const untrusted = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(cause?.code ?? '')
      const why =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${requestTimeoutMs} ms`
          : untrusted
            ? `its TLS certificate is not trusted (${cause?.code}): pin it with --api-fingerprint (printed when the node starts) or pass --api-ca`
            : (cause?.code ?? cause?.message ?? (error as Error).message)
      throw new GeoclusterError(
        'GC_ERR_UNREACHABLE',
        `cannot reach the geocluster API at ${this.baseUrl}: ${why}`,
        { cause: error },
      )
    }
  }

  private async fail(res: Response, method: string, path: string): Promise<never> {
    let code: ErrorCode =
      res.status === 401 ? 'GC_ERR_UNAUTHORIZED' : res.status >= 500 ? 'GC_ERR_FAILED' : 'GC_ERR_BAD_REQUEST'
    let message = `${method} ${path}: HTTP ${res.status}`
    let fieldPath: string | undefined
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string; path?: string } }
      if (body.error?.code !== undefined && isErrorCode(body.error.code)) code = body.error.code
      if (body.error?.message !== undefined) message = body.error.message
      fieldPath = body.error?.path
    } catch {
      // Not our error shape (a proxy, another service on the port): keep the HTTP status.
    }
    if (code === 'GC_ERR_UNAUTHORIZED') message = `${message} (token from ${this.tokenSource})`
    throw new GeoclusterError(code, message, fieldPath === undefined ? {} : { path: fieldPath })
  }
}

function resolveToken(options: ConnectionOptions): { token: string; source: string } | null {
  if (options.token !== undefined) return { token: options.token, source: '--token' }
  if (process.env.GEOCLUSTER_TOKEN !== undefined && process.env.GEOCLUSTER_TOKEN !== '') {
    return { token: process.env.GEOCLUSTER_TOKEN, source: 'GEOCLUSTER_TOKEN' }
  }
  const candidates = options.dataDir !== undefined ? [options.dataDir] : [labDataDirDefault]
  for (const dir of candidates) {
    const file = adminTokenPath(dir)
    if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), source: file }
  }
  if (options.dataDir !== undefined) {
    throw new GeoclusterError(
      'GC_ERR_USAGE',
      `no admin token at ${join(options.dataDir, 'admin.token')} (is that the node's data dir?)`,
    )
  }
  return null
}
