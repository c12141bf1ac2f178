/**
 * The cloud witness's storage credentials: a small YAML file, mode 0600 (like the cluster
 * secret), that names the storage account and either its key or a SAS token:
 *
 *     accountName: devstoreaccount1      # with accountKey: Shared Key authorization
 *     accountKey: Eby8vdM02xNO...==      # base64, as the portal or Azurite shows it
 *     # or, instead of accountKey:
 *     sasToken: sv=2025-01-05&ss=b&...&sig=...   # an account or container SAS (read, write, create)
 *
 * Kept out of the topology file, which is copied to every node and into support bundles.
 */
import { readFileSync, statSync } from 'node:fs'
import { parse } from 'yaml'
import { z } from 'zod'
import { GeoclusterError } from '../errors/errors.ts'

export type CloudCredentials =
  | { kind: 'shared-key'; accountName: string; accountKey: string }
  | { kind: 'sas'; sasToken: string }

const fileSchema = z
  .strictObject({
    accountName: z.string().min(1).max(64).optional(),
    accountKey: z
      .string()
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected the base64 account key')
      .optional(),
    sasToken: z
      .string()
      .min(1)
      .regex(/^\??[^\s?]+$/, 'expected a SAS token (sv=...&sig=...)')
      .optional(),
  })
  .refine((c) => (c.accountKey !== undefined) !== (c.sasToken !== undefined), {
    message: 'give either accountKey (with accountName) or sasToken',
  })
  .refine((c) => c.accountKey === undefined || c.accountName !== undefined, {
    message: 'accountKey needs accountName',
  })

/** Reads and checks the credentials file; every refusal names the file (exit 2). */
export function loadCloudCredentials(file: string, field = 'witness.credentialsFile'): CloudCredentials {
  const refuse = (why: string) =>
    new GeoclusterError('GC_ERR_CONFIG', `cloud witness credentials ${file}: ${why}`, { path: field })
  let text: string
  try {
    const st = statSync(file)
    if (!st.isFile()) throw refuse('not a regular file')
    // Anyone who can read the key can vote for the witness: owner-only, as ssh insists for keys.
    if ((st.mode & 0o077) !== 0)
      throw refuse(
        `mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} lets others read it; it must be 0600 (chmod 600 ${file})`,
      )
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if (error instanceof GeoclusterError) throw error
    throw refuse((error as Error).message)
  }
  let doc: unknown
  try {
    doc = parse(text)
  } catch (error) {
    throw refuse(`not YAML (${(error as Error).message.split('\n')[0]})`)
  }
  const parsed = fileSchema.safeParse(doc ?? {})
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw refuse(`${issue.path.length === 0 ? '' : `${issue.path.join('.')}: `}${issue.message}`)
  }
  const c = parsed.data
  if (c.sasToken !== undefined) return { kind: 'sas', sasToken: c.sasToken.replace(/^\?/, '') }
  return { kind: 'shared-key', accountName: c.accountName!, accountKey: c.accountKey! }
}
