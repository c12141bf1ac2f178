/**
 * The import graph of src/, for the tests that guard the architecture (layers.test.ts,
 * pureCores.test.ts): every static import and re-export (type-only ones marked), every
 * `import('…')` whose module is a literal, and the `import(…)` calls whose module is computed,
 * which no rule can follow. A static scan of the source text with comments blanked out:
 * TypeScript 7's compiler is a native binary without a JavaScript parser API to load here.
 * It knows enough of the lexical grammar for our sources; a match it makes up would name a
 * file that does not exist, which the layer test refuses.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

export const repo = fileURLToPath(new URL('../..', import.meta.url))

export interface ModuleImport {
  /** The module as written (`../errors/assert.ts`, `node:fs`, `zod`). */
  specifier: string
  /** For a relative specifier: the file it names, relative to the repository; null for a package or builtin. */
  target: string | null
  line: number
  /** `import type` / `export type`: erased from the JavaScript, so nothing of the module runs. */
  typeOnly: boolean
}

export interface SourceModule {
  /** Relative to the repository, with forward slashes. */
  file: string
  imports: ModuleImport[]
  /** Lines of `import(…)` calls whose module is computed. */
  computedImports: number[]
}

/**
 * Replaces comments with spaces (keeping line breaks, so line numbers stay right) and leaves
 * code and string literals as they are. Knows enough of the lexical grammar for our sources:
 * quotes, template literals with `${}` nesting, line and block comments. A `/` that starts a
 * regular expression literal is treated as code, which is fine: no pattern here contains `//`
 * or `/*` outside a character class in the scanned files.
 */
export function stripComments(source: string): string {
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

/** `import x from 'm'`, `import { a, type b } from 'm'`, `import 'm'`, `export * from 'm'`, `export type { T } from 'm'`. */
const staticImport = /(?<![\w$.])(import|export)\s+(type\s+)?(?:[\w$*{},\s]+?\s*from\s*)?(['"])([^'"\n]+)\3/g
const literalDynamicImport = /(?<![\w$.])import\s*\(\s*(['"`])([^'"`$\n]+)\1\s*\)/g
const anyDynamicImport = /(?<![\w$.])import\s*\(/g

/** The imports of one source text (comments ignored); `file` is relative to the repository. */
export function scanImports(file: string, source: string): Omit<SourceModule, 'file'> {
  const code = stripComments(source)
  const lineAt = (offset: number) => code.slice(0, offset).split('\n').length
  const imports: ModuleImport[] = []
  const literalAt = new Set<number>()
  for (const m of code.matchAll(staticImport)) {
    const specifier = m[4]!
    imports.push({
      specifier,
      target: resolveSpecifier(file, specifier),
      line: lineAt(m.index),
      typeOnly: m[2] !== undefined,
    })
  }
  for (const m of code.matchAll(literalDynamicImport)) {
    literalAt.add(m.index)
    const specifier = m[2]!
    imports.push({
      specifier,
      target: resolveSpecifier(file, specifier),
      line: lineAt(m.index),
      typeOnly: false,
    })
  }
  const computedImports = [...code.matchAll(anyDynamicImport)]
    .filter((m) => !literalAt.has(m.index))
    .map((m) => lineAt(m.index))
  imports.sort((a, b) => a.line - b.line)
  return { imports, computedImports }
}

/** The file a relative specifier names (relative to the repository), or null for a package or builtin. */
export function resolveSpecifier(fromFile: string, specifier: string): string | null {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null
  const base = join(dirname(fromFile), specifier)
  const candidates = [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]
  const found = candidates.find((c) => existsSync(join(repo, c)) && statSync(join(repo, c)).isFile())
  return toPosix(found ?? base)
}

/** TypeScript sources under `dir` (relative to the repository), sorted. */
export function sourceFiles(dir = 'src'): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const entry of readdirSync(join(repo, d), { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile() && /\.(ts|tsx|mts)$/.test(entry.name)) out.push(toPosix(path))
    }
  }
  walk(dir)
  return out.sort()
}

/** Every source module under `dir` with its imports, by file. */
export function importGraph(dir = 'src'): Map<string, SourceModule> {
  const graph = new Map<string, SourceModule>()
  for (const file of sourceFiles(dir)) {
    graph.set(file, { file, ...scanImports(file, readFileSync(join(repo, file), 'utf8')) })
  }
  return graph
}

function toPosix(path: string): string {
  return path.split(sep).join('/')
}
