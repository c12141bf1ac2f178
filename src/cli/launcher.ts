#!/usr/bin/env node
/**
 * The `geocluster` executable. geocluster needs Node.js 22 (libp2p 3 uses
 * Promise.withResolvers); when started by an older Node, it re-runs itself with the Node 22
 * that `npm install` put in node_modules (the `node` devDependency), so `npx geocluster` works
 * on machines whose system Node is older. Kept free of imports that need Node 22.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const major = Number(process.versions.node.split('.')[0])
const here = dirname(fileURLToPath(import.meta.url))
const main = join(here, `main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`)

if (major >= 22) {
  await import(main)
} else {
  let node22: string | null = null
  try {
    const candidate = join(
      dirname(createRequire(import.meta.url).resolve('node/package.json')),
      'bin',
      'node',
    )
    if (existsSync(candidate)) node22 = candidate
  } catch {
    node22 = null
  }
  if (node22 === null) {
    const message = `needs Node.js >= 22 (this is ${process.version}); run \`npm install\` in the repository or install Node 22`
    // --json: one JSON document on stdout on every path (failureReport.ts, which needs Node 22).
    const args = process.argv.slice(2)
    const end = args.indexOf('--')
    if ((end === -1 ? args : args.slice(0, end)).includes('--json'))
      process.stdout.write(
        `${JSON.stringify({ ok: false, error: { code: 'GC_ERR_UNSUPPORTED', message } })}\n`,
      )
    else process.stderr.write(`geocluster: ${message}\n`)
    process.exit(1)
  }
  const r = spawnSync(node22, [main, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}
