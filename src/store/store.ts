/**
 * The store: one better-sqlite3 connection, its write transactions and the change events they
 * produce. better-sqlite3 is synchronous, so a write transaction runs start to finish without
 * anything else on the connection in between; notifications go out only after the commit.
 */
import { closeSync, fstatSync, openSync, statSync, type BigIntStats } from 'node:fs';
import type { Statement } from 'better-sqlite3';
import { BUSY_TIMEOUT_MS, openDatabase, SqliteError, type Connection, type OpenOptions } from './database.js';
import { isBusy, storageLocked, walPinned } from './sqlite-errors.js';
import { MIGRATIONS } from '../generated/migrations.js';
import { FAMILY_OF_TABLE } from './entities.js';

export type ChangeOp = 'insert' | 'update' | 'delete';

/** One store.changed notification: every id of one entity touched by one kind of write. */
export interface Change {
  entity: string;
  op: ChangeOp;
  ids: string[];
  /** The revision each inserted or updated record has after the transaction (records only). */
  revisions?: Record<string, number>;
}

interface PendingChange {
  ids: Set<string>;
  revisions: Map<string, number>;
}

/** A child table whose rows a delete of its parent removes (CASCADE) or detaches (SET NULL). */
export interface ForeignKeyEdge {
  childTable: string;
  childColumn: string;
  onDelete: 'cascade' | 'set null' | 'other';
}

/**
 * While another process is known to hold the write lock (a write has just waited the whole busy
 * timeout for it), a write waits only this long: the queue keeps moving, and the first write
 * after the lock is released takes it.
 */
export const BUSY_PROBE_MS = 10;
/** While the WAL is under its limit, its size is looked at no more often than this. */
export const WAL_CHECK_INTERVAL_MS = 10;
/** The default limit of the write-ahead log: 1 GiB. */
export const DEFAULT_MAX_WAL_BYTES = 1024 * 1024 * 1024;

export interface StoreOptions extends OpenOptions {
  /**
   * Writes are refused (StorageBusy, reason `wal-pinned`) while data.db-wal is larger than this and
   * no checkpoint can reset it (another connection holds an old snapshot). Default 1 GiB.
   */
  maxWalBytes?: number;
}

export class Store {
  readonly path: string;
  /** The clock; tests replace it. Integer milliseconds since the Unix epoch. */
  now: () => number = Date.now;

  #pending: Map<string, PendingChange> | null = null;
  /** Run at the end of every write transaction, inside it (onBeforeCommit). */
  #beforeCommit: (() => void)[] = [];
  /** Callbacks of afterCommit for the write transaction under way. */
  #committed: (() => void)[] = [];
  #listeners: ((changes: Change[]) => void)[] = [];
  /** Depth of `unannounced` calls: while above 0, committed writes announce no change. */
  #unannounced = 0;
  #immediate!: (fn: () => unknown) => unknown;
  #edges: Map<string, ForeignKeyEdge[]> | undefined;
  #defaults = new Map<string, Record<string, unknown>>();
  #statements = new Map<string, Statement>();
  #db!: Connection;
  #generation = 0;
  readonly #options: StoreOptions;
  /** True once a write waited the whole busy timeout for another process's lock; false after a write commits. */
  #lockHeldElsewhere = false;
  /** When the WAL's size was last looked at (performance.now()), and whether it was past the limit. */
  #walCheckedAt = -Infinity;
  #walOverLimit = false;
  /** Snapshots of this process's own backups that hold every checkpoint off the file (pinWal). */
  #walPins = 0;
  /** The connection's wal_autocheckpoint before the first pin, restored when the last is let go. */
  #autocheckpointBeforePins = 0;
  /**
   * The main file as this process last left it (see #vouch), read through a descriptor of its own
   * (fstat: 2 µs). Closed only after the connection: closing a descriptor of a file drops every
   * POSIX lock the process holds on it, SQLite's included.
   */
  #fd: number | undefined;
  #own: BigIntStats | undefined;
  /** Why this process can no longer vouch for the main file (another program wrote it), if so. */
  #foreignWrite: string | undefined;
  /** Depth of ownFileWrite (and write) calls under way. */
  #ownDepth = 0;

