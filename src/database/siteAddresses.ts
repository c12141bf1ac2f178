/**
 * Per-site addresses of an `ip-address` resource (a multi-subnet geo group, WSFC's "OR"
 * dependency of a network name on one IP address per subnet): `addresses` lists one
 * address/prefix per site, `atlanta=10.1.0.5/24,phoenix=10.2.0.5/24`, and the resource comes
 * online with the address of the site of the node it runs on. Pure, like the rest of the
 * parameter checks: every node judges a value alike.
 */
import { namePattern, nameRule } from './keySpace.ts'

/** Sites one resource may list (a site per data center; few). */
export const siteAddressesMax = 16

/** `site=address/prefix,...`: why not, or null. `cidrProblem` checks each address. */
export function siteAddressesProblem(
  value: string,
  cidrProblem: (v: string) => string | null,
): string | null {
  const pairs = value.split(',').map((p) => p.trim())
  if (pairs.length > siteAddressesMax) return `at most ${siteAddressesMax} sites, got ${pairs.length}`
  const seen = new Set<string>()
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at < 0) return `expected site=address/prefix pairs separated by ",", got '${pair}'`
    const site = pair.slice(0, at).trim()
    if (!namePattern.test(site)) return `'${site}' is not a site name: ${nameRule}`
    if (seen.has(site)) return `site ${site} is listed twice`
    seen.add(site)
    const problem = cidrProblem(pair.slice(at + 1).trim())
    if (problem !== null) return `${site}: ${problem}`
  }
  return null
}

/** The pairs of an `addresses` parameter (already checked), site → address/prefix. */
export function siteAddresses(value: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const pair of value.split(',')) {
    const at = pair.indexOf('=')
    if (at > 0) out.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
  }
  return out
}

/** Exactly one of `address` and `addresses`: why not, or null (a rule across parameters). */
export function addressParamsProblem(raw: Readonly<Record<string, string>>): {
  param: string
  message: string
} | null {
  const one = raw.address !== undefined && raw.address !== ''
  const many = raw.addresses !== undefined && raw.addresses !== ''
  if (one && many) return { param: 'addresses', message: 'give address or addresses (per site), not both' }
  if (!one && !many)
    return {
      param: 'address',
      message:
        'required for ip-address (or addresses: site=address/prefix pairs for a group spanning subnets)',
    }
  return null
}

/**
 * The address/prefix a resource brings online on a node of `site`: its one `address`, or its
 * site's entry in `addresses`; a problem when the site has none (so it fails there and the
 * group fails over to a site that has one).
 */
export function addressForSite(
  params: { address: string | undefined; addresses: string | undefined },
  site: string | undefined,
): { address: string } | { problem: string } {
  if (params.address !== undefined && params.address !== '') return { address: params.address }
  const bySite = siteAddresses(params.addresses ?? '')
  if (site === undefined || site === '')
    return { problem: 'this node has no site (GEOCLUSTER_SITE is not set)' }
  const address = bySite.get(site)
  if (address !== undefined) return { address }
  return { problem: `no address for site ${site} (addresses lists ${[...bySite.keys()].join(', ')})` }
}
