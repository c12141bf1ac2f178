/** Configuration entries: JSON in the log, checked on the way in and out. */
import { assert } from '../errors/assert.ts'
import { configurationProblem } from './quorum/jointQuorum.ts'
import type { Configuration, NodeId, WeightTable } from './types.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodeConfiguration(config: Configuration): Uint8Array {
  const problem = configurationProblem(config)
  assert(problem === null, () => `refusing to write an invalid configuration: ${problem}`)
  return encoder.encode(JSON.stringify(config))
}

const isTable = (t: unknown): boolean => typeof t === 'object' && t !== null && !Array.isArray(t)

/** What makes a parsed value not a `Configuration` at all (configurationProblem checks the weights). */
function shapeProblem(c: unknown): string | null {
  if (!isTable(c)) return 'not an object'
  const x = c as Record<string, unknown>
  if (typeof x.epoch !== 'number' || !Number.isSafeInteger(x.epoch) || x.epoch < 0)
    return `epoch is ${JSON.stringify(x.epoch)}`
  if (typeof x.forced !== 'boolean') return `forced is ${JSON.stringify(x.forced)}`
  if (x.epochId !== undefined && (typeof x.epochId !== 'string' || x.epochId.length > 200))
    return `epochId is ${JSON.stringify(x.epochId)}`
  if (x.unconfirmed !== undefined && typeof x.unconfirmed !== 'boolean')
    return `unconfirmed is ${JSON.stringify(x.unconfirmed)}`
  if (!isTable(x.incoming) || !isTable(x.base) || (x.outgoing !== null && !isTable(x.outgoing))) {
    return 'incoming, base and outgoing (or null) must be objects'
  }
  if (x.witness !== null && typeof x.witness !== 'string') return `witness is ${JSON.stringify(x.witness)}`
  return null
}

export function decodeConfiguration(data: Uint8Array): Configuration {
  const raw: unknown = JSON.parse(decoder.decode(data))
  const shape = shapeProblem(raw)
  assert(shape === null, () => `configuration entry is invalid: ${shape}`)
  const config = raw as Configuration
  const problem = configurationProblem(config)
  assert(problem === null, () => `configuration entry is invalid: ${problem}`)
  return config
}

/** Who an epoch is: its number and identity ('' for the bootstrap history). */
export interface EpochIdentity {
  epoch: number
  epochId: string
  unconfirmed: boolean
}

export function epochOf(c: Configuration): EpochIdentity {
  return { epoch: c.epoch, epochId: c.epochId ?? '', unconfirmed: c.unconfirmed === true }
}

/** How an epoch is shown to people: `3 (atl-1/9f2c, unconfirmed)`. */
export function describeEpoch(e: EpochIdentity): string {
  if (e.epochId === '') return `${e.epoch}`
  return `${e.epoch} (${e.epochId}${e.unconfirmed ? ', unconfirmed' : ''})`
}

/** A plain configuration (epoch 0, not joint) where every member votes with its base weight. */
export function initialConfiguration(base: WeightTable, witness: NodeId | null = null): Configuration {
  return { epoch: 0, forced: false, incoming: { ...base }, outgoing: null, base: { ...base }, witness }
}
