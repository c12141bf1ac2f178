/**
 * The resource monitor: a child process of the node that runs the resources. Separate, so a
 * misbehaving resource cannot take the node down and a dead node cannot leave resources
 * running: when the IPC channel to the node closes (the node exited or was killed, even with
 * SIGKILL), the monitor stops every resource it runs and exits. And it keeps its own deadline:
 * the node must keep renewing the lease it holds from the cluster; if the lease runs out — the
 * node lost the cluster, or hangs (SIGSTOP) — the monitor kills every resource by itself
 * (fencing), so a new owner elsewhere never overlaps them.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type FromMonitor, hostMonotonicMs, type ResourceSpec, type ToMonitor } from './monitorProtocol.ts'
import { OrphanRegistry } from './orphanRegistry.ts'
import { signalGroup } from './processGroup.ts'
import type { AgentContext, ResourceAgent } from './resourceAgent.ts'
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
const registry = new OrphanRegistry(join(runDir, 'monitor-processes.json'))
let shuttingDown = false
/** Monotonic ms until which the node's lease holds; nothing runs before the first lease. */
let leaseUntil = Number.NEGATIVE_INFINITY
let fenceStopMs = 250
let fenceTimer: NodeJS.Timeout | null = null

function onLease(untilMonotonicMs: number, stopTimeoutMs: number): void {
  // The deadline is on the host's clock: a message that waited in the pipe does not extend it.
  const remainingMs = untilMonotonicMs - hostMonotonicMs()
  leaseUntil = performance.now() + remainingMs
  fenceStopMs = stopTimeoutMs
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
  registry.record(groups)
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
  const env = { ...process.env, ...spec.env }
  delete env.GEOCLUSTER_MONITOR_DIR
  const supervisor = new ResourceSupervisor(
    spec.resource,
    (onFailure) => makeAgent(spec, { env, onFailure }, logFile),
    (state, reason) => {
      recordGroups()
      send({ t: 'state', resource: spec.resource, state, ...(reason === undefined ? {} : { reason }) })
    },
  )
  supervisors.set(spec.resource, supervisor)
  return supervisor
}

async function stopAll(why: string): Promise<void> {
  if (shuttingDown) return
  shuttingDown = true
  log('info', `stopping all resources: ${why}`, { resources: [...supervisors.keys()] })
  await Promise.all([...supervisors.values()].map((s) => s.stop()))
  recordGroups()
}

process.on('message', (raw: unknown) => {
  const m = raw as ToMonitor
  if (shuttingDown) return
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
    case 'lease':
      onLease(m.untilMonotonicMs, m.stopTimeoutMs)
      return
    case 'shutdown':
      void stopAll('the node is shutting down').then(() => {
        send({ t: 'stopped-all' })
        process.exit(0)
      })
      return
  }
})

// The node is gone (exited, crashed, killed): nothing may keep running without it.
process.on('disconnect', () => {
  void stopAll('the node process disconnected').then(() => process.exit(0))
})
// Ctrl-C in a terminal, or a service manager's SIGTERM, reaches the whole process group. The
// node answers it by stopping resources in reverse dependency order, so the monitor waits for
// the node's word (or for the node to vanish) instead of stopping everything at once.
process.on('SIGINT', () => {})
process.on('SIGTERM', () => {})
// Last resort if stopping hangs on a fatal error: kill every group we know of.
process.on('uncaughtException', (error) => {
  for (const s of supervisors.values()) for (const pgid of s.processGroups()) signalGroup(pgid, 'SIGKILL')
  process.stderr.write(`geocluster resource monitor crashed: ${error.stack ?? error.message}\n`)
  process.exit(70)
})

const reaped = registry.reap()
send({ t: 'ready', pid: process.pid, reaped })
