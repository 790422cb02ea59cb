/**
 * export.full / import.full: everything in one zip. The archive holds a consistent snapshot of the
 * database (the online backup API, never the live file), the songs as JSON, and manifest.json
 * (format, versions, and each file's size and SHA-256).
 *
 * yazl writes the archive and yauzl reads it (the same author's pair, both streaming): yauzl
 * refuses entry names that are absolute or contain `..` or backslashes and checks every entry's
 * real size against its header; on top of that only the three known names are accepted, each
 * once, and an archive declaring more than MAX_ARCHIVE_BYTES uncompressed is refused before a
 * byte is extracted.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, read, createWriteStream, fsyncSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type yauzl from 'yauzl';
import { fsyncPath, writeBackup, BackupCancelled } from '../store/backup.js';
import { tempPath } from '../paths.js';
import type { Store } from '../store/store.js';
import { isNoRoom } from '../store/sqlite-errors.js';
import { invalidBackup, type Backups, type LongOperation } from './backups.js';
import { invalidImport, jsonPieces, openNew, writeFile, type ImportError, type Transfer } from './transfer.js';
import { fileError, type ReadHandle } from '../files.js';
import { tooDeepPointer } from '../json-limits.js';
import { ErrorCode, RpcError, requestCancelled } from '../errors.js';

export const FULL_FORMAT = 'whiteroom-full-backup';
export const FULL_FORMAT_VERSION = 1;
/** An archive that declares more than this uncompressed is refused (a zip bomb, or not ours). */
export const MAX_ARCHIVE_BYTES = 8 * 1024 * 1024 * 1024;
/**
 * An archive may expand to at most this many times its own size, plus MIN_EXPANSION_BYTES. A
 * database and its JSON deflate to a fifth or a tenth; a run of zeros deflates a thousandfold, and
 * only a zip bomb is made of them. Checked on the sizes the entries declare, before a byte is
 * written (yauzl then holds every entry to its declared size as it is read).
 */
export const MAX_EXPANSION_RATIO = 100;
export const MIN_EXPANSION_BYTES = 64 * 1024 * 1024;
/** The manifest is a few hundred bytes; one larger than this is not ours. */
const MAX_MANIFEST_BYTES = 1024 * 1024;
const FILES = ['manifest.json', 'data.db', 'songs.json'] as const;

export interface ManifestFile {
  name: string;
  sizeBytes: number;
  sha256: string;
}

export interface Manifest {
  format: typeof FULL_FORMAT;
  formatVersion: number;
  app: { name: string; version: string };
  schemaVersion: number;
  createdAt: number;
  files: ManifestFile[];
}

export interface ArchiveOptions {
  store: Store;
  backups: Backups;
  transfer: Transfer;
  dataDir: string;
  appVersion: string;
  now?: () => number;
}

