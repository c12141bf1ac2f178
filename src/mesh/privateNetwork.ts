/**
 * The private network: libp2p's pnet v1 (wire-compatible with @libp2p/pnet). Both ends send a
 * random 24-byte nonce; from then on every byte is XORed with the XSalsa20 keystream of the
 * cluster's pre-shared key and the sender's nonce, so a peer without the key cannot even start
 * the Noise handshake.
 *
 * Our own rather than @libp2p/pnet's because of the `xsalsa20` package it uses: one WebAssembly
 * memory for the whole process (initially 640 KiB, at most 64 MiB) that every cipher holds a view
 * of. The first write larger than that memory grows it, which detaches every other cipher's view;
 * each of them then grows it again on its next write, detaching the rest — after about a thousand
 * small writes the maximum is reached and every connection of the process fails. Each connection
 * also leaks 128 bytes of that memory for good. Here the keystream comes from @noble/ciphers'
 * XSalsa20 (pure, audited), positioned by block counter, with no shared state.
 */

import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface'
import { AbstractMultiaddrConnection, byteStream, type SendResult } from '@libp2p/utils'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import type { Uint8ArrayList } from 'uint8arraylist'
import { assert } from '../errors/assert.ts'

const nonceBytes = 24
const keyBytes = 32
const blockBytes = 64
/** The cipher's block counter is 32 bits here: 256 GiB per direction before the link is renewed. */
const blocksMax = 2 ** 32

/** The 32-byte key inside a `/key/swarm/psk/1.0.0/` file's bytes. */
export function decodePreSharedKey(file: Uint8Array): Uint8Array {
  const lines = new TextDecoder().decode(file).split(/\r?\n/)
  const hex = lines[2] ?? ''
  if (lines[0] !== '/key/swarm/psk/1.0.0/' || lines[1] !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(hex))
    throw new Error('not a /key/swarm/psk/1.0.0/ base16 pre-shared key')
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

/** One direction's keystream: XORs what passes through, in order, at any chunking. */
export class XSalsa20Stream {
  private position = 0
  private readonly key: Uint8Array
  private readonly nonce: Uint8Array

  constructor(key: Uint8Array, nonce: Uint8Array) {
    assert(
      key.length === keyBytes && nonce.length === nonceBytes,
      'XSalsa20 needs a 32-byte key and a 24-byte nonce',
    )
    this.key = key
    this.nonce = nonce
  }

  update(input: Uint8Array): Uint8Array {
    const counter = Math.floor(this.position / blockBytes)
    const skip = this.position % blockBytes
    if (counter + Math.ceil((skip + input.length) / blockBytes) > blocksMax)
      throw new Error('private network: keystream exhausted on this connection; reconnect')
    this.position += input.length
    if (skip === 0) return xsalsa20(this.key, this.nonce, input, undefined, counter)
    // Mid-block: run the cipher from the block's start and drop the bytes already used.
    const padded = new Uint8Array(skip + input.length)
    padded.set(input, skip)
    return xsalsa20(this.key, this.nonce, padded, undefined, counter).subarray(skip)
  }
}

interface ProtectedInit {
  maConn: MultiaddrConnection
  key: Uint8Array
  localNonce: Uint8Array
  remoteNonce: Uint8Array
  log: MultiaddrConnection['log']
}

/** The connection after the nonce exchange: bytes in and out through the keystreams. */
class ProtectedConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection
  private readonly inbound: XSalsa20Stream
  private readonly outbound: XSalsa20Stream

  constructor(init: ProtectedInit) {
    super({ remoteAddr: init.maConn.remoteAddr, direction: init.maConn.direction, log: init.log })
    this.maConn = init.maConn
    this.inbound = new XSalsa20Stream(init.key, init.remoteNonce)
    this.outbound = new XSalsa20Stream(init.key, init.localNonce)
    this.maConn.addEventListener('message', (event) => {
      const data = event.data
      if (data instanceof Uint8Array) this.onData(this.inbound.update(data))
      else for (const buf of data) this.onData(this.inbound.update(buf))
    })
    this.maConn.addEventListener('drain', () => this.onMuxerDrain())
    this.maConn.addEventListener('close', (event) => {
      if (event.error === undefined) this.onTransportClosed()
      else if (event.local === true) this.abort(event.error)
      else this.onRemoteReset()
    })
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    await this.maConn.close(options)
  }

  sendData(data: Uint8ArrayList): SendResult {
    return {
      sentBytes: data.byteLength,
      canSendMore: this.maConn.send(this.outbound.update(data.subarray())),
    }
  }

  sendReset(error: Error): void {
    this.maConn.abort(error)
  }

  sendPause(): void {
    this.maConn.pause()
  }

  sendResume(): void {
    this.maConn.resume()
  }
}

class PrivateNetworkProtector implements ConnectionProtector {
  private readonly key: Uint8Array
  private readonly timeoutMs: number

  constructor(psk: Uint8Array, timeoutMs: number) {
    this.key = decodePreSharedKey(psk)
    this.timeoutMs = timeoutMs
  }

  readonly [Symbol.toStringTag] = 'geocluster/private-network'

  async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    const maConn = connection as MultiaddrConnection
    const log = maConn.log.newScope('pnet')
    const localNonce = crypto.getRandomValues(new Uint8Array(nonceBytes))
    // Our own bound always applies: libp2p passes its whole upgrade's signal (seconds), and a
    // peer that never sends its nonce must not hold a pending-connection slot that long.
    const timeout = AbortSignal.timeout(this.timeoutMs)
    const abort = {
      signal: options?.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]),
    }
    const bytes = byteStream(maConn)
    const [remote] = await Promise.all([
      bytes.read({ bytes: nonceBytes, ...abort }),
      bytes.write(localNonce, abort),
    ])
    return new ProtectedConnection({
      maConn: bytes.unwrap(),
      key: this.key,
      localNonce,
      remoteNonce: remote.subarray(),
      log,
    })
  }
}

/** libp2p `connectionProtector` for the cluster's pre-shared key file bytes. */
export function privateNetwork(init: { psk: Uint8Array; timeoutMs?: number }): () => ConnectionProtector {
  return () => new PrivateNetworkProtector(init.psk, init.timeoutMs ?? 1_000)
}
