/**
 * Backup files: consistent copies of the live database. A backup is a copy of the database file
 * taken while a read snapshot that began at an empty WAL holds every checkpoint off that file (a
 * clone where the file system has one); when no such snapshot can be had, SQLite's online backup
 * API. Never a plain file copy of a live WAL database, which can be torn or miss committed pages
 * still in the -wal file.
 *
 * A backup is written beside its final name, marked with its kind, checked, fsynced, and only then
 * linked into place (link, not rename: it never overwrites an existing backup), and the folder is
 * fsynced so the new name survives a power cut. A crash at any step leaves at most a `.partial`
 * file (and its journal), which the next start or the next backup removes.
 */
import { closeSync, constants as fsConstants, copyFileSync, existsSync, fsync, fsyncSync, linkSync, openSync, readdirSync, readSync, rmSync, statSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Migration } from '../generated/migrations.js';
import type { Counts } from '../generated/types.js';
import { unreadableContent } from './content-check.js';
import { runMigrationStep } from './migration-steps.js';
import { MMAP_SIZE_BYTES } from './database.js';
import { connect, type Connection } from './sqlite.js';

/** The migrations a file is judged against. */
type Migrations = readonly Migration[];

const KINDS = ['manual', 'automatic', 'pre-migration', 'pre-restore', 'pre-import'] as const;
export type BackupKind = (typeof KINDS)[number];

/** A backup file's name: data_YYYY-MM-DD_HHMMSS.db, with -2, -3, … for more in one second. */
export const BACKUP_FILE = /^data_\d{4}-\d{2}-\d{2}_\d{6}(-\d+)?\.db$/;
const PARTIAL_SUFFIX = '.partial';
/** The checked copy a restore (or a recovery) puts beside data.db before renaming it over. */
export const RESTORING_SUFFIX = '.restoring';
/** The sidecar's labels in a backup's metadata table; they are not the live database's. */
const LABEL_KEYS = ['backup_kind', 'backup_created_at', 'backup_label'] as const;

/** The files SQLite may keep beside a database file. */
const SIDE_SUFFIXES = ['-journal', '-wal', '-shm'] as const;

/** Removes what SQLite may have left beside the database file `path` (-journal, -wal, -shm). */
export function removeSideFiles(path: string): void {
  for (const suffix of SIDE_SUFFIXES) rmSync(`${path}${suffix}`, { force: true });
}

