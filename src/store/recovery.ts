/**
 * A damaged database at start: it is never served and never deleted. It is moved aside
 * (`data.db.corrupt-<time>`, with its -wal and -shm), and the newest backup that verifies is put in
 * its place the way a restore does it (a checked, fsynced copy renamed over the name). With no
 * backup that verifies, nothing is moved and the start is refused with what to do.
 */
import { existsSync, linkSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from '../generated/migrations.js';
import type { DataPaths } from '../paths.js';
import { fsyncPath, inspectDatabase, openUntrusted } from './backup.js';
import { connect, SqliteError } from './sqlite.js';

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

const pad = (n: number): string => String(n).padStart(2, '0');
const stamp = (at: number): string => {
  const d = new Date(at);
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
};

/** The backups in `dir` that verify, newest first (by the time they record, then by name). */
function goodBackups(dir: string): { path: string; createdAt: number }[] {
  const found: { path: string; createdAt: number; name: string }[] = [];
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (!/^data_.*\.db$/.test(name)) continue;
    const path = join(dir, name);
    const inspection = inspectDatabase(path, MIGRATIONS);
    if (inspection.ok) found.push({ path, name, createdAt: inspection.createdAt ?? 0 });
  }
  return found.sort((a, b) => b.createdAt - a.createdAt || (a.name < b.name ? 1 : -1));
}

/**
 * Moves the damaged data.db aside and restores the newest good backup. Throws an Error saying what
 * to do when there is none (nothing moved then). The database must be closed.
 */
export async function recoverFromDamage(paths: DataPaths, reason: string, now = Date.now()): Promise<Recovery> {
  const [best] = goodBackups(paths.backupsDir);
  if (!best) {
    throw new Error(
      `${paths.dbPath} is damaged (${reason}) and no backup in ${paths.backupsDir} passes verification; the file was not ` +
        'changed. Move it aside to start with an empty store, or copy a backup you trust over it.',
    );
  }
  const staging = `${paths.dbPath}.restoring`;
  rmSync(staging, { force: true });
  const src = openUntrusted(best.path);
  try {
    await src.backup(staging);
  } finally {
    src.close();
  }
  const copy = connect(staging);
  try {
    copy.pragma('journal_mode = DELETE');
    copy.prepare("DELETE FROM metadata WHERE key IN ('backup_kind', 'backup_created_at', 'backup_label')").run();
  } finally {
    copy.close();
  }
  fsyncPath(staging);
  // The damaged file keeps its bytes under a second name (a hard link), so data.db exists at every
  // moment: a crash in between leaves the damaged file, found again at the next start.
  const corruptFile = `${paths.dbPath}.corrupt-${stamp(now)}`;
  linkSync(paths.dbPath, corruptFile);
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(`${paths.dbPath}${suffix}`)) renameSync(`${paths.dbPath}${suffix}`, `${corruptFile}${suffix}`);
  }
  fsyncPath(paths.dataDir);
  renameSync(staging, paths.dbPath);
  fsyncPath(paths.dataDir);
  return { reason, corruptFile, restoredFrom: best.path, at: now };
}
