/**
 * Set up for every test file: after the file's own teardown, no process it started may be left
 * (a node, a resource monitor, an app, a lab member). Waits a bounded while for them to end on
 * their own — a monitor whose node was killed stops its resources first — then kills what is
 * left and fails the file, naming each process.
 */
import { afterAll } from 'vitest'
import { takeOutlived, waitOwnProcessesGone } from './processes.ts'

afterAll(async () => {
  await waitOwnProcessesGone()
  const outlived = takeOutlived()
  if (outlived.length > 0) {
    throw new Error(
      `${outlived.length} process(es) this file started outlived its teardown (killed now):\n` +
        outlived.map((p) => `  pid ${p.pid}: ${p.command}`).join('\n'),
    )
  }
}, 30_000)
