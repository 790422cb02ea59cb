/**
 * Backups: the service (src/services/backups.ts: create, list, verify, delete, prune, automatic,
 * restore, cleanUp) and the file functions under it (src/store/backup.ts: writeBackup,
 * inspectDatabase, readFacts, recordCounts), over a real migrated SQLite database in a temp data
 * directory. Backup files are checked from the outside too: their header bytes, their sha256, and a
 * stock `sqlite3` binary.
 */
import { expect } from 'chai';
import { copyFileSync, existsSync, linkSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Backups, AUTOMATIC_KEEP, type Progress } from '../../src/services/backups.js';
import {
  BackupCancelled,
  inspectDatabase,
  openUntrusted,
  readFacts,
  recordCounts,
  COUNTED_TABLES,
  writeBackup,
} from '../../src/store/backup.js';
import { MIGRATIONS } from '../../src/generated/migrations.js';
import type { BackupInfo } from '../../src/generated/types.js';
import { connect } from '../../src/store/sqlite.js';
import { Store } from '../../src/store/store.js';
import { Repository } from '../../src/store/repository.js';
import { songs } from '../../src/store/entities.js';
import { dataPaths, ensureDataDirs, type DataPaths } from '../../src/paths.js';
import { RpcError } from '../../src/errors.js';
import { openTempStore, tempDir, type TempStore } from '../helpers/unit-store.js';
import { makeSong } from '../helpers/fixtures.js';
import { garbage, ls, rejection, sha256File, sqlite3, thrown } from '../helpers/check.js';

type Song = Record<string, any>;

const T0 = 1_700_000_000_000;
/** The Backups clock's start: 2024-03-15 10:20:30.000 local time (far from any DST change). */
const NOW0 = new Date(2024, 2, 15, 10, 20, 30, 0).getTime();
const HOUR = 3_600_000;
const DAY = 86_400_000;
const LATEST = Store.latestSchemaVersion;
const BACKUP_NAME = /^data_\d{4}-\d{2}-\d{2}_\d{6}(-\d+)?\.db$/;

interface Ctx {
  ts: TempStore;
  paths: DataPaths;
  repo: Repository<Song>;
  backups: Backups;
  /** The Backups clock (its `now` option). */
  clock: { t: number };
  reopened: number;
}

