/**
 * npm run chaos -- --minutes M [--seed S] [--profile fast] [--json]: a Jepsen-style run over real processes. A
 * 2 sites × 2 nodes + witness cluster behind the WAN emulator (25 ms one way between sites) takes
 * a workload of config writes, linearizable reads and group moves from four clients, while a
 * nemesis (seeded) partitions it every way the emulator can — halves, one node, a site split with
 * the witness as the bridge, one-way cuts — kills nodes with SIGKILL and restarts them, and pauses
 * them with SIGSTOP/SIGCONT, and steps their wall clocks by ±10–120 s. Then every fault is healed and the checkers run, each saying how much
 * it checked:
 *   linearizability per config key (WGL search, test/sim/linearizability.ts);
 *   no acknowledged write lost (a key's final value is never older than an acknowledged write);
 *   probe runs of different owners never overlap; fencing tokens only grow.
 * Ends with `chaos: <ops> ops, <faults> faults, <n> violations`; on a violation the history and
 * the seed are kept in test-results/. Wall clocks jump too (libfaketime, per member).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createGroup, leaderView, now, sleep } from '../bench/benchCluster.ts'
import { checkLinearizable, type HistoryOp } from '../sim/linearizability.ts'
import { Prng } from '../sim/prng.ts'
import { destroyGeoClusters, GeoCluster, twoByTwoWithWitness } from '../support/geoCluster.ts'
import { episodes, overlaps, readProbe, tokensIncrease } from '../support/probeLog.ts'
import { cleanUp, repoRoot } from '../support/processes.ts'
import { lostWrites } from './lostWrites.ts'

const argv = process.argv.slice(2)
const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined)
const minutes = Number(arg('--minutes') ?? 10)
const seed = Number(arg('--seed') ?? Math.floor(Math.random() * 2 ** 31))
const asJson = argv.includes('--json')
/** `--profile fast`: the fast timing profile (timingProfiles.ts) under the same nemesis. */
const profile = arg('--profile') === 'fast' ? 'fast' : 'default'
const say = (s: string) => {
  if (!asJson) process.stderr.write(`${s}\n`)
}

const keys = ['a', 'b', 'c', 'd']

/**
 * Wall-clock jumps: every member runs under libfaketime (Debian's faketime, installed here when
 * missing) reading its offset from a file, so the nemesis can move a node's wall clock while it
 * runs; monotonic clocks are left alone (DONT_FAKE_MONOTONIC), as real clock steps leave them.
 */
const libfaketime = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1'
function ensureFaketime(): boolean {
  if (existsSync(libfaketime)) return true
  if (process.getuid?.() !== 0) return false
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'faketime'], {
      stdio: 'ignore',
      env,
      timeout: 180_000,
    })
  } catch {
    return false
  }
  return existsSync(libfaketime)
}
const clockDir = mkdtempSync(join(tmpdir(), 'gc-chaos-clock-'))
const clockFile = (name: string) => join(clockDir, `${name}.faketime`)
const setClock = (name: string, offset: string) => writeFileSync(clockFile(name), `${offset}\n`)
const clients = 4
const callTimeoutMs = 5_000

interface Fault {
  name: string
  /** Injects the fault; returns whom it hit (for the log) and how to heal it. */
  apply(
    c: GeoCluster,
    pick: <T>(xs: T[]) => T,
    random: () => number,
  ): Promise<{ on: string; heal: () => Promise<void> }>
}

const faults: Fault[] = [
  {
    name: 'partition: the sites in halves (atl | phx + witness)',
    async apply(c) {
      c.wan.cut(['atl'], ['phx', 'tie'])
      return { on: 'atl | phx tie', heal: async () => c.wan.restore() }
    },
  },
  {
    name: 'partition: one node alone',
    async apply(c, pick) {
      const n = pick(c.names())
      c.wan.cut(
        [n],
        c.names('all').filter((x) => x !== n),
      )
      return { on: n, heal: async () => c.wan.restore() }
    },
  },
  {
    name: 'partition: site split, the witness bridging',
    async apply(c) {
      c.wan.cut(['atl'], ['phx'])
      return { on: 'atl | phx', heal: async () => c.wan.restore() }
    },
  },
  {
    name: 'partition: one way (a node cannot send to the rest)',
    async apply(c, pick) {
      const n = pick(c.names())
      c.wan.cut(
        [n],
        c.names('all').filter((x) => x !== n),
        { oneWay: true },
      )
      return { on: n, heal: async () => c.wan.restore() }
    },
  },
  {
    name: 'kill -9 a node, restart it',
    async apply(c, pick) {
      const n = pick(c.names().filter((x) => c.member(x).proc !== null))
      await c.kill(n)
      return {
        on: n,
        heal: async () => {
          await c.start(n)
        },
      }
    },
  },
  {
    name: "clock jump: a member's wall clock steps forward or back",
    async apply(c, pick, random) {
      const n = pick(c.names('all'))
      const seconds = (pick([-1, 1]) as number) * (10 + Math.floor(random() * 110))
      setClock(n, `${seconds >= 0 ? '+' : ''}${seconds}s`)
      return { on: `${n} ${seconds >= 0 ? '+' : ''}${seconds} s`, heal: async () => setClock(n, '+0s') }
    },
  },
  {
    name: 'SIGSTOP a node, SIGCONT',
    async apply(c, pick) {
      const n = pick(c.names().filter((x) => c.member(x).proc !== null))
      await c.kill(n, 'SIGSTOP')
      return {
        on: n,
        heal: async () => {
          await c.kill(n, 'SIGCONT')
        },
      }
    },
  },
]

