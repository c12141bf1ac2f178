/** The API's one error shape: `{ "error": { "code", "message", "path" } }`. */
import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Refusal } from '../database/clusterDatabase.ts'
import { type ErrorCode, errorCodes, GeoclusterError } from '../errors/errors.ts'

export interface ApiErrorBody {
  error: { code: ErrorCode; message: string; path?: string }
}

export function errorResponse(c: Context, error: GeoclusterError): Response {
  const body: ApiErrorBody = { error: { code: error.code, message: error.message } }
  if (error.path !== undefined) body.error.path = error.path
  return c.json(body, errorCodes[error.code].http as ContentfulStatusCode)
}

/**
 * The database's refusal as an operating error (invalid → 400, not-found → 404, conflict and
 * restart-needed → 409, over a quota → 413).
 */
export function refusalError(r: Refusal, pathPrefix = 'body'): GeoclusterError {
  const code: ErrorCode =
    r.reason === 'invalid'
      ? 'GC_ERR_BAD_REQUEST'
      : r.reason === 'not-found'
        ? 'GC_ERR_NOT_FOUND'
        : r.reason === 'quota'
          ? 'GC_ERR_QUOTA'
          : r.reason === 'restart-needed'
            ? 'GC_ERR_RESTART_NEEDED'
            : 'GC_ERR_CONFLICT'
  return new GeoclusterError(code, r.message, r.path === undefined ? {} : { path: `${pathPrefix}.${r.path}` })
}
