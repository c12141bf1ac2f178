/**
 * Reading a probe file (test/support/probe.ts): who ran when, under which fencing token, and
 * whether two owners ever overlapped.
 */
import { existsSync, readFileSync } from 'node:fs'

export interface ProbeLine {
  node: string
  token: number
  ms: number
  resource: string
}

/** One owner's uninterrupted run: the same node and token, first to last line. */
export interface Episode {
  node: string
  token: number
  from: number
  to: number
  lines: number
}

export function readProbe(file: string): ProbeLine[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [node, token, ms, resource] = l.split(' ')
      return { node: node!, token: Number(token), ms: Number(ms), resource: resource ?? '' }
    })
}

/** Episodes in time order (by their first line). */
export function episodes(lines: readonly ProbeLine[]): Episode[] {
  const byOwner = new Map<string, Episode>()
  for (const l of lines) {
    const key = `${l.node}:${l.token}`
    const e = byOwner.get(key)
    if (e === undefined) byOwner.set(key, { node: l.node, token: l.token, from: l.ms, to: l.ms, lines: 1 })
    else {
      e.from = Math.min(e.from, l.ms)
      e.to = Math.max(e.to, l.ms)
      e.lines++
    }
  }
  return [...byOwner.values()].sort((a, b) => a.from - b.from)
}

/** Pairs of owners whose runs overlapped in time (must be empty). */
export function overlaps(eps: readonly Episode[]): string[] {
  const out: string[] = []
  for (let i = 0; i < eps.length; i++) {
    for (let j = i + 1; j < eps.length; j++) {
      const a = eps[i]!
      const b = eps[j]!
      if (b.from <= a.to)
        out.push(
          `${a.node}@${a.token} [${a.from}, ${a.to}] overlaps ${b.node}@${b.token} [${b.from}, ${b.to}]`,
        )
    }
  }
  return out
}

/** Tokens in time order must strictly increase. */
export function tokensIncrease(eps: readonly Episode[]): boolean {
  return eps.every((e, i) => i === 0 || e.token > eps[i - 1]!.token)
}
