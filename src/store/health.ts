/**
 * What the database file looks like (system.stats) and whether it is sound (system.doctor, with
 * an optional VACUUM). Audacity's users lost disk to project files that were never compacted;
 * these two methods let the app show the space and give it back.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tableCounts } from './backup.js';
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
  counts: Record<string, number>;
  vacuum?: { beforeBytes: number; afterBytes: number };
}

/** integrity_check and foreign_key_check; with `vacuum`, VACUUM, FTS rebuild and a TRUNCATE checkpoint first. */
export function doctor(store: Store, vacuum = false): DoctorReport {
  let compacted: DoctorReport['vacuum'];
  if (vacuum) {
    store.checkpoint();
    const beforeBytes = sizeOf(store.path) + sizeOf(`${store.path}-wal`);
    store.db.exec('VACUUM');
    // VACUUM may renumber the rowids the external-content FTS indexes point at (sql/0001).
    store.write(() => {
      for (const desc of Object.values(ENTITIES)) {
        if (desc.search) store.db.prepare(`INSERT INTO "${desc.search.table}"("${desc.search.table}") VALUES ('rebuild')`).run();
      }
    });
    store.checkpoint();
    compacted = { beforeBytes, afterBytes: sizeOf(store.path) + sizeOf(`${store.path}-wal`) };
  }
  const integrity = (store.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check);
  const foreignKeyViolations = (store.db.pragma('foreign_key_check') as unknown[]).length;
  return {
    ok: integrity.length === 1 && integrity[0] === 'ok' && foreignKeyViolations === 0,
    integrity,
    foreignKeyViolations,
    ...fileShape(store),
    counts: tableCounts(store.db),
    ...(compacted ? { vacuum: compacted } : {}),
  };
}

/** The newest autosave's time, if any. */
export function lastAutosaveAt(store: Store): number | undefined {
  return (store.db.prepare('SELECT max(created_at) FROM autosaves').pluck().get() as number | null) ?? undefined;
}
