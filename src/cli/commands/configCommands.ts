import { Command } from '@commander-js/extra-typings'
import { line, printJson, table } from '../output.ts'
import { adminCommand, clientFor, keyPath } from './connection.ts'

interface ConfigEntry {
  key: string
  value: string
  version: number
}

export function configCommands() {
  const config = new Command('config').description("operators' own keys in the replicated cluster database")
  config.addCommand(
    adminCommand('set', 'set KEY to VALUE (acknowledged once durable on a quorum)')
      .argument('<key>', 'a path such as app/db/url')
      .argument('<value>')
      .action(async (key, value, opts) => {
        const r = await clientFor(opts).put<ConfigEntry>(`/v1/config/${keyPath(key)}`, { value })
        if (opts.json) printJson(r)
        else line(`${r.key} = ${r.value} (version ${r.version})`)
      }),
  )
  config.addCommand(
    adminCommand('get', 'print the value of KEY (a linearizable read)')
      .argument('<key>')
      .action(async (key, opts) => {
        const r = await clientFor(opts).get<ConfigEntry>(`/v1/config/${keyPath(key)}`)
        if (opts.json) printJson(r)
        else line(r.value)
      }),
  )
  config.addCommand(
    adminCommand('delete', 'delete KEY')
      .argument('<key>')
      .action(async (key, opts) => {
        const r = await clientFor(opts).delete<{ key: string }>(`/v1/config/${keyPath(key)}`)
        if (opts.json) printJson(r)
        else line(`${key} deleted`)
      }),
  )
  config.addCommand(
    adminCommand('list', 'keys under PREFIX (all when omitted)')
      .argument('[prefix]')
      .action(async (prefix, opts) => {
        const q = prefix === undefined ? '' : `?prefix=${encodeURIComponent(prefix)}`
        const { entries } = await clientFor(opts).get<{ entries: ConfigEntry[] }>(`/v1/config${q}`)
        if (opts.json) printJson({ entries })
        else
          line(
            table(
              ['KEY', 'VALUE', 'VERSION'],
              entries.map((e) => [
                e.key,
                e.value.length > 60 ? `${e.value.slice(0, 57)}...` : e.value,
                e.version,
              ]),
            ),
          )
      }),
  )
  return config
}
