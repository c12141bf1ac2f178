/**
 * The resource monitor: a child process of the node that runs the resources. Separate, so a
 * misbehaving resource cannot take the node down and a dead node cannot leave resources
 * running: when the node is gone (the IPC channel closes, or the monitor finds itself
 * reparented — the node exited or was killed, even with SIGKILL), the monitor stops every
 * resource it runs, SIGKILLs what is left when each one's stop timeout is up, and exits. It
 * ends on SIGTERM too, the same way, unless the node is stopping the resources itself in
 * dependency order (a signal to the whole process group). And it keeps its own deadline:
 * the node must keep renewing the lease it holds from the cluster; if the lease runs out — the
 * node lost the cluster, or hangs (SIGSTOP) — the monitor kills every resource by itself
 * (fencing), so a new owner elsewhere never overlaps them. Should the monitor itself be killed or
 * stopped along with the node, each resource's lease keeper (leaseKeeper.ts) still does that.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { LeaseKeepers } from './leaseKeeper.ts'
import { type FromMonitor, hostMonotonicMs, type ResourceSpec, type ToMonitor } from './monitorProtocol.ts'
import { OrphanRegistry, registryFile } from './orphanRegistry.ts'
import { signalGroup } from './processGroup.ts'
import type { AgentContext, ResourceAgent } from './resourceAgent.ts'
import { resourceEnvironment } from './resourceEnvironment.ts'
import { ResourceSupervisor } from './resourceSupervisor.ts'
import { RotatingLog } from './rotatingLog.ts'
import { GenericApp } from './types/genericApp.ts'
import { GenericScript } from './types/genericScript.ts'
import { IpAddress } from './types/ipAddress.ts'
import { NetworkName } from './types/networkName.ts'

const runDir = process.env.GEOCLUSTER_MONITOR_DIR
if (runDir === undefined || process.send === undefined) {
  process.stderr.write(
    'geocluster resource monitor: start it through the node (needs IPC and GEOCLUSTER_MONITOR_DIR)\n',
  )
  process.exit(2)
}
mkdirSync(join(runDir, 'resources'), { recursive: true, mode: 0o750 })

const send = (m: FromMonitor) => {
  if (process.connected) process.send!(m)
}
const log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) =>
  send({ t: 'log', level, msg, ...(data === undefined ? {} : { data }) })

const supervisors = new Map<string, ResourceSupervisor>()
const logs = new Map<string, RotatingLog>()
const registry = new OrphanRegistry(registryFile(runDir))
// The keepers get what a resource gets from the node's environment, and no more.
const keepers = new LeaseKeepers(resourceEnvironment(process.env, {}, {}), (msg, data) =>
  log('warn', msg, data),
)
/** Set once the monitor is on its way out: it takes no more work. */
let goingAway = false
/** The node announced that it is stopping the resources itself, by this host-monotonic time. */
let nodeStopsBy: number | null = null
/** Pending end after a SIGTERM/SIGINT, unless the node finishes first. */
let terminateTimer: NodeJS.Timeout | null = null
/** Monotonic ms until which the node's lease holds; nothing runs before the first lease. */
let leaseUntil = Number.NEGATIVE_INFINITY
let fenceStopMs = 250
let fenceTimer: NodeJS.Timeout | null = null

function onLease(untilMonotonicMs: number, stopTimeoutMs: number): void {
  // The deadline is on the host's clock: a message that waited in the pipe does not extend it.
  const remainingMs = untilMonotonicMs - hostMonotonicMs()
  leaseUntil = performance.now() + remainingMs
  fenceStopMs = stopTimeoutMs
  keepers.lease(remainingMs, stopTimeoutMs)
  if (fenceTimer !== null) clearTimeout(fenceTimer)
  fenceTimer = setTimeout(checkLease, Math.max(0, remainingMs) + 1)
}

