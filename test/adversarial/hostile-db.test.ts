/**
 * Hostile database files offered to backup.verify, backup.restore, import.full and to recovery at
 * start: sound SQLite files whose rows the sidecar could not read (a JSON column that is not JSON
 * or is nested too deep, a staged autosave or a snapshot of another shape, autosave settings of
 * another type), and files that are not ours (a view, a newer user_version, a trigger, a zero-length
 * file, garbage). Each is refused with -32020 {reason} naming what is wrong, and nothing changes.
 *
 * test/integration/backup.test.ts covers backup.verify/restore of garbage, truncated and damaged
 * files, a trigger and a newer user_version, and archive.test.ts import.full of a garbage data.db;
 * here are what they do not: the rows, a view, a zero-length file, the same refusals through
 * import.full and recovery at start, and a full disk at start.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { makeSong } from '../helpers/fixtures.js';
import { scribble, sha256, sqlite3 } from '../helpers/check.js';
import { ok, fails, Procs, stop } from '../helpers/rpc.js';
import { runOnce, type StoreProcess } from '../helpers/process.js';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/generated/migrations.js';
import { openDatabase } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrations.js';
import { ROOT } from '../helpers/process.js';

const INVALID_BACKUP = -32020;
const PAGE_SIZE = 4096;

/** 1,001 nested arrays: one level past MAX_JSON_DEPTH. */
const TOO_DEEP = `${'['.repeat(1001)}${']'.repeat(1001)}`;

/**
 * Copies `good` to `dir/name` and runs `sql` on the copy with a stock sqlite3, as a hostile tool
 * would: with the triggers that keep JSON columns JSON (sql/0006) dropped for it and made again
 * after, so the file's schema is ours and only its rows are bad.
 */
function corrupted(good: string, dir: string, name: string, sql: string | ((good: string) => string)): string {
  const path = join(dir, name);
  copyFileSync(good, path);
  const text = typeof sql === 'function' ? sql(good) : sql;
  if (text) {
    const guards = sqlite3(path, "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE '%\\_json\\_%' ESCAPE '\\'").split('\n').filter(Boolean);
    const made = guards.map((g) => sqlite3(path, `SELECT sql FROM sqlite_schema WHERE name = '${g}'`));
    sqlite3(path, [...guards.map((g) => `DROP TRIGGER ${g}`), text, ...made].join(';\n'));
  }
  return path;
}

/** The hash of part `name` of the first autosave's manifest, in SQL. */
const partOfAutosave = (name: string): string => `(SELECT m.value FROM autosaves AS a, json_each(a.manifest_json) AS m WHERE m.key = '${name}' LIMIT 1)`;

/**
 * SQL giving the first autosave of `good` another `song.fields` part: its song's scalar fields as
 * `edit` leaves them, stored as a sound part (keyed by the SHA-256 of its text), so that only what
 * the part says is wrong.
 */
function withSongFields(edit: (fields: Record<string, any>) => void, spell: (fields: Record<string, any>) => string = (f) => JSON.stringify(f)): (good: string) => string {
  return (good) => {
    const db = new Database(good, { readonly: true, fileMustExist: true });
    let row: { body: Buffer; deflated: number };
    try {
      row = db.prepare(`SELECT body, deflated FROM parts WHERE hash = ${partOfAutosave('song.fields')}`).get() as typeof row;
    } finally {
      db.close();
    }
    const fields = JSON.parse((row.deflated ? inflateRawSync(row.body) : row.body).toString('utf8'));
    edit(fields);
    const text = spell(fields);
    expect(text, 'a song.fields part refers to no other part').to.not.include('\u0001');
    const hash = createHash('sha256').update(text).digest('hex');
    return `INSERT INTO parts (hash, body, deflated, size_bytes, refs)
              VALUES ('${hash}', CAST('${text.replace(/'/g, "''")}' AS BLOB), 0, ${Buffer.byteLength(text)}, 1);
            UPDATE autosaves SET manifest_json = json_set(manifest_json, '$."song.fields"', '${hash}') WHERE id = (SELECT id FROM autosaves LIMIT 1);`;
  };
}

