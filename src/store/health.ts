/**
 * What the database file looks like (system.stats) and whether it is sound (system.doctor, with
 * an optional VACUUM). Audacity's users lost disk to project files that were never compacted;
 * these two methods let the app show the space and give it back.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { recordCounts } from './backup.js';
import type { Counts } from '../generated/types.js';
import { ENTITIES } from './entities.js';
import { damagedFiles } from './recovery.js';
import type { Store } from './store.js';

/** A file's size, 0 when it is not there (removed meanwhile, or never made). */
const sizeOf = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** The damaged databases recovery kept (see recovery.ts), each with the bytes of its -wal and -shm. */
export function damagedFileSizes(dbPath: string): { path: string; sizeBytes: number }[] {
  return damagedFiles(dbPath).map((path) => ({ path, sizeBytes: sizeOf(path) + sizeOf(`${path}-wal`) + sizeOf(`${path}-shm`) }));
}

/** Bytes of the files directly in `dir` (0 when it is missing). */
export function dirBytes(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  return names.reduce((total, name) => {
    try {
      const st = statSync(join(dir, name));
      return st.isFile() ? total + st.size : total;
    } catch {
      return total; // removed meanwhile
    }
  }, 0);
}

export interface FileShape {
  dbBytes: number;
  walBytes: number;
  pageSize: number;
  pageCount: number;
  freePages: number;
}

export function fileShape(store: Store): FileShape {
  const p = (name: string): number => store.db.pragma(name, { simple: true }) as number;
  return {
    dbBytes: sizeOf(store.path),
    walBytes: sizeOf(`${store.path}-wal`),
    pageSize: p('page_size'),
    pageCount: p('page_count'),
    freePages: p('freelist_count'),
  };
}

export interface DoctorReport extends FileShape {
  ok: boolean;
  integrity: string[];
  foreignKeyViolations: number;
  counts: Counts;
  vacuum?: { beforeBytes: number; afterBytes: number };
}

/** The full-text index tables (external-content FTS5, sql/0001). */
const ftsTables = (): string[] => Object.values(ENTITIES).flatMap((desc) => (desc.search ? [desc.search.table] : []));

/** Rebuilds every full-text index from its content table, in one transaction. */
function rebuildFts(store: Store): void {
  store.write(() => {
    for (const table of ftsTables()) store.db.prepare(`INSERT INTO "${table}"("${table}") VALUES ('rebuild')`).run();
  });
}

/**
 * Whether every full-text index matches its content table row for row (FTS5 `integrity-check`
 * with rank 1 also compares an external-content index with the content it points at).
 */
function ftsMatchesContent(store: Store): boolean {
  try {
    for (const table of ftsTables()) store.db.prepare(`INSERT INTO "${table}"("${table}", rank) VALUES ('integrity-check', 1)`).run();
    return true;
  } catch {
    return false;
  }
}

/**
 * integrity_check and foreign_key_check; with `vacuum`, first a TRUNCATE checkpoint, the
 * full-text indexes rebuilt, VACUUM and a TRUNCATE checkpoint, so the file is left without free
 * pages (a rebuild after the VACUUM would free the old index pages again).
 *
 * Caveat: SQLite says VACUUM may renumber the rowids of a table without an INTEGER PRIMARY KEY,
 * and the indexes point at rowids. (It keeps them for a table with an index, as every indexed
 * table here has; it numbers the rows 1, 2, 3 … in rowid order otherwise.) So the indexes are
 * checked against their tables after the VACUUM; should one not match, they are rebuilt and the
 * file vacuumed once more: renumbered rows are already numbered 1, 2, 3 …, which a second VACUUM
 * leaves as they are.
 */
export function doctor(store: Store, vacuum = false): DoctorReport {
  let compacted: DoctorReport['vacuum'];
  if (vacuum) {
    // Commits outside Store.write, which may checkpoint automatically: this process's own writes.
    compacted = store.ownFileWrite(() => {
      store.checkpoint();
      const beforeBytes = sizeOf(store.path) + sizeOf(`${store.path}-wal`);
      rebuildFts(store);
      store.db.exec('VACUUM');
      if (!ftsMatchesContent(store)) {
        rebuildFts(store);
        store.db.exec('VACUUM');
      }
      store.checkpoint();
      return { beforeBytes, afterBytes: sizeOf(store.path) + sizeOf(`${store.path}-wal`) };
    });
  }
  const integrity = (store.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  const foreignKeyViolations = (store.db.pragma('foreign_key_check') as unknown[]).length;
  return {
    ok: integrity.length === 1 && integrity[0] === 'ok' && foreignKeyViolations === 0,
    integrity,
    foreignKeyViolations,
    ...fileShape(store),
    counts: recordCounts(store.db),
    ...(compacted ? { vacuum: compacted } : {}),
  };
}

/** The newest autosave's time, if any. */
export function lastAutosaveAt(store: Store): number | undefined {
  return (store.db.prepare('SELECT max(created_at) FROM autosaves').pluck().get() as number | null) ?? undefined;
}
