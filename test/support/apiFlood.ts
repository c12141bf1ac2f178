/**
 * A flood of authenticated API requests from a process of its own (so the load generator's own
 * work does not slow the test runner, which also hosts the WAN emulator's proxies):
 *
 *   node apiFlood.ts <url> <token> <path> <clients> <seconds>
 *
 * Prints one JSON line: answers by status class, and connection failures.
 */
const [url, token, path, clients, seconds] = process.argv.slice(2)
const counts = { ok: 0, busy: 0, other: 0, failed: 0 }
const until = performance.now() + Number(seconds) * 1000
async function client(): Promise<void> {
  while (performance.now() < until) {
    try {
      const res = await fetch(`${url}${path}`, {
        headers: { Authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(10_000),
      })
      await res.arrayBuffer()
      if (res.status === 200) counts.ok++
      else if (res.status === 503) counts.busy++
      else counts.other++
    } catch {
      counts.failed++
    }
  }
}
await Promise.all(Array.from({ length: Number(clients) }, client))
process.stdout.write(`${JSON.stringify(counts)}\n`)
