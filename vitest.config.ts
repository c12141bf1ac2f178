import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fails a file that leaves any process it started running (test/support/leftovers.ts).
    setupFiles: ['test/support/leftovers.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes; keep at most two files running on two cores.
    maxWorkers: 2,
  },
})
