/**
 * The dashboard in headless Chromium (playwright-core): a real cluster of three nodes in two sites
 * and a witness at a third; the page signs in with the admin token, shows the sites, nodes,
 * witness, quorum gauge, groups and live events; a move made in the page shows in `geocluster
 * status`. A screenshot goes to test-results/dashboard.png.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusDocument } from '../../src/runtime/statusDocument.ts'
import { ensureChromium } from '../support/chromium.ts'
import { destroyGeoClusters, GeoCluster } from '../support/geoCluster.ts'
import { cleanUp, repoRoot, waitFor } from '../support/processes.ts'

let c: GeoCluster
let browser: Browser

beforeAll(async () => {
  const executablePath = ensureChromium()
  c = await GeoCluster.create({
    sites: [
      { name: 'atl', nodes: 2 },
      { name: 'phx', nodes: 1 },
    ],
    witnessSite: 'tie',
  })
  await c.startAll()
  await c.waitQuorate(c.names(), 30_000)
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] })
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await destroyGeoClusters()
  await cleanUp()
})

describe('dashboard', () => {
  it('shows the cluster, and a move made in the page shows in geocluster status', async () => {
    const via = 'atl-1'
    await c.api(via, 'POST', '/v1/groups', { name: 'web', preferredOwners: ['atl-1', 'atl-2', 'phx-1'] })
    await c.api(via, 'POST', '/v1/resources', {
      name: 'web-app',
      group: 'web',
      type: 'generic-app',
      params: { command: 'sleep 600' },
    })
    await c.api(via, 'POST', '/v1/groups/web/online', {})
    await waitFor('web online on atl-1', async () => {
      const g = (await c.status(via))?.groups.find((x) => x.name === 'web')
      return g?.state === 'online' && g.owner === 'atl-1' ? g : undefined
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    page.on('dialog', (d) => void d.accept())
    await page.goto(c.member(via).url!)
    // Sign in with the node's admin token.
    await page.fill('input[name=token]', c.token(via))
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=node-phx-1]')
    for (const site of ['atl', 'phx', 'tie'])
      expect(await page.isVisible(`[data-testid=site-${site}]`)).toBe(true)
    for (const node of ['atl-1', 'atl-2', 'phx-1'])
      expect(await page.textContent(`[data-testid=node-${node}]`)).toMatch(new RegExp(`${node}\\s*up`))
    expect(await page.textContent('[data-testid=witness-w1]')).toMatch(/w1\s*up/)
    const gauge = (await page.textContent('[data-testid=quorum]'))!
    expect(gauge).toMatch(/quorate 4 of 4 votes present,\s*3 needed/)
    expect(gauge).toMatch(/can lose now and stay quorate: atl-1, atl-2, phx-1, w1/)
    expect(await page.textContent('[data-testid=owner-web]')).toBe('atl-1')
    await page.waitForSelector('[data-testid=events] li')
    // Move it in the page: pick the target, confirm.
    await page.selectOption('select[aria-label="move web to"]', 'phx-1')
    await page.click('[data-testid=group-web] button:has-text("move")')
    await page.waitForSelector('[data-testid=notice]:has-text("done: move group web to phx-1")')
    const status = await waitFor(
      'the move in geocluster status',
      async () => {
        const r = await c.cli('atl-2', ['status', '--json'])
        const s = JSON.parse(r.stdout) as StatusDocument
        const g = s.groups.find((x) => x.name === 'web')
        return g?.owner === 'phx-1' && g.state === 'online' ? s : undefined
      },
      30_000,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((await c.status('atl-2'))?.groups)}`)
    })
    expect(status.groups.find((g) => g.name === 'web')?.fencingToken).toBeGreaterThan(1)
    await page.waitForSelector('[data-testid=owner-web]:has-text("phx-1")')
    // Online there, as the page learns from phx-1's answers to atl-1's heartbeats.
    await page.waitForSelector('[data-testid=group-web] .badge.online', { timeout: 15_000 })
    await page.waitForSelector('[data-testid=events] li:has-text("moving from atl-1 to phx-1")')
    mkdirSync(join(repoRoot, 'test-results'), { recursive: true })
    await page.screenshot({ path: join(repoRoot, 'test-results', 'dashboard.png'), fullPage: true })
    await page.close()
  }, 120_000)

  it('does what the CLI does: create, change, maintenance, ban with a lifetime, clear, delete; errors as the API gave them', async () => {
    const via = 'atl-2'
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true })
    const asked: string[] = []
    page.on('dialog', (d) => {
      asked.push(d.message())
      void d.accept()
    })
    await page.goto(c.member(via).url!)
    await page.fill('input[name=token]', c.token(via))
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=new-group]')
    const notice = (text: string) =>
      page.waitForSelector(`[data-testid=notice]:has-text(${JSON.stringify(text)})`)
    const group = async (name: string) => (await c.status(via))?.groups.find((g) => g.name === name)

    // A bad name: the API's own error, as it gave it.
    await page.fill('[data-testid=new-group] input[name=group-name]', 'bad name!')
    await page.click('[data-testid=new-group] button[type=submit]')
    await notice('failed: body.name: expected a name')
    // Create a group, then a resource in it.
    await page.fill('[data-testid=new-group] input[name=group-name]', 'api')
    await page.fill('[data-testid=new-group] input[name=preferred]', 'phx-1')
    await page.click('[data-testid=new-group] button[type=submit]')
    await notice('done: create group api')
    await page.click('[data-testid=group-api] button.link')
    await page.fill('[data-testid=new-resource-api] input[name=resource-name]', 'api-app')
    await page.fill('[data-testid=new-resource-api] textarea[name=params]', 'command=sleep 600')
    await page.click('[data-testid=new-resource-api] button[type=submit]')
    await notice('done: create resource api-app in api')
    expect((await group('api'))?.resources.map((r) => r.name)).toEqual(['api-app'])
    expect(asked).toContain('create resource api-app in api?')

    // Change it in place.
    await page.fill('[data-testid=group-set-api] input[name=set-failback]', 'immediate')
    await page.click('[data-testid=group-set-api] button[type=submit]')
    await notice('done: change the settings of group api')
    await waitFor('failback changed', async () => (await group('api'))?.failback === 'immediate')

    // Maintenance of the group, and back.
    await page.click('[data-testid=group-api] button:has-text("maintenance")')
    await notice('done: put in maintenance group api')
    await waitFor('api in maintenance', async () => (await group('api'))?.maintenance === true)
    await page.waitForSelector('[data-testid=group-api] .badge.maintenance')
    await page.click('[data-testid=group-api] button:has-text("end maintenance")')
    await waitFor('api out of maintenance', async () => (await group('api'))?.maintenance === false)

    // Ban it from atl-1 for 30 minutes, see it with its time left, clear it.
    await page.selectOption('select[aria-label="node for api"]', 'atl-1')
    await page.fill('[data-testid=constraints-api] input[name=lifetime]', '30m')
    await page.click('[data-testid=constraints-api] button:has-text("ban")')
    await notice('done: ban group api from atl-1 for 30m')
    await page.waitForSelector('[data-testid=constraint-api-atl-1]:has-text("banned from atl-1")')
    const ban = (await group('api'))?.constraints?.[0]
    expect(ban).toMatchObject({ node: 'atl-1', kind: 'ban' })
    expect(ban!.expiresAt! - Date.now()).toBeGreaterThan(25 * 60_000)
    await page.click('[data-testid=constraints-api] button:has-text("clear")')
    await notice('done: clear the moves and bans of group api')
    await waitFor('ban cleared', async () => (await group('api'))?.constraints?.length === 0)

    // A backup downloaded from the page, and every member's events merged.
    const download = page.waitForEvent('download')
    await page.click('[data-testid=backup]')
    expect((await download).suggestedFilename()).toMatch(/^geocluster-backup-.+-\d+\.json$/)
    await notice('done: backup of')
    await page.click('[data-testid=cluster-events] button:has-text("every member")')
    for (const node of ['atl-1', 'atl-2', 'phx-1'])
      await page.waitForSelector(`[data-testid=cluster-events] li:has-text("${node}")`)

    // Delete what was made: the resource, then the group.
    await page.click('[data-testid=resource-api-app] button:has-text("delete")')
    await notice('done: delete resource api-app')
    await page.click('[data-testid=group-api] button:has-text("delete")')
    await notice('done: delete group api')
    await waitFor('api gone', async () => (await group('api')) === undefined)
    await page.close()
  }, 180_000)

  it('asks for the token again when it is refused', async () => {
    const page = await browser.newPage()
    await page.goto(c.member('phx-1').url!)
    await page.fill('input[name=token]', 'not-the-token')
    await page.click('button[type=submit]')
    await page.waitForSelector('form.login .error:has-text("the token was refused")')
    await page.close()
  }, 60_000)
})
