/**
 * The consensus cores, the cluster database, the failover logic and the quorum disk's protocol are pure: time, randomness
 * and I/O come in as inputs. Biome enforces most of that for src/; this test is the second line
 * that also catches what a lint override could miss (a moved folder, a disabled rule), and what
 * a rule per folder cannot see: a module elsewhere that a pure core imports, directly or
 * through others, is held to the same rules, and the packages they load must be known pure.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importGraph, repo, type SourceModule, stripComments } from '../support/importGraph.ts'

const pureDirs = ['src/consensus', 'src/database', 'src/failover', 'src/quorum']

/**
 * Packages a pure module may load (a type-only import loads nothing and needs no place here):
 * parsing and validation with no clock, randomness or I/O on the paths we call.
 */
const purePackages = new Map([
  ['zod', 'command and schema validation'],
  ['@libp2p/peer-id', 'parses a peer ID (membership/memberAddress.ts)'],
  ['@multiformats/multiaddr', 'parses a member address (membership/memberAddress.ts)'],
])

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
  const roots = files.map((f) => relative(repo, f).split('\\').join('/'))
  const graph = importGraph('src')

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

  it('and neither does any module they import, directly or through others', () => {
    const reached = pureClosure(graph, roots)
    // The walk leaves the pure folders (errors, member addresses), or it would prove nothing new.
    expect([...reached.keys()].filter((f) => !roots.includes(f)).length).toBeGreaterThan(0)
    const findings = [...reached].flatMap(([file, via]) =>
      findImpurities(file, readFileSync(join(repo, file), 'utf8')).map(
        (f) =>
          `${f.file}:${f.line} ${f.what}${via.length > 0 ? ` (via ${[...via].reverse().join(' -> ')})` : ''}`,
      ),
    )
    expect(findings).toEqual([])
  })

  it('loads no package that is not known pure', () => {
    const loads = [...pureClosure(graph, roots).keys()].flatMap((file) =>
      (graph.get(file)?.imports ?? [])
        .filter((i) => i.target === null && !i.typeOnly && !i.specifier.startsWith('node:'))
        .filter((i) => !purePackages.has(i.specifier))
        .map((i) => `${file}:${i.line} ${i.specifier}`),
    )
    expect(loads).toEqual([])
  })
})

/**
 * Every module of src/ that `roots` import, directly or indirectly (type-only imports too: a
 * pure core should not even name a type of an I/O module's), each with the chain of importers
 * back to a root (empty for the roots themselves).
 */
function pureClosure(graph: Map<string, SourceModule>, roots: string[]): Map<string, string[]> {
  const reached = new Map<string, string[]>(roots.map((r) => [r, []]))
  const queue = [...roots]
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const i of graph.get(file)?.imports ?? []) {
      if (i.target === null || reached.has(i.target) || !graph.has(i.target)) continue
      reached.set(i.target, [file, ...reached.get(file)!])
      queue.push(i.target)
    }
  }
  return reached
}

describe('the matcher itself', () => {
  it('follows imports through other modules, type-only ones too, and names the chain', () => {
    const mod = (file: string, ...imports: [string | null, boolean][]): SourceModule => ({
      file,
      imports: imports.map(([target, typeOnly], n) => ({
        specifier: target ?? 'pkg',
        target,
        line: n + 1,
        typeOnly,
      })),
      computedImports: [],
    })
    const graph = new Map(
      [
        mod('src/core/a.ts', ['src/base/b.ts', false], [null, false]),
        mod('src/base/b.ts', ['src/io/c.ts', true]),
        mod('src/io/c.ts'),
        mod('src/io/unreached.ts'),
      ].map((m) => [m.file, m]),
    )
    expect(Object.fromEntries(pureClosure(graph, ['src/core/a.ts']))).toEqual({
      'src/core/a.ts': [],
      'src/base/b.ts': ['src/core/a.ts'],
      'src/io/c.ts': ['src/base/b.ts', 'src/core/a.ts'],
    })
  })

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
