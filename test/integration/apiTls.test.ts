/**
 * The admin API off loopback (issue: hardening): TLS with a certificate generated in the data
 * dir, its fingerprint printed at start and pinned by the CLI; a client that does not trust it
 * sends nothing; validate --live reports each node's API and its TLS.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, runCli } from '../support/processes.ts'

let c: GeoCluster
let fingerprint: string

beforeAll(async () => {
  c = await GeoCluster.create({ sites: [{ name: 'dc', nodes: 3 }] })
  await Promise.all([c.start('dc-1', ['--api-tls-self-signed']), c.start('dc-2'), c.start('dc-3')])
  fingerprint = /TLS: +sha256 ([0-9A-F:]{95})/.exec(c.member('dc-1').output)![1]!
  await c.waitQuorate(['dc-2', 'dc-3'])
}, 90_000)

afterAll(async () => {
  await destroyGeoClusters()
  await cleanUp()
})

const tlsDir = () => join(c.member('dc-1').dataDir, 'api-tls')
const cliAt = (args: string[]) =>
  runCli([...args, '--api', c.member('dc-1').url!, '--data-dir', c.member('dc-1').dataDir])

describe('the admin API over TLS', () => {
  it('serves HTTPS with a certificate made in the data dir, its key readable by the owner only', () => {
    expect(c.member('dc-1').url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(statSync(join(tlsDir(), 'key.pem')).mode & 0o777).toBe(0o600)
    expect(c.member('dc-1').output).toMatch(
      /try: +geocluster status --api https:\S+ --api-fingerprint [0-9A-F:]{95}/,
    )
  })

  it('answers the CLI that pins its fingerprint or trusts its certificate, and nobody else', async () => {
    const pinned = await cliAt(['status', '--json', '--api-fingerprint', fingerprint])
    expect(pinned.code, pinned.stderr).toBe(0)
    expect(JSON.parse(pinned.stdout).node).toBe('dc-1')
    const lowerCase = await cliAt([
      'status',
      '--json',
      '--api-fingerprint',
      fingerprint.replace(/:/g, '').toLowerCase(),
    ])
    expect(lowerCase.code, lowerCase.stderr).toBe(0)
    const trusted = await cliAt(['status', '--json', '--api-ca', join(tlsDir(), 'cert.pem')])
    expect(trusted.code, trusted.stderr).toBe(0)
    // Not trusted: refused before the token is sent, with what to do about it.
    const untrusted = await cliAt(['status'])
    expect(untrusted.code).toBe(3)
    expect(untrusted.stderr).toMatch(/TLS certificate is not trusted .*--api-fingerprint/)
    const wrong = await cliAt(['status', '--api-fingerprint', 'AB'.repeat(32)])
    expect(wrong.code).toBe(3)
    expect(wrong.stderr).toMatch(/is not the pinned one/)
    // Plain HTTP to the TLS port gets no API answer.
    const plain = await runCli([
      'status',
      '--api',
      c.member('dc-1').url!.replace('https:', 'http:'),
      '--data-dir',
      c.member('dc-1').dataDir,
    ])
    expect(plain.code).not.toBe(0)
  })

  it('validate --live names each node’s API and whether it is served over TLS', async () => {
    const r = await c.cli('dc-2', ['validate', '--config', c.topologyFile, '--live', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const members = JSON.parse(r.stdout).live.members as {
      node: string
      api: { url: string; tlsFingerprint: string | null } | null
    }[]
    expect(members.find((m) => m.node === 'dc-1')?.api).toEqual({
      url: c.member('dc-1').url,
      tlsFingerprint: fingerprint,
    })
    expect(members.find((m) => m.node === 'dc-2')?.api).toEqual({
      url: c.member('dc-2').url,
      tlsFingerprint: null,
    })
    const text = await c.cli('dc-2', ['validate', '--config', c.topologyFile, '--live'])
    expect(text.stdout).toMatch(
      new RegExp(`dc-1 \\(dc\\): .*API https://\\S+ \\(TLS, sha256 ${fingerprint}\\)`),
    )
  })

  it('keeps its certificate across restarts, so a pinned fingerprint stays valid', async () => {
    await c.kill('dc-1')
    await c.start('dc-1', ['--api-tls-self-signed'])
    expect(/TLS: +sha256 ([0-9A-F:]{95})/.exec(c.member('dc-1').output)![1]).toBe(fingerprint)
  })
})
