/**
 * `geocluster validate` on a topology with a quorum tie-breaker: the text and the --json
 * document say which side keeps quorum in a 50/50 split, and a tie-breaker naming a site or node
 * the file lacks is a configuration error (exit 2) naming the file, the field and the problem.
 * Runs the CLI only; no cluster is started.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanUp, runCli, tempDir } from '../support/processes.ts'

afterAll(async () => {
  await cleanUp()
})

/** sites/two-sites-witness.yaml with `tieBreaker` added to its quorum block. */
function withTieBreaker(tieBreaker: string): string {
  const example = readFileSync('sites/two-sites-witness.yaml', 'utf8')
  const text = example.replace('  dynamic: true\n', `  dynamic: true\n  tieBreaker: ${tieBreaker}\n`)
  expect(text).not.toBe(example)
  const file = join(tempDir(), 'tie.yaml')
  writeFileSync(file, text)
  return file
}

describe('validate and quorum.tieBreaker', () => {
  it('says which site keeps quorum in a 2+2 split, in text and in --json', async () => {
    const file = withTieBreaker('{ preferSite: phoenix }')
    const text = await runCli(['validate', '--config', file])
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toMatch(
      /\n {2}a 2\+2 split \(site atlanta \| site phoenix\) after the witness was lost: site phoenix keeps quorum \(tieBreaker\.preferSite phoenix\)\n/,
    )
    const json = await runCli(['validate', '--config', file, '--json'])
    expect(json.code, json.stderr).toBe(0)
    const doc = JSON.parse(json.stdout)
    expect(doc.tieBreaker).toEqual({ preferSite: 'phoenix' })
    expect(doc.survives.evenSplits).toEqual([
      expect.objectContaining({
        sides: [['atlanta'], ['phoenix']],
        votes: [2, 2],
        witness: 'lost',
        survivor: ['phoenix'],
        decidedBy: 'tieBreaker.preferSite',
      }),
    ])
  })

  it('a lower-priority node: the other site keeps quorum', async () => {
    const r = await runCli(['validate', '--config', withTieBreaker('{ lowerPriorityNode: phx-1 }')])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/: site atlanta keeps quorum \(tieBreaker\.lowerPriorityNode phx-1\)\n/)
  })

  it('refuses a site it does not have with exit 2, naming file, field and problem', async () => {
    const file = withTieBreaker('{ preferSite: denver }')
    const r = await runCli(['validate', '--config', file])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      `${file}: quorum.tieBreaker.preferSite: no site 'denver' with nodes (sites: atlanta, phoenix) (line 10)\n`,
    )
  })
})
