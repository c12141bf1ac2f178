/**
 * The resource types this build runs, and the parameters each accepts: part of the cluster
 * database's schema (as resource types are in the seeds' cluster database). Pure data and
 * parsing: the cluster database validates `resource create` against it, the resource monitor
 * parses the same parameters before it runs anything, so both sides agree on names, types and
 * defaults. Every node must judge a parameter alike, so nothing here depends on the host or on
 * the Node version (addresses are read by `ipVersion` below, not by node:net).
 */
import { addressParamsProblem, siteAddressesProblem } from './siteAddresses.ts'

export const resourceTypeNames = ['generic-app', 'generic-script', 'ip-address', 'network-name'] as const
export type ResourceTypeName = (typeof resourceTypeNames)[number]

export function isResourceTypeName(value: string): value is ResourceTypeName {
  return (resourceTypeNames as readonly string[]).includes(value)
}

type ParamSpec =
  | { kind: 'string'; required: boolean; description: string; check?: (value: string) => string | null }
  | { kind: 'integer'; min: number; max: number; default: number; description: string }
  /** Comma-separated absolute file paths. */
  | { kind: 'paths'; max: number; description: string }

/** All checkpoint files of one resource together, at most (base64 in the log adds a third). */
export const checkpointBytesMax = 256 * 1024

const commonParams = {
  looksAliveIntervalMs: {
    kind: 'integer',
    min: 100,
    max: 3_600_000,
    default: 5_000,
    description: 'quick health check period (WSFC LooksAlive, default 5 s)',
  },
  isAliveIntervalMs: {
    kind: 'integer',
    min: 1_000,
    max: 86_400_000,
    default: 60_000,
    description: 'thorough health check period (WSFC IsAlive, default 60 s)',
  },
  stopTimeoutMs: {
    kind: 'integer',
    min: 0,
    max: 600_000,
    default: 10_000,
    description: 'grace between SIGTERM (or `stop`) and SIGKILL of the process group',
  },
  // The seeds' Checkpoint Manager: files saved to the cluster database when the resource goes
  // offline and every checkpointIntervalMs while online, restored before it starts elsewhere.
  checkpoint: {
    kind: 'paths',
    max: 16,
    description: `files saved with the cluster and restored on the next owner (absolute paths, comma-separated, ${checkpointBytesMax / 1024} KiB in all)`,
  },
  checkpointIntervalMs: {
    kind: 'integer',
    min: 1_000,
    max: 86_400_000,
    default: 60_000,
    description: 'how often the checkpoint files are saved while online (default 60 s)',
  },
  // Resources start with a clean environment (see resourceEnvironment.ts); this adds to it.
  environment: {
    kind: 'string',
    required: false,
    description:
      'extra environment variables, NAME=value pairs separated by ";" (e.g. JAVA_HOME=/opt/jdk;LOG=debug)',
    check: environmentProblem,
  },
} as const satisfies Record<string, ParamSpec>

/** `NAME=value;NAME2=value2`: why not, or null. */
export function environmentProblem(value: string): string | null {
  for (const pair of value.split(';')) {
    if (pair.trim() === '') continue
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair.trim())
    if (m === null) return `expected NAME=value pairs separated by ";", got "${pair}"`
    if (m[1]!.startsWith('GEOCLUSTER_')) return `${m[1]} is set by geocluster itself`
    if (m[2]!.includes('\0')) return `${m[1]}: a value may not hold a NUL byte`
  }
  return null
}

/** The pairs of an `environment` parameter (already checked). */
export function environmentPairs(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of (value ?? '').split(';')) {
    const at = pair.indexOf('=')
    if (pair.trim() === '' || at < 0) continue
    out[pair.slice(0, at).trim()] = pair.slice(at + 1)
  }
  return out
}

const v4Part = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])'
const v4 = `(?:${v4Part}\\.){3}${v4Part}`
const v6Part = '(?:[0-9a-fA-F]{1,4})'
const ipv4Pattern = new RegExp(`^${v4}$`)
/** Eight groups, `::` for a run of zero groups, an IPv4 tail, a zone (`%eth0`): what node:net's isIP accepts. */
const ipv6Pattern = new RegExp(
  '^(?:' +
    `(?:${v6Part}:){7}(?:${v6Part}|:)|` +
    `(?:${v6Part}:){6}(?:${v4}|:${v6Part}|:)|` +
    `(?:${v6Part}:){5}(?::${v4}|(?::${v6Part}){1,2}|:)|` +
    `(?:${v6Part}:){4}(?:(?::${v6Part}){0,1}:${v4}|(?::${v6Part}){1,3}|:)|` +
    `(?:${v6Part}:){3}(?:(?::${v6Part}){0,2}:${v4}|(?::${v6Part}){1,4}|:)|` +
    `(?:${v6Part}:){2}(?:(?::${v6Part}){0,3}:${v4}|(?::${v6Part}){1,5}|:)|` +
    `(?:${v6Part}:){1}(?:(?::${v6Part}){0,4}:${v4}|(?::${v6Part}){1,6}|:)|` +
    `(?::(?:(?::${v6Part}){0,5}:${v4}|(?::${v6Part}){1,7}|:))` +
    ')(?:%[0-9a-zA-Z-.:]{1,})?$',
)

