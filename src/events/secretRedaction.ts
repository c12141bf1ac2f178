/**
 * Secrets out of what leaves the cluster (a support archive): values under names that say
 * secret, token, key, password or credential are replaced, and any text equal to or holding a
 * known secret value (the node's admin token) is scrubbed, wherever it appears. Pure.
 */

export const redacted = '<redacted>'

/**
 * Names whose values are secrets. Fencing tokens are counters, not credentials, and peer IDs
 * are public keys' hashes: both stay.
 */
const secretName =
  /(secret|password|passwd|passphrase|credential|psk|private.?key|api.?key|^key$|^token$|admin.?token|^auth|authorization|bearer|cookie)/i
const publicName = /^(fencingToken|peerId)$/

export function isSecretName(name: string): boolean {
  return secretName.test(name) && !publicName.test(name)
}

/** A deep copy of `value` with secrets replaced; `known`: secret values to scrub from any text. */
export function redactSecrets(value: unknown, known: readonly string[] = []): unknown {
  // Short values would scrub ordinary words; real tokens and keys are long.
  const scrub = known.filter((k) => k.length >= 8)
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return scrub.reduce((s, k) => s.replaceAll(k, redacted), v)
    if (v === null || typeof v !== 'object') return v
    // Deeper than any document of ours: cut rather than recurse without bound.
    if (depth > 64) return redacted
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1))
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v))
      out[k] = isSecretName(k) && x !== null && x !== undefined ? redacted : walk(x, depth + 1)
    return out
  }
  return walk(value, 0)
}