/** Removes the database file `path` and what SQLite may have left beside it. */
export function removeDatabaseFile(path: string): void {
  rmSync(path, { force: true });
  removeSideFiles(path);
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYY-MM-DD_HHMMSS` in local time: the time in the plan's backup and export names. */
export function localStamp(date: Date): string {
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}_` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`
  );
}

/** `data_YYYY-MM-DD_HHMMSS` in local time, the plan's backup name. */
export const backupStem = (date: Date): string => `data_${localStamp(date)}`;

/**
 * The time a backup's name gives (`data_YYYY-MM-DD_HHMMSS….db`, local time, as backupStem writes
 * it), in ms since the epoch; undefined for a name that is not one or names no real time
 * (`2026-02-30`). A file's modification time is not its age: copying it changes it.
 */
export function timeFromName(name: string): number | undefined {
  const m = /^data_(\d{4})-(\d{2})-(\d{2})_(\d{2})(\d{2})(\d{2})(?:-\d+)?\.db$/.exec(name);
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, sec);
  // Date rolls 2026-02-30 over to March: a name whose fields do not come back is no time.
  return localStamp(date) === `${m[1]}-${m[2]}-${m[3]}_${m[4]}${m[5]}${m[6]}` ? date.getTime() : undefined;
}

/** Flushes a file or directory to stable storage. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Flushes a file to stable storage on libuv's thread pool, so that the caller can go on with work
 * of its own meanwhile. The file is opened now: the flush is queued before this returns.
 */
export function fsyncInBackground(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  return new Promise((resolve, reject) => {
    fsync(fd, (err) => {
      closeSync(fd);
      if (err) reject(err);
      else resolve();
    });
  });
}

/**
 * How a backup was copied: `clone` (the file system's copy-on-write clone of the database file),
 * `copy` (a plain copy of it), both under a snapshot that held every checkpoint off the file;
 * `backup-api` (SQLite's online backup, page by page), when no such snapshot could be had.
 */
export type BackupMethod = 'clone' | 'copy' | 'backup-api';

export interface BackupInfo {
  path: string;
  name: string;
  kind: BackupKind;
  createdAt: number;
  method: BackupMethod;
  /** Why the file could not be copied (method `backup-api`). */
  fallback?: string;
}

export interface WriteBackupOptions {
  /** The time it is taken at (names the file); default now. */
  now?: number;
  /** Kept in the copy's metadata (backup_label). */
  label?: string;
  /** Told the fraction done (0..1) after each step of the copy. */
  onProgress?: (fraction: number) => void;
  /** Polled between steps; true stops the copy (BackupCancelled) and removes what it wrote. */
  isCancelled?: () => boolean;
  /**
   * Called when a file copy's snapshot starts to hold the WAL; the function it answers is called
   * when the snapshot is let go (the store's WAL limit and checkpoints pause meanwhile: Store.pinWal).
   */
  pinWal?: () => () => void;
  /** false: never a clone, a plain copy (tests of the stepwise copy on a file system that clones). */
  clone?: boolean;
  /** Tests only: called on the snapshot's connection, inside its read transaction, before the copy. */
  onSnapshot?: (snapshot: Connection) => void;
  /** Tests only: see openSnapshot. */
  afterCheckpoint?: () => void;
  /**
   * Runs the snapshot's checkpoint, which writes the database file from another connection of this
   * process: Store.ownFileWrite, so the store still vouches for the file as its own (clean-close.ts).
   */
  ownFileWrite?: <T>(fn: () => T) => T;
}

/** The copy was stopped by its caller; nothing was left behind. */
export class BackupCancelled extends Error {
  constructor() {
    super('backup cancelled');
    this.name = 'BackupCancelled';
  }
}

/** Pages copied per step of the online backup (4 MiB): progress and cancellation between steps. */
const PAGES_PER_STEP = 1024;
/** A step that copies every page left (better-sqlite3 caps a step at 2^31 - 1 pages). */
const ALL_PAGES = 0x7fffffff;
/** While the kernel copies the file, progress is reported and cancellation polled this often. */
const PROGRESS_INTERVAL_MS = 10;
/**
 * The snapshot's TRUNCATE checkpoint waits for another process's write transaction or old reader
 * this long per try (the event loop waits with it), and is tried this many times, with the event
 * loop let through between tries, before the backup falls back to the online backup API.
 */
const CHECKPOINT_WAIT_MS = 25;
const CHECKPOINT_TRIES = 20;

/**
 * Copies the database behind `db` into `dir` as `data_YYYY-MM-DD_HHMMSS.db` (with `-2`, `-3`, …
 * when a backup of the same second exists), recording `kind` and the time in its metadata table.
 * The copy is a single self-contained file (rollback journal, not WAL). Throws when the copy fails
 * its quick_check; nothing is left behind then.
 *
 * The copy is the database as it was when the copy began: a file copy under a snapshot
 * (openSnapshot) when one can be had, else the online backup API, whose copy is the state when it
 * ends (writes made between its steps are carried into it).
 */
export async function writeBackup(
  db: Connection,
  dir: string,
  kind: BackupKind,
  options: WriteBackupOptions = {},
): Promise<BackupInfo> {
  const now = options.now ?? Date.now();
  // 1. Remove partial files of backups that a crash interrupted.
  removePartials(dir);
  const stem = backupStem(new Date(now));
  const partial = join(dir, `${stem}-${process.pid}${PARTIAL_SUFFIX}`);
  try {
    // 2. A consistent copy: the file under a snapshot, else the online backup API.
    const copied = await copyUnderSnapshot(db, partial, options);
    const method = typeof copied === 'string' ? copied : 'backup-api';
    if (typeof copied !== 'string') await onlineBackup(db, partial, options);
    // Each phase below holds the event loop; what arrived meanwhile is served between them.
    const between = async (): Promise<void> => {
      await nextTurn();
      if (options.isCancelled?.()) throw new BackupCancelled();
    };
    await between();
    // 3. Make it standalone and label it; quick_check before it is called a backup. Nothing is
    // synced on the way (a crash leaves a .partial, which is removed): the copy goes to disk once,
    // on the thread pool, while quick_check reads it.
    let flushed: Promise<void> | undefined;
    const copy = connect(partial);
    try {
      copy.pragma(`mmap_size = ${MMAP_SIZE_BYTES}`); // a private file: see openUntrusted
      copy.pragma('synchronous = OFF');
      copy.pragma('journal_mode = DELETE');
      labelBackup(copy, kind, now, options.label);
      await between();
      flushed = fsyncInBackground(partial);
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy failed quick_check: ${String(check)}`);
    } finally {
      copy.close();
      // 4. Durable before it is visible.
      await flushed;
    }
    // 5. Link into place under the first free name; link fails rather than overwrite.
    const path = linkIntoPlace(partial, dir, stem);
    rmSync(partial);
    // 6. Make the new directory entry durable.
    fsyncPath(dir);
    return { path, name: path.slice(dir.length + 1), kind, createdAt: now, method, ...(typeof copied === 'string' ? {} : { fallback: copied.fallback }) };
  } catch (err) {
    removeDatabaseFile(partial);
    throw err;
  }
}

