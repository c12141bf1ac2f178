/**
 * Fencing that needs neither the node nor its resource monitor to run (issue 13): when both are
 * killed with SIGKILL, or stopped together (SIGSTOP of the lab's process group, as Ctrl-Z does to
 * a foreground lab), each resource's lease keeper still ends the app within fenceAfter +
 * stopTimeout of the node's last lease renewal; and a restart on the same data dir kills a keeper
 * (and its app) left behind.
 *
 * The app ignores SIGTERM and has a 30 s stop timeout of its own: only the fence's SIGKILL, at the
 * fence's stop timeout, ends it in time.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { labTopology } from '../../src/cli/commands/labCommand.ts'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { fencingTiming } from '../../src/topology/clusterTiming.ts'
import {
  childrenOf,
  cleanUp,
  groupMembers,
  ownProcesses,
  pidRunning,
  type RunningNode,
  startLab,
  tempDir,
  waitFor,
} from '../support/processes.ts'

const leftovers: number[] = []
afterEach(async () => {
  await cleanUp(leftovers.splice(0))
})

const { fenceAfterMs, stopTimeoutMs } = fencingTiming(labTopology)
/** The fencing bound, with a margin for polls and a busy machine. */
const boundMs = fenceAfterMs + stopTimeoutMs + 1_000

const pidOf = (dir: string) =>
  existsSync(join(dir, 'app.pid')) ? Number(readFileSync(join(dir, 'app.pid'), 'utf8').trim()) : undefined

/** The state letter of /proc/<pid>/stat (R, S, T for stopped, Z...), or null when gone. */
function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null
  } catch {
    return null
  }
}

/** A lab running app `app` in group `web`; its pid, its monitor's and its keeper's. */
async function labWithApp(dir: string, options: { ownProcessGroup?: boolean } = {}) {
  const lab = await startLab(join(dir, 'data'), [], options)
  expect((await lab.api('POST', '/v1/groups', { name: 'web' })).status).toBe(201)
  const created = await lab.api('POST', '/v1/resources', {
    name: 'app',
    group: 'web',
    type: 'generic-app',
    params: {
      command: `trap '' TERM; echo $$ > ${dir}/app.pid; while :; do sleep 0.1; done`,
      stopTimeoutMs: '30000',
    },
  })
  expect(created.status).toBe(201)
  await lab.api('POST', '/v1/groups/web/online')
  return { lab, ...(await appRunning(lab, dir)) }
}

/** The app's pid (another than `previousPid`), its monitor's and its keeper's, once it runs. */
async function appRunning(lab: RunningNode, dir: string, previousPid?: number) {
  const pid = await waitFor('the app pid', () => {
    const p = pidOf(dir)
    return p !== undefined && p !== previousPid && groupMembers(p).length > 0 ? p : undefined
  })
  leftovers.push(pid)
  const monitor = childrenOf(lab.proc.pid!).find((c) => c.command.includes('monitorMain'))
  expect(monitor, 'the resource monitor, a child of the lab').toBeDefined()
  // Found by the test's mark in its environment: teardown finds it too.
  const keeper = await waitFor('its lease keeper', () =>
    ownProcesses().find((p) => p.command.includes('leaseKeeper.sh') && p.command.includes(` ${pid} `)),
  )
  return { pid, monitorPid: monitor!.pid, keeperPid: keeper.pid }
}

async function groupOnline(lab: RunningNode): Promise<boolean> {
  const { body } = await lab.api<StatusDocument>('GET', '/v1/status')
  return body.groups.find((g) => g.name === 'web')?.state === 'online'
}

describe('fencing without the node or the monitor', () => {
  it('kill -9 of node and monitor together: the app is gone within fenceAfter + stopTimeout', async () => {
    const dir = tempDir()
    const { lab, pid, monitorPid, keeperPid } = await labWithApp(dir)
    const killedAt = performance.now()
    process.kill(monitorPid, 'SIGKILL')
    lab.proc.kill('SIGKILL')
    const goneAfterMs = await waitFor(
      'the app to be gone',
      () => (groupMembers(pid).length === 0 ? performance.now() - killedAt : undefined),
      boundMs + 5_000,
    )
    expect(goneAfterMs, 'ms from the kill until the app was gone').toBeLessThan(boundMs)
    await waitFor('the keeper to exit', () => !pidRunning(keeperPid), 5_000)
  })

  it('SIGSTOP of node and monitor together: the app is gone within fenceAfter + stopTimeout; after SIGCONT the node runs it again', async () => {
    const dir = tempDir()
    const { lab, pid, monitorPid, keeperPid } = await labWithApp(dir, { ownProcessGroup: true })
    await waitFor('the group online', () => groupOnline(lab))
    const stoppedAt = performance.now()
    // The whole foreground group, as Ctrl-Z in a terminal (SIGTSTP would be ignored here: the
    // group has no terminal to stop for). The app and its keeper have sessions of their own.
    process.kill(-lab.proc.pid!, 'SIGSTOP')
    try {
      const goneAfterMs = await waitFor(
        'the app to be gone',
        () => (groupMembers(pid).length === 0 ? performance.now() - stoppedAt : undefined),
        boundMs + 5_000,
      )
      expect(goneAfterMs, 'ms from the stop until the app was gone').toBeLessThan(boundMs)
      // Neither of them did it: both are still stopped.
      expect(procState(lab.proc.pid!)).toBe('T')
      expect(procState(monitorPid)).toBe('T')
      expect(procState(keeperPid), 'the keeper is not in the stopped group').not.toBe('T')
    } finally {
      process.kill(-lab.proc.pid!, 'SIGCONT')
    }
    // The node finds its lease gone and its app dead, renews the lease and starts it again.
    const next = await waitFor(
      'the app started again',
      () => {
        const p = pidOf(dir)
        return p !== undefined && p !== pid && groupMembers(p).length > 0 ? p : undefined
      },
      30_000,
    )
    leftovers.push(next)
    await waitFor('the group online again', () => groupOnline(lab), 30_000)
    await waitFor('the old keeper to exit', () => !pidRunning(keeperPid), 5_000)
  })

  it('a restart on the same data dir kills a keeper left behind, and its app', async () => {
    const dir = tempDir()
    const { lab, pid, monitorPid, keeperPid } = await labWithApp(dir)
    // The keeper cannot act (stopped), and node and monitor die: the app is left running.
    process.kill(keeperPid, 'SIGSTOP')
    leftovers.push(keeperPid)
    process.kill(monitorPid, 'SIGKILL')
    lab.proc.kill('SIGKILL')
    await lab.exited
    await waitFor('the monitor to be gone', () => !pidRunning(monitorPid), 5_000)
    expect(groupMembers(pid).length).toBeGreaterThan(0)

    const again = await startLab(join(dir, 'data'))
    // The new monitor reaps them before it starts anything. It is a Node process of its own,
    // started after the API answers; under the full suite's load this took over 10 s once.
    await waitFor(
      'the old app and keeper to be killed',
      () => groupMembers(pid).length === 0 && !pidRunning(keeperPid),
      30_000,
    )
    // The group is still meant to be online: the new node starts the app again, with a new keeper.
    const restarted = await appRunning(again, dir, pid)
    expect(restarted.keeperPid).not.toBe(keeperPid)
    await waitFor('the group online', () => groupOnline(again))
  })
})
