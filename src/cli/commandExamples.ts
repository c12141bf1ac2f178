/**
 * Examples for `--help` of the commands that do not carry their own (every leaf command shows at
 * least one; a test walks the tree to keep it so).
 */
export const commandExamples: Record<string, string[]> = {
  'node list': ['geocluster node list', 'geocluster node list --json | jq -r ".nodes[].name"'],
  'node set-address': ['geocluster node set-address phx-1 /ip4/10.1.2.3/tcp/7401'],
  'node pause': ['geocluster node pause atl-2            # takes no new groups; its own stay'],
  'node drain': [
    'geocluster node drain atl-2            # pause and move its groups away, in dependency order',
  ],
  'node resume': ['geocluster node resume atl-2'],
  'node evict': [
    'geocluster node evict atl-2            # loses its vote and groups; its key is refused from then on',
  ],
  'witness start': [
    'geocluster witness start --config sites/two-sites-witness.yaml --data-dir /var/lib/geocluster-witness',
  ],
  'group list': ['geocluster group list', 'geocluster group list --json | jq ".groups[] | {name, owner}"'],
  'group show': ['geocluster group show web'],
  'group online': ['geocluster group online web'],
  'group offline': ['geocluster group offline web'],
  'group move': [
    'geocluster group move web --to phx-1',
    'geocluster group move web      # wherever placement says',
    'geocluster group move web --to phx-1 --lifetime 1h   # and keep it there for an hour',
  ],
  'group ban': [
    'geocluster group ban web --node atl-1 --lifetime 30m   # off atl-1 for 30 minutes',
    'geocluster group ban web --node atl-1                  # until geocluster group clear web',
  ],
  'group clear': ['geocluster group clear web', 'geocluster group clear web --node atl-1'],
  'group delete': ['geocluster group delete web'],
  'resource list': ['geocluster resource list'],
  'resource show': ['geocluster resource show web-app'],
  'resource depend': ['geocluster resource depend web-app --on web-ip,web-disk'],
  'resource online': ['geocluster resource online web-app'],
  'resource offline': ['geocluster resource offline web-app'],
  'resource fail': [
    'geocluster resource fail web-app      # as if it failed now: the restart policy applies',
  ],
  'resource delete': ['geocluster resource delete web-app'],
  'resource cleanup': [
    "geocluster resource cleanup web-app              # its failure, its group's failovers, every node's restarts",
    'geocluster resource cleanup --all --node atl-1   # every resource; only atl-1 forgets its restarts',
  ],
  'config set': ['geocluster config set app/color blue'],
  'config get': ['geocluster config get app/color', 'geocluster config get app/color --json'],
  'config delete': ['geocluster config delete app/color'],
  'config list': ['geocluster config list app/', 'geocluster config list --json'],
  'alert add': [
    'geocluster alert add pager --webhook https://hooks.example.com/geocluster --severity warning,error',
    'geocluster alert add notes --script /usr/local/bin/cluster-alert --events resource:*,group:failed',
  ],
  'alert list': ['geocluster alert list', 'geocluster alert list --json'],
  'alert delete': ['geocluster alert delete pager     # or: alert remove pager'],
  'log collect': [
    'geocluster log collect --out case-1234.tar.gz   # every member: events, status, topology, version',
    'tar tzf case-1234.tar.gz',
  ],
}

interface HelpCommand {
  name(): string
  commands: readonly HelpCommand[]
  addHelpText(position: 'after', text: string): unknown
}

/** Adds the examples above to the commands of `root` they name. */
export function addCommandExamples(root: HelpCommand): void {
  const walk = (c: HelpCommand, path: string[]) => {
    const examples = commandExamples[path.join(' ')]
    if (examples !== undefined)
      c.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`)
    for (const s of c.commands) walk(s, [...path, s.name()])
  }
  for (const c of root.commands) walk(c, [c.name()])
}
