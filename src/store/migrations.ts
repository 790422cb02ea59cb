/**
 * Schema migrations: sql/NNNN_name.sql, applied in order (embedded at build time, see
 * scripts/gen.mjs). PRAGMA user_version records the newest one applied.
 *
 * - A database from a newer binary (user_version above what this one knows) is refused untouched.
 * - A database that holds anything is backed up (online backup API, kind pre-migration) before
 *   the first pending migration runs.
 * - Each migration and its bookkeeping commit in one BEGIN IMMEDIATE transaction, after
 *   PRAGMA foreign_key_check finds nothing; a failure rolls that migration back whole.
 * - A migration that has shipped is never edited: a change is a new file.
 */
import { MIGRATIONS, type Migration } from '../generated/migrations.js';
import { NewerSchemaError, type Connection } from './database.js';

export { NewerSchemaError };
import { writeBackup } from './backup.js';
import { runMigrationStep } from './migration-steps.js';

export interface MigrationOutcome {
  from: number;
  to: number;
  applied: number[];
  /** The pre-migration backup, when one was taken. */
  backupPath?: string;
}

export interface MigrateOptions {
  /** Folder for the pre-migration backup. */
  backupDir: string;
  /** The migrations to apply; defaults to the embedded sql/ files (tests pass their own). */
  migrations?: readonly Migration[];
  /** Told before each migration runs. */
  onStep?: (m: Migration) => void;
}

/**
 * Brings the database up to the newest known schema version.
 * Throws NewerSchemaError, or the error of a failed migration (which is rolled back; earlier ones stay).
 */
export async function migrate(db: Connection, path: string, options: MigrateOptions): Promise<MigrationOutcome> {
  const migrations = options.migrations ?? MIGRATIONS;
  const known = migrations[migrations.length - 1]?.version ?? 0;
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > known) throw new NewerSchemaError(path, from, known);
  const pending = migrations.filter((m) => m.version > from);
  const outcome: MigrationOutcome = { from, to: from, applied: [] };
  if (pending.length === 0) return outcome;

  const isEmpty = (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n === 0;
  if (!isEmpty) outcome.backupPath = (await writeBackup(db, options.backupDir, 'pre-migration')).path;

  const setVersion = (m: Migration): void => {
    db.pragma(`user_version = ${m.version}`);
    db.prepare(
      "INSERT INTO metadata (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(String(m.version));
  };
  for (const m of pending) {
    options.onStep?.(m);
    db.transaction(() => {
      db.exec(m.sql);
      runMigrationStep(db, m);
      const violations = db.pragma('foreign_key_check') as unknown[];
      if (violations.length > 0) {
        throw new Error(
          `migration ${m.version} (${m.name}) would leave ${violations.length} foreign key violation(s), ` +
            `first ${JSON.stringify(violations[0])}; it was rolled back`,
        );
      }
      setVersion(m);
    }).immediate();
    outcome.applied.push(m.version);
    outcome.to = m.version;
  }
  return outcome;
}
