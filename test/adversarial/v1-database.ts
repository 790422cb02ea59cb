/**
 * A version-1 database file for migration tests: migration 1, the fixture's rows
 * (test/fixtures/v1-data.sql), and padding rows so that migrating takes a while.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/generated/migrations.js';
import { openDatabase } from '../../src/store/database.js';
import { ROOT } from '../helpers/process.js';

/** A version-1 database: migration 1, the fixture, and padding rows (so migrating takes a while). Returns its song count. */
export function buildV1(path: string, padRows: number, padBytes: number): number {
  const db = openDatabase(path);
  try {
    db.transaction(() => {
      db.exec(MIGRATIONS[0]!.sql);
      db.exec(readFileSync(join(ROOT, 'test', 'fixtures', 'v1-data.sql'), 'utf8'));
      const songCols = (db.pragma('table_info(songs)') as { name: string }[]).map((c) => c.name).filter((c) => c !== 'id' && c !== 'sections_json');
      db.exec(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${padRows})
         INSERT INTO songs (id, sections_json, ${songCols.join(', ')})
         SELECT 'pad-' || i, json_array(json_object('id', 'pad', 'text', printf('%.${padBytes}c', 'z'))), ${songCols.join(', ')}
         FROM n, (SELECT * FROM songs WHERE id = 'song-a')`,
      );
      const aCols = (db.pragma('table_info(autosaves)') as { name: string }[]).map((c) => c.name).filter((c) => c !== 'id' && c !== 'snapshot_json');
      db.exec(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${padRows})
         INSERT INTO autosaves (id, snapshot_json, ${aCols.join(', ')})
         SELECT 'pad-auto-' || i, json_object('pad', printf('%.${padBytes}c', 'z')), ${aCols.join(', ')}
         FROM n, (SELECT * FROM autosaves LIMIT 1)`,
      );
      db.pragma('user_version = 1');
    })();
    const n = (db.prepare('SELECT count(*) AS n FROM songs').get() as { n: number }).n;
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('journal_mode = DELETE');
    return n;
  } finally {
    db.close();
  }
}
