/**
 * Schema migrations (src/store/migrations.ts) on real database files.
 */
import { expect } from 'chai';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { migrate, NewerSchemaError } from '../../src/store/migrations.js';
import { MIGRATIONS, type Migration } from '../../src/generated/migrations.js';
import { openDatabase, type Connection } from '../../src/store/database.js';
import { Store } from '../../src/store/store.js';
import { historyOf, tempDir } from '../helpers/unit-store.js';
import { Repository } from '../../src/store/repository.js';
import { performances, songs } from '../../src/store/entities.js';
import { Autosaves } from '../../src/store/autosaves.js';
import { unreadableContent } from '../../src/store/content-check.js';
import type { StoredPerformance, StoredSong } from '../../src/generated/types.js';
import { sha256, thrown } from '../helpers/check.js';
import { RpcError } from '../../src/errors.js';
import { stringifyAnswer } from '../../src/json-text.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SQL_DIR = join(ROOT, 'sql');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'v1-data.sql');
const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;
/** Only the first landed migration: the tests below follow it with synthetic version-2 ones. */
const V1 = MIGRATIONS.filter((m) => m.version === 1);

/**
 * Every landed migration, pinned. A landed migration is never edited: a change is a new file.
 * Adding a migration means adding its row here, deliberately.
 */
const LANDED: readonly { version: number; name: string; sha256: string }[] = [
  { version: 1, name: 'initial', sha256: '49c3c7196faf41bd3b6c4103888a677b8ba02c4b002507359bbc080ad524c6de' },
  { version: 2, name: 'autosave', sha256: '6e96183d6ee0259ea1bb74e1eb7be7114ecb5a166c0f1a4ec4ee51fdf8acb8ef' },
  { version: 3, name: 'name_order_and_folded_search', sha256: '9d9a8679771644990efe51310d1870d82c74574e1bfe0f2f4ce17b6106e89168' },
  { version: 4, name: 'favourites_in_rows', sha256: 'c3f28add70339fe1b169199792e1aee8ff52237a25e9e16dfb17f79ba364457c' },
  { version: 5, name: 'history', sha256: 'bb3cd43e108b81adcffc2fc3ed0bd9f381acda458f05797f7ec8e0c700b64d5c' },
  { version: 6, name: 'json_columns_hold_json', sha256: '92c58937b02ef49f324f59431082fab0d7c8bb39acf333819176b9cc3432b199' },
  { version: 7, name: 'json_columns_without_nul', sha256: '92bdac3db5bd97e7e588163d82568f1940da0d16506768e604be0a07f95d2f91' },
];


const userVersion = (db: Connection): number => db.pragma('user_version', { simple: true }) as number;
const metadataValue = (db: Connection, key: string): string | undefined =>
  (db.prepare('SELECT value FROM metadata WHERE key = ?').get(key) as { value: string } | undefined)?.value;
const count = (db: Connection, table: string): number =>
  (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
const hasTable = (db: Connection, name: string): boolean =>
  db.prepare("SELECT 1 FROM sqlite_schema WHERE name = ?").get(name) !== undefined;
const columnsOf = (db: Connection, table: string): string[] =>
  (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);

/** A database file at version 1 holding the fixture's rows; closed again. */
function buildV1(path: string): void {
  const db = openDatabase(path);
  try {
    expect(db.pragma('foreign_keys', { simple: true })).to.equal(1);
    db.transaction(() => {
      db.exec(MIGRATIONS[0]!.sql);
      db.exec(readFileSync(FIXTURE, 'utf8'));
      db.pragma('user_version = 1');
    })();
    expect(db.pragma('foreign_key_check')).to.deep.equal([]);
  } finally {
    db.close();
  }
}

/** Row counts of every table the fixture fills. */
function fixtureCounts(db: Connection): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ['songs', 'performances', 'autosaves', 'instruments', 'voices', 'presets', 'recently_used', 'user_preferences']) {
    out[t] = count(db, t);
  }
  return out;
}

const FIXTURE_COUNTS = {
  songs: 3,
  performances: 3,
  autosaves: 2,
  instruments: 2,
  voices: 2,
  presets: 2,
  recently_used: 2,
  user_preferences: 1,
};

const SECOND: Migration = {
  version: 2,
  name: 'test',
  sql: `ALTER TABLE songs ADD COLUMN test_note TEXT;
        CREATE TABLE test_extra (id TEXT PRIMARY KEY NOT NULL, song_id TEXT REFERENCES songs(id)) STRICT;
        INSERT INTO test_extra (id, song_id) VALUES ('x1', 'song-a');`,
};

