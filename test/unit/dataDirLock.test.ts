/**
 * The data-dir lock (issue: hardening, item 5): a flock on `<data dir>/LOCK`, which nobody
 * without access to the data dir can take or squat, released by the kernel when its holder dies.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DataDirLock } from '../../src/storage/dataDirLock.ts'
import { repoRoot, tempDir, waitFor } from '../support/processes.ts'

describe('DataDirLock', () => {
  it('lets one holder in, names it to the next, and lets the next in once released', async () => {
    const dir = tempDir('gc-lock-')
    const first = await DataDirLock.acquire(dir, 'first')
    expect(statSync(join(dir, 'LOCK')).mode & 0o777).toBe(0o600)
    await expect(DataDirLock.acquire(dir, 'second')).rejects.toThrow(
      new RegExp(`data dir ${dir} is in use by pid ${process.pid} \\(first, since `),
    )
    first.release()
    const second = await DataDirLock.acquire(dir, 'second')
    second.release()
  })

  it('cannot be squatted from outside the data dir (the old abstract-socket name is ignored)', async () => {
    const dir = tempDir('gc-lock-')
    // What any local user could do against the old lock: bind its name in the abstract namespace.
    const st = statSync(dir)
    const id = createHash('sha256').update(`${st.dev}:${st.ino}`).digest('hex').slice(0, 32)
    const squatter = createServer()
    await new Promise<void>((r) => squatter.listen({ path: `\0geocluster-datadir-${id}` }, r))
    try {
      const lock = await DataDirLock.acquire(dir, 'owner')
      lock.release()
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()))
    }
  })

  it('is released by the kernel when its holder is killed with SIGKILL', async () => {
    const dir = tempDir('gc-lock-')
    const holder = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { DataDirLock } = await import(${JSON.stringify(join(repoRoot, 'src/storage/dataDirLock.ts'))});` +
          `await DataDirLock.acquire(${JSON.stringify(dir)}, 'holder'); console.log('held'); setInterval(() => {}, 1000)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    holder.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    await waitFor('the holder to lock', () => out.includes('held'))
    await expect(DataDirLock.acquire(dir, 'me')).rejects.toThrow(/in use by pid \d+ \(holder/)
    const gone = new Promise((r) => holder.once('exit', r))
    holder.kill('SIGKILL')
    await gone
    const lock = await DataDirLock.acquire(dir, 'me')
    lock.release()
  })
})
