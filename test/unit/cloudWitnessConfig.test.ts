/**
 * The cloud witness's configuration: the topology's `witness: { type: cloud, ... }` fields and
 * the credentials file (mode 0600, an account key or a SAS token), each refusal naming the
 * file and the field.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { GeoclusterError } from '../../src/errors/errors.ts'
import { loadCloudCredentials } from '../../src/storage/cloudCredentials.ts'
import { parseTopology, TopologyError } from '../../src/topology/loadTopology.ts'
import { analyseQuorum } from '../../src/topology/quorumAnalysis.ts'

const dir = mkdtempSync(join(tmpdir(), 'gc-cloud-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const peers = [
  '12D3KooWHp9M1xVKEEDxJoaTrApWBiH3uqW5dMEvXWhxCPDtrGAe',
  '12D3KooWS4Z4jLMsfFvp19Be1PzQFQbf2KxqPtLNZUKhBNp1Cpeb',
]

const topology = (witness: string) =>
  [
    'cluster: { name: demo, secret: ./demo.psk }',
    'quorum: { model: node-and-witness }',
    'sites:',
    `  - { name: east, nodes: [ { name: east-1, address: /ip4/127.0.0.1/tcp/7401, peerId: ${peers[0]} } ] }`,
    `  - { name: west, nodes: [ { name: west-1, address: /ip4/127.0.0.1/tcp/7411, peerId: ${peers[1]} } ] }`,
    witness,
    '',
  ].join('\n')

const problemsOf = (text: string): string[] => {
  try {
    parseTopology('sites/demo.yaml', text)
    return []
  } catch (error) {
    if (error instanceof TopologyError) return error.problems
    throw error
  }
}

function credentialsFile(name: string, text: string, mode = 0o600): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  chmodSync(file, mode)
  return file
}

const refusal = (file: string): string => {
  try {
    loadCloudCredentials(file)
    return 'accepted'
  } catch (error) {
    expect(error).toBeInstanceOf(GeoclusterError)
    expect((error as GeoclusterError).exitCode).toBe(2)
    return (error as Error).message
  }
}

describe('cloud witness in the topology', () => {
  const cloud =
    'witness: { name: w1, site: cloud, type: cloud, provider: azure-blob, endpoint: "http://127.0.0.1:10000/devstoreaccount1", container: geocluster, credentialsFile: ./witness.credentials }'

  it('is accepted with provider, endpoint, container and credentials file, and counts as the third vote', () => {
    const t = parseTopology('sites/demo.yaml', topology(cloud))
    expect(t.witness).toMatchObject({
      type: 'cloud',
      provider: 'azure-blob',
      container: 'geocluster',
      votes: 1,
    })
    const a = analyseQuorum(t)
    // 2 nodes + the witness: either site may go, not both the witness and a site.
    expect(a.siteLoss).toEqual({ east: true, west: true, cloud: true })
    expect(a.siteLossWithoutWitness).toEqual({ east: false, west: false })
  })

  it('names each missing or wrong field', () => {
    expect(problemsOf(topology('witness: { name: w1, site: cloud, type: cloud }'))).toEqual([
      expect.stringMatching(/witness\.provider: required for a cloud witness/),
      expect.stringMatching(/witness\.endpoint: required for a cloud witness/),
      expect.stringMatching(/witness\.container: required for a cloud witness/),
      expect.stringMatching(/witness\.credentialsFile: required for a cloud witness/),
    ])
    expect(problemsOf(topology(cloud.replace('azure-blob', 's3')))).toEqual([
      expect.stringMatching(/witness\.provider: expected one of azure-blob, got 's3'/),
    ])
    expect(problemsOf(topology(cloud.replace('container: geocluster', 'container: Geo_Cluster')))).toEqual([
      expect.stringMatching(/witness\.container: expected a container name/),
    ])
    expect(
      problemsOf(topology(cloud.replace('"http://127.0.0.1:10000/devstoreaccount1"', 'ftp://x'))),
    ).toEqual([expect.stringMatching(/witness\.endpoint: expected the blob endpoint/)])
    expect(
      problemsOf(
        topology('witness: { name: w1, site: share, type: file-share, path: /x, container: geocluster }'),
      ),
    ).toEqual([expect.stringMatching(/witness\.container: only used with a cloud witness, not file-share/)])
  })
})

describe('cloud witness credentials file', () => {
  const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

  it('reads an account name and key, or a SAS token', () => {
    expect(
      loadCloudCredentials(credentialsFile('key.yaml', `accountName: acct\naccountKey: ${key}\n`)),
    ).toEqual({
      kind: 'shared-key',
      accountName: 'acct',
      accountKey: key,
    })
    expect(
      loadCloudCredentials(credentialsFile('sas.yaml', 'sasToken: "?sv=2025-01-05&ss=b&sig=abc%3D"\n')),
    ).toEqual({ kind: 'sas', sasToken: 'sv=2025-01-05&ss=b&sig=abc%3D' })
  })

  it('refuses a file others can read, naming it and the fix', () => {
    const file = credentialsFile('open.yaml', `accountName: acct\naccountKey: ${key}\n`, 0o644)
    expect(refusal(file)).toBe(
      `cloud witness credentials ${file}: mode 0644 lets others read it; it must be 0600 (chmod 600 ${file})`,
    )
    expect(refusal(credentialsFile('group.yaml', `accountName: acct\naccountKey: ${key}\n`, 0o640))).toMatch(
      /mode 0640/,
    )
  })

  it('refuses a missing file, bad YAML and incomplete or mixed credentials', () => {
    expect(refusal(join(dir, 'absent.yaml'))).toMatch(/absent\.yaml: ENOENT/)
    expect(refusal(credentialsFile('bad.yaml', 'accountName: [\n'))).toMatch(/bad\.yaml: not YAML/)
    expect(refusal(credentialsFile('nokey.yaml', 'accountName: acct\n'))).toMatch(
      /give either accountKey \(with accountName\) or sasToken/,
    )
    expect(refusal(credentialsFile('noname.yaml', `accountKey: ${key}\n`))).toMatch(
      /accountKey needs accountName/,
    )
    expect(
      refusal(credentialsFile('both.yaml', `accountName: a\naccountKey: ${key}\nsasToken: sv=1\n`)),
    ).toMatch(/either accountKey/)
    expect(refusal(credentialsFile('notb64.yaml', 'accountName: a\naccountKey: "not base64!"\n'))).toMatch(
      /accountKey: expected the base64 account key/,
    )
    expect(
      refusal(credentialsFile('extra.yaml', `accountName: a\naccountKey: ${key}\npassword: x\n`)),
    ).toMatch(/password/)
  })
})
