/**
 * The store: one better-sqlite3 connection, its write transactions and the change events they
 * produce. better-sqlite3 is synchronous, so a write transaction runs start to finish without
 * anything else on the connection in between; notifications go out only after the commit.
 */
import type { Statement } from 'better-sqlite3';
import { openDatabase, type Connection, type OpenOptions } from './database.js';
import { MIGRATIONS } from '../generated/migrations.js';
import { FAMILY_OF_TABLE } from './entities.js';

export type ChangeOp = 'insert' | 'update' | 'delete';

/** One store.changed notification: every id of one entity touched by one kind of write. */
export interface Change {
  entity: string;
  op: ChangeOp;
  ids: string[];
}

/** A child table whose rows a delete of its parent removes (CASCADE) or detaches (SET NULL). */
export interface ForeignKeyEdge {
  childTable: string;
  childColumn: string;
  onDelete: 'cascade' | 'set null' | 'other';
}

export class Store {
  readonly path: string;
  /** The clock; tests replace it. Integer milliseconds since the Unix epoch. */
  now: () => number = Date.now;

  #pending: Map<string, Set<string>> | null = null;
  #listeners: ((changes: Change[]) => void)[] = [];
  #immediate!: (fn: () => unknown) => unknown;
  #edges: Map<string, ForeignKeyEdge[]> | undefined;
  #defaults = new Map<string, Record<string, unknown>>();
  #statements = new Map<string, Statement>();
  #db!: Connection;
  #generation = 0;
  readonly #options: OpenOptions;

  constructor(db: Connection, path: string, options: OpenOptions = {}) {
    this.path = path;
    this.#options = options;
    this.#attach(db);
  }

  /** Opens the database file with the store's pragmas. Migrations are run separately (migrations.ts). */
  static open(path: string, options: OpenOptions = {}): Store {
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
  write<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.#pending = new Map();
    try {
      const result = this.#immediate(fn) as T;
      const changes = this.#drain();
      for (const l of this.#listeners) l(changes);
      return result;
    } finally {
      this.#pending = null;
    }
  }

  /** A prepared statement for `sql`, prepared once and reused (for the store's fixed queries). */
  prepared(sql: string): Statement {
    let stmt = this.#statements.get(sql);
    if (!stmt) this.#statements.set(sql, (stmt = this.db.prepare(sql)));
    return stmt;
  }

  /** Notes a change of the current write transaction, announced after it commits. */
  recordChange(entity: string, op: ChangeOp, ids: Iterable<string>): void {
    if (!this.#pending) throw new Error('recordChange outside a write transaction');
    const key = `${entity}\u0000${op}`;
    let set = this.#pending.get(key);
    if (!set) this.#pending.set(key, (set = new Set()));
    for (const id of ids) set.add(id);
  }

  /** Calls `listener` after every committed write, with the changes it recorded (possibly none). */
  onCommit(listener: (changes: Change[]) => void): void {
    this.#listeners.push(listener);
  }

  #drain(): Change[] {
    const out: Change[] = [];
    for (const [key, ids] of this.#pending ?? []) {
      if (ids.size === 0) continue;
      const [entity, op] = key.split('\u0000') as [string, ChangeOp];
      out.push({ entity, op, ids: [...ids] });
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
    this.db.pragma('wal_checkpoint(TRUNCATE)');
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
      this.checkpoint();
    } catch {
      whole = false;
    } finally {
      this.db.close();
    }
    return whole;
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