describe('migrations: a fresh database', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('gets user_version = latest and a metadata schema_version that matches, with no backup', async () => {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    const store = Store.open(path);
    try {
      const outcome = await migrate(store.db, path, { backupDir });
      expect(outcome).to.deep.equal({ from: 0, to: LATEST, applied: MIGRATIONS.map((m) => m.version) });
      expect(userVersion(store.db)).to.equal(LATEST);
      expect(store.schemaVersion).to.equal(Store.latestSchemaVersion);
      expect(metadataValue(store.db, 'schema_version')).to.equal(String(LATEST));
      expect(readdirSync(backupDir)).to.deep.equal([]);
      // The one preferences row exists from the start.
      expect(count(store.db, 'user_preferences')).to.equal(1);
    } finally {
      store.close();
    }
  });

  it('migrating an up-to-date database does nothing and takes no backup', async () => {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    const store = Store.open(path);
    try {
      await migrate(store.db, path, { backupDir });
      const steps: number[] = [];
      const again = await migrate(store.db, path, { backupDir, onStep: (m) => steps.push(m.version) });
      expect(again).to.deep.equal({ from: LATEST, to: LATEST, applied: [] });
      expect(steps).to.deep.equal([]);
      expect(readdirSync(backupDir)).to.deep.equal([]);
    } finally {
      store.close();
    }
  });
});

