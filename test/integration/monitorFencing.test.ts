/**
 * The resource monitor's own deadline (src/resources/monitorMain.ts): it runs resources only
 * while the node keeps renewing its lease, and kills them by itself when the lease runs out —
 * the node may be hung or cut off; nobody needs to tell the monitor.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ResourceMonitorClient } from '../../src/resources/monitorClient.ts'
import type { FromMonitor } from '../../src/resources/monitorProtocol.ts'
import { tempDir, waitFor } from '../support/processes.ts'

const clients: ResourceMonitorClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.shutdown(5_000)))
})

async function monitor() {
  const states: Extract<FromMonitor, { t: 'state' }>[] = []
  const client = new ResourceMonitorClient({
    dir: tempDir('gc-monitor-'),
    onMessage: (m) => {
      if (m.t === 'state') states.push(m)
    },
    onUnexpectedExit: () => {},
  })
  clients.push(client)
  await client.start()
  return { client, states }
}

/** Running (a killed process its parent has not reaped yet is a zombie: dead, not running). */
const pidAlive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

function app(name: string, dir: string) {
  const pidFile = join(dir, `${name}.pid`)
  return {
    pidFile,
    spec: {
      resource: name,
      group: 'g',
      type: 'generic-app' as const,
      // Ignores SIGTERM, so only the fence's SIGKILL ends it.
      params: {
        command: `trap '' TERM; echo $$ > ${pidFile}; while :; do sleep 0.05; done`,
        stopTimeoutMs: '30000',
      },
      env: {},
    },
  }
}

describe('the resource monitor fences on its own', () => {
  it('starts nothing without a lease', async () => {
    const { client, states } = await monitor()
    client.startResource(app('early', tempDir('gc-app-')).spec)
    const refused = await waitFor('a refusal', () => states.find((s) => s.resource === 'early'))
    expect(refused).toMatchObject({ state: 'offline', reason: 'not started: no lease' })
  })

  it('kills a resource when the lease is not renewed, SIGKILL after the fence stop timeout', async () => {
    const { client, states } = await monitor()
    const dir = tempDir('gc-app-')
    const a = app('a', dir)
    client.lease(60_000, 200)
    client.startResource(a.spec)
    await waitFor('a online', () => states.some((s) => s.resource === 'a' && s.state === 'online'))
    await waitFor('its pid', () => existsSync(a.pidFile) && readFileSync(a.pidFile, 'utf8').trim() !== '')
    const pid = Number(readFileSync(a.pidFile, 'utf8'))
    // Renewed for a while, then no more: the node hangs.
    let lastRenewal = 0
    for (let i = 0; i < 5; i++) {
      client.lease(300, 200)
      // The lease counts from when it was sent (its deadline travels on the host's clock).
      lastRenewal = performance.now()
      await new Promise((r) => setTimeout(r, 100))
      expect(states.filter((s) => s.resource === 'a').at(-1)?.state).toBe('online')
    }
    const fenced = await waitFor(
      'the fence',
      () => states.find((s) => s.resource === 'a' && s.state === 'offline'),
      5_000,
    )
    const tookMs = performance.now() - lastRenewal
    expect(fenced.reason).toMatch(/^fenced: the lease ran out \(killed by SIGKILL after 200 ms\)/)
    expect(pidAlive(pid)).toBe(false)
    // Not before the lease (300 ms) and the fence's grace (200 ms) are over; and long before the
    // resource's own 30 s stop timeout (the wait above is bounded at 5 s).
    expect(tookMs).toBeGreaterThanOrEqual(450)
    // A start after the lease ran out is refused; a new lease lets it run again.
    client.startResource(a.spec)
    await waitFor('refused', () =>
      states.some((s) => s.resource === 'a' && s.reason === 'not started: no lease'),
    )
    client.lease(60_000, 200)
    client.startResource(a.spec)
    await waitFor('online again', () => states.filter((s) => s.resource === 'a').at(-1)?.state === 'online')
  })
})

