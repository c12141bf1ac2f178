/**
 * The private network's keystream (src/mesh/privateNetwork.ts): the same bytes at any chunking,
 * the same bytes as the `xsalsa20` package that @libp2p/pnet uses (wire compatibility), and
 * key files read or refused.
 */
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodePreSharedKey, XSalsa20Stream } from '../../src/mesh/privateNetwork.ts'

const require = createRequire(import.meta.url)
const reference = require('xsalsa20') as (
  nonce: Uint8Array,
  key: Uint8Array,
) => { update(input: Uint8Array): Uint8Array }

describe('XSalsa20Stream', () => {
  it('gives the same output at any chunking, equal to the xsalsa20 package @libp2p/pnet uses', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 12 }),
        (key, nonce, sizes) => {
          const data = randomBytes(sizes.reduce((a, b) => a + b, 0))
          const ours = new XSalsa20Stream(key, nonce)
          const theirs = reference(nonce, key)
          let offset = 0
          const out: Uint8Array[] = []
          const ref: Uint8Array[] = []
          for (const n of sizes) {
            out.push(ours.update(data.subarray(offset, offset + n)))
            ref.push(theirs.update(data.subarray(offset, offset + n)))
            offset += n
          }
          const whole = new XSalsa20Stream(key, nonce).update(data)
          expect(Buffer.concat(out).equals(Buffer.from(whole))).toBe(true)
          expect(Buffer.concat(ref).equals(Buffer.from(whole))).toBe(true)
          // XOR twice is the identity.
          expect(Buffer.from(new XSalsa20Stream(key, nonce).update(whole)).equals(data)).toBe(true)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('takes writes of several MiB, then many small ones, from many streams at once', () => {
    const key = randomBytes(32)
    const streams = Array.from({ length: 50 }, () => new XSalsa20Stream(key, randomBytes(24)))
    expect(streams[0]!.update(new Uint8Array(8 * 2 ** 20))).toHaveLength(8 * 2 ** 20)
    for (let i = 0; i < 5_000; i++)
      expect(streams[i % streams.length]!.update(new Uint8Array(100))).toHaveLength(100)
  })
})

describe('decodePreSharedKey', () => {
  it('reads the 32-byte key of a key file', () => {
    const hex = randomBytes(32).toString('hex')
    const key = decodePreSharedKey(new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}`))
    expect(Buffer.from(key).toString('hex')).toBe(hex)
  })

  it.each([
    ['another header', `/key/swarm/psk/2.0.0/\n/base16/\n${'a'.repeat(64)}`],
    ['another encoding', `/key/swarm/psk/1.0.0/\n/base64/\n${'a'.repeat(64)}`],
    ['a short key', `/key/swarm/psk/1.0.0/\n/base16/\n${'a'.repeat(62)}`],
    ['no key', '/key/swarm/psk/1.0.0/\n/base16/'],
  ])('refuses %s', (_, text) => {
    expect(() => decodePreSharedKey(new TextEncoder().encode(text))).toThrow(/pre-shared key/)
  })
})
