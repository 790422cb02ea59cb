/**
 * Opening a data directory for service: folders, the instance lock, the database, migrations,
 * repositories and the dispatcher. Shared by the server (main.ts) and one-shot calls (`call`).
 *
 * Read-only (`whiteroom-store inspect`, `--read-only`): the database is opened read-only beside
 * the sidecar that may be serving it, and nothing else is done to the data directory: no folders,
 * no instance lock, no migrations, recovery, derived refresh, trash purge, autosave recovery or
 * timers, automatic backups or checkpoints. Only the methods marked `"x-read-only": true` in
 * rpc-schema/methods/ are served, each in one read transaction (one snapshot); the others are
 * refused (ReadOnly) before they run.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { OPENRPC_DOCUMENT } from './generated/openrpc.js';
import { READ_ONLY_METHOD_NAMES, type StoredInstrument, type StoredPerformance, type StoredPreset, type StoredSong, type StoredVoice } from './generated/types.js';
import { buildMethods } from './methods/index.js';
import type { RuntimeInfo, Services } from './methods/services.js';
import { dataPaths, ensureDataDirs, type DataPaths } from './paths.js';
import { Dispatcher, type MethodEntry } from './rpc/dispatcher.js';
import { OlderSchemaError, type SynchronousMode } from './store/database.js';
import { instruments, performances, presets, songs, voices } from './store/entities.js';
import { Preferences } from './store/preferences.js';
import { RecentItems } from './store/recent.js';
import { References } from './store/usage.js';
import { lockDataDir, type DataDirLock } from './store/lock.js';
import { refreshDerived } from './store/derived.js';
import { migrate } from './store/migrations.js';
import { Repository } from './store/repository.js';
import { History } from './store/history.js';
import { Files } from './files.js';
import { diskFullAtStart, storageError } from './store/sqlite-errors.js';
import { Store } from './store/store.js';
import { SqliteError } from './store/sqlite.js';
import type { Logger } from './log.js';
import { Autosaves } from './store/autosaves.js';
import { AutosaveService } from './services/autosave.js';
import { IdleCheckpoint } from './services/idle-checkpoint.js';
import type { Runner, Timers } from './services/timers.js';
import { readOnlyRefused, type RpcError } from './errors.js';
import { Backups } from './services/backups.js';
import { Transfer } from './services/transfer.js';
import { Archive } from './services/archive.js';
import { leaveCleanMark, takeCleanMark } from './store/clean-close.js';
import { damage, recoverFromDamage, type Recovery } from './store/recovery.js';

export const VERSION: string = OPENRPC_DOCUMENT.info.version;

export interface AppOptions {
  dataDir: string;
  synchronous?: SynchronousMode;
  log: Logger;
  framing: () => 'header' | 'ndjson' | 'none';
  /** Recently used entries kept per item type (default 50). */
  recentPerType?: number;
  /** Called by system.shutdown. */
  requestShutdown: () => void;
  /** Take an automatic backup at start when the newest is older than this many hours (0: never). */
  autoBackupHours?: number;
  /** The limit of the write-ahead log (default 1 GiB): see Store.write. */
  maxWalBytes?: number;
  /** Open the database read-only and touch nothing else (whiteroom-store inspect): see above. */
  readOnly?: boolean;
}

export interface App {
  readonly paths: DataPaths;
  readonly store: Store;
  readonly services: Services;
  readonly dispatcher: Dispatcher;
  /** Runs background work (autosave timers, idle checkpoints) through `run`: the server's queue. */
  setRunner(run: Runner): void;
  /** Where notifications go ($/progress of long operations). */
  setNotifier(notify: (method: string, params: unknown) => void): void;
  /** The automatic backup, when one is due (run as a background job once serving). */
  automaticBackup(): Promise<void>;
  /**
   * Before close: stops the automatic backup if one runs (nothing is left of it) and waits for
   * every backup or full export still running beside the queue.
   */
  drain(): Promise<void>;
  /** Promotes staged autosaves, checkpoints and closes the database, then releases the lock. Idempotent. */
  close(): void;
}