/** 4 or 6 for an IP address, 0 for anything else (the same answers as node:net's isIP). */
export function ipVersion(value: string): 0 | 4 | 6 {
  if (ipv4Pattern.test(value)) return 4
  if (ipv6Pattern.test(value)) return 6
  return 0
}

/** `10.0.0.50/24` or `fd00::50/64`: why not, or null. */
export function cidrProblem(value: string): string | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(value)
  if (m === null) return `expected an address with its prefix length, like 10.0.0.50/24, got '${value}'`
  const family = ipVersion(m[1]!)
  if (family === 0) return `'${m[1]}' is not an IP address`
  if (Number(m[2]) > (family === 4 ? 32 : 128)) return `prefix length ${m[2]} is too long for IPv${family}`
  return null
}

/** A DNS name: labels of letters, digits and dashes, 253 characters at most. */
export function dnsNameProblem(value: string): string | null {
  const name = value.endsWith('.') ? value.slice(0, -1) : value
  if (name.length === 0 || name.length > 253) return 'a DNS name is 1 to 253 characters'
  const bad = name.split('.').find((l) => !/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))
  return bad === undefined
    ? null
    : `'${bad}' is not a DNS label (letters, digits and inner dashes, at most 63)`
}

const interfaceProblem = (v: string) =>
  /^[A-Za-z0-9_.:@-]{1,15}$/.test(v) ? null : `'${v}' is not an interface name`

const ipProblem = (v: string) => (ipVersion(v) === 0 ? `'${v}' is not an IP address` : null)

export const resourceTypeCatalog = {
  'generic-app': {
    description: 'a long-running command, healthy while its process lives and isAliveCommand passes',
    params: {
      command: { kind: 'string', required: true, description: 'run with /bin/sh -c' },
      cwd: { kind: 'string', required: false, description: 'working directory' },
      isAliveCommand: { kind: 'string', required: false, description: 'exit 0 = healthy (IsAlive)' },
      ...commonParams,
    },
  },
  'generic-script': {
    description: 'an OCF-style agent called as `script start|stop|monitor` (0 = ok, 7 = not running)',
    params: {
      script: { kind: 'string', required: true, description: 'path of an executable agent' },
      startTimeoutMs: {
        kind: 'integer',
        min: 100,
        max: 600_000,
        default: 20_000,
        description: 'limit for `script start`',
      },
      monitorTimeoutMs: {
        kind: 'integer',
        min: 100,
        max: 600_000,
        default: 20_000,
        description: 'limit for `script monitor`',
      },
      ...commonParams,
    },
  },
  'ip-address': {
    description: 'a virtual IP address on a network interface (`ip addr add`), moving with its group',
    params: {
      address: {
        kind: 'string',
        required: false,
        description: 'address/prefix, like 10.0.0.50/24 (or addresses)',
        check: cidrProblem,
      },
      addresses: {
        kind: 'string',
        required: false,
        description:
          "one address/prefix per site, for a group spanning subnets: atlanta=10.1.0.5/24,phoenix=10.2.0.5/24; the node brings up its own site's",
        check: (v: string) => siteAddressesProblem(v, cidrProblem),
      },
      interface: {
        kind: 'string',
        required: true,
        description: 'where to add it, like eth0',
        check: interfaceProblem,
      },
      ...commonParams,
    },
  },
  'network-name': {
    description: "a DNS name that every node's name responder answers with the group's address",
    params: {
      name: {
        kind: 'string',
        required: true,
        description: 'like web.cluster.example',
        check: dnsNameProblem,
      },
      address: {
        kind: 'string',
        required: false,
        description: 'the address to answer (default: that of the ip-address resource it depends on)',
        check: ipProblem,
      },
      ...commonParams,
    },
  },
} as const satisfies Record<ResourceTypeName, { description: string; params: Record<string, ParamSpec> }>

/** The checkpoint files a resource's parameters name (empty when none). */
export function checkpointPaths(raw: Readonly<Record<string, string>>): string[] {
  const v = raw.checkpoint
  return v === undefined || v === '' ? [] : v.split(',').map((p) => p.trim())
}

