/**
 * Runs storage code in a process of its own whose limits the test sets (`prlimit`), so the
 * disk "fills" (RLIMIT_FSIZE: writes fail with EFBIG) or descriptors run out (EMFILE) for real,
 * without touching the test runner. Prints one JSON line with what happened.
 *
 *   node storageExhaustion.ts wal-full <dir>       append until a write is refused
 *   node storageExhaustion.ts wal-no-fds <dir>     roll over a segment with no descriptor left
 *   node storageExhaustion.ts snapshot-no-fds <dir>  save a snapshot with no descriptor left
 */
import { openSync } from 'node:fs'
import { SnapshotStore } from '../../src/storage/snapshotStore.ts'
import { StorageExhaustedError } from '../../src/storage/storageErrors.ts'
import { WriteAheadLog } from '../../src/storage/writeAheadLog.ts'

const [mode, dir] = process.argv.slice(2)
const payload = new TextEncoder().encode('x'.repeat(1_000))
const entry = (index: number) => ({ index, term: 1, kind: 'command' as const, data: payload })

/** Takes every descriptor left; returns how many it took. */
function exhaustDescriptors(): number {
  let taken = 0
  for (;;) {
    try {
      openSync('/dev/null', 'r')
      taken++
    } catch {
      return taken
    }
  }
}

function out(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

switch (mode) {
  case 'wal-full': {
    const { wal } = WriteAheadLog.open(dir!)
    let appended = 0
    for (let i = 1; i < 100_000; i++) {
      try {
        wal.append({ hardState: { term: 1, vote: null, commit: i - 1 }, entries: [entry(i)] })
        appended = i
      } catch (error) {
        out({
          appended,
          refused: error instanceof StorageExhaustedError,
          errno: (error as StorageExhaustedError).errno,
          message: (error as Error).message,
        })
        break
      }
    }
    await wal.sync()
    break
  }
  case 'wal-no-fds': {
    const { wal } = WriteAheadLog.open(dir!, { segmentBytesMax: 4_096 })
    const taken = exhaustDescriptors()
    let appended = 0
    let error: string | null = null
    try {
      for (let i = 1; i <= 20; i++) {
        wal.append({ hardState: null, entries: [entry(i)] })
        appended = i
      }
      await wal.sync()
    } catch (e) {
      error = (e as Error).message
    }
    out({ taken, appended, error, stats: wal.statistics() })
    break
  }
  case 'snapshot-no-fds': {
    const store = new SnapshotStore(dir!)
    exhaustDescriptors()
    try {
      store.save({ index: 5, term: 1 }, payload)
      out({ saved: true })
    } catch (e) {
      out({ saved: false, code: (e as NodeJS.ErrnoException).code })
    }
    break
  }
  default:
    process.stderr.write(`unknown mode ${mode}\n`)
    process.exit(2)
}
