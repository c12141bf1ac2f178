/**
 * Shell completion (`geocluster completion bash|zsh`), generated from the command tree: bash
 * itself runs the script and completes commands, subcommands and options.
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { bashCompletion, completionTable, zshCompletion } from '../../src/cli/commands/completionCommand.ts'
import { buildProgram } from '../../src/cli/program.ts'

const program = buildProgram()
const script = bashCompletion(program)

/** What bash offers after `words` (the last one being completed). */
function complete(...words: string[]): string[] {
  const r = spawnSync(
    'bash',
    [
      '-c',
      `${script}\nCOMP_WORDS=(geocluster ${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length}; _geocluster; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    { encoding: 'utf8' },
  )
  expect(r.status, r.stderr).toBe(0)
  return r.stdout.split('\n').filter((l) => l !== '')
}

describe('shell completion', () => {
  it('knows every command and its options', () => {
    const table = completionTable(program)
    expect(table.get('')).toEqual(
      expect.arrayContaining(['status', 'group', 'node', 'validate', 'completion', '--version']),
    )
    expect(table.get('group')).toEqual(expect.arrayContaining(['create', 'move', 'online']))
    expect(table.get('status')).toEqual(expect.arrayContaining(['--watch', '--interval', '--json', '--api']))
  })

  it('completes in bash: commands, subcommands, options', () => {
    expect(complete('gr')).toEqual(['group'])
    expect(complete('group', 'cr')).toEqual(['create'])
    expect(complete('status', '--w')).toEqual(['--watch'])
    expect(complete('events', '--au')).toEqual(['--audit'])
    expect(complete('node', 'dr')).toEqual(['drain'])
  })

  it('zsh gets the same through bashcompinit', () => {
    const z = zshCompletion(program)
    expect(z).toMatch(/^# geocluster completion for zsh/)
    expect(z).toContain('bashcompinit')
    expect(z).toContain('complete -o default -F _geocluster geocluster')
  })
})

describe('--help', () => {
  it('shows at least one example on every command', () => {
    const missing: string[] = []
    const walk = (c: typeof program, path: string[]) => {
      if (c.commands.length === 0) {
        const out: string[] = []
        c.configureOutput({ writeOut: (s: string) => out.push(s) })
        c.outputHelp()
        const help = out.join('')
        if (!/\nExamples?:\n {2}\S/.test(help) || !help.includes('geocluster')) missing.push(path.join(' '))
      }
      for (const s of c.commands) walk(s as typeof program, [...path, s.name()])
    }
    walk(program, [])
    expect(missing).toEqual([])
  })
})