function checkLease(): void {
  fenceTimer = null
  const left = leaseUntil - performance.now()
  if (left > 0) {
    fenceTimer = setTimeout(checkLease, left + 1)
    return
  }
  const running = [...supervisors.values()].filter((s) => s.current !== 'offline' && s.current !== 'failed')
  if (running.length === 0) return
  log('warn', 'the lease ran out without renewal: fencing every resource', {
    resources: running.map((s) => s.name),
    stopTimeoutMs: fenceStopMs,
  })
  void Promise.all(running.map((s) => s.fence(fenceStopMs, 'fenced: the lease ran out'))).then(recordGroups)
}

function recordGroups(): void {
  const groups: { resource: string; pgid: number }[] = []
  for (const s of supervisors.values())
    for (const pgid of s.processGroups()) groups.push({ resource: s.name, pgid })
  try {
    registry.record(groups, keepers.running())
  } catch (error) {
    // The data dir may be gone (the node's files were removed under us): keep stopping anyway.
    log('warn', 'cannot record the resource process groups', { error: (error as Error).message })
  }
}

function makeAgent(spec: ResourceSpec, ctx: AgentContext, out: RotatingLog): ResourceAgent {
  switch (spec.type) {
    case 'generic-app':
      return new GenericApp(spec.params, ctx, out)
    case 'generic-script':
      return new GenericScript(spec.params, ctx, out)
    case 'ip-address':
      return new IpAddress(spec.params, ctx, out)
    case 'network-name':
      return new NetworkName(spec.params, ctx, out)
  }
}

function supervisorFor(spec: ResourceSpec): ResourceSupervisor {
  const existing = supervisors.get(spec.resource)
  if (existing !== undefined) supervisors.delete(spec.resource)
  let out = logs.get(spec.resource)
  if (out === undefined) {
    out = new RotatingLog(join(runDir!, 'resources', `${spec.resource}.log`))
    logs.set(spec.resource, out)
  }
  const logFile = out
  const env = resourceEnvironment(process.env, spec.env, spec.params)
  const supervisor = new ResourceSupervisor(
    spec.resource,
    (onFailure) =>
      makeAgent(
        spec,
        {
          env,
          onFailure,
          keepLease: (pgid) => keepers.keep(spec.resource, pgid),
          event: (event) => send({ t: 'event', resource: spec.resource, event }),
        },
        logFile,
      ),
    (state, reason) => {
      recordGroups()
      send({ t: 'state', resource: spec.resource, state, ...(reason === undefined ? {} : { reason }) })
    },
  )
  supervisors.set(spec.resource, supervisor)
  return supervisor
}

/** Longest wait `goAway` allows a resource between SIGTERM and SIGKILL, when not told otherwise. */
const goAwayGraceCapMs = 10 * 60_000
/** How long a SIGTERM waits for the node to say it is stopping the resources itself. */
const signalGraceMs = 2_000

/**
 * Stops every resource now, whatever is under way (SIGTERM, SIGKILL once its stop timeout — or
 * `withinMs`, when sooner — is up), then exits. A backstop SIGKILLs every known process group
 * and exits should a stop hang, so nothing the monitor ran outlives it.
 */
function goAway(why: string, withinMs?: number): void {
  if (goingAway) return
  goingAway = true
  if (terminateTimer !== null) clearTimeout(terminateTimer)
  if (fenceTimer !== null) clearTimeout(fenceTimer)
  const running = [...supervisors.values()].filter((s) => s.current !== 'offline' && s.current !== 'failed')
  const graceOf = (s: ResourceSupervisor) =>
    Math.max(0, Math.min(s.stopTimeoutMs, withinMs ?? goAwayGraceCapMs))
  const longest = Math.max(0, ...running.map(graceOf))
  log('info', `stopping all resources: ${why}`, { resources: running.map((s) => s.name) })
  const backstop = setTimeout(() => {
    killEveryGroup()
    process.stderr.write(`geocluster resource monitor: stopping took too long (${why}); killed everything\n`)
    process.exit(1)
  }, longest + 2_000)
  void Promise.all(running.map((s) => s.fence(graceOf(s), `stopped: ${why}`))).then(() => {
    clearTimeout(backstop)
    recordGroups()
    send({ t: 'stopped-all' })
    process.exit(0)
  })
}

