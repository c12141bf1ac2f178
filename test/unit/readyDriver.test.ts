/**
 * The one Ready loop: its steps in etcd's order (persist before send), a refused write that
 * sends nothing, one drain at a time, and a real RaftCore driven over the in-memory twins.
 */
import { describe, expect, it } from 'vitest'
import { initialConfiguration } from '../../src/consensus/configuration.ts'
import { RaftCore } from '../../src/consensus/raftCore.ts'
import type { Entry, Message, Ready } from '../../src/consensus/types.ts'
import { persistInto } from '../../src/runtime/logPersistence.ts'
import { MemoryLogDisk } from '../../src/runtime/memoryLogStorage.ts'
import { type ReadyCore, ReadyDriver } from '../../src/runtime/readyDriver.ts'
import { StorageExhaustedError } from '../../src/storage/storageErrors.ts'

const message: Message = { type: 'heartbeat', from: 'a', to: 'b', term: 1, epoch: 0, commit: 0, ctx: null }
const entry: Entry = { index: 1, term: 1, kind: 'noop', data: new Uint8Array() }

function readyWith(over: Partial<Ready>): Ready {
  return {
    softState: null,
    reset: false,
    snapshot: null,
    hardState: null,
    entries: [],
    committedEntries: [],
    messages: [],
    readStates: [],
    mustSync: false,
    ...over,
  }
}

/** A core that hands out the Readies given, one by one. */
function scriptedCore(readies: Ready[], steps: string[]): ReadyCore {
  return {
    hasReady: () => readies.length > 0,
    ready: () => readies[0]!,
    advance: () => {
      readies.shift()
      steps.push('advance')
    },
  }
}

const settle = async (driver: ReadyDriver) => {
  while (driver.busy) await new Promise((r) => setImmediate(r))
}

describe('the Ready driver', () => {
  it('works a Ready off in order: reset, snapshot, apply, persist, send, read states, soft state, advance', async () => {
    const steps: string[] = []
    const rd = readyWith({
      reset: true,
      snapshot: { meta: { index: 1, term: 1 }, data: new Uint8Array() },
      hardState: { term: 1, vote: null, commit: 0 },
      entries: [entry],
      committedEntries: [entry],
      messages: [message],
      readStates: [{ ctx: 'r', index: 1 }],
      softState: { role: 'leader', leader: 'a' },
      mustSync: true,
    })
    const driver = new ReadyDriver({
      core: scriptedCore([rd], steps),
      persist: async (r) => {
        steps.push(`persist${r.mustSync ? '+sync' : ''}`)
        return true
      },
      transport: { send: () => steps.push('send') },
      machine: {
        reset: () => steps.push('reset'),
        installSnapshot: () => steps.push('snapshot'),
        apply: () => steps.push('apply'),
        readState: () => steps.push('read'),
        softState: () => steps.push('soft'),
      },
      advanced: () => steps.push('advanced'),
      crash: (e) => {
        throw e
      },
    })
    driver.schedule()
    await settle(driver)
    expect(steps).toEqual([
      'reset',
      'snapshot',
      'apply',
      'persist+sync',
      'send',
      'read',
      'soft',
      'advance',
      'advanced',
    ])
  })

  it('sends nothing and does not advance when the disk is full; the next drain offers it again', async () => {
    const steps: string[] = []
    const readies = [readyWith({ entries: [entry], messages: [message] })]
    const disk = new MemoryLogDisk()
    const { storage } = disk.open()
    let full = true
    const driver = new ReadyDriver({
      core: scriptedCore(readies, steps),
      persist: persistInto(
        {
          append: (batch) => {
            if (full)
              throw new StorageExhaustedError(
                '/tmp/wal',
                Object.assign(new Error('full'), { code: 'ENOSPC' }),
              )
            storage.append(batch)
          },
          sync: () => storage.sync(),
          reset: (h) => storage.reset(h),
          markSnapshot: (m) => storage.markSnapshot(m),
          rollForCompaction: () => storage.rollForCompaction(),
          releaseTo: (i) => storage.releaseTo(i),
          statistics: () => storage.statistics(),
          close: () => storage.close(),
        },
        { refused: () => steps.push('refused'), written: () => steps.push('written') },
      ),
      transport: { send: () => steps.push('send') },
      crash: (e) => {
        throw e
      },
    })
    driver.schedule()
    await settle(driver)
    expect(steps).toEqual(['refused'])
    full = false
    driver.schedule()
    await settle(driver)
    expect(steps).toEqual(['refused', 'written', 'send', 'advance'])
    expect(disk.entries.map((e) => e.index)).toEqual([1])
  })

  it('runs one drain at a time, and one asked for meanwhile follows it', async () => {
    const steps: string[] = []
    const readies = [readyWith({ mustSync: true })]
    let release: () => void = () => {}
    const driver = new ReadyDriver({
      core: scriptedCore(readies, steps),
      persist: () =>
        new Promise<boolean>((r) => {
          steps.push('persist')
          release = () => r(true)
        }),
      transport: { send: () => {} },
      crash: (e) => {
        throw e
      },
    })
    driver.schedule()
    await new Promise((r) => setImmediate(r))
    readies.push(readyWith({}))
    driver.schedule()
    driver.schedule()
    expect(steps).toEqual(['persist'])
    release()
    await new Promise((r) => setImmediate(r))
    release()
    await settle(driver)
    expect(steps).toEqual(['persist', 'advance', 'persist', 'advance'])
  })

  it('hands anything thrown to crash, and after close drains no more', async () => {
    const crashed: string[] = []
    const readies = [readyWith({})]
    const driver = new ReadyDriver({
      core: scriptedCore(readies, []),
      persist: () => {
        throw new Error('disk on fire')
      },
      transport: { send: () => {} },
      crash: (e) => crashed.push(e.message),
    })
    driver.schedule()
    await settle(driver)
    expect(crashed).toEqual(['disk on fire'])
    await driver.close()
    driver.schedule()
    expect(driver.busy).toBe(false)
  })

  it('drives a real RaftCore over the in-memory log storage: a lone voter elects itself and commits', async () => {
    const disk = new MemoryLogDisk()
    const { storage, recovery } = disk.open()
    const core = new RaftCore(
      {
        id: 'a',
        electionTicks: 10,
        heartbeatTicks: 1,
        random: () => 0.5,
        dynamicQuorum: null,
        preventQuorum: false,
      },
      {
        hardState: recovery.hardState,
        snapshot: { index: 0, term: 0 },
        entries: recovery.entries,
        initialConfig: initialConfiguration({ a: 1 }, null),
      },
    )
    const applied: number[] = []
    const driver = new ReadyDriver({
      core,
      persist: persistInto(storage),
      transport: { send: () => {} },
      machine: { apply: (rd) => applied.push(...rd.committedEntries.map((e) => e.index)) },
      crash: (e) => {
        throw e
      },
      // A simulator turns the loop itself: no waiting for the event loop.
      turn: async () => {},
    })
    for (let i = 0; i < 30 && !core.canServeReads(); i++) {
      core.tick()
      driver.schedule()
      await settle(driver)
    }
    expect(core.status().role).toBe('leader')
    const p = core.propose(new TextEncoder().encode('x'))
    expect(p.ok).toBe(true)
    driver.schedule()
    await settle(driver)
    expect(applied.at(-1)).toBe(2)
    expect(disk.entries.map((e) => e.index)).toEqual([1, 2])
    expect(disk.syncs).toBeGreaterThan(0)
  })
})
