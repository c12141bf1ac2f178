/**
 * Alerts on a real lab (issue 15, item 5): a webhook receiver on loopback that fails at first
 * gets the event once it answers (retries with backoff); a script gets the event on stdin and
 * in GEOCLUSTER_EVENT_* variables; a receiver that never answers costs bounded attempts, each
 * cut off at the alert's timeout, and the given-up delivery is an event — which no alert gets.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterEvent } from '../../src/events/clusterEvent.ts'
import { cleanUp, jsonOf, type RunningNode, startLab, tempDir, waitFor } from '../support/processes.ts'

interface Received {
  contentType: string | undefined
  event: ClusterEvent
}

/** An HTTP receiver on 127.0.0.1 at a free port; `answer` decides each request's fate. */
async function receiver(
  answer: (event: ClusterEvent, res: ServerResponse) => void,
): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => {
      body += d
    })
    req.on('end', () => {
      const event = JSON.parse(body) as ClusterEvent
      got.push({ contentType: req.headers['content-type'], event })
      answer(event, res)
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  servers.push(server)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server }
}

const servers: Server[] = []
let lab: RunningNode

beforeAll(async () => {
  lab = await startLab(join(tempDir(), 'data'))
}, 60_000)

afterAll(async () => {
  await cleanUp()
  for (const s of servers) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

const eventsOf = async () =>
  jsonOf<{ events: ClusterEvent[] }>(await lab.cli(['events', '--json', '--limit', '1000'])).events

describe('alerts', () => {
  it('a webhook that fails twice gets the event on the third attempt', async () => {
    const tries = new Map<string, number>()
    const flaky = await receiver((event, res) => {
      const n = (tries.get(event.message) ?? 0) + 1
      tries.set(event.message, n)
      res.statusCode = n <= 2 ? 503 : 200
      res.end()
    })
    const add = await lab.cli([
      'alert',
      'add',
      'flaky',
      '--webhook',
      flaky.url,
      '--events',
      'database:changed',
      '--attempts',
      '4',
      '--json',
    ])
    expect(add.code, add.stderr).toBe(0)
    expect(jsonOf(add)).toMatchObject({ name: 'flaky', to: { kind: 'webhook', url: flaky.url }, attempts: 4 })
    expect((await lab.cli(['config', 'set', 'flaky-key', '1'])).code).toBe(0)
    const mine = (r: Received) => r.event.message === 'config.set flaky-key'
    await waitFor('the third attempt', () => flaky.got.filter(mine).length >= 3, 20_000)
    const posts = flaky.got.filter(mine)
    expect(posts).toHaveLength(3)
    for (const p of posts) {
      expect(p.contentType).toBe('application/json')
      expect(p.event).toMatchObject({ type: 'database:changed', node: 'lab-1', severity: 'info' })
      expect(p.event.seq).toBe(posts[0]!.event.seq)
    }
    const list = jsonOf<{ alerts: { name: string; deliveries: { delivered: number; failed: number } }[] }>(
      await lab.cli(['alert', 'list', '--json']),
    )
    const deliveries = list.alerts.find((a) => a.name === 'flaky')?.deliveries
    expect(deliveries?.failed).toBe(0)
    expect(deliveries?.delivered).toBeGreaterThanOrEqual(1)
    expect((await lab.cli(['alert', 'delete', 'flaky'])).code).toBe(0)
  }, 60_000)

  it('a script gets the event as JSON on stdin and GEOCLUSTER_EVENT_* variables', async () => {
    const dir = tempDir()
    const script = join(dir, 'alert.sh')
    writeFileSync(
      script,
      `#!/bin/sh\ncat > "${dir}/$GEOCLUSTER_EVENT_SEQ.json"\nenv > "${dir}/$GEOCLUSTER_EVENT_SEQ.env"\n`,
    )
    chmodSync(script, 0o755)
    const add = await lab.cli(['alert', 'add', 'notes', '--script', script, '--events', 'database:changed'])
    expect(add.code, add.stderr).toBe(0)
    expect((await lab.cli(['config', 'set', 'script-key', '1'])).code).toBe(0)
    const seq = await waitFor('the script to run for the config change', () => {
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) {
        const text = readFileSync(join(dir, f), 'utf8')
        const seq = f.slice(0, -'.json'.length)
        if (text.includes('config.set script-key') && existsSync(join(dir, `${seq}.env`))) return seq
      }
      return undefined
    })
    const stdin = JSON.parse(readFileSync(join(dir, `${seq}.json`), 'utf8')) as ClusterEvent
    expect(stdin).toMatchObject({ seq: Number(seq), type: 'database:changed', node: 'lab-1' })
    const env = await waitFor('the script’s environment', () => {
      const text = readFileSync(join(dir, `${seq}.env`), 'utf8')
      return text.includes('GEOCLUSTER_ALERT=') ? text : undefined
    })
    for (const pair of [
      'GEOCLUSTER_ALERT=notes',
      'GEOCLUSTER_EVENT_TYPE=database:changed',
      'GEOCLUSTER_EVENT_SEVERITY=info',
      'GEOCLUSTER_EVENT_NODE=lab-1',
      'GEOCLUSTER_EVENT_MESSAGE=config.set script-key',
      `GEOCLUSTER_EVENT_SEQ=${seq}`,
    ])
      expect(env).toContain(`${pair}\n`)
    // A clean environment: not the node's, which could hold its admin token.
    expect(env).not.toContain(lab.token)
    expect((await lab.cli(['alert', 'remove', 'notes'])).code).toBe(0)
  }, 60_000)

  it('a receiver that never answers: bounded attempts cut off at the timeout, reported once, not alerted on', async () => {
    const silent = await receiver(() => {
      // never answers
    })
    const add = await lab.cli([
      'alert',
      'add',
      'silent',
      '--webhook',
      silent.url,
      '--events',
      'database:changed',
      '--timeout-s',
      '1',
      '--attempts',
      '2',
    ])
    expect(add.code, add.stderr).toBe(0)
    expect((await lab.cli(['config', 'set', 'silent-key', '1'])).code).toBe(0)
    const failed = await waitFor(
      'the delivery to be given up',
      async () => {
        const events = await eventsOf()
        const change = events.find((e) => e.message === 'config.set silent-key')
        return events.find(
          (e) => e.type === 'alert:failed' && e.data?.alert === 'silent' && e.data.event === change?.seq,
        )
      },
      30_000,
      200,
    )
    expect(failed.severity).toBe('warning')
    expect(failed.message).toMatch(
      /alert silent could not deliver event \d+ \(database:changed\) after 2 attempt\(s\): no answer within 1000 ms/,
    )
    // The node went on serving meanwhile.
    expect((await lab.cli(['status', '--json'])).code).toBe(0)
    const forSilentKey = silent.got.filter((r) => r.event.message === 'config.set silent-key')
    expect(forSilentKey).toHaveLength(2)
    expect(silent.got.some((r) => r.event.type.startsWith('alert:'))).toBe(false)
    expect((await lab.cli(['alert', 'delete', 'silent'])).code).toBe(0)
  }, 60_000)

  it('refuses what is not an alert, with the field that is wrong', async () => {
    const both = await lab.cli([
      'alert',
      'add',
      'x',
      '--script',
      '/bin/true',
      '--webhook',
      'http://127.0.0.1:1/',
    ])
    expect(both).toMatchObject({
      code: 2,
      stderr: 'geocluster: give either --script PATH or --webhook URL\n',
    })
    const file = await lab.cli(['alert', 'add', 'x', '--webhook', 'file:///etc/passwd'])
    expect(file.code).toBe(2)
    expect(file.stderr).toMatch(/body\.webhook: expected http:\/\/ or https:\/\/, not file:/)
    const relative = await lab.cli(['alert', 'add', 'x', '--script', 'alert.sh'])
    expect(relative.code).toBe(2)
    expect(relative.stderr).toMatch(/body\.script: expected the absolute path of an executable/)
    const kind = await lab.cli([
      'alert',
      'add',
      'x',
      '--script',
      '/bin/true',
      '--events',
      'resource:exploded',
    ])
    expect(kind.code).toBe(2)
    expect(kind.stderr).toMatch(/unknown event kind resource:exploded/)
    const missing = await lab.cli(['alert', 'delete', 'ghost'])
    expect(missing.code).toBe(1)
    expect(jsonOf<{ alerts: unknown[] }>(await lab.cli(['alert', 'list', '--json'])).alerts).toEqual([])
  }, 60_000)
})
