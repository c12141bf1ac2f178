/** The admin bearer token: created once per data dir, readable by its owner only. */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { GeoclusterError } from '../errors/errors.ts'
import { writeFileDurably } from '../storage/durableFile.ts'

export function adminTokenPath(dataDir: string): string {
  return join(dataDir, 'admin.token')
}

export function ensureAdminToken(dataDir: string): { token: string; file: string; created: boolean } {
  const file = adminTokenPath(dataDir)
  try {
    const token = readFileSync(file, 'utf8').trim()
    // Refused like the cluster secret: a token others can read is anybody's token.
    const mode = statSync(file).mode & 0o777
    if ((mode & 0o077) !== 0) {
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `${file}: the admin token is readable by others (mode ${mode.toString(8).padStart(4, '0')}; chmod 600 ${file})`,
      )
    }
    if (token.length >= 32) return { token, file, created: false }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const token = randomBytes(32).toString('base64url')
  writeFileDurably(file, Buffer.from(`${token}\n`), 0o600)
  return { token, file, created: true }
}

export function tokensEqual(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
