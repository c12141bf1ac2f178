/**
 * Resources start with a clean environment (issue: hardening, item 8), not the node's: the
 * node's secrets and preloads stay with the node.
 */
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { environmentProblem, parseResourceParams } from '../../src/database/resourceTypes.ts'
import { resourceEnvironment } from '../../src/resources/resourceEnvironment.ts'
import { ensureAdminToken } from '../../src/runtime/adminToken.ts'
import { tempDir } from '../support/processes.ts'

const node = {
  PATH: '/usr/bin:/bin',
  HOME: '/var/lib/geocluster',
  LANG: 'C.UTF-8',
  GEOCLUSTER_TOKEN: 'the-admin-token',
  GEOCLUSTER_API: 'http://127.0.0.1:7480',
  LD_PRELOAD: '/usr/lib/evil.so',
  AWS_SECRET_ACCESS_KEY: 'shh',
  JAVA_HOME: '/opt/jdk',
}
const geocluster = {
  GEOCLUSTER_NODE: 'n1',
  GEOCLUSTER_SITE: 's',
  GEOCLUSTER_GROUP: 'g',
  GEOCLUSTER_RESOURCE: 'r',
  GEOCLUSTER_FENCING_TOKEN: '12',
}

describe('resourceEnvironment', () => {
  it('takes a few ordinary variables and the documented ones, none of the node secrets', () => {
    expect(resourceEnvironment(node, geocluster, {})).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/var/lib/geocluster',
      LANG: 'C.UTF-8',
      ...geocluster,
    })
  })

  it("adds the resource's declared variables and the node variables the operator passes on", () => {
    const env = resourceEnvironment(
      { ...node, GEOCLUSTER_RESOURCE_ENV: 'JAVA_HOME, nope-not-a-name' },
      geocluster,
      { environment: 'LOG_LEVEL=debug;URL=http://x/?a=b;c=d' },
    )
    expect(env).toMatchObject({ JAVA_HOME: '/opt/jdk', LOG_LEVEL: 'debug', URL: 'http://x/?a=b' })
    expect(env.GEOCLUSTER_TOKEN).toBeUndefined()
    expect(env.LD_PRELOAD).toBeUndefined()
    // The documented variables cannot be overridden by a declared one.
    expect(environmentProblem('GEOCLUSTER_FENCING_TOKEN=0')).toMatch(/set by geocluster itself/)
    expect(environmentProblem('no equals sign')).toMatch(/expected NAME=value/)
    expect(parseResourceParams('generic-app', { command: 'x', environment: '1BAD=2' }).ok).toBe(false)
  })
})

describe('the admin token file', () => {
  it('is refused when others can read it, as the cluster secret is', () => {
    const dir = tempDir('gc-token-')
    const { file } = ensureAdminToken(dir)
    chmodSync(file, 0o644)
    expect(() => ensureAdminToken(dir)).toThrow(
      /admin\.token: the admin token is readable by others \(mode 0644; chmod 600/,
    )
    chmodSync(file, 0o600)
    expect(ensureAdminToken(dir).created).toBe(false)
    // A token written by hand with a wide mode is refused too.
    writeFileSync(join(dir, 'admin.token'), 'x'.repeat(40), { mode: 0o666 })
    chmodSync(join(dir, 'admin.token'), 0o666)
    expect(() => ensureAdminToken(dir)).toThrow(/readable by others/)
  })
})
