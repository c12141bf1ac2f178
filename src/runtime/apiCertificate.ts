/**
 * The admin API's TLS certificate: the operator's (`--api-tls-cert/--api-tls-key`), or one
 * generated once in the data dir when asked (`--api-tls-self-signed`), for the names the API is
 * reached by. Its SHA-256 fingerprint is printed at start so the CLI can pin it
 * (`--api-fingerprint`) — a bare token never has to cross a network in the clear.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { isIP } from 'node:net'
import { join } from 'node:path'
import forge from 'node-forge'
import { GeoclusterError } from '../errors/errors.ts'
import { writeFileDurably } from '../storage/durableFile.ts'

export interface ApiTls {
  cert: Buffer
  key: Buffer
  certFile: string
  /** SHA-256 of the certificate (DER), as `AB:CD:…` (what `--api-fingerprint` takes). */
  fingerprint: string
  selfSigned: boolean
}

const validityDays = 825

/** The certificate and key the operator gave, checked to be a pair that can be served. */
export function loadApiTls(certFile: string, keyFile: string): ApiTls {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file)
    } catch (error) {
      throw new GeoclusterError(
        'GC_ERR_CONFIG',
        `${file}: cannot read the API's TLS ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      )
    }
  }
  const cert = read(certFile, 'certificate')
  const key = read(keyFile, 'key')
  if ((statSync(keyFile).mode & 0o077) !== 0)
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `${keyFile}: the API's TLS key is readable by others (chmod 600 ${keyFile})`,
    )
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (error) {
    throw new GeoclusterError(
      'GC_ERR_CONFIG',
      `${certFile}: not a PEM certificate (${(error as Error).message})`,
    )
  }
  return { cert, key, certFile, fingerprint: x509.fingerprint256, selfSigned: false }
}

/**
 * The data dir's self-signed certificate (`<data-dir>/api-tls/cert.pem`, key 0600), made on the
 * first start that asks for it, for `names` (host names and IPs) besides the loopback ones.
 * An existing one is kept (its fingerprint stays what clients pinned) unless it lacks a name.
 */
export function ensureSelfSignedApiTls(dataDir: string, names: readonly string[]): ApiTls {
  const dir = join(dataDir, 'api-tls')
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  const wanted = [
    ...new Set([
      'localhost',
      '127.0.0.1',
      '::1',
      ...names.filter((n) => n !== '' && n !== '0.0.0.0' && n !== '::'),
    ]),
  ]
  if (existsSync(certFile) && existsSync(keyFile)) {
    const tls = { ...loadApiTls(certFile, keyFile), selfSigned: true }
    const x = new X509Certificate(tls.cert)
    if (wanted.every((n) => (isIP(n) === 0 ? x.checkHost(n) : x.checkIP(n)) !== undefined)) return tls
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
  const cert = forge.pki.createCertificate()
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey)
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`
  cert.validity.notBefore = new Date(Date.now() - 60_000)
  cert.validity.notAfter = new Date(Date.now() + validityDays * 86_400_000)
  const subject = [
    {
      name: 'commonName',
      value: `geocluster API (${wanted.find((n) => isIP(n) === 0 && n !== 'localhost') ?? 'node'})`,
    },
  ]
  cert.setSubject(subject)
  cert.setIssuer(subject)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: wanted.map((n) => (isIP(n) === 0 ? { type: 2, value: n } : { type: 7, ip: n })),
    },
  ])
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create())
  writeFileDurably(keyFile, Buffer.from(privateKey), 0o600)
  writeFileDurably(certFile, Buffer.from(forge.pki.certificateToPem(cert)), 0o644)
  return { ...loadApiTls(certFile, keyFile), selfSigned: true }
}
