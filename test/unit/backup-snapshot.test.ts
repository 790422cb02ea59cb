/**
 * Backups at the speed of a copy (src/store/backup.ts: openSnapshot, writeBackup): the database
 * file is copied while a read snapshot that began at an empty WAL holds every checkpoint off it.
 *
 * The proof: another process (test/helpers/wal-writer.ts: plain node + better-sqlite3) commits
 * transactions and checkpoints in every mode throughout; while a snapshot holds, the file's bytes
 * do not change; and every backup taken meanwhile passes integrity_check and holds exactly the rows
 * committed before it began. "Before it began" is the snapshot: the transactions its read
 * transaction sees, read through the snapshot's own connection (writeBackup's onSnapshot) while the
 * copy is about to start; the writer's content after transaction m is known from m alone, so the
 * copy is compared with it row by row. The fallback (the online backup API) is tested where no
 * snapshot can be had, and so are the store's WAL limit and idle checkpoint while one holds, and,
 * as root where an XFS image can be made, the clone.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import { BackupCancelled, openSnapshot, writeBackup, type BackupInfo, type Snapshot } from '../../src/store/backup.js';
import { WAL_AUTOCHECKPOINT_PAGES } from '../../src/store/database.js';
import { connect, type Connection } from '../../src/store/sqlite.js';
import { Store } from '../../src/store/store.js';
import { IdleCheckpoint } from '../../src/services/idle-checkpoint.js';
import { expectedRows, lastTransaction, startWriter, writerTransaction, type WriterCounts } from '../helpers/wal-writer.js';
import { extents, mountXfs, unmountXfs, usedBytes, type Xfs } from '../helpers/xfs.js';
import { rejection, sha256File, sleep, sqlite3 } from '../helpers/check.js';
import { tempDir } from '../helpers/unit-store.js';

/** Rows the database starts with (about 17 MB with the writer's rows and index), and filler bytes. */
const START_ROWS = 12_000;
const FILLER_BYTES = 16 * 1024 * 1024;

