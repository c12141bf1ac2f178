/** Every action in the page: asked first, then done, and the API's own error shown if it fails. */

export type Report = (message: string) => void

export function act(question: string, run: () => Promise<unknown>, report: Report): void {
  if (!window.confirm(question)) return
  run().then(
    () => report(`done: ${question.replace(/\?$/, '')}`),
    (e: Error) => report(`failed: ${e.message}`),
  )
}

/** `a, b ,c` as a list of names (empty entries dropped). */
export function nameList(text: string): string[] {
  return text
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
}

/**
 * A lifetime as the CLI takes it (`90s`, `30m`, `1h30m`, `2d`) in ms; '' is none (until cleared);
 * anything else is NaN, which the API refuses with its own reason.
 */
export function lifetimeMs(text: string): number | undefined {
  const t = text.trim()
  if (t === '') return undefined
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(t)
  if (m === null || m.slice(1).every((x) => x === undefined)) return Number.NaN
  const [d, h, min, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number]
  return (((d * 24 + h) * 60 + min) * 60 + s) * 1000
}

/** `key=value` lines as parameters (a line without `=` is sent as is and refused by the API with its reason). */
export function paramsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const at = line.indexOf('=')
    if (at < 0) out[line.trim()] = ''
    else out[line.slice(0, at).trim()] = line.slice(at + 1)
  }
  return out
}