export interface GenericAppParams {
  command: string
  cwd: string | undefined
  isAliveCommand: string | undefined
  looksAliveIntervalMs: number
  isAliveIntervalMs: number
  stopTimeoutMs: number
}

export interface IpAddressParams {
  /** Exactly one of address and addresses is set (siteAddresses.ts). */
  address: string | undefined
  addresses: string | undefined
  interface: string
  looksAliveIntervalMs: number
  isAliveIntervalMs: number
  stopTimeoutMs: number
}

export interface NetworkNameParams {
  name: string
  address: string | undefined
  looksAliveIntervalMs: number
  isAliveIntervalMs: number
  stopTimeoutMs: number
}

export function typedParams<T>(type: ResourceTypeName, raw: Readonly<Record<string, string>>): T {
  const parsed = parseResourceParams(type, raw)
  if (!parsed.ok) throw new Error(`${type}: ${parsed.problem.param}: ${parsed.problem.message}`)
  return parsed.params as unknown as T
}

export interface GenericScriptParams {
  script: string
  startTimeoutMs: number
  monitorTimeoutMs: number
  looksAliveIntervalMs: number
  isAliveIntervalMs: number
  stopTimeoutMs: number
}

export type ParamProblem = { param: string; message: string }

/**
 * Checks raw string parameters against a type's catalog entry and returns typed values with
 * defaults filled in, or the first problem found.
 */
export function parseResourceParams(
  type: ResourceTypeName,
  raw: Readonly<Record<string, string>>,
): { ok: true; params: Record<string, string | number | undefined> } | { ok: false; problem: ParamProblem } {
  const specs: Record<string, ParamSpec> = resourceTypeCatalog[type].params
  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(specs, name)) {
      const known = Object.keys(specs).join(', ')
      return {
        ok: false,
        problem: { param: name, message: `unknown parameter for ${type} (known: ${known})` },
      }
    }
  }
  const out: Record<string, string | number | undefined> = {}
  for (const [name, spec] of Object.entries(specs)) {
    const value = raw[name]
    if (spec.kind === 'paths') {
      if (value === undefined || value === '') {
        out[name] = undefined
        continue
      }
      const list = value.split(',').map((p) => p.trim())
      const bad = list.find((p) => !p.startsWith('/') || p.includes('\0') || p.split('/').includes('..'))
      if (bad !== undefined)
        return { ok: false, problem: { param: name, message: `'${bad}' is not an absolute path without ..` } }
      if (list.length > spec.max)
        return {
          ok: false,
          problem: { param: name, message: `at most ${spec.max} paths, got ${list.length}` },
        }
      if (new Set(list).size !== list.length)
        return { ok: false, problem: { param: name, message: 'a path is listed twice' } }
      out[name] = value
      continue
    }
    if (spec.kind === 'string') {
      if (value === undefined || value === '') {
        if (spec.required) return { ok: false, problem: { param: name, message: `required for ${type}` } }
        out[name] = undefined
      } else {
        const problem = 'check' in spec && spec.check !== undefined ? spec.check(value) : null
        if (problem !== null) return { ok: false, problem: { param: name, message: problem } }
        out[name] = value
      }
      continue
    }
    if (value === undefined) {
      out[name] = spec.default
      continue
    }
    if (!/^\d+$/.test(value)) {
      return { ok: false, problem: { param: name, message: `expected a whole number, got '${value}'` } }
    }
    const n = Number(value)
    if (n < spec.min || n > spec.max) {
      return { ok: false, problem: { param: name, message: `must be between ${spec.min} and ${spec.max}` } }
    }
    out[name] = n
  }
  const across = crossParamRules[type]?.(raw) ?? null
  if (across !== null) return { ok: false, problem: across }
  return { ok: true, params: out }
}

/** Rules that involve more than one parameter of a type, checked after each one on its own. */
const crossParamRules: Partial<
  Record<ResourceTypeName, (raw: Readonly<Record<string, string>>) => ParamProblem | null>
> = {
  'ip-address': addressParamsProblem,
}

export function genericAppParams(raw: Readonly<Record<string, string>>): GenericAppParams {
  const parsed = parseResourceParams('generic-app', raw)
  if (!parsed.ok) throw new Error(`generic-app: ${parsed.problem.param}: ${parsed.problem.message}`)
  return parsed.params as unknown as GenericAppParams
}

export function genericScriptParams(raw: Readonly<Record<string, string>>): GenericScriptParams {
  const parsed = parseResourceParams('generic-script', raw)
  if (!parsed.ok) throw new Error(`generic-script: ${parsed.problem.param}: ${parsed.problem.message}`)
  return parsed.params as unknown as GenericScriptParams
}
