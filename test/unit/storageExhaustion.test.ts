/**
 * A full disk or no descriptors left fails the write, never the node or its data (issue:
 * hardening, item 4). The storage code runs in a child process under real limits (`prlimit`):
 * RLIMIT_FSIZE makes a write fail as a full disk does, RLIMIT_NOFILE makes opens fail.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { removeLeftoverTemporaries } from '../../src/storage/durableFile.ts'
import { WriteAheadLog } from '../../src/storage/writeAheadLog.ts'
import { repoRoot, tempDir } from '../support/processes.ts'

const script = join(repoRoot, 'test/support/storageExhaustion.ts')

function underLimits(limits: string[], mode: string, dir: string): Record<string, unknown> {
  const out = execFileSync('prlimit', [...limits, process.execPath, script, mode, dir], {
    encoding: 'utf8',
    timeout: 30_000,
  })
  return JSON.parse(out.trim().split('\n').at(-1)!)
}

describe('storage under exhaustion', () => {
  it('a write the disk refuses is refused cleanly: the log is as before and replays whole', () => {
    const dir = tempDir('gc-wal-full-')
    const r = underLimits(['--fsize=65536'], 'wal-full', dir)
    expect(r).toMatchObject({ refused: true, errno: 'EFBIG' })
    expect(r.message).toMatch(/\.wal: EFBIG: the file size limit was reached; the write was not made/)
    const appended = r.appended as number
    expect(appended).toBeGreaterThan(10)
    // Reopened without the limit: every appended entry is there, nothing torn, nothing more.
    const { wal, recovery } = WriteAheadLog.open(dir)
    expect(recovery.tornTail).toBeNull()
    expect(recovery.entries.map((e) => e.index)).toEqual(Array.from({ length: appended }, (_, i) => i + 1))
    expect(recovery.hardState.commit).toBe(appended - 1)
    // And it takes more writes.
    wal.append({
      hardState: null,
      entries: [{ index: appended + 1, term: 1, kind: 'noop', data: new Uint8Array() }],
    })
    wal.close()
    expect(WriteAheadLog.open(dir).recovery.entries.at(-1)?.index).toBe(appended + 1)
  })

  it('with no descriptor left the log writes on in its segment instead of failing the roll-over', () => {
    const dir = tempDir('gc-wal-fds-')
    const r = underLimits(['--nofile=64'], 'wal-no-fds', dir)
    expect(r.error).toBeNull()
    expect(r.appended).toBe(20)
    expect((r.stats as { deferredRolls: number }).deferredRolls).toBeGreaterThan(0)
    expect(readdirSync(dir).filter((n) => n.endsWith('.wal'))).toHaveLength(1)
    const { recovery } = WriteAheadLog.open(dir, { segmentBytesMax: 4_096 })
    expect(recovery.entries.map((e) => e.index)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })

  it('a snapshot that cannot be saved leaves no temporary file; leftovers of killed writers are removed', () => {
    const dir = tempDir('gc-snap-fds-')
    const r = underLimits(['--nofile=64'], 'snapshot-no-fds', dir)
    expect(r).toEqual({ saved: false, code: 'EMFILE' })
    expect(readdirSync(dir)).toEqual([])
    // What a process killed mid-write leaves is cleaned up at the next start.
    const other = tempDir('gc-leftover-')
    execFileSync('sh', ['-c', `: > ${other}/admin.token.tmp-4242; : > ${other}/keep.json`])
    expect(removeLeftoverTemporaries(other)).toEqual([join(other, 'admin.token.tmp-4242')])
    expect(existsSync(join(other, 'keep.json'))).toBe(true)
  })
})