/**
 * The fixture (test/fixtures/v1-data.sql) in a file at schema `version`, as an older version left
 * it: before 5, snapshots are autosaves.snapshot_json. Not WAL: one file.
 */
async function oldFile(path: string, version: number, backupDir: string): Promise<void> {
  const db = openDatabase(path);
  try {
    db.transaction(() => {
      db.exec(MIGRATIONS[0]!.sql);
      db.exec(readFileSync(join(ROOT, 'test', 'fixtures', 'v1-data.sql'), 'utf8'));
      db.pragma('user_version = 1');
    })();
    await migrate(db, path, { backupDir, migrations: MIGRATIONS.filter((m) => m.version <= version) });
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

/**
 * Rewrites the export.full archive `zip` into `out` with `db` as its data.db, the manifest
 * updated to match it (so the zip's own checks pass and the restore's check is what refuses it).
 */
function archiveWith(zip: string, db: string, out: string): string {
  const bytes = readFileSync(db);
  const script = `
import sys, json, zipfile
src, dbfile, out, digest = sys.argv[1:5]
with zipfile.ZipFile(src) as z:
    manifest = json.loads(z.read('manifest.json'))
    songs = z.read('songs.json')
data = open(dbfile, 'rb').read()
for f in manifest['files']:
    if f['name'] == 'data.db':
        f['sizeBytes'] = len(data)
        f['sha256'] = digest
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('manifest.json', json.dumps(manifest, indent=2) + '\\n')
    z.writestr('data.db', data)
    z.writestr('songs.json', songs)
`;
  execFileSync('python3', ['-c', script, zip, db, out, sha256(bytes)], { stdio: 'pipe' });
  return out;
}

describe('hostile database files: restore checks what the sidecar will read', function () {
  this.timeout(30000);
  const procs = new Procs();
  let p: StoreProcess;
  let good: { name: string; path: string };
  let archive: string;
  let work: string;
  /** What the store holds before every refusal. */
  let baseline: { songs: any; backups: string[] };

  const backups = (): string[] => readdirSync(join(p.dataDir, 'backups')).sort();

  before(async () => {
    p = await procs.launch();
    work = procs.ownDir('wr-hostile-');
    await ok(p, 'songs.saveMany', { items: [makeSong({ id: 'S1', name: 'One' }), makeSong({ id: 'S2', name: 'Two' })] });
    // Nothing is promoted by a timer while the tests run (the staged state must stay staged).
    await ok(p, 'autosave.configure', { keep: 20, debounceMs: 3_600_000, intervalMs: 86_400_000 });
    // A snapshot (flushed) and a staged state (left staged): both tables have rows in the backup.
    await ok(p, 'autosave.stage', { songId: 'S1', snapshot: { song: makeSong({ id: 'S1', name: 'One, edited' }) } });
    await ok(p, 'autosave.flush', {});
    await ok(p, 'autosave.stage', { songId: 'S2', snapshot: { song: makeSong({ id: 'S2', name: 'Two, edited' }), state: { cursor: 3 } } });
    good = await ok(p, 'backup.create', { label: 'good' });
    archive = (await ok(p, 'export.full', {})).path;
    expect(sqlite3(good.path, 'SELECT count(*) FROM autosaves')).to.equal('1');
    expect(sqlite3(good.path, 'SELECT count(*) FROM autosave_staging')).to.equal('1');
    expect((await ok(p, 'backup.verify', { path: good.name })).ok, 'the good backup verifies').to.equal(true);
    await ok(p, 'songs.save', { item: makeSong({ id: 'S3', name: 'Three, after the backup' }) });
    baseline = { songs: await ok(p, 'songs.list', { limit: 100 }), backups: backups() };
  });
  after(() => procs.cleanupAll());

  /** Expects `method` on `path` to be refused with -32020 whose reason matches, and nothing changed. */
  async function refused(method: 'backup.restore' | 'import.full', path: string, reason: RegExp): Promise<void> {
    const mark = p.received.length;
    const e = await fails(p, method, { path }, INVALID_BACKUP);
    expect(e.data, `${method} ${path}`).to.be.an('object');
    expect(e.data.reason, `${method} ${path}`).to.be.a('string').and.match(reason);
    expect(await ok(p, 'songs.list', { limit: 100 }), `${method} ${path} changed nothing`).to.deep.equal(baseline.songs);
    expect(backups(), `${method} ${path}: no safety backup was made`).to.deep.equal(baseline.backups);
    expect(readdirSync(p.dataDir).filter((f) => f.includes('restoring') || f.startsWith('.import-'))).to.deep.equal([]);
    expect((p.received.slice(mark) as any[]).filter((m) => m && m.method === 'store.changed'), 'no store.changed').to.deep.equal([]);
  }

  /** Rows the sidecar could not read: sound SQLite files of our schema, one bad value each. */
  const badRows: [string, string | ((good: string) => string), RegExp][] = [
    ['not-json.db', "UPDATE songs SET sections_json = '[1, 2' WHERE id = 'S1'", /table songs, row "S1", column sections_json .*not JSON/],
    ['too-deep.db', `UPDATE songs SET mix_graph_json = '${TOO_DEEP}' WHERE id = 'S2'`, /table songs, row "S2", column mix_graph_json .*deeper than 1000/],
    ['prefs.db', "UPDATE user_preferences SET window_state_json = 'not json'", /table user_preferences, row "default", column window_state_json/],
    [
      'staged-shape.db',
      'UPDATE autosave_staging SET body = \'{"jsonrpc":"2.0","id":1,"method":"autosave.stage"}\', body_kind = \'request\'',
      /table autosave_staging, row "S2", column body: .*without params/,
    ],
    ['staged-snapshot.db', "UPDATE autosave_staging SET body = '{\"song\": 5}', body_kind = 'snapshot'", /table autosave_staging, row "S2", column body: .*\/song is not an object/],
    [
      'staged-field.db',
      "UPDATE autosave_staging SET body = json_set(body, '$.params.snapshot.song.metadata.timeSignature', 'four-four')",
      /table autosave_staging, row "S2", column body: .*\/song\/metadata\/timeSignature (is not a pair|must be array)/,
    ],
    // Snapshots are in the part store (schema 5): a manifest that is not one, a part that cannot be read...
    ['manifest-shape.db', "UPDATE autosaves SET manifest_json = '[]'", /table autosaves, row "[^"]+", column manifest_json names a part that is not in the part store/],
    [
      'manifest-missing-part.db',
      `UPDATE autosaves SET manifest_json = json_set(manifest_json, '$.state', '${'0'.repeat(64)}')`,
      /table autosaves, row "[^"]+", column manifest_json names a part that is not in the part store/,
    ],
    [
      'part-deflate.db',
      `UPDATE parts SET body = x'ff00ff00ff', deflated = 1 WHERE hash = ${partOfAutosave('song.fields')}`,
      /table parts, row "[0-9a-f]{64}", column body does not inflate/,
    ],
    [
      'part-hash.db',
      `UPDATE parts SET body = CAST('{"name":"not this part"}' AS BLOB), deflated = 0 WHERE hash = ${partOfAutosave('song.fields')}`,
      /table parts, row "[0-9a-f]{64}", column body is not the text its hash names/,
    ],
    [
      // A node whose hash is its text's, referring to a node the file does not hold.
      'part-missing-child.db',
      (() => {
        const text = `[\u0001${'a'.repeat(64)}]`;
        const hash = createHash('sha256').update(text).digest('hex');
        return `INSERT INTO parts (hash, body, deflated, size_bytes, refs) VALUES ('${hash}', CAST('${text}' AS BLOB), 0, ${Buffer.byteLength(text)}, 0)`;
      })(),
      /table parts, row "[0-9a-f]{64}", column body refers to part a{64}, which is not in the part store/,
    ],
    [
      // JSON whose hash is its own, but not compact: answers hold part texts as stored, and a line
      // break would split an NDJSON answer over two lines.
      'part-line-break.db',
      withSongFields(() => undefined, (f) => JSON.stringify(f).replace(',', ',\n')),
      /table parts, row "[0-9a-f]{64}", column body is not compact JSON/,
    ],
    ['part-crlf.db', withSongFields(() => undefined, (f) => `${JSON.stringify(f)}\r\n`), /table parts, row "[0-9a-f]{64}", column body is not compact JSON/],
    // ... and sound parts holding a snapshot autosave.restore must not write (old files: see below).
    ['snapshot-other-song.db', withSongFields((f) => (f.id = 'S2')), /table autosaves, .*\/song\/id is "S2"/],
    // autosave.restore writes the snapshot's song: a field no column can hold used to be -32603 there.
    [
      'snapshot-unbindable.db',
      withSongFields((f) => (f.name = { x: 1 })),
      /table autosaves, .*column manifest_json: the snapshot \/song\/name is an object/,
    ],
    [
      'snapshot-pair.db',
      withSongFields((f) => (f.metadata.timeSignature = 'four-four')),
      /table autosaves, .*column manifest_json: the snapshot \/song\/metadata\/timeSignature is not a pair/,
    ],
    ['settings.db', 'UPDATE metadata SET value = \'{"keep": "all"}\' WHERE key = \'autosave_settings\'', /table metadata, row "autosave_settings", column value: .*\/keep must be integer/],
  ];

  /** Files that are not ours. */
  const notOurs: [string, string, RegExp][] = [
    ['view.db', 'CREATE VIEW every_song AS SELECT * FROM songs', /unexpected schema object: view "every_song"/],
    ['trigger.db', 'CREATE TRIGGER evil AFTER INSERT ON songs BEGIN DELETE FROM songs; END', /unexpected schema object: trigger "evil"/],
    ['future.db', 'PRAGMA user_version = 99', /newer/],
  ];

  it('backup.verify answers ok:false naming the table, the row and the column; backup.restore answers -32020 and changes nothing', async () => {
    const dir = join(p.dataDir, 'backups');
    for (const [name, sql, reason] of badRows) {
      const path = corrupted(good.path, dir, name, sql);
      const v = await ok(p, 'backup.verify', { path: name });
      expect(v.ok, `${name}: ${JSON.stringify(v)}`).to.equal(false);
      expect(v.reason, name).to.match(reason);
      expect(v, name).to.not.have.property('counts');
      baseline.backups = backups();
      await refused('backup.restore', name, reason);
      expect(existsSync(path), `${name} is left where it was`).to.equal(true);
    }
  });

  it('a file of an older schema (4: snapshots in autosaves.snapshot_json) whose snapshot is of another shape: ok:false, -32020', async () => {
    const dir = join(p.dataDir, 'backups');
    const v4 = join(work, 'v4.db');
    await oldFile(v4, 4, procs.ownDir('wr-hostile-v4-'));
    // The good file verifies: each refusal below is its one bad row.
    corrupted(v4, dir, 'v4-good.db', '');
    const g = await ok(p, 'backup.verify', { path: 'v4-good.db' });
    expect(g, JSON.stringify(g)).to.include({ ok: true, schemaVersion: 4 });
    const cases: [string, string, RegExp][] = [
      ['v4-snapshot-shape.db', "UPDATE autosaves SET snapshot_json = '[]' WHERE id = 'auto-1'", /table autosaves, row "auto-1", column snapshot_json: .*not an object/],
      [
        'v4-snapshot-other-song.db',
        "UPDATE autosaves SET snapshot_json = json_set(snapshot_json, '$.song.id', 'song-b') WHERE id = 'auto-1'",
        /table autosaves, row "auto-1", .*\/song\/id is "song-b"/,
      ],
      [
        'v4-snapshot-unbindable.db',
        `UPDATE autosaves SET snapshot_json = json_set(snapshot_json, '$.song.name', json('{"x": 1}')) WHERE id = 'auto-1'`,
        /table autosaves, row "auto-1", column snapshot_json: the snapshot \/song\/name is an object/,
      ],
      [
        'v4-snapshot-pair.db',
        "UPDATE autosaves SET snapshot_json = json_set(snapshot_json, '$.song.metadata.timeSignature', 'four-four') WHERE id = 'auto-1'",
        /table autosaves, row "auto-1", column snapshot_json: the snapshot \/song\/metadata\/timeSignature is not a pair/,
      ],
    ];
    for (const [name, sql, reason] of cases) {
      corrupted(v4, dir, name, sql);
      const v = await ok(p, 'backup.verify', { path: name });
      expect(v.ok, `${name}: ${JSON.stringify(v)}`).to.equal(false);
      expect(v.reason, name).to.match(reason);
      baseline.backups = backups();
      await refused('backup.restore', name, reason);
    }
  });

  // A trigger and a newer user_version are covered for backup.verify/restore in backup.test.ts.
  it('a view, a zero-length file: backup.verify ok:false, backup.restore -32020', async () => {
    const dir = join(p.dataDir, 'backups');
    const [view] = notOurs;
    corrupted(good.path, dir, view![0], view![1]);
    writeFileSync(join(dir, 'empty.db'), '');
    for (const [name, reason] of [[view![0], view![2]], ['empty.db', /no schema version|not a/]] as const) {
      const v = await ok(p, 'backup.verify', { path: name });
      expect(v.ok, name).to.equal(false);
      expect(v.reason, name).to.match(reason);
      baseline.backups = backups();
      await refused('backup.restore', name, reason);
    }
    expect(readFileSync(join(dir, 'empty.db')).length, 'the empty file is still empty').to.equal(0);
  });

  it('import.full of an archive whose data.db has an unreadable row, a view, a trigger, a newer user_version, or is empty: -32020, nothing changed', async () => {
    const cases: [string, string | Buffer, RegExp][] = [
      ...[...badRows.slice(0, 1), ...badRows.slice(3, 4), ...notOurs].map(([name, sql, reason]) => [name, sql, reason] as [string, string, RegExp]),
      ['empty.db', Buffer.alloc(0), /no schema version|not a/],
      // (a garbage data.db: archive.test.ts)
    ];
    for (const [name, how, reason] of cases) {
      let db: string;
      if (typeof how === 'string') db = corrupted(good.path, work, name, how);
      else writeFileSync((db = join(work, name)), how);
      await refused('import.full', archiveWith(archive, db, join(work, `${name}.zip`)), reason);
    }
  });

  it('recovery at start skips a newer backup whose rows cannot be read, for an older good one', async () => {
    const dataDir = procs.ownDir('wr-hostile-recover-');
    const q = await procs.launch({ dataDir });
    const blob = (i: number): any[] => [{ id: 's', blob: `${i}`.padEnd(6000, 'b') }];
    await ok(q, 'songs.saveMany', { items: Array.from({ length: 20 }, (_, i) => makeSong({ id: `R${i}`, sections: blob(i) })) });
    await ok(q, 'autosave.stage', { songId: 'R1', snapshot: { song: makeSong({ id: 'R1', name: 'staged', sections: blob(1) }) } });
    const older = await ok(q, 'backup.create', { label: 'older, good' });
    await stop(q);
    // A newer backup (by its label) whose staged state is of another shape: recovery at start would
    // read it (autosave recovery) right after restoring it.
    const newer = corrupted(
      older.path,
      join(dataDir, 'backups'),
      'data_2099-01-01_000000.db',
      `UPDATE autosave_staging SET body = '{"params": {"songId": "R1"}}', body_kind = 'request';
       UPDATE metadata SET value = '${older.createdAt + 60_000}' WHERE key = 'backup_created_at';`,
    );
    const dbPath = join(dataDir, 'data.db');
    scribble(dbPath, 3 * PAGE_SIZE, 13 * PAGE_SIZE);

    const r = await procs.launch({ dataDir });
    const info = await ok(r, 'system.info', {});
    expect(info.recovery, `system.info: ${JSON.stringify(info)}; stderr: ${r.stderr}`).to.be.an('object');
    expect(info.recovery.restoredFrom).to.equal(older.path);
    expect(await ok(r, 'songs.count', {})).to.deep.equal({ count: 20 });
    // The staged state of the good backup became a recovered snapshot, readable.
    const [item] = (await ok(r, "autosave.recoverable", {})).items;
    expect(item, 'one recovered snapshot').to.include({ songId: 'R1' });
    expect((await ok(r, 'autosave.get', { id: item.id })).snapshot.song.name).to.equal('staged');
    expect(existsSync(newer), 'the unreadable backup is left as it was').to.equal(true);
    await stop(r);
  });
});

describe('a backup whose search index disagrees with its rows', function () {
  this.timeout(30000);
  const procs = new Procs();
  after(() => procs.cleanupAll());

  it('is restored with indexes made from its rows: search finds what the songs hold', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.save', { item: makeSong({ id: 'M1', name: 'Moonlight Sonata' }) });
    const b = await ok(p, 'backup.create', {});
    // Empty the index behind the rows' back (integrity_check does not compare an FTS5 index with its content).
    sqlite3(
      b.path,
      "INSERT INTO songs_fts(songs_fts, rowid, name, composer, genre, mood, tags, comments) SELECT 'delete', rowid, name, composer, genre, mood, tags, comments FROM songs",
    );
    await ok(p, 'songs.save', { item: makeSong({ id: 'M2', name: 'Later' }) });
    await ok(p, 'backup.restore', { path: b.name });
    const found = await ok(p, 'songs.search', { query: 'moonlight' });
    expect(found.items.map((s: any) => s.id)).to.deep.equal(['M1']);
  });
});