async function call(
  c: GeoCluster,
  node: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown } | null> {
  const m = c.member(node)
  if (m.proc === null || m.url === null) return null
  try {
    const res = await fetch(`${m.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${c.token(node)}`, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(callTimeoutMs),
    })
    return { status: res.status, body: await res.json().catch(() => null) }
  } catch {
    return null
  }
}

async function main() {
  const prng = new Prng(seed)
  const random = () => prng.next()
  const pick = <T>(xs: T[]): T => prng.pick(xs)
  say(`chaos: seed ${seed}, ${minutes} minute(s), timing profile ${profile}`)
  const faketime = ensureFaketime()
  if (!faketime) say('  (libfaketime is not available: no clock jumps in this run)')
  const c = await GeoCluster.create({
    ...twoByTwoWithWitness,
    ...(profile === 'fast'
      ? { timingProfile: 'fast' as const }
      : { heartbeatMs: 100, sameSiteThreshold: 10, crossSiteThreshold: 10 }),
    ...(faketime
      ? {
          env: (name: string) => {
            setClock(name, '+0s')
            return {
              LD_PRELOAD: libfaketime,
              FAKETIME_TIMESTAMP_FILE: clockFile(name),
              FAKETIME_NO_CACHE: '1',
              DONT_FAKE_MONOTONIC: '1',
            }
          },
        }
      : {}),
  })
  const usable = faketime ? faults : faults.filter((f) => !f.name.startsWith('clock'))
  const history: HistoryOp[] = []
  let faultCount = 0
  let moves = 0
  let ok = true
  try {
    for (const [a, b] of [
      ['atl', 'phx'],
      ['atl', 'tie'],
      ['phx', 'tie'],
    ] as const)
      c.wan.setLatency(a, b, { oneWayMs: 25, jitterMs: 2 })
    await c.startAll()
    await c.waitQuorate(c.names(), 30_000)
    const probeFile = join(c.dir, 'chaos.probe')
    await createGroup(c, 'chaos', c.names(), probeFile)
    const startedAt = now()
    const deadline = startedAt + minutes * 60_000
    let nextId = 0
    let seq = 0

    const client = async (id: number) => {
      const own = new Prng(seed + 1 + id)
      const r = () => own.next()
      while (now() < deadline) {
        const node = c.names()[Math.floor(r() * c.names().length)]!
        const key = keys[Math.floor(r() * keys.length)]!
        const roll = r()
        if (roll < 0.05) {
          const to = c.names()[Math.floor(r() * c.names().length)]!
          const res = await call(c, node, 'POST', '/v1/groups/chaos/move', { to })
          if (res?.status === 202) moves++
          continue
        }
        const op: HistoryOp =
          roll < 0.6
            ? {
                id: nextId++,
                client: id,
                op: { kind: 'write', key, value: `${id}-${seq++}` },
                invokedAt: now(),
              }
            : { id: nextId++, client: id, op: { kind: 'read', key }, invokedAt: now() }
        history.push(op)
        const res =
          op.op.kind === 'write'
            ? await call(c, node, 'PUT', `/v1/config/chaos/${key}`, { value: op.op.value })
            : await call(c, node, 'GET', `/v1/config/chaos/${key}`)
        if (res === null) {
          // No answer: a write may or may not have happened; a read had no effect.
          if (op.op.kind === 'read') op.failed = true
        } else if (op.op.kind === 'read') {
          if (res.status === 200) {
            op.returnedAt = now()
            op.result = (res.body as { value: string }).value
          } else if (res.status === 404) {
            op.returnedAt = now()
            op.result = null
          } else op.failed = true
        } else if (res.status === 200) op.returnedAt = now()
        else if (res.status >= 400 && res.status < 500) op.failed = true
        // A 5xx write (no quorum, leadership changed) may still commit: indeterminate.
        await sleep(Math.floor(r() * 50))
      }
    }

    const nemesis = async () => {
      while (now() < deadline - 20_000) {
        await sleep(4_000 + random() * 6_000)
        if (now() >= deadline - 20_000) break
        const f = pick(usable)
        faultCount++
        const { on, heal } = await f.apply(c, pick, random)
        say(`  fault ${faultCount} (${((now() - startedAt) / 1000).toFixed(0)} s): ${f.name}: ${on}`)
        await sleep(3_000 + random() * 5_000)
        await heal()
      }
    }

    await Promise.all([...Array.from({ length: clients }, (_, i) => client(i)), nemesis()])
    // Heal everything, bring every node back, and read every key once more.
    c.wan.restore()
    for (const n of c.names()) if (c.member(n).proc === null) await c.start(n)
    await c.waitQuorate(c.names(), 60_000)
    const leader = (await leaderView(c)).cluster.leader!
    for (const key of keys) {
      const op: HistoryOp = { id: nextId++, client: clients, op: { kind: 'read', key }, invokedAt: now() }
      history.push(op)
      const res = await call(c, leader, 'GET', `/v1/config/chaos/${key}`)
      if (res?.status === 200) {
        op.returnedAt = now()
        op.result = (res.body as { value: string }).value
      } else if (res?.status === 404) {
        op.returnedAt = now()
        op.result = null
      } else op.failed = true
    }
    await sleep(1_000)

    // ---- checkers ----
    const lin = checkLinearizable(history)
    const kept = lostWrites(history, history.slice(-keys.length))
    const lost = kept.lost.length
    const eps = episodes(readProbe(probeFile))
    const overlapping = overlaps(eps)
    const tokensOk = tokensIncrease(eps)
    const violations =
      (lin.ok ? 0 : 1) +
      lost +
      overlapping.length +
      (tokensOk ? 0 : 1) +
      (lin.budgetExceeded === true ? 1 : 0)
    ok = violations === 0
    const report = {
      seed,
      minutes,
      ops: history.length,
      moves,
      faults: faultCount,
      violations,
      checkers: {
        linearizability: {
          checked: lin.checkedOps,
          keys: keys.length,
          ok: lin.ok,
          counterexample: lin.counterexample ?? null,
        },
        acknowledgedWritesKept: { checked: kept.checked, lost: kept.lost },
        probeRunsNeverOverlap: { checked: eps.length, overlaps: overlapping.length },
        fencingTokensOnlyGrow: { checked: eps.length, ok: tokensOk },
      },
    }
    if (!ok) keep({ report, history, probe: eps })
    if (asJson) process.stdout.write(`${JSON.stringify(report)}\n`)
    else {
      say(
        `  linearizability: ${lin.checkedOps} operations checked over ${keys.length} keys: ${lin.ok ? 'ok' : `VIOLATION ${lin.counterexample?.message ?? '(budget exceeded)'}`}`,
      )
      say(
        `  acknowledged writes kept: ${kept.checked} checked, ${lost} lost${lost > 0 ? ` (keys ${kept.lost.join(', ')})` : ''}`,
      )
      say(`  probe runs never overlap: ${eps.length} runs checked, ${overlapping.length} overlaps`)
      say(`  fencing tokens only grow: ${eps.length} runs checked: ${tokensOk ? 'ok' : 'VIOLATION'}`)
      process.stdout.write(`chaos: ${history.length} ops, ${faultCount} faults, ${violations} violations\n`)
    }
  } catch (error) {
    // The run could not finish (a member never came back, say): say why, keep what it left.
    ok = false
    say(`chaos: the run failed: ${(error as Error).message}`)
    keep({ error: (error as Error).message, history })
    if (asJson)
      process.stdout.write(`${JSON.stringify({ seed, minutes, error: (error as Error).message })}\n`)
  } finally {
    await destroyGeoClusters()
    const outlived = await cleanUp()
    if (outlived.length > 0) {
      ok = false
      say(`chaos: ${outlived.length} process(es) outlived the run (killed now):`)
      for (const p of outlived) say(`  pid ${p.pid}: ${p.command}`)
    }
    rmSync(clockDir, { recursive: true, force: true })
  }
  if (!ok) process.exitCode = 1

  /** Keeps the history, the report and every member's logs in test-results/chaos-<seed>/. */
  function keep(what: Record<string, unknown>): void {
    const dir = join(repoRoot, 'test-results', `chaos-${seed}`)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'history.json'), JSON.stringify(what, null, 1))
    c.keepLogs(dir)
    say(`  history and every member's logs kept in ${dir}; rerun with --seed ${seed}`)
  }
}

await main()
