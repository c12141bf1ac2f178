/** The node's transport: what comes in is checked first; a file-share witness is reached through its host. */
import { describe, expect, it } from 'vitest'
import type { Message } from '../../src/consensus/types.ts'
import { type Command, encodeEnvelope } from '../../src/database/commands.ts'
import { ConsensusRouting, payloadProblem } from '../../src/runtime/consensusRouting.ts'
import type { FileShareWitness } from '../../src/runtime/fileShareWitness.ts'
import { createLogger } from '../../src/runtime/logger.ts'
import type { NodeMesh } from '../../src/runtime/nodeMesh.ts'

const log = createLogger({ pretty: false, level: 'silent' })
const base = { term: 1, epoch: 0 }
const heartbeat = (from: string, to: string): Message => ({
  ...base,
  type: 'heartbeat',
  from,
  to,
  commit: 0,
  ctx: null,
})
const flush = () => new Promise((r) => setImmediate(r))

function routing(host: string | null, closed = false, supportedLevel = 2) {
  const sent: string[] = []
  const stepped: string[] = []
  const core: string[] = []
  const witness = { host: () => host, step: (m: Message) => stepped.push(`${m.from}>${m.to}`) }
  const mesh = {
    send: (m: Message, via?: string) => sent.push(`${m.from}>${m.to}${via ? ` via ${via}` : ''}`),
  }
  const r = new ConsensusRouting({
    self: 'a',
    supportedLevel,
    shareWitness: { name: 'w', witness: witness as unknown as FileShareWitness },
    mesh: () => mesh as unknown as NodeMesh,
    log,
    closed: () => closed,
  })
  r.deliverTo((m) => {
    core.push(`${m.from}>${m.to}`)
    return true
  })
  return { r, sent, stepped, core }
}

describe('consensus routing', () => {
  it('refuses an append whose command cannot be read, before the core sees it', () => {
    const { r, core } = routing('a')
    const bad: Message = {
      ...base,
      type: 'append',
      from: 'b',
      to: 'a',
      prev: { term: 0, index: 0 },
      entries: [{ index: 1, term: 1, kind: 'command', data: new Uint8Array([1, 2, 3]) }],
      commit: 0,
    }
    expect(r.fromMesh(bad)).toBe(false)
    expect(r.fromMesh(heartbeat('b', 'a'))).toBe(true)
    expect(core).toEqual(['b>a'])
  })

  it('a node supporting level 1 refuses an append with a level-2 command, as an older release does', () => {
    const entry = (command: Command) => ({
      index: 1,
      term: 1,
      kind: 'command' as const,
      data: encodeEnvelope({ v: 1, by: 'admin@b', at: 1, command }),
    })
    const append = (command: Command): Message => ({
      ...base,
      type: 'append',
      from: 'b',
      to: 'a',
      prev: { term: 0, index: 0 },
      entries: [entry(command)],
      commit: 0,
    })
    const maintenance: Command = { op: 'maintenance.set', scope: 'cluster', subject: null, on: true }
    const config: Command = { op: 'config.set', key: 'k', value: 'v' }
    expect(payloadProblem(append(maintenance), 1)).toMatch(/functional level 2.*at most level 1/)
    expect(payloadProblem(append(maintenance), 2)).toBeNull()
    const { r, core } = routing('a', false, 1)
    expect(r.fromMesh(append(maintenance))).toBe(false)
    expect(r.fromMesh(append(config))).toBe(true)
    expect(core).toEqual(['b>a'])
  })

  it('takes nothing once closed', () => {
    const { r, core } = routing('a', true)
    expect(r.fromMesh(heartbeat('b', 'a'))).toBe(true)
    expect(core).toEqual([])
  })

  it('sends to members over the mesh, and to the witness through whichever node hosts it', async () => {
    const here = routing('a')
    here.r.send(heartbeat('a', 'b'))
    here.r.send(heartbeat('a', 'w'))
    await flush()
    expect(here.sent).toEqual(['a>b'])
    expect(here.stepped).toEqual(['a>w'])
    const there = routing('c')
    there.r.send(heartbeat('a', 'w'))
    expect(there.sent).toEqual(['a>w via c'])
    const none = routing(null)
    none.r.send(heartbeat('a', 'w'))
    expect(none.sent).toEqual([])
  })

  it('messages to the witness from the mesh go to the witness served here; its answers go out or come home', async () => {
    const { r, stepped, sent, core } = routing('a')
    expect(r.fromMesh(heartbeat('b', 'w'))).toBe(true)
    expect(stepped).toEqual(['b>w'])
    r.fromWitness(heartbeat('w', 'b'))
    r.fromWitness(heartbeat('w', 'a'))
    await flush()
    expect(sent).toEqual(['w>b'])
    expect(core).toEqual(['w>a'])
  })
})