/**
 * Opens the data directory. Throws DataDirLockedError (another instance), NewerSchemaError
 * (a database from a newer version), or the SQLite error of a file that cannot be opened.
 */
export async function openApp(options: AppOptions): Promise<App> {
  if (options.readOnly) return openReadOnly(options);
  const { log } = options;
  const paths = dataPaths(options.dataDir);
  let lock: DataDirLock;
  try {
    ensureDataDirs(paths);
    lock = lockDataDir(paths.dataDir);
  } catch (err) {
    // A new data directory on a full disk fails here (its lock file), before data.db is opened.
    const full = diskFullAtStart(err, paths.dataDir);
    throw full ? new Error(full) : err;
  }
  // A restore that a crash interrupted before its swap left a copy beside data.db: the old file is whole.
  Backups.cleanUpAtStart(paths);
  let store: Store | undefined;
  let recovery: Recovery | undefined;
  try {
    const open = (): Store =>
      Store.open(paths.dbPath, {
        synchronous: options.synchronous,
        maxSchemaVersion: Store.latestSchemaVersion,
        ...(options.maxWalBytes === undefined ? {} : { maxWalBytes: options.maxWalBytes }),
      });
    // A damaged file is never served: checked before anything else touches it, unless it is still
    // the file this sidecar closed cleanly after checking it (src/store/clean-close.ts).
    const unchanged = takeCleanMark(paths.dbPath);
    const reason = damage(() => {
      store = open();
      return unchanged ? 'ok' : store.db.pragma('quick_check', { simple: true });
    });
    log.info({ quickCheck: unchanged ? 'skipped: unchanged since a clean shutdown' : 'done' }, 'data.db checked');
    if (reason !== undefined) {
      store?.discard();
      store = undefined;
      recovery = await recoverFromDamage(paths, reason);
      log.warn(recovery, 'data.db was damaged: moved aside and restored from the newest good backup');
      store = open();
    }
    const outcome = await migrate(store!.db, paths.dbPath, {
      backupDir: paths.backupsDir,
      onStep: (m) => log.info({ version: m.version, name: m.name }, 'applying migration'),
    });
    if (outcome.applied.length) log.info(outcome, 'database migrated');
    // Sort keys and folded search text made by another folding (or none yet) are made again.
    const refreshed = store!.ownFileWrite(() => refreshDerived(store!.db)); // may checkpoint automatically
    if (Object.keys(refreshed).length) log.info({ refreshed }, 'name keys and search text recomputed');
  } catch (err) {
    store?.discard();
    lock.release();
    throw explainOpenError(err, paths.dbPath);
  }
  return serveStore(options, paths, store!, lock, recovery);
}

/** Timers that never fire: a read-only app arms no autosave. */
const NO_TIMERS: Timers = { setTimeout: () => undefined, clearTimeout: () => {} };

/**
 * The read-only open: data.db must exist, at the schema this binary knows (an older file is not
 * migrated, a newer one not read). Nothing is created, not even the data directory.
 */
async function openReadOnly(options: AppOptions): Promise<App> {
  const paths: DataPaths = { ...dataPaths(options.dataDir), workDir: tmpdir() };
  if (!existsSync(paths.dbPath)) {
    throw new Error(
      `there is no database to inspect: ${paths.dbPath} does not exist. inspect (--read-only) opens the data.db ` +
        'of an existing data directory and creates nothing; check --data-dir (or WHITEROOM_DATA_DIR)',
    );
  }
  let store: Store | undefined;
  try {
    store = Store.open(paths.dbPath, {
      readonly: true,
      maxSchemaVersion: Store.latestSchemaVersion,
      ...(options.maxWalBytes === undefined ? {} : { maxWalBytes: options.maxWalBytes }),
    });
    const found = store.schemaVersion;
    if (found < Store.latestSchemaVersion) throw new OlderSchemaError(paths.dbPath, found, Store.latestSchemaVersion);
  } catch (err) {
    store?.discard();
    throw explainOpenError(err, paths.dbPath);
  }
  return serveStore(options, paths, store, { release: () => {} });
}