/** SQLite's online backup of `db` into `partial`, 1024 pages per step. */
async function onlineBackup(db: Connection, partial: string, options: WriteBackupOptions): Promise<void> {
  // What the copy has written so far goes to disk on the thread pool while the next steps run,
  // so the fsync SQLite makes when the copy commits (on this thread) finds little left to do.
  let flushing: Promise<void> | undefined;
  const flushSoFar = (): void => {
    if (flushing || !existsSync(partial)) return;
    flushing = fsyncInBackground(partial)
      .catch(() => undefined) // the commit's own fsync reports a failing disk
      .finally(() => (flushing = undefined));
  };
  // A consistent snapshot, even while writes go on between its steps: this connection's writes
  // are carried into the copy, and a write by any other connection (another process) makes SQLite
  // start the copy again. Under another process's steady writes a stepwise copy would start again
  // forever, so once it has, the rest is copied in one step (holding the event loop for it).
  let copied = -1; // pages copied by the last step (none before the first, which copies none)
  let restarted = false;
  let reported = 0;
  await db
    .backup(partial, {
      progress: ({ totalPages, remainingPages }) => {
        if (options.isCancelled?.()) throw new BackupCancelled();
        const done = totalPages - remainingPages;
        if (done <= copied) restarted = true; // a step that gained nothing started again
        copied = done;
        // Reported progress never goes back, though the copy may start again.
        reported = Math.max(reported, totalPages === 0 ? 1 : done / totalPages);
        options.onProgress?.(reported);
        flushSoFar();
        return restarted ? ALL_PAGES : PAGES_PER_STEP;
      },
    })
    .finally(() => flushing);
}

/**
 * Copies the file of `db` to `partial` under a snapshot (openSnapshot): answers `clone` or `copy`,
 * or, when no snapshot could be had, why (and nothing was written). The copy runs on libuv's
 * thread pool: requests are served meanwhile, and writes made on `db` go to the WAL, not the file.
 */
async function copyUnderSnapshot(db: Connection, partial: string, options: WriteBackupOptions): Promise<'clone' | 'copy' | { fallback: string }> {
  if (db.memory || db.readonly) return { fallback: 'an in-memory or read-only connection' };
  if (db.pragma('journal_mode', { simple: true }) !== 'wal') return { fallback: 'the database is not in WAL mode' };
  const source = db.name;
  const snapshot = await openSnapshot(source, options);
  if (typeof snapshot === 'string') return { fallback: snapshot };
  const unpin = options.pinWal?.();
  try {
    options.onSnapshot?.(snapshot.db);
    const before = statSync(source);
    const method = await copyDatabaseFile(source, partial, snapshot.bytes, options);
    // A tripwire, not the proof (the proof is read-lock 0, see openSnapshot): had anything written
    // the file during the copy, its size or modification time would most likely show it. Then the
    // copy is dropped and the online backup API makes the backup.
    const after = statSync(source);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) {
      removeDatabaseFile(partial);
      return { fallback: `${source} changed while it was copied under a snapshot` };
    }
    return method;
  } finally {
    snapshot.release();
    unpin?.();
  }
}

