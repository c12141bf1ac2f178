/**
 * The resource type catalog is part of the cluster database's schema, so every node must judge
 * a parameter alike: addresses are read by the catalog's own `ipVersion`, which must answer as
 * node:net's isIP does today (and go on answering so when a node runs another Node version).
 */
import { isIP } from 'node:net'
import { describe, expect, it } from 'vitest'
import { ipVersion, parseResourceParams } from '../../src/database/resourceTypes.ts'

const samples = [
  '10.0.0.50',
  '0.0.0.0',
  '255.255.255.255',
  '256.1.1.1',
  '01.2.3.4',
  '1.2.3',
  '1.2.3.4.5',
  '1.2.3.4 ',
  ' 1.2.3.4',
  '',
  '::',
  '::1',
  '1::',
  'fd00::50',
  'FD00::ABCD',
  'fe80::1%eth0',
  'fe80::1%',
  '2001:db8:0:0:0:0:2:1',
  '2001:db8::2:1',
  '2001:db8:0:0:0:0:0:0:1',
  '2001:db8:::1',
  '2001:db8::1::2',
  '::ffff:10.0.0.1',
  '::ffff:10.0.0.256',
  '1:2:3:4:5:6:10.0.0.1',
  '1:2:3:4:5:6:7:10.0.0.1',
  '12345::1',
  'g::1',
  ':1',
  '1:',
  'localhost',
  '10.0.0.50/24',
]

/** Every way to write 1:2:3:4:5:6:7:8 with one run of groups left out as `::`, and with an IPv4 tail. */
function compressions(): string[] {
  const groups = ['1', '0', 'ab', 'ffff', '0', '0', '7', '8']
  const out: string[] = []
  for (let from = 0; from <= 8; from++)
    for (let to = from; to <= 8; to++) {
      const head = groups.slice(0, from).join(':')
      const tail = groups.slice(to).join(':')
      out.push(from === to ? groups.join(':') : `${head}::${tail}`)
      if (to <= 6) out.push(`${head}::${groups.slice(to, 6).join(':')}${to < 6 ? ':' : ''}192.0.2.1`)
    }
  return out
}

describe('resource types', () => {
  it('read IP addresses exactly as node:net does', () => {
    const cases = [...samples, ...compressions()]
    expect(cases.length).toBeGreaterThan(80)
    expect(cases.filter((c) => ipVersion(c) !== isIP(c))).toEqual([])
    expect(cases.some((c) => ipVersion(c) === 6) && cases.some((c) => ipVersion(c) === 0)).toBe(true)
  })

  it('check ip-address and network-name parameters with it', () => {
    const ip = (address: string) => parseResourceParams('ip-address', { address, interface: 'eth0' }).ok
    expect(ip('10.0.0.50/24')).toBe(true)
    expect(ip('fd00::50/64')).toBe(true)
    expect(ip('10.0.0.50/33')).toBe(false)
    expect(ip('10.0.0.500/24')).toBe(false)
    const name = (address: string) =>
      parseResourceParams('network-name', { name: 'web.cluster.example', address }).ok
    expect(name('10.0.0.50')).toBe(true)
    expect(name('web')).toBe(false)
  })

  it('ip-address takes one address or per-site addresses, never both and never neither', () => {
    const parse = (params: Record<string, string>) =>
      parseResourceParams('ip-address', { interface: 'eth0', ...params })
    expect(parse({ addresses: 'atlanta=10.1.0.5/24, phoenix=10.2.0.5/24' })).toMatchObject({
      ok: true,
      params: { address: undefined, addresses: 'atlanta=10.1.0.5/24, phoenix=10.2.0.5/24' },
    })
    expect(parse({ addresses: 'atlanta=fd00:1::5/64' }).ok).toBe(true)
    const problem = (params: Record<string, string>) => {
      const r = parse(params)
      return r.ok ? null : r.problem
    }
    expect(problem({})).toEqual({
      param: 'address',
      message:
        'required for ip-address (or addresses: site=address/prefix pairs for a group spanning subnets)',
    })
    expect(problem({ address: '10.0.0.5/24', addresses: 'a=10.1.0.5/24' })).toEqual({
      param: 'addresses',
      message: 'give address or addresses (per site), not both',
    })
    expect(problem({ addresses: '10.1.0.5/24' })?.message).toBe(
      'expected site=address/prefix pairs separated by ",", got \'10.1.0.5/24\'',
    )
    expect(problem({ addresses: 'a=10.1.0.5/24,a=10.1.0.6/24' })?.message).toBe('site a is listed twice')
    expect(problem({ addresses: 'a=10.1.0.5/40' })?.message).toBe('a: prefix length 40 is too long for IPv4')
    expect(problem({ addresses: 'bad site=10.1.0.5/24' })?.message).toMatch(/^'bad site' is not a site name/)
    const many = Array.from({ length: 17 }, (_, i) => `s${i}=10.0.${i}.5/24`).join(',')
    expect(problem({ addresses: many })?.message).toBe('at most 16 sites, got 17')
  })
})