/** A fresh store, data paths, songs repository and Backups for every test, removed after it. */
function withBackups(): Ctx {
  const ctx = {} as Ctx;
  beforeEach(async () => {
    ctx.ts = await openTempStore(T0);
    ctx.paths = dataPaths(ctx.ts.dir);
    ensureDataDirs(ctx.paths);
    ctx.clock = { t: NOW0 };
    ctx.reopened = 0;
    ctx.repo = new Repository<Song>(ctx.ts.store, songs);
    ctx.backups = new Backups({
      store: ctx.ts.store,
      paths: ctx.paths,
      now: () => ctx.clock.t,
      onReopened: () => ctx.reopened++,
    });
  });
  afterEach(() => ctx.ts?.cleanup());
  return ctx;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');
/** The backup stem for time `t` in local time, written out independently of the code under test. */
function stemAt(t: number): string {
  const d = new Date(t);
  return (
    `data_${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}_` +
    `${pad2(d.getHours())}${pad2(d.getMinutes())}${pad2(d.getSeconds())}`
  );
}

const songCount = (ts: TempStore): number => ts.store.db.prepare('SELECT count(*) FROM songs').pluck().get() as number;


/** A copy of `source` at `dest`, changed by `sql` run on a plain writable connection. */
function alteredCopy(source: string, dest: string, sql: string): string {
  copyFileSync(source, dest);
  const db = connect(dest);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
  return dest;
}

/** A database file at schema version 1 (only the first migration) holding one song row. */
function buildV1(path: string, songId: string): void {
  const db = connect(path);
  try {
    db.transaction(() => {
      db.exec(MIGRATIONS[0]!.sql);
      db.pragma('user_version = 1');
      db.prepare(
        `INSERT INTO songs (id, name, created_at, updated_at, determinism_seed, sections_json, roles_json,
           projections_json, mix_graph_json) VALUES (?, 'Old Song', 1, 1, 'seed', '[]', '[]', '[]', '{}')`,
      ).run(songId);
    })();
  } finally {
    db.close();
  }
}

/** Records what a Progress is told. */
function progressRecorder(): Progress & { begins: string[]; reports: number[]; ends: number } {
  const rec = {
    begins: [] as string[],
    reports: [] as number[],
    ends: 0,
    begin(message: string) {
      rec.begins.push(message);
    },
    report(fraction: number) {
      rec.reports.push(fraction);
    },
    end() {
      rec.ends++;
    },
  };
  return rec;
}

/** Songs with about `kib` KiB of opaque data each (not full-text indexed). */
function bigSongs(repo: Repository<Song>, n: number, kib: number): void {
  for (let i = 0; i < n; i++) {
    repo.save(makeSong({ sections: [{ id: 'intro', bars: 8, padding: `${i}`.padEnd(kib * 1024, 'x') }] }));
  }
}

// ---------------------------------------------------------------------------------------------

describe('Backups.create and writeBackup', () => {
  const c = withBackups();

  it('writes data_YYYY-MM-DD_HHMMSS.db (local time) that info() reads back with kind, label, createdAt, schema and size', async () => {
    c.repo.save(makeSong());
    const made = await c.backups.create('manual', 'before the gig');
    expect(made.name).to.equal('data_2024-03-15_102030.db');
    expect(made.name).to.equal(`${stemAt(NOW0)}.db`);
    expect(made.path).to.equal(join(c.paths.backupsDir, made.name));
    expect(made).to.include({ kind: 'manual', label: 'before the gig', createdAt: NOW0, schemaVersion: LATEST });
    expect(made.sizeBytes).to.equal(statSync(made.path).size).and.to.be.greaterThan(0);
    expect(c.backups.info(made.path)).to.deep.equal(made);
    expect(ls(c.paths.backupsDir)).to.deep.equal([made.name]);
  });

  it('a second backup in the same second is named -2, a third -3; none overwrites another', async () => {
    c.repo.save(makeSong());
    const first = await c.backups.create('manual', undefined);
    const hash = sha256File(first.path);
    c.clock.t = NOW0 + 400;
    const second = await c.backups.create('automatic', undefined);
    c.clock.t = NOW0 + 999;
    const third = await c.backups.create('manual', undefined);
    for (const b of [first, second, third]) expect(b.name).to.match(BACKUP_NAME);
    expect([first.name, second.name, third.name]).to.deep.equal([
      'data_2024-03-15_102030.db',
      'data_2024-03-15_102030-2.db',
      'data_2024-03-15_102030-3.db',
    ]);
    expect(second).to.include({ kind: 'automatic', createdAt: NOW0 + 400 });
    expect(sha256File(first.path)).to.equal(hash);
    expect(c.backups.info(first.path).kind).to.equal('manual');
    c.clock.t = NOW0 + 1000;
    expect((await c.backups.create('manual', undefined)).name).to.equal('data_2024-03-15_102031.db');
  });

  it('without a label the backup has none', async () => {
    c.repo.save(makeSong());
    const made = await c.backups.create('manual', undefined);
    expect(made).to.not.have.property('label');
    expect(c.backups.info(made.path)).to.not.have.property('label');
  });

  it('the copy is a standalone rollback-journal file that a stock sqlite3 checks ok and reads the rows of', async () => {
    const a = c.repo.save(makeSong({ name: 'Alpha' }));
    const b = c.repo.save(makeSong({ name: 'Beta' }));
    const made = await c.backups.create('manual', undefined);
    // Header bytes 18/19 (write/read format version): 1 = rollback journal, 2 = WAL.
    const header = readFileSync(made.path).subarray(0, 20);
    expect(header.subarray(0, 16).toString('latin1')).to.equal('SQLite format 3\u0000');
    expect([header[18], header[19]]).to.deep.equal([1, 1]);
    const ro = openUntrusted(made.path);
    try {
      expect(ro.pragma('journal_mode', { simple: true })).to.equal('delete');
      expect(ro.pragma('page_count', { simple: true }) as number * (ro.pragma('page_size', { simple: true }) as number)).to.equal(made.sizeBytes);
    } finally {
      ro.close();
    }
    for (const suffix of ['-wal', '-shm', '-journal']) expect(existsSync(made.path + suffix), suffix).to.equal(false);
    expect(sqlite3(made.path, 'PRAGMA integrity_check')).to.equal('ok');
    expect(sqlite3(made.path, 'SELECT id FROM songs ORDER BY name')).to.equal(`${a.id}\n${b.id}`);
    expect(sqlite3(made.path, 'PRAGMA user_version')).to.equal(String(LATEST));
    expect(sqlite3(made.path, "SELECT value FROM metadata WHERE key = 'backup_kind'")).to.equal('manual');
  });

  it('the live database is not labelled: the kind and time go into the copy only', async () => {
    c.repo.save(makeSong());
    const made = await c.backups.create('manual', 'x');
    expect(readFacts(c.ts.store.db)).to.deep.equal({ kind: 'unknown', schemaVersion: LATEST });
    const ro = openUntrusted(made.path);
    try {
      expect(readFacts(ro)).to.deep.equal({ kind: 'manual', createdAt: NOW0, label: 'x', schemaVersion: LATEST });
    } finally {
      ro.close();
    }
  });

  it('writeBackup: names the file from `now`, answers what it wrote, and removes a crashed attempt\'s .partial files', async () => {
    c.repo.save(makeSong());
    const dir = c.paths.backupsDir;
    const stale = join(dir, 'data_2020-01-01_000000-4242.partial');
    writeFileSync(stale, 'half a backup');
    writeFileSync(`${stale}-journal`, 'x'); // its journal goes too
    writeFileSync(join(dir, 'notes.partial.txt'), 'x'); // not a partial backup: left alone
    const at = new Date(2023, 10, 2, 7, 8, 9, 123).getTime();
    const made = await writeBackup(c.ts.store.db, dir, 'pre-import', { now: at, label: 'import of x' });
    const { method, ...rest } = made;
    expect(rest).to.deep.equal({ path: join(dir, 'data_2023-11-02_070809.db'), name: 'data_2023-11-02_070809.db', kind: 'pre-import', createdAt: at });
    expect(method).to.be.oneOf(['clone', 'copy']); // a copy of the file under a snapshot
    expect(existsSync(stale)).to.equal(false);
    expect(ls(dir)).to.deep.equal([made.name, 'notes.partial.txt']);
    const ro = openUntrusted(made.path);
    try {
      expect(readFacts(ro)).to.deep.equal({ kind: 'pre-import', createdAt: at, label: 'import of x', schemaVersion: LATEST });
    } finally {
      ro.close();
    }
  });

  it('writeBackup: a small database completes with progress fractions within 0..1', async () => {
    c.repo.save(makeSong());
    const fractions: number[] = [];
    const made = await writeBackup(c.ts.store.db, c.paths.backupsDir, 'manual', { now: NOW0, onProgress: (f) => fractions.push(f) });
    expect(existsSync(made.path)).to.equal(true);
    for (const f of fractions) expect(f).to.be.within(0, 1);
  });
});

describe('Backups.create and writeBackup on a database of 16 MB: progress and cancellation', () => {
  let ts: TempStore;
  let paths: DataPaths;
  let backups: Backups;
  let count: number;

  before(async () => {
    ts = await openTempStore(T0);
    paths = dataPaths(ts.dir);
    ensureDataDirs(paths);
    bigSongs(new Repository<Song>(ts.store, songs), 64, 256);
    ts.store.checkpoint();
    count = songCount(ts);
    backups = new Backups({ store: ts.store, paths, now: () => NOW0 });
  });
  after(() => ts?.cleanup());
  afterEach(() => {
    for (const f of readdirSync(paths.backupsDir)) rmSync(join(paths.backupsDir, f), { force: true });
  });

  it('the database is big enough to take several steps of the backup API (its fallback)', () => {
    expect(statSync(paths.dbPath).size).to.be.greaterThan(12 * 1024 * 1024); // 1024-page steps: at least three
  });

  // The file is copied by the kernel in one call (src/store/backup.ts, copyDatabaseFile): the size
  // reached is reported every 10 ms while it runs, and 1 when it returns; a cancellation takes
  // effect when it returns. The backup API's steps are tested in backup-snapshot.test.ts.
  it('onProgress is told increasing fractions within 0..1, the last one 1, and the backup holds every row', async () => {
    const fractions: number[] = [];
    const made = await writeBackup(ts.store.db, paths.backupsDir, 'manual', { now: NOW0, onProgress: (f) => fractions.push(f) });
    expect(made.method).to.be.oneOf(['clone', 'copy']);
    expect(fractions.length).to.be.at.least(1);
    for (let i = 0; i < fractions.length; i++) {
      expect(fractions[i]).to.be.within(0, 1);
      if (i > 0) expect(fractions[i]).to.be.at.least(fractions[i - 1]!);
    }
    expect(fractions[fractions.length - 1]).to.equal(1);
    expect(sqlite3(made.path, 'SELECT count(*) FROM songs')).to.equal(String(count));
    expect(sqlite3(made.path, 'PRAGMA integrity_check')).to.equal('ok');
  });

  it('Backups.create reports begin, the fractions and end to op.progress', async () => {
    const rec = progressRecorder();
    const made = await backups.create('manual', undefined, { progress: rec });
    expect(rec.begins).to.have.length(1);
    expect(rec.ends).to.equal(1);
    expect(rec.reports.length).to.be.at.least(1);
    for (const f of rec.reports) expect(f).to.be.within(0, 1);
    expect(made.kind).to.equal('manual');
  });

  for (const [when, at] of [
    ['during the copy (from its first poll)', 1],
    ['after the copy (at a later phase)', 3],
  ] as const) {
    it(`isCancelled turning true ${when} throws BackupCancelled and leaves no file at all (no .partial, no -journal)`, async () => {
      let polls = 0;
      const err = await rejection(
        writeBackup(ts.store.db, paths.backupsDir, 'manual', {
          now: NOW0,
          isCancelled: () => ++polls >= at,
        }),
      );
      expect(err).to.be.instanceOf(BackupCancelled);
      expect(polls).to.equal(at); // not polled again once it said yes
      expect(readdirSync(paths.backupsDir)).to.deep.equal([]);
      expect(readdirSync(paths.dataDir).filter((f) => f.includes('partial'))).to.deep.equal([]);
      // The live database is untouched and a later backup works.
      expect(songCount(ts)).to.equal(count);
      const made = await writeBackup(ts.store.db, paths.backupsDir, 'manual', { now: NOW0 });
      expect(made.name).to.equal('data_2024-03-15_102030.db');
    });
  }

  it('Backups.create maps a cancellation to RpcError -32800, still ends the progress, and leaves backups/ empty', async () => {
    let polls = 0;
    const rec = progressRecorder();
    const err = await rejection(backups.create('manual', 'never', { progress: rec, cancelled: () => ++polls >= 2 }));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32800);
    expect(rec.ends).to.equal(1);
    expect(readdirSync(paths.backupsDir)).to.deep.equal([]);
    expect(backups.list().items).to.deep.equal([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('Backups.list', () => {
  const c = withBackups();

  /** Backups at the given offsets from NOW0 (ms), of the given kinds. */
  async function makeAt(specs: [number, 'manual' | 'automatic' | 'pre-restore'][]): Promise<BackupInfo[]> {
    const out: BackupInfo[] = [];
    for (const [offset, kind] of specs) {
      c.clock.t = NOW0 + offset;
      out.push(await c.backups.create(kind, undefined));
    }
    return out;
  }

  beforeEach(() => {
    c.repo.save(makeSong());
  });

  it('answers every backup newest first', async () => {
    const made = await makeAt([
      [0, 'manual'],
      [3 * DAY, 'automatic'],
      [1 * DAY, 'manual'],
      [2 * HOUR, 'pre-restore'],
    ]);
    const page = c.backups.list();
    expect(page.items.map((b) => b.name)).to.deep.equal([made[1]!.name, made[2]!.name, made[3]!.name, made[0]!.name]);
    expect(page).to.not.have.property('nextCursor');
    expect(page.items[0]).to.deep.equal(made[1]);
  });

  it('filters by kind', async () => {
    await makeAt([
      [0, 'manual'],
      [1000, 'automatic'],
      [2000, 'manual'],
      [3000, 'automatic'],
      [4000, 'pre-restore'],
    ]);
    expect(c.backups.list({ kind: 'automatic' }).items.map((b) => b.createdAt)).to.deep.equal([NOW0 + 3000, NOW0 + 1000]);
    expect(c.backups.list({ kind: 'manual' }).items.map((b) => b.createdAt)).to.deep.equal([NOW0 + 2000, NOW0]);
    expect(c.backups.list({ kind: 'pre-restore' }).items).to.have.length(1);
    expect(c.backups.list({ kind: 'pre-import' }).items).to.deep.equal([]);
    expect(c.backups.list({ kind: 'unknown' }).items).to.deep.equal([]);
  });

  it('limit and cursor page through every backup exactly once, in order, ties on createdAt included', async () => {
    // Three backups share one createdAt and two another: the pages split those groups.
    await makeAt([
      [0, 'manual'],
      [1000, 'manual'],
      [1000, 'automatic'],
      [2000, 'manual'],
      [2000, 'manual'],
      [2000, 'automatic'],
      [5000, 'manual'],
    ]);
    const all = c.backups.list().items.map((b) => b.name);
    expect(all).to.have.length(7);
    for (const limit of [1, 2, 3, 6, 7]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = c.backups.list({ limit, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).to.be.at.most(limit);
        seen.push(...page.items.map((b) => b.name));
        cursor = page.nextCursor;
        pages++;
        expect(pages).to.be.at.most(8);
      } while (cursor);
      expect(seen, `limit ${limit}`).to.deep.equal(all);
      expect(pages).to.equal(Math.ceil(7 / limit));
    }
    const first = c.backups.list({ limit: 2, kind: 'manual' });
    const rest = c.backups.list({ limit: 10, kind: 'manual', cursor: first.nextCursor! });
    expect([...first.items, ...rest.items].every((b) => b.kind === 'manual')).to.equal(true);
    expect(first.items.length + rest.items.length).to.equal(5);
  });

  it('a damaged cursor is InvalidParams', async () => {
    await makeAt([[0, 'manual']]);
    const err = thrown(() => c.backups.list({ cursor: 'not-a-cursor' }));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32602);
  });

  it('lists a file named like a backup that is not a database as damaged, and ignores files not named data_*.db', async () => {
    const [good] = await makeAt([[0, 'manual']]);
    writeFileSync(join(c.paths.backupsDir, 'data_2024-01-01_000000.db'), garbage(8192));
    copyFileSync(good!.path, join(c.paths.backupsDir, 'copy-of-backup.db'));
    copyFileSync(good!.path, join(c.paths.backupsDir, 'data_2024-01-01_000000.db.bak'));
    copyFileSync(good!.path, join(c.paths.backupsDir, 'data_latest.db'));
    copyFileSync(good!.path, join(c.paths.backupsDir, 'data_2024-01-01_000000.sqlite'));
    expect(c.backups.list().items.map((b) => [b.name, b.damaged ?? false])).to.have.deep.members([
      [good!.name, false],
      ['data_2024-01-01_000000.db', true],
    ]);
    rmSync(join(c.paths.backupsDir, 'data_2024-01-01_000000.db'));
    // A good backup copied in by hand under a backup name is listed.
    copyFileSync(good!.path, join(c.paths.backupsDir, 'data_2024-01-02_000000.db'));
    expect(c.backups.list().items.map((b) => b.name)).to.have.members([good!.name, 'data_2024-01-02_000000.db']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('Backups.verify and inspectDatabase', () => {
  const c = withBackups();
  let good: BackupInfo;

  beforeEach(async () => {
    c.repo.save(makeSong());
    c.repo.save(makeSong());
    good = await c.backups.create('manual', 'good');
  });

  /** Verifies `path` and checks that the file's bytes did not change. */
  function verifyUnchanged(path: string) {
    const full = path.startsWith('/') ? path : join(c.paths.backupsDir, path);
    const before = sha256File(full);
    const size = statSync(full).size;
    const v = c.backups.verify(path);
    expect(sha256File(full), 'verify changed the file').to.equal(before);
    expect(statSync(full).size).to.equal(size);
    for (const suffix of ['-wal', '-shm', '-journal']) expect(existsSync(full + suffix), suffix).to.equal(false);
    expect(v.path).to.equal(full);
    expect(v.sizeBytes).to.equal(size);
    return v;
  }

  function expectRefused(path: string, reason: RegExp) {
    const v = verifyUnchanged(path);
    expect(v.ok).to.equal(false);
    expect(v.reason).to.be.a('string').and.match(reason);
    expect(v).to.not.have.property('counts');
    return v;
  }

  const elsewhere = (name: string): string => join(c.paths.dataDir, name);

  it('a good backup is ok, with counts per family, integrity, kind, createdAt and schema version', () => {
    const v = verifyUnchanged(good.path);
    expect(v.ok).to.equal(true);
    expect(v).to.not.have.property('reason');
    expect(v).to.include({ schemaVersion: LATEST, kind: 'manual', createdAt: NOW0 });
    expect(v.integrity).to.deep.equal(['ok']);
    expect(v.counts).to.include({ songs: 2, performances: 0, instruments: 0, recent: 0, preferences: 1 });
    expect(Object.keys(v.counts!).sort()).to.deep.equal(Object.keys(COUNTED_TABLES).sort());
  });

  it('a relative name resolves inside backups/', () => {
    const v = verifyUnchanged(good.name);
    expect(v.path).to.equal(good.path);
    expect(v.ok).to.equal(true);
  });

  it('a missing file is FileRefused (-32022, not-found), a folder is FileRefused (not-a-file)', () => {
    for (const path of ['data_1999-01-01_000000.db', join(c.paths.dataDir, 'nope.db')]) {
      const err = thrown(() => c.backups.verify(path));
      expect(err).to.be.instanceOf(RpcError);
      expect(err.code).to.equal(-32022);
      expect(err.data).to.deep.include({ path, reason: 'not-found' });
    }
    // A directory is not a file either.
    expect(thrown(() => c.backups.verify(c.paths.logsDir)).data).to.deep.include({ reason: 'not-a-file' });
  });

  it('garbage (random bytes) is not ok', () => {
    const path = elsewhere('garbage.db');
    writeFileSync(path, garbage(16384));
    expectRefused(path, /not a SQLite database|cannot be opened|not a database/i);
  });

  it('a truncated copy (the first half of the bytes) is not ok', () => {
    const path = elsewhere('truncated.db');
    const bytes = readFileSync(good.path);
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expectRefused(path, /./);
  });

  it('an empty (0-byte) file is not ok', () => {
    const path = elsewhere('empty.db');
    writeFileSync(path, '');
    expectRefused(path, /schema version|not a White Room database/);
  });

  it('a database from a newer schema (user_version 99) is not ok, and says so', () => {
    const path = alteredCopy(good.path, elsewhere('newer.db'), 'PRAGMA user_version = 99');
    const v = expectRefused(path, /newer/);
    expect(v.schemaVersion).to.equal(99);
    expect(v.reason).to.include('99');
  });

  it('a backup with one damaged page (page 2 overwritten) is ok:false, not a thrown SqliteError', () => {
    const bytes = Buffer.from(readFileSync(good.path));
    bytes.fill(0xa5, 4096, 8192);
    const path = elsewhere('damaged.db');
    writeFileSync(path, bytes);
    expectRefused(path, /integrity_check|malformed|unreadable/);
  });

  it('a database with a hostile trigger is not ok, and the trigger is named', () => {
    const path = alteredCopy(good.path, elsewhere('evil.db'), 'CREATE TRIGGER evil AFTER INSERT ON songs BEGIN DELETE FROM songs; END;');
    expectRefused(path, /unexpected schema object: .*trigger "evil"/);
  });

  it('a database with an extra table, view or index is not ok', () => {
    expectRefused(alteredCopy(good.path, elsewhere('extra.db'), 'CREATE TABLE extra (x)'), /unexpected schema object: .*table "extra"/);
    expectRefused(alteredCopy(good.path, elsewhere('view.db'), 'CREATE VIEW v AS SELECT 1'), /view "v"/);
    expectRefused(alteredCopy(good.path, elsewhere('index.db'), 'CREATE INDEX idx_x ON songs(genre)'), /index "idx_x"/);
  });

  it('a database missing a table (recently_used dropped) is not ok', () => {
    const path = alteredCopy(good.path, elsewhere('missing.db'), 'DROP TABLE recently_used');
    expectRefused(path, /missing schema object: .*recently_used/);
  });

  it('a plain SQLite database that is not ours (user_version 0) is not ok', () => {
    const path = elsewhere('plain.db');
    const db = connect(path);
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)");
    db.close();
    const v = expectRefused(path, /not a White Room database/);
    expect(v.schemaVersion).to.equal(0);
    expect(v.integrity).to.deep.equal(['ok']);
  });

  it('a database with a foreign key violation is not ok', () => {
    const path = alteredCopy(
      good.path,
      elsewhere('orphan.db'),
      `PRAGMA foreign_keys = OFF;
       INSERT INTO performances (id, song_id, name, created_at, updated_at, arrangement_style, instrumentation_map_json, mix_targets_json)
       VALUES ('p1', 'no-such-song', 'orphan', 1, 1, 'SOLO_PIANO', '{}', '{}');`,
    );
    expectRefused(path, /foreign key violation/);
  });

  it('a good backup placed anywhere is ok, and kind is unknown without the sidecar\'s label', () => {
    const path = alteredCopy(good.path, elsewhere('copied.db'), "DELETE FROM metadata WHERE key LIKE 'backup_%'");
    const v = verifyUnchanged(path);
    expect(v.ok).to.equal(true);
    expect(v.kind).to.equal('unknown');
    expect(v).to.not.have.property('createdAt');
    expect(v.counts!.songs).to.equal(2);
  });

  it('inspectDatabase judges the schema version against the migrations it is given', () => {
    const all = inspectDatabase(good.path, MIGRATIONS);
    expect(all.ok).to.equal(true);
    expect(all.counts).to.deep.equal(c.backups.verify(good.path).counts);
    if (LATEST > 1) {
      const older = inspectDatabase(good.path, MIGRATIONS.filter((m) => m.version === 1));
      expect(older.ok).to.equal(false);
      expect(older.reason).to.match(/newer/);
    }
    const none = inspectDatabase(join(c.paths.dataDir, 'no-such-file.db'), MIGRATIONS);
    expect(none.ok).to.equal(false);
    expect(none.reason).to.match(/cannot be opened/);
  });
});

describe('readFacts and recordCounts', () => {
  const c = withBackups();

  it('recordCounts counts the rows of every data table of an open database by family name, FTS internals and metadata excluded', () => {
    for (let i = 0; i < 3; i++) c.repo.save(makeSong());
    const counts = recordCounts(c.ts.store.db);
    expect(counts).to.include({ songs: 3, performances: 0, instruments: 0, voices: 0, presets: 0, autosaves: 0, recent: 0, staged: 0, preferences: 1 });
    const tables = c.ts.store.db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[];
    expect(tables.some((t) => t.startsWith('songs_fts'))).to.equal(true);
    // Every data table but metadata is counted, under its family's name.
    expect(Object.values(COUNTED_TABLES).sort()).to.deep.equal(tables.filter((t) => !/^sqlite_|_fts(_|$)/.test(t) && t !== 'metadata').sort());
    expect(Object.keys(counts).sort()).to.deep.equal(Object.keys(COUNTED_TABLES).sort());
    for (const [family, n] of Object.entries(counts)) {
      expect(c.ts.store.db.prepare(`SELECT count(*) FROM "${COUNTED_TABLES[family]!}"`).pluck().get(), family).to.equal(n);
    }
  });

  it('readFacts reads only well-formed labels: an unknown kind or a bad time is left out', () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'facts.db');
      const db = connect(path);
      db.exec("CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT); PRAGMA user_version = 2;");
      const set = db.prepare('INSERT OR REPLACE INTO metadata VALUES (?, ?)');
      set.run('backup_kind', 'bogus');
      set.run('backup_created_at', 'yesterday');
      expect(readFacts(db)).to.deep.equal({ kind: 'unknown', schemaVersion: 2 });
      set.run('backup_created_at', '-5');
      expect(readFacts(db)).to.deep.equal({ kind: 'unknown', schemaVersion: 2 });
      set.run('backup_kind', 'automatic');
      set.run('backup_created_at', '1700000000123');
      set.run('backup_label', '');
      expect(readFacts(db)).to.deep.equal({ kind: 'automatic', createdAt: 1_700_000_000_123, label: '', schemaVersion: 2 });
      db.exec('DROP TABLE metadata; PRAGMA user_version = 0');
      expect(readFacts(db)).to.deep.equal({ kind: 'unknown', schemaVersion: 0 });
      db.close();
    } finally {
      cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('Backups.delete', () => {
  const c = withBackups();
  let good: BackupInfo;

  beforeEach(async () => {
    c.repo.save(makeSong());
    good = await c.backups.create('manual', undefined);
  });

  it('removes a backup, by file name or absolute path, and answers its path and size', async () => {
    const size = good.sizeBytes;
    expect(c.backups.delete(good.name)).to.deep.equal({ path: good.path, sizeBytes: size });
    expect(existsSync(good.path)).to.equal(false);
    c.clock.t += 1000;
    const other = await c.backups.create('manual', undefined);
    expect(c.backups.delete(other.path)).to.deep.equal({ path: other.path, sizeBytes: other.sizeBytes });
    expect(readdirSync(c.paths.backupsDir)).to.deep.equal([]);
  });

  it('refuses (-32022, outside) a file outside backups/, even one named like a backup, and leaves it in place', () => {
    const outside = join(c.paths.dataDir, good.name);
    copyFileSync(good.path, outside);
    for (const path of [outside, `../${good.name}`, '../data.db', c.paths.dbPath]) {
      const err = thrown(() => c.backups.delete(path));
      expect(err, path).to.be.instanceOf(RpcError);
      expect(err.code, path).to.equal(-32022);
      expect(err.data.reason, path).to.equal('outside');
    }
    expect(existsSync(outside)).to.equal(true);
    expect(existsSync(c.paths.dbPath)).to.equal(true);
    expect(existsSync(good.path)).to.equal(true);
    expect(songCount(c.ts)).to.equal(1);
  });

  it('refuses (-32022, protected) a file in backups/ not named like a backup, and leaves it in place', () => {
    for (const name of ['notes.txt', 'data_latest.db', `${good.name}.bak`]) {
      const path = join(c.paths.backupsDir, name);
      copyFileSync(good.path, path);
      const err = thrown(() => c.backups.delete(name));
      expect(err.code, name).to.equal(-32022);
      expect(err.data.reason, name).to.equal('protected');
      expect(existsSync(path), name).to.equal(true);
    }
  });

  it('a missing backup is -32022 (not-found)', () => {
    const err = thrown(() => c.backups.delete('data_1999-01-01_000000.db'));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32022);
    expect(err.data.reason).to.equal('not-found');
    expect(existsSync(good.path)).to.equal(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('Backups.prune', () => {
  const c = withBackups();

  /** One backup a day for `days` days starting at NOW0, of the given kinds in turn. */
  async function daily(kinds: ('manual' | 'automatic')[]): Promise<BackupInfo[]> {
    const out: BackupInfo[] = [];
    for (let i = 0; i < kinds.length; i++) {
      c.clock.t = NOW0 + i * DAY;
      out.push(await c.backups.create(kinds[i]!, undefined));
    }
    return out;
  }

  beforeEach(() => {
    c.repo.save(makeSong());
  });

  it('keeps the newest N and answers the deleted names, how many are kept and the bytes freed', async () => {
    const made = await daily(['manual', 'manual', 'manual', 'manual', 'manual']);
    const out = c.backups.prune({ keep: 2 });
    expect(out.deleted).to.deep.equal([made[2]!.name, made[1]!.name, made[0]!.name]);
    expect(out.kept).to.equal(2);
    expect(out.freedBytes).to.equal(made[0]!.sizeBytes + made[1]!.sizeBytes + made[2]!.sizeBytes);
    expect(ls(c.paths.backupsDir)).to.deep.equal([made[3]!.name, made[4]!.name].sort());
    expect(c.backups.prune({ keep: 2 })).to.deep.equal({ deleted: [], kept: 2, freedBytes: 0, damaged: [] });
    expect(c.backups.prune({ keep: 0 }).deleted).to.have.length(2);
    expect(readdirSync(c.paths.backupsDir)).to.deep.equal([]);
  });

  it('with a kind, counts and deletes only backups of that kind', async () => {
    const made = await daily(['automatic', 'manual', 'automatic', 'manual', 'automatic']);
    const out = c.backups.prune({ keep: 1, kind: 'automatic' });
    expect(out.deleted).to.deep.equal([made[2]!.name, made[0]!.name]);
    expect(out.kept).to.equal(1);
    expect(c.backups.list().items.map((b) => b.name)).to.deep.equal([made[4]!.name, made[3]!.name, made[1]!.name]);
  });

  it('with olderThanDays, deletes only those older than that (on the Backups clock), past the newest `keep`', async () => {
    const made = await daily(['manual', 'manual', 'manual', 'manual', 'manual']);
    c.clock.t = NOW0 + 4 * DAY + HOUR; // day 4: backups 0..4 are 4.04, 3.04, 2.04, 1.04, 0.04 days old
    const out = c.backups.prune({ keep: 0, olderThanDays: 2.5 });
    expect(out.deleted).to.deep.equal([made[1]!.name, made[0]!.name]);
    expect(out.kept).to.equal(3);
    // keep wins over age: the newest 3 stay even when all are old enough.
    c.clock.t = NOW0 + 100 * DAY;
    expect(c.backups.prune({ keep: 3, olderThanDays: 30 })).to.deep.equal({ deleted: [], kept: 3, freedBytes: 0, damaged: [] });
    const last = c.backups.prune({ keep: 1, olderThanDays: 30 });
    expect(last.deleted).to.deep.equal([made[3]!.name, made[2]!.name]);
    expect(last.kept).to.equal(1);
    expect(last.freedBytes).to.equal(made[3]!.sizeBytes + made[2]!.sizeBytes);
  });
});

// ---------------------------------------------------------------------------------------------

describe('Backups.automatic', () => {
  const c = withBackups();

  it('makes nothing for an empty database', async () => {
    expect(await c.backups.automatic(DAY)).to.equal(undefined);
    expect(readdirSync(c.paths.backupsDir)).to.deep.equal([]);
  });

  it('makes a backup of kind automatic when none is newer than maxAgeMs, and none while a recent one exists', async () => {
    c.repo.save(makeSong());
    const first = await c.backups.automatic(DAY);
    expect(first).to.include({ kind: 'automatic', createdAt: NOW0, name: `${stemAt(NOW0)}.db` });
    c.clock.t = NOW0 + DAY - 1;
    expect(await c.backups.automatic(DAY)).to.equal(undefined);
    // A recent manual backup does not count as the automatic one.
    c.clock.t = NOW0 + DAY;
    await c.backups.create('manual', undefined);
    const second = await c.backups.automatic(DAY);
    expect(second).to.include({ kind: 'automatic', createdAt: NOW0 + DAY });
    expect(c.backups.list({ kind: 'automatic' }).items.map((b) => b.name)).to.deep.equal([second!.name, first!.name]);
  });

  it(`keeps only the newest ${AUTOMATIC_KEEP} automatic backups, and no other kind is pruned`, async () => {
    c.repo.save(makeSong());
    const manual = await c.backups.create('manual', undefined);
    const made: BackupInfo[] = [];
    for (let i = 1; i <= 12; i++) {
      c.clock.t = NOW0 + i * 2 * HOUR;
      const b = await c.backups.automatic(HOUR);
      expect(b, `run ${i}`).to.not.equal(undefined);
      made.push(b!);
    }
    const autos = c.backups.list({ kind: 'automatic' }).items;
    expect(AUTOMATIC_KEEP).to.equal(10);
    expect(autos.map((b) => b.name)).to.deep.equal(made.slice(2).reverse().map((b) => b.name));
    expect(existsSync(made[0]!.path)).to.equal(false);
    expect(existsSync(made[1]!.path)).to.equal(false);
    expect(existsSync(manual.path)).to.equal(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('Backups.restore', () => {
  const c = withBackups();

  it('the pre-restore backup is a standalone file (not WAL), labelled, that a stock sqlite3 reads', async () => {
    c.repo.save(makeSong({ name: 'Kept' }));
    const backup = await c.backups.create('manual', undefined);
    c.repo.save(makeSong({ name: 'Replaced' }));
    c.clock.t += 5000;
    const out = await c.backups.restore(backup.name);
    const pre = out.safetyBackup.path;
    expect(readFileSync(pre).subarray(18, 20)).to.deep.equal(Buffer.from([1, 1]));
    expect(existsSync(`${pre}-wal`)).to.equal(false);
    expect(sqlite3(pre, 'PRAGMA integrity_check')).to.equal('ok');
    expect(sqlite3(pre, "SELECT value FROM metadata WHERE key = 'backup_kind'")).to.equal('pre-restore');
    // It is not the live file under another name.
    expect(statSync(pre).ino).to.not.equal(statSync(c.paths.dbPath).ino);
  });

  it('cleanUpAtStart removes a backup name that is still a second name of data.db (a restore cut short before its swap)', async () => {
    c.repo.save(makeSong());
    const kept = await c.backups.create('manual', undefined);
    c.ts.store.checkpoint();
    const alias = join(c.paths.backupsDir, 'data_2000-01-01_000000.db');
    linkSync(c.paths.dbPath, alias);
    Backups.cleanUpAtStart(c.paths);
    expect(existsSync(alias)).to.equal(false);
    expect(existsSync(kept.path)).to.equal(true);
    expect(existsSync(c.paths.dbPath)).to.equal(true);
  });

  it('replaces the data with the backup\'s and answers counts and a pre-restore backup holding the state it replaced', async () => {
    const a = c.repo.save(makeSong({ name: 'Before' }));
    const backup = await c.backups.create('manual', 'checkpoint');
    c.ts.clock.tick(1000);
    const b = c.repo.save(makeSong({ name: 'After' }));
    c.clock.t = NOW0 + 60_000;
    const generation = c.ts.store.generation;

    const rec = progressRecorder();
    const out = await c.backups.restore(backup.name, { progress: rec });
    expect(out.restoredFrom).to.equal(backup.path);
    expect(out.schemaVersion).to.equal(LATEST);
    expect(out.counts).to.include({ songs: 1 });
    expect(out.counts).to.deep.equal(recordCounts(c.ts.store.db));
    expect(out.safetyBackup).to.include({ kind: 'pre-restore', createdAt: NOW0 + 60_000, schemaVersion: LATEST });
    expect(rec.begins.length).to.be.at.least(1);
    expect(rec.ends).to.be.at.least(1);

    // The data is the backup's.
    expect(c.repo.get(a.id)).to.deep.equal(a);
    expect(thrown(() => c.repo.get(b.id)).code).to.equal(-32001);
    expect(songCount(c.ts)).to.equal(1);
    // The pre-restore backup holds the newer state.
    const pre = c.backups.verify(out.safetyBackup.path);
    expect(pre.ok).to.equal(true);
    expect(pre.counts!.songs).to.equal(2);
    expect(sqlite3(out.safetyBackup.path, 'SELECT name FROM songs ORDER BY name')).to.equal('After\nBefore');

    // The store reopened the file: a new generation, WAL again, no leftovers, not labelled as a backup.
    expect(c.ts.store.generation).to.be.greaterThan(generation);
    expect(c.reopened).to.equal(1);
    expect(c.ts.store.db.pragma('journal_mode', { simple: true })).to.equal('wal');
    expect(readFacts(c.ts.store.db)).to.deep.equal({ kind: 'unknown', schemaVersion: LATEST });
    expect(readdirSync(c.paths.dataDir).filter((f) => f.includes('restoring'))).to.deep.equal([]);
    // The backup restored from is untouched and still listed.
    expect(c.backups.verify(backup.path)).to.include({ ok: true, kind: 'manual' });
  });

  it('a Repository made before the restore keeps working after it (get and save)', async () => {
    const a = c.repo.save(makeSong());
    const backup = await c.backups.create('manual', undefined);
    c.repo.save(makeSong());
    c.clock.t += 1000;
    await c.backups.restore(backup.path);
    expect(c.repo.get(a.id).id).to.equal(a.id);
    const n = c.repo.save(makeSong({ name: 'New after restore' }));
    expect(c.repo.get(n.id).name).to.equal('New after restore');
    expect(c.repo.count()).to.equal(2);
    expect(c.repo.list().items.map((s) => s.id)).to.have.members([a.id, n.id]);
    // The write reached the file: a stock sqlite3 sees it after a checkpoint.
    c.ts.store.checkpoint();
    expect(sqlite3(c.paths.dbPath, 'SELECT count(*) FROM songs')).to.equal('2');
  });

  it('restoring the pre-restore backup brings the replaced state back', async () => {
    const a = c.repo.save(makeSong());
    const backup = await c.backups.create('manual', undefined);
    const b = c.repo.save(makeSong());
    c.clock.t += 1000;
    const first = await c.backups.restore(backup.name);
    c.clock.t += 1000;
    const second = await c.backups.restore(first.safetyBackup.name);
    expect(second.counts.songs).to.equal(2);
    expect(c.repo.get(a.id).id).to.equal(a.id);
    expect(c.repo.get(b.id).id).to.equal(b.id);
    expect(c.reopened).to.equal(2);
  });

  describe('refusals', () => {
    let good: BackupInfo;
    let before: { songs: number; backups: string[]; generation: number };

    beforeEach(async () => {
      c.repo.save(makeSong());
      c.repo.save(makeSong());
      good = await c.backups.create('manual', undefined);
      c.repo.save(makeSong());
      c.clock.t += 1000;
    });

    const snapshot = () => ({ songs: songCount(c.ts), backups: ls(c.paths.backupsDir), generation: c.ts.store.generation });

    async function expectRefused(path: string, reason: RegExp): Promise<void> {
      before = snapshot();
      const verified = c.backups.verify(path);
      const err = await rejection(c.backups.restore(path));
      expect(err, path).to.be.instanceOf(RpcError);
      expect(err.code, path).to.equal(-32020);
      expect(err.data.reason, path).to.be.a('string').and.match(reason);
      expect(err.data.reason).to.equal(verified.reason);
      expect(err.data.path).to.equal(verified.path);
      // Nothing changed: same rows, same connection, no pre-restore backup, no staging file.
      expect(snapshot(), path).to.deep.equal(before);
      expect(c.reopened).to.equal(0);
      expect(readdirSync(c.paths.dataDir).filter((f) => f.includes('restoring'))).to.deep.equal([]);
      expect(c.repo.count()).to.equal(3);
    }

    it('a damaged page is refused with -32020', async () => {
      const bytes = Buffer.from(readFileSync(good.path));
      bytes.fill(0xa5, 4096, 8192);
      const path = join(c.paths.dataDir, 'damaged.db');
      writeFileSync(path, bytes);
      await expectRefused(path, /integrity_check|malformed|unreadable/);
    });

    it('garbage, a truncated copy and an empty file are refused with -32020 and change nothing', async () => {
      const junk = join(c.paths.dataDir, 'junk.db');
      writeFileSync(junk, garbage(16384, 7));
      await expectRefused(junk, /./);
      const half = join(c.paths.dataDir, 'half.db');
      const bytes = readFileSync(good.path);
      writeFileSync(half, bytes.subarray(0, Math.floor(bytes.length / 2)));
      await expectRefused(half, /./);
      const empty = join(c.paths.dataDir, 'empty.db');
      writeFileSync(empty, '');
      await expectRefused(empty, /schema version/);
    });

    it('a newer schema, a hostile trigger, an extra table, a missing table and a foreign database are refused', async () => {
      const d = c.paths.dataDir;
      await expectRefused(alteredCopy(good.path, join(d, 'newer.db'), 'PRAGMA user_version = 99'), /newer/);
      await expectRefused(
        alteredCopy(good.path, join(d, 'evil.db'), 'CREATE TRIGGER evil AFTER INSERT ON songs BEGIN DELETE FROM songs; END;'),
        /trigger "evil"/,
      );
      await expectRefused(alteredCopy(good.path, join(d, 'extra.db'), 'CREATE TABLE extra (x)'), /table "extra"/);
      await expectRefused(alteredCopy(good.path, join(d, 'missing.db'), 'DROP TABLE recently_used'), /recently_used/);
      const plain = join(d, 'plain.db');
      const db = connect(plain);
      db.exec('CREATE TABLE songs (id TEXT)');
      db.close();
      await expectRefused(plain, /not a White Room database/);
      // The store still writes after all those refusals.
      c.repo.save(makeSong());
      expect(songCount(c.ts)).to.equal(4);
    });

    it('a missing source is -32022 (not-found) and changes nothing', async () => {
      before = snapshot();
      const err = await rejection(c.backups.restore('data_1999-01-01_000000.db'));
      expect(err).to.be.instanceOf(RpcError);
      expect(err.code).to.equal(-32022);
      expect(err.data.reason).to.equal('not-found');
      expect(snapshot()).to.deep.equal(before);
    });

    it('a request cancelled before the swap is -32800 and changes nothing', async () => {
      before = snapshot();
      const err = await rejection(c.backups.restore(good.name, { cancelled: () => true }));
      expect(err).to.be.instanceOf(RpcError);
      expect(err.code).to.equal(-32800);
      expect(snapshot()).to.deep.equal(before);
      expect(c.reopened).to.equal(0);
    });
  });

  it('a backup of an older schema (version 1) is migrated to the latest and keeps its rows', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const old = join(dir, 'v1.db');
      buildV1(old, 'old-song');
      expect(c.backups.verify(old)).to.include({ ok: true, schemaVersion: 1 });
      c.repo.save(makeSong());
      const out = await c.backups.restore(old);
      expect(out.restoredFrom).to.equal(old);
      expect(out.schemaVersion).to.equal(LATEST);
      expect(c.ts.store.schemaVersion).to.equal(LATEST);
      expect(out.counts.songs).to.equal(1);
      expect(c.repo.get('old-song')).to.include({ id: 'old-song', name: 'Old Song' });
      expect(out.safetyBackup.kind).to.equal('pre-restore');
      expect(c.reopened).to.equal(1);
      // The migrated live database has exactly the latest schema: a backup of it verifies.
      c.clock.t += 5000;
      const after = await c.backups.create('manual', undefined);
      expect(c.backups.verify(after.path)).to.include({ ok: true, schemaVersion: LATEST });
      // The source file is untouched (still version 1).
      expect(c.backups.verify(old)).to.include({ ok: true, schemaVersion: 1 });
    } finally {
      cleanup();
    }
  });

  it('Backups.cleanUp removes a leftover data.db.restoring (and its journal files), nothing else', () => {
    c.repo.save(makeSong());
    const staging = `${c.paths.dbPath}.restoring`;
    for (const suffix of ['', '-journal', '-wal', '-shm']) writeFileSync(staging + suffix, 'left by a crash');
    Backups.cleanUp(c.paths);
    for (const suffix of ['', '-journal', '-wal', '-shm']) expect(existsSync(staging + suffix), suffix).to.equal(false);
    expect(existsSync(c.paths.dbPath)).to.equal(true);
    expect(songCount(c.ts)).to.equal(1);
    // Nothing to clean is fine.
    Backups.cleanUp(c.paths);
  });
});