/** A read snapshot of a database file that holds every checkpoint off it (openSnapshot). */
export interface Snapshot {
  /** The connection whose read transaction is the snapshot. */
  db: Connection;
  /** The database's size in the snapshot (page_count × page_size). */
  bytes: number;
  /** Ends the read transaction and closes the connection. Idempotent. */
  release(): void;
}

/**
 * Opens a read snapshot of the WAL database at `path` during which the main file cannot change,
 * even from another process, so that a copy of the file is the database as of the snapshot.
 * Answers it, or why there is none (a backup then falls back to the online backup API).
 *
 * How: on a connection of its own, `wal_checkpoint(TRUNCATE)` (retried a few times, the event loop
 * let through between tries) must answer busy=0, log=0: every frame is in the file and the WAL is
 * truncated to 0 bytes. Then a read transaction begins (BEGIN; a SELECT), and the -wal file must
 * still be empty (0 bytes, or absent) once it has begun.
 *
 * Why that is sound (SQLite's wal.c): a reader that begins when every frame of the WAL is in the
 * file (nBackfill == mxFrame, an empty WAL included) takes read-lock 0 and reads the file alone,
 * ignoring the WAL. A checkpoint may write to the file only while it holds read-lock 0 exclusively
 * (walCheckpoint: backfilling, and truncating the file, are done under it), so while our reader
 * holds it shared, no checkpoint of any process, mode or connection writes the file; writers only
 * append to the WAL (or restart it), never to the file. The check after BEGIN rules out the other
 * case: a reader that begins while the WAL holds frames not yet in the file takes another read
 * lock K ≥ 1 (aReadMark[K] = mxFrame > 0), and checkpoints may then copy frames up to its mark
 * into the file while it reads. Frames exist in the -wal file before the wal-index counts them, and
 * while a reader holds lock K ≥ 1 the WAL can be neither restarted nor truncated (both need every
 * lock K ≥ 1 exclusively), nor deleted (closing the last connection needs the file's EXCLUSIVE
 * lock, and every WAL connection holds SHARED); so a 0-byte -wal seen after BEGIN means our reader
 * holds lock 0. A WAL that is not empty then (a write of another process came between the
 * checkpoint and BEGIN) is refused, though our reader may hold lock 0 too: a false alarm costs a
 * fallback, never a torn copy.
 *
 * `afterCheckpoint` is for tests: it runs between the checkpoint and BEGIN.
 */
export async function openSnapshot(
  path: string,
  hooks: { afterCheckpoint?: () => void; ownFileWrite?: <T>(fn: () => T) => T } = {},
): Promise<Snapshot | string> {
  const own = hooks.ownFileWrite ?? (<T>(fn: () => T): T => fn());
  let db: Connection;
  try {
    db = connect(path, { fileMustExist: true, timeout: CHECKPOINT_WAIT_MS });
  } catch (err) {
    return `cannot open a second connection: ${(err as Error).message}`;
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  };
  try {
    let last = '';
    for (let attempt = 1; ; attempt++) {
      let busy: boolean;
      try {
        const [r] = own(() => db.pragma('wal_checkpoint(TRUNCATE)')) as { busy: number; log: number; checkpointed: number }[];
        busy = r!.busy !== 0 || r!.log !== 0;
        last = `the checkpoint was busy (busy ${r!.busy}, log ${r!.log} frames): another connection is writing or reads an older snapshot`;
      } catch (err) {
        if (!/^SQLITE_(BUSY|LOCKED)/.test((err as { code?: string }).code ?? '')) throw err;
        busy = true;
        last = `the checkpoint was busy (${(err as { code?: string }).code})`;
      }
      if (!busy) break;
      if (attempt >= CHECKPOINT_TRIES) {
        release();
        return last;
      }
      await sleep(2);
    }
    hooks.afterCheckpoint?.();
    db.exec('BEGIN');
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pageCount = db.pragma('page_count', { simple: true }) as number; // reads page 1: the read has begun
    const wal = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    if (wal !== 0) {
      release();
      return `a write reached the WAL between the checkpoint and the snapshot (${wal} bytes)`;
    }
    return { db, bytes: pageCount * pageSize, release };
  } catch (err) {
    release();
    return `${(err as Error).message}`;
  }
}

