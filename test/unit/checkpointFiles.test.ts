/**
 * Checkpoint files (src/runtime/checkpointFiles.ts and the database's resource.checkpoint):
 * read with a size limit and a clear error, written back atomically, absent files removed.
 */
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { checkpointBytesMax } from '../../src/database/resourceTypes.ts'
import { needsRestore, readCheckpoint, restoreCheckpoint } from '../../src/runtime/checkpointFiles.ts'
import { tempDir } from '../support/processes.ts'

describe('readCheckpoint', () => {
  it('reads present files, notes absent ones, and hashes the lot', () => {
    const dir = tempDir('gc-ckpt-')
    writeFileSync(join(dir, 'a'), 'alpha')
    const read = readCheckpoint([join(dir, 'a'), join(dir, 'missing')])
    expect(read).toMatchObject({
      ok: true,
      bytes: 5,
      files: [
        { path: join(dir, 'a'), data: Buffer.from('alpha').toString('base64') },
        { path: join(dir, 'missing'), data: null },
      ],
    })
    writeFileSync(join(dir, 'a'), 'alphA')
    const again = readCheckpoint([join(dir, 'a'), join(dir, 'missing')])
    expect(again.ok && read.ok && again.hash !== read.hash).toBe(true)
  })

  it('refuses more than the limit, naming the file and the limit', () => {
    const dir = tempDir('gc-ckpt-')
    writeFileSync(join(dir, 'small'), 'x'.repeat(1000))
    writeFileSync(join(dir, 'big'), Buffer.alloc(checkpointBytesMax))
    const read = readCheckpoint([join(dir, 'small'), join(dir, 'big')])
    expect(read).toEqual({
      ok: false,
      problem: `${join(dir, 'big')} brings the checkpoint to ${checkpointBytesMax + 1000} bytes; all checkpoint files of a resource may hold at most ${checkpointBytesMax}`,
    })
  })
})

describe('restoreCheckpoint', () => {
  it('writes saved files (creating their folders) and removes files saved as absent', () => {
    const dir = tempDir('gc-ckpt-')
    const gone = join(dir, 'gone')
    writeFileSync(gone, 'old')
    const record = {
      kind: 'checkpoint' as const,
      resource: 'r',
      group: 'g',
      node: 'a',
      at: 0,
      index: 9,
      bytes: 4,
      files: [
        { path: join(dir, 'sub', 'state'), data: Buffer.from('data').toString('base64') },
        { path: gone, data: null },
      ],
    }
    expect(needsRestore(record, 'b')).toBe(true)
    expect(restoreCheckpoint(record)).toBeNull()
    expect(readFileSync(join(dir, 'sub', 'state'), 'utf8')).toBe('data')
    expect(existsSync(gone)).toBe(false)
    // Saved here and still here: nothing to do; a file missing here: restore.
    expect(needsRestore(record, 'a')).toBe(false)
    expect(needsRestore({ ...record, files: [{ path: join(dir, 'nope'), data: 'eA==' }] }, 'a')).toBe(true)
  })

  it('restores each file with the mode it was saved with, whatever the umask', () => {
    const dir = tempDir('gc-ckpt-')
    const secret = join(dir, 'secret')
    const tool = join(dir, 'tool')
    writeFileSync(secret, 'key')
    chmodSync(secret, 0o600)
    writeFileSync(tool, '#!/bin/sh\n')
    chmodSync(tool, 0o750)
    const read = readCheckpoint([secret, tool])
    if (!read.ok) throw new Error(read.problem)
    expect(read.files.map((f) => f.mode)).toEqual([0o600, 0o750])
    rmSync(secret)
    rmSync(tool)
    const restored = restoreCheckpoint({
      kind: 'checkpoint',
      resource: 'r',
      group: 'g',
      node: 'a',
      at: 0,
      index: 1,
      bytes: read.bytes,
      files: read.files,
    })
    expect(restored).toBeNull()
    expect(statSync(secret).mode & 0o777).toBe(0o600)
    expect(statSync(tool).mode & 0o777).toBe(0o750)
    // A change of mode alone is a change worth saving.
    chmodSync(secret, 0o640)
    const again = readCheckpoint([secret, tool])
    expect(again.ok && again.hash !== read.hash).toBe(true)
  })

  it('says why it could not write', () => {
    const dir = tempDir('gc-ckpt-')
    const blocker = join(dir, 'file')
    writeFileSync(blocker, 'x')
    const problem = restoreCheckpoint({
      kind: 'checkpoint',
      resource: 'r',
      group: 'g',
      node: 'a',
      at: 0,
      index: 1,
      bytes: 1,
      files: [{ path: join(blocker, 'under-a-file'), data: 'eA==' }],
    })
    expect(problem).toMatch(/under-a-file: (ENOTDIR|EEXIST)/)
  })
})