function killEveryGroup(): void {
  for (const s of supervisors.values()) for (const pgid of s.processGroups()) signalGroup(pgid, 'SIGKILL')
}

/** A signal to the monitor: end, after giving the node the chance to stop things in order. */
function onTerminate(signal: NodeJS.Signals): void {
  if (goingAway) return
  if (!process.connected) {
    goAway(`${signal}, and the node is gone`)
    return
  }
  // Ctrl-C in a terminal, or a service manager's SIGTERM, reaches the whole process group: the
  // node then stops the resources in reverse dependency order and says `shutdown`. It announces
  // that at once (`stopping`); without that word soon, the signal was the monitor's alone.
  terminatedBy = signal
  scheduleTerminate()
}
let terminatedBy: NodeJS.Signals | null = null

function scheduleTerminate(): void {
  const signal = terminatedBy
  if (signal === null || goingAway) return
  if (terminateTimer !== null) clearTimeout(terminateTimer)
  const waitMs = nodeStopsBy === null ? signalGraceMs : Math.max(0, nodeStopsBy - hostMonotonicMs())
  terminateTimer = setTimeout(() => goAway(`${signal}: the node did not stop the resources in time`), waitMs)
}

/**
 * The node process is gone when this process has been given another parent. `process.ppid` asks
 * the kernel each time (getppid), which is cheaper than reading /proc/self/stat four times a second.
 */
function parentPid(): number {
  return process.ppid
}
const nodePid = parentPid()

process.on('message', (raw: unknown) => {
  const m = raw as ToMonitor
  if (goingAway) return
  switch (m.t) {
    case 'start': {
      if (performance.now() >= leaseUntil) {
        // The node asked before it saw its lease go; starting now could overlap a new owner.
        send({ t: 'state', resource: m.spec.resource, state: 'offline', reason: 'not started: no lease' })
        return
      }
      const current = supervisors.get(m.spec.resource)
      const supervisor =
        current === undefined || current.current === 'offline' || current.current === 'failed'
          ? supervisorFor(m.spec)
          : current
      void supervisor.start()
      return
    }
    case 'stop':
      void supervisors.get(m.resource)?.stop()
      return
    case 'fail':
      void supervisors.get(m.resource)?.fail(m.reason)
      return
    case 'maintenance':
      void supervisors.get(m.resource)?.maintenance(m.on)
      return
    case 'probe': {
      const supervisor = supervisors.get(m.resource)
      if (supervisor === undefined) send({ t: 'probed', resource: m.resource, state: 'offline' })
      else void supervisor.probe().then((state) => send({ t: 'probed', resource: m.resource, state }))
      return
    }
    case 'lease':
      onLease(m.untilMonotonicMs, m.stopTimeoutMs)
      return
    case 'stopping':
      nodeStopsBy = m.untilMonotonicMs
      scheduleTerminate()
      return
    case 'shutdown':
      goAway('the node is shutting down', m.withinMs)
      return
  }
})

// The node is gone (exited, crashed, killed): nothing may keep running without it.
process.on('disconnect', () => goAway('the node process disconnected'))
const parentWatch = setInterval(() => {
  if (parentPid() !== nodePid) goAway(`the node process (pid ${nodePid}) is gone`)
}, 250)
parentWatch.unref()
process.on('SIGINT', () => onTerminate('SIGINT'))
process.on('SIGTERM', () => onTerminate('SIGTERM'))
// Last resort on a fatal error: kill every group we know of.
process.on('uncaughtException', (error) => {
  killEveryGroup()
  process.stderr.write(`geocluster resource monitor crashed: ${error.stack ?? error.message}\n`)
  process.exit(70)
})

const reaped = registry.reap()
send({ t: 'ready', pid: process.pid, reaped })
