/**
 * The monitor's side of maintenance mode (resourceSupervisor.ts): no health checks while on, an
 * exit is offline rather than failed; turned off, checks resume and the node's probe (the one a
 * cleanup asks for) says what the resource is before anything acts on it.
 */
import { describe, expect, it } from 'vitest'
import type { MonitoredState } from '../../src/resources/monitorProtocol.ts'
import type { ResourceAgent } from '../../src/resources/resourceAgent.ts'
import { ResourceSupervisor } from '../../src/resources/resourceSupervisor.ts'

class FakeAgent implements ResourceAgent {
  alive: string | null = null
  checks = 0
  stops = 0
  onFailure: (reason: string) => void = () => {}
  readonly looksAliveIntervalMs = 5
  readonly isAliveIntervalMs = 5
  readonly stopTimeoutMs = 100
  async start(): Promise<void> {}
  async stop(): Promise<string> {
    this.stops++
    return 'stopped'
  }
  async looksAlive(): Promise<string | null> {
    this.checks++
    return this.alive
  }
  async isAlive(): Promise<string | null> {
    this.checks++
    return this.alive
  }
  processGroups(): number[] {
    return []
  }
}

function supervised() {
  const agent = new FakeAgent()
  const reports: [MonitoredState, string | undefined][] = []
  const s = new ResourceSupervisor(
    'app',
    (onFailure) => {
      agent.onFailure = onFailure
      return agent
    },
    (state, reason) => reports.push([state, reason]),
  )
  return { agent, reports, s }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('a supervised resource in maintenance', () => {
  it('is not checked, and an exit is reported offline, not failed', async () => {
    const { agent, reports, s } = supervised()
    await s.start()
    await s.maintenance(true)
    const before = agent.checks
    agent.alive = 'would fail a check'
    await pause(40)
    expect(agent.checks).toBe(before)
    agent.onFailure('process exited with code 0')
    // Off again (queued behind the exit's clean-up): the probe says it is not running.
    await s.maintenance(false)
    expect(await s.probe()).toBe('offline')
    expect(reports.at(-1)).toEqual(['offline', 'process exited with code 0 (in maintenance: not restarted)'])
    expect(agent.stops).toBe(1)
  })

  it('out of maintenance: probed once — healthy goes on being checked, unhealthy fails as usual', async () => {
    const healthy = supervised()
    await healthy.s.start()
    await healthy.s.maintenance(true)
    await healthy.s.maintenance(false)
    expect(await healthy.s.probe()).toBe('online')
    expect(healthy.reports.at(-1)).toEqual(['online', undefined])
    const checked = healthy.agent.checks
    await pause(200)
    expect(healthy.agent.checks).toBeGreaterThan(checked)
    await healthy.s.stop()

    const sick = supervised()
    await sick.s.start()
    await sick.s.maintenance(true)
    sick.agent.alive = 'port 80 does not answer'
    await sick.s.maintenance(false)
    expect(await sick.s.probe()).toBe('failed')
    expect(sick.reports.at(-1)).toEqual(['failed', 'probe: port 80 does not answer'])
    expect(sick.agent.stops).toBe(1)
  })
})
