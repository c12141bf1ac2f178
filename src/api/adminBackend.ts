/** What the admin API needs from a node: the narrow interface it is built and tested against. */
import type { ClusterDatabase } from '../database/clusterDatabase.ts'
import type { Command } from '../database/commands.ts'
import type { EventLog } from '../events/eventLog.ts'
import type { AppliedCommand } from '../runtime/clusterNode.ts'
import type { StatusDocument } from '../runtime/statusDocument.ts'

export interface AdminBackend {
  readonly name: string
  readonly adminToken: string
  readonly events: EventLog
  status(): StatusDocument
  propose(command: Command, by: string): Promise<AppliedCommand>
  read<T>(fn: (db: ClusterDatabase) => T): T
  failResource(name: string): void
}
