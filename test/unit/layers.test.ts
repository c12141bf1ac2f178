/**
 * Dependencies point down the layers only. layers.json (beside this file, the project's layer
 * spec) names the parts of src/, the arrows that the design draws between them and the pairs
 * that must never import each other; every import in src/, type-only ones included, is held
 * against it: no import may run along a `never`, none may run back up a chain of drawn arrows,
 * and the parts' imports form no loop. Every file of src/ stands in exactly one part.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  importGraph,
  repo,
  resolveSpecifier,
  type SourceModule,
  scanImports,
} from '../support/importGraph.ts'

interface Layers {
  parts: Record<string, { is: string[]; says: string }>
  arrows: [string, string][]
  never: [string, string, string][]
}

const layers = JSON.parse(readFileSync(join(repo, 'test/unit/layers.json'), 'utf8')) as Layers

/** The part a file stands in (the longest folder that holds it), or null. */
function partOf(spec: Layers, file: string): string | null {
  let best: string | null = null
  let bestLength = 0
  for (const [name, part] of Object.entries(spec.parts))
    for (const folder of part.is)
      if (file.startsWith(folder) && folder.length > bestLength) {
        best = name
        bestLength = folder.length
      }
  return best
}

/** The drawn arrows from `from` to `to`, as a chain of parts, or null when none leads there. */
function arrowPath(spec: Layers, from: string, to: string): string[] | null {
  const seen = new Set([from])
  const queue: string[][] = [[from]]
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    for (const [a, b] of spec.arrows) {
      if (a !== path.at(-1) || seen.has(b)) continue
      if (b === to) return [...path, b]
      seen.add(b)
      queue.push([...path, b])
    }
  }
  return null
}

/** Every import between two parts that the spec forbids, and every file on no part. */
function layerFindings(spec: Layers, modules: Iterable<SourceModule>): string[] {
  const findings: string[] = []
  for (const m of modules) {
    const from = partOf(spec, m.file)
    if (from === null) {
      findings.push(`${m.file}: on no part of layers.json`)
      continue
    }
    for (const i of m.imports) {
      if (i.target === null || !i.target.startsWith('src/')) continue
      const to = partOf(spec, i.target)
      if (to === null || to === from) continue // the importing side of a file on no part is reported above
      const where = `${m.file}:${i.line} ${from} -> ${to} (${i.target})`
      const never = spec.never.find(([a, b]) => a === from && b === to)
      const up = arrowPath(spec, to, from)
      if (never !== undefined) findings.push(`${where}: never, "${never[2]}"`)
      else if (up !== null) findings.push(`${where}: runs back up the drawn arrows ${up.join(' -> ')}`)
    }
  }
  return findings
}

/** The loops in the parts' import graph, each as its chain of parts (first part repeated at the end). */
function partLoops(spec: Layers, modules: Iterable<SourceModule>): string[] {
  const edges = new Map<string, Set<string>>()
  for (const m of modules) {
    const from = partOf(spec, m.file)
    for (const i of m.imports) {
      const to = i.target === null ? null : partOf(spec, i.target)
      if (from === null || to === null || to === from) continue
      edges.set(from, (edges.get(from) ?? new Set()).add(to))
    }
  }
  const loops = new Set<string>()
  const walk = (path: string[]): void => {
    for (const next of [...(edges.get(path.at(-1)!) ?? [])].sort()) {
      const at = path.indexOf(next)
      if (at >= 0) {
        // Name each loop once, from its smallest part.
        const loop = path.slice(at)
        const start = loop.indexOf([...loop].sort()[0]!)
        const turned = [...loop.slice(start), ...loop.slice(0, start)]
        loops.add([...turned, turned[0]].join(' -> '))
      } else walk([...path, next])
    }
  }
  for (const part of [...edges.keys()].sort()) walk([part])
  return [...loops].sort()
}

describe('layers', () => {
  const graph = importGraph('src')
  const modules = [...graph.values()]

  it('reads a real graph: every part holds files, and every relative import names a file of the tree', () => {
    expect(modules.length).toBeGreaterThan(100)
    for (const [name, part] of Object.entries(layers.parts))
      expect(
        modules.some((m) => part.is.some((folder) => m.file.startsWith(folder))),
        `${name} holds no file`,
      ).toBe(true)
    const unresolved = modules.flatMap((m) =>
      m.imports
        .filter((i) => i.target !== null && !graph.has(i.target) && !i.target.endsWith('.css'))
        .map((i) => `${m.file}:${i.line} ${i.specifier}`),
    )
    expect(unresolved).toEqual([])
    // The known imports are among them (a scan that found none would pass everything).
    expect(graph.get('src/runtime/quorumFor.ts')?.imports.map((i) => i.target)).toContain(
      'src/consensus/raftCore.ts',
    )
  })

  it('every import in src/ keeps to layers.json', () => {
    expect(layerFindings(layers, modules)).toEqual([])
  })

  it('the parts import each other in no loop', () => {
    expect(partLoops(layers, modules)).toEqual([])
  })

  it('follows every import: the only computed import() is the launcher handing over to main', () => {
    expect(modules.filter((m) => m.computedImports.length > 0).map((m) => m.file)).toEqual([
      'src/cli/launcher.ts',
    ])
  })
})

