/**
 * Reads and checks a topology file. Every problem is reported as `file: field.path: problem
 * (line N)`, all of them at once, so an operator fixes the file in one pass.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml'
import type { z } from 'zod'
import { GeoclusterError } from '../errors/errors.ts'
import {
  formatPath,
  type Topology,
  type TopologyProblem,
  topologyProblems,
  topologySchema,
} from './topologySchema.ts'

export interface LoadedTopology {
  file: string
  topology: Topology
  /** Directory of the file: relative paths in it (the secret) resolve from here. */
  baseDir: string
}

export class TopologyError extends GeoclusterError {
  readonly problems: string[]

  constructor(problems: string[]) {
    super('GC_ERR_CONFIG', problems.join('\n'))
    this.name = 'TopologyError'
    this.problems = problems
  }
}

export function loadTopology(file: string): LoadedTopology {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    throw new TopologyError([`${file}: cannot read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`])
  }
  return { file, topology: parseTopology(file, text), baseDir: dirname(resolve(file)) }
}

export function parseTopology(file: string, text: string): Topology {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    throw new TopologyError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0])
        return `${file}: ${pos === undefined ? '' : `line ${pos.line}, column ${pos.col}: `}${e.message.split('\n')[0]}`
      }),
    )
  }
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    // The deepest node that exists along the path: a missing field points at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as YamlNode | undefined
      if (node !== undefined && (isMap(node) || isSeq(node) || isScalar(node)) && node.range) {
        return lineCounter.linePos(node.range[0]).line
      }
    }
    return undefined
  }
  const describe = (p: TopologyProblem) => {
    const line = lineOf(p.path)
    return `${file}: ${formatPath(p.path)}: ${p.message}${line === undefined ? '' : ` (line ${line})`}`
  }
  const raw: unknown = doc.toJS()
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new TopologyError([`${file}: (top level): expected a mapping with cluster, quorum and sites`])
  }
  const parsed = topologySchema.safeParse(raw, { reportInput: true })
  if (!parsed.success) throw new TopologyError(parsed.error.issues.flatMap(toProblems).map(describe))
  const problems = topologyProblems(parsed.data)
  if (problems.length > 0) throw new TopologyError(problems.map(describe))
  return parsed.data
}

/** Rephrases zod's issues for operators: "missing", "unknown field", "expected one of". */
function toProblems(issue: z.core.$ZodIssue): TopologyProblem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return [{ path, message: 'required field is missing' }]
      return [{ path, message: `expected ${issue.expected}, got ${describeValue(issue.input)}` }]
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({ path: [...path, k], message: 'unknown field' }))
    case 'invalid_value':
      return [
        {
          path,
          message: `expected one of ${issue.values.map((v) => String(v)).join(' | ')}, got ${describeValue(issue.input)}`,
        },
      ]
    default:
      return [{ path, message: issue.message }]
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return `'${v}'`
  return `${typeof v} ${String(v)}`
}
