import { GeoclusterError } from '../../errors/errors.ts'
import type { AdminBackend } from '../adminBackend.ts'

/** The group as status shows it (with its resources and constraints); 404 when there is none. */
export function groupView(node: AdminBackend, name: string) {
  const group = node.status().groups.find((g) => g.name === name)
  if (group === undefined) throw new GeoclusterError('GC_ERR_NOT_FOUND', `no group ${name}`, { path: 'name' })
  return group
}
