/**
 * Virtual addresses that clients follow: which address a node brings online (per-site
 * `addresses`, src/database/siteAddresses.ts) and how it is announced to the neighbours
 * (src/resources/addressAnnouncement.ts) — the tool lookup and the command line, without running
 * anything.
 */
import { describe, expect, it } from 'vitest'
import { addressForSite, siteAddresses } from '../../src/database/siteAddresses.ts'
import { findExecutable, noToolReason, planAnnouncement } from '../../src/resources/addressAnnouncement.ts'

describe('addressForSite', () => {
  const perSite = { address: undefined, addresses: 'atlanta=10.1.0.5/24, phoenix=fd00:2::5/64' }

  it("brings up the node's own site's address", () => {
    expect(addressForSite(perSite, 'atlanta')).toEqual({ address: '10.1.0.5/24' })
    expect(addressForSite(perSite, 'phoenix')).toEqual({ address: 'fd00:2::5/64' })
  })

  it('takes the one address wherever the node is', () => {
    expect(addressForSite({ address: '10.0.0.5/24', addresses: undefined }, 'anywhere')).toEqual({
      address: '10.0.0.5/24',
    })
  })

  it('says why when the site has no address, or the node no site', () => {
    expect(addressForSite(perSite, 'denver')).toEqual({
      problem: 'no address for site denver (addresses lists atlanta, phoenix)',
    })
    expect(addressForSite(perSite, undefined)).toEqual({
      problem: 'this node has no site (GEOCLUSTER_SITE is not set)',
    })
  })

  it('reads the pairs with spaces around them', () => {
    expect([...siteAddresses(' a = 10.1.0.5/24 ,b=10.2.0.5/24')]).toEqual([
      ['a', '10.1.0.5/24'],
      ['b', '10.2.0.5/24'],
    ])
  })
})

describe('planAnnouncement', () => {
  const tools = (found: Record<string, string>) => (name: string) => found[name] ?? null

  it('IPv4: one unsolicited ARP with iputils arping on the interface', () => {
    expect(planAnnouncement('10.1.0.5/24', 'eth0', tools({ arping: '/usr/sbin/arping' }))).toEqual({
      kind: 'run',
      tool: 'arping',
      file: '/usr/sbin/arping',
      args: ['-U', '-c', '1', '-I', 'eth0', '10.1.0.5'],
    })
  })

  it('IPv6: an unsolicited neighbour advertisement with ndsend', () => {
    expect(planAnnouncement('fd00:2::5/64', 'eth1', tools({ ndsend: '/usr/sbin/ndsend' }))).toEqual({
      kind: 'run',
      tool: 'ndsend',
      file: '/usr/sbin/ndsend',
      args: ['fd00:2::5', 'eth1'],
    })
    // arping does not speak IPv6: having only it is having nothing.
    expect(planAnnouncement('fd00:2::5/64', 'eth1', tools({ arping: '/usr/sbin/arping' }))).toEqual({
      kind: 'skip',
      severity: 'warning',
      reason: noToolReason,
    })
  })

  it('warns when no tool is installed', () => {
    expect(planAnnouncement('10.1.0.5/24', 'eth0', tools({}))).toEqual({
      kind: 'skip',
      severity: 'warning',
      reason: 'no arping/ndsend on this host: neighbours learn the address only when their cache expires',
    })
  })

  it('skips the loopback interface and loopback addresses, which have no neighbours', () => {
    for (const [address, iface] of [
      ['127.0.99.7/32', 'lo'],
      ['10.1.0.5/32', 'lo'],
      ['::1/128', 'eth0'],
    ] as const) {
      const plan = planAnnouncement(address, iface, tools({ arping: '/usr/sbin/arping' }))
      expect(plan).toMatchObject({ kind: 'skip', severity: 'info' })
    }
  })
})

describe('findExecutable', () => {
  const executables = new Set(['/usr/sbin/arping', '/bin/arping'])
  const isExecutable = (file: string) => executables.has(file)

  it('takes the first directory of PATH that has it', () => {
    expect(findExecutable('arping', '/usr/local/bin:/usr/sbin:/bin', isExecutable)).toBe('/usr/sbin/arping')
    expect(findExecutable('arping', '/bin:/usr/sbin', isExecutable)).toBe('/bin/arping')
  })

  it('ignores relative and empty entries, and finds nothing without PATH', () => {
    expect(findExecutable('arping', '::.:sbin', isExecutable)).toBeNull()
    expect(findExecutable('arping', undefined, isExecutable)).toBeNull()
    expect(findExecutable('ndsend', '/usr/sbin', isExecutable)).toBeNull()
  })
})
