/**
 * Changing settings in place on a real lab (issue 15: `group set`, `resource set`, and their
 * PATCH routes): what changes at once, what needs `--restart` and how the running resource (and
 * what depends on it) restarts to take new parameters.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterEvent } from '../../src/events/clusterEvent.ts'
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

/** A command that records its pid and writes `word` every 100 ms. */
const writer = (name: string, word: string) =>
  `echo $$ > ${dir}/${name}.pid; while :; do echo ${word} >> ${dir}/${name}.out; sleep 0.1; done`

const pidOf = (name: string) => {
  const file = join(dir, `${name}.pid`)
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) || undefined : undefined
}
const lastLine = (name: string) => {
  const file = join(dir, `${name}.out`)
  return existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n').at(-1) : undefined
}

interface ResourceAnswer {
  name: string
  state: string
  params: Record<string, string>
  restartThreshold: number
  restartPeriodMs: number
  changed: string[]
  restarting: boolean
}

async function events(): Promise<ClusterEvent[]> {
  const { body } = await lab.api<{ events: ClusterEvent[] }>('GET', '/v1/events/history?limit=500')
  return body.events
}

describe('group set', () => {
  it('changes policies in place, says what changed, and refuses what could not be placed', async () => {
    expect((await lab.cli(['group', 'create', 'pol'])).code).toBe(0)
    const r = await lab.cli([
      'group',
      'set',
      'pol',
      '--preferred-owners',
      'lab-1',
      '--failback-window',
      '22-06',
      '--failover-threshold',
      '2',
      '--failover-period-s',
      '3600',
      '--json',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(jsonOf(r)).toMatchObject({
      name: 'pol',
      preferredOwners: ['lab-1'],
      failback: '22-06',
      failoverThreshold: 2,
      failoverPeriodMs: 3_600_000,
      changed: ['failback', 'failoverPeriodMs', 'failoverThreshold', 'preferredOwners'],
    })
    const text = await lab.cli(['group', 'set', 'pol', '--failover-threshold', 'default'])
    expect(text.stdout).toMatch(/^group pol changed: failoverThreshold\n/)
    expect(text.stdout).toMatch(/failover threshold: default \(nodes that may own it - 1\) within 3600 s/)
    expect((await lab.cli(['group', 'set', 'pol', '--failover-threshold', 'default'])).stdout).toBe(
      'group pol: nothing changed (it was already so)\n',
    )

    // Owners that are no member: the group could never be placed.
    const nowhere = await lab.cli(['group', 'set', 'pol', '--possible-owners', 'nowhere'])
    expect(nowhere.code).toBe(2)
    expect(nowhere.stderr).toBe('geocluster: unknown nodes: nowhere (at body.possibleOwners)\n')
    const api = await lab.api('PATCH', '/v1/groups/pol', { possibleOwners: ['lab-1', 'lab-1'] })
    expect(api).toMatchObject({ status: 400, body: { error: { code: 'GC_ERR_BAD_REQUEST' } } })
    expect((await lab.api('PATCH', '/v1/groups/pol', {})).status).toBe(400)
    expect((await lab.api('PATCH', '/v1/groups/pol', { owner: 'lab-1' })).status).toBe(400)
    expect((await lab.api('PATCH', '/v1/groups/ghost', { failback: 'never' })).status).toBe(404)
    const none = await lab.cli(['group', 'set', 'pol'])
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/nothing to change/)

    const said = (await events()).filter((e) => e.type === 'group:changed' && e.group === 'pol')
    expect(said.map((e) => e.message)).toContain(
      'group pol changed: failback 22-06; failoverPeriodMs 3600000; failoverThreshold 2; preferredOwners lab-1',
    )
  })
})

describe('resource set', () => {
  it('restarts a running resource, and what depends on it, only with --restart', async () => {
    expect((await lab.cli(['group', 'create', 'web'])).code).toBe(0)
    for (const [name, extra] of [
      ['app', []],
      ['dep', ['--depends-on', 'app']],
    ] as const) {
      const created = await lab.cli([
        'resource',
        'create',
        name,
        '--group',
        'web',
        '--type',
        'generic-app',
        '--param',
        `command=${writer(name, 'one')}`,
        ...extra,
      ])
      expect(created.code, created.stderr).toBe(0)
    }
    expect((await lab.cli(['group', 'online', 'web'])).code).toBe(0)
    const appPid = await waitFor('app to start', () => pidOf('app'))
    const depPid = await waitFor('dep to start', () => pidOf('dep'))

    // Without --restart: refused, nothing changes, nothing restarts.
    const refused = await lab.cli(['resource', 'set', 'app', '--param', `command=${writer('app', 'two')}`])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(
      /^geocluster: resource app runs on lab-1: its new parameters \(params\.command\) take effect only when it restarts .*repeat with --restart/,
    )
    const json = await lab.cli(['resource', 'set', 'app', '--param', 'cwd=/', '--json'])
    expect(json.code).toBe(1)
    expect(jsonOf(json)).toMatchObject({
      ok: false,
      error: { code: 'GC_ERR_RESTART_NEEDED', path: 'body.restart' },
    })
    const api = await lab.api<{ error: { code: string } }>('PATCH', '/v1/resources/app', {
      params: { command: writer('app', 'two') },
    })
    expect(api).toMatchObject({ status: 409, body: { error: { code: 'GC_ERR_RESTART_NEEDED' } } })
    const shown = jsonOf<ResourceAnswer>(await lab.cli(['resource', 'show', 'app', '--json']))
    expect(shown.params.command).toBe(writer('app', 'one'))
    expect(pidOf('app')).toBe(appPid)

    // With --restart: dep stops, app restarts with its new command, dep starts again.
    const r = await lab.cli([
      'resource',
      'set',
      'app',
      '--param',
      `command=${writer('app', 'two')}`,
      '--timeouts',
      'stop=2s',
      '--restart',
      '--json',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(jsonOf<ResourceAnswer>(r)).toMatchObject({
      changed: ['params.command', 'params.stopTimeoutMs'],
      restarting: true,
      params: { command: writer('app', 'two'), stopTimeoutMs: '2000' },
    })
    await waitFor(
      'app to run its new command',
      () => lastLine('app') === 'two' && pidOf('app') !== appPid,
      20_000,
    )
    await waitFor('dep to be started again', () => pidOf('dep') !== depPid, 20_000)
    await waitFor('both online', async () => {
      const { body } = await lab.api<{ resources: { name: string; state: string }[] }>('GET', '/v1/resources')
      return body.resources.filter((x) => x.state === 'online').length === 2
    })

    // The restart policy changes at once, without a restart.
    const newPid = pidOf('app')
    const policy = await lab.cli([
      'resource',
      'set',
      'app',
      '--restart-threshold',
      '5',
      '--restart-period-s',
      '60',
    ])
    expect(policy.code, policy.stderr).toBe(0)
    expect(policy.stdout).toBe('resource app changed: restartPeriodMs, restartThreshold\n')
    const after = jsonOf<ResourceAnswer>(await lab.cli(['resource', 'show', 'app', '--json']))
    expect(after).toMatchObject({ restartThreshold: 5, restartPeriodMs: 60_000, state: 'online' })
    expect(pidOf('app')).toBe(newPid)

    // Bad input is refused with the field named; the node goes on.
    const bad = await lab.api<{ error: { path: string } }>('PATCH', '/v1/resources/app', {
      params: { bogus: '1' },
      restart: true,
    })
    expect(bad).toMatchObject({ status: 400, body: { error: { path: 'body.params.bogus' } } })
    const unset = await lab.cli(['resource', 'set', 'app', '--unset', 'command', '--restart'])
    expect(unset.code).toBe(2)
    expect(unset.stderr).toBe('geocluster: required for generic-app (at body.params.command)\n')
    const timeouts = await lab.cli(['resource', 'set', 'app', '--timeouts', 'soon=1s'])
    expect(timeouts.code).toBe(2)

    const said = (await events()).filter((e) => e.type === 'resource:changed' && e.resource === 'app')
    expect(said.map((e) => e.message)).toEqual([
      'resource app changed: params.command, params.stopTimeoutMs; restarting it on lab-1 to take its new parameters',
      'resource app changed: restartPeriodMs, restartThreshold',
    ])
    const stops = (await events()).filter((e) => e.type === 'resource:stopping').map((e) => e.message)
    expect(stops).toEqual(
      expect.arrayContaining([
        'stopping dep: restarting with app, which it depends on',
        'stopping app: its parameters changed: restarting to take them',
      ]),
    )
  })
})
