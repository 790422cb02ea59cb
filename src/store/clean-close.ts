/**
 * A start skips `quick_check` (which reads the whole file: seconds for a library of a million songs)
 * when data.db is still exactly the file this sidecar closed cleanly: the chain of trust is a start
 * that checked the file (or trusted such a record), then only this sidecar's own writes through
 * SQLite, then a close that checkpointed and removed the -wal. The record (`data.db.clean`, beside
 * it) names the file's device, inode, size and change time (ctime, which no tool can set back), and
 * is removed at the next start before the file is opened, so a crash never leaves one behind.
 *
 * Anything that touched the file meanwhile (another program, a copy over it, a restore by hand, a
 * `touch`) changes its ctime, and the start checks it as before. What this gives up: damage the
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
 * Reads and removes the record of a clean close; true when `dbPath` is still that file, with no
 * -wal beside it, or an empty one: a read-only connection (whiteroom-store inspect, a GRDB reader)
 * of a WAL file makes an empty -wal it cannot remove, and an empty -wal holds no commit. Called at
 * start, before the file is opened.
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
  return (statSync(`${dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0) === 0 && recorded === identity(dbPath);
}

/**
 * Records that `dbPath` was closed cleanly (after its close checkpointed and removed the -wal).
 * A failure to write the record only costs the next start its check.
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
