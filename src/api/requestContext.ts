/** Body and query parsing with the API's error shape: malformed JSON and schema misses are 400s. */
import type { Context } from 'hono'
import { z } from 'zod'
import type { Refusal } from '../database/clusterDatabase.ts'
import type { AppliedCommand } from '../database/committedCommand.ts'
import { namePattern } from '../database/keySpace.ts'
import { GeoclusterError } from '../errors/errors.ts'
import { refusalError } from './apiError.ts'

export const requestBodyBytesMax = 1024 * 1024

/**
 * The body as text, at most `requestBodyBytesMax` bytes. With a Content-Length (every usual
 * client) the header decides and the server's direct body read is used, which is several times
 * cheaper than a Web stream; a chunked body is streamed and cut off at the limit.
 */
async function bodyText(c: Context): Promise<string> {
  const tooLarge = () =>
    new GeoclusterError('GC_ERR_TOO_LARGE', `request body exceeds ${requestBodyBytesMax} bytes`, {
      path: 'body',
    })
  const length = c.req.header('content-length')
  if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
    if (Number(length) > requestBodyBytesMax) throw tooLarge()
    return c.req.text()
  }
  const stream = c.req.raw.body
  if (stream === null) return ''
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of stream) {
    size += chunk.length
    if (size > requestBodyBytesMax) throw tooLarge()
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export async function parseBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await bodyText(c)
  let json: unknown = {}
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text)
    } catch (error) {
      throw new GeoclusterError(
        'GC_ERR_BAD_JSON',
        `request body is not valid JSON: ${(error as Error).message}`,
        { path: 'body' },
      )
    }
  }
  return parseValue(schema, json, 'body')
}

export function parseQuery<S extends z.ZodType>(c: Context, name: string, schema: S): z.infer<S> {
  return parseValue(schema, c.req.query(name), `query.${name}`)
}

export function parseValue<S extends z.ZodType>(schema: S, value: unknown, root: string): z.infer<S> {
  const parsed = schema.safeParse(value, { reportInput: true })
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]!
  const path = [root, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
    .join('.')
    .replaceAll('.[', '[')
  const message =
    issue.code === 'invalid_type' && issue.input === undefined
      ? 'required field is missing'
      : issue.code === 'unrecognized_keys'
        ? `unknown field(s): ${issue.keys.join(', ')}`
        : issue.message
  throw new GeoclusterError('GC_ERR_BAD_REQUEST', `${path}: ${message}`, { path })
}

/** Unwraps an applied command: a database refusal becomes the matching API error. */
export function accepted(applied: AppliedCommand): number {
  if (!applied.result.ok) throw refusalError(applied.result as Refusal)
  return applied.index
}

const pathNames = new Map<string, z.ZodType<string>>()

/** The route's `:name`, checked as the name of a `what` (a 400 "not a valid <what> name" otherwise). */
export function pathName(c: Context, what: string): string {
  let schema = pathNames.get(what)
  if (schema === undefined) {
    schema = z.string().regex(namePattern, `not a valid ${what} name`)
    pathNames.set(what, schema)
  }
  return parseValue(schema, c.req.param('name'), 'name')
}
