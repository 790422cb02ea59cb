/**
 * What a migration does beyond its SQL, in the same transaction, right after its file (steps that
 * need the store's code: hashing, the part store). Run by migrate() and by the reference schema a
 * restore compares files with (src/store/backup.ts), so both see the same schema.
 */
import type { Statement } from 'better-sqlite3';
import { performances, songs } from './entities.js';
import type { Row } from './entity.js';
import { legacySnapshotParts } from './autosaves.js';
import { History, type Sql } from './history.js';
import type { Connection } from './sqlite.js';

/** A statement cache and the clock over a bare connection. */
export function sqlOf(db: Connection): Sql {
  const cache = new Map<string, Statement>();
  return {
    prepared(sql: string): Statement {
      let s = cache.get(sql);
      if (!s) cache.set(sql, (s = db.prepare(sql)));
      return s;
    },
    now: Date.now,
  };
}

const BATCH = 500;

/** Rows of `table` in rowid order, a batch at a time (the connection stays free between batches). */
function* rowsOf(db: Connection, table: string): Generator<Row> {
  const read = db.prepare(`SELECT rowid AS _rowid, * FROM "${table}" WHERE rowid > ? ORDER BY rowid LIMIT ${BATCH}`);
  let after = -1;
  for (;;) {
    const rows = read.all(after) as Row[];
    yield* rows;
    if (rows.length < BATCH) return;
    after = rows[rows.length - 1]!._rowid as number;
  }
}

/**
 * 0005_history: autosave snapshots move into the part store, and every song and performance gets
 * its current state as its first version (dated by its updatedAt).
 */
function history(db: Connection): void {
  const h = new History(sqlOf(db));
  const insert = db.prepare(
    `INSERT INTO autosaves (id, song_id, performance_id, name, manifest_json, created_at, revision, size_bytes, recovered, reason)
     VALUES (@id, @song_id, @performance_id, @name, @manifest, @created_at, @revision, @size_bytes, @recovered, @reason)`,
  );
  for (const row of rowsOf(db, 'autosaves_old')) {
    // The manifest autosaves.ts reads: flat, part name -> hash (the triggers count each hash).
    const manifest = h.storeParts(legacySnapshotParts(row.snapshot_json as string));
    insert.run({ ...row, manifest: JSON.stringify(manifest) });
  }
  db.exec('DROP TABLE autosaves_old');
  for (const desc of [songs, performances]) {
    for (const row of rowsOf(db, desc.table)) h.record(desc, row, { source: 'save', at: row.updated_at as number });
  }
  h.parts.collect();
}

/** Steps by migration, keyed `<version>_<name>` (a test's own migration 5 is not 0005_history). */
export const MIGRATION_STEPS: Readonly<Record<string, (db: Connection) => void>> = { '5_history': history };

/** Runs the step of migration `m`, if it has one. */
export function runMigrationStep(db: Connection, m: { version: number; name: string }): void {
  MIGRATION_STEPS[`${m.version}_${m.name}`]?.(db);
}
