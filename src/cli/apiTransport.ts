/**
 * How the CLI reaches a node's API over TLS: the system's trusted CAs by default; a CA or the
 * node's own certificate (`--api-ca`); or the certificate's SHA-256 fingerprint, pinned
 * (`--api-fingerprint`, printed by `node start --api-tls-self-signed`) — the token is then sent
 * only to that certificate's holder.
 */
import { readFileSync } from 'node:fs'
import type { TLSSocket } from 'node:tls'
import { Agent, buildConnector, type Dispatcher } from 'undici'
import { GeoclusterError } from '../errors/errors.ts'

export interface TlsTrust {
  /** `AB:CD:…` (or plain hex), the SHA-256 of the API's certificate. */
  fingerprint?: string | undefined
  /** A PEM file: the CA that signed the API's certificate, or the certificate itself. */
  caFile?: string | undefined
}

/** Upper-case hex pairs separated by colons, whatever the input's case and separators. */
export function normalizeFingerprint(value: string): string {
  const hex = value
    .replace(/^sha256:/i, '')
    .replace(/[^0-9a-f]/gi, '')
    .toUpperCase()
  if (hex.length !== 64)
    throw new GeoclusterError(
      'GC_ERR_USAGE',
      `--api-fingerprint: expected a SHA-256 fingerprint (64 hex digits), got "${value}"`,
    )
  return hex.match(/../g)!.join(':')
}

/** A dispatcher for the trust asked for, or null for the defaults. */
export function tlsDispatcher(trust: TlsTrust): Dispatcher | null {
  if (trust.fingerprint !== undefined) {
    const wanted = normalizeFingerprint(trust.fingerprint)
    // Any certificate is accepted by the handshake; this one is checked against the pin before
    // a single byte of the request (and its token) is written.
    const connect = buildConnector({ rejectUnauthorized: false })
    return new Agent({
      connect: (options, callback) =>
        connect(options, (...args) => {
          const [error, socket] = args
          if (error !== null) return callback(error, null)
          const got = (socket as TLSSocket).getPeerCertificate?.().fingerprint256
          if (got === undefined || got.toUpperCase() !== wanted) {
            socket.destroy()
            return callback(
              new Error(`the API's certificate (sha256 ${got ?? 'none'}) is not the pinned one (${wanted})`),
              null,
            )
          }
          callback(null, socket)
        }),
    })
  }
  if (trust.caFile !== undefined) {
    let ca: Buffer
    try {
      ca = readFileSync(trust.caFile)
    } catch (error) {
      throw new GeoclusterError(
        'GC_ERR_USAGE',
        `--api-ca ${trust.caFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      )
    }
    return new Agent({ connect: { ca } })
  }
  return null
}
