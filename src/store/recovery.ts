/**
 * A damaged database at start: it is never served and never deleted. It is moved aside
 * (`data.db.corrupt-<time>`, with its -wal and -shm), and the newest backup that verifies is put in
 * its place the way a restore does it (a checked, fsynced copy renamed over the name). With no
 * backup that verifies, nothing is moved and the start is refused with what to do.
 */
import { existsSync, linkSync, readdirSync, renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MIGRATIONS } from '../generated/migrations.js';
import type { DataPaths } from '../paths.js';
import { BACKUP_FILE, fsyncPath, openUntrusted, readFacts, removeDatabaseFile, RESTORING_SUFFIX, stageVerified, timeFromName } from './backup.js';
import { SqliteError } from './sqlite.js';
import { withJudgedView, withJudgedViewAsync } from '../files.js';
import { ErrorCode, RpcError } from '../errors.js';

export interface Recovery {
  reason: string;
  corruptFile: string;
  restoredFrom: string;
  at: number;
}

/** Why the open database is not sound (quick_check, or the error reading it), or undefined. */
export function damage(check: () => unknown): string | undefined {
  try {
    const result = check();
    return result === 'ok' ? undefined : `quick_check: ${String(result)}`;
  } catch (err) {
    if (err instanceof SqliteError && (err.code === 'SQLITE_NOTADB' || err.code.startsWith('SQLITE_CORRUPT'))) {
      return `${err.code}: ${err.message}`;
    }
    throw err;
  }
}

/** A damaged data.db is kept as `data.db.corrupt-YYYYMMDD-HHMMSS` (local time). */
const CORRUPT_INFIX = '.corrupt-';
const CORRUPT_STAMP = /^\d{8}-\d{6}$/;

const pad = (n: number): string => String(n).padStart(2, '0');
const stamp = (at: number): string => {
  const d = new Date(at);
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
};

/**
 * The backups that can be read, newest first by the time they record (cheap to read). Each is
 * opened and judged before SQLite reads a private view of it: a FIFO named like a backup is skipped.
 */
function backupsNewestFirst(paths: DataPaths): string[] {
  const dir = paths.backupsDir;
  const candidates: { path: string; name: string; createdAt: number }[] = [];
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (!BACKUP_FILE.test(name)) continue;
    const path = join(dir, name);
    let createdAt = 0;
    try {
      createdAt = withJudgedView(path, paths.dataDir, (view) => {
        const db = openUntrusted(view);
        try {
          return readFacts(db).createdAt ?? timeFromName(name) ?? 0;
        } finally {
          db.close();
        }
      });
    } catch {
      continue; // not a database
    }
    candidates.push({ path, name, createdAt });
  }
  candidates.sort((a, b) => b.createdAt - a.createdAt || (a.name < b.name ? 1 : -1));
  return candidates.map((c) => c.path);
}

/**
 * Moves the damaged data.db aside and restores the newest good backup: each backup, newest first,
 * is copied beside data.db and the copy verified, until one passes. Throws an Error saying what to
 * do when none does (nothing moved then). The database must be closed.
 */
export async function recoverFromDamage(paths: DataPaths, reason: string, now = Date.now()): Promise<Recovery> {
  const staging = `${paths.dbPath}${RESTORING_SUFFIX}`;
  removeDatabaseFile(staging); // a copy that fails is removed by stageVerified itself
  let best: string | undefined;
  for (const candidate of backupsNewestFirst(paths)) {
    let ok: boolean;
    try {
      ok = await withJudgedViewAsync(candidate, paths.dataDir, async (view) => (await stageVerified(view, staging, MIGRATIONS)).ok);
    } catch (err) {
      if (!(err instanceof RpcError) || err.code === ErrorCode.StorageFull) throw err; // a full disk stops the start, as before
      ok = false; // swapped for something that is not a file since it was listed
    }
    if (ok) {
      best = candidate;
      break;
    }
  }
  if (!best) {
    throw new Error(
      `${paths.dbPath} is damaged (${reason}) and no backup in ${paths.backupsDir} passes verification; the file was not ` +
        'changed. Move it aside to start with an empty store, or copy a backup you trust over it.',
    );
  }
  // The damaged file keeps its bytes under a second name (a hard link), so data.db exists at every
  // moment: a crash in between leaves the damaged file, found again at the next start.
  const corruptFile = `${paths.dbPath}${CORRUPT_INFIX}${stamp(now)}`;
  linkSync(paths.dbPath, corruptFile);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(`${paths.dbPath}${suffix}`)) renameSync(`${paths.dbPath}${suffix}`, `${corruptFile}${suffix}`);
  }
  fsyncPath(paths.dataDir);
  renameSync(staging, paths.dbPath);
  fsyncPath(paths.dataDir);
  return { reason, corruptFile, restoredFrom: best, at: now };
}

/** The damaged files recovery kept beside `dbPath` (`data.db.corrupt-<time>`), oldest first. */
export function damagedFiles(dbPath: string): string[] {
  const dir = dirname(dbPath);
  const prefix = `${basename(dbPath)}${CORRUPT_INFIX}`;
  return readdirSync(dir)
    .filter((name) => name.startsWith(prefix) && CORRUPT_STAMP.test(name.slice(prefix.length)))
    .sort()
    .map((name) => join(dir, name));
}
