/**
 * The hierarchical key space of the cluster database, like the MSCS cluster hive:
 *
 *   cluster                              the cluster itself
 *   sites/<site>                         a data center
 *   nodes/<node>                         a member node
 *   witness                              the witness, if the quorum model has one
 *   groups/<group>                       a resource group (owner, fencing token, policies)
 *   groups/<group>/resources/<resource>  a resource of that group
 *   config/<key...>                      operators' own keys (`geocluster config set a/b 1`)
 *   checkpoints/<resource>               a resource's checkpoint files (Checkpoint Manager)
 *   constraints/<group>/<node>           an operator's move or ban of a group on a node
 *   alerts/<alert>                       where a node sends the events it sees (a script, a webhook)
 */

export const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
export const nameRule =
  'letters, digits, dot, dash or underscore, starting with a letter or digit, at most 63'

const keySegmentPattern = /^[A-Za-z0-9._-]+$/
export const configKeyLengthMax = 256
export const configValueBytesMax = 64 * 1024

export function isName(value: string): boolean {
  return namePattern.test(value)
}

/** Returns why a config key is unacceptable, or null when it is fine. */
export function configKeyProblem(key: string): string | null {
  if (key.length === 0) return 'must not be empty'
  if (key.length > configKeyLengthMax) return `must be at most ${configKeyLengthMax} characters`
  for (const segment of key.split('/')) {
    if (segment === '') return 'must not start or end with / or contain //'
    if (segment === '.' || segment === '..') return 'must not contain . or .. segments'
    if (!keySegmentPattern.test(segment)) {
      return `segment '${segment}' may only hold letters, digits, dot, dash and underscore`
    }
  }
  return null
}

export const paths = {
  cluster: () => 'cluster',
  witness: () => 'witness',
  site: (name: string) => `sites/${name}`,
  node: (name: string) => `nodes/${name}`,
  group: (name: string) => `groups/${name}`,
  resource: (group: string, name: string) => `groups/${group}/resources/${name}`,
  config: (key: string) => `config/${key}`,
  checkpoint: (resource: string) => `checkpoints/${resource}`,
  constraint: (group: string, node: string) => `constraints/${group}/${node}`,
  alert: (name: string) => `alerts/${name}`,
} as const