/** A WAL database at `dir/data.db` opened as the store opens its own, with the writer's table filled. */
function makeStore(dir: string, options: { maxWalBytes?: number } = {}): Store {
  const path = join(dir, 'data.db');
  const store = Store.open(path, options);
  const db = store.db;
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, pad BLOB NOT NULL); CREATE INDEX t_k ON t (k); CREATE TABLE filler (x BLOB)');
  const tx = writerTransaction(db, 't');
  db.transaction(() => {
    for (let n = 1; n <= START_ROWS; n++) tx(n);
    for (let i = 0; i < FILLER_BYTES / (256 * 1024); i++) db.prepare('INSERT INTO filler VALUES (zeroblob(?))').run(256 * 1024);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  return store;
}

/** The rows [id, k, length(pad)] of `t` in the database file `path`, by id. */
function rowsIn(path: string): [number, number, number][] {
  const db = connect(path, { readonly: true });
  try {
    return db.prepare('SELECT id, k, length(pad) FROM t ORDER BY id').raw().all() as [number, number, number][];
  } finally {
    db.close();
  }
}

function integrity(path: string): string {
  const db = connect(path, { readonly: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}

/** openSnapshot, tried until it has one (another process may keep the checkpoint busy now and then). */
async function snapshotOf(path: string): Promise<Snapshot> {
  for (let i = 0; i < 20; i++) {
    const s = await openSnapshot(path);
    if (typeof s !== 'string') return s;
  }
  throw new Error('no snapshot in 20 tries');
}

const maxId = (db: Connection): number => (db.prepare('SELECT max(id) FROM t').pluck().get() as number | null) ?? 0;

describe('backups copied under a snapshot, while another process writes and checkpoints', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;
  let backups: string;
  let path: string;

  beforeEach(() => {
    tmp = tempDir('wr-snap-');
    store = makeStore(tmp.dir);
    path = store.path;
    backups = join(tmp.dir, 'backups');
    mkdirSync(backups, { recursive: true });
  });
  afterEach(() => {
    store?.close();
    tmp?.cleanup();
  });

  it('while a snapshot holds, the file does not change: the other process commits and checkpoints in every mode, and this one checkpoints too', async () => {
    const writer = await startWriter(path, 't');
    const other = connect(path, { timeout: 10 }); // this process's own checkpoints, beside the store's connection
    try {
      const snap = await snapshotOf(path);
      const seen = maxId(snap.db);
      const before = sha256File(path);
      const size = statSync(path).size;
      const walBefore = statSync(`${path}-wal`).size;
      const until = Date.now() + 400;
      let tries = 0;
      while (Date.now() < until) {
        for (const mode of ['PASSIVE', 'FULL', 'RESTART', 'TRUNCATE']) {
          try {
            other.pragma(`wal_checkpoint(${mode})`);
          } catch {
            /* busy: fine */
          }
        }
        store.db.pragma('wal_checkpoint(PASSIVE)');
        tries++;
        await sleep(10);
      }
      expect(tries).to.be.greaterThan(10);
      expect(sha256File(path), 'the file is as it was when the snapshot began').to.equal(before);
      expect(statSync(path).size).to.equal(size);
      expect(statSync(`${path}-wal`).size, 'the other process committed meanwhile (to the WAL)').to.be.greaterThan(walBefore);
      expect(maxId(snap.db), 'the snapshot still reads what it read').to.equal(seen);
      expect(maxId(other), 'the other process committed meanwhile').to.be.greaterThan(seen);
      snap.release();
      // Let go: the other process's next checkpoints write into the file.
      const deadline = Date.now() + 5000;
      while (sha256File(path) === before) {
        if (Date.now() > deadline) expect.fail('the file never changed after the snapshot was let go');
        await sleep(20);
      }
    } finally {
      other.close();
      await writer.stop();
    }
  });

  it('the copy never opens the database file in this process: SQLite keeps its lock, and another process closing its last connection leaves the -wal alone', async () => {
    const made = await writeBackup(store.db, backups, 'manual', { pinWal: () => store.pinWal() });
    expect(made.method).to.be.oneOf(['clone', 'copy']);
    // Closing any descriptor of data.db here would drop the store's POSIX lock on it; the sqlite3
    // shell would then find no other user when it closes, and checkpoint and delete the -wal.
    expect(sqlite3(path, 'PRAGMA wal_checkpoint(TRUNCATE)')).to.equal('0|0|0');
    expect(existsSync(`${path}-wal`), 'the -wal of a database this process has open').to.equal(true);
  });

  it('every one of 20 backups is whole (integrity_check) and holds exactly the rows committed before it began', async () => {
    const writer = await startWriter(path, 't');
    const reader = connect(path, { readonly: true });
    const made: { info: BackupInfo; before: number; seen: number; after: number }[] = [];
    let counts: WriterCounts;
    try {
      for (let i = 0; i < 20; i++) {
        const before = maxId(reader); // committed before writeBackup was called
        let seen = -1;
        const info = await writeBackup(store.db, backups, 'manual', {
          now: Date.now() + i * 1000,
          pinWal: () => store.pinWal(),
          // Inside the snapshot's read transaction, just before the copy: what it holds.
          onSnapshot: (snap) => (seen = maxId(snap)),
        });
        const after = maxId(reader); // committed by the time it was done
        made.push({ info, before, seen, after });
      }
    } finally {
      reader.close();
      counts = await writer.stop();
    }
    const copies = made.filter((m) => m.info.method !== 'backup-api');
    // The writer hardly lets go of the write lock; a backup whose checkpoint stayed busy falls back.
    expect(copies.length, JSON.stringify(made.map((m) => m.info.fallback ?? m.info.method))).to.be.at.least(15);
    for (const { info, before, seen, after } of made) {
      expect(integrity(info.path), info.name).to.equal('ok');
      const rows = rowsIn(info.path);
      const m = rows.length;
      if (info.method !== 'backup-api') expect(m, `${info.name}: the rows of its snapshot`).to.equal(seen);
      expect(m).to.be.within(before, after);
      // Exactly the content after transaction m: ids 1..m, each row's k and padding as the writer left them.
      expect(rows, `${info.name} holds exactly transactions 1..${m}`).to.deep.equal(expectedRows(m));
    }
    // The other process did write and checkpoint throughout: rows committed during the copies (not
    // in them), checkpoints that copied frames into the file between backups, and checkpoints held
    // off (by the snapshots) during them.
    expect(copies.filter((c) => c.after > c.seen).length, 'backups during which the other process committed').to.be.at.least(10);
    expect(counts.commits).to.be.greaterThan(1000);
    expect(counts.copied, JSON.stringify(counts)).to.be.greaterThan(10);
    expect(counts.heldOff, JSON.stringify(counts)).to.be.greaterThan(0);
    process.stderr.write(`      (${copies.length}/20 copied under a snapshot (${[...new Set(copies.map((c) => c.info.method))].join(', ')}); writer: ${JSON.stringify(counts)})\n`);
  });
});

describe('the fallback to the online backup API, where no snapshot can be had', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;
  let backups: string;

  beforeEach(() => {
    tmp = tempDir('wr-snap-');
    store = makeStore(tmp.dir);
    backups = join(tmp.dir, 'backups');
    mkdirSync(backups, { recursive: true });
  });
  afterEach(() => {
    store?.close();
    tmp?.cleanup();
  });

  /** Rows the store commits through its own connection (transactions n+1..n+count). */
  const commit = (count: number): void => {
    const tx = writerTransaction(store.db, 't');
    const n = lastTransaction(store.db, 't');
    store.write(() => {
      for (let i = 1; i <= count; i++) tx(n + i);
    });
  };

  it('a reader of an older snapshot keeps the WAL from being emptied: the checkpoint stays busy, and the backup API makes a whole, current backup', async () => {
    const old = connect(store.path);
    try {
      old.exec('BEGIN');
      maxId(old); // holds the snapshot of START_ROWS rows
      commit(50);
      const t0 = performance.now();
      const made = await writeBackup(store.db, backups, 'manual', { pinWal: () => store.pinWal() });
      expect(made.method).to.equal('backup-api');
      expect(made.fallback).to.match(/checkpoint was busy/);
      expect(performance.now() - t0, 'a few short tries before it falls back').to.be.below(5000);
      expect(integrity(made.path)).to.equal('ok');
      expect(rowsIn(made.path)).to.deep.equal(expectedRows(START_ROWS + 50));
      expect(store.walPinned, 'no pin is left').to.equal(false);
    } finally {
      old.close();
    }
  });

  it('the backup API path still reports progress and is cancelled between its steps, leaving nothing', async () => {
    const old = connect(store.path);
    try {
      old.exec('BEGIN');
      maxId(old);
      commit(10);
      let polls = 0;
      const fractions: number[] = [];
      const err = await rejection(writeBackup(store.db, backups, 'manual', { onProgress: (f) => fractions.push(f), isCancelled: () => ++polls >= 3 }));
      expect(err).to.be.instanceOf(BackupCancelled);
      expect(fractions).to.have.length(2);
      expect(readdirSync(backups)).to.deep.equal([]);
    } finally {
      old.close();
    }
  });

  it('the backup API finishes while another connection commits between every one of its steps (a stepwise copy would restart forever)', async () => {
    const old = connect(store.path);
    const other = connect(store.path);
    try {
      old.exec('BEGIN');
      maxId(old); // with a commit after it, holds the WAL: no snapshot, so the backup API
      commit(1);
      const tx = writerTransaction(other, 't');
      let n = lastTransaction(other, 't');
      let steps = 0;
      const fractions: number[] = [];
      const made = await writeBackup(store.db, backups, 'manual', {
        // Between every step of the copy, another connection commits: SQLite restarts the copy.
        onProgress: (f) => {
          fractions.push(f);
          steps++;
          tx(++n);
        },
        isCancelled: () => steps > 200, // without a way to finish, this fails instead of hanging
      });
      expect(made.method).to.equal('backup-api');
      expect(fractions, 'progress never goes back').to.deep.equal([...fractions].sort((a, b) => a - b));
      expect(integrity(made.path)).to.equal('ok');
      const rows = rowsIn(made.path);
      expect(rows.length).to.be.within(START_ROWS + 1, n);
      expect(rows).to.deep.equal(expectedRows(rows.length));
    } finally {
      old.close();
      other.close();
    }
  });

  it('a write that reaches the WAL between the checkpoint and the snapshot: no snapshot, and the backup API makes the backup (that write in it)', async () => {
    const other = connect(store.path);
    try {
      const tx = writerTransaction(other, 't');
      const made = await writeBackup(store.db, backups, 'manual', { afterCheckpoint: () => tx(START_ROWS + 1) });
      expect(made.method).to.equal('backup-api');
      expect(made.fallback).to.match(/a write reached the WAL between the checkpoint and the snapshot/);
      expect(integrity(made.path)).to.equal('ok');
      expect(rowsIn(made.path)).to.deep.equal(expectedRows(START_ROWS + 1));
    } finally {
      other.close();
    }
  });

  it('openSnapshot answers why, and holds nothing, when the WAL is not empty at the start of its read', async () => {
    const other = connect(store.path);
    try {
      const tx = writerTransaction(other, 't');
      const why = await openSnapshot(store.path, { afterCheckpoint: () => tx(START_ROWS + 1) });
      expect(why).to.be.a('string').and.match(/a write reached the WAL/);
      // Nothing holds the WAL: a checkpoint empties it.
      const [r] = store.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[];
      expect(r).to.include({ busy: 0, log: 0 });
    } finally {
      other.close();
    }
  });

  it('a database in rollback-journal mode is backed up with the backup API', async () => {
    const path = join(tmp.dir, 'journal.db');
    const db = connect(path);
    try {
      db.pragma('journal_mode = DELETE');
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, pad BLOB NOT NULL); CREATE INDEX t_k ON t (k)');
      const tx = writerTransaction(db, 't');
      for (let n = 1; n <= 20; n++) tx(n);
      const made = await writeBackup(db, backups, 'manual');
      expect(made).to.include({ method: 'backup-api', fallback: 'the database is not in WAL mode' });
      expect(rowsIn(made.path)).to.deep.equal(expectedRows(20));
    } finally {
      db.close();
    }
  });
});