/**
 * Copies the database file `source` to `dest`: a clone where the file system makes one (APFS,
 * btrfs, XFS with reflink: no data is copied, the two files share their blocks until either is
 * written), else a plain copy by the kernel (copy_file_range). Answers which it made.
 *
 * Never by opening `source` in this process (POSIX): closing any descriptor of a file drops every
 * fcntl lock the process holds on it, SQLite's included. The store's connection would lose its
 * SHARED lock on data.db, and another process closing its last connection would then take the
 * file for unused, checkpoint and delete the -wal under it. So on Linux and macOS the copy is made
 * by `cp` in a child process (a few ms to start): `--reflink=always` (Linux) or `-c` (macOS,
 * clonefile) first, a plain `cp` when that fails. On Windows, whose locks belong to a handle,
 * fs.copyFile (COPYFILE_FICLONE_FORCE first) runs on libuv's thread pool.
 *
 * While it runs, the fraction copied (the size `dest` has reached) is reported and `isCancelled`
 * polled every PROGRESS_INTERVAL_MS; a cancellation stops `cp` (SIGKILL) or, in-process, takes
 * effect when the copy returns (BackupCancelled; the caller removes `dest`). A copy in steps
 * through this process (read, write) would avoid both, but was 4-8x slower than the kernel's on
 * the development VMs once the file system held a few earlier copies.
 */
async function copyDatabaseFile(source: string, dest: string, bytes: number, options: WriteBackupOptions): Promise<'clone' | 'copy'> {
  const total = Math.max(bytes, statSync(source).size, 1);
  let cancelled = false;
  let child: ChildProcess | undefined;
  let reported = 0;
  const poll = setInterval(() => {
    if (cancelled) return;
    if (options.isCancelled?.()) {
      cancelled = true;
      child?.kill('SIGKILL');
      return;
    }
    const fraction = Math.min(1, (statSync(dest, { throwIfNoEntry: false })?.size ?? 0) / total);
    if (fraction > reported) options.onProgress?.((reported = fraction));
  }, PROGRESS_INTERVAL_MS);
  /** Runs one copy; true when it succeeded. */
  const attempt = async (how: 'clone' | 'copy'): Promise<boolean> => {
    if (process.platform === 'win32') {
      try {
        await copyFile(source, dest, how === 'clone' ? fsConstants.COPYFILE_FICLONE_FORCE : fsConstants.COPYFILE_EXCL);
        return true;
      } catch (err) {
        if (how === 'clone') return false;
        throw err;
      }
    }
    const flags = how === 'copy' ? [] : process.platform === 'darwin' ? ['-c'] : ['--reflink=always'];
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      child = spawn('cp', [...flags, '--', source, dest], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, stderr: err.trim() }));
    });
    child = undefined;
    if (code === 0 || cancelled) return code === 0;
    rmSync(dest, { force: true });
    if (how === 'clone') return false;
    // cp says why in words: a full disk must still read as one (StorageFull).
    const error: NodeJS.ErrnoException = new Error(`cp ${source} ${dest} failed: ${stderr}`);
    const known = /No space left on device/i.test(stderr) ? 'ENOSPC' : /quota exceeded/i.test(stderr) ? 'EDQUOT' : /File too large/i.test(stderr) ? 'EFBIG' : undefined;
    if (known) error.code = known;
    throw error;
  };
  let method: 'clone' | 'copy';
  try {
    method = options.clone !== false && (await attempt('clone')) ? 'clone' : 'copy';
    if (method === 'copy' && !cancelled) await attempt('copy');
  } finally {
    clearInterval(poll);
  }
  if (cancelled || options.isCancelled?.()) throw new BackupCancelled();
  options.onProgress?.(1);
  return method;
}

