/**
 * The probe resource of the failover tests: every 20 ms it appends `node fencingToken
 * monotonicMs resource` to a shared file. CLOCK_MONOTONIC is one clock for every process on
 * the machine, so lines from different owners can be compared for overlap.
 *
 * Usage (as a generic-app command): node test/support/probe.ts FILE [LINGER_MS]
 * With LINGER_MS it goes on writing that long after SIGTERM, as an application that takes its
 * time to stop does (its stop timeout's SIGKILL may end it sooner).
 */
import { appendFileSync } from 'node:fs'

const file = process.argv[2]
if (file === undefined) {
  process.stderr.write('usage: probe.ts FILE\n')
  process.exit(2)
}
const line = () =>
  `${process.env.GEOCLUSTER_NODE} ${process.env.GEOCLUSTER_FENCING_TOKEN} ${Number(process.hrtime.bigint() / 1_000_000n)} ${process.env.GEOCLUSTER_RESOURCE}\n`
appendFileSync(file, line())
setInterval(() => appendFileSync(file, line()), 20)
const lingerMs = Number(process.argv[3] ?? 0)
process.on('SIGTERM', () => {
  if (lingerMs > 0) setTimeout(() => process.exit(0), lingerMs)
  else process.exit(0)
})
