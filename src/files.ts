/**
 * One rule for the files a host names: every method that takes a path (export.*, import.*,
 * backup.*) goes through here, and nowhere else decides what a path may touch.
 *
 * - A relative path resolves inside the method's own folder (exports/ or backups/) and may not
 *   leave it, by `..` or by a symlink on the way.
 * - An absolute path is allowed (the user chose a file in a save or open panel), but a write
 *   never lands in the data directory, backups/ or logs/, never on the database or its side files
 *   (compared by identity, so a hard link or another spelling of the path does not get through),
 *   never through a symlink at the target, and never over a file that is not one of our exports of
 *   the same kind. The target's folder must exist.
 * - A read opens the file first (O_NONBLOCK, so a FIFO or a device cannot hold the process) and
 *   judges the open descriptor (fstat): only a regular file is read. SQLite opens files by name,
 *   so it is handed a private name for the very file that was judged (a hard link, or a copy made
 *   from the descriptor, in a 0700 folder of the data directory): no one can swap what it opens.
 * - A name with a NUL byte or a control character, or longer than the platform allows, is
 *   InvalidParams at its pointer; every other refusal, and every file-system failure, is
 *   FileRefused {path, reason}: never InternalError, never "no record with id".
 */
import {
  closeSync,
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ErrorCode, RpcError, invalidParams } from './errors.js';
import type { DataPaths } from './paths.js';
import { isNoRoom } from './store/sqlite-errors.js';

export type FileReason =
  | 'outside'
  | 'not-found'
  | 'not-a-file'
  | 'exists'
  | 'protected'
  | 'symlink'
  | 'permission'
  | 'no-folder'
  | 'name'
  | 'too-many-files'
  | 'changed'
  | 'io';

const EXPLAIN: Record<FileReason, string> = {
  outside: 'is outside the folder it must be in',
  'not-found': 'does not exist',
  'not-a-file': 'is not a regular file (a folder, a FIFO, a device or a socket is never read or written)',
  exists: 'exists already and is not an export of this kind: choose another name, or remove it first',
  protected: 'belongs to the store (its database, backups, logs or data folder): it is never written, replaced or read as a file',
  symlink: 'is a symbolic link: links are never followed when writing',
  permission: 'cannot be accessed: permission denied',
  'no-folder': 'is in a folder that does not exist',
  name: 'is not a name the file system accepts',
  'too-many-files': 'cannot be opened: too many open files; try again',
  changed: 'changed while it was being opened; try again',
  io: 'cannot be accessed',
};

/** FileRefused (-32022): `path` as the host gave it, the reason, and the system's words when there are any. */
export function fileRefused(path: string, reason: FileReason, details?: string): RpcError {
  return new RpcError(ErrorCode.FileRefused, `${path} ${EXPLAIN[reason]}${details ? ` (${details})` : ''}; nothing was changed`, {
    path,
    reason,
    ...(details === undefined ? {} : { details }),
  });
}

/**
 * The contract error of a failed file-system call on `path` (the host's spelling): StorageFull for
 * a full disk, else FileRefused with the reason its errno gives. What is not a file-system failure
 * (a SQLite error, a bug) is answered as it is, for the dispatcher to map.
 */
export function fileError(err: unknown, path: string): unknown {
  if (err instanceof RpcError) return err;
  if (!(err instanceof Error) || typeof (err as NodeJS.ErrnoException).syscall !== 'string') return err;
  if (isNoRoom(err)) return new RpcError(ErrorCode.StorageFull, 'The disk is full: free some space and try again (nothing was written)');
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const details = (err as Error).message;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return fileRefused(path, 'not-found', details);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return fileRefused(path, 'permission', details);
    case 'EISDIR':
    case 'ENXIO':
    case 'ENODEV':
    case 'EOPNOTSUPP':
    case 'ETXTBSY':
      return fileRefused(path, 'not-a-file', details);
    case 'EEXIST':
      return fileRefused(path, 'exists', details);
    case 'ELOOP':
      return fileRefused(path, 'symlink', details);
    case 'ENAMETOOLONG':
    case 'EINVAL':
    case 'EILSEQ':
      return fileRefused(path, 'name', details);
    case 'EMFILE':
    case 'ENFILE':
      return fileRefused(path, 'too-many-files', details);
    default:
      return fileRefused(path, 'io', details || String(err));
  }
}

