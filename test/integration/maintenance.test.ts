/**
 * Maintenance mode on a real lab (issue 15, item 2): a resource killed while its group is in
 * maintenance is neither restarted nor failed; leaving maintenance probes it and the node acts
 * again; status, /metrics and events show it, cluster-wide as per group.
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { cleanUp, jsonOf, type RunningNode, startLab, tempDir, waitFor } from '../support/processes.ts'

let lab: RunningNode
// A command line no other process on this machine has, so pkill finds this resource only.
const marker = `${7000 + Math.floor(Math.random() * 999)}.${process.pid}`

beforeAll(async () => {
  lab = await startLab(join(tempDir(), 'data'))
})

afterAll(async () => {
  await cleanUp()
})

const status = async () => (await lab.api<StatusDocument>('GET', '/v1/status')).body
const app = async () =>
  (await status()).groups.find((g) => g.name === 'web')?.resources.find((r) => r.name === 'app')
const eventTypes = async () =>
  (await lab.api<{ events: { type: string; message: string }[] }>('GET', '/v1/events/history')).body.events

async function ok(args: string[]): Promise<string> {
  const r = await lab.cli(args)
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  return r.stdout
}

function killApp(): void {
  execFileSync('pkill', ['-KILL', '-f', `sleep ${marker}`])
}

describe('maintenance mode', () => {
  it('a group in maintenance is left as it is; out of it, probed and managed again', async () => {
    await ok(['group', 'create', 'web'])
    await ok([
      'resource',
      'create',
      'app',
      '--group',
      'web',
      '--type',
      'generic-app',
      '--param',
      `command=sleep ${marker}`,
    ])
    await ok(['group', 'online', 'web'])
    await waitFor('app online', async () => (await app())?.state === 'online')

    const on = jsonOf<{ scope: string; name: string; maintenance: boolean }>(
      await lab.cli(['maintenance', 'on', '--group', 'web', '--json']),
    )
    expect(on).toMatchObject({ scope: 'group', name: 'web', maintenance: true })
    const s = await status()
    const web = s.groups.find((g) => g.name === 'web')!
    expect(web).toMatchObject({ maintenance: true, unmanaged: 'group web is in maintenance' })
    expect(web.resources[0]).toMatchObject({ maintenance: false, unmanaged: 'group web is in maintenance' })
    expect(await ok(['status'])).toMatch(/web\s+online \(maintenance\)/)

    // Killed by hand during maintenance: reported offline, not restarted, not failed.
    killApp()
    await waitFor('app offline', async () => (await app())?.state === 'offline')
    await new Promise((r) => setTimeout(r, 1_500))
    expect(await app()).toMatchObject({ state: 'offline', restarts: 0, failure: null })
    const types = (await eventTypes()).map((e) => e.type)
    expect(types).toContain('maintenance:on')
    expect(types).not.toContain('resource:restart')
    expect(types).not.toContain('resource:failed')

    // Out of maintenance: probed (not running), then started again.
    await ok(['maintenance', 'off', '--group', 'web'])
    await waitFor('app online again', async () => (await app())?.state === 'online')
    expect((await status()).groups.find((g) => g.name === 'web')).toMatchObject({
      maintenance: false,
      unmanaged: null,
    })
    expect((await eventTypes()).map((e) => e.type)).toContain('maintenance:off')

    // Managed again: a kill now is a failure the restart policy answers.
    killApp()
    await waitFor('restarted', async () => (await eventTypes()).some((e) => e.type === 'resource:restart'))
  })

  it('cluster-wide: shown in status and /metrics, and nothing is placed meanwhile', async () => {
    await ok(['maintenance', 'on'])
    expect((await status()).cluster.maintenance).toBe(true)
    expect(await ok(['status'])).toMatch(/^MAINTENANCE: the whole cluster is left as it is/m)
    const metrics = await fetch(`${lab.url}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(/geocluster_maintenance\{scope="cluster",name="[^"]+"\} 1/)
    // A new group brought online is not placed while the cluster is in maintenance.
    await ok(['group', 'create', 'later'])
    await ok(['group', 'online', 'later'])
    await new Promise((r) => setTimeout(r, 1_500))
    expect((await status()).groups.find((g) => g.name === 'later')).toMatchObject({ owner: null })
    await ok(['maintenance', 'off'])
    await waitFor(
      'later placed',
      async () => (await status()).groups.find((g) => g.name === 'later')?.owner !== null,
    )
    const bad = await lab.cli(['maintenance', 'on', '--group', 'web', '--node', 'lab-1'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/name at most one of --node, --group, --resource/)
    const missing = await lab.cli(['maintenance', 'on', '--group', 'nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no group nope/)
  })
})
