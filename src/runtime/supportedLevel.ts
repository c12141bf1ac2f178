/**
 * The highest cluster functional level this node supports (database/functionalLevel.ts): this
 * build's, unless the test-only variable GEOCLUSTER_TEST_MAX_LEVEL lowers it, so that a test can
 * run this tree as an older release beside the current one (a rolling upgrade for real). It is
 * read here, in the runtime, and handed to the pure parts.
 */
import { functionalLevelMax } from '../database/functionalLevel.ts'
import { GeoclusterError } from '../errors/errors.ts'

/** TEST ONLY: makes this node advertise and accept functional levels up to this one only. */
export const testMaxLevelVariable = 'GEOCLUSTER_TEST_MAX_LEVEL'

export function supportedLevelFrom(env: NodeJS.ProcessEnv): number {
  const raw = env[testMaxLevelVariable]
  if (raw === undefined || raw === '') return functionalLevelMax
  const level = Number(raw)
  if (!/^\d+$/.test(raw) || level < 1 || level > functionalLevelMax)
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `${testMaxLevelVariable}=${raw.slice(0, 32)}: expected a functional level from 1 to ${functionalLevelMax} (a test-only setting: leave it unset)`,
      { path: testMaxLevelVariable },
    )
  return level
}
