/**
 * SQLite failures as contract errors (src/store/sqlite-errors.ts), produced by real SQLite on real
 * files; and the pragmas every connection gets (src/store/database.ts).
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { storageError } from '../../src/store/sqlite-errors.js';
import {
  openDatabase,
  SqliteError,
  BUSY_TIMEOUT_MS,
  JOURNAL_SIZE_LIMIT_BYTES,
  CACHE_SIZE_KIB,
  type Connection,
} from '../../src/store/database.js';
import { migrate } from '../../src/store/migrations.js';
import { RpcError } from '../../src/errors.js';
import { tempDir } from '../helpers/unit-store.js';
import { thrown } from '../helpers/check.js';

const SONG_COLUMNS = `(id, name, created_at, updated_at, determinism_seed, sections_json, roles_json, projections_json, mix_graph_json)`;

describe('storageError: real SQLite failures', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let db: Connection;
  beforeEach(async () => {
    tmp = tempDir();
    path = join(tmp.dir, 'data.db');
    mkdirSync(join(tmp.dir, 'backups'));
    db = openDatabase(path);
    await migrate(db, path, { backupDir: join(tmp.dir, 'backups') });
    db.prepare(`INSERT INTO songs ${SONG_COLUMNS} VALUES ('s1', 'Song', 1, 1, '1', '[]', '[]', '[]', '{}')`).run();
  });
  afterEach(() => {
    if (db.open) db.close();
    tmp.cleanup();
  });

  it('a foreign key violation is ConstraintViolation (-32004) with {entity, field, value}', () => {
    const err = thrown(() =>
      db
        .prepare(
          `INSERT INTO performances (id, song_id, name, created_at, updated_at, arrangement_style,
             instrumentation_map_json, mix_targets_json) VALUES ('p1', 'no-such-song', 'P', 1, 1, 'X', '{}', '{}')`,
        )
        .run(),
    );
    expect(err).to.be.instanceOf(SqliteError);
    expect(err.code).to.equal('SQLITE_CONSTRAINT_FOREIGNKEY');
    const mapped = storageError(err)!;
    expect(mapped).to.be.instanceOf(RpcError);
    expect(mapped.code).to.equal(-32004);
    expect(mapped.data).to.deep.equal({ entity: 'unknown', field: 'unknown', value: 'unknown' });
    expect(mapped.toJSON()).to.have.all.keys('code', 'message', 'data');
  });

  it('a JSON column the file refuses (text stored by another program that a write carries over) is StorageCorrupt (-32012), not -32603', () => {
    const err = thrown(() => db.prepare("UPDATE songs SET sections_json = '[1' WHERE id = 's1'").run());
    expect(err.code).to.equal('SQLITE_CONSTRAINT_TRIGGER');
    const mapped = storageError(err)!;
    expect(mapped.code).to.equal(-32012);
    expect(mapped.data).to.deep.equal({ details: 'songs: a JSON column holds text that is not JSON' });
  });

  it('a CHECK constraint failure is InvalidParams (-32602) carrying SQLite\'s message', () => {
    const err = thrown(() => db.prepare("UPDATE songs SET rating = 9 WHERE id = 's1'").run());
    expect(err.code).to.equal('SQLITE_CONSTRAINT_CHECK');
    const mapped = storageError(err)!;
    expect(mapped.code).to.equal(-32602);
    expect(mapped.data).to.deep.equal({ errors: [{ path: '', message: err.message }] });
  });

  it('NOT NULL and STRICT datatype failures are InvalidParams (-32602)', () => {
    const notNull = thrown(() => db.prepare("UPDATE songs SET name = NULL WHERE id = 's1'").run());
    expect(notNull.code).to.equal('SQLITE_CONSTRAINT_NOTNULL');
    expect(storageError(notNull)!.code).to.equal(-32602);
    const datatype = thrown(() => db.prepare("UPDATE songs SET play_count = 'many' WHERE id = 's1'").run());
    expect(datatype.code).to.equal('SQLITE_CONSTRAINT_DATATYPE');
    expect(storageError(datatype)!.code).to.equal(-32602);
  });

  it('a write while another connection holds the write lock is StorageBusy (-32011)', () => {
    const holder = new Database(path, { timeout: 0 });
    const other = openDatabase(path, { busyTimeoutMs: 0 });
    try {
      holder.exec('BEGIN IMMEDIATE');
      const err = thrown(() => other.exec('BEGIN IMMEDIATE'));
      expect(err).to.be.instanceOf(SqliteError);
      expect(err.code).to.match(/^SQLITE_BUSY/);
      const mapped = storageError(err)!;
      expect(mapped.code).to.equal(-32011);
      expect(mapped.message).to.match(/nothing was written/);
      const write = thrown(() => other.prepare("UPDATE songs SET name = 'x' WHERE id = 's1'").run());
      expect(storageError(write)!.code).to.equal(-32011);
      holder.exec('ROLLBACK');
      other.prepare("UPDATE songs SET name = 'x' WHERE id = 's1'").run();
    } finally {
      holder.close();
      other.close();
    }
  });

  it('a database that reached its size limit is StorageFull (-32010)', () => {
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 2}`);
    const insert = db.prepare(`INSERT INTO songs ${SONG_COLUMNS} VALUES (?, ?, 1, 1, '1', '[]', '[]', '[]', '{}')`);
    const err = thrown(() => {
      for (let i = 0; i < 10_000; i++) insert.run(`big-${i}`, 'x'.repeat(4000));
    });
    expect(err.code).to.equal('SQLITE_FULL');
    const mapped = storageError(err)!;
    expect(mapped.code).to.equal(-32010);
    expect(mapped.data).to.equal(undefined);
  });

  it('a primary key clash is not mapped here (the repository answers AlreadyExists itself)', () => {
    const err = thrown(() =>
      db.prepare(`INSERT INTO songs ${SONG_COLUMNS} VALUES ('s1', 'Dup', 1, 1, '1', '[]', '[]', '[]', '{}')`).run(),
    );
    expect(err.code).to.equal('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(storageError(err)).to.equal(undefined);
  });

  it('an SQL error that is not a storage failure is not mapped', () => {
    const err = thrown(() => db.prepare('SELECT * FROM no_such_table').all());
    expect(err).to.be.instanceOf(SqliteError);
    expect(storageError(err)).to.equal(undefined);
  });
});

describe('storageError: damaged files and other errors', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('a file that is not a database is StorageCorrupt (-32012) with {details}, from openDatabase', () => {
    const path = join(tmp.dir, 'garbage.db');
    writeFileSync(path, Buffer.concat([Buffer.from('this is not a database, just bytes\n'), randomBytes(8192)]));
    const err = thrown(() => openDatabase(path));
    expect(err).to.be.instanceOf(SqliteError);
    expect(err.code).to.equal('SQLITE_NOTADB');
    const mapped = storageError(err)!;
    expect(mapped.code).to.equal(-32012);
    expect(mapped.data).to.deep.equal({ details: err.message });
  });

  it('a query on a file that is not a database is StorageCorrupt (-32012)', () => {
    const path = join(tmp.dir, 'garbage.db');
    writeFileSync(path, randomBytes(4096).fill(0x41, 0, 16));
    const raw = new Database(path, { readonly: true });
    try {
      const err = thrown(() => raw.prepare('SELECT count(*) FROM sqlite_schema').get());
      expect(err.code).to.equal('SQLITE_NOTADB');
      expect(storageError(err)!.code).to.equal(-32012);
    } finally {
      raw.close();
    }
  });

  it('a file write the disk has no room for (ENOSPC, EDQUOT, EFBIG) is StorageFull (-32010)', function () {
    if (!existsSync('/dev/full')) this.skip(); // Linux: every write to it fails with ENOSPC
    const err = thrown(() => writeFileSync('/dev/full', 'x'));
    expect(err.code).to.equal('ENOSPC');
    expect(storageError(err)!.code).to.equal(-32010);
    for (const code of ['EDQUOT', 'EFBIG']) {
      expect(storageError(Object.assign(new Error(`${code}: no room`), { code }))!.code, code).to.equal(-32010);
    }
  });

  it('any other error is not mapped', () => {
    expect(storageError(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }))).to.equal(undefined);
    expect(storageError(new Error('SQLITE_BUSY: looks like one'))).to.equal(undefined);
    expect(storageError(new RpcError(-32001, 'x'))).to.equal(undefined);
    expect(storageError('SQLITE_FULL')).to.equal(undefined);
    expect(storageError(undefined)).to.equal(undefined);
    expect(storageError({ code: 'SQLITE_FULL', message: 'disk full' })).to.equal(undefined);
    expect(storageError({ code: 'ENOSPC', message: 'not an Error' })).to.equal(undefined);
  });
});

describe('openDatabase: connection pragmas', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const pragma = (db: Connection, name: string): unknown => db.pragma(name, { simple: true });

  it('switches on foreign keys and WAL, and sets busy_timeout, journal_size_limit, cache and trusted_schema', () => {
    const db = openDatabase(join(tmp.dir, 'data.db'));
    try {
      expect(pragma(db, 'foreign_keys')).to.equal(1);
      expect(pragma(db, 'journal_mode')).to.equal('wal');
      expect(pragma(db, 'busy_timeout')).to.equal(BUSY_TIMEOUT_MS);
      expect(pragma(db, 'journal_size_limit')).to.equal(JOURNAL_SIZE_LIMIT_BYTES);
      expect(pragma(db, 'trusted_schema')).to.equal(0);
      expect(pragma(db, 'cache_size')).to.equal(-CACHE_SIZE_KIB);
      expect(pragma(db, 'temp_store')).to.equal(2); // MEMORY
    } finally {
      db.close();
    }
  });

  it('synchronous is NORMAL by default and FULL when asked', () => {
    const normal = openDatabase(join(tmp.dir, 'a.db'));
    const full = openDatabase(join(tmp.dir, 'b.db'), { synchronous: 'full' });
    const explicit = openDatabase(join(tmp.dir, 'c.db'), { synchronous: 'normal' });
    try {
      expect(pragma(normal, 'synchronous')).to.equal(1);
      expect(pragma(full, 'synchronous')).to.equal(2);
      expect(pragma(explicit, 'synchronous')).to.equal(1);
    } finally {
      normal.close();
      full.close();
      explicit.close();
    }
  });

  it('busyTimeoutMs sets busy_timeout', () => {
    const db = openDatabase(join(tmp.dir, 'data.db'), { busyTimeoutMs: 0 });
    try {
      expect(pragma(db, 'busy_timeout')).to.equal(0);
    } finally {
      db.close();
    }
  });

  it('a file written through openDatabase stays in WAL mode for the next connection', () => {
    const path = join(tmp.dir, 'data.db');
    openDatabase(path).close();
    const raw = new Database(path);
    try {
      expect(pragma(raw, 'journal_mode')).to.equal('wal');
    } finally {
      raw.close();
    }
  });

  it('readonly refuses a missing file and refuses writes, with foreign keys still on', () => {
    const path = join(tmp.dir, 'data.db');
    expect(() => openDatabase(path, { readonly: true })).to.throw();
    const rw = openDatabase(path);
    rw.exec('CREATE TABLE t (x INTEGER)');
    rw.close();
    const ro = openDatabase(path, { readonly: true });
    try {
      expect(pragma(ro, 'foreign_keys')).to.equal(1);
      expect(pragma(ro, 'trusted_schema')).to.equal(0);
      const err = thrown(() => ro.exec('INSERT INTO t VALUES (1)'));
      expect(err.code).to.equal('SQLITE_READONLY');
    } finally {
      ro.close();
    }
  });
});