describe('a full disk at start', function () {
  this.timeout(30000);
  const procs = new Procs();
  let mountPoint: string | undefined;

  before(function () {
    mountPoint = mountTmpfs(this, '4m', 'wr-hostile-full-');
  });

  after(async () => {
    // The processes first (they hold files on the tmpfs), then the mount and its folder.
    for (const p of procs.running.splice(0)) await p.cleanup();
    unmountTmpfs(mountPoint);
    await procs.cleanupAll();
  });

  /** Writes zeros into `path` until the file system has no block left. */
  /** stderr lines that are not JSON log records. */
  const humanLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));

  it('says the disk is full and what to do, in one whiteroom-store: line, exits 1 and changes nothing; starts once space is freed', async () => {
    const dataDir = join(mountPoint!, 'data');
    const p = await procs.launch({ dataDir });
    await ok(p, 'songs.save', { item: makeSong({ id: 'kept' }) });
    await stop(p);
    const dbPath = join(dataDir, 'data.db');
    const hash = sha256(readFileSync(dbPath));
    const filler = join(mountPoint!, 'filler');
    fillDisk(filler);

    // An existing store (SQLite cannot make its -shm: SQLITE_IOERR_SHMSIZE), and a new one.
    for (const dir of [dataDir, join(mountPoint!, 'fresh')]) {
      const run = await runOnce(['--data-dir', dir, '--log-level', 'warn', '--auto-backup-hours', '0'], '{"jsonrpc":"2.0","id":1,"method":"songs.count"}\n');
      expect(run.code, `exit; stderr: ${run.stderr}`).to.equal(1);
      expect(run.stdout, 'nothing on stdout').to.equal('');
      const human = humanLines(run.stderr);
      expect(human, run.stderr).to.have.length(1);
      expect(human[0]).to.match(/^whiteroom-store: the disk holding .* is full/);
      expect(human[0]).to.include(dir).and.match(/Free some space/).and.not.match(/SQLITE_IOERR|disk I\/O error/);
    }
    expect(sha256(readFileSync(dbPath)), 'data.db is unchanged').to.equal(hash);

    rmSync(filler);
    const q = await procs.launch({ dataDir });
    expect(await ok(q, 'songs.get', { id: 'kept' })).to.include({ id: 'kept' });
    await stop(q);
  });
});
