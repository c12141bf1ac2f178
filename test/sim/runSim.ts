/**
 * npm run sim -- --seeds N [--voters K] [--witness] [--seed S] [--verbose]
 *
 * Runs N seeded simulations (or replays one with --seed) and ends with one line:
 *   sim: <seeds> seeds, <steps> steps, <violations> violations
 * Without --voters/--witness each seed picks 3, 5 or 7 voters, with or without a witness,
 * equal or unequal weights, membership changes and dynamic quorum, from the seed itself.
 * A failure prints the seed, the violation and the last events; --seed S replays it exactly.
 */
import { Prng } from './prng.ts'
import { SimCluster, type SimConfig, type SimResult, simDefaults } from './simCluster.ts'

export interface SimArgs {
  seeds: number
  firstSeed: number
  voters: number | null
  witness: boolean | null
  verbose: boolean
  unsafe: SimConfig['unsafe']
  faultTicks: number | null
  faultRate: number
  maxEntriesPerAppend: number
  huntLeaders: boolean | null
}

/** The configuration a seed runs with: fixed by the flags given, drawn from the seed for the rest. */
export function configForSeed(
  seed: number,
  args: Pick<
    SimArgs,
    'voters' | 'witness' | 'unsafe' | 'faultTicks' | 'faultRate' | 'maxEntriesPerAppend' | 'huntLeaders'
  >,
): SimConfig {
  const r = new Prng(seed ^ 0x5eed)
  const voters = args.voters ?? r.pick([3, 5, 7])
  const witness = args.witness ?? r.chance(0.5)
  return {
    ...simDefaults,
    seed,
    voters,
    witness,
    unequalWeights: r.chance(0.25),
    membershipChanges: r.chance(0.35),
    dynamicQuorum: r.chance(0.35),
    spares: r.int(0, 2),
    faultTicks: args.faultTicks ?? simDefaults.faultTicks,
    faultRate: args.faultRate,
    maxEntriesPerAppend: args.maxEntriesPerAppend,
    huntLeaders: args.huntLeaders ?? r.chance(0.3),
    unsafe: args.unsafe,
  }
}

export function runSeed(
  seed: number,
  args: Pick<
    SimArgs,
    'voters' | 'witness' | 'unsafe' | 'faultTicks' | 'faultRate' | 'maxEntriesPerAppend' | 'huntLeaders'
  >,
): SimResult {
  return new SimCluster(configForSeed(seed, args)).run()
}

function parseArgs(argv: string[]): SimArgs {
  const args: SimArgs = {
    seeds: 100,
    firstSeed: 1,
    voters: null,
    witness: null,
    verbose: false,
    unsafe: {},
    faultTicks: null,
    faultRate: 1,
    maxEntriesPerAppend: 16,
    huntLeaders: null,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = Number(argv[++i])
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a whole number`)
      return v
    }
    if (a === '--seeds') args.seeds = value()
    else if (a === '--seed') {
      args.firstSeed = value()
      args.seeds = 1
    } else if (a === '--first-seed') args.firstSeed = value()
    else if (a === '--voters') args.voters = value()
    else if (a === '--witness') args.witness = true
    else if (a === '--no-witness') args.witness = false
    else if (a === '--fault-ticks') args.faultTicks = value()
    else if (a === '--fault-rate') args.faultRate = value()
    else if (a === '--max-append') args.maxEntriesPerAppend = value()
    else if (a === '--hunt-leaders') args.huntLeaders = true
    else if (a === '--verbose') args.verbose = true
    else if (a === '--unsafe') {
      const name = argv[++i] ?? ''
      if (
        ![
          'allowOldTermCommit',
          'ignoreWitnessMark',
          'skipWitnessUpToDateCheck',
          'sendBeforePersist',
        ].includes(name)
      ) {
        throw new Error(`unknown --unsafe switch ${name}`)
      }
      args.unsafe = { ...args.unsafe, [name]: true }
    } else throw new Error(`unknown argument ${a}`)
  }
  return args
}

function main(): void {
  let args: SimArgs
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (error) {
    process.stderr.write(`sim: ${(error as Error).message}\n`)
    process.exit(2)
  }
  let steps = 0
  let violations = 0
  let ops = 0
  let checked = 0
  let lost = 0
  let faults = 0
  const started = performance.now()
  for (let seed = args.firstSeed; seed < args.firstSeed + args.seeds; seed++) {
    const result = runSeed(seed, args)
    steps += result.steps
    ops += result.ops.total
    lost += result.storageLost
    faults += result.faults
    checked += result.counts.applied + result.counts.logMatching + result.counts.leaderCompleteness
    if (args.verbose) {
      const c = configForSeed(seed, args)
      process.stdout.write(
        `seed ${seed}: ${c.voters} voters${c.witness ? ' + witness' : ''}${c.membershipChanges ? ', membership' : ''}${c.dynamicQuorum ? ', dynamic' : ''}` +
          ` — ${result.steps} steps, ${result.faults} faults, ${result.ops.acked} acked writes, ${result.ops.reads} reads, recovery ${result.recoveryTicks ?? '-'} ticks${result.ok ? '' : ' VIOLATION'}\n`,
      )
    }
    if (!result.ok) {
      violations++
      process.stdout.write(
        `\nseed ${seed} VIOLATION: ${result.violation}\n  replay: npm run sim -- --seed ${seed}${args.voters === null ? '' : ` --voters ${args.voters}`}${args.witness === null ? '' : args.witness ? ' --witness' : ' --no-witness'}\n  last events:\n`,
      )
      for (const line of result.trace) process.stdout.write(`    ${line}\n`)
    }
  }
  const seconds = (performance.now() - started) / 1000
  if (args.verbose) {
    process.stdout.write(
      `(${faults} faults, ${lost} nodes lost to corrupt storage, ${ops} client operations, ${checked} invariant checks, ${seconds.toFixed(1)} s)\n`,
    )
  }
  process.stdout.write(`sim: ${args.seeds} seeds, ${steps} steps, ${violations} violations\n`)
  process.exitCode = violations === 0 ? 0 : 1
}

if (import.meta.url === `file://${process.argv[1]}`) main()
