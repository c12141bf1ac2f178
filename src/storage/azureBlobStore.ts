/**
 * The witness blob on Azure Blob Storage or anything that speaks its API (Azurite, path-style
 * endpoints such as `http://127.0.0.1:10000/devstoreaccount1`), through the maintained SDK
 * (@azure/storage-blob). Conditional writes use the SDK's `If-Match`/`If-None-Match` request
 * conditions. The SDK retries throttling (503, 500, 429) and timeouts itself; each try and the
 * retries all fit within `budgetMs` (the caller's election timeout), and the caller's signal
 * aborts whatever is left.
 */
import type { Readable } from 'node:stream'
import {
  AnonymousCredential,
  BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
  StorageRetryPolicyType,
  StorageSharedKeyCredential,
} from '@azure/storage-blob'
import type { CloudCredentials } from './cloudCredentials.ts'
import {
  BlobStoreError,
  type BlobWriteCondition,
  type BlobWriteResult,
  type StoredBlob,
  type WitnessBlobStore,
} from './witnessBlobStore.ts'

export interface AzureBlobStoreOptions {
  /** The account's blob endpoint: `https://ACCOUNT.blob.core.windows.net` or a path-style URL. */
  endpoint: string
  container: string
  blob: string
  credentials: CloudCredentials
  /** Every operation, retries included, ends within this (ms). */
  budgetMs: number
  /** Bodies larger than this are refused (bytes): not ours. */
  bytesMax: number
}

export class AzureBlobStore implements WitnessBlobStore {
  readonly where: string
  private readonly container: ContainerClient
  private readonly blob: BlockBlobClient
  private readonly bytesMax: number
  private containerChecked = false

  constructor(o: AzureBlobStoreOptions) {
    const base = o.endpoint.replace(/\/+$/, '')
    const url = o.credentials.kind === 'sas' ? `${base}?${o.credentials.sasToken}` : base
    const credential =
      o.credentials.kind === 'shared-key'
        ? new StorageSharedKeyCredential(o.credentials.accountName, o.credentials.accountKey)
        : new AnonymousCredential()
    // Three tries, each a third of the budget less the back-off: a throttled or silent service
    // costs at most the budget, and the caller's signal ends it there anyway.
    const maxTries = 3
    const retryDelayInMs = Math.max(20, Math.floor(o.budgetMs / 20))
    const service = new BlobServiceClient(url, credential, {
      retryOptions: {
        retryPolicyType: StorageRetryPolicyType.EXPONENTIAL,
        maxTries,
        tryTimeoutInMs: Math.max(100, Math.floor((o.budgetMs - 3 * retryDelayInMs) / maxTries)),
        retryDelayInMs,
        maxRetryDelayInMs: retryDelayInMs * 2,
      },
      userAgentOptions: { userAgentPrefix: 'geocluster-witness' },
    })
    this.container = service.getContainerClient(o.container)
    this.blob = this.container.getBlockBlobClient(o.blob)
    this.bytesMax = o.bytesMax
    this.where = `${base}/${o.container}/${o.blob}`
  }

  async read(signal: AbortSignal): Promise<StoredBlob> {
    try {
      const res = await this.blob.download(0, undefined, { abortSignal: signal })
      if (res.etag === undefined) throw new BlobStoreError('refused', `${this.where}: the answer has no ETag`)
      const body = await readAll(res.readableStreamBody, this.bytesMax)
      if (body === null)
        throw new BlobStoreError(
          'refused',
          `${this.where}: the blob holds more than ${this.bytesMax} bytes, more than a witness document ever does`,
        )
      return { kind: 'present', etag: res.etag, body }
    } catch (error) {
      const e = error as RestLike
      // No blob yet, or no container yet: the first write creates both.
      if (e.statusCode === 404) return { kind: 'absent' }
      throw this.failure(error, 'reading')
    }
  }

  async write(body: string, condition: BlobWriteCondition, signal: AbortSignal): Promise<BlobWriteResult> {
    const upload = () =>
      this.blob.upload(body, Buffer.byteLength(body), {
        conditions: 'ifMatch' in condition ? { ifMatch: condition.ifMatch } : { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json' },
        abortSignal: signal,
      })
    try {
      const res = await upload().catch(async (error: unknown) => {
        // A new account or container: create it once (a SAS that may not create gets 403 here).
        if ((error as RestLike).code !== 'ContainerNotFound' || this.containerChecked) throw error
        this.containerChecked = true
        await this.container.createIfNotExists({ abortSignal: signal })
        return upload()
      })
      if (res.etag === undefined) throw new BlobStoreError('refused', `${this.where}: the answer has no ETag`)
      return { kind: 'written', etag: res.etag }
    } catch (error) {
      const e = error as RestLike
      // 412: If-Match failed; 409 BlobAlreadyExists: If-None-Match:* found a blob.
      if (e.statusCode === 412 || (e.statusCode === 409 && e.code === 'BlobAlreadyExists'))
        return { kind: 'conflict' }
      throw this.failure(error, 'writing')
    }
  }

  private failure(error: unknown, doing: string): BlobStoreError {
    if (error instanceof BlobStoreError) return error
    const e = error as RestLike
    const at = `${doing} ${this.where}`
    if (e.name === 'AbortError' || e.name === 'TimeoutError')
      return new BlobStoreError('timeout', `${at}: no answer in time`, { cause: error })
    const status = e.statusCode
    const code = e.code ?? ''
    const detail = `${status ?? ''} ${code}`.trim()
    if (status === 401 || status === 403)
      return new BlobStoreError(
        'credentials',
        `${at}: the service refused the credentials (${detail || 'forbidden'}); check the credentials file's account name, key or SAS token`,
        { cause: error },
      )
    if (status === 404)
      return new BlobStoreError(
        'not-found',
        `${at}: ${code === 'ContainerNotFound' ? 'no such container' : 'not found'} (${detail})`,
        {
          cause: error,
        },
      )
    if (status === 429 || status === 500 || status === 503)
      return new BlobStoreError(
        'throttled',
        `${at}: the service is busy or failing (${detail}) after retries`,
        {
          cause: error,
        },
      )
    if (status === undefined)
      return new BlobStoreError('unreachable', `${at}: ${firstLine(e.message)}`, { cause: error })
    return new BlobStoreError('refused', `${at}: ${detail} ${firstLine(e.message)}`.trim(), { cause: error })
  }
}

interface RestLike {
  name?: string
  message?: string
  statusCode?: number
  code?: string
}

function firstLine(s: string | undefined): string {
  return (s ?? 'failed').split('\n')[0]!.slice(0, 200)
}

/** The body, or null when it is longer than `bytesMax` (reading stops there). */
async function readAll(
  stream: Readable | NodeJS.ReadableStream | undefined,
  bytesMax: number,
): Promise<string | null> {
  if (stream === undefined) return ''
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    bytes += b.length
    if (bytes > bytesMax) return null
    chunks.push(b)
  }
  return Buffer.concat(chunks).toString('utf8')
}