/** Removes what backups interrupted by a crash left in `dir`: `.partial` files and their journals. */
export function removePartials(dir: string): void {
  for (const f of readdirSync(dir)) {
    if (['', ...SIDE_SUFFIXES].some((s) => f.endsWith(`${PARTIAL_SUFFIX}${s}`))) rmSync(join(dir, f), { force: true });
  }
}

/**
 * Gives `file` a second name in `dir`: `stem.db`, or `stem-2.db`, … (the first free one; a hard
 * link never overwrites). Answers the new path.
 */
export function linkIntoPlace(file: string, dir: string, stem: string): string {
  for (let n = 1; ; n++) {
    const path = join(dir, `${stem}${n === 1 ? '' : `-${n}`}.db`);
    try {
      linkSync(file, path);
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** Writes the sidecar's labels into a backup file's metadata table (kind, time, label). */
export function labelBackup(db: Connection, kind: BackupKind, at: number, label?: string): void {
  if (!hasTable(db, 'metadata')) return;
  const upsert = db.prepare('INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  db.transaction(() => {
    upsert.run('backup_kind', kind);
    upsert.run('backup_created_at', String(at));
    if (label !== undefined) upsert.run('backup_label', label);
  })();
}

/** Removes the sidecar's backup labels (from a copy that is to become the live database). */
export function clearLabels(db: Connection): void {
  if (hasTable(db, 'metadata')) db.prepare('DELETE FROM metadata WHERE key IN (SELECT value FROM json_each(?))').run(JSON.stringify(LABEL_KEYS));
}

/**
 * True when `path` is a database in rollback-journal mode (header bytes 18 and 19 are 1) with no
 * -journal, -wal or -shm beside it: nothing outside the file belongs to the database.
 */
export function isStandalone(path: string): boolean {
  if (SIDE_SUFFIXES.some((s) => existsSync(`${path}${s}`))) return false;
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, header, 0, 20, 0) < 20) return false;
  } finally {
    closeSync(fd);
  }
  return header.toString('latin1', 0, 16) === 'SQLite format 3\u0000' && header[18] === 1 && header[19] === 1;
}

/**
 * Copies the database file `source` to `staging`, to become the live database (restore, recovery
 * at start), and checks the copy: the bytes that will be served are the bytes that were checked,
 * and they are read once. A standalone rollback-journal file is copied as a file (exact, and many
 * times faster than page by page); anything else through the backup API from a read-only,
 * untrusted connection (a -wal beside it is read too). The copy is made standalone and judged as
 * inspectDatabase judges a file; only then are the backup labels removed and the copy fsynced.
 *
 * Answers the inspection. When it is not ok, or the copy could not be made, nothing is left at
 * `staging`, and the answer is the inspection of `source` itself, the same that backup.verify
 * gives for it. Throws what the copy threw (a full disk) when the source itself is sound.
 */
export async function stageVerified(source: string, staging: string, migrations: Migrations): Promise<Inspection> {
  let copied: Inspection | undefined;
  let failure: unknown;
  try {
    if (isStandalone(source)) {
      copyFileSync(source, staging);
    } else {
      const src = openUntrusted(source);
      try {
        await src.backup(staging);
      } finally {
        src.close();
      }
      withConnection(staging, (copy) => copy.pragma('journal_mode = DELETE'));
    }
    // The copy goes to disk while it is checked (the flush waits on the disk, the check on the CPU).
    const flushed = fsyncInBackground(staging);
    try {
      copied = inspectDatabase(staging, migrations, { mapped: true });
    } finally {
      await flushed;
    }
    if (copied.ok) {
      // The schema is the migrations' own (no trigger of the file's runs on this write), and the
      // write is a transaction of its own: durable when it returns, like the bytes flushed above.
      withConnection(staging, (db) => {
        clearLabels(db);
        rebuildSearchIndexes(db);
      });
      return copied;
    }
  } catch (err) {
    failure = err;
  }
  removeDatabaseFile(staging);
  const atSource = inspectDatabase(source, migrations);
  if (!atSource.ok) return atSource;
  if (failure !== undefined) throw failure;
  return { ...copied!, reason: `the copy of it failed its check: ${copied!.reason ?? 'unknown'}` };
}

