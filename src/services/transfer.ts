/**
 * Export and import of songs as JSON, and of everything as a zip (export.full / import.full).
 *
 * Files are written beside their final name, fsynced, renamed into place, and the folder fsynced:
 * an export is whole or absent. An import reads and validates every record against the method
 * schemas (rpc-schema/) before it writes anything, then writes all of it in one transaction.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, lstatSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorCode, RpcError } from '../errors.js';
import type { StoredPerformance, StoredSong } from '../generated/types.js';
import * as validators from '../generated/validators.js';
import { paramErrors, type Validator } from '../rpc/dispatcher.js';
import { fsyncPath, localStamp } from '../store/backup.js';
import type { Model, Repository } from '../store/repository.js';
import type { Store } from '../store/store.js';
import type { ExportedHistory, History } from '../store/history.js';
import { tempPath } from '../paths.js';
import { fileError, fileRefused, type ExportKind, type Files, type ReadHandle } from '../files.js';
import { jsonPointer, pathNotUnicode, SURROGATE_ESCAPE, tooDeepPointer } from '../json-limits.js';
import { copyWithParts, stringifyAnswer, textsAt, withPartTexts } from '../json-text.js';
import { partColumns } from '../store/entity.js';
import { songs as songDesc, performances as performanceDesc } from '../store/entities.js';

export const SONGS_FORMAT = 'whiteroom-songs-export';
/** 2 adds `history` (export.songs {includeHistory}); files without history are still written as 1. */
export const SONGS_FORMAT_VERSION = 2;
/**
 * An import file larger than this is refused before it is read: it is read as one string, and a
 * V8 string holds at most 0x1fffffe8 characters (about 512 MiB; a UTF-8 file of this many bytes
 * always fits).
 */
export const MAX_IMPORT_BYTES = 0x1fffffe8;

export interface SongsExport {
  format: typeof SONGS_FORMAT;
  formatVersion: number;
  app: { name: string; version: string };
  schemaVersion: number;
  exportedAt: number;
  songs: StoredSong[];
  performances: StoredPerformance[];
  /** The records' versions and the parts they need (formatVersion 2). */
  history?: ExportedHistory;
}

export type OnConflict = 'skip' | 'replace' | 'duplicate';

export interface ImportError {
  path: string;
  message: string;
  id?: string;
}

/**
 * A record of the file that met a stored record it could not simply join or replace: a
 * performance whose id is stored under another song (`reason: "other-song"`). `resolution` says
 * what the import did with it (see Transfer.importSongs).
 */
export interface ImportConflict {
  entity: 'performances';
  id: string;
  reason: 'other-song';
  /** The song the file gives it. */
  songId: string;
  /** The song it is stored under. */
  storedSongId: string;
  resolution: 'kept' | 'moved' | 'duplicated';
}

const CONFLICT_RESOLUTION: Record<OnConflict, ImportConflict['resolution']> = { skip: 'kept', replace: 'moved', duplicate: 'duplicated' };

/**
 * The document's songs and performances with the texts of their structured parts as the file
 * holds them (json-text.ts): an import stores those texts, numbers as written.
 */
