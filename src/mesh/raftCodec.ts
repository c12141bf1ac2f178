/**
 * Consensus messages on the wire: `Message` (src/consensus/types.ts) <-> protobuf
 * `RaftMessage`. Decoding never trusts the bytes: every number must be a safe integer, every
 * string and list is bounded, and anything malformed comes back as a reason, never a throw, so a
 * hostile or broken frame closes its stream and nothing else.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf'
import { decodeConfiguration, encodeConfiguration } from '../consensus/configuration.ts'
import type { Entry, EntryId, EntryKind, Message, SnapshotMeta } from '../consensus/types.ts'
import {
  type EntryId as EntryIdPb,
  EntryIdSchema,
  type Entry as EntryPb,
  EntrySchema,
  type RaftMessage,
  RaftMessageSchema,
  type SnapshotMeta as SnapshotMetaPb,
  SnapshotMetaSchema,
} from './gen/geocluster_pb.ts'

export const raftLimits = {
  /** Entries in one append. */
  entriesPerMessageMax: 4096,
  /** Bytes of a node id, a read context. */
  idBytesMax: 128,
  /** A frame, whole: appends are batched below it, snapshots are chunked (snapshot protocol). */
  frameBytesMax: 16 * 1024 * 1024,
} as const

const kinds: Record<EntryKind, number> = { noop: 0, command: 1, config: 2 }
const kindNames: readonly EntryKind[] = ['noop', 'command', 'config']

const n = (v: number) => BigInt(v)

/** The leader's send tick, when the message carries one (absent on older peers' messages). */
const sentTickPb = (m: { sentTick?: number }) => (m.sentTick === undefined ? {} : { sentTick: n(m.sentTick) })

function idPb(e: EntryId): EntryIdPb {
  return create(EntryIdSchema, { term: n(e.term), index: n(e.index) })
}

function entryPb(e: Entry): EntryPb {
  return create(EntrySchema, { index: n(e.index), term: n(e.term), kind: kinds[e.kind], data: e.data })
}

function metaPb(m: SnapshotMeta): SnapshotMetaPb {
  return create(SnapshotMetaSchema, {
    index: n(m.index),
    term: n(m.term),
    config: m.config === undefined ? new Uint8Array(0) : encodeConfiguration(m.config),
  })
}

