/**
 * The consensus cores, the cluster database, the failover logic and the quorum disk's protocol are pure: time, randomness
 * and I/O come in as inputs. Biome enforces most of that for src/; this test is the second line
 * that also catches what a lint override could miss (a moved folder, a disabled rule).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const pureDirs = ['src/consensus', 'src/database', 'src/failover', 'src/quorum']

const forbiddenTokens: [string, RegExp][] = [
  ['Math.random', /\bMath\s*\.\s*random\b/],
  ['Date.now', /\bDate\s*\.\s*now\b/],
  ['new Date', /\bnew\s+Date\b/],
  ['setTimeout', /\bsetTimeout\b/],
  ['setInterval', /\bsetInterval\b/],
  ['performance.now', /\bperformance\s*\.\s*now\b/],
  ['process.', /(?<![\w$])process\s*\./],
]
const forbiddenModules = ['fs', 'net', 'child_process', 'crypto', 'timers']

/**
 * Replaces comments with spaces (keeping line breaks, so line numbers stay right) and leaves
 * code and string literals as they are. Knows enough of the lexical grammar for our sources:
 * quotes, template literals with `${}` nesting, line and block comments. A `/` that starts a
 * regular expression literal is treated as code, which is fine: no pattern here contains `//`
 * or `/*` outside a character class in the scanned files.
 */
function stripComments(source: string): string {
  let out = ''
  let i = 0
  const braceStack: ('code' | 'template')[] = []
  const blank = (s: string) => s.replace(/[^\n]/g, ' ')
  const readTemplate = (): void => {
    // At a backtick or at the `}` that closes a `${`: read up to the end or the next `${`.
    while (i < source.length) {
      const ch = source[i]!
      if (ch === '\\') {
        out += source.slice(i, i + 2)
        i += 2
      } else if (ch === '`') {
        out += ch
        i++
        return
      } else if (ch === '$' && source[i + 1] === '{') {
        out += '${'
        i += 2
        braceStack.push('template')
        return
      } else {
        out += ch
        i++
      }
    }
  }
  while (i < source.length) {
    const ch = source[i]!
    const next = source[i + 1]
    if (ch === '/' && next === '/') {
      const end = source.indexOf('\n', i)
      const stop = end === -1 ? source.length : end
      out += blank(source.slice(i, stop))
      i = stop
    } else if (ch === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      const stop = end === -1 ? source.length : end + 2
      out += blank(source.slice(i, stop))
      i = stop
    } else if (ch === "'" || ch === '"') {
      let j = i + 1
      while (j < source.length && source[j] !== ch && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1
      out += source.slice(i, j + 1)
      i = j + 1
    } else if (ch === '`') {
      out += ch
      i++
      readTemplate()
    } else if (ch === '{') {
      braceStack.push('code')
      out += ch
      i++
    } else if (ch === '}') {
      const kind = braceStack.pop()
      out += ch
      i++
      if (kind === 'template') readTemplate()
    } else {
      out += ch
      i++
    }
  }
  return out
}

interface Finding {
  file: string
  line: number
  what: string
}

/** Forbidden globals and I/O imports in one source text (comments ignored). */
function findImpurities(file: string, source: string): Finding[] {
  const code = stripComments(source)
  const lines = code.split('\n')
  const findings: Finding[] = []
  const moduleAlternatives = forbiddenModules.join('|')
  const importPattern = new RegExp(
    String.raw`(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"](?:node:)?(${moduleAlternatives})(?:/[\w/]*)?['"]`,
  )
  for (const [n, line] of lines.entries()) {
    for (const [what, pattern] of forbiddenTokens) {
      if (pattern.test(line)) findings.push({ file, line: n + 1, what })
    }
    const m = importPattern.exec(line)
    if (m !== null) findings.push({ file, line: n + 1, what: `import of node:${m[1]}` })
  }
  // A side-effect import split over lines (`import\n  'node:fs'`) is caught on the joined text too.
  const joined = new RegExp(importPattern.source, 'g')
  for (const m of code.replace(/\s+/g, ' ').matchAll(joined)) {
    if (!findings.some((f) => f.what === `import of node:${m[1]}`)) {
      findings.push({ file, line: 0, what: `import of node:${m[1]}` })
    }
  }
  return findings
}

function tsFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...tsFiles(path))
    else if (entry.isFile() && entry.name.endsWith('.ts')) out.push(path)
  }
  return out.sort()
}