function withSentPartsOf(text: string, doc: SongsExport): SongsExport {
  const lists: [string, typeof songDesc, object[]][] = [
    ['songs', songDesc, doc.songs],
    ['performances', performanceDesc, doc.performances],
  ];
  const pointers: string[] = [];
  for (const [key, desc, items] of lists) items.forEach((_, i) => partColumns(desc).forEach((p) => pointers.push(`/${key}/${i}/${p.path}`)));
  const found = textsAt(text, pointers);
  for (const [key, desc, items] of lists) {
    items.forEach((item, i) => {
      const texts = new Map<string, string>();
      for (const p of partColumns(desc)) {
        const t = found.get(`/${key}/${i}/${p.path}`);
        if (t !== undefined) texts.set(p.path, t);
      }
      withPartTexts(item, texts);
    });
  }
  return doc;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** Control characters (C0, DEL, C1) and bidirectional overrides: never in a label or an id we show. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** The latest time JavaScript can hold (8.64e15 ms). */
const MAX_TIME = 8.64e15;
const SOURCES = new Set(['save', 'autosave', 'restore', 'import', 'delete']);

/**
 * The shape of an export's `history`: versions of records the file holds, each with a manifest of
 * part hashes; parts as [hash, text] pairs. (Hashes, order and references are checked as they are
 * stored: History.importHistory.)
 */
function historyErrors(history: unknown, songIds: ReadonlySet<string>, perfIds: ReadonlySet<string>, errors: ImportError[]): void {
  const h = history as Partial<ExportedHistory> | null;
  if (typeof h !== 'object' || h === null || !Array.isArray(h.versions) || !Array.isArray(h.parts)) {
    errors.push({ path: '/history', message: 'must be an object with the arrays versions and parts' });
    return;
  }
  h.parts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || !HEX64.test(p[0]) || typeof p[1] !== 'string') {
      errors.push({ path: `/history/parts/${i}`, message: 'must be [hash, text]: a SHA-256 in hex and the part text' });
    }
  });
  h.versions.forEach((v, i) => {
    const at = `/history/versions/${i}`;
    const ok =
      typeof v === 'object' && v !== null &&
      typeof v.versionId === 'string' && v.versionId.length > 0 && v.versionId.length <= 100 && !CONTROL.test(v.versionId) &&
      (v.entity === 'songs' || v.entity === 'performances') && typeof v.entityId === 'string' &&
      Number.isSafeInteger(v.revision) && v.revision >= 1 && v.revision < Number.MAX_SAFE_INTEGER &&
      Number.isSafeInteger(v.createdAt) && v.createdAt >= 0 && v.createdAt <= MAX_TIME &&
      SOURCES.has(v.source) && (v.label === undefined || (typeof v.label === 'string' && v.label.length > 0 && v.label.length <= 200 && !CONTROL.test(v.label))) &&
      typeof v.pinned === 'boolean' && typeof v.deviceId === 'string' && v.deviceId.length <= 100 && !CONTROL.test(v.deviceId) &&
      Number.isSafeInteger(v.sizeBytes) && v.sizeBytes >= 0 &&
      typeof v.manifest === 'object' && v.manifest !== null && !Array.isArray(v.manifest) &&
      Object.values(v.manifest).every((x) => typeof x === 'string' && HEX64.test(x));
    if (!ok) {
      errors.push({ path: at, message: 'is not a version: {versionId, entity, entityId, revision, createdAt, source, label?, pinned, deviceId, sizeBytes, manifest}' });
      return;
    }
    const ofFile = v.entity === 'songs' ? songIds : perfIds;
    if (!ofFile.has(v.entityId)) errors.push({ path: `${at}/entityId`, message: 'names a record the file does not hold' });
  });
}

export const invalidImport = (errors: ImportError[]): RpcError =>
  new RpcError(
    ErrorCode.InvalidImport,
    `Invalid import: ${errors[0] ? `${errors[0].path || '/'} ${errors[0].message}` : 'the file is not valid'}` +
      `${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}; nothing was imported`,
    { errors },
  );

/** `YYYY-MM-DD_HHMMSS` in local time, as in backup names. */
export const stamp = (at: number): string => localStamp(new Date(at));

/** `dir/stem.ext`, or `dir/stem-2.ext`, … : the first name not taken. */
export function freeName(dir: string, stem: string, ext: string, taken: (path: string) => boolean = () => false): string {
  for (let n = 1; ; n++) {
    const path = join(dir, `${stem}${n === 1 ? '' : `-${n}`}${ext}`);
    if (taken(path)) continue;
    try {
      lstatSync(path); // a dangling symlink takes the name too (the file rule refuses it)
    } catch {
      return path;
    }
  }
}

/** Text or bytes to write: whole, or in pieces (see jsonPieces) so no one string holds it all. */
export type FileData = string | Buffer | Iterable<string>;

