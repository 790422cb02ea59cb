/**
 * SQLite failures as contract errors. SQLite reports the kind of failure in its result code
 * (better-sqlite3 exposes it as `err.code`, e.g. "SQLITE_FULL" or "SQLITE_CONSTRAINT_CHECK").
 */
import { statfsSync } from 'node:fs';
import { ErrorCode, RpcError, invalidParams, storageCorrupt } from '../errors.js';
import { SqliteError } from './database.js';

/** A file system error from Node (`err.code` is the errno name) that means there is no room. */
const NO_ROOM = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** True for an Error of Node's file system saying the disk (or the quota) has no room. */
export const isNoRoom = (err: unknown): boolean => err instanceof Error && NO_ROOM.has((err as NodeJS.ErrnoException).code ?? '');

/**
 * Below this much free space, an I/O error of SQLite is taken for a full disk: SQLite reports a
 * -shm or -wal it could not extend as SQLITE_IOERR_SHMSIZE, SQLITE_IOERR_WRITE, ... (not as
 * SQLITE_FULL), and those files need a few pages.
 */
const NEARLY_FULL_BYTES = 1024 * 1024;

/** Free bytes for an unprivileged writer on the file system of `dir`; undefined when unknown. */
function freeBytes(dir: string): number | undefined {
  try {
    const st = statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return undefined;
  }
}

/**
 * When `err`, met while opening the data directory `dir` at start, means that its disk (or the
 * user's quota) is full, the line a person reads, saying what to do; undefined otherwise.
 */
export function diskFullAtStart(err: unknown, dir: string): string | undefined {
  const free = freeBytes(dir);
  const code = (err as { code?: unknown } | undefined)?.code;
  const full =
    isNoRoom(err) ||
    (err instanceof SqliteError && (code === 'SQLITE_FULL' || (err.code.startsWith('SQLITE_IOERR') && free !== undefined && free < NEARLY_FULL_BYTES)));
  if (!full) return undefined;
  return (
    `the disk holding ${dir} is full (${free === undefined ? 'no' : free.toLocaleString('en-US')} bytes free): the store ` +
    'cannot be opened there (data.db needs room beside it for its -wal and -shm files). Free some space on that disk ' +
    'and start again; nothing was changed.'
  );
}

const storageFull = (): RpcError => new RpcError(ErrorCode.StorageFull, 'The disk is full: free some space and try again (nothing was written)');

/** How long a host is told to wait (`retryAfterMs`) before it retries a write refused as busy. */
export const BUSY_RETRY_AFTER_MS = 1000;

/** True for SQLite's "another connection holds the lock" (SQLITE_BUSY*, SQLITE_LOCKED*). */
export const isBusy = (err: unknown): boolean =>
  err instanceof SqliteError && (err.code.startsWith('SQLITE_BUSY') || err.code.startsWith('SQLITE_LOCKED'));

/** StorageBusy: another process holds the write lock. `data: {reason: "locked", retryAfterMs}`. */
export const storageLocked = (): RpcError =>
  new RpcError(
    ErrorCode.StorageBusy,
    'The database is locked by another process; try again when it has finished (nothing was written)',
    { reason: 'locked', retryAfterMs: BUSY_RETRY_AFTER_MS },
  );

/**
 * StorageBusy: the write-ahead log has reached its limit because another connection keeps an old
 * snapshot open, so no checkpoint can reset it. `data: {reason: "wal-pinned", walBytes, limitBytes,
 * retryAfterMs}`.
 */
export const walPinned = (walBytes: number, limitBytes: number): RpcError =>
  new RpcError(
    ErrorCode.StorageBusy,
    `The write-ahead log (data.db-wal) has grown to ${mib(walBytes)} MiB, past its limit of ${mib(limitBytes)} MiB, because ` +
      'another program is holding an old snapshot of the database open (a read transaction it has not ended), so it ' +
      'cannot be checkpointed. Close that program or end its transaction; writes go on once it lets go (nothing was written)',
    { reason: 'wal-pinned', walBytes, limitBytes, retryAfterMs: BUSY_RETRY_AFTER_MS },
  );

const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);

/**
 * The contract error for a SQLite failure, or for a file the store writes itself (a backup, an
 * export) that the disk has no room for; undefined when `err` is not one the table names.
 */
export function storageError(err: unknown): RpcError | undefined {
  if (!(err instanceof SqliteError)) return isNoRoom(err) ? storageFull() : undefined;
  const code = err.code;
  if (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') && /disk|space|full/i.test(err.message)) {
    return storageFull();
  }
  if (isBusy(err)) return storageLocked();
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return storageCorrupt(err.message);
  }
  if (code === 'SQLITE_CONSTRAINT_TRIGGER' && / a JSON column holds text that is not JSON$/.test(err.message)) {
    // The triggers of 0006/0007 refuse what is not JSON. The sidecar writes only JSON it made, so a
    // refusal of its own write is a text another program stored (an older SQLite's json_valid took
    // it), carried over by the write of the row: the file holds something it should not.
    return storageCorrupt(err.message);
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    // Repositories check parents before they write and name them (-32004 {entity, field, value});
    // SQLite's own message names nothing, so what reaches here says so in words, never in nulls.
    return new RpcError(ErrorCode.ConstraintViolation, 'A reference points to a record that does not exist', {
      entity: 'unknown',
      field: 'unknown',
      value: 'unknown',
    });
  }
  if (code === 'SQLITE_CONSTRAINT_CHECK' || code === 'SQLITE_CONSTRAINT_NOTNULL' || code === 'SQLITE_CONSTRAINT_DATATYPE') {
    // The JSON Schemas catch these first; what reaches SQLite is a rule a schema cannot state.
    return invalidParams([{ path: '', message: err.message }]);
  }
  return undefined;
}