export function encodeRaftMessage(m: Message): Uint8Array {
  const base = {
    from: m.from,
    to: m.to,
    term: n(m.term),
    epoch: n(m.epoch),
    epochId: m.epochId ?? '',
    epochUnconfirmed: m.epochUnconfirmed === true,
  }
  let body: RaftMessage['body']
  switch (m.type) {
    case 'pre-vote':
    case 'vote':
      body = {
        case: m.type === 'vote' ? 'vote' : 'preVote',
        value: { $typeName: 'geocluster.v1.VoteRequest', last: idPb(m.last), transfer: m.transfer },
      }
      break
    case 'pre-vote-resp':
      body = { case: 'preVoteResp', value: { $typeName: 'geocluster.v1.VoteResponse', granted: m.granted } }
      break
    case 'vote-resp':
      body = {
        case: 'voteResp',
        value: {
          $typeName: 'geocluster.v1.VoteResponse',
          granted: m.granted,
          ...(m.silenceTicks === undefined ? {} : { silenceTicks: Math.min(m.silenceTicks, 0xffff_ffff) }),
        },
      }
      break
    case 'append':
      body = {
        case: 'append',
        value: {
          $typeName: 'geocluster.v1.Append',
          prev: idPb(m.prev),
          entries: m.entries.map(entryPb),
          commit: n(m.commit),
          ...sentTickPb(m),
        },
      }
      break
    case 'append-resp':
      body = {
        case: 'appendResp',
        value: {
          $typeName: 'geocluster.v1.AppendResponse',
          success: m.success,
          index: n(m.index),
          hint: n(m.hint),
          ...sentTickPb(m),
        },
      }
      break
    case 'heartbeat':
      body = {
        case: 'heartbeat',
        value: {
          $typeName: 'geocluster.v1.Heartbeat',
          commit: n(m.commit),
          ...(m.ctx === null ? {} : { ctx: m.ctx }),
          ...sentTickPb(m),
        },
      }
      break
    case 'heartbeat-resp':
      body = {
        case: 'heartbeatResp',
        value: {
          $typeName: 'geocluster.v1.HeartbeatResponse',
          ...(m.ctx === null ? {} : { ctx: m.ctx }),
          ...sentTickPb(m),
        },
      }
      break
    case 'witness-append':
      body = {
        case: 'witnessAppend',
        value: {
          $typeName: 'geocluster.v1.WitnessAppend',
          mark: idPb(m.mark),
          ...(m.ctx === null ? {} : { ctx: m.ctx }),
          ...sentTickPb(m),
        },
      }
      break
    case 'witness-resp':
      body = {
        case: 'witnessResp',
        value: {
          $typeName: 'geocluster.v1.WitnessResponse',
          mark: idPb(m.mark),
          ...(m.ctx === null ? {} : { ctx: m.ctx }),
          ...sentTickPb(m),
        },
      }
      break
    case 'snapshot':
      body = {
        case: 'snapshot',
        value: { $typeName: 'geocluster.v1.Snapshot', meta: metaPb(m.meta), data: m.data },
      }
      break
    case 'timeout-now':
      body = { case: 'timeoutNow', value: { $typeName: 'geocluster.v1.Empty' } }
      break
    case 'read-index':
      body = { case: 'readIndex', value: { $typeName: 'geocluster.v1.ReadIndex', ctx: m.ctx } }
      break
    case 'read-index-resp':
      body = {
        case: 'readIndexResp',
        value: { $typeName: 'geocluster.v1.ReadIndexResponse', ctx: m.ctx, index: n(m.index) },
      }
      break
    case 'epoch':
      body = { case: 'epochNotice', value: { $typeName: 'geocluster.v1.Empty' } }
      break
  }
  return toBinary(RaftMessageSchema, create(RaftMessageSchema, { ...base, body }))
}

class Malformed extends Error {}

function num(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Malformed(`${what} ${v} is out of range`)
  return Number(v)
}

function str(v: string, what: string): string {
  if (Buffer.byteLength(v) > raftLimits.idBytesMax)
    throw new Malformed(`${what} is longer than ${raftLimits.idBytesMax} bytes`)
  return v
}

function idOf(v: EntryIdPb | undefined, what: string): EntryId {
  if (v === undefined) throw new Malformed(`${what} is missing`)
  return { term: num(v.term, `${what}.term`), index: num(v.index, `${what}.index`) }
}

function entryOf(e: EntryPb): Entry {
  const kind = kindNames[e.kind]
  if (kind === undefined) throw new Malformed(`entry kind ${e.kind}`)
  const entry: Entry = {
    index: num(e.index, 'entry.index'),
    term: num(e.term, 'entry.term'),
    kind,
    data: e.data,
  }
  if (kind === 'config') decodeConfigurationSafely(entry.data)
  return entry
}

function decodeConfigurationSafely(bytes: Uint8Array) {
  try {
    return decodeConfiguration(bytes)
  } catch (error) {
    throw new Malformed(`configuration: ${(error as Error).message}`)
  }
}

const ctxOf = (v: string | undefined) => (v === undefined ? null : str(v, 'ctx'))

/** The echoed or sent leader tick; absent stays absent (an older peer: the answer is not fresh). */
const sentTickOf = (v: bigint | undefined) => (v === undefined ? {} : { sentTick: num(v, 'sentTick') })

