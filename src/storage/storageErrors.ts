import { GeoclusterError } from '../errors/errors.ts'

/** On-disk state failed a check. Names the file and byte offset so an operator can look. */
export class StorageCorruptError extends GeoclusterError {
  readonly file: string
  readonly offset: number

  constructor(file: string, offset: number, reason: string) {
    super(
      'GC_ERR_STORAGE_CORRUPT',
      `${file}: offset ${offset}: ${reason}; refusing to start rather than serve changed data ` +
        '(restore the data dir from a backup, or remove it and let the node rejoin from its peers)',
    )
    this.name = 'StorageCorruptError'
    this.file = file
    this.offset = offset
  }
}

const exhaustionCodes = new Set(['EMFILE', 'ENFILE', 'ENOSPC', 'EDQUOT', 'EFBIG'])

/** The disk or the process ran out of something (space, quota, descriptors): retry later. */
export function isExhaustion(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && exhaustionCodes.has((error as NodeJS.ErrnoException).code ?? '')
}

/**
 * A write that did not happen because the disk is full or the process has no descriptors left.
 * What was on disk is unchanged (a partial record is cut off again), so the node keeps its data
 * and can retry once space or descriptors are back.
 */
export class StorageExhaustedError extends GeoclusterError {
  readonly file: string
  readonly errno: string

  constructor(file: string, cause: NodeJS.ErrnoException) {
    super(
      'GC_ERR_STORAGE_FULL',
      `${file}: ${cause.code}: ${describe(cause.code)}; the write was not made (the data already there is intact)`,
      { cause },
    )
    this.name = 'StorageExhaustedError'
    this.file = file
    this.errno = cause.code ?? ''
  }
}

function describe(code: string | undefined): string {
  switch (code) {
    case 'EMFILE':
    case 'ENFILE':
      return 'no file descriptors left (raise LimitNOFILE / ulimit -n)'
    case 'ENOSPC':
    case 'EDQUOT':
      return 'the disk (or quota) is full'
    case 'EFBIG':
      return 'the file size limit was reached'
    default:
      return 'out of storage resources'
  }
}
