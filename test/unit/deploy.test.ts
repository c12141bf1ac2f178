/**
 * deploy/: the systemd units pass `systemd-analyze verify`, the compose file passes `docker
 * compose config` (or docker-compose's), where those tools are installed; the image is built in
 * stages and runs as a non-root user; the compose topology is a valid topology.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadTopology } from '../../src/topology/loadTopology.ts'

const deploy = resolve(import.meta.dirname, '../../deploy')
const has = (tool: string, ...args: string[]) => spawnSync(tool, args, { encoding: 'utf8' }).status === 0

describe('deploy/', () => {
  it.runIf(has('systemd-analyze', '--version'))('the systemd units verify', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gc-units-'))
    try {
      copyFileSync(join(deploy, 'geocluster-node@.service'), join(dir, 'geocluster-node@.service'))
      symlinkSync('geocluster-node@.service', join(dir, 'geocluster-node@atl-1.service'))
      copyFileSync(join(deploy, 'geocluster-witness.service'), join(dir, 'geocluster-witness.service'))
      for (const unit of ['geocluster-node@atl-1.service', 'geocluster-witness.service']) {
        const r = spawnSync('systemd-analyze', ['verify', `./${unit}`], { cwd: dir, encoding: 'utf8' })
        expect(r.status, r.stderr).toBe(0)
        expect(r.stderr.trim()).toBe('')
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.runIf(has('docker', 'compose', 'version') || has('docker-compose', '--version'))(
    'the compose file passes compose config',
    () => {
      const [tool, args] = has('docker', 'compose', 'version')
        ? ['docker', ['compose', '-f', 'compose.yaml', 'config', '--quiet']]
        : ['docker-compose', ['-f', 'compose.yaml', 'config', '--quiet']]
      const r = spawnSync(tool as string, args as string[], {
        cwd: join(deploy, 'compose'),
        encoding: 'utf8',
      })
      expect(r.status, r.stderr).toBe(0)
    },
  )

  it('the image is built in stages and runs as a non-root user; the compose topology is valid', () => {
    const dockerfile = readFileSync(join(deploy, 'Dockerfile'), 'utf8')
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2)
    expect(dockerfile).toMatch(/^USER geocluster$/m)
    expect(dockerfile).not.toMatch(/^USER root$/m)
    const { topology } = loadTopology(join(deploy, 'compose', 'topology.yaml'))
    expect(topology.quorum.model).toBe('node-and-witness')
  })

  it('never serves the admin API off loopback without TLS (the unit and the compose file)', () => {
    const unit = readFileSync(join(deploy, 'geocluster-node@.service'), 'utf8')
    const compose = readFileSync(join(deploy, 'compose', 'compose.yaml'), 'utf8')
    const starts = [
      ...(unit.match(/^ExecStart=.*node start.*$/gm) ?? []),
      ...(compose.match(/command: \[node, start.*\]$/gm) ?? []).map((l) => l.replace(/,/g, ' ')),
    ]
    expect(starts.length).toBe(3)
    for (const start of starts) {
      const host = /--api-host\s+(\S+)/.exec(start)?.[1] ?? '127.0.0.1'
      if (/^(127\.|::1$|localhost$)/.test(host)) continue
      expect(start, start).toMatch(/--api-tls-self-signed|--api-tls-cert \S+ --api-tls-key \S+/)
    }
  })
})
