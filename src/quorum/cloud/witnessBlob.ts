/**
 * The cloud witness's one blob: the witness's hard state (term, vote, W and the history W is of)
 * as a small JSON document, with the cluster and witness it belongs to and who wrote it last.
 * Decoding validates everything: the blob is outside input (anyone with the account key can
 * write it), so garbage is refused with a reason, never taken for a blank witness — a blank
 * would forget W and vote for a stale candidate.
 */
import { z } from 'zod'
import type { HardState } from '../../consensus/types.ts'

export const witnessBlobFormat = 'geocluster-witness/1'
/** Far larger than any document we write (a few hundred bytes): more is not ours. */
export const witnessBlobBytesMax = 16 * 1024

/**
 * The leader last heard through the blob: written again by the leader every few heartbeats
 * (`beat` grows), so members that read the blob see it alive and the witness keeps refusing
 * other candidates while it is (the stickiness a witness process keeps in memory).
 */
export interface LeaderStamp {
  leader: string
  term: number
  beat: number
}

export interface WitnessBlobDocument {
  format: typeof witnessBlobFormat
  cluster: string
  witness: string
  /** The member that wrote this version (for people reading the blob). */
  writer: string
  /** How many times the blob has been written (for people; ETags decide). */
  writes: number
  state: HardState
  /** Absent: no leader has written through the blob yet. */
  heard?: LeaderStamp
}

const natural = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
const name = z.string().min(1).max(128)
const entryId = z.strictObject({ term: natural, index: natural })

const documentSchema = z.strictObject({
  format: z.literal(witnessBlobFormat),
  cluster: name,
  witness: name,
  writer: name,
  writes: natural,
  state: z.strictObject({
    term: natural,
    vote: name.nullable(),
    commit: natural,
    mark: entryId,
    markEpoch: z
      .strictObject({ epoch: natural, epochId: z.string().max(256), unconfirmed: z.boolean() })
      .optional(),
  }),
  heard: z.strictObject({ leader: name, term: natural, beat: natural }).optional(),
})

export type DecodedWitnessBlob = { ok: true; doc: WitnessBlobDocument } | { ok: false; problem: string }

/** Whose blob this must be: another cluster's or witness's state is not ours to vote with. */
export interface WitnessBlobOwner {
  cluster: string
  witness: string
}

export function decodeWitnessBlob(body: string, owner: WitnessBlobOwner): DecodedWitnessBlob {
  if (body.length > witnessBlobBytesMax)
    return { ok: false, problem: `${body.length} bytes, more than a witness blob ever holds` }
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (error) {
    return { ok: false, problem: `not JSON (${(error as Error).message})` }
  }
  const parsed = documentSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const at = issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`
    return { ok: false, problem: `not a geocluster witness document: ${issue.message}${at}` }
  }
  const doc = parsed.data
  if (doc.cluster !== owner.cluster || doc.witness !== owner.witness)
    return {
      ok: false,
      problem: `it belongs to witness ${doc.witness} of cluster ${doc.cluster}, not ${owner.witness} of ${owner.cluster} (two clusters configured on one blob?)`,
    }
  if (doc.heard !== undefined && doc.heard.term > doc.state.term)
    return { ok: false, problem: `heard.term ${doc.heard.term} is past state.term ${doc.state.term}` }
  const state: HardState = { term: doc.state.term, vote: doc.state.vote, commit: 0, mark: doc.state.mark }
  if (doc.state.markEpoch !== undefined) state.markEpoch = doc.state.markEpoch
  const { heard, ...rest } = doc
  return { ok: true, doc: { ...rest, state, ...(heard === undefined ? {} : { heard }) } }
}

export function encodeWitnessBlob(doc: WitnessBlobDocument): string {
  const s = doc.state
  const state = {
    term: s.term,
    vote: s.vote,
    commit: 0,
    mark: s.mark ?? { term: 0, index: 0 },
    ...(s.markEpoch === undefined ? {} : { markEpoch: s.markEpoch }),
  }
  return `${JSON.stringify({ ...doc, state }, null, 1)}\n`
}

/** Two stamps name the same write of the same leader. */
export function sameStamp(a: LeaderStamp | undefined, b: LeaderStamp | undefined): boolean {
  return a?.leader === b?.leader && a?.term === b?.term && a?.beat === b?.beat
}