describe('the layer rule itself', () => {
  const spec: Layers = {
    parts: {
      Top: { is: ['src/top/'], says: '' },
      Middle: { is: ['src/middle/'], says: '' },
      Low: { is: ['src/low/'], says: '' },
      Side: { is: ['src/side/'], says: '' },
    },
    arrows: [
      ['Top', 'Middle'],
      ['Middle', 'Low'],
    ],
    never: [['Side', 'Top', 'side knows no top']],
  }
  const mod = (file: string, ...targets: string[]): SourceModule => ({
    file,
    imports: targets.map((target, n) => ({ specifier: target, target, line: n + 1, typeOnly: false })),
    computedImports: [],
  })

  it('lets imports run down the arrows, past them, and to parts the arrows do not order', () => {
    const modules = [
      mod('src/top/a.ts', 'src/middle/b.ts', 'src/low/c.ts', 'src/side/d.ts'),
      mod('src/low/c.ts', 'src/side/d.ts', 'src/low/e.ts'),
    ]
    expect(layerFindings(spec, modules)).toEqual([])
    expect(partLoops(spec, modules)).toEqual([])
  })

  it('reports a never, an import back up a chain of arrows, a file on no part, and loops', () => {
    const modules = [
      mod('src/side/d.ts', 'src/top/a.ts'),
      mod('src/low/c.ts', 'src/top/a.ts'),
      mod('src/top/a.ts', 'src/low/c.ts'),
      mod('src/elsewhere/x.ts', 'src/low/c.ts'),
    ]
    expect(layerFindings(spec, modules)).toEqual([
      'src/side/d.ts:1 Side -> Top (src/top/a.ts): never, "side knows no top"',
      'src/low/c.ts:1 Low -> Top (src/top/a.ts): runs back up the drawn arrows Top -> Middle -> Low',
      'src/elsewhere/x.ts: on no part of layers.json',
    ])
    expect(partLoops(spec, modules)).toEqual(['Low -> Top -> Low'])
  })
})

describe('the import scanner itself', () => {
  it('reads static imports, re-exports, side effects and literal import() calls, with lines', () => {
    const sample = [
      "import { a, type B } from './a.ts'",
      "import type { C } from '../c.ts'",
      'import {',
      '  d,',
      '  e as f,',
      "} from 'zod'",
      "import 'node:fs'",
      "export * from './g.ts'",
      "export type { H } from './h.ts'",
      "import pino, { type Logger } from 'pino'",
      "const m = await import('./m.ts')",
      'const n = await import(`./n.ts`)',
    ].join('\n')
    const found = scanImports('src/x/y.ts', sample)
    expect(found.imports.map((i) => `${i.line}:${i.specifier}:${i.typeOnly ? 'type' : 'value'}`)).toEqual([
      '1:./a.ts:value',
      '2:../c.ts:type',
      '3:zod:value',
      '7:node:fs:value',
      '8:./g.ts:value',
      '9:./h.ts:type',
      '10:pino:value',
      '11:./m.ts:value',
      '12:./n.ts:value',
    ])
    expect(found.imports.map((i) => i.target)).toEqual([
      'src/x/a.ts',
      'src/c.ts',
      null,
      null,
      'src/x/g.ts',
      'src/x/h.ts',
      null,
      'src/x/m.ts',
      'src/x/n.ts',
    ])
    expect(found.computedImports).toEqual([])
  })

  it('ignores comments, strings that are not imports, and import.meta; reports computed import()', () => {
    const sample = [
      "// import { x } from './commented.ts'",
      "/* export * from './block.ts' */",
      "const s = 'import from nowhere'",
      'const here = import.meta.url',
      'export const exported = 1',
      'const main = await import(here)',
    ].join('\n')
    const found = scanImports('src/x/y.ts', sample)
    expect(found.imports).toEqual([])
    expect(found.computedImports).toEqual([6])
  })

  it('resolves relative specifiers to files of the repository and leaves packages alone', () => {
    expect(resolveSpecifier('src/mesh/mesh.ts', '../errors/assert.ts')).toBe('src/errors/assert.ts')
    expect(resolveSpecifier('src/mesh/mesh.ts', '@libp2p/tcp')).toBeNull()
    expect(resolveSpecifier('src/mesh/mesh.ts', 'node:fs')).toBeNull()
  })
})
