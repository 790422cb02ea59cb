/**
 * Unit-test helpers: a real, migrated store in a fresh temporary directory, with a fake clock.
 * No child processes: the compiled modules are imported directly.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, type Change } from '../../src/store/store.js';
import { migrate } from '../../src/store/migrations.js';
import { History } from '../../src/store/history.js';

export interface TempStore {
  store: Store;
  dir: string;
  dbPath: string;
  backupDir: string;
  /** The fake clock's current value; `clock.set(t)` / `clock.tick(ms)` move it. */
  clock: { now: number; set(t: number): void; tick(ms?: number): number };
  /** Every batch of changes announced by Store.onCommit, in order. */
  commits: Change[][];
  cleanup(): void;
}

/** A temporary directory that `cleanup` removes. */
export function tempDir(prefix = 'wr-unit-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const histories = new WeakMap<Store, History>();

/**
 * The store's history (versions, trash, part store), made once per store as the app makes it:
 * its part-store collection runs before every commit.
 */
export function historyOf(store: Store): History {
  let h = histories.get(store);
  if (!h) {
    h = new History(store);
    store.onBeforeCommit(() => h!.parts.collect());
    histories.set(store, h);
  }
  return h;
}

/** Opens a new database in a fresh temp dir, migrates it to the latest schema, fakes the clock. */
export async function openTempStore(start = 1_700_000_000_000): Promise<TempStore> {
  const { dir, cleanup } = tempDir();
  const dbPath = join(dir, 'data.db');
  const backupDir = join(dir, 'backups');
  mkdirSync(backupDir);
  const store = Store.open(dbPath);
  await migrate(store.db, dbPath, { backupDir });
  const clock = {
    now: start,
    set(t: number) {
      clock.now = t;
    },
    tick(ms = 1) {
      clock.now += ms;
      return clock.now;
    },
  };
  store.now = () => clock.now;
  const commits: Change[][] = [];
  store.onCommit((changes) => commits.push(changes));
  return {
    store,
    dir,
    dbPath,
    backupDir,
    clock,
    commits,
    cleanup() {
      try {
        store.close();
      } finally {
        cleanup();
      }
    },
  };
}

/** Changes sorted by entity then op, each with sorted ids, for order-independent comparison. */
export function normaliseChanges(changes: Change[]): Change[] {
  return changes
    .map((c) => ({ entity: c.entity, op: c.op, ids: [...c.ids].sort() }))
    .sort((a, b) => (a.entity + a.op < b.entity + b.op ? -1 : a.entity + a.op > b.entity + b.op ? 1 : 0));
}
