import type { Context, Hono } from 'hono'
import { configKeyProblem } from '../../database/keySpace.ts'
import { GeoclusterError } from '../../errors/errors.ts'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody, parseQuery } from '../requestContext.ts'
import { configSetBody, listQuery } from '../requestSchemas.ts'

function keyOf(c: Context): string {
  const key = c.req.param('key') ?? ''
  const problem = configKeyProblem(key)
  if (problem !== null)
    throw new GeoclusterError('GC_ERR_BAD_REQUEST', `config key ${problem}`, { path: 'key' })
  return key
}

export function configRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/config', async (c) => {
    const prefix = parseQuery(c, 'prefix', listQuery.prefix)
    return c.json({
      entries: await node.read(
        (db) => db.configList(prefix).map(({ key, value, version }) => ({ key, value, version })),
        { bulk: true },
      ),
    })
  })
  app.get('/v1/config/:key{.+}', async (c) => {
    const key = keyOf(c)
    const record = await node.read((db) => db.configGet(key))
    if (record === undefined)
      throw new GeoclusterError('GC_ERR_NOT_FOUND', `no config key ${key}`, { path: 'key' })
    return c.json({ key, value: record.value, version: record.version })
  })
  app.put('/v1/config/:key{.+}', async (c) => {
    const key = keyOf(c)
    const { value } = await parseBody(c, configSetBody)
    const index = accepted(await node.propose({ op: 'config.set', key, value }, 'admin'))
    return c.json({ key, value, version: index })
  })
  app.delete('/v1/config/:key{.+}', async (c) => {
    const key = keyOf(c)
    accepted(await node.propose({ op: 'config.delete', key }, 'admin'))
    return c.json({ key, deleted: true })
  })
}
