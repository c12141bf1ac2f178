/** Database records as a freshly created group or resource has them, for unit tests to vary. */
import type { GroupRecord, ResourceRecord } from '../../src/database/entities.ts'

/** A group with every default of `group.create`, online and unowned unless `over` says otherwise. */
export function groupRecord(name: string, over: Partial<GroupRecord> = {}): GroupRecord {
  return {
    kind: 'group',
    name,
    preferredOwners: [],
    possibleOwners: [],
    failback: 'never',
    antiAffinity: [],
    target: 'online',
    owner: null,
    fencingToken: 0,
    lastOwner: null,
    moving: null,
    failoverThreshold: null,
    failoverPeriodMs: 6 * 3_600_000,
    failovers: [],
    failbacks: [],
    failed: null,
    ...over,
  }
}

/** A `generic-app` resource of group `g` running `/bin/true`. */
export function resourceRecord(name: string, over: Partial<ResourceRecord> = {}): ResourceRecord {
  return {
    kind: 'resource',
    name,
    group: 'g',
    type: 'generic-app',
    params: { command: '/bin/true' },
    dependsOn: [],
    restartThreshold: 3,
    restartPeriodMs: 900_000,
    target: 'online',
    failed: null,
    ...over,
  }
}
