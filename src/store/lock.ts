/**
 * One sidecar per data directory. Two writers on one database would each believe they own the
 * autosave staging and the WAL checkpoints, so a second instance is refused at start.
 *
 * The lock is an exclusive SQLite lock on a small file of its own (`whiteroom-store.lock`), held for
 * the life of the process. SQLite locks are operating-system file locks, so the lock is released
 * when the process ends in any way, SIGKILL included: no stale lock files, no timeouts. The data
 * file itself stays readable by other tools (a stock sqlite3) while the sidecar runs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from './sqlite.js';

export const LOCK_FILE = 'whiteroom-store.lock';
export const PID_FILE = 'whiteroom-store.pid';

/** Another process holds the data directory. */
export class DataDirLockedError extends Error {
  constructor(dataDir: string, holderPid: number | undefined) {
    super(
      `another whiteroom-store${holderPid ? ` (pid ${holderPid})` : ''} is already serving ${dataDir}; ` +
        'stop it first, or pass --data-dir with another folder',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  release(): void;
}

/** Takes the data directory's lock, or throws DataDirLockedError at once (it never waits). */
export function lockDataDir(dataDir: string): DataDirLock {
  const db = connect(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    // The lock file's content is informational: no journal file, no fsync at every start.
    db.pragma('journal_mode = MEMORY');
    db.pragma('synchronous = OFF');
    // EXCLUSIVE locking mode keeps the write lock after the first write until the connection closes.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since INTEGER NOT NULL)');
    db.transaction(() => {
      db.exec('DELETE FROM holder');
      db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, Date.now());
    })();
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new DataDirLockedError(dataDir, readPid(dataDir));
    }
    throw err;
  }
  // For people and error messages only: the lock above is what counts.
  try {
    writeFileSync(join(dataDir, PID_FILE), `${process.pid}\n`);
  } catch {
    /* informational */
  }
  return {
    release(): void {
      if (db.open) db.close();
    },
  };
}

function readPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dataDir, PID_FILE), 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
