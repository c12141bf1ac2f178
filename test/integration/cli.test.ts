/** The CLI's contract (INTERFACE.md): exit codes, one-line errors, --json documents. */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import {
  cleanUp,
  cliMain,
  type RunningNode,
  runCli,
  startLab,
  tempDir,
  waitFor,
} from '../support/processes.ts'

let lab: RunningNode

beforeAll(async () => {
  lab = await startLab(join(tempDir(), 'data'))
})

afterAll(async () => {
  await cleanUp()
})

/** A loopback port nothing listens on: bound by us, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /)

describe('exit codes', () => {
  it('--version exits 0', async () => {
    const r = await runCli(['--version'])
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) })
  })

  it('an unknown command or bad flag is a usage error: 2', async () => {
    expect((await runCli(['statuz'])).code).toBe(2)
    const r = await runCli(['lab', '--api-port', 'nope'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/expected a TCP port/)
  })

  it('a cluster that cannot be reached is 3', async () => {
    const port = await closedPort()
    const r = await runCli(['status', '--api', `http://127.0.0.1:${port}`, '--token', 'x'])
    expect(r.code).toBe(3)
    expect(r.stderr).toBe(
      `geocluster: cannot reach the geocluster API at http://127.0.0.1:${port}: ECONNREFUSED\n`,
    )
  })

  it('a wrong token is refused (401) with exit 1, naming where the token came from', async () => {
    const r = await runCli(['status', '--api', lab.url, '--token', 'wrong'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/invalid admin token \(token from --token\)/)
  })

  it('reads the token from --data-dir', async () => {
    const r = await runCli(['status', '--api', lab.url, '--data-dir', lab.dataDir, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as StatusDocument
    expect(doc.cluster.quorum).toEqual({
      model: 'local',
      state: 'quorate',
      votesPresent: 1,
      votesTotal: 1,
      votesNeeded: 1,
      epoch: 0,
      forced: false,
      epochId: '',
      confirmed: true,
      conflict: null,
      rebuilding: false,
    })
    expect(doc.nodes).toEqual([{ name: 'lab-1', site: 'lab', state: 'up', votes: 1, maintenance: false }])
    expect(doc.witness).toBeNull()
  })

  it('bad input refused by the API is a usage error (2); a missing object is 1', async () => {
    const bad = await lab.cli(['resource', 'create', 'x', '--group', 'nope', '--type', 'bogus'])
    expect(bad.code).toBe(1) // the group does not exist: not found
    expect(bad.stderr).toBe('geocluster: no group nope (at body.group)\n')
    await lab.cli(['group', 'create', 'g'])
    const badType = await lab.cli(['resource', 'create', 'x', '--group', 'g', '--type', 'bogus'])
    expect(badType.code).toBe(2)
    expect(badType.stderr).toMatch(
      /unknown resource type bogus \(this build runs generic-app, generic-script, ip-address, network-name\)/,
    )
    const missing = await lab.cli(['group', 'delete', 'ghost'])
    expect(missing.code).toBe(1)
    noStack(missing.stderr)
  })
})

describe('topology files', () => {
  const cases: [string, string, RegExp][] = [
    [
      'missing field',
      'cluster:\n  name: x\nsites:\n  - name: a\n    nodes:\n      - { name: n1 }\n',
      /: quorum: required field is missing/,
    ],
    [
      'wrong type',
      'cluster:\n  name: x\nquorum:\n  model: local\nsites:\n  - name: a\n    nodes:\n      - { name: n1, votes: yes }\n',
      /: sites\[0\]\.nodes\[0\]\.votes: expected number, got 'yes' \(line 8\)/,
    ],
    [
      'duplicate node name',
      'cluster:\n  name: x\nquorum:\n  model: node-majority\nsites:\n  - name: a\n    nodes:\n' +
        '      - { name: n1, address: /ip4/127.0.0.1/tcp/7401, peerId: 12D3KooWHp9M1xVKEEDxJoaTrApWBiH3uqW5dMEvXWhxCPDtrGAe }\n' +
        '  - name: b\n    nodes:\n' +
        '      - { name: n1, address: /ip4/127.0.0.1/tcp/7402, peerId: 12D3KooWDJb8suaJozpQBZmMncQYYaPyvX6HErdcsXayVXN8PB13 }\n',
      /: sites\[1\]\.nodes\[0\]\.name: duplicate node name 'n1' \(first at sites\[0\]\.nodes\[0\]\.name\)/,
    ],
    [
      'unknown quorum model',
      'cluster:\n  name: x\nquorum:\n  model: majority\nsites:\n  - name: a\n    nodes:\n      - { name: n1 }\n',
      /: quorum\.model: expected one of local \| node-majority \| node-and-witness \| disk, got 'majority' \(line 4\)/,
    ],
  ]
  for (const [what, yaml, expected] of cases) {
    it(`${what}: exit 2 with file: field.path: problem`, async () => {
      const file = join(tempDir(), 'broken.yaml')
      writeFileSync(file, yaml)
      for (const args of [
        ['validate', '--config', file],
        ['node', 'start', '--config', file, '--node', 'n1', '--data-dir', join(tempDir(), 'd')],
      ]) {
        const r = await runCli(args)
        expect(r.code).toBe(2)
        expect(r.stderr).toMatch(new RegExp(`^${file}${expected.source}`))
        noStack(r.stderr)
      }
    })
  }

  it('the example topologies validate', async () => {
    for (const f of [
      'sites/lab.yaml',
      'sites/two-sites-witness.yaml',
      'sites/three-sites-majority.yaml',
      'sites/disk-three-nodes.yaml',
      'sites/two-sites-file-share.yaml',
      'sites/two-sites-cloud.yaml',
    ]) {
      const r = await runCli(['validate', '--config', f, '--json'])
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ valid: true })
    }
    const witness = await runCli(['validate', '--config', 'sites/two-sites-witness.yaml'])
    expect(witness.stdout).toMatch(/survives the loss of site: atlanta, phoenix, tiebreak; not of: none/)
    expect(witness.stdout).toMatch(
      /with the witness down too, survives the loss of site: none; not of: atlanta, phoenix/,
    )
    const json = JSON.parse(
      (await runCli(['validate', '--config', 'sites/disk-three-nodes.yaml', '--json'])).stdout,
    )
    expect(json.survives).toMatchObject({ model: 'disk', singleFailures: { n1: true, n2: true, n3: true } })
  })

  it('validate explains the timing: the fast profile, its fencing inequality and its failover time', async () => {
    // The example's explicit timing block replaced by the fast profile.
    const example = readFileSync('sites/two-sites-witness.yaml', 'utf8')
    const file = join(tempDir(), 'fast.yaml')
    writeFileSync(file, example.replace(/^timing:[\s\S]*?(?=^sites:)/m, 'timing: { profile: fast }\n'))
    const text = await runCli(['validate', '--config', file])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(
      /timing \(profile fast\): heartbeat 100 ms; a member is down after 5 silent beats in its site \(500 ms\), 5 across sites \(500 ms\); election timeout 500 ms/,
    )
    expect(text.stdout).toMatch(
      /after 1500 ms \(downAfterMs\) > fenceAfter \+ stopTimeout \+ margin = 1000 \+ 200 \+ 200 = 1400 ms/,
    )
    expect(text.stdout).toMatch(/unplanned failover \(kill -9 of an owner\): about 1\.5 s/)
    const json = JSON.parse((await runCli(['validate', '--config', file, '--json'])).stdout)
    expect(json.timing).toMatchObject({
      profile: 'fast',
      electionTimeoutMs: 500,
      fencing: { fenceAfterMs: 1000, downAfterMs: 1500 },
      fencedByMs: 1400,
    })
  })

  it('a multi-node node refuses to start without its cluster secret, naming the file', async () => {
    const r = await runCli([
      'node',
      'start',
      '--config',
      'sites/two-sites-witness.yaml',
      '--node',
      'atl-1',
      '--data-dir',
      join(tempDir(), 'd'),
    ])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/sites\/demo\.psk: cannot read the cluster secret: ENOENT/)
    noStack(r.stderr)
  })
})

describe('status --watch', () => {
  it('redraws the status with what the cluster can lose now and the latest events; Ctrl-C ends it', async () => {
    const child = spawn(
      process.execPath,
      [cliMain, 'status', '--watch', '--interval', '0.3', '--api', lab.url, '--token', lab.token],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      await waitFor('a first screen', () => (out.includes('can lose now') ? true : undefined))
      expect((await lab.cli(['group', 'create', 'watched'])).code).toBe(0)
      await waitFor('the new group on a later screen', () =>
        out.split('\n----\n').some((screen) => /^watched +offline/m.test(screen)) ? true : undefined,
      )
    } finally {
      child.kill('SIGINT')
    }
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code).toBe(0)
    const screens = out.split('\n----\n').filter((x) => x.trim() !== '')
    expect(screens.length).toBeGreaterThanOrEqual(2)
    expect(screens.at(-1)).toMatch(/^geocluster status --watch: every 0\.3 s via lab-1/)
    // The lab's one node is its one vote: it cannot be lost.
    expect(screens.at(-1)).toMatch(/can lose now and stay quorate: nobody; not: lab-1/)
    expect(screens.at(-1)).toMatch(/latest events:\n {2}\d\d:\d\d:\d\d /)
  })
})

describe('events --audit', () => {
  it('lists every change to the cluster database with who made it and when', async () => {
    const before = Date.now()
    expect((await lab.cli(['config', 'set', 'audit/one', '1'])).code).toBe(0)
    expect((await lab.cli(['group', 'delete', 'no-such-group'])).code).toBe(1)
    const r = await lab.cli(['events', '--audit', '--json', '--limit', '5'])
    expect(r.code, r.stderr).toBe(0)
    const entries = JSON.parse(r.stdout).entries as {
      by: string
      at: number
      op: string
      subject: string
      ok: boolean
    }[]
    const set = entries.find((e) => e.op === 'config.set' && e.subject === 'audit/one')
    expect(set).toMatchObject({ by: 'admin@lab-1', ok: true })
    expect(set!.at).toBeGreaterThanOrEqual(before - 1_000)
    // The bootstrap was the node's own doing; refusals are in the trail too.
    const all = JSON.parse((await lab.cli(['events', '--audit', '--json', '--limit', '5000'])).stdout)
      .entries as {
      by: string
      op: string
      ok: boolean
    }[]
    expect(all[0]).toMatchObject({ op: 'cluster.bootstrap', by: 'node:lab-1', ok: true })
    const human = await lab.cli(['events', '--audit', '--limit', '2'])
    expect(human.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ #\d+ admin@lab-1 +config\.set audit\/one \(ok\)\n/)
    expect(human.stdout).toMatch(/#\d+ admin@lab-1 +group\.delete no-such-group \(refused: [^)]+\)\n$/)
    expect((await lab.cli(['events', '--audit', '--follow'])).code).toBe(2)
  })
})

describe('events --follow', () => {
  it('streams new events as one JSON object per line', async () => {
    const child = spawn(
      process.execPath,
      [cliMain, 'events', '--follow', '--json', '--limit', '1', '--api', lab.url, '--token', lab.token],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    try {
      await waitFor('the backlog line', () => out.includes('\n'))
      await lab.cli(['config', 'set', 'follow/me', 'yes'])
      const line = await waitFor('the live event', () =>
        out.split('\n').find((l) => l.includes('config.set follow/me')),
      )
      expect(JSON.parse(line)).toMatchObject({
        type: 'database:changed',
        node: 'lab-1',
        message: 'config.set follow/me',
      })
      for (const l of out.split('\n').filter((x) => x !== '')) expect(() => JSON.parse(l)).not.toThrow()
    } finally {
      child.kill('SIGINT')
    }
  })
})

describe('--json', () => {
  it('prints exactly one JSON document for data commands', async () => {
    await lab.cli(['config', 'set', 'x/y', 'hello world'])
    for (const args of [
      ['config', 'get', 'x/y', '--json'],
      ['config', 'list', '--json'],
      ['group', 'list', '--json'],
      ['resource', 'list', '--json'],
      ['node', 'list', '--json'],
      ['events', '--json', '--limit', '5'],
      ['status', '--json'],
    ]) {
      const r = await lab.cli(args)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      expect(() => JSON.parse(r.stdout), args.join(' ')).not.toThrow()
    }
    const got = JSON.parse((await lab.cli(['config', 'get', 'x/y', '--json'])).stdout) as { value: string }
    expect(got.value).toBe('hello world')
  })
})
