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