/** The longest file name (one path component) and path, in bytes, of the platforms we run on. */
export const NAME_MAX_BYTES = 255;
export const PATH_MAX_BYTES = 4095;

/**
 * InvalidParams at `pointer` when `path` cannot name a file: empty, a NUL byte or a control
 * character, a component longer than NAME_MAX_BYTES, the whole longer than PATH_MAX_BYTES.
 */
export function checkName(path: string, pointer: string): void {
  const bad = (message: string): never => {
    throw invalidParams([{ path: pointer, message }]);
  };
  if (path.length === 0) bad('must not be empty');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) bad('must not contain a NUL byte or a control character');
  if (/[\ud800-\udfff]/.test(path.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''))) bad('must not contain a lone UTF-16 surrogate');
  if (Buffer.byteLength(path) > PATH_MAX_BYTES) bad(`must be at most ${PATH_MAX_BYTES} bytes long`);
  for (const part of path.split(/[/\\]/)) {
    if (Buffer.byteLength(part) > NAME_MAX_BYTES) bad(`has a name longer than ${NAME_MAX_BYTES} bytes: ${part.slice(0, 40)}…`);
  }
}

/** A file opened for reading and judged: a regular file, still open. */
export interface ReadHandle {
  /** The absolute path it was opened by. */
  readonly path: string;
  readonly fd: number;
  readonly stat: Stats;
  close(): void;
}

/** A private name for a judged file, for code that opens files by name (SQLite); dispose when done. */
export interface FileView {
  readonly path: string;
  dispose(): void;
}

/** Where each kind of export is recognised: the first bytes every export of that kind starts with. */
export type ExportKind = 'songs-json' | 'full-zip';

/** The first bytes of each kind of export file the sidecar writes (see isOurExport). */
const SIGNATURES: Record<ExportKind, (head: Buffer) => boolean> = {
  // export.songs: JSON.stringify(doc, null, 2) of a document whose first key is `format`.
  'songs-json': (head) => head.toString('utf8').startsWith('{\n  "format": "whiteroom-songs-export"'),
  // export.full: a zip whose first entry is manifest.json (a local file header at offset 0).
  'full-zip': (head) =>
    head.length >= 30 + 13 &&
    head.readUInt32LE(0) === 0x04034b50 &&
    head.readUInt16LE(26) === 13 &&
    head.toString('latin1', 30, 43) === 'manifest.json',
};

const SIDE_SUFFIXES = ['-wal', '-shm', '-journal'] as const;

export class Files {
  readonly #paths: DataPaths;

  constructor(paths: DataPaths) {
    this.#paths = paths;
  }

