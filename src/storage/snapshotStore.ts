/**
 * Snapshots of the cluster database on disk. Each file is written atomically and carries its
 * own checksums; on start the newest valid one is used, and a damaged newer one is skipped
 * with a report rather than trusted.
 *
 *   0 "GCSNAP01"   8 u64 index   16 u64 term   24 u32 payload length   28 u32 crc(payload)
 *  32 u32 crc(bytes 0..32)   36 payload
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from 'node:fs'
import { open, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { fsyncDirectoryAsync, writeFileDurably } from './durableFile.ts'
import type { StoredSnapshotMeta } from './logRecords.ts'

const magic = Buffer.from('GCSNAP01', 'latin1')
const headerBytes = 36
const namePattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/
export const snapshotsKeptDefault = 2

export interface LoadedSnapshot {
  meta: StoredSnapshotMeta
  file: string
  payload: Buffer
}

export interface SkippedSnapshot {
  file: string
  reason: string
}

export class SnapshotStore {
  private readonly dir: string
  private readonly keep: number

  constructor(dir: string, keep = snapshotsKeptDefault) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.dir = dir
    this.keep = keep
  }

  save(meta: StoredSnapshotMeta, payload: Uint8Array): string {
    const file = join(this.dir, fileName(meta))
    writeFileDurably(file, Buffer.concat([header(meta, payload.length, crc32(payload)), payload]))
    return file
  }

  /**
   * Writes a snapshot whose payload arrives in chunks, with asynchronous I/O (libuv's threads do
   * the writes and the fdatasync), so the event loop — and the consensus tick on it — runs on
   * while a large snapshot is written. Atomic as `save`: a temporary file renamed into place,
   * removed again on failure. Resolves with the file and the whole payload.
   */
  async saveStreamed(
    meta: StoredSnapshotMeta,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<{ file: string; payload: Buffer }> {
    const file = join(this.dir, fileName(meta))
    const tmp = `${file}.tmp-${process.pid}`
    const handle = await open(tmp, 'w', 0o600)
    const parts: Uint8Array[] = []
    try {
      let crc = 0
      let position = headerBytes
      for await (const chunk of chunks) {
        crc = crc32(chunk, crc)
        parts.push(chunk)
        await handle.write(chunk, 0, chunk.length, position)
        position += chunk.length
      }
      const length = position - headerBytes
      if (length > 0xffff_ffff) throw new Error(`snapshot payload of ${length} bytes does not fit its header`)
      await handle.write(header(meta, length, crc), 0, headerBytes, 0)
      await handle.datasync()
      await handle.close()
      await rename(tmp, file)
    } catch (error) {
      await handle.close().catch(() => {})
      await unlink(tmp).catch(() => {})
      throw error
    }
    await fsyncDirectoryAsync(this.dir)
    return { file, payload: Buffer.concat(parts) }
  }

  /** Deletes all but the newest `keep` snapshots; returns the oldest index still kept. */
  prune(): { removed: string[]; oldestKept: number | null } {
    const files = this.files()
    const removed: string[] = []
    while (files.length > this.keep) {
      const f = files.shift()!
      unlinkSync(f.file)
      removed.push(f.file)
    }
    return { removed, oldestKept: files[0]?.meta.index ?? null }
  }

  /** Deletes every snapshot (the node's history was reset). */
  clear(): void {
    for (const f of this.files()) unlinkSync(f.file)
  }

  /** Newest snapshot that checks out, and the newer ones that did not (with why). */
  loadNewest(): { snapshot: LoadedSnapshot | null; skipped: SkippedSnapshot[] } {
    const skipped: SkippedSnapshot[] = []
    for (const f of this.files().reverse()) {
      const result = verify(f.file, f.meta)
      if (typeof result === 'string') {
        skipped.push({ file: f.file, reason: result })
        continue
      }
      return { snapshot: { meta: f.meta, file: f.file, payload: result }, skipped }
    }
    return { snapshot: null, skipped }
  }

  private files(): { file: string; meta: StoredSnapshotMeta }[] {
    return readdirSync(this.dir)
      .map((name) => ({ name, m: namePattern.exec(name) }))
      .filter((x) => x.m !== null)
      .map(({ name, m }) => ({
        file: join(this.dir, name),
        meta: { index: Number.parseInt(m![1]!, 16), term: Number.parseInt(m![2]!, 16) },
      }))
      .sort((a, b) => a.meta.index - b.meta.index)
  }
}

function header(meta: StoredSnapshotMeta, payloadBytes: number, payloadCrc: number): Buffer {
  const h = Buffer.alloc(headerBytes)
  magic.copy(h, 0)
  h.writeBigUInt64LE(BigInt(meta.index), 8)
  h.writeBigUInt64LE(BigInt(meta.term), 16)
  h.writeUInt32LE(payloadBytes, 24)
  h.writeUInt32LE(payloadCrc, 28)
  h.writeUInt32LE(crc32(h.subarray(0, 32)), 32)
  return h
}

function fileName(meta: StoredSnapshotMeta): string {
  return `${meta.index.toString(16).padStart(16, '0')}-${meta.term.toString(16).padStart(16, '0')}.snap`
}

function verify(file: string, expected: StoredSnapshotMeta): Buffer | string {
  const buf = readFileSync(file)
  if (buf.length < headerBytes) return `file of ${buf.length} bytes is shorter than a snapshot header`
  if (!buf.subarray(0, 8).equals(magic)) return 'not a geocluster snapshot (bad magic)'
  if (buf.readUInt32LE(32) !== crc32(buf.subarray(0, 32))) return 'header checksum mismatch'
  const index = Number(buf.readBigUInt64LE(8))
  const term = Number(buf.readBigUInt64LE(16))
  if (index !== expected.index || term !== expected.term)
    return `header says ${index}/${term}, file name disagrees`
  const length = buf.readUInt32LE(24)
  if (buf.length !== headerBytes + length)
    return `payload is ${buf.length - headerBytes} bytes, header says ${length}`
  const payload = buf.subarray(headerBytes)
  if (crc32(payload) !== buf.readUInt32LE(28)) return 'payload checksum mismatch'
  return payload
}
