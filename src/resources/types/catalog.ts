/**
 * The resource types this build runs, and the parameters each accepts. Pure data and parsing:
 * the cluster database validates `resource create` against it, the resource monitor parses the
 * same parameters before it runs anything, so both sides agree on names, types and defaults.
 */

export const resourceTypeNames = ['generic-app', 'generic-script'] as const
export type ResourceTypeName = (typeof resourceTypeNames)[number]

export function isResourceTypeName(value: string): value is ResourceTypeName {
  return (resourceTypeNames as readonly string[]).includes(value)
}

type ParamSpec =
  | { kind: 'string'; required: boolean; description: string }
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
} as const satisfies Record<string, ParamSpec>

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
  return { ok: true, params: out }
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
