/**
 * The cluster's pre-shared key (libp2p private network, `/key/swarm/psk/1.0.0/`): a peer without
 * it cannot even start the Noise handshake. Created by `geocluster secret --out FILE`, copied to
 * every node out of band, mode 0600.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { GeoclusterError } from '../errors/errors.ts'
import { writeFileDurably } from '../storage/durableFile.ts'

const header = '/key/swarm/psk/1.0.0/'

export function createSecret(file: string): void {
  if (existsSync(file)) {
    throw new GeoclusterError(
      'GC_ERR_USAGE',
      `${file} already exists; refusing to replace a cluster secret (delete it first if you mean to)`,
    )
  }
  // The libp2p private-network key file: a header, the encoding, 32 random bytes in base16.
  const psk = Buffer.from(`${header}\n/base16/\n${randomBytes(32).toString('hex')}`)
  writeFileDurably(file, psk, 0o600)
}

export function loadSecret(file: string): Uint8Array {
  let bytes: Buffer
  try {
    bytes = readFileSync(file)
  } catch (error) {
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `${file}: cannot read the cluster secret: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        path: 'cluster.secret',
      },
    )
  }
  const text = bytes.toString('utf8')
  const lines = text.split('\n')
  if (lines[0] !== header || lines[1] !== '/base16/' || !/^[0-9a-f]{64}$/.test(lines[2] ?? '')) {
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `${file}: not a cluster secret (expected the ${header} format from geocluster secret)`,
      {
        path: 'cluster.secret',
      },
    )
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `${file}: the cluster secret is readable by others (chmod 600 ${file})`,
      { path: 'cluster.secret' },
    )
  }
  return new Uint8Array(bytes)
}