describe('migrations: upgrading a version-1 database', () => {
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let backupDir: string;
  beforeEach(() => {
    tmp = tempDir();
    path = join(tmp.dir, 'data.db');
    backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    buildV1(path);
  });
  afterEach(() => tmp.cleanup());

  it('applies the pending migration, keeps every row, and takes a pre-migration backup before it runs', async () => {
    const store = Store.open(path);
    let backupsWhenStepRan: string[] | undefined;
    try {
      const outcome = await migrate(store.db, path, {
        backupDir,
        migrations: [...V1, SECOND],
        onStep: (m) => {
          if (m.version === 2) backupsWhenStepRan = readdirSync(backupDir);
        },
      });
      expect(outcome.from).to.equal(1);
      expect(outcome.to).to.equal(2);
      expect(outcome.applied).to.deep.equal([2]);
      expect(outcome.backupPath).to.be.a('string');
      expect(backupsWhenStepRan).to.have.length(1);
      expect(backupsWhenStepRan![0]).to.match(/^data_\d{4}-\d{2}-\d{2}_\d{6}\.db$/);
      expect(join(backupDir, backupsWhenStepRan![0]!)).to.equal(outcome.backupPath);

      expect(userVersion(store.db)).to.equal(2);
      expect(metadataValue(store.db, 'schema_version')).to.equal('2');
      expect(columnsOf(store.db, 'songs')).to.include('test_note');
      expect(count(store.db, 'test_extra')).to.equal(1);
      expect(fixtureCounts(store.db)).to.deep.equal(FIXTURE_COUNTS);
      const song = store.db.prepare("SELECT roles_json, play_count FROM songs WHERE id = 'song-a'").get() as {
        roles_json: string;
        play_count: number;
      };
      expect(JSON.parse(song.roles_json)[0].generatorConfig).to.deep.equal({ voicing: 'rootless' });
      expect(song.play_count).to.equal(12);
    } finally {
      store.close();
    }
    expect(readdirSync(backupDir)).to.have.length(1);
  });

  it('the pre-migration backup opens, passes quick_check, holds the fixture rows at version 1 and says pre-migration', async () => {
    const store = Store.open(path);
    let backupPath: string | undefined;
    try {
      backupPath = (await migrate(store.db, path, { backupDir, migrations: [...V1, SECOND] })).backupPath;
    } finally {
      store.close();
    }
    expect(readdirSync(backupDir).filter((f) => !/^data_\d{4}-\d{2}-\d{2}_\d{6}\.db$/.test(f))).to.deep.equal([]);
    const copy = new Database(backupPath!, { readonly: true, fileMustExist: true });
    try {
      expect(copy.pragma('quick_check', { simple: true })).to.equal('ok');
      expect(userVersion(copy)).to.equal(1);
      expect(metadataValue(copy, 'schema_version')).to.equal('1');
      expect(metadataValue(copy, 'backup_kind')).to.equal('pre-migration');
      expect(fixtureCounts(copy)).to.deep.equal(FIXTURE_COUNTS);
      expect(columnsOf(copy, 'songs')).to.not.include('test_note');
      expect(hasTable(copy, 'test_extra')).to.equal(false);
      expect(copy.prepare("SELECT theme FROM user_preferences").pluck().get()).to.equal('dark');
      // A standalone file: not WAL.
      expect(copy.pragma('journal_mode', { simple: true })).to.not.equal('wal');
    } finally {
      copy.close();
    }
  });

  it('a migration with bad SQL is rolled back whole: user_version stays and nothing it did remains', async () => {
    const bad: Migration = {
      version: 2,
      name: 'bad',
      sql: `CREATE TABLE half_done (x INTEGER);
            UPDATE songs SET name = 'changed';
            INSERT INTO no_such_table VALUES (1);`,
    };
    const store = Store.open(path);
    try {
      let err: unknown;
      try {
        await migrate(store.db, path, { backupDir, migrations: [...V1, bad] });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.match(/no_such_table/);
      expect(userVersion(store.db)).to.equal(1);
      expect(metadataValue(store.db, 'schema_version')).to.equal('1');
      expect(hasTable(store.db, 'half_done')).to.equal(false);
      expect(store.db.prepare("SELECT name FROM songs WHERE id = 'song-a'").pluck().get()).to.equal('Blue in Green');
      expect(fixtureCounts(store.db)).to.deep.equal(FIXTURE_COUNTS);
      expect(store.db.inTransaction).to.equal(false);
    } finally {
      store.close();
    }
  });

  it('a migration that would leave a foreign key violation is caught by foreign_key_check and rolled back', async () => {
    const orphan: Migration = {
      version: 2,
      name: 'orphan',
      // Deferred, so the statement itself succeeds and only a check before COMMIT can see it.
      sql: `PRAGMA defer_foreign_keys = ON;
            CREATE TABLE half_done (x INTEGER);
            INSERT INTO performances (id, song_id, name, created_at, updated_at, arrangement_style,
              instrumentation_map_json, mix_targets_json)
            VALUES ('orphan', 'no-such-song', 'Orphan', 1, 1, 'SOLO_PIANO', '{}', '{}');`,
    };
    const store = Store.open(path);
    try {
      let err: unknown;
      try {
        await migrate(store.db, path, { backupDir, migrations: [...V1, orphan] });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.match(/foreign key violation/);
      expect((err as Error).message).to.match(/rolled back/);
      expect(userVersion(store.db)).to.equal(1);
      expect(metadataValue(store.db, 'schema_version')).to.equal('1');
      expect(hasTable(store.db, 'half_done')).to.equal(false);
      expect(count(store.db, 'performances')).to.equal(FIXTURE_COUNTS.performances);
      expect(store.db.pragma('foreign_key_check')).to.deep.equal([]);
    } finally {
      store.close();
    }
  });

  it('when a later migration fails, the earlier ones stay applied', async () => {
    const third: Migration = { version: 3, name: 'broken', sql: 'THIS IS NOT SQL;' };
    const store = Store.open(path);
    try {
      const steps: number[] = [];
      let failed = false;
      await migrate(store.db, path, {
        backupDir,
        migrations: [...V1, SECOND, third],
        onStep: (m) => steps.push(m.version),
      }).catch(() => {
        failed = true;
      });
      expect(failed).to.equal(true);
      expect(steps).to.deep.equal([2, 3]);
      expect(userVersion(store.db)).to.equal(2);
      expect(metadataValue(store.db, 'schema_version')).to.equal('2');
      expect(columnsOf(store.db, 'songs')).to.include('test_note');
    } finally {
      store.close();
    }
  });
});

describe('migrations: 0002_autosave on a version-1 database', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('keeps every autosave, fills in their sizes, and adds the staging table', async () => {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    buildV1(path);
    const store = Store.open(path);
    try {
      // Up to 2 only: from 5 on, snapshots are in the part store (see 0005_history below).
      const outcome = await migrate(store.db, path, { backupDir, migrations: MIGRATIONS.filter((m) => m.version <= 2) });
      expect(outcome.applied).to.deep.equal([2]);
      expect(fixtureCounts(store.db)).to.deep.equal(FIXTURE_COUNTS);
      const rows = store.db.prepare('SELECT snapshot_json, size_bytes, recovered, reason FROM autosaves').all() as {
        snapshot_json: string;
        size_bytes: number;
        recovered: number;
        reason: string;
      }[];
      expect(rows).to.have.length(FIXTURE_COUNTS.autosaves);
      for (const r of rows) {
        expect(r.size_bytes).to.equal(Buffer.byteLength(r.snapshot_json));
        expect(r.recovered).to.equal(0);
        expect(r.reason).to.equal('interval');
      }
      expect(hasTable(store.db, 'autosave_staging')).to.equal(true);
      expect(store.db.pragma('foreign_key_check')).to.deep.equal([]);
      expect(store.db.pragma('integrity_check', { simple: true })).to.equal('ok');
    } finally {
      store.close();
    }
  });
});

describe('migrations: 0004_favourites_in_rows on a version-3 database', () => {
  const FAVOURITES = MIGRATIONS.filter((m) => m.version <= 4);
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  /** The fixture at version 3, with favourites kept only in the preferences row as given. */
  async function v3With(favoriteSongs: string, favoritePerformances: string): Promise<{ store: Store; path: string; backupDir: string }> {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    buildV1(path);
    const store = Store.open(path);
    await migrate(store.db, path, { backupDir, migrations: MIGRATIONS.filter((m) => m.version <= 3) });
    store.db
      .prepare('UPDATE user_preferences SET favorite_songs_json = ?, favorite_performances_json = ?, favorite_instruments_json = ?')
      .run(favoriteSongs, favoritePerformances, '["inst-piano"]');
    return { store, path, backupDir };
  }
  const flags = (db: Connection, table: string): Record<string, [number, number, number]> =>
    Object.fromEntries(
      (db.prepare(`SELECT id, is_favorite, revision, updated_at FROM ${table} ORDER BY id`).all() as any[]).map((r) => [r.id, [r.is_favorite, r.revision, r.updated_at]]),
    );

  it('folds favourites kept in the preferences into the rows: flag set, revision + 1, updated_at kept; the lists emptied', async () => {
    const { store, path, backupDir } = await v3With('["song-b", "song-a", "gone", 7]', '["perf-c1"]');
    try {
      const songsBefore = flags(store.db, 'songs');
      const perfsBefore = flags(store.db, 'performances');
      const outcome = await migrate(store.db, path, { backupDir, migrations: FAVOURITES });
      expect(outcome.applied).to.deep.equal([4]);
      expect(fixtureCounts(store.db)).to.deep.equal(FIXTURE_COUNTS);
      const songsAfter = flags(store.db, 'songs');
      // song-a was a favourite already: unchanged; song-b becomes one; song-c is not named.
      expect(songsAfter['song-a']).to.deep.equal(songsBefore['song-a']);
      expect(songsAfter['song-b']).to.deep.equal([1, songsBefore['song-b']![1] + 1, songsBefore['song-b']![2]]);
      expect(songsAfter['song-c']).to.deep.equal(songsBefore['song-c']);
      const perfsAfter = flags(store.db, 'performances');
      expect(perfsAfter['perf-c1']).to.deep.equal([1, perfsBefore['perf-c1']![1] + 1, perfsBefore['perf-c1']![2]]);
      expect(perfsAfter['perf-a2']).to.deep.equal(perfsBefore['perf-a2']);
      const prefs = store.db.prepare('SELECT favorite_songs_json AS s, favorite_performances_json AS p, favorite_instruments_json AS i FROM user_preferences').get();
      expect(prefs).to.deep.equal({ s: '[]', p: '[]', i: '["inst-piano"]' });
      expect(store.db.pragma('foreign_key_check')).to.deep.equal([]);
    } finally {
      store.close();
    }
  });

  it('a favourites column that is not a JSON array of ids is dropped, nothing else changes', async () => {
    const { store, path, backupDir } = await v3With('not json', '{"x": "perf-c1"}');
    try {
      const before = { songs: flags(store.db, 'songs'), performances: flags(store.db, 'performances') };
      await migrate(store.db, path, { backupDir, migrations: FAVOURITES });
      expect({ songs: flags(store.db, 'songs'), performances: flags(store.db, 'performances') }).to.deep.equal(before);
      expect(store.db.prepare('SELECT favorite_songs_json AS s, favorite_performances_json AS p FROM user_preferences').get()).to.deep.equal({ s: '[]', p: '[]' });
    } finally {
      store.close();
    }
  });
});

describe('migrations: 0005_history moves autosave snapshots into the part store', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  /** Snapshots as an older version stored them: what its autosave.get answered (JSON.parse of snapshot_json). */
  const LEGACY: [id: string, songId: string, performanceId: string | null, snapshot: string][] = [
    // A whole snapshot: structured parts (sections, roles), a performance, state.
    [
      'legacy-full',
      'song-a',
      'perf-a2',
      JSON.stringify({
        song: { id: 'song-a', name: 'Blue in Green', sections: [{ id: 's1', text: 'x'.repeat(3000) }], roles: [{ id: 'r1' }], bpm: 120.5 },
        performance: { id: 'perf-a2', songId: 'song-a', name: 'Trio', instrumentationMap: { piano: 'inst-piano' } },
        state: { cursor: 12, view: { zoom: 2 } },
      }),
    ],
    // The same song twice: its parts are stored once and referred to twice.
    ['legacy-same', 'song-a', null, JSON.stringify({ song: { id: 'song-a', name: 'Blue in Green', sections: [{ id: 's1', text: 'x'.repeat(3000) }] } })],
    // Loose snapshots no schema refused before 5: kept as they were.
    ['legacy-loose', 'song-b', null, '{"v":1,"song":"not an object","performance":null,"__proto__":{"x":1},"state":null}'],
    ['legacy-array', 'song-b', null, '[1, 2, {"a": 3}]'],
    ['legacy-number', 'song-c', null, '1.50'],
  ];

  /** The fixture at version `version`, with the LEGACY snapshots added when it has autosaves. */
  async function oldFile(version: number): Promise<{ store: Store; path: string; backupDir: string; before: Map<string, unknown> }> {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    buildV1(path);
    const store = Store.open(path);
    await migrate(store.db, path, { backupDir, migrations: MIGRATIONS.filter((m) => m.version <= version) });
    const add = store.db.prepare("INSERT INTO autosaves (id, song_id, performance_id, name, snapshot_json, created_at) VALUES (?, ?, ?, 'Auto-Save', ?, 1700000040000)");
    for (const [id, songId, perfId, text] of LEGACY) add.run(id, songId, perfId, text);
    const before = new Map<string, unknown>();
    for (const r of store.db.prepare('SELECT id, snapshot_json FROM autosaves').all() as { id: string; snapshot_json: string }[]) {
      before.set(r.id, JSON.parse(r.snapshot_json));
    }
    return { store, path, backupDir, before };
  }

  for (const version of [1, 2, 4]) {
    it(`from version ${version}: autosave.get answers every snapshot as before, and the part store passes every check`, async () => {
      const { store, path, backupDir, before } = await oldFile(version);
      try {
        // Version 1 has no size_bytes: 0002 fills it in with the snapshot's UTF-8 length.
        const sized = columnsOf(store.db, 'autosaves').includes('size_bytes');
        const kept = new Map(
          (store.db.prepare(`SELECT id, created_at, ${sized ? 'size_bytes' : 'length(CAST(snapshot_json AS BLOB))'} AS size FROM autosaves`).all() as {
            id: string;
            created_at: number;
            size: number;
          }[]).map((r) => [r.id, [r.created_at, r.size]]),
        );
        const outcome = await migrate(store.db, path, { backupDir });
        expect(outcome.to).to.equal(LATEST);
        expect(columnsOf(store.db, 'autosaves')).to.not.include('snapshot_json');
        expect(hasTable(store.db, 'autosaves_old')).to.equal(false);
        expect(fixtureCounts(store.db)).to.deep.equal({ ...FIXTURE_COUNTS, autosaves: FIXTURE_COUNTS.autosaves + LEGACY.length });

        const history = historyOf(store);
        const autosaves = new Autosaves(
          store,
          new Repository<StoredSong>(store, songs, history.hooks),
          new Repository<StoredPerformance>(store, performances, history.hooks),
          history,
        );
        expect(before.size).to.equal(FIXTURE_COUNTS.autosaves + LEGACY.length);
        for (const [id, snapshot] of before) {
          const got = autosaves.get(id);
          expect(got.snapshot, id).to.deep.equal(snapshot);
          expect([got.createdAt, got.sizeBytes], id).to.deep.equal(kept.get(id));
        }
        // Every hash a manifest names is a part, each counted once per holder: counting again changes nothing.
        expect(store.db.transaction(() => history.parts.recount())()).to.equal(0);
        // As before 5, a file holding a snapshot of another shape is one a restore refuses (content-check.ts);
        // without those, every check passes.
        expect(unreadableContent(store.db)).to.match(/^table autosaves, row "legacy-loose", column manifest_json: the snapshot \/song is not an object/);
        store.db.prepare("DELETE FROM autosaves WHERE id IN ('legacy-loose', 'legacy-array', 'legacy-number')").run();
        expect(unreadableContent(store.db)).to.equal(undefined);
        // The shared song parts are one node each: the two snapshots of song-a name the same sections.
        const manifests = new Map(
          (store.db.prepare('SELECT id, manifest_json FROM autosaves').all() as { id: string; manifest_json: string }[]).map((r) => [r.id, JSON.parse(r.manifest_json)]),
        );
        expect(manifests.get('legacy-full')['song.sections']).to.be.a('string').and.equal(manifests.get('legacy-same')['song.sections']);
        // Every song and performance has its current state as its first version.
        expect(count(store.db, 'versions')).to.equal(FIXTURE_COUNTS.songs + FIXTURE_COUNTS.performances);
        const answer = (x: unknown): unknown => JSON.parse(stringifyAnswer(x));
        for (const [desc, repo] of [
          [songs, new Repository<StoredSong>(store, songs, history.hooks)],
          [performances, new Repository<StoredPerformance>(store, performances, history.hooks)],
        ] as const) {
          for (const id of store.db.prepare(`SELECT id FROM "${desc.table}"`).pluck().all() as string[]) {
            const versions = history.list(desc.entity, id, 10);
            expect(versions.map((v) => [v.source, v.revision]), `${desc.entity} ${id}`).to.deep.equal([['save', repo.revisionOf(id)]]);
            expect(answer(history.get(versions[0]!.versionId)!.record), `${desc.entity} ${id}`).to.deep.equal(answer((repo as Repository<object>).get(id)));
          }
        }
        expect(store.db.pragma('foreign_key_check')).to.deep.equal([]);
      } finally {
        store.close();
      }
    });
  }

  it('a snapshot that is not JSON does not stop the migration: its text is kept, autosave.get answers StorageCorrupt, the others read as before', async () => {
    const { store, path, backupDir, before } = await oldFile(4);
    try {
      store.db.prepare("UPDATE autosaves SET snapshot_json = '{not json' WHERE id = 'legacy-same'").run();
      const outcome = await migrate(store.db, path, { backupDir });
      expect(outcome.to).to.equal(LATEST);
      const history = historyOf(store);
      const autosaves = new Autosaves(
        store,
        new Repository<StoredSong>(store, songs, history.hooks),
        new Repository<StoredPerformance>(store, performances, history.hooks),
        history,
      );
      const e = thrown(() => autosaves.get('legacy-same'));
      expect(e).to.be.instanceOf(RpcError);
      expect((e as RpcError).code).to.equal(-32012);
      const manifest = JSON.parse(store.db.prepare("SELECT manifest_json FROM autosaves WHERE id = 'legacy-same'").pluck().get() as string);
      expect(JSON.parse(history.parts.text(manifest.unreadable))).to.equal('{not json');
      for (const [id, snapshot] of before) if (id !== 'legacy-same') expect(autosaves.get(id).snapshot, id).to.deep.equal(snapshot);
    } finally {
      store.close();
    }
  });
});

