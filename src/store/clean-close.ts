/**
 * A start skips `quick_check` (which reads the whole file: seconds for a library of a million songs)
 * when data.db is still exactly the file this sidecar closed cleanly: the chain of trust is a start
 * that checked the file (or trusted such a record), then only this sidecar's own writes through
 * SQLite, then a close that checkpointed and removed the -wal. The record (`data.db.clean`, beside
 * it) names the file's device, inode, size and change time (ctime, which no tool can set back), and
 * is removed at the next start before the file is opened, so a crash never leaves one behind.
 *
 * Anything that touched the file meanwhile (another program, a copy over it, a restore by hand, a
 * `touch`) changes its ctime, and the start checks it as before; so does a side file that SQLite
 * would read into it when it opens it (a non-empty -wal, any -journal).
 *
 * The record vouches only for the file as the sidecar left it, so it is not written when another
 * program wrote data.db while the sidecar ran (its stat would otherwise be taken at close, with the
 * foreign bytes in it). In WAL mode this process writes the file only at checkpoints: its own
 * (idle, WAL limit, backups' snapshots, close) and SQLite's automatic one, inside a commit. The store
 * (Store.ownFileWrite) compares the file's size, mtime and ctime before each of these with what it
 * took after the last one (fstat, about 2 µs, twice per write transaction) and after the open; at
 * close it also compares device and inode by path. A difference: no record, a warning in the log,
 * and the next start checks the file. Not seen: a write of another program during one of ours, or
 * within the file system's timestamp tick after one at the same size. What this gives up: damage the
 * disk itself makes while nothing runs is found when SQLite reads the damaged pages (answered
 * -32012 StorageCorrupt; `system.doctor` checks the whole file), not at start.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';

/** The record beside `dbPath`. */
const markOf = (dbPath: string): string => `${dbPath}.clean`;

/** What identifies the file's bytes as they are (as text: the numbers are bigints). */
function identity(dbPath: string): string | undefined {
  const s = statSync(dbPath, { bigint: true, throwIfNoEntry: false });
  if (!s || !s.isFile()) return undefined;
  return JSON.stringify({ dev: String(s.dev), ino: String(s.ino), size: String(s.size), ctimeNs: String(s.ctimeNs), mtimeNs: String(s.mtimeNs) });
}

/**
 * A side file beside `dbPath` that SQLite would read into the database when it opens it, if any:
 *   - a -wal that is not empty (its commits are the database's newest pages). A read-only
 *     connection (whiteroom-store inspect, a GRDB reader) of a WAL file makes an empty -wal it
 *     cannot remove, and an empty -wal holds no commit;
 *   - a -journal of any size: SQLite plays a hot rollback journal back into the file when it opens
 *     it, whatever wrote it. A WAL-mode database never makes one, so one is always someone else's.
 * A -shm alone changes nothing: the first connection to open the file (the sidecar holds the data
 * directory's lock) resets it, and without a -wal it describes no frame.
 */
function sideFileThatChangesIt(dbPath: string): string | undefined {
  if ((statSync(`${dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0) !== 0) return `${dbPath}-wal`;
  if (statSync(`${dbPath}-journal`, { throwIfNoEntry: false }) !== undefined) return `${dbPath}-journal`;
  return undefined;
}

/**
 * Reads and removes the record of a clean close; true when `dbPath` is still that file and no side
 * file beside it (sideFileThatChangesIt) would change it when it is opened. Called at start, before
 * the file is opened.
 */
export function takeCleanMark(dbPath: string): boolean {
  const mark = markOf(dbPath);
  let recorded: string | undefined;
  try {
    recorded = readFileSync(mark, 'utf8');
  } catch {
    return false;
  }
  rmSync(mark, { force: true });
  return sideFileThatChangesIt(dbPath) === undefined && recorded === identity(dbPath);
}

/**
 * Records that `dbPath` was closed cleanly (after its close checkpointed and removed the -wal).
 * Called only when the store vouched for the file to the end (Store.foreignWrite: no other program
 * wrote it while the sidecar ran). A failure to write the record only costs the next start its check.
 */
export function leaveCleanMark(dbPath: string): void {
  if (existsSync(`${dbPath}-wal`)) return;
  const id = identity(dbPath);
  if (id === undefined) return;
  try {
    writeFileSync(markOf(dbPath), id);
  } catch {
    /* the next start checks the file */
  }
}