  constructor(db: Connection, path: string, options: StoreOptions = {}) {
    this.path = path;
    this.#options = options;
    this.#attach(db);
  }

  /** Opens the database file with the store's pragmas. Migrations are run separately (migrations.ts). */
  static open(path: string, options: StoreOptions = {}): Store {
    return new Store(openDatabase(path, options), path, options);
  }

  /** The connection. A restore replaces it (reopen); do not keep it beyond a call. */
  get db(): Connection {
    return this.#db;
  }

  /**
   * Grows each time the connection is replaced: statements prepared on an older connection are
   * dead, and caches keyed by it (Repository's) start over.
   */
  get generation(): number {
    return this.#generation;
  }

  #attach(db: Connection): void {
    this.#db = db;
    this.#generation++;
    this.#watchFile();
    this.#statements.clear();
    this.#defaults.clear();
    this.#edges = undefined;
    const tx = db.transaction((fn: () => unknown) => fn());
    this.#immediate = (fn) => tx.immediate(fn);
  }

  /**
   * Opens the file at `path` again, with the same pragmas, after `close()` (a restore swapped the
   * file). Throws what openDatabase throws; the store stays closed then.
   */
  reopen(): void {
    if (this.#db.open) throw new Error('reopen of a store that is open');
    this.#attach(openDatabase(this.path, { ...this.#options, maxSchemaVersion: undefined }));
  }

  /**
   * Runs `fn` as one write transaction (BEGIN IMMEDIATE: the write lock is taken up front, so the
   * transaction cannot fail half-way on a lock upgrade). If `fn` throws, everything it wrote is
   * rolled back and no change is announced. Called inside another write, it joins that one.
   * `fn` must be synchronous: never await inside a transaction.
   */
  /**
   * Throws StorageBusy (reason `locked`, with `retryAfterMs`) when another process holds the write
   * lock: the first write waits for it up to the busy timeout (5 s); the writes after it, while the
   * lock is known to be held, wait only BUSY_PROBE_MS, so a queue of writes behind a held lock is
   * answered in about one busy timeout, not one per write. Throws StorageBusy (reason `wal-pinned`)
   * when the write-ahead log is past its limit and cannot be reset (see #ensureWalRoom).
   */
  write<T>(fn: () => T): T {
    // Opened read-only (inspect): refused as SQLite would refuse the first write, before anything
    // else (a write joining a read transaction would otherwise run without BEGIN IMMEDIATE).
    if (this.readOnly) throw new SqliteError('attempt to write a readonly database', 'SQLITE_READONLY');
    if (this.db.inTransaction) return fn();
    this.#ensureWalRoom();
    const probing = this.#lockHeldElsewhere;
    if (probing) this.#setBusyTimeout(BUSY_PROBE_MS);
    this.#pending = new Map();
    // The commit may checkpoint (SQLite's automatic checkpoint): the main file is compared before
    // it and taken as this process's after it (see ownFileWrite).
    this.#enterOwn();
    try {
      let result: T;
      try {
        result = this.#immediate(() => {
          this.#lockHeldElsewhere = false; // BEGIN IMMEDIATE took the lock: no one else holds it
          const r = fn();
          for (const hook of this.#beforeCommit) hook();
          return r;
        }) as T;
      } catch (err) {
        if (!isBusy(err)) throw err;
        this.#lockHeldElsewhere = true;
        throw storageLocked();
      } finally {
        this.#leaveOwn(); // before anything the commit's listeners write
      }
      const drained = this.#drain();
      const changes = this.#unannounced > 0 ? [] : drained;
      const committed = this.#committed;
      this.#committed = [];
      for (const f of committed) f();
      for (const l of this.#listeners) l(changes);
      return result;
    } finally {
      this.#pending = null;
      this.#committed = [];
      if (probing) this.#setBusyTimeout(this.#busyTimeoutMs);
    }
  }

  /**
   * Runs `fn`, which may write the main file through SQLite (a checkpoint of this connection or of
   * another one of this process): the file is compared with what this process last left (a
   * difference means another program wrote it, see foreignWrite), and what `fn` leaves is taken
   * as this process's. In WAL mode the main file changes only at checkpoints, so these and every
   * commit (which may checkpoint automatically) are all the writes this process makes to it.
   */
  ownFileWrite<T>(fn: () => T): T {
    this.#enterOwn();
    try {
      return fn();
    } finally {
      this.#leaveOwn();
    }
  }

  /** Nested own writes (a checkpoint inside a VACUUM's) are one: compared before the outermost, taken after it. */
  #enterOwn(): void {
    if (this.#ownDepth++ === 0) this.#verify();
  }

  #leaveOwn(): void {
    if (--this.#ownDepth === 0) this.#vouch();
  }

  /**
   * Why the main file can no longer be vouched for as this process left it: another program wrote
   * it (or replaced it) since it was opened. undefined while every change was this process's own.
   * Looked at again here (by path: a file renamed over it counts).
   */
  get foreignWrite(): string | undefined {
    if (this.#foreignWrite === undefined && this.#own) {
      const now = statSync(this.path, { bigint: true, throwIfNoEntry: false });
      if (!now) this.#foreignWrite = `${this.path} is gone`;
      else if (now.dev !== this.#own.dev || now.ino !== this.#own.ino) this.#foreignWrite = `${this.path} was replaced by another file`;
      else this.#verify(now);
    }
    return this.#foreignWrite;
  }

  #watchFile(): void {
    this.#closeFd();
    this.#own = undefined;
    this.#foreignWrite = undefined;
    if (this.#db.readonly || this.#db.memory || this.path === '' || this.path === ':memory:') return;
    try {
      this.#fd = openSync(this.path, 'r');
      this.#own = fstatSync(this.#fd, { bigint: true });
    } catch {
      this.#closeFd();
      this.#foreignWrite = `${this.path} could not be looked at`;
    }
  }

  #closeFd(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      closeSync(fd);
    } catch {
      /* nothing to do */
    }
  }

  #verify(now?: BigIntStats): void {
    const own = this.#own;
    if (!own || this.#foreignWrite !== undefined || this.#fd === undefined) return;
    let s: BigIntStats;
    try {
      s = now ?? fstatSync(this.#fd, { bigint: true });
    } catch {
      this.#foreignWrite = `${this.path} could not be looked at`;
      return;
    }
    if (s.size !== own.size || s.mtimeNs !== own.mtimeNs || s.ctimeNs !== own.ctimeNs) {
      this.#foreignWrite =
        `${this.path} was written by another program while this one ran (size ${own.size} -> ${s.size}, ` +
        `mtime ${own.mtimeNs} -> ${s.mtimeNs}, ctime ${own.ctimeNs} -> ${s.ctimeNs})`;
    }
  }

  #vouch(): void {
    if (this.#fd === undefined || this.#foreignWrite !== undefined) return;
    try {
      this.#own = fstatSync(this.#fd, { bigint: true });
    } catch {
      this.#foreignWrite = `${this.path} could not be looked at`;
    }
  }

  get #busyTimeoutMs(): number {
    return this.#options.busyTimeoutMs ?? BUSY_TIMEOUT_MS;
  }

  #setBusyTimeout(ms: number): void {
    this.db.pragma(`busy_timeout = ${ms}`);
  }

  /** True when the file was opened read-only (whiteroom-store inspect): every write is refused. */
  get readOnly(): boolean {
    return this.#db.readonly;
  }

  /** The size of data.db-wal in bytes (0 when there is none). */
  walBytes(): number {
    return statSync(`${this.path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  }

  /**
   * Keeps the write-ahead log bounded. A checkpoint can only reset the WAL once no connection reads
   * an older snapshot than its end; while another process holds one open (a `sqlite3` left in a
   * transaction, a backup tool), every commit appends and the file grows without limit (3 GB in
   * 30 s under a burst of autosaves). Past `maxWalBytes`, a TRUNCATE checkpoint that does not wait
   * (busy timeout 0) is tried: when the reader has let go it empties the WAL and the write goes
   * on; otherwise the write is refused with `wal-pinned`, and so is every write after it until
   * the WAL can be reset.
   *
   * Cost: the size is one stat of the -wal file (5-8 µs here, 8-12% of the cheapest write), so it
   * is looked at most once per WAL_CHECK_INTERVAL_MS while under the limit; the WAL can pass the
   * limit by what is written in that time (and by the write admitted last).
   */
  #ensureWalRoom(): void {
    if (this.#walPins > 0) return; // our own backup's snapshot: it lets go when its copy ends
    const now = performance.now();
    if (!this.#walOverLimit && now - this.#walCheckedAt < WAL_CHECK_INTERVAL_MS) return;
    this.#walCheckedAt = now;
    const limit = this.#options.maxWalBytes ?? DEFAULT_MAX_WAL_BYTES;
    this.#walOverLimit = this.walBytes() > limit;
    if (!this.#walOverLimit) return;
    this.#setBusyTimeout(0);
    try {
      this.ownFileWrite(() => this.db.pragma('wal_checkpoint(TRUNCATE)'));
    } catch (err) {
      if (!isBusy(err)) throw err;
    } finally {
      this.#setBusyTimeout(this.#busyTimeoutMs);
    }
    const after = this.walBytes();
    this.#walOverLimit = after > limit;
    if (this.#walOverLimit) throw walPinned(after, limit);
  }

  /**
   * Says that a backup of this process holds a read snapshot that keeps every checkpoint off the
   * main file (src/store/backup.ts, a file copy) until the function answered is called. Meanwhile:
   *   - the WAL limit is not enforced: the snapshot that pins the WAL is our own and ends with the
   *     copy; refusing writes (`wal-pinned`) for it would stop the host's saves during every long
   *     backup. The first write after it is let go checks the WAL again (and resets it);
   *   - the automatic checkpoint is off: it could copy nothing into the file anyway (the snapshot
   *     holds read-lock 0, which a checkpoint must take to write the file), and each try would
   *     sort the whole WAL inside a commit;
   *   - `walPinned` is true, and the idle checkpoint waits for it to end.
   */
  pinWal(): () => void {
    const db = this.#db;
    if (this.#walPins++ === 0) {
      this.#autocheckpointBeforePins = db.pragma('wal_autocheckpoint', { simple: true }) as number;
      db.pragma('wal_autocheckpoint = 0');
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.#walPins === 0) {
        // A connection replaced meanwhile (never while a backup runs: a restore waits) has its own.
        if (db === this.#db && db.open) db.pragma(`wal_autocheckpoint = ${this.#autocheckpointBeforePins}`);
        this.#walCheckedAt = -Infinity; // the next write looks at the WAL at once
      }
    };
  }

  /** True while a backup of this process holds the WAL (pinWal). */
  get walPinned(): boolean {
    return this.#walPins > 0;
  }

  /** A prepared statement for `sql`, prepared once and reused (for the store's fixed queries). */
  prepared(sql: string): Statement {
    let stmt = this.#statements.get(sql);
    if (!stmt) this.#statements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  /**
   * Notes a change of the current write transaction, announced after it commits. `revisions` gives
   * the revision a record has after this write (the last one recorded for an id wins).
   */
  recordChange(entity: string, op: ChangeOp, ids: Iterable<string>, revisions?: Readonly<Record<string, number>>): void {
    if (!this.#pending) throw new Error('recordChange outside a write transaction');
    const key = `${entity}\u0000${op}`;
    let change = this.#pending.get(key);
    if (!change) this.#pending.set(key, (change = { ids: new Set(), revisions: new Map() }));
    for (const id of ids) change.ids.add(id);
    for (const [id, rev] of Object.entries(revisions ?? {})) change.revisions.set(id, rev);
  }

  /**
   * Runs `fn` once the current write transaction has committed, and never if it rolls back: for
   * state kept in memory beside the database, which must not run ahead of it. Outside a write
   * transaction `fn` runs at once.
   */
  /**
   * Runs `hook` at the end of every write transaction, inside it, after the write's own work (the
   * part store removes the nodes no one refers to any more). A throw rolls the write back.
   */
  onBeforeCommit(hook: () => void): void {
    this.#beforeCommit.push(hook);
  }

  afterCommit(fn: () => void): void {
    if (!this.#pending) fn();
    else this.#committed.push(fn);
  }

  /**
   * Runs `fn`; the writes it commits reach the `onCommit` listeners with no changes. For the writes
   * that follow the replacement of the whole file (recovering what the new file had staged), which
   * the one `store.reset` after it announces: no `store.changed` goes out beside it.
   */
  unannounced<T>(fn: () => T): T {
    this.#unannounced++;
    try {
      return fn();
    } finally {
      this.#unannounced--;
    }
  }

  /** Calls `listener` after every committed write, with the changes it recorded (possibly none). */
  onCommit(listener: (changes: Change[]) => void): void {
    this.#listeners.push(listener);
  }

  #drain(): Change[] {
    const out: Change[] = [];
    for (const [key, { ids, revisions }] of this.#pending ?? []) {
      if (ids.size === 0) continue;
      const [entity, op] = key.split('\u0000') as [string, ChangeOp];
      out.push({ entity, op, ids: [...ids], ...(revisions.size ? { revisions: Object.fromEntries(revisions) } : {}) });
    }
    return out;
  }

  /** The schema version of the open file (PRAGMA user_version). */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** The newest schema version this binary knows. */
  static get latestSchemaVersion(): number {
    return MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  }

  get sqliteVersion(): string {
    return (this.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  }

  /**
   * The foreign keys that point at `table`, read once from the schema itself, so cascades are
   * described in one place: the migrations.
   */
  foreignKeysTo(table: string): readonly ForeignKeyEdge[] {
    if (!this.#edges) {
      const edges = new Map<string, ForeignKeyEdge[]>();
      for (const child of Object.keys(FAMILY_OF_TABLE)) {
        const fks = this.db.pragma(`foreign_key_list(${child})`) as { table: string; from: string; on_delete: string }[];
        for (const fk of fks) {
          const rule = fk.on_delete.toLowerCase();
          const list = edges.get(fk.table) ?? [];
          list.push({ childTable: child, childColumn: fk.from, onDelete: rule === 'cascade' || rule === 'set null' ? rule : 'other' });
          edges.set(fk.table, list);
        }
      }
      this.#edges = edges;
    }
    return this.#edges.get(table) ?? [];
  }

  /**
   * The DEFAULT of each column of `table` that has a literal one, as the value SQLite stores, read
   * from the schema (PRAGMA table_info), so defaults are written down once: in the migrations.
   */
  columnDefaults(table: string): Readonly<Record<string, unknown>> {
    let defaults = this.#defaults.get(table);
    if (!defaults) {
      defaults = {};
      for (const col of this.db.pragma(`table_info(${table})`) as { name: string; dflt_value: string | null }[]) {
        const value = sqlLiteral(col.dflt_value);
        if (value !== undefined) defaults[col.name] = value;
      }
      this.#defaults.set(table, defaults);
    }
    return defaults;
  }

  /**
   * Checkpoints the WAL into the main file and truncates it, so the file on disk is whole on its
   * own. Safe to call at any time outside a transaction.
   */
  checkpoint(): void {
    this.ownFileWrite(() => this.db.pragma('wal_checkpoint(TRUNCATE)'));
  }

  /**
   * Checkpoints and closes the connection. Idempotent. Answers whether the main file is whole on
   * its own: false when the checkpoint failed (a full disk). The connection is closed either way;
   * then the -wal file keeps every commit, and the next open replays it.
   */
  close(): boolean {
    if (!this.db.open) return true;
    let whole = true;
    try {
      // Looked at before the checkpoint, which writes the file: another program's write shows.
      void this.foreignWrite;
      // A read-only connection writes nothing, a checkpoint included: the -wal is its writer's.
      if (!this.readOnly) this.checkpoint();
    } catch {
      whole = false;
    } finally {
      this.discard();
    }
    return whole;
  }

  /** Closes the connection without a checkpoint (a file found damaged, a failed open). */
  discard(): void {
    try {
      if (this.db.open) this.db.close();
    } finally {
      this.#closeFd(); // after the connection: see #fd
    }
  }
}

/** The value of a literal DEFAULT clause ('text', 12, 1.5, NULL); undefined for anything else. */
export function sqlLiteral(text: string | null): unknown {
  if (text === null) return undefined;
  const quoted = /^'((?:[^']|'')*)'$/s.exec(text);
  if (quoted) return quoted[1]!.replace(/''/g, "'");
  if (/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) return Number(text);
  if (/^null$/i.test(text)) return null;
  return undefined;
}
