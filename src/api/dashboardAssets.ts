/**
 * The dashboard's files (built by `npm run build` into dist/dashboard) served at `/` without a
 * token: the page asks for the token itself and sends it with every API call. Nothing outside
 * the directory is served; no CDN is involved.
 */
import { existsSync, readFileSync } from 'node:fs'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Hono } from 'hono'

// From src/api (running from source) and dist/api (built) alike: <repo>/dist/dashboard.
const root = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url))

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
}

function file(relative: string): { body: Buffer; type: string } | null {
  const path = normalize(join(root, relative))
  if (!path.startsWith(root) || path.endsWith(sep) || !existsSync(path)) return null
  return { body: readFileSync(path), type: types[extname(path)] ?? 'application/octet-stream' }
}

export function dashboardRoutes(app: Hono): void {
  app.get('/', (c) => {
    const index = file('index.html')
    if (index === null)
      return c.text('the dashboard is not built: run `npm run build` (it writes dist/dashboard)\n', 404)
    return c.body(new Uint8Array(index.body), 200, {
      'Content-Type': index.type,
      'Cache-Control': 'no-cache',
    })
  })
  app.get('/assets/*', (c) => {
    const found = file(c.req.path.slice(1))
    if (found === null) return c.text('not found\n', 404)
    // Vite names assets by content hash: they never change under one name.
    return c.body(new Uint8Array(found.body), 200, {
      'Content-Type': found.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
    })
  })
}
