/**
 * A resource's lease keeper alone (src/resources/leaseKeeper.sh), driven the way the monitor
 * drives it: deadlines on its clock down its stdin, `done`, or end of input. The "resource" is a
 * one-process bash loop in its own group, so that once killed it is reaped here at once and its
 * group is really empty (a forked child would be a zombie until init, slow here, reaps it).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { keeperClockMs, leaseKeeperScript } from '../../src/resources/leaseKeeper.ts'
import { groupMembers, tempDir, waitFor } from '../support/processes.ts'

const started: ChildProcess[] = []
afterEach(async () => {
  for (const p of started) {
    try {
      process.kill(p.pid!, 'SIGKILL')
    } catch {
      // gone already
    }
  }
  await Promise.all(
    started
      .splice(0)
      .map((p) =>
        p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)),
      ),
  )
})

function track(child: ChildProcess): { child: ChildProcess; exited: Promise<number | null> } {
  started.push(child)
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  return { child, exited }
}

/** A resource: the leader of its own group, writing `term` to a file on SIGTERM (and going on). */
function app() {
  const termFile = join(tempDir('gc-keeper-'), 'term')
  const { child } = track(
    spawn(
      '/bin/bash',
      ['-c', `trap 'echo term >> ${termFile}' TERM; exec {n}<> <(:); while :; do read -t 0.05 -u $n _; done`],
      { detached: true, stdio: 'ignore', env: process.env },
    ),
  )
  const pgid = child.pid!
  return { pgid, termFile, alive: () => groupMembers(pgid).length > 0 }
}

/** A keeper of `pgid` whose deadline is `inMs` from now. */
function keeper(pgid: number, stopMs: number, inMs: number) {
  const { child, exited } = track(
    spawn('/bin/bash', [leaseKeeperScript, String(pgid), String(stopMs), String(keeperClockMs() + inMs)], {
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
      env: process.env,
    }),
  )
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  return {
    child,
    exited,
    stderr: () => stderr,
    renew: (inMs: number) => child.stdin!.write(`${keeperClockMs() + inMs}\n`),
  }
}

/** Milliseconds from `since` until `check` holds (bounded). */
async function msUntil(what: string, since: number, check: () => boolean, timeoutMs = 10_000) {
  await waitFor(what, check, timeoutMs)
  return performance.now() - since
}

describe('the lease keeper', () => {
  it('keeps the group alive while the deadline is renewed, and SIGKILLs it once the deadline passes', async () => {
    const a = app()
    const k = keeper(a.pgid, 200, 400)
    let lastRenewal = performance.now()
    for (let i = 0; i < 10; i++) {
      await sleep(150)
      expect(a.alive(), `renewal ${i}`).toBe(true)
      k.renew(400)
      lastRenewal = performance.now()
    }
    const goneAfterMs = await msUntil('the group to be killed', lastRenewal, () => !a.alive())
    // At the deadline (the clock ticks in 10 ms), not before it; and by SIGKILL alone.
    expect(goneAfterMs).toBeGreaterThanOrEqual(400 - 20)
    expect(goneAfterMs).toBeLessThan(400 + 1_000)
    expect(existsSync(a.termFile)).toBe(false)
    expect(await k.exited).toBe(0)
  })

  it('takes a renewal cut in two by its read timeout as one line', async () => {
    const a = app()
    const k = keeper(a.pgid, 200, 400)
    const line = `${keeperClockMs() + 2_000}\n`
    k.child.stdin!.write(line.slice(0, 4))
    await sleep(250) // past two of its 100 ms waits
    k.child.stdin!.write(line.slice(4))
    await sleep(600) // past the first deadline: renewed, so still there
    expect(a.alive()).toBe(true)
    await waitFor('the renewed deadline', () => !a.alive(), 5_000)
    expect(await k.exited).toBe(0)
  })

  it('at end of input (the monitor is gone) sends SIGTERM at once and SIGKILL after the stop timeout', async () => {
    const a = app()
    const k = keeper(a.pgid, 600, 60_000)
    await sleep(100)
    const closedAt = performance.now()
    k.child.stdin!.end()
    await waitFor('SIGTERM', () => existsSync(a.termFile), 2_000)
    // The app ignores SIGTERM (it only notes it): still there until the SIGKILL.
    expect(a.alive()).toBe(true)
    const goneAfterMs = await msUntil('the SIGKILL', closedAt, () => !a.alive())
    expect(goneAfterMs).toBeGreaterThanOrEqual(600 - 20)
    expect(goneAfterMs).toBeLessThan(600 + 1_000)
    expect(readFileSync(a.termFile, 'utf8')).toBe('term\n')
    expect(await k.exited).toBe(0)
  })

  it('at end of input never waits past the deadline', async () => {
    const a = app()
    const k = keeper(a.pgid, 60_000, 300)
    const closedAt = performance.now()
    k.child.stdin!.end()
    const goneAfterMs = await msUntil('the SIGKILL at the deadline', closedAt, () => !a.alive())
    expect(goneAfterMs).toBeLessThan(300 + 1_000)
    expect(await k.exited).toBe(0)
  })

  it('on "done" exits and leaves the group alone', async () => {
    const a = app()
    const k = keeper(a.pgid, 100, 300)
    k.child.stdin!.write('done\n')
    expect(await k.exited).toBe(0)
    await sleep(800) // well past its deadline
    expect(a.alive()).toBe(true)
    expect(existsSync(a.termFile)).toBe(false)
  })

  it('exits as soon as the group is gone', async () => {
    const a = app()
    const k = keeper(a.pgid, 100, 60_000)
    await sleep(100)
    const killedAt = performance.now()
    process.kill(-a.pgid, 'SIGKILL')
    await k.exited
    // Within a poll or two (100 ms each): the group id could be reused after that.
    expect(performance.now() - killedAt).toBeLessThan(1_000)
  })

  it('refuses group 0 and anything not a number, and signals nothing', async () => {
    const a = app()
    for (const args of [
      ['0', '100', '0'],
      ['x', '100', '0'],
      [String(a.pgid), '-5', '0'],
      [String(a.pgid)],
    ]) {
      const { child, exited } = track(
        spawn('/bin/bash', [leaseKeeperScript, ...args], {
          detached: true,
          stdio: 'ignore',
          env: process.env,
        }),
      )
      expect(await exited, `${args.join(' ')} (pid ${child.pid})`).toBe(2)
    }
    expect(a.alive()).toBe(true)
  })
})
