import { describe, expect, it } from 'vitest'
import type { DbRecord } from '../../src/database/entities.ts'
import { RecordStore } from '../../src/database/recordStore.ts'
import { groupRecord } from '../support/records.ts'

const config = (key: string, value: string, version: number): DbRecord => ({
  kind: 'config',
  key,
  value,
  version,
})

const ofKind = (store: RecordStore, kind: DbRecord['kind']) => [...store.ofKind(kind)]

describe('RecordStore lists the records of one kind without scanning the others', () => {
  it('follows every set, replacement and delete', () => {
    const s = new RecordStore()
    s.set('groups/web', groupRecord('web'))
    s.set('config/a', config('a', '1', 1))
    s.set('groups/db', groupRecord('db'))
    expect(ofKind(s, 'group').map((g) => (g as { name: string }).name)).toEqual(['web', 'db'])
    expect(ofKind(s, 'config')).toEqual([config('a', '1', 1)])

    const replaced = groupRecord('web', { owner: 'n1', fencingToken: 1 })
    s.set('groups/web', replaced)
    expect(ofKind(s, 'group')).toEqual([replaced, groupRecord('db')])

    s.delete('groups/web')
    expect(ofKind(s, 'group')).toEqual([groupRecord('db')])
    expect(ofKind(s, 'resource')).toEqual([])
  })

  it('moves a path to its new kind when a record of another kind replaces it', () => {
    const s = new RecordStore()
    s.set('x', config('x', '1', 1))
    s.set('x', groupRecord('x'))
    expect(ofKind(s, 'config')).toEqual([])
    expect(ofKind(s, 'group')).toEqual([groupRecord('x')])
    expect(s.countOf('config')).toBe(0)
  })

  it('lists nothing once cleared', () => {
    const s = new RecordStore()
    s.set('groups/web', groupRecord('web'))
    s.set('config/a', config('a', '1', 1))
    s.clear()
    expect(ofKind(s, 'group')).toEqual([])
    expect(ofKind(s, 'config')).toEqual([])
    s.set('groups/db', groupRecord('db'))
    expect(ofKind(s, 'group')).toEqual([groupRecord('db')])
  })

  it('agrees with a scan of the whole store after random changes', () => {
    const s = new RecordStore()
    let seed = 7
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed
    }
    for (let i = 0; i < 2_000; i++) {
      const n = next() % 40
      const path = n < 20 ? `groups/g${n}` : `config/k${n}`
      if (next() % 4 === 0) s.delete(path)
      else s.set(path, n < 20 ? groupRecord(`g${n}`, { fencingToken: i }) : config(`k${n}`, `${i}`, i))
    }
    for (const kind of ['group', 'config', 'node'] as const)
      expect(ofKind(s, kind)).toEqual([...s.values()].filter((r) => r.kind === kind))
  })
})