describe('the store while its own backup holds the WAL (Store.pinWal)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;

  beforeEach(() => {
    tmp = tempDir('wr-snap-');
    store = makeStore(tmp.dir, { maxWalBytes: 256 * 1024 });
  });
  afterEach(() => {
    store?.close();
    tmp?.cleanup();
  });

  const commit = (count: number): void => {
    const tx = writerTransaction(store.db, 't');
    const n = lastTransaction(store.db, 't');
    for (let i = 1; i <= count; i++) store.write(() => tx(n + i));
  };

  it('writes past the WAL limit are not refused while the snapshot holds; the first write after it resets the WAL; the automatic checkpoint is off meanwhile', async () => {
    const snap = await snapshotOf(store.path);
    const unpin = store.pinWal();
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).to.equal(0);
    commit(1500); // about 2.5 MB, ten times the limit
    expect(store.walBytes()).to.be.greaterThan(2 * 1024 * 1024);
    snap.release();
    unpin();
    expect(store.walPinned).to.equal(false);
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).to.equal(WAL_AUTOCHECKPOINT_PAGES);
    commit(1);
    expect(store.walBytes(), 'reset by the write after the snapshot let go').to.be.at.most(256 * 1024);
  });

  it('the idle checkpoint waits while the snapshot holds, and runs after it', async () => {
    const clock = FakeTimers.createClock(0);
    const jobs: (() => void)[] = [];
    const idle = new IdleCheckpoint({ store, delayMs: 1000, timers: { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h as never) } });
    idle.setRunner((job) => jobs.push(job));
    try {
      const unpin = store.pinWal();
      commit(1);
      for (let i = 0; i < 3; i++) {
        clock.tick(1000);
        for (const job of jobs.splice(0)) job();
      }
      expect(idle.count).to.equal(0);
      unpin();
      clock.tick(1000);
      for (const job of jobs.splice(0)) job();
      expect(idle.count).to.equal(1);
    } finally {
      idle.close();
    }
  });
});

