/**
 * Snapshots written off the consensus tick's path (issue: hardening, item 7): the streamed
 * encoding is the same snapshot, taken from the records of one moment while the database goes
 * on, and the event loop gets turns while a large one is written.
 */
import { describe, expect, it } from 'vitest'
import { initialConfiguration } from '../../src/consensus/configuration.ts'
import { ClusterDatabase } from '../../src/database/clusterDatabase.ts'
import { catchUpLimits } from '../../src/mesh/snapshotTransfer.ts'
import {
  decodeNodeSnapshot,
  encodeNodeSnapshot,
  encodeNodeSnapshotStreamed,
} from '../../src/runtime/nodeSnapshot.ts'
import { SnapshotStore } from '../../src/storage/snapshotStore.ts'
import { tempDir } from '../support/processes.ts'
import { unstartedMesh } from '../support/unstartedMesh.ts'

function database(keys: number): ClusterDatabase {
  const db = new ClusterDatabase()
  db.apply(1, {
    op: 'cluster.bootstrap',
    cluster: { name: 'c', quorumModel: 'local' },
    sites: [{ name: 's', nodes: [{ name: 'n1', votes: 1, peerId: null, address: null }] }],
    witness: null,
  })
  for (let i = 0; i < keys; i++)
    db.apply(i + 2, { op: 'config.set', key: `k/${i}`, value: `value ${i} "quoted" \u00e9` })
  return db
}

const config = initialConfiguration({ n1: 1 })

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  return Buffer.concat(parts)
}

describe('streamed snapshots', () => {
  it('encode the same snapshot as the one-piece encoding, for empty and large databases', async () => {
    for (const keys of [0, 1, 2_500]) {
      const db = database(keys)
      const streamed = decodeNodeSnapshot(
        await collect(encodeNodeSnapshotStreamed(config, db.snapshotView())),
      )
      const whole = decodeNodeSnapshot(encodeNodeSnapshot({ config, database: db.snapshot() }))
      expect(streamed).toEqual(whole)
    }
  })

  it('hold the records of the moment they were taken while the database goes on', async () => {
    const db = database(3)
    const view = db.snapshotView()
    db.apply(100, { op: 'config.set', key: 'k/0', value: 'changed' })
    db.apply(101, { op: 'config.delete', key: 'k/1' })
    const decoded = decodeNodeSnapshot(await collect(encodeNodeSnapshotStreamed(config, view)))
    if (typeof decoded === 'string') throw new Error(decoded)
    const restored = ClusterDatabase.restore(decoded.database)
    expect(restored.appliedIndex).toBe(4)
    expect(restored.get('config/k/0')).toMatchObject({ value: 'value 0 "quoted" \u00e9' })
    expect(restored.get('config/k/1')).toBeDefined()
  })

  it('give the event loop turns while a large snapshot is written, and read back whole', async () => {
    const db = database(20_000)
    const store = new SnapshotStore(tempDir('gc-snap-'))
    let turns = 0
    let writing = true
    const spin = () => {
      turns++
      if (writing) setImmediate(spin)
    }
    setImmediate(spin)
    const saved = await store.saveStreamed(
      { index: db.appliedIndex, term: 1 },
      encodeNodeSnapshotStreamed(config, db.snapshotView()),
    )
    writing = false
    // One turn at least per slice of records (1,000 each), not one turn for the whole write.
    expect(turns).toBeGreaterThanOrEqual(20)
    const loaded = store.loadNewest()
    expect(loaded.skipped).toEqual([])
    expect(loaded.snapshot?.payload.equals(saved.payload)).toBe(true)
    const decoded = decodeNodeSnapshot(loaded.snapshot!.payload)
    if (typeof decoded === 'string') throw new Error(decoded)
    expect(ClusterDatabase.restore(decoded.database).usage()).toEqual(db.usage())
  })

  it('a snapshot larger than a member may take is not sent, and the sender goes on', async () => {
    const mesh = await unstartedMesh()
    mesh.setMembers([{ name: 'b', site: 's', peerId: 'p-b', address: '/ip4/127.0.0.1/tcp/1' }])
    const huge = new Uint8Array(catchUpLimits.snapshotBytesMax + 1)
    expect(() =>
      mesh.send({
        type: 'snapshot',
        from: 'a',
        to: 'b',
        term: 1,
        epoch: 0,
        meta: { index: 9, term: 1, config },
        data: huge,
      }),
    ).not.toThrow()
    expect(mesh.catchUpTransfers()).toEqual([])
    await mesh.stop()
  })
})
