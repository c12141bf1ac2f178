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
