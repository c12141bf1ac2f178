/**
 * The calls members make to the leader (and to each other) over the mesh, typed: one variant
 * per call with a schema for its body, encoded and decoded here only. The wire is unchanged (a
 * method name and a JSON body in AdminRequest, geocluster.proto), so members of either version
 * understand each other. Mesh input is hostile even from members: a call that does not decode is
 * answered 400, never thrown.
 */
import { z } from 'zod'
import { type Command, commandSchema, nodeAddSpec, nodeNameSpec } from '../database/commands.ts'
import { type ErrorCode, GeoclusterError, isErrorCode } from '../errors/errors.ts'
import type { AdminCall } from './nodeMesh.ts'

export type NodeSpec = z.infer<typeof nodeAddSpec>

export type LeaderCall =
  /** A database command for the leader to propose (a follower's write). */
  | { method: 'propose'; command: Command }
  /** Add a member: its record, then its vote (a configuration change only the leader makes). */
  | { method: 'addNode'; spec: NodeSpec }
  /** Evict a member: its vote, its groups, its key. */
  | { method: 'evictNode'; name: string }
  /** Any node says how it sees itself and the others (validate's live checks). */
  | { method: 'selfReport' }
  /** Any node sends its newest events (`events --cluster`). */
  | { method: 'recentEvents'; limit: number }
  /** Any node sends what a support case needs of it, secrets removed (`log collect`). */
  | { method: 'supportReport' }

/** Calls that any node answers for itself; every other call is the leader's. */
export const selfCalls: ReadonlySet<string> = new Set(['selfReport', 'recentEvents', 'supportReport'])

/** The most events a member sends for `events --cluster`. */
export const recentEventsMax = 10_000
const recentEventsBody = z.strictObject({ limit: z.number().int().min(1).max(recentEventsMax) })

export type DecodedCall =
  | { ok: true; call: LeaderCall; by: string }
  | { ok: false; method: string; problem: string }

/** A call as it goes on the wire, made by `by`. */
export function encodeLeaderCall(call: LeaderCall, by: string): AdminCall {
  const body =
    call.method === 'propose'
      ? { command: call.command }
      : call.method === 'addNode'
        ? call.spec
        : call.method === 'evictNode'
          ? { name: call.name }
          : call.method === 'recentEvents'
            ? { limit: call.limit }
            : {}
  return { method: call.method, path: '', body: Buffer.from(JSON.stringify(body)), by }
}

/** A call from the wire, checked against its method's schema. */
export function decodeLeaderCall(raw: AdminCall): DecodedCall {
  const refuse = (problem: string): DecodedCall => ({ ok: false, method: raw.method, problem })
  // A self-report or support report carries nothing worth reading.
  if (raw.method === 'selfReport' || raw.method === 'supportReport')
    return { ok: true, call: { method: raw.method }, by: raw.by }
  if (
    raw.method !== 'propose' &&
    raw.method !== 'addNode' &&
    raw.method !== 'evictNode' &&
    raw.method !== 'recentEvents'
  )
    return refuse(`unknown call ${raw.method.slice(0, 64)}`)
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(raw.body).toString('utf8'))
  } catch {
    return refuse(`forwarded ${raw.method} is not JSON`)
  }
  switch (raw.method) {
    case 'propose': {
      const command =
        body !== null && typeof body === 'object' ? (body as { command?: unknown }).command : undefined
      const checked = commandSchema.safeParse(command)
      return checked.success
        ? { ok: true, call: { method: 'propose', command: checked.data }, by: raw.by }
        : refuse('forwarded command is invalid')
    }
    case 'addNode': {
      const spec = nodeAddSpec.safeParse(body)
      return spec.success
        ? { ok: true, call: { method: 'addNode', spec: spec.data }, by: raw.by }
        : refuse('forwarded node is invalid')
    }
    case 'evictNode': {
      const name = nodeNameSpec.safeParse(body)
      return name.success
        ? { ok: true, call: { method: 'evictNode', name: name.data.name }, by: raw.by }
        : refuse('forwarded node is invalid')
    }
    case 'recentEvents': {
      const asked = recentEventsBody.safeParse(body)
      return asked.success
        ? { ok: true, call: { method: 'recentEvents', limit: asked.data.limit }, by: raw.by }
        : refuse(`forwarded recentEvents is invalid: limit is 1 to ${recentEventsMax}`)
    }
  }
}

export interface CallAnswer {
  status: number
  body: Uint8Array
}

/** A call answered with a value. */
export function answerWith(value: unknown): CallAnswer {
  return { status: 200, body: Buffer.from(JSON.stringify(value)) }
}

/** A call refused, in the admin API's one error shape. */
export function answerRefused(
  status: number,
  error: { code: ErrorCode; message: string; path?: string | undefined },
): CallAnswer {
  const shape = {
    code: error.code,
    message: error.message,
    ...(error.path === undefined ? {} : { path: error.path }),
  }
  return { status, body: Buffer.from(JSON.stringify({ error: shape })) }
}

/** Anything a call's handler threw, as its answer. */
export function answerFailed(error: unknown): CallAnswer {
  const e =
    error instanceof GeoclusterError ? error : new GeoclusterError('GC_ERR_FAILED', (error as Error).message)
  return answerRefused(e.httpStatus, e)
}

/** The value of an answer; a refusal is thrown as the error it names. */
export function readAnswer(answer: CallAnswer, from: string): unknown {
  let body: { error?: { code?: unknown; message?: unknown; path?: unknown } } & Record<string, unknown>
  try {
    body = JSON.parse(Buffer.from(answer.body).toString('utf8'))
  } catch {
    throw new GeoclusterError(
      'GC_ERR_FAILED',
      `${from} answered ${answer.status} with a body that is not JSON`,
    )
  }
  if (answer.status === 200) return body
  const e = body?.error
  const code = typeof e?.code === 'string' && isErrorCode(e.code) ? e.code : 'GC_ERR_FAILED'
  throw new GeoclusterError(
    code,
    typeof e?.message === 'string' ? e.message : `${from} answered ${answer.status}`,
    typeof e?.path === 'string' ? { path: e.path } : {},
  )
}