describe('pure cores', () => {
  const files = pureDirs.flatMap((d) => tsFiles(join(repo, d)))

  it('scans a real set of files in each pure folder', () => {
    expect(files.length).toBeGreaterThanOrEqual(5)
    for (const d of pureDirs) {
      expect(
        files.some((f) => f.startsWith(join(repo, d))),
        `${d} holds no .ts file`,
      ).toBe(true)
    }
    // The known cores are among them (the scan walks subfolders too).
    for (const f of [
      'src/consensus/raftCore.ts',
      'src/consensus/quorum/voteMath.ts',
      'src/database/clusterDatabase.ts',
      'src/failover/groupReconciler.ts',
    ]) {
      expect(files).toContain(join(repo, f))
    }
  })

  it('uses no clock, timer, randomness, process or I/O module', () => {
    const findings = files.flatMap((f) => findImpurities(relative(repo, f), readFileSync(f, 'utf8')))
    expect(findings).toEqual([])
  })
})

describe('the matcher itself', () => {
  it('reports Math.random() in code', () => {
    expect(findImpurities('x.ts', 'const id = Math.random()\n')).toEqual([
      { file: 'x.ts', line: 1, what: 'Math.random' },
    ])
  })

  it('reports every forbidden token and module, with line numbers', () => {
    const sample = [
      "import { readFileSync } from 'node:fs'",
      "import * as net from 'node:net'",
      "import { spawn } from 'child_process'",
      "const c = await import('node:crypto')",
      "import { setTimeout as sleep } from 'node:timers/promises'",
      'const t = Date.now()',
      'const d = new Date()',
      'setTimeout(f, 1)',
      'setInterval(f, 1)',
      'const p = performance.now()',
      'const e = process.env.HOME',
      "const fsp = require('node:fs/promises')",
    ].join('\n')
    const found = findImpurities('s.ts', sample).map((f) => `${f.line}:${f.what}`)
    expect(found).toEqual([
      '1:import of node:fs',
      '2:import of node:net',
      '3:import of node:child_process',
      '4:import of node:crypto',
      '5:setTimeout',
      '5:import of node:timers',
      '6:Date.now',
      '7:new Date',
      '8:setTimeout',
      '9:setInterval',
      '10:performance.now',
      '11:process.',
      '12:import of node:fs',
    ])
  })

  it('ignores comments, including doc comments that name the forbidden things', () => {
    const sample = [
      '/**',
      ' * Pure: no Math.random inside, no Date.now, no process.env, nothing from node:fs.',
      " * import { x } from 'node:fs'",
      ' */',
      'const a = 1 // not Math.random() either; setTimeout is for the runtime',
      '/* new Date() */ const b = 2',
    ].join('\n')
    expect(findImpurities('c.ts', sample)).toEqual([])
    // ...but code after a block comment on the same line is still seen.
    expect(findImpurities('c.ts', '/* ok */ const x = Math.random()').map((f) => f.what)).toEqual([
      'Math.random',
    ])
  })

  it('does not mistake strings or templates holding // for comments', () => {
    const sample = [
      "const url = 'http://example.org'; const r = Math.random()",
      'const t = `a // §{"b"} // c`; Date.now()',
      'const u = `§{`nested // §{1}`}`; const p = process.pid',
    ]
      .join('\n')
      .replaceAll('§', '$') // template placeholders, spelled so that lint does not take them for mistakes
    expect(findImpurities('s.ts', sample).map((f) => `${f.line}:${f.what}`)).toEqual([
      '1:Math.random',
      '2:Date.now',
      '3:process.',
    ])
  })

  it('does not flag look-alike names', () => {
    const sample = [
      'const subprocess = 1; subprocess.toString()',
      'const myDate = makeDate(); const nowDate = 2',
      "import { x } from './fsUtil.ts'",
      "import { y } from 'node:path'",
      'const setTimeoutMs = 5',
    ].join('\n')
    expect(findImpurities('l.ts', sample)).toEqual([])
  })

  it('stripComments keeps line structure and code', () => {
    const src = 'a /* x\ny */ b // z\nc'
    const out = stripComments(src)
    expect(out.split('\n')).toHaveLength(3)
    expect(out.replace(/\s+/g, ' ').trim()).toBe('a b c')
  })
})
