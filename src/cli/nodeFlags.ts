/**
 * The V8 flags a long-running geocluster process runs with, and the re-exec that applies them.
 *
 * `--max-semi-space-size=2` (MiB): V8 reserves up to 16 MiB per semi-space for the young
 * generation by default, and a node's young objects (messages, frames, entries) die within a
 * tick: a small nursery keeps about 28 MB out of an idle node's RSS (BENCHMARKS.md) for a few
 * more scavenges, each cheap since little survives.
 * Not `--optimize-for-size`: it saves about 10 MB of an idle node's RSS but costs a node under
 * writes 20-25 % more CPU per write (3 nodes on loopback, 32 writers, two A/B runs each: leader
 * 1.05-1.16 vs 1.36-1.39 ms, followers 0.47-0.51 vs 0.63-0.66 ms; 657-705 vs 513-541 writes/s).
 * V8 reads these only when the process starts, so a node, lab or witness started without them
 * replaces itself (same pid, same arguments) with one that has them, before anything else is
 * loaded. Imported first by main.ts.
 */
export const longRunningNodeFlags = ['--max-semi-space-size=2']

/** The commands that keep running (a node, the lab, a witness). */
function longRunning(args: string[]): boolean {
  const [first, second] = args
  return first === 'lab' || ((first === 'node' || first === 'witness') && second === 'start')
}

function applyNodeFlags(): void {
  // Set only across the re-exec below, as a guard against a loop: not for the node's children.
  const reexecuted = process.env.GEOCLUSTER_NODE_FLAGS_APPLIED === '1'
  delete process.env.GEOCLUSTER_NODE_FLAGS_APPLIED
  const missing = longRunningNodeFlags.filter((f) => !process.execArgv.includes(f))
  if (missing.length === 0 || !longRunning(process.argv.slice(2))) return
  // process.execve: Node 22.15 and later, POSIX only; elsewhere the node runs with V8's defaults.
  const execve = (process as { execve?: (file: string, args: string[], env: NodeJS.ProcessEnv) => never })
    .execve
  if (typeof execve !== 'function' || reexecuted) return
  execve(process.execPath, [process.execPath, ...process.execArgv, ...missing, ...process.argv.slice(1)], {
    ...process.env,
    GEOCLUSTER_NODE_FLAGS_APPLIED: '1',
  })
}

applyNodeFlags()
