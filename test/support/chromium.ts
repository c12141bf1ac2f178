/**
 * Headless Chromium for the browser tests: Debian's `chromium`, installed with apt-get when it is
 * missing (the tests need it; nothing else does). Bounded: a failed or slow install is an error
 * that says what to do.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

export const chromiumPath = '/usr/bin/chromium'

export function ensureChromium(): string {
  if (existsSync(chromiumPath)) return chromiumPath
  const root = process.getuid?.() === 0
  if (!root || !existsSync('/usr/bin/apt-get'))
    throw new Error(
      `${chromiumPath} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests`,
    )
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 180_000 })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], {
    stdio: 'ignore',
    env,
    timeout: 300_000,
  })
  if (!existsSync(chromiumPath)) throw new Error(`apt-get install chromium did not provide ${chromiumPath}`)
  return chromiumPath
}
