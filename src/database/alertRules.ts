/**
 * What an alert (Pacemaker alerts, WSFC event subscriptions) may say, checked the same way on
 * every node: where it goes (an executable's absolute path, or an http/https URL), which events
 * (kinds such as `resource:failed`, or every kind of a noun: `resource:*`) and severities it
 * wants, and its delivery bounds. Nothing of it is run or dialled here.
 */
import { z } from 'zod'
import { eventTypes } from '../events/clusterEvent.ts'

export const severities = ['info', 'warning', 'error'] as const
/** Alerts the cluster holds at most (each node delivers to every one of them). */
export const alertsMax = 64
export const alertDefaults = { timeoutMs: 10_000, attempts: 5 } as const

const nouns = new Set(eventTypes.map((t) => t.slice(0, t.indexOf(':'))))
const known: ReadonlySet<string> = new Set(eventTypes)

/** Why an event filter names nothing this build emits, or null. */
export function eventFilterProblem(filter: string): string | null {
  if (known.has(filter)) return null
  if (filter.endsWith(':*') && nouns.has(filter.slice(0, -2))) return null
  return `unknown event kind ${filter.slice(0, 64)} (kinds such as resource:failed, or resource:* for all of a noun)`
}

export const eventFilter = z
  .string()
  .max(64)
  .superRefine((s, ctx) => {
    const problem = eventFilterProblem(s)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })

/** Why `url` is not a webhook address, or null: absolute http or https, at most 2,048 characters. */
export function webhookUrlProblem(url: string): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'expected an absolute http:// or https:// URL'
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    return `expected http:// or https://, not ${parsed.protocol}`
  return null
}

export const webhookUrl = z
  .string()
  .max(2048)
  .superRefine((s, ctx) => {
    const problem = webhookUrlProblem(s)
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
  })

export const scriptPath = z
  .string()
  .max(4096)
  .regex(/^\/[^\0]+$/, 'expected the absolute path of an executable')

export const alertTarget = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('script'), path: scriptPath }),
  z.strictObject({ kind: z.literal('webhook'), url: webhookUrl }),
])
export type AlertTarget = z.infer<typeof alertTarget>

export const alertFilters = {
  /** Empty: every kind. */
  events: z.array(eventFilter).max(64),
  /** Empty: every severity. */
  severities: z.array(z.enum(severities)).max(severities.length),
  /** One attempt's bound: a webhook's answer, a script's run. */
  timeoutMs: z.number().int().min(100).max(300_000),
  /** Attempts in all before the delivery is given up (and reported). */
  attempts: z.number().int().min(1).max(10),
}
