/** The admin bearer token: created once per data dir, readable by its owner only. */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurably } from '../storage/durableFile.ts'

export function adminTokenPath(dataDir: string): string {
  return join(dataDir, 'admin.token')
}

export function ensureAdminToken(dataDir: string): { token: string; file: string; created: boolean } {
  const file = adminTokenPath(dataDir)
  try {
    const token = readFileSync(file, 'utf8').trim()
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