/** Passes `pieces` on, adding each to `hash` (as the UTF-8 bytes that are written). */
function* hashing(pieces: Iterable<string>, hash: Hash): Generator<string> {
  for (const piece of pieces) {
    hash.update(piece);
    yield piece;
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export class Archive {
  readonly #o: ArchiveOptions;

  constructor(options: ArchiveOptions) {
    this.#o = options;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** Writes the zip (temp file, fsync, rename); runs beside the queue, tracked so a restore waits for it. */
  exportFull(path: string | undefined, op: LongOperation = {}): Promise<{ path: string; sizeBytes: number; manifest: Manifest }> {
    return this.#o.backups.track(this.#exportFull(path, op));
  }

  async #exportFull(path: string | undefined, op: LongOperation): Promise<{ path: string; sizeBytes: number; manifest: Manifest }> {
    const { store, transfer } = this.#o;
    const target = transfer.target(path, 'full_backup', '.zip', 'full-zip');
    const release = transfer.claim(target); // two exports in one second get two names
    try {
      return await this.#writeArchive(target, path ?? target, op);
    } finally {
      release();
    }
  }

  async #writeArchive(target: string, shown: string, op: LongOperation): Promise<{ path: string; sizeBytes: number; manifest: Manifest }> {
    const { store, transfer } = this.#o;
    const partial = tempPath(target);
    // The file is created first: a target that cannot be written is refused before any work.
    let fd: number | undefined;
    try {
      fd = openNew(partial);
    } catch (err) {
      throw fileError(err, shown);
    }
    const work = mkdtempSync(join(this.#o.dataDir, '.export-'));
    op.progress?.begin('Exporting everything');
    try {
      const snapshot = await writeBackup(store.db, work, 'manual', {
        now: this.#now(),
        label: 'export.full',
        onProgress: (f) => op.progress?.report(f * 0.8),
        isCancelled: op.cancelled,
        pinWal: () => store.pinWal(),
        ownFileWrite: (fn) => store.ownFileWrite(fn),
      });
      // Written in pieces, as export.songs writes it (a library can be larger than one string),
      // and hashed as it is written.
      const songsPath = join(work, 'songs.json');
      const songsHash = createHash('sha256');
      const songsBytes = writeFile(songsPath, hashing(jsonPieces(transfer.songsDocument()), songsHash));
      const manifest: Manifest = {
        format: FULL_FORMAT,
        formatVersion: FULL_FORMAT_VERSION,
        app: { name: 'whiteroom-store', version: this.#o.appVersion },
        schemaVersion: store.schemaVersion,
        createdAt: this.#now(),
        files: [
          { name: 'data.db', sizeBytes: statSync(snapshot.path).size, sha256: await sha256File(snapshot.path) },
          { name: 'songs.json', sizeBytes: songsBytes, sha256: songsHash.digest('hex') },
        ],
      };
      if (op.cancelled?.()) throw requestCancelled();
      // Loaded when first used: start-up does not pay for the zip libraries.
      const { default: yazl } = await import('yazl');
      const zip = new yazl.ZipFile();
      // yazl reports a file it cannot read on the ZipFile, not on its stream: listened to for
      // good (it can come after the work folder is removed), and failing the export meanwhile.
      const zipFailed = new Promise<never>((_, reject) => zip.on('error', reject));
      zipFailed.catch(() => {});
      zip.addBuffer(Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), 'manifest.json');
      zip.addFile(snapshot.path, 'data.db');
      zip.addFile(songsPath, 'songs.json');
      zip.end();
      const out = createWriteStream('', { fd, autoClose: false });
      await Promise.race([pipeline(zip.outputStream, out), zipFailed]);
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      renameSync(partial, target);
      fsyncPath(join(target, '..'));
      op.progress?.report(1);
      return { path: target, sizeBytes: statSync(target).size, manifest };
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      rmSync(partial, { force: true });
      if (err instanceof BackupCancelled) throw requestCancelled();
      throw fileError(err, shown);
    } finally {
      rmSync(work, { recursive: true, force: true });
      op.progress?.end();
    }
  }

  /** Checks the archive and its manifest, then restores its database as backup.restore does (safety backup: pre-import). */
  async importFull(path: string, op: LongOperation = {}): Promise<Awaited<ReturnType<Backups['restore']>> & { manifest: Manifest }> {
    const h = this.#o.transfer.openImport(path);
    const source = h.path;
    let work: string | undefined;
    try {
      work = mkdtempSync(join(this.#o.dataDir, '.import-'));
      const extracted = await extract(h, work);
      const manifest = checkManifest(extracted);
      if (op.cancelled?.()) throw requestCancelled();
      let restored: Awaited<ReturnType<Backups['restore']>>;
      try {
        restored = await this.#o.backups.restore(join(work, 'data.db'), op, 'pre-import');
      } catch (err) {
        // Name the archive, not the extracted copy that is about to be removed.
        if (err instanceof RpcError && err.code === ErrorCode.InvalidBackup) {
          const reason = (err.data as { reason: string }).reason;
          throw invalidBackup(source, `data.db in the archive: ${reason}`);
        }
        throw err;
      }
      return { ...restored, restoredFrom: source, manifest };
    } catch (err) {
      throw fileError(err, path);
    } finally {
      h.close();
      if (work !== undefined) rmSync(work, { recursive: true, force: true });
    }
  }
}

interface Extracted {
  dir: string;
  files: Map<string, { sizeBytes: number; sha256: string }>;
}

/**
 * Extracts the known entries of the zip (the judged file `h`) into `dir`, hashing them; refuses
 * anything else. The entries are read twice: first their names and declared sizes only (the
 * central directory), which must be ours, once each, within MAX_ARCHIVE_BYTES, within
 * MAX_EXPANSION_RATIO of the archive's size, and within the free space of the data folder; only
 * then is a byte written, and yauzl holds each entry to the size it declared.
 */
async function extract(h: ReadHandle, dir: string): Promise<Extracted> {
  const { default: unzip } = await import('yauzl');
  // The archive is read from the judged descriptor, which yauzl must not close (fromFd would,
  // and so would a destroyed fs.ReadStream): positional reads of a range, owning nothing.
  class JudgedReader extends unzip.RandomAccessReader {
    override _readStreamForRange(start: number, end: number): Readable {
      let pos = start;
      return new Readable({
        highWaterMark: 256 * 1024,
        read(size) {
          const n = Math.min(size, end - pos);
          if (n <= 0) return void this.push(null);
          const buf = Buffer.allocUnsafe(n);
          read(h.fd, buf, 0, n, pos, (err, got) => {
            if (err) return void this.destroy(err);
            if (got === 0) return void this.push(null);
            pos += got;
            this.push(got === n ? buf : buf.subarray(0, got));
          });
        },
      });
    }
  }
  let zip: yauzl.ZipFile;
  try {
    zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
      unzip.fromRandomAccessReader(
        new JudgedReader(),
        h.stat.size,
        { lazyEntries: true, validateEntrySizes: true, strictFileNames: true, autoClose: false },
        (err, z) => (err ? reject(err) : resolve(z)),
      ),
    );
  } catch (err) {
    throw invalidImport([{ path: '', message: `not a zip archive: ${(err as Error).message}` }]);
  }
  zip.on('error', () => {}); // reported through the promises below; never unheard
  const files = new Map<string, { sizeBytes: number; sha256: string }>();
  try {
    const entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
      const list: yauzl.Entry[] = [];
      let declared = 0;
      zip.on('error', reject);
      zip.on('end', () => resolve(list));
      zip.on('entry', (entry: yauzl.Entry) => {
        const name = entry.fileName;
        const fail = (message: string): void => reject(invalidImport([{ path: name, message }]));
        if (!(FILES as readonly string[]).includes(name)) return fail('is not a file a full backup holds (manifest.json, data.db, songs.json)');
        if (list.some((e) => e.fileName === name)) return fail('appears twice');
        if (name === 'manifest.json' && entry.uncompressedSize > MAX_MANIFEST_BYTES) return fail(`is larger than the limit of ${MAX_MANIFEST_BYTES} bytes a manifest may have`);
        declared += entry.uncompressedSize;
        if (declared > MAX_ARCHIVE_BYTES) return fail(`the archive expands past ${MAX_ARCHIVE_BYTES} bytes`);
        const allowed = h.stat.size * MAX_EXPANSION_RATIO + MIN_EXPANSION_BYTES;
        if (declared > allowed) {
          return fail(`the archive expands to more than ${MAX_EXPANSION_RATIO} times its ${h.stat.size} bytes: it is not a backup of ours (a zip bomb?)`);
        }
        list.push(entry);
        zip.readEntry();
      });
      zip.readEntry();
    });
    // Room for the files and for the copy of data.db a restore makes beside the database.
    const need = entries.reduce((n, e) => n + e.uncompressedSize, 0) + (entries.find((e) => e.fileName === 'data.db')?.uncompressedSize ?? 0);
    const fs = statfsSync(dir);
    if (need > fs.bavail * fs.bsize) {
      throw new RpcError(ErrorCode.StorageFull, `The disk is full: the archive needs ${need} bytes free in the data folder, ${fs.bavail * fs.bsize} are (nothing was imported)`);
    }
    for (const entry of entries) {
      const name = entry.fileName;
      await new Promise<void>((resolve, reject) => {
        zip.openReadStream(entry, (err, stream) => {
          if (err) return reject(err);
          const hash = createHash('sha256');
          let size = 0;
          stream.on('data', (chunk: Buffer) => {
            hash.update(chunk);
            size += chunk.length;
          });
          pipeline(stream, createWriteStream(join(dir, name), { flags: 'wx' })).then(() => {
            files.set(name, { sizeBytes: size, sha256: hash.digest('hex') });
            resolve();
          }, reject);
        });
      });
    }
  } catch (err) {
    // A full disk is not the archive's fault: StorageFull, not InvalidImport.
    if (err instanceof RpcError || isNoRoom(err)) throw err;
    const message = (err as Error).message;
    // yauzl's own checks of entry names: the entry is named in the message.
    const entry = /^(?:invalid relative path|absolute path|invalid characters in fileName): (.*)$/.exec(message)?.[1];
    if (entry !== undefined) throw invalidImport([{ path: entry, message: `escapes the archive's folder (${message})` }]);
    throw invalidImport([{ path: '', message: `the archive cannot be read: ${message}` }]);
  } finally {
    zip.close();
  }
  return { dir, files };
}

/** The manifest must be ours, of a known version, and name exactly the other files with their sizes and hashes. */
function checkManifest(x: Extracted): Manifest {
  const errors: ImportError[] = [];
  if (!x.files.has('manifest.json')) throw invalidImport([{ path: 'manifest.json', message: 'is missing' }]);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(join(x.dir, 'manifest.json')))) as Manifest;
  } catch (err) {
    throw invalidImport([{ path: 'manifest.json', message: `is not UTF-8 JSON: ${(err as Error).message}` }]);
  }
  if (tooDeepPointer(manifest) !== undefined) throw invalidImport([{ path: 'manifest.json', message: 'is nested deeper than 1,000 levels' }]);
  if (manifest?.format !== FULL_FORMAT) errors.push({ path: 'manifest.json/format', message: `must be ${JSON.stringify(FULL_FORMAT)}` });
  if (typeof manifest?.formatVersion !== 'number' || manifest.formatVersion < 1 || manifest.formatVersion > FULL_FORMAT_VERSION) {
    errors.push({ path: 'manifest.json/formatVersion', message: `must be a version this one reads (1 to ${FULL_FORMAT_VERSION})` });
  }
  if (!Array.isArray(manifest?.files)) errors.push({ path: 'manifest.json/files', message: 'must be an array' });
  if (errors.length) throw invalidImport(errors);
  const listed = new Set<string>();
  for (const f of manifest.files) {
    listed.add(f.name);
    const got = x.files.get(f.name);
    if (!got) errors.push({ path: f.name, message: 'is listed in the manifest but not in the archive' });
    else if (got.sizeBytes !== f.sizeBytes) errors.push({ path: f.name, message: `is ${got.sizeBytes} bytes, the manifest says ${f.sizeBytes}` });
    else if (got.sha256 !== f.sha256) errors.push({ path: f.name, message: 'its SHA-256 does not match the manifest' });
  }
  for (const name of x.files.keys()) {
    if (name !== 'manifest.json' && !listed.has(name)) errors.push({ path: name, message: 'is not listed in the manifest' });
  }
  if (!listed.has('data.db')) errors.push({ path: 'data.db', message: 'is missing' });
  if (errors.length) throw invalidImport(errors);
  return manifest;
}