describe('the resource monitor takes its resources with it', () => {
  /** Starts app `a` (ignores SIGTERM; stop timeout 30 s unless given) under a lease; returns its pid. */
  async function running(
    client: ResourceMonitorClient,
    states: Extract<FromMonitor, { t: 'state' }>[],
    stopTimeoutMs = 30_000,
  ) {
    const a = app('a', tempDir('gc-app-'))
    a.spec.params.stopTimeoutMs = String(stopTimeoutMs)
    client.lease(600_000, 200)
    client.startResource(a.spec)
    await waitFor('a online', () => states.some((s) => s.resource === 'a' && s.state === 'online'))
    await waitFor('its pid', () => existsSync(a.pidFile) && readFileSync(a.pidFile, 'utf8').trim() !== '')
    return Number(readFileSync(a.pidFile, 'utf8'))
  }
  const exited = (client: ResourceMonitorClient) =>
    waitFor('the monitor to exit', () => client.pid === undefined, 15_000)

  it('a shutdown with a deadline SIGKILLs a resource still running at the deadline, whatever its stop timeout', async () => {
    const { client, states } = await monitor()
    const pid = await running(client, states)
    const monitorPid = client.pid!
    const t0 = performance.now()
    await client.shutdown(1_500)
    const tookMs = performance.now() - t0
    expect(pidAlive(pid)).toBe(false)
    expect(pidAlive(monitorPid)).toBe(false)
    // The monitor did it itself, before the client's own SIGKILL of it at 1.5 s.
    expect(tookMs).toBeLessThan(1_500)
  })

  it('ends on SIGTERM of its own: stops its resources (SIGKILL at their stop timeout) and exits', async () => {
    const { client, states } = await monitor()
    const pid = await running(client, states, 500)
    process.kill(client.pid!, 'SIGTERM')
    await exited(client)
    expect(pidAlive(pid)).toBe(false)
    expect(states.filter((s) => s.resource === 'a').at(-1)).toMatchObject({
      state: 'offline',
      reason: expect.stringMatching(/SIGTERM/),
    })
  })

  it('on SIGTERM while the node says it is stopping, waits for the node to stop things in order', async () => {
    const { client, states } = await monitor()
    const pid = await running(client, states, 1_000)
    client.announceStopping(60_000)
    process.kill(client.pid!, 'SIGTERM')
    // Past the 2 s the monitor gives a node that says nothing, it is still running the app.
    await new Promise((r) => setTimeout(r, 2_500))
    expect(pidAlive(pid)).toBe(true)
    expect(client.pid).toBeDefined()
    client.stopResource('a')
    await waitFor("the node's stop", () => !pidAlive(pid), 10_000)
    await client.shutdown(5_000)
  })
})

describe('what a resource process gets', () => {
  it("a clean environment: the documented variables and its own, not the node's secrets", async () => {
    process.env.GEOCLUSTER_TOKEN = 'node-admin-token'
    process.env.LD_PRELOAD_TEST_SECRET = 'node-secret'
    const { client, states } = await monitor()
    delete process.env.GEOCLUSTER_TOKEN
    delete process.env.LD_PRELOAD_TEST_SECRET
    const dir = tempDir('gc-app-')
    const out = join(dir, 'env')
    client.lease(600_000, 200)
    client.startResource({
      resource: 'envy',
      group: 'g',
      type: 'generic-app',
      params: {
        command: `env > ${out}.tmp && mv ${out}.tmp ${out}; sleep 600`,
        environment: 'APP_MODE=blue',
      },
      env: { GEOCLUSTER_RESOURCE: 'envy', GEOCLUSTER_FENCING_TOKEN: '3' },
    })
    await waitFor('envy online', () => states.some((s) => s.resource === 'envy' && s.state === 'online'))
    await waitFor('its environment', () => existsSync(out))
    const env = readFileSync(out, 'utf8')
    expect(env).toMatch(/^APP_MODE=blue$/m)
    expect(env).toMatch(/^GEOCLUSTER_FENCING_TOKEN=3$/m)
    expect(env).toMatch(/^PATH=/m)
    expect(env).not.toMatch(/node-admin-token|node-secret|GEOCLUSTER_MONITOR_DIR/)
  })
})
