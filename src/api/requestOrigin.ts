/**
 * Where a request comes from and which name it used: `/metrics` is open without the token only
 * to a peer on loopback (the socket's address, not what the server is bound to), and a request
 * whose Host header is not one of this node's names is refused — so a web page on some other
 * site cannot reach the API through DNS rebinding.
 */
import { networkInterfaces } from 'node:os'
import type { Context } from 'hono'

export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false
  const a = address.replace(/^::ffff:/i, '')
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)
}

/** The address of the peer of the socket a request came on (@hono/node-server), if any. */
export function peerAddress(c: Context): string | undefined {
  return (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
    ?.remoteAddress
}

/** The host part of a Host header (`[::1]:7480` → `::1`, `Node-1.example:443` → `node-1.example`). */
export function hostOf(header: string): string {
  const h = header.trim().toLowerCase()
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'))
  const colon = h.lastIndexOf(':')
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h
}

/**
 * The names a node's API answers to: its bind address (every local address when bound to all),
 * loopback names, and the operator's `--api-name`s (the names clients and certificates use).
 */
export function apiHostNames(bindHost: string, extra: readonly string[]): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '::1', ...extra.map((n) => n.toLowerCase())])
  if (bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '') {
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) names.add(a.address.toLowerCase())
  } else names.add(hostOf(bindHost))
  return names
}
