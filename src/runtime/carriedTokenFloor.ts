/**
 * The highest fencing token of a history this node gave up (it met a forced epoch, or yielded
 * its own), kept on disk until the cluster it joined has raised its floor above it: a crash in
 * between must not let tokens go back. One small file in the data dir.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurably } from '../storage/durableFile.ts'

const fileName = 'token-floor'

/** Keeps `floor` (or the higher one already kept). */
export function keepCarriedFloor(dataDir: string, floor: number, from: string): void {
  const kept = carriedFloor(dataDir)
  if (kept !== null && kept.floor >= floor) return
  writeFileDurably(join(dataDir, fileName), new TextEncoder().encode(`${JSON.stringify({ floor, from })}\n`))
}

/** What is kept, or null; a damaged file counts as absent (the history it came from says why). */
export function carriedFloor(dataDir: string): { floor: number; from: string } | null {
  const file = join(dataDir, fileName)
  if (!existsSync(file)) return null
  try {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as { floor?: unknown; from?: unknown }
    if (typeof kept.floor !== 'number' || !Number.isSafeInteger(kept.floor) || kept.floor < 0) return null
    return { floor: kept.floor, from: typeof kept.from === 'string' ? kept.from : '' }
  } catch {
    return null
  }
}

export function dropCarriedFloor(dataDir: string): void {
  rmSync(join(dataDir, fileName), { force: true })
}
