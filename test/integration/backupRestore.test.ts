/**
 * Backup and authoritative restore on a real lab through the CLI and the API (issue 15, item 7):
 * a backup is a file with index, term and checksum; a restore puts the configuration back for
 * the whole cluster through the log, only once every group is offline and released, with the
 * next fencing token above every one issued; damaged, foreign or unconfirmed restores are refused
 * with the reason.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { cleanUp, jsonOf, type RunningNode, startLab, tempDir, waitFor } from '../support/processes.ts'

let lab: RunningNode
let dir: string

beforeAll(async () => {
  dir = tempDir()
  lab = await startLab(join(dir, 'data'))
})

afterAll(async () => {
  await cleanUp()
})

const status = async () => (await lab.api<StatusDocument>('GET', '/v1/status')).body
const groupOf = async (name: string) => (await status()).groups.find((g) => g.name === name)

async function ok(args: string[]): Promise<string> {
  const r = await lab.cli(args)
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  return r.stdout
}

async function offlineAndReleased(name: string): Promise<void> {
  await ok(['group', 'offline', name])
  await waitFor(`${name} released`, async () => (await groupOf(name))?.owner === null)
}

describe('backup and restore', () => {
  it('puts back the configuration of the backup, for the whole cluster, with tokens above all before', async () => {
    await ok(['group', 'create', 'web'])
    await ok([
      'resource',
      'create',
      'web-app',
      '--group',
      'web',
      '--type',
      'generic-app',
      '--param',
      'command=sleep 600',
    ])
    await ok(['config', 'set', 'app/color', 'blue'])
    await ok(['group', 'online', 'web'])
    await waitFor('web online', async () => (await groupOf('web'))?.state === 'online')

    const file = join(dir, 'backup.json')
    const taken = jsonOf<{
      file: string
      index: number
      term: number
      checksum: string
      groups: number
      resources: number
    }>(await lab.cli(['backup', '--out', file, '--json']))
    expect(taken).toMatchObject({
      file,
      groups: 1,
      resources: 1,
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
    })
    expect(taken.index).toBeGreaterThan(0)
    expect(taken.term).toBeGreaterThan(0)
    expect(statSync(file).mode & 0o777).toBe(0o600)

    // Life goes on after the backup.
    await ok(['config', 'set', 'app/color', 'green'])
    await ok(['group', 'create', 'later'])
    const tokenBefore = (await groupOf('web'))!.fencingToken
    expect(tokenBefore).toBeGreaterThan(0)

    // Refused while web is online, and without --yes; nothing changes.
    const online = await lab.cli(['restore', '--from', file, '--yes'])
    expect(online.code).toBe(1)
    expect(online.stderr).toMatch(/a restore replaces every group: take web offline first/)
    await offlineAndReleased('web')
    const unconfirmed = await lab.cli(['restore', '--from', file])
    expect(unconfirmed.code).toBe(2)
    expect(unconfirmed.stderr).toMatch(
      /replaces every group, resource and config key with the backup's: add --yes/,
    )
    expect(await groupOf('later')).toBeDefined()

    const restored = jsonOf<{ restored: boolean; index: number; from: { index: number }; groups: number }>(
      await lab.cli(['restore', '--from', file, '--yes', '--json']),
    )
    expect(restored).toMatchObject({ restored: true, from: { index: taken.index }, groups: 1 })
    expect(restored.index).toBeGreaterThan(taken.index)

    // The backup's state: web (online again, as it was), no `later`, the old color.
    expect(await groupOf('later')).toBeUndefined()
    expect((await ok(['config', 'get', 'app/color'])).trim()).toBe('blue')
    const web = await waitFor('web online again', async () => {
      const g = await groupOf('web')
      return g?.state === 'online' ? g : undefined
    })
    expect(web.resources.map((r) => r.name)).toEqual(['web-app'])
    expect(web.fencingToken).toBeGreaterThan(tokenBefore)
    const events = (
      await lab.api<{ events: { type: string; message: string }[] }>('GET', '/v1/events/history')
    ).body
    expect(events.events.map((e) => e.type)).toContain('database:restored')
  })

  it('a damaged file is refused before anything is sent, naming the file and the problem', async () => {
    const file = join(dir, 'damaged.json')
    await ok(['backup', '--out', file])
    const doc = JSON.parse(readFileSync(file, 'utf8'))
    doc.content.config[0].value = 'red'
    writeFileSync(file, JSON.stringify(doc))
    const r = await lab.cli(['restore', '--from', file, '--yes'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(
      new RegExp(`${file}: damaged backup: its content's SHA-256 is [0-9a-f]{64}, the backup says`),
    )
    const missing = await lab.cli(['restore', '--from', join(dir, 'nope.json'), '--yes'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/nope\.json: ENOENT/)
  })

  it("another cluster's backup is refused by the node, with both clusters named", async () => {
    const file = join(dir, 'foreign.json')
    await ok(['backup', '--out', file])
    const doc = JSON.parse(readFileSync(file, 'utf8'))
    const ours = doc.cluster.id as string
    doc.cluster.id = 'another-cluster'
    const r = await lab.api<{ error: { code: string; message: string; path: string } }>(
      'POST',
      '/v1/restore',
      doc,
    )
    expect(r.status).toBe(400)
    expect(r.body.error.message).toBe(
      `the backup is of cluster ${doc.cluster.name} (id another-cluster), this is ${doc.cluster.name} (id ${ours}): a restore takes only this cluster's own backups`,
    )
    expect(r.body.error.path).toBe('body.cluster')
  })
})
