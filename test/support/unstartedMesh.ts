/**
 * A NodeMesh as node `a` of site `s` that is never started: its handlers are driven directly
 * (frames, streams, sends) by tests that need no sockets.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Message } from '../../src/consensus/types.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import { NodeMesh } from '../../src/runtime/nodeMesh.ts'

export async function unstartedMesh(
  onRaft: (m: Message) => boolean = () => true,
  onAdmin: () => Promise<{ status: number; body: Uint8Array }> = async () => ({
    status: 503,
    body: new Uint8Array([123, 125]),
  }),
): Promise<NodeMesh> {
  return new NodeMesh({
    self: 'a',
    site: 's',
    privateKey: await generateKeyPair('Ed25519'),
    psk: new Uint8Array(95),
    listen: [],
    logger: createLogger({ pretty: false, level: 'silent' }),
    timing: {
      sameSite: { heartbeatMs: 100, threshold: 5 },
      crossSite: { heartbeatMs: 100, threshold: 10 },
    },
    monotonic: () => performance.now(),
    onRaft,
    leaderView: () => ({ leader: 'a', term: 1 }),
    onAdmin,
  })
}
