/**
 * A node's identity: an Ed25519 key in `<data-dir>/identity.key` (mode 0600), whose libp2p peer
 * ID is what the topology lists. Created once, never rotated silently.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { GeoclusterError } from '../errors/errors.ts'
import { writeFileDurably } from '../storage/durableFile.ts'

export interface NodeIdentity {
  privateKey: PrivateKey
  peerId: string
  file: string
  created: boolean
}

export function identityPath(dataDir: string): string {
  return join(dataDir, 'identity.key')
}

export async function loadOrCreateIdentity(dataDir: string): Promise<NodeIdentity> {
  const file = identityPath(dataDir)
  let bytes: Buffer | null = null
  try {
    bytes = readFileSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  if (bytes !== null) {
    let privateKey: PrivateKey
    try {
      privateKey = privateKeyFromProtobuf(bytes)
    } catch (error) {
      throw new GeoclusterError(
        'GC_ERR_STORAGE_CORRUPT',
        `${file}: not a libp2p private key (${(error as Error).message})`,
      )
    }
    return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), file, created: false }
  }
  const privateKey = await generateKeyPair('Ed25519')
  writeFileDurably(file, privateKeyToProtobuf(privateKey), 0o600)
  return { privateKey, peerId: peerIdFromPrivateKey(privateKey).toString(), file, created: true }
}
