/**
 * Operating errors with stable codes. One registry, so the CLI's exit codes and the API's HTTP
 * statuses follow from the code and never drift apart (see README "Error codes").
 */
export const errorCodes = {
  GC_ERR_USAGE: { exit: 2, http: 400, summary: 'bad command-line usage' },
  GC_ERR_CONFIG: { exit: 2, http: 400, summary: 'configuration file is invalid' },
  GC_ERR_BAD_REQUEST: { exit: 2, http: 400, summary: 'request body or parameters are invalid' },
  GC_ERR_BAD_JSON: { exit: 2, http: 400, summary: 'request body is not valid JSON' },
  GC_ERR_TOO_LARGE: { exit: 2, http: 413, summary: 'request body exceeds the size limit' },
  GC_ERR_UNAUTHORIZED: { exit: 1, http: 401, summary: 'missing or invalid admin token' },
  GC_ERR_FORBIDDEN: { exit: 1, http: 403, summary: 'the caller may not do this' },
  GC_ERR_NOT_FOUND: { exit: 1, http: 404, summary: 'no such object' },
  GC_ERR_QUOTA: { exit: 1, http: 413, summary: 'the cluster database would go past one of its limits' },
  GC_ERR_CONFLICT: { exit: 1, http: 409, summary: 'the cluster database refused the change' },
  GC_ERR_RESTART_NEEDED: {
    exit: 1,
    http: 409,
    summary: 'the change restarts a running resource: repeat it with --restart (API: "restart": true)',
  },
  GC_ERR_FUNCTIONAL_LEVEL: {
    exit: 1,
    http: 409,
    summary:
      'the cluster functional level and a member disagree: a command above the level, a raise not every member supports, or a node below the level',
  },
  GC_ERR_NO_QUORUM: { exit: 3, http: 503, summary: 'the operation needs quorum and there is none' },
  GC_ERR_UNREACHABLE: { exit: 3, http: 503, summary: 'cluster unreachable' },
  GC_ERR_BUSY: { exit: 3, http: 503, summary: 'the node sheds API load to keep the cluster going; retry' },
  GC_ERR_NOT_LEADER: { exit: 3, http: 503, summary: 'this node is not the leader and cannot forward' },
  GC_ERR_DATA_DIR_LOCKED: { exit: 1, http: 500, summary: 'another process uses this data dir' },
  GC_ERR_STORAGE_FULL: { exit: 1, http: 507, summary: 'the node cannot write (disk full or no descriptors)' },
  GC_ERR_STORAGE_CORRUPT: { exit: 1, http: 500, summary: 'on-disk state failed its checksum' },
  GC_ERR_UNSUPPORTED: { exit: 1, http: 501, summary: 'not supported by this build or host' },
  GC_ERR_FAILED: { exit: 1, http: 500, summary: 'the operation failed' },
  GC_ERR_INTERNAL: { exit: 1, http: 500, summary: 'internal error' },
} as const

export type ErrorCode = keyof typeof errorCodes

export class GeoclusterError extends Error {
  readonly code: ErrorCode
  /** Field path the error is about (`body.params.command`, `sites[1].nodes[0].peerId`), if any. */
  readonly path: string | undefined

  constructor(code: ErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = 'GeoclusterError'
    this.code = code
    this.path = options.path
  }

  get exitCode(): number {
    return errorCodes[this.code].exit
  }

  get httpStatus(): number {
    return errorCodes[this.code].http
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(errorCodes, value)
}
