/**
 * Loading better-sqlite3's native addon inside the packaged single binary (Node SEA).
 *
 * The binary carries better_sqlite3.node as a SEA asset. A native addon can only be loaded from a
 * file, so at start the binary keeps a copy in a folder and loads it with process.dlopen. Loading
 * a file runs its code with the user's rights, so a file is loaded only once it is verified:
 *
 *   - The folder is private: a real folder (not a symbolic link), owned by the current user,
 *     mode 0700, and every folder above it is owned by root or the user and writable by nobody
 *     else (or sticky, as /tmp is). Nobody else can then add, rename or replace a file in it, so
 *     the file checked is the file loaded.
 *   - The file is opened without following a symbolic link; it must be a regular file of the
 *     user's, writable by nobody else, with one name, and its bytes must be those of the addon
 *     the binary carries, compared byte for byte. (The file's name has the first 16 hex digits
 *     of the addon's SHA-256, compiled into the binary at build time by scripts/package.mjs from
 *     the very bytes it embeds; a binary built without it hashes the embedded asset instead.)
 *   - Anything else at the file's name (a missing file, another build's, a tampered one, a
 *     planted symbolic link) is replaced: the asset is written to a new temporary file
 *     (created exclusively, O_EXCL, so nothing planted is reused or followed), checked the
 *     same way, and renamed over the name (rename replaces a symbolic link, never follows it).
 *     Two binaries starting together therefore never load half a file.
 *
 * The folders tried, in order: the per-user cache folder (the copy is kept and verified at each
 * start: about a millisecond, reading ~2 MiB and comparing it with the asset), then a private folder made for
 * this process under the temporary folder (mkdtemp, 0700), removed as soon as the addon is
 * loaded (POSIX) or at exit. When neither works the process prints one `whiteroom-store:` line
 * naming each folder and why, and exits 1.
 *
 * On Windows there are no POSIX owners or modes: the folder checks are the symbolic-link and
 * folder tests only, and the per-user cache folder is protected by its ACLs.
 *
 * Outside the packaged binary this does nothing and better-sqlite3 finds its addon as usual.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as sea from 'node:sea';
import envPaths from 'env-paths';

/** The SEA asset key of the addon (scripts/package.mjs). */
export const ADDON_ASSET = 'better_sqlite3.node';

/** Set by esbuild's `define` in the packaged build: the addon's SHA-256 in hex. */
declare const __WHITEROOM_ADDON_SHA256__: string | undefined;

/** The mode of a folder the addon is kept in: the user's alone. */
const PRIVATE_FOLDER_MODE = 0o700;
/** Open flags that never follow a symbolic link at the last component (0 where unsupported). */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;
/** A FIFO planted at the name must not block the open; regular files ignore the flag. */
const NO_BLOCK = constants.O_NONBLOCK ?? 0;
/** The sticky bit: in a folder others may write, only an entry's owner can rename or remove it. */
const STICKY_BIT = 0o1000;
/** Bytes read (and compared) at a time when verifying a copy: the addon is ~2 MiB. */
const READ_CHUNK_BYTES = 64 * 1024;
/** The current user's uid; undefined on Windows, where owners and modes are not checked. */
const UID = process.getuid?.();

/**
 * In the packaged binary, loads the embedded addon and returns its module object (for
 * better-sqlite3's `nativeBinding` option); undefined when not running as a packaged binary.
 * When no folder can hold a verified copy, writes one `whiteroom-store:` line on stderr naming
 * each folder tried and why, and exits with status 1 (nothing works without SQLite).
 */
export function loadEmbeddedAddon(): object | undefined {
  if (!sea.isSea()) return undefined;
  const asset = new Uint8Array(sea.getRawAsset(ADDON_ASSET) as ArrayBuffer);
  const sha256 = typeof __WHITEROOM_ADDON_SHA256__ === 'string' ? __WHITEROOM_ADDON_SHA256__ : sha256Hex(asset);
  const addon: Addon = { name: `better_sqlite3-${sha256.slice(0, 16)}.node`, bytes: asset };
  const failures: string[] = [];

  // 1. The per-user cache folder: the copy is kept, so later starts only verify it.
  const cache = envPaths('whiteroom-store', { suffix: '' }).cache;
  try {
    return loadFrom(privateFolder(cache), addon);
  } catch (err) {
    failures.push(`${cache}: ${messageOf(err)}`);
  }

  // 2. A folder of this process's own under the temporary folder, never a fixed shared name.
  let temp: string | undefined;
  try {
    temp = mkdtempSync(join(tmpdir(), 'whiteroom-store-'));
    const exports = loadFrom(privateFolder(temp), addon);
    removeWhenPossible(temp);
    return exports;
  } catch (err) {
    failures.push(`${temp ?? tmpdir()}: ${messageOf(err)}`);
    if (temp) rmSync(temp, { recursive: true, force: true });
  }

  process.stderr.write(`whiteroom-store: cannot load the SQLite addon (${failures.join('; ')})\n`);
  process.exit(1);
}

interface Addon {
  /** The file name, with the first 16 hex digits of its SHA-256: a new build gets a new file. */
  readonly name: string;
  /** The bytes every copy must have. */
  readonly bytes: Uint8Array;
}

/** How many times a copy is written and checked before the folder is given up. */
const EXTRACT_ATTEMPTS = 4;

