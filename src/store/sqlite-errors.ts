/**
 * SQLite failures as contract errors. SQLite reports the kind of failure in its result code
 * (better-sqlite3 exposes it as `err.code`, e.g. "SQLITE_FULL" or "SQLITE_CONSTRAINT_CHECK").
 */
import { ErrorCode, RpcError, invalidParams } from '../errors.js';
import { SqliteError } from './database.js';

/** A file system error from Node (`err.code` is the errno name) that means there is no room. */
const NO_ROOM = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** True for an Error of Node's file system saying the disk (or the quota) has no room. */
export const isNoRoom = (err: unknown): boolean => err instanceof Error && NO_ROOM.has((err as NodeJS.ErrnoException).code ?? '');

const storageFull = (): RpcError => new RpcError(ErrorCode.StorageFull, 'The disk is full: free some space and try again (nothing was written)');

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
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new RpcError(
      ErrorCode.StorageBusy,
      'The database is locked by another process; try again when it has finished (nothing was written)',
    );
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new RpcError(ErrorCode.StorageCorrupt, `The database file is damaged: ${err.message}`, { details: err.message });
  }
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new RpcError(ErrorCode.ConstraintViolation, 'A reference points to a record that does not exist', {
      entity: null,
      field: null,
      value: null,
    });
  }
  if (code === 'SQLITE_CONSTRAINT_CHECK' || code === 'SQLITE_CONSTRAINT_NOTNULL' || code === 'SQLITE_CONSTRAINT_DATATYPE') {
    // The JSON Schemas catch these first; what reaches SQLite is a rule a schema cannot state.
    return invalidParams([{ path: '', message: err.message }]);
  }
  return undefined;
}
