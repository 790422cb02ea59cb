/**
 * Backup files: consistent copies of the live database taken with SQLite's online backup API
 * (never a file copy, which with WAL can be torn or miss committed pages still in the -wal file).
 *
 * A backup is written beside its final name, marked with its kind, checked, fsynced, and only then
 * linked into place (link, not rename: it never overwrites an existing backup), and the folder is
 * fsynced so the new name survives a power cut. A crash at any step leaves at most a `.partial`
 * file, which is removed at the next attempt.
 */
import { closeSync, fsyncSync, linkSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Connection } from './sqlite.js';

export type BackupKind = 'manual' | 'automatic' | 'pre-migration' | 'pre-restore' | 'pre-import';

export const BACKUP_PREFIX = 'data_';
const PARTIAL_SUFFIX = '.partial';

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `data_YYYY-MM-DD_HHMMSS` in local time, the plan's backup name. */
export function backupStem(date: Date): string {
  return (
    `${BACKUP_PREFIX}${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}_` +
    `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`
  );
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

export interface BackupInfo {
  path: string;
  name: string;
  kind: BackupKind;
  createdAt: number;
}

/**
 * Copies the database behind `db` into `dir` as `data_YYYY-MM-DD_HHMMSS.db` (with `-2`, `-3`, …
 * when a backup of the same second exists), recording `kind` and the time in its metadata table.
 * The copy is a single self-contained file (rollback journal, not WAL). Throws when the copy fails
 * its quick_check; nothing is left behind then.
 */
export async function writeBackup(db: Connection, dir: string, kind: BackupKind, now = Date.now()): Promise<BackupInfo> {
  // 1. Remove partial files of backups that a crash interrupted.
  for (const f of readdirSync(dir)) if (f.endsWith(PARTIAL_SUFFIX)) rmSync(join(dir, f), { force: true });
  const stem = backupStem(new Date(now));
  const partial = join(dir, `${stem}-${process.pid}${PARTIAL_SUFFIX}`);
  try {
    // 2. Online backup: a consistent snapshot, even while writes go on between its steps.
    await db.backup(partial);
    // 3. Make it standalone and label it; quick_check before it is called a backup.
    const copy = connect(partial);
    try {
      copy.pragma('journal_mode = DELETE');
      const upsert = copy.prepare(
        'INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      );
      if (hasTable(copy, 'metadata')) {
        copy.transaction(() => {
          upsert.run('backup_kind', kind);
          upsert.run('backup_created_at', String(now));
        })();
      }
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy failed quick_check: ${String(check)}`);
    } finally {
      copy.close();
    }
    // 4. Durable before it is visible.
    fsyncPath(partial);
    // 5. Link into place under the first free name; link fails rather than overwrite.
    let path = '';
    for (let n = 1; ; n++) {
      const name = `${stem}${n === 1 ? '' : `-${n}`}.db`;
      try {
        linkSync(partial, join(dir, name));
        path = join(dir, name);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    rmSync(partial);
    // 6. Make the new directory entry durable.
    fsyncPath(dir);
    return { path, name: path.slice(dir.length + 1), kind, createdAt: now };
  } catch (err) {
    rmSync(partial, { force: true });
    rmSync(`${partial}-journal`, { force: true });
    throw err;
  }
}

function hasTable(db: Connection, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(name) !== undefined;
}
