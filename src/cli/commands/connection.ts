/** Options every admin command shares, and the client they build. */
import { Command } from '@commander-js/extra-typings'
import { ApiClient } from '../apiClient.ts'

export interface ConnectionOpts {
  api?: string | undefined
  token?: string | undefined
  dataDir?: string | undefined
  apiFingerprint?: string | undefined
  apiCa?: string | undefined
  json?: boolean | undefined
}

/** A subcommand that talks to a node: --api, --token, --data-dir (for the token) and --json. */
export function adminCommand(name: string, description: string) {
  return new Command(name)
    .description(description)
    .option('--api <url>', 'admin API of any node (default: $GEOCLUSTER_API or http://127.0.0.1:7480)')
    .option('--token <token>', 'admin bearer token (default: $GEOCLUSTER_TOKEN, or <data-dir>/admin.token)')
    .option('--data-dir <dir>', "the node's data dir, to read its admin.token")
    .option(
      '--api-fingerprint <sha256>',
      "pin the API's TLS certificate by its SHA-256 fingerprint (default: $GEOCLUSTER_API_FINGERPRINT)",
    )
    .option(
      '--api-ca <file>',
      "trust this CA or certificate (PEM) for the API's TLS (default: $GEOCLUSTER_API_CA)",
    )
    .option('--json', 'print exactly one JSON document')
}

export function clientFor(opts: ConnectionOpts): ApiClient {
  return new ApiClient({
    api: opts.api,
    token: opts.token,
    dataDir: opts.dataDir,
    apiFingerprint: opts.apiFingerprint,
    apiCa: opts.apiCa,
  })
}

/** Path segments escaped one by one, so a config key `a/b` stays a path. */
export function keyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/')
}

/** `a,b,c` → ['a','b','c'] (commander option parser). */
export function commaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}