/**
 * Rebuilds every full-text index from its rows. integrity_check does not compare an FTS5 index
 * with its content, so a file whose index disagrees with its rows (damaged, or made so on purpose)
 * would pass every check and then search wrong: a restored file gets indexes made from its rows.
 */
export function rebuildSearchIndexes(db: Connection): void {
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE % USING fts5%'").pluck().all() as string[];
  db.transaction(() => {
    for (const t of tables) db.prepare(`INSERT INTO "${t}"("${t}") VALUES ('rebuild')`).run();
  })();
}

/** Runs `fn` on a connection to the database file `path`, closed afterwards. */
export function withConnection<T>(path: string, fn: (db: Connection) => T): T {
  const db = connect(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function hasTable(db: Connection, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading backup files: what they are, and whether they can be restored
// ---------------------------------------------------------------------------------------------

export interface FileFacts {
  kind: BackupKind | 'unknown';
  createdAt?: number;
  label?: string;
  schemaVersion: number;
}

/**
 * Opens a database file read-only as untrusted: nothing in it (triggers, views, functions) runs.
 * `mapped` reads it through a memory map (a check of every page runs about twice as fast): only
 * for a file this process made and no one else writes (a file cut short under the map would stop
 * the process with SIGBUS).
 */
export function openUntrusted(path: string, options: { mapped?: boolean } = {}): Connection {
  const db = connect(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('trusted_schema = OFF');
    db.pragma('query_only = ON');
    if (options.mapped) db.pragma(`mmap_size = ${MMAP_SIZE_BYTES}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The kind, time and label the sidecar wrote into a backup, and its schema version. */
export function readFacts(db: Connection): FileFacts {
  const schemaVersion = db.pragma('user_version', { simple: true }) as number;
  const meta = new Map<string, string>();
  if (hasTable(db, 'metadata')) {
    for (const r of db.prepare('SELECT key, value FROM metadata WHERE key IN (SELECT value FROM json_each(?))').all(JSON.stringify(LABEL_KEYS)) as {
      key: string;
      value: string;
    }[]) {
      meta.set(r.key, r.value);
    }
  }
  const kind = meta.get('backup_kind');
  const at = Number(meta.get('backup_created_at'));
  return {
    kind: (KINDS as readonly string[]).includes(kind ?? '') ? (kind as BackupKind) : 'unknown',
    ...(Number.isSafeInteger(at) && at > 0 ? { createdAt: at } : {}),
    ...(meta.has('backup_label') ? { label: meta.get('backup_label')! } : {}),
    schemaVersion,
  };
}

export interface Inspection extends Partial<FileFacts> {
  ok: boolean;
  reason?: string;
  integrity?: string[];
  counts?: Counts;
}

/** One schema object as sqlite_schema lists it, with its SQL's whitespace normalised. */
type SchemaObject = string;

const schemaObjects = (db: Connection): Set<SchemaObject> =>
  new Set(
    // sqlite_* objects (autoindexes, sqlite_stat1 after ANALYZE) are SQLite's own, not the schema's.
    (db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE substr(name, 1, 7) <> 'sqlite_'").all() as { type: string; name: string; tbl_name: string; sql: string | null }[]).map(
      (o) => JSON.stringify([o.type, o.name, o.tbl_name, (o.sql ?? '').replace(/\s+/g, ' ').trim()]),
    ),
  );

const referenceSchemas = new Map<number, Set<SchemaObject>>();

/** The schema that the migrations up to `version` make, built once per version in memory. */
function referenceSchema(version: number, migrations: Migrations): Set<SchemaObject> {
  let ref = referenceSchemas.get(version);
  if (!ref) {
    const mem = connect(':memory:');
    try {
      for (const m of migrations) {
        if (m.version > version) continue;
        mem.exec(m.sql);
        runMigrationStep(mem, m);
      }
      ref = schemaObjects(mem);
    } finally {
      mem.close();
    }
    referenceSchemas.set(version, ref);
  }
  return ref;
}

/** The tables a restore must find, and counts: the plan's tables (FTS internals excluded). */
const isDataTable = (name: string): boolean => !name.startsWith('sqlite_') && !/_fts(_|$)/.test(name);

/**
 * Whether `path` is a database this binary can restore: a SQLite file that passes integrity_check
 * and foreign_key_check, at a schema version it knows, whose schema is exactly what the migrations
 * of that version make (no trigger, view, index or table of its own: a restored file must not bring
 * code that would run on the store's writes). Never throws for a bad file: `ok: false` and why.
 */
export function inspectDatabase(path: string, migrations: Migrations, options: { mapped?: boolean } = {}): Inspection {
  let db: Connection;
  try {
    db = openUntrusted(path, options);
  } catch (err) {
    return { ok: false, reason: `cannot be opened: ${(err as Error).message}` };
  }
  try {
    return inspectOpen(db, migrations);
  } catch (err) {
    // A damaged page deep in the file surfaces only when a check reads it.
    return { ok: false, reason: `unreadable: ${(err as Error).message}` };
  } finally {
    db.close();
  }
}

function inspectOpen(db: Connection, migrations: Migrations): Inspection {
  let facts: FileFacts;
  try {
    facts = readFacts(db);
  } catch (err) {
    return { ok: false, reason: `not a SQLite database (${(err as Error).message})` };
  }
  const known = migrations[migrations.length - 1]?.version ?? 0;
  const integrity = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  const base: Inspection = { ok: false, ...facts, integrity };
  if (integrity.length !== 1 || integrity[0] !== 'ok') {
    return { ...base, reason: `integrity_check failed: ${integrity.slice(0, 3).join('; ')}` };
  }
  if (facts.schemaVersion === 0) return { ...base, reason: 'not a White Room database (no schema version)' };
  if (facts.schemaVersion > known) {
    return {
      ...base,
      reason: `from a newer version of White Room (schema ${facts.schemaVersion}; this one knows up to ${known})`,
    };
  }
  const found = schemaObjects(db);
  const expected = referenceSchema(facts.schemaVersion, migrations);
  const describe = (o: SchemaObject): string => {
    const [type, name] = JSON.parse(o) as string[];
    return `${type} "${name}"`;
  };
  const extra = [...found].filter((o) => !expected.has(o));
  if (extra.length) return { ...base, reason: `unexpected schema object: ${extra.slice(0, 3).map(describe).join(', ')}` };
  const missing = [...expected].filter((o) => !found.has(o));
  if (missing.length) return { ...base, reason: `missing schema object: ${missing.slice(0, 3).map(describe).join(', ')}` };
  const violations = db.pragma('foreign_key_check') as unknown[];
  if (violations.length) return { ...base, reason: `${violations.length} foreign key violation(s)` };
  const unreadable = unreadableContent(db);
  if (unreadable) return { ...base, reason: `a row the sidecar cannot read: ${unreadable}` };
  return { ...base, ok: true, counts: recordCounts(db) };
}

/**
 * The table each counted family is kept in (Counts.json): answers name families, never tables.
 * `metadata` (the file's own key/value facts) is the one data table not counted.
 */
export const COUNTED_TABLES: Readonly<Record<string, string>> = {
  songs: 'songs',
  performances: 'performances',
  instruments: 'instruments',
  voices: 'voices',
  presets: 'presets',
  autosaves: 'autosaves',
  staged: 'autosave_staging',
  recent: 'recently_used',
  preferences: 'user_preferences',
  versions: 'versions',
  trash: 'trash',
  parts: 'parts',
  damagedJson: 'damaged_json',
};

/** Records per family of an open database (COUNTED_TABLES); a family whose table the file lacks is left out. */
export function recordCounts(db: Connection): Counts {
  const tables = new Set(db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]);
  const counts: Record<string, number> = {};
  for (const [family, table] of Object.entries(COUNTED_TABLES)) {
    if (tables.has(table) && isDataTable(table)) counts[family] = db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number;
  }
  // Every schema version a file may have (a verified one) holds the tables of 0001, which Counts requires.
  return counts as unknown as Counts;
}