/** The message, or why these bytes are not one. */
export function decodeRaftMessage(bytes: Uint8Array): Message | string {
  if (bytes.length > raftLimits.frameBytesMax)
    return `frame of ${bytes.length} bytes exceeds ${raftLimits.frameBytesMax}`
  let pb: RaftMessage
  try {
    pb = fromBinary(RaftMessageSchema, bytes)
  } catch (error) {
    return `not a RaftMessage: ${(error as Error).message}`
  }
  try {
    const base = {
      from: str(pb.from, 'from'),
      to: str(pb.to, 'to'),
      term: num(pb.term, 'term'),
      epoch: num(pb.epoch, 'epoch'),
      ...(pb.epochId === '' ? {} : { epochId: str(pb.epochId, 'epochId') }),
      ...(pb.epochUnconfirmed ? { epochUnconfirmed: true } : {}),
    }
    if (base.from === '' || base.to === '') throw new Malformed('from and to must be set')
    const b = pb.body
    switch (b.case) {
      case 'preVote':
      case 'vote':
        return {
          ...base,
          type: b.case === 'vote' ? 'vote' : 'pre-vote',
          last: idOf(b.value.last, 'last'),
          transfer: b.value.transfer,
        }
      case 'preVoteResp':
        return { ...base, type: 'pre-vote-resp', granted: b.value.granted }
      case 'voteResp':
        return {
          ...base,
          type: 'vote-resp',
          granted: b.value.granted,
          ...(b.value.silenceTicks === undefined ? {} : { silenceTicks: b.value.silenceTicks }),
        }
      case 'append': {
        if (b.value.entries.length > raftLimits.entriesPerMessageMax)
          throw new Malformed(`${b.value.entries.length} entries in one append`)
        const entries = b.value.entries.map(entryOf)
        const prev = idOf(b.value.prev, 'prev')
        for (const [i, e] of entries.entries()) {
          if (e.index !== prev.index + 1 + i)
            throw new Malformed(`entry ${i} has index ${e.index}, expected ${prev.index + 1 + i}`)
        }
        return {
          ...base,
          type: 'append',
          prev,
          entries,
          commit: num(b.value.commit, 'commit'),
          ...sentTickOf(b.value.sentTick),
        }
      }
      case 'appendResp':
        return {
          ...base,
          type: 'append-resp',
          success: b.value.success,
          index: num(b.value.index, 'index'),
          hint: num(b.value.hint, 'hint'),
          ...sentTickOf(b.value.sentTick),
        }
      case 'heartbeat':
        return {
          ...base,
          type: 'heartbeat',
          commit: num(b.value.commit, 'commit'),
          ctx: ctxOf(b.value.ctx),
          ...sentTickOf(b.value.sentTick),
        }
      case 'heartbeatResp':
        return { ...base, type: 'heartbeat-resp', ctx: ctxOf(b.value.ctx), ...sentTickOf(b.value.sentTick) }
      case 'witnessAppend':
        return {
          ...base,
          type: 'witness-append',
          mark: idOf(b.value.mark, 'mark'),
          ctx: ctxOf(b.value.ctx),
          ...sentTickOf(b.value.sentTick),
        }
      case 'witnessResp':
        return {
          ...base,
          type: 'witness-resp',
          mark: idOf(b.value.mark, 'mark'),
          ctx: ctxOf(b.value.ctx),
          ...sentTickOf(b.value.sentTick),
        }
      case 'snapshot': {
        const m = b.value.meta
        if (m === undefined) throw new Malformed('snapshot meta is missing')
        const meta: SnapshotMeta = { index: num(m.index, 'meta.index'), term: num(m.term, 'meta.term') }
        if (m.config.length > 0) meta.config = decodeConfigurationSafely(m.config)
        return { ...base, type: 'snapshot', meta, data: b.value.data }
      }
      case 'timeoutNow':
        return { ...base, type: 'timeout-now' }
      case 'readIndex':
        return { ...base, type: 'read-index', ctx: str(b.value.ctx, 'ctx') }
      case 'readIndexResp':
        return {
          ...base,
          type: 'read-index-resp',
          ctx: str(b.value.ctx, 'ctx'),
          index: num(b.value.index, 'index'),
        }
      case 'epochNotice':
        return { ...base, type: 'epoch' }
      default:
        throw new Malformed('message has no body')
    }
  } catch (error) {
    if (error instanceof Malformed) return error.message
    return `malformed: ${(error as Error).message}`
  }
}