  /** realpath of one of our folders (they exist: created at start). */
  #real(dir: string): string {
    try {
      return realpathSync(dir);
    } catch {
      return resolve(dir);
    }
  }

  /**
   * The absolute path `path` names: relative ones inside `dir`, never leaving it (by `..`, or by a
   * symlink on the way). Checks the name first (InvalidParams at `pointer`).
   */
  resolve(path: string, dir: string, pointer: string): string {
    checkName(path, pointer);
    if (isAbsolute(path)) return resolve(path);
    const full = resolve(dir, path);
    const rel = relative(resolve(dir), full);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw fileRefused(path, 'outside', `relative paths stay inside ${dir}`);
    return full;
  }

  /** True when `real` (a realpath) is `dir` or inside it. */
  static #within(real: string, dir: string): boolean {
    return real === dir || real.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  }

  /** (dev, ino) of the files that are the store itself: the database, its side files, the lock and pid files. */
  #storeFiles(): Stats[] {
    const { dbPath, dataDir } = this.#paths;
    const names = [dbPath, ...SIDE_SUFFIXES.map((s) => dbPath + s), join(dataDir, 'whiteroom-store.lock'), join(dataDir, 'whiteroom-store.pid')];
    const out: Stats[] = [];
    for (const n of names) {
      try {
        out.push(statSync(n));
      } catch {
        /* not there */
      }
    }
    return out;
  }

  #isStoreFile(st: Stats): boolean {
    return this.#storeFiles().some((s) => s.dev === st.dev && s.ino === st.ino);
  }

  /**
   * Where an export of `kind` may be written for the host's `path` (relative: inside exports/),
   * or `fallback()` (a fresh name in exports/) when the host gave none. Refuses (FileRefused) a
   * target in the data directory, backups/ or logs/, a target whose folder does not exist, a
   * symlink or anything not a regular file at the target, a store file, and an existing file that
   * is not an export of the same kind. Answers the path to write, with its folder's real path.
   */
  exportTarget(path: string | undefined, kind: ExportKind, pointer: string, fallback: () => string): string {
    const { exportsDir, dataDir } = this.#paths;
    const shown = path ?? '(default)';
    const full = path === undefined ? fallback() : this.resolve(path, exportsDir, pointer);
    const name = basename(full);
    if (name === '' || name === '.' || name === '..' || (path !== undefined && /[/\\]$/.test(path))) {
      throw invalidParams([{ path: pointer, message: 'must name a file, not a folder' }]);
    }
    let folder: string;
    try {
      folder = realpathSync(dirname(full));
      if (!statSync(folder).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw fileRefused(shown, 'no-folder', dirname(full));
      throw fileError(err, shown);
    }
    const exportsReal = this.#real(exportsDir);
    if (path !== undefined && !isAbsolute(path) && !Files.#within(folder, exportsReal)) {
      throw fileRefused(shown, 'outside', `a symbolic link leads out of ${exportsDir}`);
    }
    // Nothing of the store's own folders is ever written, except exports/.
    if (Files.#within(folder, this.#real(dataDir)) && !Files.#within(folder, exportsReal)) throw fileRefused(shown, 'protected');
    const target = join(folder, name);
    let st: Stats;
    try {
      st = lstatSync(target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return target; // a new file
      throw fileError(err, shown);
    }
    if (st.isSymbolicLink()) throw fileRefused(shown, 'symlink');
    if (!st.isFile()) throw fileRefused(shown, 'not-a-file');
    if (this.#isStoreFile(st)) throw fileRefused(shown, 'protected');
    if (!isOurExport(target, kind)) throw fileRefused(shown, 'exists');
    return target;
  }

  /**
   * Opens the file the host named for reading (relative: inside `dir`) and judges the open
   * descriptor: a regular file, not one of the store's own files. Throws InvalidParams or
   * FileRefused; the caller closes the handle.
   */
  openRead(path: string, dir: string, pointer: string): ReadHandle {
    const full = this.resolve(path, dir, pointer);
    if (!isAbsolute(path)) {
      // A symlink on the way out of the folder (the file itself may be missing: said below).
      try {
        if (!Files.#within(realpathSync(full), this.#real(dir))) throw fileRefused(path, 'outside', `a symbolic link leads out of ${dir}`);
      } catch (err) {
        if (err instanceof RpcError) throw err;
      }
    }
    return openJudged(full, path, (st) => {
      if (this.#isStoreFile(st)) throw fileRefused(path, 'protected');
    });
  }

  /** Where private views are made: the data directory, or the paths' workDir (read-only: the temp folder). */
  get viewDir(): string {
    return this.#paths.workDir ?? this.#paths.dataDir;
  }

  /** A private view of the judged file `h` in viewDir (see privateView). */
  view(h: ReadHandle, shownPath: string): FileView {
    return privateView(h, this.viewDir, shownPath);
  }

  /** Runs `fn` on a private view of the file the host named (see openRead and view). */
  withView<T>(path: string, dir: string, pointer: string, fn: (view: string, h: ReadHandle) => T): T {
    return usingView(this.openRead(path, dir, pointer), this.viewDir, path, fn);
  }
}

/**
 * Opens `full` read-only and non-blocking (a FIFO or a device answers at once instead of holding
 * the process), then judges the descriptor: a regular file, and `check` (if any) passes.
 */
export function openJudged(full: string, shown: string, check?: (st: Stats) => void): ReadHandle {
  let fd: number;
  try {
    fd = openSync(full, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw fileError(err, shown);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fileRefused(shown, 'not-a-file');
    check?.(st);
    let open = true;
    return {
      path: full,
      fd,
      stat: st,
      close: () => {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (err) {
    closeSync(fd);
    throw fileError(err, shown);
  }
}

/**
 * A private name for the judged file `h` (and for its `-wal`/`-journal`, when the file has them,
 * opened and judged the same way), in a new 0700 folder `.view-*` of `workDir`: a hard link when
 * the file system allows it (checked to be the same file), else a copy read from the descriptors.
 * Code that opens files by name (SQLite) opens this one, so what it reads is what was judged.
 */
export function privateView(h: ReadHandle, workDir: string, shownPath: string): FileView {
  let dir: string;
  try {
    dir = mkdtempSync(join(workDir, '.view-'));
  } catch (err) {
    // A folder we may not write (permission, a read-only volume, a full disk): the contract's error.
    throw fileError(err, workDir);
  }
  const dispose = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const main = join(dir, 'db');
    privateCopy(h, main, shownPath);
    for (const suffix of ['-wal', '-journal']) {
      let side: ReadHandle;
      try {
        side = openJudged(h.path + suffix, shownPath + suffix);
      } catch (err) {
        if (err instanceof RpcError && (err.data as { reason?: string })?.reason === 'not-found') continue;
        throw err;
      }
      try {
        privateCopy(side, main + suffix, shownPath + suffix);
      } finally {
        side.close();
      }
    }
    return { path: main, dispose };
  } catch (err) {
    dispose();
    throw fileError(err, shownPath);
  }
}

/**
 * Runs `fn` on a private view (see privateView) of the file at `path` in one of the store's own
 * folders, opened and judged first: a FIFO or a device named like a backup is refused at once
 * (FileRefused), never opened by SQLite.
 */
export function withJudgedView<T>(path: string, workDir: string, fn: (view: string, h: ReadHandle) => T): T {
  return usingView(openJudged(path, path), workDir, path, fn);
}

/** The async twin of withJudgedView. */
export async function withJudgedViewAsync<T>(path: string, workDir: string, fn: (view: string, h: ReadHandle) => Promise<T>): Promise<T> {
  const h = openJudged(path, path);
  let v: FileView | undefined;
  try {
    v = privateView(h, workDir, path);
    return await fn(v.path, h);
  } finally {
    v?.dispose();
    h.close();
  }
}

/** Runs `fn` on a private view of the judged file `h`; the view is removed and `h` closed afterwards. */
function usingView<T>(h: ReadHandle, workDir: string, shown: string, fn: (view: string, h: ReadHandle) => T): T {
  let v: FileView | undefined;
  try {
    v = privateView(h, workDir, shown);
    return fn(v.path, h);
  } finally {
    v?.dispose();
    h.close();
  }
}

/** Makes `dest` the same bytes as the judged file `h`: a hard link to the same file, or a copy from its descriptor. */
function privateCopy(h: ReadHandle, dest: string, shown: string): void {
  try {
    linkSync(h.path, dest);
    const st = lstatSync(dest);
    if (st.dev === h.stat.dev && st.ino === h.stat.ino) return;
    // Swapped between the open and the link: not the file that was judged.
    rmSync(dest, { force: true });
    throw fileRefused(shown, 'changed');
  } catch (err) {
    if (err instanceof RpcError) throw err;
    // Another file system, or links not allowed: copy the judged bytes.
  }
  const out = openSync(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let pos = 0; ; ) {
      const n = readSync(h.fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      for (let off = 0; off < n; ) off += writeSync(out, buf, off, n - off);
      pos += n;
    }
  } finally {
    closeSync(out);
  }
}

/** True when the file at `path` starts as every export of `kind` that the sidecar writes starts. */
export function isOurExport(path: string, kind: ExportKind): boolean {
  let h: ReadHandle;
  try {
    h = openJudged(path, path);
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(64);
    const n = readSync(h.fd, head, 0, head.length, 0);
    return SIGNATURES[kind](head.subarray(0, n));
  } catch {
    return false;
  } finally {
    h.close();
  }
}
