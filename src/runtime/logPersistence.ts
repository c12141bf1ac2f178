/**
 * A Ready's durable part into a LogStorage: its hard state and new entries appended when it has
 * any, then fsync'ed when the Ready must be durable before its messages leave.
 */
import type { Ready } from '../consensus/types.ts'
import { StorageExhaustedError } from '../storage/storageErrors.ts'
import type { LogStorage } from './logStorage.ts'

export interface LogPersistenceHooks {
  /** The disk or the descriptors refused the write; without it, the error is thrown on. */
  refused?: (error: StorageExhaustedError, rd: Ready) => void
  /** A write went through (after a refusal, storage works again). */
  written?: () => void
}

export function persistInto(
  storage: LogStorage,
  hooks: LogPersistenceHooks = {},
): (rd: Ready) => Promise<boolean> {
  return async (rd) => {
    if (rd.entries.length > 0 || rd.hardState !== null) {
      try {
        storage.append({ hardState: rd.hardState, entries: rd.entries })
      } catch (error) {
        if (!(error instanceof StorageExhaustedError) || hooks.refused === undefined) throw error
        hooks.refused(error, rd)
        return false
      }
      hooks.written?.()
    }
    if (rd.mustSync) await storage.sync()
    return true
  }
}
