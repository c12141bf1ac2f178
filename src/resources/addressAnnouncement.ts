/**
 * Telling the neighbours that a virtual address moved here, so clients on the subnet follow it at
 * once instead of when their ARP or neighbour cache expires (WSFC's IP Address resource does the
 * same): a gratuitous ARP for IPv4 (iputils `arping -U -c 1 -I IFACE ADDR`), an unsolicited
 * neighbour advertisement for IPv6 (`ndsend ADDR IFACE`). Which tool, and the command line, are
 * decided here without running anything; the agent runs the plan with a time limit.
 */
import { join } from 'node:path'

export type AnnouncementPlan =
  | { kind: 'run'; tool: 'arping' | 'ndsend'; file: string; args: string[] }
  /** Nothing to run: `warning` when neighbours will be slow to follow, `info` when none exist. */
  | { kind: 'skip'; severity: 'info' | 'warning'; reason: string }

export const noToolReason =
  'no arping/ndsend on this host: neighbours learn the address only when their cache expires'

/**
 * The announcement for `address` (address/prefix) added on `iface`. `find` looks a tool up by
 * name and returns its path or null (see findExecutable).
 */
export function planAnnouncement(
  address: string,
  iface: string,
  find: (tool: string) => string | null,
): AnnouncementPlan {
  const ip = address.split('/')[0] ?? address
  // Loopback has no neighbours (and no ARP): nothing to tell anyone.
  if (iface === 'lo' || ip.startsWith('127.') || ip === '::1')
    return {
      kind: 'skip',
      severity: 'info',
      reason: `${ip} is on the loopback interface: no neighbours to tell`,
    }
  if (ip.includes(':')) {
    const ndsend = find('ndsend')
    if (ndsend !== null) return { kind: 'run', tool: 'ndsend', file: ndsend, args: [ip, iface] }
    return { kind: 'skip', severity: 'warning', reason: noToolReason }
  }
  const arping = find('arping')
  // -U: unsolicited ARP, which updates the neighbours' caches; one packet, on this interface.
  if (arping !== null)
    return { kind: 'run', tool: 'arping', file: arping, args: ['-U', '-c', '1', '-I', iface, ip] }
  return { kind: 'skip', severity: 'warning', reason: noToolReason }
}

/**
 * The first executable `name` in the directories of `path` (a PATH value), or null. Pure apart
 * from `isExecutable`, which the caller gives (an fs.accessSync X_OK check in the agent).
 */
export function findExecutable(
  name: string,
  path: string | undefined,
  isExecutable: (file: string) => boolean,
): string | null {
  for (const dir of (path ?? '').split(':')) {
    if (dir === '' || !dir.startsWith('/')) continue
    const file = join(dir, name)
    if (isExecutable(file)) return file
  }
  return null
}