describe('migrations: an empty database', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('an existing but empty file gets migrated without a backup', async () => {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    writeFileSync(path, ''); // a zero-byte file is an empty database to SQLite
    const store = Store.open(path);
    try {
      const second: Migration = { version: 2, name: 'test', sql: 'CREATE TABLE test_extra (id TEXT PRIMARY KEY) STRICT;' };
      const outcome = await migrate(store.db, path, { backupDir, migrations: [...V1, second] });
      expect(outcome.backupPath).to.equal(undefined);
      expect(outcome.applied).to.deep.equal([1, 2]);
      expect(readdirSync(backupDir)).to.deep.equal([]);
      expect(userVersion(store.db)).to.equal(2);
    } finally {
      store.close();
    }
  });
});

describe('migrations: a database from a newer version', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('is refused with NewerSchemaError, no backup is taken and the file stays byte-identical', async () => {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    {
      const store = Store.open(path);
      await migrate(store.db, path, { backupDir });
      store.db.exec("INSERT INTO metadata (key, value) VALUES ('written_by', 'the future')");
      store.db.pragma(`user_version = ${LATEST + 98}`);
      store.close();
    }
    const before = readFileSync(path);
    const store = Store.open(path);
    let err: unknown;
    try {
      await migrate(store.db, path, { backupDir });
    } catch (e) {
      err = e;
    } finally {
      store.close();
    }
    expect(err).to.be.instanceOf(NewerSchemaError);
    expect((err as NewerSchemaError).found).to.equal(LATEST + 98);
    expect((err as NewerSchemaError).known).to.equal(LATEST);
    expect((err as Error).message).to.include(path);
    expect((err as Error).message).to.match(/not changed/);
    expect(readdirSync(backupDir)).to.deep.equal([]);
    const after = readFileSync(path);
    expect(after.equals(before), 'data.db changed').to.equal(true);
  });
});