describe('a backup on a file system that clones (XFS with reflink, on a loop device)', function () {
  this.timeout(120_000);
  let xfs: Xfs | undefined;
  let store: Store | undefined;

  before(function () {
    const made = mountXfs();
    if (typeof made === 'string') {
      process.stderr.write(`      (skipped: ${made})\n`);
      this.skip();
    }
    xfs = made;
  });
  after(() => {
    store?.close();
    unmountXfs(xfs);
  });

  it('is a clone: its extents are shared with the database file, and the file system hardly fills', async () => {
    store = makeStore(xfs!.dir);
    const backups = join(xfs!.dir, 'backups');
    mkdirSync(backups, { recursive: true });
    const size = statSync(store.path).size;
    const used = usedBytes(xfs!.dir);
    const made = await writeBackup(store.db, backups, 'manual', { pinWal: () => store!.pinWal() });
    const grew = usedBytes(xfs!.dir) - used;
    expect(made.method).to.equal('clone');
    expect(integrity(made.path)).to.equal('ok');
    expect(rowsIn(made.path)).to.deep.equal(expectedRows(START_ROWS));
    const e = extents(made.path);
    expect(e.shared, e.text).to.be.greaterThan(0);
    expect(grew, `the file system grew by ${grew} bytes for a ${size}-byte copy`).to.be.below(size / 10);
    process.stderr.write(`      (a ${(size / 1e6).toFixed(1)} MB backup cloned: ${e.shared} of ${e.total} extents shared, the file system grew by ${(grew / 1024).toFixed(0)} KiB)\n`);
    // clone: false asks for a plain copy; on XFS the kernel's copy (copy_file_range) shares the
    // blocks all the same, so that copy is not checked for extents here.
    const copied = await writeBackup(store.db, backups, 'manual', { now: Date.now() + 1000, clone: false });
    expect(copied.method).to.equal('copy');
    expect(integrity(copied.path)).to.equal('ok');
    expect(existsSync(made.path)).to.equal(true);
  });
});