/** The repositories, services and dispatcher over an open store. */
function serveStore(options: AppOptions, paths: DataPaths, opened: Store, lock: DataDirLock, recovery?: Recovery): App {
  const { log } = options;
  const readOnly = opened.readOnly;
  const runtime: RuntimeInfo = {
    version: VERSION,
    dataDir: paths.dataDir,
    dbPath: paths.dbPath,
    exportsDir: paths.exportsDir,
    startedAt: Date.now(),
    ...(recovery ? { recovery } : {}),
    framing: options.framing,
    ...(readOnly ? { readOnly: true } : {}),
  };
  // Versions and trash of songs and performances, recorded in their write transactions; the part
  // store drops the nodes no version or autosave refers to before each commit.
  const history = new History(opened);
  history.parts.onUnreadable = (hash, why) =>
    log.warn({ hash, why }, 'removed a part no version refers to whose body does not inflate; the parts it named are kept');
  opened.onBeforeCommit(() => history.parts.collect());
  const songRepo = new Repository<StoredSong>(opened, songs, history.hooks);
  const performanceRepo = new Repository<StoredPerformance>(opened, performances, history.hooks);
  const preferences = new Preferences(opened);
  const autosaves = new Autosaves(opened, songRepo, performanceRepo, history);
  let autosave: AutosaveService;
  try {
    autosave = new AutosaveService({ store: opened, autosaves, preferences, log, ...(readOnly ? { timers: NO_TIMERS } : {}) });
    if (!readOnly) {
      // States staged before a crash become recovered snapshots before anything else is served.
      autosave.recover();
      // Trash past its retention goes (with its history) before anything is served.
      if (history.trashToPurge()) opened.write(() => history.purgeTrash());
    }
  } catch (err) {
    opened.close();
    lock.release();
    throw err;
  }
  const idleCheckpoint = new IdleCheckpoint({
    store: opened,
    onError: (err) => log.warn({ err }, 'idle checkpoint failed; the next one will retry'),
  });
  const backups = new Backups({
    store: opened,
    paths,
    onReopened: () => {
      history.reset();
      autosave.reload();
    },
    log,
  });
  let notify: (method: string, params: unknown) => void = () => {};
  let draining = false;
  const files = new Files(paths);
  const transfer = new Transfer({ store: opened, songs: songRepo, performances: performanceRepo, exportsDir: paths.exportsDir, files, appVersion: VERSION, history });
  const services: Services = {
    store: opened,
    songs: songRepo,
    performances: performanceRepo,
    instruments: new Repository<StoredInstrument>(opened, instruments),
    voices: new Repository<StoredVoice>(opened, voices),
    presets: new Repository<StoredPreset>(opened, presets),
    preferences,
    recent: new RecentItems(opened, options.recentPerType),
    references: new References(opened),
    history,
    autosaves,
    autosave,
    backups,
    transfer,
    archive: new Archive({ store: opened, backups, transfer, dataDir: paths.dataDir, appVersion: VERSION }),
    runtime,
    requestShutdown: options.requestShutdown,
    notify: (method, params) => notify(method, params),
  };
  const methods = buildMethods(services);
  const dispatcher = new Dispatcher(readOnly ? methods.map((m) => readOnlyEntry(m, opened, history)) : methods, {
    mapError: readOnly ? (err, method) => readOnlyError(err, method) ?? storageError(err) : storageError,
    onInternalError: (err, method) => log.error({ err, method }, 'internal error (a bug)'),
  });
  let closed = false;
  return {
    paths,
    store: opened,
    services,
    dispatcher,
    setNotifier(fn): void {
      notify = fn;
    },
    async automaticBackup(): Promise<void> {
      const hours = options.autoBackupHours ?? 24;
      if (hours <= 0 || draining || readOnly) return;
      try {
        const made = await backups.automatic(hours * 3_600_000, { cancelled: () => draining });
        if (made) log.info({ path: made.path }, 'automatic backup');
      } catch (err) {
        log.warn({ err }, 'automatic backup not taken; it is tried again at the next start');
      }
    },
    async drain(): Promise<void> {
      draining = true;
      await backups.quiesce();
    },
    setRunner(run: Runner): void {
      autosave.setRunner(run);
      idleCheckpoint.setRunner(run);
    },
    close(): void {
      if (closed) return;
      closed = true;
      try {
        // Whatever is staged is promoted before the database closes (every shutdown path);
        // read-only, what is staged is the sidecar's.
        if (!readOnly) autosave.close();
      } catch (err) {
        log.error({ err }, 'autosave flush at shutdown failed; the staged states are kept for recovery');
      }
      idleCheckpoint.close();
      try {
        // Looked at before the close's checkpoint writes the file (Store.foreignWrite).
        const foreign = readOnly ? undefined : opened.foreignWrite;
        if (!opened.close()) log.warn('the database could not be checkpointed at shutdown (is the disk full?); its -wal file keeps every commit, and the next start replays it');
        else if (foreign !== undefined) log.warn({ reason: foreign }, 'data.db was changed by another program while the sidecar ran: no clean-close record, the next start checks it');
        else if (!readOnly) leaveCleanMark(paths.dbPath); // inspect checked nothing, and writes nothing
      } finally {
        lock.release();
      }
    },
  };
}

