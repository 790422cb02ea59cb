/**
 * Opening the database: the one place that sets connection pragmas. Every connection the sidecar
 * makes to a data file goes through `openDatabase`, so `foreign_keys=ON` (SQLite's default is OFF,
 * which silently disabled the plan's cascades) can never be forgotten.
 */
import { connect, type Connection } from './sqlite.js';

export { SqliteError, type Connection } from './sqlite.js';

/** How long a statement waits for another process's lock before failing with StorageBusy. */
export const BUSY_TIMEOUT_MS = 5000;
/** The WAL file is truncated back to this size after a checkpoint, so it cannot grow without bound. */
export const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
/**
 * SQLite's automatic checkpoint threshold, in pages (4 KiB): raised from its default of 1000
 * because the checkpoint runs inside the commit that crosses it. The store checkpoints when
 * idle instead (src/services/idle-checkpoint.ts); this one only acts during long bursts of writes.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 8192;
/** Page cache: negative means KiB, so -64000 is the plan's 64 MB. */
export const CACHE_SIZE_KIB = 64000;
/** The plan's memory-map size (SQLite caps it at its compile-time maximum, 2 GB by default). */
export const MMAP_SIZE_BYTES = 30_000_000_000;

export type SynchronousMode = 'normal' | 'full';

export interface OpenOptions {
  /**
   * `normal` (default, the plan's choice): in WAL mode a commit survives a crash of the process;
   * a power cut may lose the last commits but never corrupts. `full` also survives power loss,
   * at the cost of an fsync per commit.
   */
  synchronous?: SynchronousMode;
  /** Open read-only (inspection of backups and import sources). */
  readonly?: boolean;
  /** Fail at once instead of waiting for locks (used for the instance lock). */
  busyTimeoutMs?: number;
  /**
   * Refuse (NewerSchemaError) a file whose user_version is above this, before anything is
   * written to it (switching to WAL rewrites the header).
   */
  maxSchemaVersion?: number;
}

/** The database was written by a newer whiteroom-store; this one must not touch it. */
export class NewerSchemaError extends Error {
  readonly found: number;
  readonly known: number;
  constructor(path: string, found: number, known: number) {
    super(
      `${path} is at schema version ${found}, but this whiteroom-store knows versions up to ${known}: ` +
        'it was written by a newer version of White Room. Run that version, or point --data-dir at another ' +
        'folder. The file was not changed.',
    );
    this.name = 'NewerSchemaError';
    this.found = found;
    this.known = known;
  }
}

/** The database is at an older schema, and a read-only open (inspect) does not migrate it. */
export class OlderSchemaError extends Error {
  readonly found: number;
  readonly known: number;
  constructor(path: string, found: number, known: number) {
    super(
      `${path} is at schema version ${found}, and this whiteroom-store reads version ${known}: inspect opens the file ` +
        'read-only, so it does not migrate it. Start White Room (or whiteroom-store without inspect) once to migrate ' +
        'it, or inspect it with the version that wrote it. The file was not changed.',
    );
    this.name = 'OlderSchemaError';
    this.found = found;
    this.known = known;
  }
}

/**
 * Opens (creating if needed) the database at `path` with the store's pragmas.
 * Throws SqliteError when the file cannot be opened or is not a database.
 */
export function openDatabase(path: string, options: OpenOptions = {}): Connection {
  const db = connect(path, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
    timeout: options.busyTimeoutMs ?? BUSY_TIMEOUT_MS,
  });
  try {
    if (options.maxSchemaVersion !== undefined) {
      const found = db.pragma('user_version', { simple: true }) as number;
      if (found > options.maxSchemaVersion) throw new NewerSchemaError(path, found, options.maxSchemaVersion);
    }
    // Nothing in our schema needs SQL functions with side effects inside triggers or views;
    // refusing them defends against a crafted file (a restored backup, an import).
    db.pragma('trusted_schema = OFF');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? BUSY_TIMEOUT_MS}`);
    db.pragma(`cache_size = -${CACHE_SIZE_KIB}`);
    db.pragma('temp_store = MEMORY');
    db.pragma(`mmap_size = ${MMAP_SIZE_BYTES}`);
    if (!options.readonly) {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`could not switch ${path} to WAL mode (journal_mode is ${String(mode)})`);
      db.pragma(`synchronous = ${(options.synchronous ?? 'normal').toUpperCase()}`);
      db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    }
    if (db.pragma('foreign_keys', { simple: true }) !== 1) throw new Error('foreign_keys could not be switched on');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
