/**
 * Member addresses and peer IDs, checked with the real parsers (the ones the mesh dials with),
 * not a pattern: a value that passes here can be dialled, so an address that reached the log
 * can never make `multiaddr()` throw later on every node. The API, the topology file, the
 * command schema (on proposal and again on apply) and the mesh all use these checks.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

export const memberAddressExample = '/ip4/10.0.0.5/tcp/7400'
const hostProtocols = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])
/** A DNS name as resolvers take it: labels of letters, digits and inner hyphens. */
const dnsName =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/
export const memberAddressBytesMax = 256

/** Null when `s` is a dialable member address (`/<ip4|ip6|dns…>/<host>/tcp/<1-65535>`), else why not. */
export function memberAddressProblem(s: string): string | null {
  const expected = `expected a TCP multiaddr such as ${memberAddressExample}`
  if (s.length > memberAddressBytesMax) return `${expected} (at most ${memberAddressBytesMax} characters)`
  let parts: { name: string; value?: string }[]
  try {
    parts = multiaddr(s).getComponents()
  } catch (error) {
    return `${expected}: ${(error as Error).message}`
  }
  const [host, tcp] = parts
  if (parts.length !== 2 || host === undefined || tcp === undefined) return expected
  if (!hostProtocols.has(host.name) || tcp.name !== 'tcp') return expected
  if (host.name.startsWith('dns') && !dnsName.test(host.value ?? '')) return `${expected}: bad host name`
  const port = Number(tcp.value)
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `${expected}: port must be 1-65535`
  return null
}

/** Null when `s` is a libp2p peer ID, else why not. */
export function peerIdProblem(s: string): string | null {
  if (s.length > 128) return 'expected a libp2p peer ID'
  try {
    peerIdFromString(s)
    return null
  } catch {
    return 'expected a libp2p peer ID (run `geocluster keygen --data-dir D` on that node)'
  }
}
