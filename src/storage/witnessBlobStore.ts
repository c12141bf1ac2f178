/**
 * The one thing a cloud witness needs from object storage: read a blob with its version (ETag),
 * and write it only if it is still that version (or still absent). Kept this small so the vote
 * logic (quorum/cloud/witnessTurn.ts) is tested without a server and another provider
 * (S3's conditional writes, GCS generations) fits behind the same shape.
 */

export type StoredBlob = { kind: 'absent' } | { kind: 'present'; etag: string; body: string }

export type BlobWriteCondition = { ifMatch: string } | { ifNoneMatch: '*' }

/** `conflict`: the condition failed — someone wrote the blob since it was read. */
export type BlobWriteResult = { kind: 'written'; etag: string } | { kind: 'conflict' }

/**
 * Why storage could not be used: `credentials` (refused: 401/403), `not-found` (no such
 * container or account), `throttled` (503/429/500 after retries), `unreachable` (no connection),
 * `timeout` (no answer in time), `refused` (any other answer, or a body that is not a blob's).
 */
export type BlobFailureKind =
  | 'credentials'
  | 'not-found'
  | 'throttled'
  | 'unreachable'
  | 'timeout'
  | 'refused'

export class BlobStoreError extends Error {
  readonly kind: BlobFailureKind

  constructor(kind: BlobFailureKind, message: string, options: { cause?: unknown } = {}) {
    super(message, options)
    this.name = 'BlobStoreError'
    this.kind = kind
  }
}

export interface WitnessBlobStore {
  /** Where the blob is, for people: `http://host/account/container/blob`. */
  readonly where: string
  /** The blob now; throws BlobStoreError. */
  read(signal: AbortSignal): Promise<StoredBlob>
  /** Writes `body` if `condition` still holds; throws BlobStoreError for anything but a verdict. */
  write(body: string, condition: BlobWriteCondition, signal: AbortSignal): Promise<BlobWriteResult>
}
