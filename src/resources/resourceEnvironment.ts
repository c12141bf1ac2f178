/**
 * The environment a resource process starts with: not the node's (which may hold an API token,
 * proxy credentials, LD_PRELOAD), but a clean one — a few variables every program expects, the
 * documented GEOCLUSTER_* ones, what the resource declares in its `environment` parameter, and
 * any node variables the operator names in GEOCLUSTER_RESOURCE_ENV (like systemd's
 * PassEnvironment). Pure.
 */
import { environmentPairs } from '../database/resourceTypes.ts'

/** Taken from the node's environment when set there. */
export const baseVariables = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'USER', 'LOGNAME'] as const
/** Names (comma-separated) of further node variables every resource gets. */
export const passVariable = 'GEOCLUSTER_RESOURCE_ENV'
const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export function resourceEnvironment(
  node: Readonly<Record<string, string | undefined>>,
  /** GEOCLUSTER_NODE, _SITE, _GROUP, _RESOURCE, _FENCING_TOKEN. */
  geocluster: Readonly<Record<string, string>>,
  params: Readonly<Record<string, string>>,
): Record<string, string> {
  const env: Record<string, string> = { PATH: defaultPath }
  const passed = (node[passVariable] ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n))
  for (const name of [...baseVariables, ...passed]) {
    const v = node[name]
    if (v !== undefined) env[name] = v
  }
  return { ...env, ...environmentPairs(params.environment), ...geocluster }
}
