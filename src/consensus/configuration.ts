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

export function decodeConfiguration(data: Uint8Array): Configuration {
  const config = JSON.parse(decoder.decode(data)) as Configuration
  const problem = configurationProblem(config)
  assert(problem === null, () => `configuration entry is invalid: ${problem}`)
  return config
}

/** A plain configuration (epoch 0, not joint) where every member votes with its base weight. */
export function initialConfiguration(base: WeightTable, witness: NodeId | null = null): Configuration {
  return { epoch: 0, forced: false, incoming: { ...base }, outgoing: null, base: { ...base }, witness }
}
