/** Printing for people (tables, colour on a TTY) or for scripts (exactly one JSON document). */
import Table from 'cli-table3'
import pc from 'picocolors'

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

export function table(head: string[], rows: (string | number)[][]): string {
  const tty = process.stdout.isTTY === true
  const t = new Table({
    head: head.map((h) => (tty ? pc.bold(h) : h)),
    style: { head: [], border: [], compact: true, 'padding-left': 0, 'padding-right': 2 },
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '',
    },
  })
  for (const r of rows) t.push(r.map(String))
  return t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
}

const stateColours: Record<string, (s: string) => string> = {
  online: pc.green,
  up: pc.green,
  quorate: pc.green,
  offline: pc.dim,
  pending: pc.yellow,
  partial: pc.yellow,
  paused: pc.yellow,
  joining: pc.yellow,
  failed: pc.red,
  down: pc.red,
  'no-quorum': pc.red,
  evicted: pc.red,
}

export function state(s: string): string {
  return process.stdout.isTTY === true ? (stateColours[s] ?? ((x: string) => x))(s) : s
}

export function line(text = ''): void {
  process.stdout.write(`${text}\n`)
}