/** Verifies (or replaces, then verifies) the copy in `folder` and loads it. Throws why not. */
function loadFrom(folder: string, addon: Addon): object {
  const file = join(folder, addon.name);
  let why = refusal(file, addon);
  // Binaries starting at the same moment each write a copy and rename it over the name: ours may
  // be replaced between its rename and its check (it then has 0 names), by another verified copy
  // of the same user's. Look again, a few times, before giving up.
  for (let attempt = 0; why !== undefined && attempt < EXTRACT_ATTEMPTS; attempt++) {
    extract(file, addon);
    why = refusal(file, addon);
  }
  if (why !== undefined) throw new Error(`${addon.name} ${why} right after it was written`);
  // Checked just now, in a folder only this user can change: these bytes are the ones loaded.
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports;
}

/**
 * Writes the addon to `file`: a new temporary file beside it, created exclusively (a name
 * planted in advance makes the open fail rather than be reused or followed); the bytes; fsync;
 * the same checks as a copy about to be loaded; then rename over `file`, which replaces
 * whatever is there (a symbolic link included) without following it. The folder is not
 * fsynced: a copy lost in a crash is written again at the next start.
 */
function extract(file: string, addon: Addon): void {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NO_FOLLOW, 0o700);
  try {
    try {
      for (let at = 0; at < addon.bytes.byteLength; ) at += writeSync(fd, addon.bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const why = refusal(temp, addon);
    if (why !== undefined) throw new Error(`the copy written ${why}`);
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/**
 * Why `file` must not be loaded, or undefined when it may: it is opened without following a
 * symbolic link, and must be a regular file of this user's with one name, writable by nobody
 * else, whose bytes are `addon.bytes`.
 */
function refusal(file: string, addon: Addon): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | NO_FOLLOW | NO_BLOCK);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ELOOP' ? 'is a symbolic link' : `cannot be opened (${messageOf(err)})`;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 'is not a regular file';
    if (UID !== undefined) {
      if (st.uid !== UID) return `belongs to uid ${st.uid}`;
      if ((st.mode & 0o022) !== 0) return `can be written by others (mode ${octal(st.mode)})`;
      if (st.nlink !== 1) return `has ${st.nlink} names`;
    }
    if (st.size !== addon.bytes.byteLength) return `has ${st.size} bytes, not ${addon.bytes.byteLength}`;
    // Byte for byte the addon the binary carries (whose SHA-256 the build checked): as strong as
    // comparing hashes, and a fraction of the time of hashing 2 MiB at every start.
    const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
    for (let at = 0; at < st.size; ) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.byteLength, st.size - at), at);
      if (n === 0) return 'shrank while being read';
      if (!chunk.subarray(0, n).equals(addon.bytes.subarray(at, at + n))) return `differs from the addon at byte ${firstDifference(chunk, addon.bytes, at, n)}`;
      at += n;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes sure `folder` exists and is private, and returns its real path (the one to load from).
 * Missing folders are created 0700. A folder of this user's with a wider mode is set to 0700.
 * Throws, naming the reason, for a symbolic link, something that is not a folder, a folder of
 * another user, or a folder inside one that others can change.
 */
function privateFolder(folder: string): string {
  mkdirSync(folder, { recursive: true, mode: PRIVATE_FOLDER_MODE });
  const st = lstatSync(folder);
  if (st.isSymbolicLink()) throw new Error('is a symbolic link');
  if (!st.isDirectory()) throw new Error('is not a folder');
  const real = realpathSync(folder);
  if (UID === undefined) return real;
  if (st.uid !== UID) throw new Error(`belongs to uid ${st.uid}, not ${UID}`);
  // Above it: only root or this user may own a folder, and none may be writable by others
  // unless sticky (as /tmp is: others cannot then rename or remove what is ours).
  for (let above = dirname(real); ; above = dirname(above)) {
    const up = statSync(above);
    if (up.uid !== 0 && up.uid !== UID) throw new Error(`${above} belongs to uid ${up.uid}`);
    if ((up.mode & 0o022) !== 0 && (up.mode & STICKY_BIT) === 0) {
      throw new Error(`${above} can be written by others (mode ${octal(up.mode)})`);
    }
    if (dirname(above) === above) break;
  }
  if ((st.mode & 0o777) !== PRIVATE_FOLDER_MODE) {
    // Ours but open to others (or not usable by us): make it private. Others may have put files
    // in it meanwhile; refusal() rejects any file that is not ours alone.
    chmodSync(real, PRIVATE_FOLDER_MODE);
    const now = lstatSync(real);
    if (now.ino !== st.ino || now.dev !== st.dev || (now.mode & 0o777) !== PRIVATE_FOLDER_MODE) {
      throw new Error(`cannot be made private (mode ${octal(now.mode)})`);
    }
  }
  return real;
}

/** Removes the process's private temporary folder: now where a loaded file may be unlinked, else at exit. */
function removeWhenPossible(folder: string): void {
  try {
    if (process.platform === 'win32') throw new Error('a loaded DLL cannot be removed');
    rmSync(folder, { recursive: true, force: true });
  } catch {
    process.once('exit', () => {
      try {
        rmSync(folder, { recursive: true, force: true });
      } catch {
        // Still in use (Windows): the system's temporary-folder cleanup will remove it.
      }
    });
  }
}

/** The offset of the first byte of `chunk` (the file's bytes from `at`, `n` of them) that is not the addon's. */
function firstDifference(chunk: Uint8Array, bytes: Uint8Array, at: number, n: number): number {
  let i = 0;
  while (i < n && chunk[i] === bytes[at + i]) i++;
  return at + i;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