const READ_ONLY_METHODS: ReadonlySet<string> = new Set(READ_ONLY_METHOD_NAMES);
/** Accepts any params: a method that writes is refused read-only whatever they are. */
const anyParams = Object.assign(() => true, { errors: null });

/**
 * A method as a read-only database serves it. One marked `"x-read-only": true` runs in one read
 * transaction, so it reads one snapshot even while the sidecar commits between its statements,
 * and with what history keeps of the file read again (the sidecar may have changed it). Any other
 * is refused before its params are looked at.
 */
function readOnlyEntry(m: MethodEntry, store: Store, history: History): MethodEntry {
  if (!READ_ONLY_METHODS.has(m.name)) {
    return {
      name: m.name,
      validate: anyParams,
      handler: () => {
        throw readOnlyRefused(m.name);
      },
    };
  }
  return {
    ...m,
    handler: (params, ctx) => {
      history.reset();
      return store.db.transaction(() => m.handler(params, ctx))();
    },
  };
}

/** SQLite's refusal of a write on the read-only connection (a read method that tried one) as ReadOnly. */
function readOnlyError(err: unknown, method: string | undefined): RpcError | undefined {
  if (!(err instanceof SqliteError) || !err.code.startsWith('SQLITE_READONLY')) return undefined;
  return readOnlyRefused(method ?? 'the request', `${method ?? 'the request'} tried to write`);
}

/** A full disk, or a damaged database file, said in words a person can act on. Other errors pass unchanged. */
function explainOpenError(err: unknown, dbPath: string): unknown {
  const full = diskFullAtStart(err, dirname(dbPath));
  if (full) return new Error(full);
  if (!(err instanceof SqliteError)) return err;
  if (err.code === 'SQLITE_NOTADB' || err.code.startsWith('SQLITE_CORRUPT')) {
    return new Error(
      `${dbPath} is not a readable SQLite database (${err.code}: ${err.message}); it was not changed. ` +
        'Move it aside and restore a backup from the backups folder, or start with another --data-dir.',
    );
  }
  return new Error(`cannot open ${dbPath}: ${err.message} (${err.code})`);
}