describe('migrations: landed migrations are pinned', () => {
  const files = readdirSync(SQL_DIR)
    .filter((f) => f.endsWith('.sql'))
    .sort();

  it('every file in sql/ is named NNNN_name.sql, numbered 1, 2, 3, … with no gaps', () => {
    expect(files.length).to.be.greaterThan(0);
    files.forEach((f, i) => {
      const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(f);
      expect(m, `sql/${f}`).to.not.equal(null);
      expect(Number(m![1]), `sql/${f}`).to.equal(i + 1);
    });
  });

  it('every landed migration is unchanged (a landed migration was edited; add a new migration instead)', () => {
    for (const pin of LANDED) {
      const file = files.find((f) => f.startsWith(`${String(pin.version).padStart(4, '0')}_`));
      expect(file, `migration ${pin.version} (${pin.name}) was removed from sql/; landed migrations stay`).to.not.equal(
        undefined,
      );
      expect(file, `migration ${pin.version} was renamed`).to.equal(
        `${String(pin.version).padStart(4, '0')}_${pin.name}.sql`,
      );
      const actual = sha256(readFileSync(join(SQL_DIR, file!)));
      expect(actual, `sql/${file}: a landed migration was edited; add a new migration instead`).to.equal(pin.sha256);
    }
  });

  it('every migration in sql/ is pinned in the LANDED table of this test', () => {
    for (const f of files) {
      const version = Number(f.slice(0, 4));
      const pin = LANDED.find((p) => p.version === version);
      expect(
        pin,
        `sql/${f} is not pinned: add { version: ${version}, name: '${f.slice(5, -4)}', sha256: '${sha256(
          readFileSync(join(SQL_DIR, f)),
        )}' } to LANDED in test/unit/migrations.test.ts`,
      ).to.not.equal(undefined);
    }
  });

  it('the migrations embedded in the build are exactly the files in sql/', () => {
    expect(MIGRATIONS.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}.sql`)).to.deep.equal(files);
    for (const m of MIGRATIONS) {
      const file = join(SQL_DIR, `${String(m.version).padStart(4, '0')}_${m.name}.sql`);
      expect(sha256(m.sql), `${file}: src/generated/migrations.ts is stale; run npm run gen`).to.equal(
        sha256(readFileSync(file, 'utf8')),
      );
    }
  });
});

/** A song row as another program writes it (none of the sidecar's code): JSON columns as given. */
const insertSong = (db: Connection, id: string, sections: string, tags = '[]'): void =>
  void db
    .prepare(
      'INSERT INTO songs (id, name, created_at, updated_at, determinism_seed, tags, sections_json, roles_json, projections_json, mix_graph_json) ' +
        "VALUES (?, ?, 1, 1, '1', ?, ?, '[]', '[]', '{\"tracks\":[]}')",
    )
    .run(id, id, tags, sections);

describe('migrations: 0006_json_columns_hold_json', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('a file written by other tools: parts with line breaks made compact (numbers as written), texts that are not JSON kept in damaged_json and the columns readable', async () => {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    const store = Store.open(path);
    try {
      await migrate(store.db, path, { backupDir, migrations: MIGRATIONS.filter((m) => m.version <= 5) });
      insertSong(store.db, 'pretty', '[\n  {"samplePos": 9223372036854775807,\r\n   "huge": 1e400, "s": "a\\nb"}\n]');
      insertSong(store.db, 'broken', '[{"x": 1', '["fine"]');
      insertSong(store.db, 'good', '[{"x":1}]');
      store.db.prepare("UPDATE user_preferences SET window_state_json = '{not json'").run();
      const outcome = await migrate(store.db, path, { backupDir });
      expect(outcome.to).to.equal(MIGRATIONS.at(-1)!.version);
      const sections = (id: string): string => store.db.prepare('SELECT sections_json FROM songs WHERE id = ?').pluck().get(id) as string;
      expect(sections('pretty')).to.equal('[{"samplePos":9223372036854775807,"huge":1e400,"s":"a\\nb"}]');
      expect(sections('broken')).to.equal('[]');
      expect(sections('good')).to.equal('[{"x":1}]');
      expect(store.db.prepare('SELECT window_state_json FROM user_preferences').pluck().get()).to.equal('{}');
      const kept = store.db.prepare('SELECT table_name, column_name, text FROM damaged_json ORDER BY id').raw().all();
      expect(kept).to.deep.equal([
        ['songs', 'sections_json', '[{"x": 1'],
        ['user_preferences', 'window_state_json', '{not json'],
      ]);
      expect(store.db.prepare("SELECT s.id FROM damaged_json AS d JOIN songs AS s ON s.rowid = d.row_id WHERE d.table_name = 'songs'").pluck().get()).to.equal('broken');
    } finally {
      store.close();
    }
  });

  it('afterwards the file refuses text that is not JSON from any connection, and makes parts with line breaks compact', async () => {
    const path = join(tmp.dir, 'data.db');
    mkdirSync(join(tmp.dir, 'backups'));
    const store = Store.open(path);
    const other = new Database(path); // another program: none of the sidecar's code
    try {
      await migrate(store.db, path, { backupDir: join(tmp.dir, 'backups') });
      expect(thrown(() => insertSong(other, 'bad', '[1,')).message).to.match(/songs: a JSON column holds text that is not JSON/);
      expect(thrown(() => insertSong(other, 'bad-tags', '[]', '["a"')).message).to.match(/not JSON/);
      insertSong(other, 'ok', '[1]');
      expect(thrown(() => other.prepare("UPDATE songs SET mix_graph_json = '{' WHERE id = 'ok'").run()).message).to.match(/not JSON/);
      other.prepare("UPDATE songs SET roles_json = '[\n {\"id\": \"r\"}\n]' WHERE id = 'ok'").run();
      expect(other.prepare("SELECT roles_json FROM songs WHERE id = 'ok'").pluck().get()).to.equal('[{"id":"r"}]');
      insertSong(other, 'pretty', '[\r\n 1 ]', '["late\\nnight",\n "x"]');
      expect(other.prepare("SELECT sections_json FROM songs WHERE id = 'pretty'").pluck().get()).to.equal('[1]');
      // The full-text index follows every one of these writes.
      other.exec("INSERT INTO songs_fts(songs_fts) VALUES ('integrity-check')");
      expect(other.pragma('integrity_check', { simple: true })).to.equal('ok');
      const repo = new Repository(store, songs);
      expect(repo.get('pretty')!.sections).to.deep.equal([1]);
      expect(store.db.prepare('SELECT count(*) FROM songs').pluck().get()).to.equal(2);
    } finally {
      other.close();
      store.close();
    }
  });
});

describe('migrations: 0007_json_columns_without_nul', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  /** A JSON text with a NUL and more after it: SQLite's json_valid reads only up to the NUL. */
  const WITH_NUL = '[{"a":1}]\u0000junk';
  it('texts with a NUL that 0006 let in are kept in damaged_json, and their columns readable again', async () => {
    const path = join(tmp.dir, 'data.db');
    const backupDir = join(tmp.dir, 'backups');
    mkdirSync(backupDir);
    const store = Store.open(path);
    try {
      await migrate(store.db, path, { backupDir, migrations: MIGRATIONS.filter((m) => m.version <= 6) });
      expect(store.db.prepare('SELECT json_valid(?)').pluck().get(WITH_NUL), 'what 0006 relied on').to.equal(1);
      insertSong(store.db, 'nul-sections', WITH_NUL);
      insertSong(store.db, 'nul-tags', '[{"x":1}]', '["live"]\u0000["x"');
      insertSong(store.db, 'good', '[{"x":1}]', '["live"]');
      store.db.prepare('UPDATE user_preferences SET window_state_json = ?').run('{}\u0000{');
      await migrate(store.db, path, { backupDir });
      const row = (id: string): unknown[] => store.db.prepare('SELECT sections_json, tags FROM songs WHERE id = ?').raw().get(id) as unknown[];
      expect(row('nul-sections')).to.deep.equal(['[]', '[]']);
      expect(row('nul-tags')).to.deep.equal(['[{"x":1}]', '[]']);
      expect(row('good')).to.deep.equal(['[{"x":1}]', '["live"]']);
      expect(store.db.prepare('SELECT window_state_json FROM user_preferences').pluck().get()).to.equal('{}');
      const kept = store.db.prepare('SELECT table_name, column_name, text FROM damaged_json ORDER BY id').raw().all();
      expect(kept).to.deep.equal([
        ['songs', 'tags', '["live"]\u0000["x"'],
        ['songs', 'sections_json', WITH_NUL],
        ['user_preferences', 'window_state_json', '{}\u0000{'],
      ]);
      const repo = new Repository(store, songs);
      expect(repo.get('nul-sections')!.sections).to.deep.equal([]);
      store.db.exec("INSERT INTO songs_fts(songs_fts) VALUES ('integrity-check')");
    } finally {
      store.close();
    }
  });

  it('afterwards no connection can store a text with a NUL in a JSON column', async () => {
    const path = join(tmp.dir, 'data.db');
    mkdirSync(join(tmp.dir, 'backups'));
    const store = Store.open(path);
    const other = new Database(path); // another program: none of the sidecar's code
    try {
      await migrate(store.db, path, { backupDir: join(tmp.dir, 'backups') });
      expect(thrown(() => insertSong(other, 'bad', WITH_NUL)).message).to.match(/songs: a JSON column holds text that is not JSON/);
      expect(thrown(() => insertSong(other, 'bad-tags', '[]', '[]\u0000')).message).to.match(/not JSON/);
      insertSong(other, 'ok', '[1]');
      expect(thrown(() => other.prepare('UPDATE songs SET mix_graph_json = ? WHERE id = ?').run('{"tracks":[]}\u0000x', 'ok')).message).to.match(/not JSON/);
      expect(thrown(() => other.prepare('UPDATE user_preferences SET window_state_json = ?').run('{}\u0000')).message).to.match(/user_preferences: .*not JSON/);
      // A NUL inside a string, escaped as JSON writes it, is JSON and is kept.
      insertSong(other, 'escaped', '["a\\u0000b"]');
      expect(new Repository(store, songs).get('escaped')!.sections).to.deep.equal(['a\u0000b']);
      expect(store.db.prepare('SELECT count(*) FROM songs').pluck().get()).to.equal(2);
    } finally {
      other.close();
      store.close();
    }
  });
});
