import type { Context, Hono } from 'hono'
import type { AdminBackend } from '../adminBackend.ts'
import { accepted, parseBody, pathName } from '../requestContext.ts'
import {
  confirmForcedBody,
  emptyBody,
  nodeAddBody,
  nodeAddressBody,
  upgradeLevelBody,
} from '../requestSchemas.ts'

const nameOf = (c: Context) => pathName(c, 'node')

export function nodeRoutes(app: Hono, node: AdminBackend): void {
  app.get('/v1/nodes', (c) => c.json({ nodes: node.status().nodes }))
  // The second step of a forced quorum (WSFC /forcequorum): the operator says, in so many
  // words, that the rest of the cluster is down; until then the forced epoch takes no writes.
  app.post('/v1/cluster/confirm-forced', async (c) => {
    await parseBody(c, confirmForcedBody)
    return c.json(await node.confirmForced('admin'))
  })
  // Raise the cluster functional level once every node and the witness support it.
  app.post('/v1/cluster/upgrade-level', async (c) => {
    const { level } = await parseBody(c, upgradeLevelBody)
    return c.json(await node.upgradeLevel(level, 'admin'))
  })
  // Add a member: its database record and its vote, through the log (joint consensus).
  app.post('/v1/nodes', async (c) => {
    const body = await parseBody(c, nodeAddBody)
    accepted(await node.addNode(body, 'admin'))
    return c.json(node.status().nodes.find((n) => n.name === body.name) ?? { name: body.name }, 201)
  })
  // A member moved: its new address reaches every node through the log.
  app.post('/v1/nodes/:name/address', async (c) => {
    const name = nameOf(c)
    const { address } = await parseBody(c, nodeAddressBody)
    accepted(await node.propose({ op: 'node.setAddress', name, address }, 'admin'))
    return c.json({ name, address })
  })
  // Paused: keeps its vote and what it runs, takes no new groups (WSFC Suspend-ClusterNode);
  // drained: paused, and its groups move away gracefully (Suspend-ClusterNode -Drain).
  for (const [verb, paused, drain] of [
    ['pause', true, false],
    ['drain', true, true],
    ['resume', false, false],
  ] as const) {
    app.post(`/v1/nodes/:name/${verb}`, async (c) => {
      const name = nameOf(c)
      await parseBody(c, emptyBody)
      accepted(await node.propose({ op: 'node.setPaused', name, paused, drain }, 'admin'))
      return c.json({ name, paused, ...(drain ? { draining: true } : {}) })
    })
  }
  app.post('/v1/nodes/:name/evict', async (c) => {
    const name = nameOf(c)
    await parseBody(c, emptyBody)
    accepted(await node.evictNode(name, 'admin'))
    return c.json({ name, evicted: true })
  })
}
