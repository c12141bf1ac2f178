/** Schemas of every request body the admin API accepts; anything else is a 400. */
import { z } from 'zod'
import { alertDefaults, alertFilters, scriptPath, webhookUrl } from '../database/alertRules.ts'
import { commandFields, memberAddress, peerId } from '../database/commands.ts'
import { constraintLifetimeMsMax } from '../database/constraintCommands.ts'
import { configKeyLengthMax, configValueBytesMax } from '../database/keySpace.ts'

const { name, names, failback, failoverThreshold, failoverPeriodMs, restartThreshold, restartPeriodMs } =
  commandFields
const paramName = z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, 'expected a parameter name')
const params = z.record(paramName, z.string().max(configValueBytesMax))
const someField = (body: object) => Object.keys(body).length > 0

export const groupCreateBody = z.strictObject({
  name,
  preferredOwners: names.default([]),
  possibleOwners: names.default([]),
  failback: failback.default('never'),
  antiAffinity: names.default([]),
  failoverThreshold: failoverThreshold.default(null),
  failoverPeriodMs: failoverPeriodMs.default(6 * 3_600_000),
})

/** How long an operator's move or ban holds: a second at least, a year at most. */
const lifetimeMs = z.number().int().min(1000).max(constraintLifetimeMsMax)

/** `lifetimeMs` (with `to`): the group is preferred on `to` for that long (`pcs resource move --lifetime`). */
export const groupMoveBody = z.strictObject({ to: name.optional(), lifetimeMs: lifetimeMs.optional() })

/** Without `lifetimeMs` the ban holds until `group clear`. */
export const groupBanBody = z.strictObject({ node: name, lifetimeMs: lifetimeMs.optional() })

/** Without `node`, every move and ban of the group goes. */
export const groupClearBody = z.strictObject({ node: name.optional() })

/** `PATCH /v1/groups/{name}` (group set): the fields given change, the others stay. */
export const groupUpdateBody = z
  .strictObject({
    preferredOwners: names.optional(),
    /** Empty: every node may own the group. */
    possibleOwners: names.optional(),
    failback: failback.optional(),
    antiAffinity: names.optional(),
    /** null: back to the default. */
    failoverThreshold: failoverThreshold.optional(),
    failoverPeriodMs: failoverPeriodMs.optional(),
  })
  .refine(someField, 'give at least one field to change')

/** Maintenance on or off: for the whole cluster, or for one node, group or resource. */
export const maintenanceBody = z
  .strictObject({ on: z.boolean(), node: name.optional(), group: name.optional(), resource: name.optional() })
  .refine((b) => [b.node, b.group, b.resource].filter((x) => x !== undefined).length <= 1, {
    message: 'name at most one of node, group, resource (none: the whole cluster)',
  })

/** WSFC defaults: RestartThreshold 3 within RestartPeriod 15 minutes. */
export const restartDefaults = { restartThreshold: 3, restartPeriodMs: 900_000 } as const

export const resourceCreateBody = z.strictObject({
  name,
  group: name,
  type: z.string().min(1).max(64),
  params: params.default({}),
  dependsOn: names.default([]),
  restartThreshold: restartThreshold.default(restartDefaults.restartThreshold),
  restartPeriodMs: restartPeriodMs.default(restartDefaults.restartPeriodMs),
})

/** Without `node`, every node forgets its restart history of the resources and re-probes them. */
export const resourceCleanupBody = z.strictObject({ node: name.optional() })
/**
 * `PATCH /v1/resources/{name}` (resource set): parameters set and unset, the restart policy.
 * New parameters of a running resource take effect only by restarting it: `restart: true` says
 * it may; without it such a change is refused (409 GC_ERR_RESTART_NEEDED) and nothing changes.
 */
export const resourceUpdateBody = z
  .strictObject({
    params: params.optional(),
    unset: z.array(paramName).max(64).optional(),
    restartThreshold: restartThreshold.optional(),
    restartPeriodMs: restartPeriodMs.optional(),
    restart: z.boolean().optional(),
  })
  .refine(
    ({ restart: _, ...change }) => someField(change),
    'give at least one of params, unset, restartThreshold, restartPeriodMs',
  )

export const resourceDependenciesBody = z.strictObject({ dependsOn: names })

export const nodeAddressBody = z.strictObject({ address: memberAddress })

export const nodeAddBody = z.strictObject({
  name,
  site: name,
  address: memberAddress,
  peerId,
  votes: z.number().int().min(0).max(1).default(1),
})

export const configSetBody = z.strictObject({ value: z.string().max(configValueBytesMax) })

export const emptyBody = z.strictObject({})

/** Confirming a forced epoch names what the operator asserts: nothing is implied. */
/** `cluster upgrade-level`: to this level, or (absent) to the highest the node asked supports. */
export const upgradeLevelBody = z.strictObject({ level: z.number().int().min(1).max(1000).optional() })

export const confirmForcedBody = z.strictObject({
  otherSideIsDown: z.literal(true, {
    error: 'say what you assert: {"otherSideIsDown": true} (the rest of the cluster is down)',
  }),
})

export const listQuery = {
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  since: z.coerce.number().int().min(0).default(0),
  prefix: z.string().max(configKeyLengthMax).default(''),
}

/** An alert: exactly one of `script` (an executable's absolute path) and `webhook` (http/https). */
export const alertAddBody = z
  .strictObject({
    name,
    script: scriptPath.optional(),
    webhook: webhookUrl.optional(),
    events: alertFilters.events.default([]),
    severities: alertFilters.severities.default([]),
    timeoutMs: alertFilters.timeoutMs.default(alertDefaults.timeoutMs),
    attempts: alertFilters.attempts.default(alertDefaults.attempts),
  })
  .refine((b) => (b.script === undefined) !== (b.webhook === undefined), {
    message: 'give either script or webhook',
    path: ['script'],
  })
