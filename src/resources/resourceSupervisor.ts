/**
 * One resource inside the monitor: runs its agent's operations one at a time, polls LooksAlive
 * and IsAlive while it is online, and turns any failure into a cleaned-up `failed` report (the
 * resource's processes are gone before the node hears of the failure, so a restart never
 * overlaps the failed instance).
 */
import type { MonitoredState } from './monitorProtocol.ts'
import { stopGroup } from './processGroup.ts'
import type { ResourceAgent } from './resourceAgent.ts'

export type SupervisorReport = (state: MonitoredState, reason?: string) => void

export class ResourceSupervisor {
  readonly name: string
  private agent: ResourceAgent | null = null
  private readonly makeAgent: (onFailure: (reason: string) => void) => ResourceAgent
  private readonly report: SupervisorReport
  private queue: Promise<void> = Promise.resolve()
  private state: MonitoredState = 'offline'
  private timers: NodeJS.Timeout[] = []
  private polling = false
  /** Fenced: its processes were killed underneath whatever operation was under way. */
  private fenced = false
  /** The agent a stop is taking down right now. */
  private stoppingAgent: ResourceAgent | null = null
  /** In maintenance: no polls, and an exit is reported offline rather than failed. */
  private inMaintenance = false

  constructor(
    name: string,
    makeAgent: (onFailure: (reason: string) => void) => ResourceAgent,
    report: SupervisorReport,
  ) {
    this.name = name
    this.makeAgent = makeAgent
    this.report = report
  }

  get current(): MonitoredState {
    return this.state
  }

  start(): Promise<void> {
    return this.enqueue(async () => {
      if (this.state === 'online' || this.state === 'starting') return
      this.set('starting')
      let agent: ResourceAgent
      try {
        agent = this.makeAgent((reason) => void this.fail(reason))
      } catch (error) {
        this.set('failed', (error as Error).message)
        return
      }
      this.agent = agent
      try {
        await agent.start()
      } catch (error) {
        if (this.fenced) return
        await this.cleanUp()
        this.set('failed', (error as Error).message)
        return
      }
      if (this.fenced) return
      this.set('online')
      this.schedulePolls(agent)
    })
  }

  stop(): Promise<void> {
    return this.enqueue(async () => {
      if (this.state === 'offline' || this.state === 'failed') {
        this.set('offline')
        return
      }
      this.cancelPolls()
      this.set('stopping')
      const how = await this.cleanUp()
      this.set('offline', how)
    })
  }

  /**
   * Checks it now, LooksAlive then IsAlive, rather than at the next poll (a cleanup's re-probe);
   * a failed check fails it as a poll would. Resolves with its state after that.
   */
  async probe(): Promise<MonitoredState> {
    let problem: string | null = null
    let checked: ResourceAgent | null = null
    await this.enqueue(async () => {
      const agent = this.agent
      if (this.state !== 'online' || agent === null) return
      checked = agent
      const check = (f: () => Promise<string | null>) => f().catch((e: Error) => e.message)
      problem = (await check(() => agent.looksAlive())) ?? (await check(() => agent.isAlive()))
    })
    if (problem !== null && checked !== null && this.agent === checked) await this.fail(`probe: ${problem}`)
    return this.state
  }

  /**
   * A failure seen by a poll, the agent, or the operator: clean up, then report `failed` — or,
   * in maintenance, `offline`: nothing is restarted or counted for what an operator is doing.
   */
  fail(reason: string): Promise<void> {
    return this.enqueue(async () => {
      if (this.state !== 'online' && this.state !== 'starting') return
      this.cancelPolls()
      this.state = 'stopping' // quietly: the node hears `failed` once the processes are gone
      await this.cleanUp()
      if (this.inMaintenance) this.set('offline', `${reason} (in maintenance: not restarted)`)
      else this.set('failed', reason)
    })
  }

  /**
   * Maintenance on: health checks stop, and an exit is reported offline (see `fail`). Off: checks
   * resume; the node asks for a `probe` before it acts on the resource again.
   */
  maintenance(on: boolean): Promise<void> {
    if (on) {
      this.inMaintenance = true
      this.cancelPolls()
      return Promise.resolve()
    }
    // Queued: an exit seen while in maintenance is still reported offline.
    return this.enqueue(async () => {
      this.inMaintenance = false
      if (this.state === 'online' && this.agent !== null) this.schedulePolls(this.agent)
    })
  }

  /**
   * The lease ran out: kill the processes now, whatever is under way (a start may be waiting on
   * its agent), SIGTERM then SIGKILL after `graceMs`. This supervisor is done afterwards.
   */
  async fence(graceMs: number, reason: string): Promise<void> {
    if (this.fenced || this.state === 'offline' || this.state === 'failed') return
    this.fenced = true
    this.cancelPolls()
    const agent = this.agent
    this.agent = null
    this.state = 'stopping'
    const outcomes = await Promise.all([
      agent === null
        ? 'nothing was running'
        : agent.stop(graceMs).catch((error: Error) => `stop failed: ${error.message}`),
      // A graceful stop under way may take the resource's whole stop timeout: fencing does not wait.
      ...(this.stoppingAgent?.processGroups() ?? []).map((g) => stopGroup(g, graceMs)),
    ])
    this.set('offline', `${reason} (${outcomes.join(', ')})`)
  }

  /** Every process group it runs, a stop under way included. */
  processGroups(): number[] {
    return [...(this.agent?.processGroups() ?? []), ...(this.stoppingAgent?.processGroups() ?? [])]
  }

  /** The resource's own stop timeout (0 when nothing is running). */
  get stopTimeoutMs(): number {
    return (this.agent ?? this.stoppingAgent)?.stopTimeoutMs ?? 0
  }

  private async cleanUp(): Promise<string> {
    const agent = this.agent
    this.agent = null
    if (agent === null) return 'was not running'
    this.stoppingAgent = agent
    try {
      return await agent.stop()
    } catch (error) {
      return `stop failed: ${(error as Error).message}`
    } finally {
      this.stoppingAgent = null
    }
  }

  private schedulePolls(agent: ResourceAgent): void {
    if (this.inMaintenance) return
    const poll = (check: () => Promise<string | null>, what: string) => async () => {
      if (this.polling || this.agent !== agent || this.state !== 'online') return
      this.polling = true
      try {
        const problem = await check()
        if (problem !== null && this.agent === agent) await this.fail(`${what}: ${problem}`)
      } finally {
        this.polling = false
      }
    }
    this.timers.push(
      setInterval(
        poll(() => agent.looksAlive(), 'LooksAlive'),
        agent.looksAliveIntervalMs,
      ),
      setInterval(
        poll(() => agent.isAlive(), 'IsAlive'),
        agent.isAliveIntervalMs,
      ),
    )
  }

  private cancelPolls(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
  }

  private set(state: MonitoredState, reason?: string): void {
    this.state = state
    this.report(state, reason)
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const guarded = async () => {
      if (!this.fenced) await op()
    }
    this.queue = this.queue.then(guarded, guarded)
    return this.queue
  }
}
