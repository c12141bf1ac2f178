/**
 * A virtual server in the lab: an `ip-address` on the loopback interface (`ip addr`, a loopback
 * alias) and a `network-name` the node's name responder answers over DNS with that address
 * while the group is online. Where the host forbids changing interfaces, the resource fails and
 * says so.
 */
import { execFileSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as dns from '@leichtgewicht/dns-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanUp, type RunningNode, startLab, tempDir, waitFor } from '../support/processes.ts'

const vip = '127.0.99.7'
let lab: RunningNode
let dnsPort: number

const onLoopback = () =>
  execFileSync('ip', ['-o', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }).includes(`${vip}/32`)

/** May this process add addresses (root or CAP_NET_ADMIN)? */
function mayChangeInterfaces(): boolean {
  try {
    execFileSync('ip', ['addr', 'add', '127.0.99.254/32', 'dev', 'lo'], { stdio: 'ignore' })
    execFileSync('ip', ['addr', 'del', '127.0.99.254/32', 'dev', 'lo'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

async function query(name: string, type: 'A' | 'AAAA' = 'A', port = dnsPort): Promise<dns.Packet> {
  const socket = createSocket('udp4')
  try {
    const reply = new Promise<Buffer>((resolve) => socket.once('message', (m) => resolve(m)))
    socket.send(
      dns.encode({ type: 'query', id: 7, flags: dns.RECURSION_DESIRED, questions: [{ type, name }] }),
      port,
      '127.0.0.1',
    )
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('no DNS answer')), 3_000),
    )
    return dns.decode(await Promise.race([reply, timeout]))
  } finally {
    socket.close()
  }
}

beforeAll(async () => {
  lab = await startLab(join(tempDir(), 'data'), ['--dns-port', '0'])
  const m = await waitFor(
    'the name responder',
    () => /"port":(\d+),"msg":"name responder listening/.exec(lab.output()) ?? undefined,
  )
  dnsPort = Number(m[1])
}, 60_000)

afterAll(async () => {
  await cleanUp()
  try {
    execFileSync('ip', ['addr', 'del', `${vip}/32`, 'dev', 'lo'], { stdio: 'ignore' })
  } catch {
    // Not there: the group took it away, as it should.
  }
})

describe('a virtual server (ip-address + network-name)', () => {
  it('adds the address and answers the name while online; removes and withdraws them offline', async () => {
    const ok = (r: { status: number; body: unknown }) =>
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
    ok(await lab.api('POST', '/v1/groups', { name: 'vs' }))
    ok(
      await lab.api('POST', '/v1/resources', {
        name: 'vs-ip',
        group: 'vs',
        type: 'ip-address',
        params: { address: `${vip}/32`, interface: 'lo' },
      }),
    )
    ok(
      await lab.api('POST', '/v1/resources', {
        name: 'vs-name',
        group: 'vs',
        type: 'network-name',
        params: { name: 'web.lab.test' },
        dependsOn: ['vs-ip'],
      }),
    )
    // Unknown to the cluster: NXDOMAIN, authoritative.
    const unknown = await query('nothing.lab.test')
    expect(unknown.rcode).toBe('NXDOMAIN')
    expect(unknown.flag_aa).toBe(true)
    // Known but not online: no address.
    expect((await query('web.lab.test')).answers).toEqual([])
    ok(await lab.api('POST', '/v1/groups/vs/online', {}))

    if (!mayChangeInterfaces()) {
      // The host forbids it: the address resource fails, saying why.
      const failed = await waitFor('vs-ip failed', async () => {
        const s = (
          await lab.api<{ groups: { resources: { name: string; failure: string | null }[] }[] }>(
            'GET',
            '/v1/status',
          )
        ).body
        return s.groups[0]?.resources.find((r) => r.name === 'vs-ip')?.failure ?? undefined
      })
      expect(failed).toMatch(/the host forbids it/)
      return
    }
    await waitFor('the address on lo', () => onLoopback())
    await waitFor('the name answered', async () => (await query('web.lab.test')).answers?.length === 1)
    const a = await query('WEB.lab.test.')
    expect(a.answers).toEqual([expect.objectContaining({ type: 'A', data: vip, ttl: 5 })])
    expect((await query('web.lab.test', 'AAAA')).answers).toEqual([])

    ok(await lab.api('POST', '/v1/groups/vs/offline', {}))
    await waitFor('the address gone', () => !onLoopback())
    await waitFor('the name withdrawn', async () => (await query('web.lab.test')).answers?.length === 0)
  }, 60_000)

  it('fails clearly where the host forbids changing interfaces', async () => {
    // An `ip` that answers as a host without CAP_NET_ADMIN does.
    const bin = tempDir('gc-fake-ip-')
    writeFileSync(
      join(bin, 'ip'),
      '#!/bin/sh\ncase "$*" in *show*) exit 0;; esac\necho "RTNETLINK answers: Operation not permitted" >&2\nexit 2\n',
      { mode: 0o755 },
    )
    const denied = await startLab(join(tempDir(), 'data'), [], {
      env: { PATH: `${bin}:${process.env.PATH}` },
    })
    const ok = (r: { status: number; body: unknown }) =>
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
    ok(await denied.api('POST', '/v1/groups', { name: 'vs' }))
    ok(
      await denied.api('POST', '/v1/resources', {
        name: 'vs-ip',
        group: 'vs',
        type: 'ip-address',
        params: { address: '10.9.9.9/24', interface: 'eth0' },
        restartThreshold: 0,
      }),
    )
    ok(await denied.api('POST', '/v1/groups/vs/online', {}))
    const failure = await waitFor('vs-ip failed', async () => {
      const s = (
        await denied.api<{ groups: { resources: { failure: string | null }[] }[] }>('GET', '/v1/status')
      ).body
      return s.groups[0]?.resources[0]?.failure ?? undefined
    })
    expect(failure).toMatch(
      /ip addr add 10\.9\.9\.9\/24 dev eth0: the host forbids it \(RTNETLINK answers: Operation not permitted\): run the node as root or with CAP_NET_ADMIN/,
    )
  }, 60_000)

  it("per-site addresses: brings up its site's address, announces it, and the name answers with it", async () => {
    // Stand-ins for `ip` and `arping` that record their calls and touch no interface: nothing
    // leaves the host, whatever it has installed (ndsend is shadowed too).
    const bin = tempDir('gc-fake-net-')
    const calls = join(bin, 'calls')
    const added = join(bin, 'added')
    writeFileSync(
      join(bin, 'ip'),
      `#!/bin/sh\necho "ip $*" >> ${calls}\ncase "$*" in\n  *show*) [ -f ${added} ] && echo "2: eth9    inet $(cat ${added}) scope global eth9"; exit 0;;\n  "addr add "*) echo "$3" > ${added};;\n  "addr del "*) rm -f ${added};;\nesac\nexit 0\n`,
      { mode: 0o755 },
    )
    for (const tool of ['arping', 'ndsend'])
      writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> ${calls}\nexit 0\n`, { mode: 0o755 })
    const geo = await startLab(join(tempDir(), 'data'), ['--dns-port', '0'], {
      env: { PATH: `${bin}:${process.env.PATH}` },
    })
    const port = Number(
      (
        await waitFor(
          'the name responder',
          () => /"port":(\d+),"msg":"name responder listening/.exec(geo.output()) ?? undefined,
        )
      )[1],
    )
    const ok = (r: { status: number; body: unknown }) =>
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300)
    ok(await geo.api('POST', '/v1/groups', { name: 'geo' }))
    ok(
      await geo.api('POST', '/v1/resources', {
        name: 'geo-ip',
        group: 'geo',
        type: 'ip-address',
        // The lab's node is at site `lab`.
        params: { addresses: 'lab=10.77.0.5/24,elsewhere=10.78.0.5/24', interface: 'eth9' },
      }),
    )
    ok(
      await geo.api('POST', '/v1/resources', {
        name: 'geo-name',
        group: 'geo',
        type: 'network-name',
        params: { name: 'geo.lab.test' },
        dependsOn: ['geo-ip'],
      }),
    )
    ok(await geo.api('POST', '/v1/groups/geo/online', {}))
    await waitFor('the announcement', () =>
      existsSync(calls) && readFileSync(calls, 'utf8').includes('arping') ? true : undefined,
    )
    const lines = readFileSync(calls, 'utf8').split('\n')
    expect(lines).toContain('ip addr add 10.77.0.5/24 dev eth9')
    expect(lines).toContain('arping -U -c 1 -I eth9 10.77.0.5')
    expect(lines.join('\n')).not.toMatch(/10\.78\.0\.5/)
    const events = await waitFor('the address:announced event', async () => {
      const r = await geo.cli(['events', '--json'])
      return r.stdout.includes('address:announced') ? r.stdout : undefined
    })
    expect(events).toMatch(/10\.77\.0\.5\/24 announced on eth9 \(arping -U -c 1 -I eth9 10\.77\.0\.5\)/)
    await waitFor(
      'the name answered',
      async () => (await query('geo.lab.test', 'A', port)).answers?.length === 1,
    )
    expect((await query('geo.lab.test', 'A', port)).answers).toEqual([
      expect.objectContaining({ type: 'A', data: '10.77.0.5' }),
    ])
    ok(await geo.api('POST', '/v1/groups/geo/offline', {}))
    await waitFor('the address removed', () => (existsSync(added) ? undefined : true))
  }, 60_000)

  it('refuses bad parameters with the parameter and the problem', async () => {
    const r = await lab.api<{ error: { message: string; path: string } }>('POST', '/v1/resources', {
      name: 'bad-ip',
      group: 'vs',
      type: 'ip-address',
      params: { address: '10.0.0.300/24', interface: 'eth0' },
    })
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({
      message: "'10.0.0.300' is not an IP address",
      path: expect.stringMatching(/address$/),
    })
  })
})