/** Writes `data` to the open file `fd`, piece by piece; answers the bytes written. */
function writeAll(fd: number, data: FileData): number {
  let bytes = 0;
  for (const piece of typeof data === 'string' || Buffer.isBuffer(data) ? [data] : data) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    bytes += buf.length;
  }
  return bytes;
}

/** Writes `data` to a new file at `path` (a work file: no fsync, no rename); answers the bytes written. */
export function writeFile(path: string, data: FileData): number {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW);
  try {
    return writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `path` as a new file, never through a symlink or over anything there (O_EXCL): a
 * leftover of ours by that name (a crash between writing and renaming) is removed first, once.
 */
export function openNew(path: string): number {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  try {
    return openSync(path, flags, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    rmSync(path, { force: true }); // unlinks a planted symlink itself, never its target
    return openSync(path, flags, 0o644);
  }
}

/**
 * Writes `data` to `path` whole or not at all: a temp file beside it, fsync, rename, fsync of the
 * folder. Answers the bytes written.
 */
export function writeFileAtomic(path: string, data: FileData): number {
  const tmp = tempPath(path);
  try {
    const fd = openNew(tmp);
    let bytes: number;
    try {
      bytes = writeAll(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncPath(dirname(path));
    return bytes;
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * The JSON text of `doc` and a newline, in pieces: the top level indented two spaces, each
 * element of its top-level arrays on a line of its own, compact. A library's export can be larger
 * than one string can hold (about 512 MiB); its pieces are small. Records are not indented: the
 * indentation of a value nested n deep costs n² spaces, so a song nested a few hundred levels
 * made an export eight times the size of the database and past what one import reads.
 */
export function* jsonPieces(doc: object): Generator<string> {
  yield* members(doc, '');
  yield '\n';
}

/**
 * An object's members in pieces (jsonPieces): arrays one element a line, objects of arrays (an
 * export's `history`) the same one level down. Records are written as the store holds them
 * (stringifyAnswer: structured parts as stored, numbers as written).
 */
function* members(obj: object, pad: string): Generator<string> {
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined);
  yield '{';
  for (const [i, [key, value]] of entries.entries()) {
    yield `${i ? ',' : ''}\n${pad}  ${JSON.stringify(key)}: `;
    if (Array.isArray(value) && value.length > 0) {
      yield '[';
      for (const [j, item] of value.entries()) yield `${j ? ',' : ''}\n${pad}    ${stringifyAnswer(item) ?? 'null'}`;
      yield `\n${pad}  ]`;
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).some(Array.isArray)) {
      yield* members(value, `${pad}  `);
    } else {
      yield stringifyAnswer(value);
    }
  }
  yield entries.length ? `\n${pad}}` : '}';
}

/**
 * The whole content of the judged file `h`, read from its descriptor; InvalidImport when it is
 * larger than `max` bytes (checked as it is read: a file that grows meanwhile is caught too).
 */
export function readCapped(h: ReadHandle, max: number, shown: string): Buffer {
  const tooLarge = (size: number): RpcError =>
    invalidImport([
      {
        path: '',
        message:
          `the file is ${size} bytes or more, more than the ${max} (512 MiB) one import reads: export and import the songs in ` +
          'parts (export.songs {ids}), or move the whole library with export.full and import.full',
      },
    ]);
  if (h.stat.size > max) throw tooLarge(h.stat.size);
  const parts: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(Math.max(h.stat.size - total, 0) + 1, 16 * 1024 * 1024));
      const n = readSync(h.fd, buf, 0, buf.length, total);
      if (n === 0) break;
      total += n;
      if (total > max) throw tooLarge(total);
      parts.push(n === buf.length ? buf : buf.subarray(0, n));
    }
  } catch (err) {
    throw err instanceof RpcError ? err : fileError(err, shown);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

const validatorOf = (name: string): Validator => (validators as unknown as Record<string, Validator>)[name]!;

export interface TransferOptions {
  store: Store;
  songs: Repository<StoredSong>;
  performances: Repository<StoredPerformance>;
  exportsDir: string;
  /** The rule for the files a host names (src/files.ts). */
  files: Files;
  appVersion: string;
  /** Versions of songs and performances: exported and imported with them when asked. */
  history: History;
  now?: () => number;
}

export class Transfer {
  readonly #o: TransferOptions;

  constructor(options: TransferOptions) {
    this.#o = options;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  /** The export document of the given songs (all when `ids` is absent). Throws NotFound for a missing id. */
  songsDocument(ids?: string[], includePerformances = true, includeHistory = false): SongsExport {
    const { songs, performances } = this.#o;
    const list = ids ? [...new Set(ids)].map((id) => songs.get(id)) : this.#all(songs);
    const wanted = new Set(list.map((s) => s.id));
    const perfs = includePerformances ? this.#all(performances).filter((p) => wanted.has(p.songId)) : [];
    const history = includeHistory
      ? this.#o.history.exportHistory([
          ...list.map((s) => ({ entity: 'songs', id: s.id })),
          ...perfs.map((p) => ({ entity: 'performances', id: p.id })),
        ])
      : undefined;
    return {
      format: SONGS_FORMAT,
      formatVersion: history ? 2 : 1,
      app: { name: 'whiteroom-store', version: this.#o.appVersion },
      schemaVersion: this.#o.store.schemaVersion,
      exportedAt: this.#now(),
      songs: list,
      performances: perfs,
      ...(history ? { history } : {}),
    };
  }

  #all<T extends { id: string }>(repo: Repository<T>): T[] {
    const out: T[] = [];
    let cursor: string | undefined;
    do {
      const page = repo.list({ limit: 1000, orderBy: 'createdAt', direction: 'asc', ...(cursor ? { cursor } : {}) });
      out.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  /**
   * Where an export goes: `path` (absolute, or a name in exports/) or a fresh dated name in
   * exports/, as the file rule allows (src/files.ts: FileRefused or InvalidParams at /path).
   */
  target(path: string | undefined, stem: string, ext: string, kind: ExportKind): string {
    const taken = (p: string): boolean => this.#writing.has(p);
    const target = this.#o.files.exportTarget(path, kind, '/path', () => freeName(this.#o.exportsDir, `${stem}_${stamp(this.#now())}`, ext, taken));
    if (taken(target)) throw fileRefused(path ?? target, 'exists', 'another export is writing it now');
    return target;
  }

  /** Targets of exports being written beside the queue (export.full): no other export takes them meanwhile. */
  readonly #writing = new Set<string>();

  /** Holds `target` for an export that runs beside the queue; call the answer when it is done. */
  claim(target: string): () => void {
    this.#writing.add(target);
    return () => this.#writing.delete(target);
  }

  exportSongs(options: { ids?: string[]; path?: string; includePerformances?: boolean; includeHistory?: boolean }): {
    path: string;
    songs: number;
    performances: number;
    sizeBytes: number;
  } {
    const doc = this.songsDocument(options.ids, options.includePerformances ?? true, options.includeHistory ?? false);
    const path = this.target(options.path, 'songs_export', '.json', 'songs-json');
    let sizeBytes: number;
    try {
      sizeBytes = writeFileAtomic(path, jsonPieces(doc));
    } catch (err) {
      throw fileError(err, options.path ?? path);
    }
    return { path, songs: doc.songs.length, performances: doc.performances.length, sizeBytes };
  }

  /** Opens a file to import (absolute, or a name in exports/) as the file rule allows; the caller closes it. */
  openImport(path: string): ReadHandle {
    return this.#o.files.openRead(path, this.#o.exportsDir, '/path');
  }

  /** Reads and validates an export file; throws InvalidImport listing every record and field at fault. */
  readSongs(path: string): SongsExport {
    const h = this.openImport(path);
    let bytes: Buffer;
    try {
      bytes = readCapped(h, MAX_IMPORT_BYTES, path);
    } finally {
      h.close();
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw invalidImport([{ path: '', message: 'is not UTF-8 text (export files are UTF-8 JSON): convert it to UTF-8, nothing was read from it' }]);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw invalidImport([{ path: '', message: `not JSON: ${(err as Error).message}` }]);
    }
    const deep = tooDeepPointer(doc);
    if (deep !== undefined) throw invalidImport([{ path: deep, message: 'is nested deeper than the 1,000 levels a stored value may have' }]);
    const lone = SURROGATE_ESCAPE.test(text) ? pathNotUnicode(doc) : undefined;
    if (lone !== undefined) {
      throw invalidImport([{ path: jsonPointer(lone), message: 'holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair): not Unicode text' }]);
    }
    return withSentPartsOf(text, this.validateSongs(doc));
  }

  /** Checks an export document: format, version, every song and performance against its schema. */
  validateSongs(doc: unknown): SongsExport {
    const errors: ImportError[] = [];
    const d = doc as Partial<SongsExport> | null;
    if (typeof d !== 'object' || d === null || Array.isArray(d)) throw invalidImport([{ path: '', message: 'must be an object' }]);
    if (d.format !== SONGS_FORMAT) errors.push({ path: '/format', message: `must be ${JSON.stringify(SONGS_FORMAT)}` });
    if (typeof d.formatVersion !== 'number' || d.formatVersion > SONGS_FORMAT_VERSION || d.formatVersion < 1) {
      errors.push({ path: '/formatVersion', message: `must be a format version this version reads (1 to ${SONGS_FORMAT_VERSION})` });
    }
    if (!Array.isArray(d.songs)) errors.push({ path: '/songs', message: 'must be an array' });
    if (d.performances !== undefined && !Array.isArray(d.performances)) errors.push({ path: '/performances', message: 'must be an array' });
    if (errors.length) throw invalidImport(errors);
    const check = (validator: string, items: unknown[], at: string): void => {
      const v = validatorOf(validator);
      items.forEach((item, i) => {
        if (v({ item })) return;
        const id = typeof (item as { id?: unknown })?.id === 'string' ? (item as { id: string }).id : undefined;
        for (const e of paramErrors(v.errors ?? [])) {
          errors.push({ path: `${at}/${i}${e.path.replace(/^\/item/, '')}`, message: e.message, ...(id ? { id } : {}) });
        }
      });
    };
    check('songs_save__params', d.songs!, '/songs');
    check('performances_save__params', d.performances ?? [], '/performances');
    const songIds = new Set<string>();
    const isRecord = (x: unknown): boolean => typeof x === 'object' && x !== null && !Array.isArray(x);
    d.songs!.forEach((s, i) => {
      if (!isRecord(s)) return; // the schema check reported it
      if (typeof s.id !== 'string') errors.push({ path: `/songs/${i}/id`, message: 'is required in an export' });
      else if (songIds.has(s.id)) errors.push({ path: `/songs/${i}/id`, message: 'appears twice', id: s.id });
      else songIds.add(s.id);
    });
    const perfIds = new Set<string>();
    (d.performances ?? []).forEach((p, i) => {
      if (!isRecord(p)) return;
      if (typeof p.id !== 'string') errors.push({ path: `/performances/${i}/id`, message: 'is required in an export' });
      else if (perfIds.has(p.id)) errors.push({ path: `/performances/${i}/id`, message: 'appears twice', id: p.id });
      else perfIds.add(p.id);
      if (typeof p.songId === 'string' && !songIds.has(p.songId) && this.#o.songs.revisionOf(p.songId) === undefined) {
        errors.push({ path: `/performances/${i}/songId`, message: `names a song that is neither in the file nor stored`, id: p.id });
      }
    });
    if (d.history !== undefined) historyErrors(d.history, songIds, perfIds, errors);
    if (errors.length) throw invalidImport(errors);
    return { ...d, performances: d.performances ?? [] } as SongsExport;
  }

  /**
   * Imports a validated document in one transaction. `skip` leaves a stored song (and the file's
   * performances of it) alone, `replace` saves over it, `duplicate` imports it under a new id (its
   * performances too). New records keep their exported createdAt, updatedAt and revision.
   *
   * A performance of the file whose id is stored under another song than the file gives it is a
   * conflict, and each one is answered in `conflicts`: `skip` keeps the stored performance where
   * it is (`kept`), `replace` saves the file's over it, so it moves to the file's song (`moved`),
   * `duplicate` imports the file's under a new id beside the stored one (`duplicated`).
   */
  importSongs(doc: SongsExport, onConflict: OnConflict, includeHistory = true): {
    songs: number;
    performances: number;
    skipped: number;
    replaced: number;
    duplicated: number;
    conflicts: ImportConflict[];
    versions: number;
  } {
    const { store, songs, performances, history } = this.#o;
    return store.write(() => history.as('import', () => {
      const counts = { songs: 0, performances: 0, skipped: 0, replaced: 0, duplicated: 0, conflicts: [] as ImportConflict[], versions: 0 };
      // First what each record of the file becomes (reads only), then the file's history under the
      // ids the records will have, then the records: their import versions come after their history.
      /** `<entity>\n<file id>` -> the id the record is stored under (absent: not imported). */
      const storedAs = new Map<string, string>();
      const writes: (() => void)[] = [];
      const songIdMap = new Map<string, string | null>(); // file id -> stored id (null: skipped)
      doc.songs.forEach((song, i) => {
        const at = `/songs/${i}`;
        const model = song as unknown as Model;
        const exists = songs.revisionOf(song.id) !== undefined;
        let id = song.id;
        if (!exists) {
          writes.push(() => songs.insertAsIs(model, at));
        } else if (onConflict === 'skip') {
          songIdMap.set(song.id, null);
          counts.skipped++;
          return;
        } else if (onConflict === 'replace') {
          writes.push(() => songs.save(model, at));
          counts.replaced++;
        } else {
          id = randomUUID();
          writes.push(() => songs.save(copyWithParts(model, { id, revision: undefined }), at));
          counts.duplicated++;
        }
        songIdMap.set(song.id, id);
        storedAs.set(`songs\n${song.id}`, id);
        counts.songs++;
      });
      doc.performances.forEach((perf, i) => {
        const at = `/performances/${i}`;
        const target = songIdMap.has(perf.songId) ? songIdMap.get(perf.songId) : perf.songId;
        if (target === null) return;
        const item = copyWithParts(perf as unknown as Model, { songId: target });
        const exists = performances.revisionOf(perf.id) !== undefined;
        const copy = (): string => {
          const id = randomUUID();
          writes.push(() => performances.save(copyWithParts(item, { id, revision: undefined }), at));
          return id;
        };
        let stored: string;
        if (target !== perf.songId) {
          stored = copy();
        } else {
          const storedSongId = exists ? performances.get(perf.id).songId : undefined;
          if (storedSongId !== undefined && storedSongId !== target) {
            const resolution = CONFLICT_RESOLUTION[onConflict];
            counts.conflicts.push({ entity: 'performances', id: perf.id, reason: 'other-song', songId: target, storedSongId, resolution });
          }
          if (!exists) {
            writes.push(() => performances.insertAsIs(item, at));
            stored = perf.id;
          } else if (onConflict === 'skip') {
            return;
          } else if (onConflict === 'replace') {
            writes.push(() => performances.save(item, at));
            stored = perf.id;
          } else {
            stored = copy();
          }
        }
        storedAs.set(`performances\n${perf.id}`, stored);
        counts.performances++;
      });
      if (includeHistory && doc.history) {
        try {
          counts.versions = history.importHistory(doc.history, storedAs);
        } catch (err) {
          const at = (err as { importPath?: string }).importPath;
          if (at === undefined) throw err;
          throw invalidImport([{ path: at, message: (err as Error).message }]);
        }
      }
      for (const write of writes) write();
      return counts;
    }));
  }
}