describe('resource.checkpoint in the database', () => {
  function db() {
    const d = new ClusterDatabase()
    d.apply(1, {
      op: 'cluster.bootstrap',
      cluster: { name: 'c', quorumModel: 'local' },
      sites: [{ name: 's', nodes: [{ name: 'n1', votes: 1, peerId: null, address: null }] }],
      witness: null,
    })
    d.apply(2, {
      op: 'group.create',
      name: 'g',
      preferredOwners: [],
      possibleOwners: [],
      failback: 'never',
      antiAffinity: [],
    })
    d.apply(3, {
      op: 'resource.create',
      name: 'r',
      group: 'g',
      type: 'generic-app',
      params: { command: 'x', checkpoint: '/var/lib/app/state,/etc/app.conf' },
      dependsOn: [],
      restartThreshold: 3,
      restartPeriodMs: 900_000,
    })
    // Only the group's owner saves checkpoints.
    d.apply(4, { op: 'group.assign', name: 'g', owner: 'n1', expect: { owner: null, token: 0 } })
    return d
  }

  it('keeps the newest checkpoint of listed files, and deletes it with the resource', () => {
    const d = db()
    const r = d.apply(5, {
      op: 'resource.checkpoint',
      name: 'r',
      node: 'n1',
      at: 1000,
      files: [
        { path: '/var/lib/app/state', data: Buffer.from('abc').toString('base64') },
        { path: '/etc/app.conf', data: null },
      ],
    })
    expect(r).toEqual({ ok: true, changed: ['checkpoints/r'] })
    expect(d.checkpoint('r')).toMatchObject({ node: 'n1', index: 5, bytes: 3, group: 'g' })
    expect(d.apply(6, { op: 'resource.delete', name: 'r' })).toEqual({
      ok: true,
      changed: ['groups/g/resources/r', 'checkpoints/r'],
    })
    expect(d.checkpoint('r')).toBeUndefined()
  })

  it('refuses files it does not list, and more bytes than the limit', () => {
    const d = db()
    expect(
      d.apply(5, {
        op: 'resource.checkpoint',
        name: 'r',
        node: 'n1',
        at: 0,
        files: [{ path: '/etc/passwd', data: null }],
      }),
    ).toMatchObject({ ok: false, message: '/etc/passwd is not a checkpoint file of r' })
    const big = Buffer.alloc(checkpointBytesMax).toString('base64')
    expect(
      d.apply(6, {
        op: 'resource.checkpoint',
        name: 'r',
        node: 'n1',
        at: 0,
        files: [
          { path: '/var/lib/app/state', data: big },
          { path: '/etc/app.conf', data: 'eA==' },
        ],
      }),
    ).toMatchObject({
      ok: false,
      message: `checkpoint of r holds ${checkpointBytesMax + 1} bytes; all its files together may hold at most ${checkpointBytesMax}`,
    })
  })

  it('refuses a checkpoint parameter that is not a list of absolute paths', () => {
    const d = db()
    expect(
      d.apply(5, {
        op: 'resource.create',
        name: 'r2',
        group: 'g',
        type: 'generic-app',
        params: { command: 'x', checkpoint: 'relative/path' },
        dependsOn: [],
        restartThreshold: 3,
        restartPeriodMs: 900_000,
      }),
    ).toMatchObject({ ok: false, message: expect.stringMatching(/relative\/path' is not an absolute path/) })
  })
})
