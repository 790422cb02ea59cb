/**
 * Autosave: the data layer (src/store/autosaves.ts: staging, promotion, retention, reads, restore)
 * and its timing service (src/services/autosave.ts: debounce, interval, recovery, shutdown), over a
 * real migrated SQLite database. The service's timers are a @sinonjs/fake-timers clock, and the
 * store's clock follows it, so every timestamp is known and nothing sleeps.
 */
import { expect } from 'chai';
import FakeTimers from '@sinonjs/fake-timers';
import { Repository } from '../../src/store/repository.js';
import { songs, performances } from '../../src/store/entities.js';
import { Preferences } from '../../src/store/preferences.js';
import { Autosaves, scopeOf, DEFAULT_AUTOSAVE_SETTINGS, type AutosaveReason, type PromoteOptions } from '../../src/store/autosaves.js';
import { AutosaveService, type AutosaveLog } from '../../src/services/autosave.js';
import { connect } from '../../src/store/sqlite.js';
import { RpcError } from '../../src/errors.js';
import type { AutosaveSnapshot, StoredPerformance, StoredSong } from '../../src/generated/types.js';
import { historyOf, openTempStore, normaliseChanges, type TempStore } from '../helpers/unit-store.js';
import type { History } from '../../src/store/history.js';
import { partColumns } from '../../src/store/entity.js';
import { makeSong } from '../helpers/fixtures.js';

type Loose = Record<string, any>;

const T0 = 1_700_000_000_000;
const AUTO_NAME = /^Auto-Save \d{1,2}:\d{2} (AM|PM)$/;
const RECOVERED_NAME = /^Recovered \d{1,2}:\d{2} (AM|PM)$/;
const BEFORE_RESTORE_NAME = /^Before Restore \d{1,2}:\d{2} (AM|PM)$/;
const AND_SONG: PromoteOptions = { mode: 'snapshot-and-song', keep: 50 };
const ONLY: PromoteOptions = { mode: 'snapshot-only', keep: 50 };

interface Ctx {
  ts: TempStore;
  songRepo: Repository<StoredSong>;
  perfRepo: Repository<StoredPerformance>;
  prefs: Preferences;
  autosaves: Autosaves;
  history: History;
}

/** A fresh migrated store with the repositories and Autosaves for every test, removed after it. */
function withAutosaves(): Ctx {
  const ctx = {} as Ctx;
  beforeEach(async () => {
    ctx.ts = await openTempStore(T0);
    ctx.history = historyOf(ctx.ts.store);
    ctx.songRepo = new Repository<StoredSong>(ctx.ts.store, songs, ctx.history.hooks);
    ctx.perfRepo = new Repository<StoredPerformance>(ctx.ts.store, performances, ctx.history.hooks);
    ctx.prefs = new Preferences(ctx.ts.store);
    ctx.autosaves = new Autosaves(ctx.ts.store, ctx.songRepo, ctx.perfRepo, ctx.history);
  });
  afterEach(() => ctx.ts?.cleanup());
  return ctx;
}

function thrown(fn: () => unknown): RpcError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(RpcError);
    return err as RpcError;
  }
  throw new Error('expected the call to throw');
}

const snap = (song: Loose, extra: { performance?: Loose; state?: Loose } = {}): AutosaveSnapshot =>
  ({ song, ...extra }) as unknown as AutosaveSnapshot;

/** A saved song (staging needs one). */
function savedSong(c: Ctx, overrides: Loose = {}): Loose {
  const song = makeSong(overrides);
  c.songRepo.save(song);
  return song;
}

let perfCounter = 0;
/** A saved performance of `songId`. */
function savedPerf(c: Ctx, songId: string, overrides: Loose = {}): Loose {
  perfCounter++;
  const perf = {
    id: `perf-${perfCounter}`,
    songId,
    name: `Performance ${perfCounter}`,
    arrangementStyle: 'SOLO_PIANO',
    instrumentationMap: { piano: 'grand' },
    mixTargets: { loudness: -14 },
    ...overrides,
  };
  c.perfRepo.save(perf);
  return perf;
}

const count = (c: Ctx, table: string, where = '1', ...params: unknown[]): number =>
  (c.ts.store.db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get(...params) as { n: number }).n;

const rawRow = (c: Ctx, table: string, id: string): Loose =>
  c.ts.store.db.prepare(`SELECT * FROM ${table} WHERE id = ?`).get(id) as Loose;

const autosaveRows = (c: Ctx, songId: string): Loose[] =>
  c.ts.store.db.prepare('SELECT * FROM autosaves WHERE song_id = ? ORDER BY created_at').all(songId) as Loose[];

/** The snapshot an autosaves row holds, as autosave.get answers it. */
const snapshotOf = (c: Ctx, row: Loose): Loose => c.autosaves.get(row.id).snapshot as unknown as Loose;

/** A song model split as the part store keeps it: its scalar fields, and its structured parts by name. */
function splitSong(song: Loose): { fields: Loose; parts: Loose } {
  const fields = { ...song };
  const parts: Loose = {};
  for (const { path } of partColumns(songs)) {
    if (path in fields) parts[path] = fields[path];
    delete fields[path];
  }
  return { fields, parts };
}

/** Stages `song` with a new name and promotes it at once; answers the new snapshot's id. */
function saveVersion(c: Ctx, song: Loose, name: string, options: PromoteOptions = AND_SONG, reason: AutosaveReason = 'flush'): string {
  c.autosaves.stage(song.id, undefined, snap({ ...song, name }));
  const p = c.autosaves.promote(song.id, reason, options);
  if (!p?.added) throw new Error('expected a snapshot to be added');
  return p.snapshot.autosaveId;
}

/** The batches of store.changed since `from` that changed something, normalised. */
const commitsSince = (c: Ctx, from: number) => c.ts.commits.slice(from).filter((b) => b.length).map(normaliseChanges);

// =================================================================================================
// Autosaves (data layer)
// =================================================================================================

describe('Autosaves: stage', () => {
  const c = withAutosaves();

  it('commits the staged state before returning: another connection reads it at once', () => {
    const song = savedSong(c);
    const result = c.autosaves.stage(song.id, undefined, snap(song, { state: { cursor: 12 } }));
    expect(c.ts.store.db.inTransaction).to.equal(false);
    const reader = connect(c.ts.dbPath, { readonly: true });
    try {
      const row = reader.prepare('SELECT * FROM autosave_staging').get() as Loose;
      const body = JSON.stringify({ song, state: { cursor: 12 } });
      expect(row).to.deep.equal({
        scope: song.id,
        song_id: song.id,
        performance_id: null,
        body,
        body_kind: 'snapshot',
        size_bytes: Buffer.byteLength(body),
        staged_at: T0,
      });
      expect(result).to.deep.equal({ songId: song.id, stagedAt: T0, sizeBytes: Buffer.byteLength(body) });
    } finally {
      reader.close();
    }
  });

  it('a second stage of the same scope replaces the first: one row, with the newer body and time', () => {
    const song = savedSong(c);
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'first' }));
    c.ts.clock.tick(250);
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'second' }));
    const rows = c.ts.store.db.prepare('SELECT * FROM autosave_staging').all() as Loose[];
    expect(rows).to.have.length(1);
    expect(JSON.parse(rows[0]!.body).song.name).to.equal('second');
    expect(rows[0]!.staged_at).to.equal(T0 + 250);
  });

  it('the song and each song+performance pair are separate scopes', () => {
    const song = savedSong(c);
    const perf = savedPerf(c, song.id);
    c.autosaves.stage(song.id, undefined, snap(song));
    c.ts.clock.tick();
    const r = c.autosaves.stage(song.id, perf.id, snap(song, { performance: perf }));
    expect(r.performanceId).to.equal(perf.id);
    expect(c.autosaves.stagedScopes()).to.deep.equal([song.id, `${song.id}/${perf.id}`]);
    expect(c.autosaves.stagedScopes(song.id)).to.deep.equal([song.id, scopeOf(song.id, perf.id)]);
    const other = savedSong(c);
    c.autosaves.stage(other.id, undefined, snap(other));
    expect(c.autosaves.stagedScopes(song.id)).to.have.length(2);
    expect(count(c, 'autosave_staging')).to.equal(3);
  });

  it('a stage carrying the request text stores that text verbatim, and its promotion reads params.snapshot from it', () => {
    const song = savedSong(c);
    const snapshot = snap({ ...song, id: undefined, name: 'from the wire ♫' });
    const requestText = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'autosave.stage', params: { songId: song.id, snapshot } });
    const r = c.autosaves.stage(song.id, undefined, snapshot, requestText);
    expect(r.sizeBytes).to.equal(Buffer.byteLength(requestText));
    const row = c.ts.store.db.prepare('SELECT body, body_kind FROM autosave_staging').get() as Loose;
    expect(row).to.deep.equal({ body: requestText, body_kind: 'request' });
    const p = c.autosaves.promote(song.id, 'flush', ONLY);
    expect(p?.added).to.equal(true);
    const got = c.autosaves.get(p!.added ? p!.snapshot.autosaveId : '');
    expect(got.snapshot.song).to.deep.equal({ ...song, name: 'from the wire ♫' });
  });

  describe('refusals write nothing', () => {
    let song: Loose;
    let perf: Loose;
    let otherSong: Loose;
    let otherPerf: Loose;
    beforeEach(() => {
      song = savedSong(c);
      perf = savedPerf(c, song.id);
      otherSong = savedSong(c);
      otherPerf = savedPerf(c, otherSong.id);
    });

    const refused = (fn: () => unknown): RpcError => {
      const commitsBefore = c.ts.commits.length;
      const err = thrown(fn);
      expect(count(c, 'autosave_staging')).to.equal(0);
      expect(c.ts.commits.length).to.equal(commitsBefore);
      expect(c.ts.store.db.inTransaction).to.equal(false);
      return err;
    };
    const paths = (err: RpcError): string[] => (err.data as { errors: { path: string }[] }).errors.map((e) => e.path);

    it('snapshot.song.id other than songId: InvalidParams at /snapshot/song/id', () => {
      const err = refused(() => c.autosaves.stage(song.id, undefined, snap(otherSong)));
      expect(err.code).to.equal(-32602);
      expect(paths(err)).to.deep.equal(['/snapshot/song/id']);
    });

    it('a performance in the snapshot without performanceId: InvalidParams at /performanceId', () => {
      const err = refused(() => c.autosaves.stage(song.id, undefined, snap(song, { performance: perf })));
      expect(err.code).to.equal(-32602);
      expect(paths(err)).to.deep.equal(['/performanceId']);
    });

    it('snapshot.performance.songId other than songId: InvalidParams at /snapshot/performance/songId', () => {
      const err = refused(() =>
        c.autosaves.stage(song.id, perf.id, snap(song, { performance: { ...perf, songId: otherSong.id } })),
      );
      expect(err.code).to.equal(-32602);
      expect(paths(err)).to.deep.equal(['/snapshot/performance/songId']);
    });

    it('snapshot.performance.id other than performanceId: InvalidParams at /snapshot/performance/id', () => {
      const err = refused(() => c.autosaves.stage(song.id, perf.id, snap(song, { performance: { ...perf, id: 'elsewhere' } })));
      expect(err.code).to.equal(-32602);
      expect(paths(err)).to.deep.equal(['/snapshot/performance/id']);
    });

    it('a song that does not exist: ConstraintViolation on songId', () => {
      const ghost = makeSong();
      const err = refused(() => c.autosaves.stage(ghost.id, undefined, snap(ghost)));
      expect(err.code).to.equal(-32004);
      expect(err.data).to.deep.equal({ entity: 'autosaves', field: 'songId', value: ghost.id });
    });

    it('a performance that does not exist: ConstraintViolation on performanceId', () => {
      const err = refused(() => c.autosaves.stage(song.id, 'no-such-perf', snap(song, { performance: { ...perf, id: undefined } })));
      expect(err.code).to.equal(-32004);
      expect(err.data).to.deep.equal({ entity: 'autosaves', field: 'performanceId', value: 'no-such-perf' });
    });

    it('a performance of another song: ConstraintViolation naming both songs', () => {
      const err = refused(() =>
        c.autosaves.stage(song.id, otherPerf.id, snap(song, { performance: { ...otherPerf, songId: song.id } })),
      );
      expect(err.code).to.equal(-32004);
      expect(err.data).to.deep.equal({ entity: 'autosaves', field: 'performanceId', value: otherPerf.id });
      expect(err.message).to.include(otherSong.id).and.to.include(song.id);
    });
  });
});

describe('Autosaves: promote', () => {
  const c = withAutosaves();

  it('adds a snapshot named "Auto-Save h:mm AM/PM" whose sizeBytes is its UTF-8 length, and clears the staged row', () => {
    const song = savedSong(c, { name: 'Café Ünïcode 🎵 – ballad' });
    c.autosaves.stage(song.id, undefined, snap(song, { state: { note: 'Ω≈ç√' } }));
    c.ts.clock.tick(1000);
    const p = c.autosaves.promote(song.id, 'debounce', AND_SONG);
    expect(p?.added).to.equal(true);
    if (!p?.added) return;
    // The state staged is the row as it is: the snapshot is added, the row is not written again.
    expect(p.snapshot).to.deep.equal({
      autosaveId: p.snapshot.autosaveId,
      songId: song.id,
      at: T0 + 1000,
      rowWritten: false,
      reason: 'rows-hold-state',
      revision: 1,
    });
    const row = rawRow(c, 'autosaves', p.snapshot.autosaveId);
    expect(row.name).to.match(AUTO_NAME);
    const d = new Date(T0 + 1000);
    expect(row.name).to.equal(
      `Auto-Save ${d.getHours() % 12 || 12}:${String(d.getMinutes()).padStart(2, '0')} ${d.getHours() < 12 ? 'AM' : 'PM'}`,
    );
    const json = JSON.stringify({ song, state: { note: 'Ω≈ç√' } });
    // Stored in the part store: the song's scalar fields, each structured part, the state, each as its JSON text.
    const { fields, parts } = splitSong(song);
    expect(c.history.partTexts(JSON.parse(row.manifest_json))).to.deep.equal({
      'song.fields': JSON.stringify(fields),
      ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [`song.${k}`, JSON.stringify(v)])),
      state: JSON.stringify({ note: 'Ω≈ç√' }),
    });
    expect(c.autosaves.get(row.id).snapshot).to.deep.equal({ song, state: { note: 'Ω≈ç√' } });
    expect(row.size_bytes).to.equal(Buffer.byteLength(json, 'utf8'));
    expect(row.size_bytes).to.be.greaterThan(json.length);
    expect(row).to.include({ song_id: song.id, performance_id: null, created_at: T0 + 1000, recovered: 0, reason: 'debounce', revision: 1 });
    expect(count(c, 'autosave_staging')).to.equal(0);
    expect(c.autosaves.promote(song.id, 'debounce', AND_SONG)).to.equal(undefined);
  });

  it('a state equal to the newest snapshot of its scope adds nothing and answers that snapshot', () => {
    const song = savedSong(c);
    const first = saveVersion(c, song, 'same');
    c.ts.clock.tick(10);
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'same' }));
    const commitsBefore = c.ts.commits.length;
    expect(c.autosaves.promote(song.id, 'interval', AND_SONG)).to.deep.equal({ added: false, autosaveId: first });
    expect(count(c, 'autosaves')).to.equal(1);
    expect(count(c, 'autosave_staging')).to.equal(0);
    expect(commitsSince(c, commitsBefore)).to.deep.equal([]);
    // A different state is a new snapshot again.
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'different' }));
    expect(c.autosaves.promote(song.id, 'interval', AND_SONG)?.added).to.equal(true);
    expect(count(c, 'autosaves')).to.equal(2);
  });

  it('"unchanged" is per scope: the same song state staged with a performance is compared with that scope only', () => {
    const song = savedSong(c);
    const perf = savedPerf(c, song.id);
    saveVersion(c, song, 'v1');
    c.autosaves.stage(song.id, perf.id, snap({ ...song, name: 'v1' }, { performance: perf }));
    expect(c.autosaves.promote(scopeOf(song.id, perf.id), 'flush', AND_SONG)?.added).to.equal(true);
    c.autosaves.stage(song.id, perf.id, snap({ ...song, name: 'v1' }, { performance: perf }));
    expect(c.autosaves.promote(scopeOf(song.id, perf.id), 'flush', AND_SONG)?.added).to.equal(false);
    expect(count(c, 'autosaves', 'performance_id = ?', perf.id)).to.equal(1);
  });

  it('mode snapshot-and-song also saves the song and performance rows, announced with the snapshot in one commit', () => {
    const song = savedSong(c);
    const perf = savedPerf(c, song.id);
    const before = c.songRepo.get(song.id);
    c.ts.clock.tick(500);
    c.autosaves.stage(song.id, perf.id, snap({ ...song, name: 'edited' }, { performance: { ...perf, density: 0.25 } }));
    const commitsBefore = c.ts.commits.length;
    const p = c.autosaves.promote(scopeOf(song.id, perf.id), 'debounce', AND_SONG);
    if (!p?.added) throw new Error('expected a snapshot');
    expect(p.snapshot.performanceId).to.equal(perf.id);
    const after = c.songRepo.get(song.id);
    expect(after.name).to.equal('edited');
    expect(after.revision).to.equal(before.revision + 1);
    expect(after.updatedAt).to.equal(T0 + 500);
    expect(c.perfRepo.get(perf.id)).to.include({ density: 0.25, revision: 2 });
    expect(commitsSince(c, commitsBefore)).to.deep.equal([
      normaliseChanges([
        { entity: 'autosaves', op: 'insert', ids: [p.snapshot.autosaveId] },
        { entity: 'songs', op: 'update', ids: [song.id] },
        { entity: 'performances', op: 'update', ids: [perf.id] },
      ]),
    ]);
  });

  it('mode snapshot-only leaves the song and performance rows byte-identical', () => {
    const song = savedSong(c);
    const perf = savedPerf(c, song.id);
    const songBefore = rawRow(c, 'songs', song.id);
    const perfBefore = rawRow(c, 'performances', perf.id);
    c.ts.clock.tick(500);
    c.autosaves.stage(song.id, perf.id, snap({ ...song, name: 'edited' }, { performance: { ...perf, density: 0.25 } }));
    const commitsBefore = c.ts.commits.length;
    const p = c.autosaves.promote(scopeOf(song.id, perf.id), 'debounce', ONLY);
    if (!p?.added) throw new Error('expected a snapshot');
    expect(rawRow(c, 'songs', song.id)).to.deep.equal(songBefore);
    expect(rawRow(c, 'performances', perf.id)).to.deep.equal(perfBefore);
    expect(c.autosaves.get(p.snapshot.autosaveId).snapshot.song.name).to.equal('edited');
    expect(commitsSince(c, commitsBefore)).to.deep.equal([[{ entity: 'autosaves', op: 'insert', ids: [p.snapshot.autosaveId] }]]);
  });

  it('a promotion whose song write fails is rolled back whole: no snapshot, the staged state kept', () => {
    const song = savedSong(c);
    // The stage checks only ids; a song that the songs table refuses fails at promotion.
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: undefined }));
    const songBefore = rawRow(c, 'songs', song.id);
    expect(() => c.autosaves.promote(song.id, 'flush', AND_SONG)).to.throw();
    expect(count(c, 'autosaves')).to.equal(0);
    expect(count(c, 'autosave_staging')).to.equal(1);
    expect(rawRow(c, 'songs', song.id)).to.deep.equal(songBefore);
  });

  it('promoteAll with nothing staged takes no write lock: another program holding it is not waited for', () => {
    const song = savedSong(c);
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'staged' }));
    c.autosaves.promoteAll('flush', ONLY);
    const other = connect(c.ts.dbPath);
    try {
      // The interval of an idle session while another program writes (the busy timeout is 5 s).
      other.exec('BEGIN IMMEDIATE');
      const t = Date.now();
      expect(c.autosaves.promoteAll('interval', ONLY)).to.deep.equal({ added: [], unchanged: 0 });
      expect(c.autosaves.promoteAll('shutdown', ONLY, song.id)).to.deep.equal({ added: [], unchanged: 0 });
      expect(Date.now() - t).to.be.below(1000);
    } finally {
      other.close();
    }
  });

  it('promoteAll promotes every staged scope (or one song\'s) in one commit', () => {
    const a = savedSong(c);
    const b = savedSong(c);
    const perf = savedPerf(c, a.id);
    c.autosaves.stage(a.id, undefined, snap({ ...a, name: 'a2' }));
    c.autosaves.stage(a.id, perf.id, snap({ ...a, name: 'a3' }, { performance: perf }));
    c.autosaves.stage(b.id, undefined, snap({ ...b, name: 'b2' }));
    const onlyA = c.autosaves.promoteAll('flush', ONLY, a.id);
    expect(onlyA.added.map((p) => p.songId)).to.deep.equal([a.id, a.id]);
    expect(c.autosaves.stagedScopes()).to.deep.equal([b.id]);
    const commitsBefore = c.ts.commits.length;
    c.autosaves.stage(a.id, undefined, snap({ ...a, name: 'a2' }));
    const all = c.autosaves.promoteAll('flush', ONLY);
    expect(all.added.map((p) => p.songId)).to.deep.equal([b.id]);
    expect(all.unchanged).to.equal(1);
    expect(commitsSince(c, commitsBefore)).to.have.length(1);
    expect(c.autosaves.stagedScopes()).to.deep.equal([]);
  });

  it('snapshots of one song get strictly increasing createdAt even with a frozen clock', () => {
    const song = savedSong(c);
    const other = savedSong(c);
    const ids = ['a', 'b', 'c', 'd', 'e'].map((n) => saveVersion(c, song, n, ONLY));
    expect(ids.map((id) => c.autosaves.get(id).createdAt)).to.deep.equal([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]);
    // Another song is ordered on its own: its first snapshot keeps the clock's time.
    expect(c.autosaves.get(saveVersion(c, other, 'x', ONLY)).createdAt).to.equal(T0);
    // The clock catching up does not go back; moving past the newest uses the clock again.
    c.ts.clock.tick(2);
    expect(c.autosaves.get(saveVersion(c, song, 'f', ONLY)).createdAt).to.equal(T0 + 5);
    c.ts.clock.tick(100);
    expect(c.autosaves.get(saveVersion(c, song, 'g', ONLY)).createdAt).to.equal(T0 + 102);
    expect(c.autosaves.list(song.id).items.map((s) => s.name)).to.have.length(7);
  });
});

describe('Autosaves: retention', () => {
  const c = withAutosaves();
  const keep3: PromoteOptions = { mode: 'snapshot-only', keep: 3 };

  it('keep=3 keeps the newest three of the song, leaves other songs alone, and prunes in the adding transaction', () => {
    const song = savedSong(c);
    const other = savedSong(c);
    const otherIds = ['o1', 'o2'].map((n) => saveVersion(c, other, n, keep3));
    const ids: string[] = [];
    const commitsByVersion: ReturnType<typeof commitsSince>[] = [];
    for (const n of ['v1', 'v2', 'v3', 'v4', 'v5']) {
      c.ts.clock.tick(1000);
      const from = c.ts.commits.length;
      c.autosaves.stage(song.id, undefined, snap({ ...song, name: n }));
      const p = c.autosaves.promote(song.id, 'interval', keep3);
      if (!p?.added) throw new Error('expected a snapshot');
      ids.push(p.snapshot.autosaveId);
      commitsByVersion.push(commitsSince(c, from));
    }
    expect(c.autosaves.list(song.id).items.map((s) => s.id)).to.deep.equal([ids[4], ids[3], ids[2]]);
    expect(c.autosaves.list(other.id).items.map((s) => s.id)).to.deep.equal([otherIds[1], otherIds[0]]);
    expect(commitsByVersion[2]).to.deep.equal([[{ entity: 'autosaves', op: 'insert', ids: [ids[2]] }]]);
    expect(commitsByVersion[3]).to.deep.equal([
      [
        { entity: 'autosaves', op: 'delete', ids: [ids[0]] },
        { entity: 'autosaves', op: 'insert', ids: [ids[3]] },
      ],
    ]);
    expect(commitsByVersion[4]).to.deep.equal([
      [
        { entity: 'autosaves', op: 'delete', ids: [ids[1]] },
        { entity: 'autosaves', op: 'insert', ids: [ids[4]] },
      ],
    ]);
  });

  it('recovered snapshots are never pruned', () => {
    const song = savedSong(c);
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'crashed' }));
    const r = c.autosaves.promote(song.id, 'recovery', { ...keep3, recovered: true });
    if (!r?.added) throw new Error('expected a snapshot');
    const ids: string[] = [];
    for (const n of ['v1', 'v2', 'v3', 'v4', 'v5']) {
      c.ts.clock.tick(1000);
      ids.push(saveVersion(c, song, n, keep3));
    }
    const listed = c.autosaves.list(song.id).items;
    expect(listed.map((s) => s.id)).to.deep.equal([ids[4], ids[3], ids[2], r.snapshot.autosaveId]);
    expect(listed[3]).to.include({ recovered: true, reason: 'recovery' });
    expect(c.autosaves.recoverable().items.map((i) => i.id)).to.deep.equal([r.snapshot.autosaveId]);
  });
});

describe('Autosaves: list and get', () => {
  const c = withAutosaves();

  it('lists a song\'s snapshots newest first, without bodies, and filters by performance', () => {
    const song = savedSong(c);
    const perf = savedPerf(c, song.id);
    const other = savedSong(c);
    saveVersion(c, other, 'elsewhere', ONLY);
    const songScope: string[] = [];
    const perfScope: string[] = [];
    for (let i = 0; i < 7; i++) {
      c.ts.clock.tick(i % 2 ? 0 : 60_000); // some in the same millisecond: ordered all the same
      if (i % 3 === 2) {
        c.autosaves.stage(song.id, perf.id, snap({ ...song, name: `p${i}` }, { performance: perf }));
        const p = c.autosaves.promote(scopeOf(song.id, perf.id), 'flush', ONLY);
        perfScope.push(p?.added ? p.snapshot.autosaveId : '');
      } else {
        songScope.push(saveVersion(c, song, `s${i}`, ONLY));
      }
    }
    const { items, nextCursor } = c.autosaves.list(song.id);
    expect(nextCursor).to.equal(undefined);
    expect(items).to.have.length(7);
    for (let i = 1; i < items.length; i++) expect(items[i - 1]!.createdAt).to.be.greaterThan(items[i]!.createdAt);
    expect(items.map((s) => s.name.split(' ')[0])).to.deep.equal(Array(7).fill('Auto-Save'));
    for (const s of items) {
      expect(s).to.not.have.property('snapshot');
      expect(s).to.have.all.keys(
        ...['id', 'songId', 'name', 'createdAt', 'sizeBytes', 'recovered', 'reason', 'revision'],
        ...(s.performanceId ? ['performanceId'] : []),
      );
      expect(s.songId).to.equal(song.id);
      expect(s.sizeBytes).to.equal(Buffer.byteLength(JSON.stringify(c.autosaves.get(s.id).snapshot)));
    }
    expect(new Set(items.map((s) => s.id))).to.deep.equal(new Set([...songScope, ...perfScope]));
    const filtered = c.autosaves.list(song.id, { performanceId: perf.id }).items;
    expect(filtered.map((s) => s.id)).to.deep.equal([...perfScope].reverse());
    for (const s of filtered) expect(s.performanceId).to.equal(perf.id);
    expect(c.autosaves.list('no-such-song').items).to.deep.equal([]);
  });

  it('keyset pages with limit and cursor cover every snapshot exactly once, in order', () => {
    const song = savedSong(c);
    for (let i = 0; i < 8; i++) {
      if (i % 3 === 0) c.ts.clock.tick(1000);
      saveVersion(c, song, `v${i}`, ONLY);
    }
    const all = c.autosaves.list(song.id).items.map((s) => s.id);
    expect(all).to.have.length(8);
    for (const limit of [1, 3, 4, 8]) {
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = c.autosaves.list(song.id, { limit, cursor });
        expect(page.items.length).to.be.at.most(limit);
        seen.push(...page.items.map((s) => s.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined && pages < 20);
      expect(seen, `limit ${limit}`).to.deep.equal(all);
      expect(pages).to.equal(Math.ceil(8 / limit));
    }
  });

  it('a cursor made for another order is refused with InvalidParams at /cursor', () => {
    const song = savedSong(c);
    savedSong(c);
    const songCursor = c.songRepo.list({ limit: 1 }).nextCursor!;
    const err = thrown(() => c.autosaves.list(song.id, { cursor: songCursor }));
    expect(err.code).to.equal(-32602);
    expect((err.data as { errors: { path: string }[] }).errors[0]!.path).to.equal('/cursor');
  });

  it('get answers the summary and the body deep-equal to what was staged, with the ids filled in', () => {
    const song = savedSong(c);
    const perf = savedPerf(c, song.id);
    const { id: _s, ...songNoId } = song;
    const { id: _p, ...perfNoId } = perf;
    const state = { selection: [1, 2, 3], transport: { playing: false, bar: 17.5 }, view: null };
    c.autosaves.stage(song.id, perf.id, snap({ ...songNoId, name: 'staged' }, { performance: perfNoId, state }));
    c.ts.clock.tick(42);
    const p = c.autosaves.promote(scopeOf(song.id, perf.id), 'flush', AND_SONG);
    if (!p?.added) throw new Error('expected a snapshot');
    const got = c.autosaves.get(p.snapshot.autosaveId);
    expect(got).to.deep.equal({
      id: p.snapshot.autosaveId,
      songId: song.id,
      performanceId: perf.id,
      name: got.name,
      createdAt: T0 + 42,
      sizeBytes: Buffer.byteLength(JSON.stringify(got.snapshot)),
      recovered: false,
      reason: 'flush',
      revision: 1,
      snapshot: { song: { ...song, name: 'staged' }, performance: perf, state },
    });
    expect(got.name).to.match(AUTO_NAME);
  });

  it('get and delete of a missing id are NotFound (-32001)', () => {
    for (const fn of [() => c.autosaves.get('nope'), () => c.autosaves.delete('nope')]) {
      const err = thrown(fn);
      expect(err.code).to.equal(-32001);
      expect(err.data).to.deep.equal({ entity: 'autosaves', id: 'nope' });
    }
  });

  it('delete removes one snapshot, answers it and announces it', () => {
    const song = savedSong(c);
    const a = saveVersion(c, song, 'a', ONLY);
    const b = saveVersion(c, song, 'b', ONLY);
    const from = c.ts.commits.length;
    expect(c.autosaves.delete(a)).to.deep.equal({ ids: [a], count: 1, cascaded: {} });
    expect(c.autosaves.list(song.id).items.map((s) => s.id)).to.deep.equal([b]);
    expect(commitsSince(c, from)).to.deep.equal([[{ entity: 'autosaves', op: 'delete', ids: [a] }]]);
    expect(thrown(() => c.autosaves.delete(a)).code).to.equal(-32001);
  });
});

describe('Autosaves: restore', () => {
  const c = withAutosaves();

  it('writes the snapshot\'s song and performance rows and answers an undoId holding the state it replaced', () => {
    const song = savedSong(c, { name: 'v0' });
    const perf = savedPerf(c, song.id, { density: 0.5 });
    c.autosaves.stage(song.id, perf.id, snap({ ...song, name: 'v1' }, { performance: { ...perf, density: 1 }, state: { bar: 3 } }));
    const p1 = c.autosaves.promote(scopeOf(song.id, perf.id), 'flush', AND_SONG);
    c.ts.clock.tick(1000);
    c.autosaves.stage(song.id, perf.id, snap({ ...song, name: 'v2' }, { performance: { ...perf, density: 2 } }));
    c.autosaves.promote(scopeOf(song.id, perf.id), 'flush', AND_SONG);
    expect(c.songRepo.get(song.id).name).to.equal('v2');
    c.ts.clock.tick(1000);
    const from = c.ts.commits.length;
    const restored = c.autosaves.restore(p1?.added ? p1.snapshot.autosaveId : '', { keep: 50 });
    expect(restored.song).to.deep.equal(c.songRepo.get(song.id));
    expect(restored.song.name).to.equal('v1');
    expect(restored.performance).to.deep.equal(c.perfRepo.get(perf.id));
    expect(restored.performance!.density).to.equal(1);
    expect(restored.state).to.deep.equal({ bar: 3 });
    const undo = c.autosaves.get(restored.undoId);
    expect(undo).to.include({ reason: 'pre-restore', songId: song.id, performanceId: perf.id, recovered: false });
    expect(undo.name).to.match(BEFORE_RESTORE_NAME);
    expect(undo.snapshot.song.name).to.equal('v2');
    expect(undo.snapshot.performance!.density).to.equal(2);
    expect(commitsSince(c, from)).to.deep.equal([
      normaliseChanges([
        { entity: 'autosaves', op: 'insert', ids: [restored.undoId] },
        { entity: 'songs', op: 'update', ids: [song.id] },
        { entity: 'performances', op: 'update', ids: [perf.id] },
      ]),
    ]);
  });

  it('restoring the undoId brings the previous song state back', () => {
    const song = savedSong(c, { name: 'v0' });
    const first = saveVersion(c, song, 'v1');
    c.ts.clock.tick(1000);
    saveVersion(c, song, 'v2');
    const live = c.songRepo.get(song.id);
    const { undoId } = c.autosaves.restore(first, { keep: 50 });
    expect(c.songRepo.get(song.id).name).to.equal('v1');
    c.ts.clock.tick(1000);
    const back = c.autosaves.restore(undoId, { keep: 50 });
    const { revision: _r1, updatedAt: _u1, ...now } = c.songRepo.get(song.id) as Loose;
    const { revision: _r2, updatedAt: _u2, ...was } = live as Loose;
    expect(now).to.deep.equal(was);
    // And the undo of the undo is the restored state again.
    expect(c.autosaves.get(back.undoId).snapshot.song.name).to.equal('v1');
  });

  it('with a state staged for the scope, that staged state is the undo point and the staged row is consumed', () => {
    const song = savedSong(c, { name: 'v0' });
    const first = saveVersion(c, song, 'v1');
    c.ts.clock.tick(1000);
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'unsaved edit' }, { state: { typing: true } }));
    const songRowBefore = rawRow(c, 'songs', song.id);
    expect(songRowBefore.name).to.equal('v1');
    const { undoId } = c.autosaves.restore(first, { keep: 50 });
    expect(count(c, 'autosave_staging')).to.equal(0);
    const undo = c.autosaves.get(undoId);
    expect(undo.reason).to.equal('pre-restore');
    expect(undo.snapshot).to.deep.equal({ song: { ...song, name: 'unsaved edit' }, state: { typing: true } });
    expect(c.songRepo.get(song.id).name).to.equal('v1');
    const back = c.autosaves.restore(undoId, { keep: 50 });
    expect(back.song.name).to.equal('unsaved edit');
    expect(back.state).to.deep.equal({ typing: true });
  });

  it('a staged state equal to the newest snapshot makes that snapshot the undo point (no duplicate)', () => {
    const song = savedSong(c);
    const first = saveVersion(c, song, 'v1');
    const second = saveVersion(c, song, 'v2');
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'v2' }));
    const { undoId } = c.autosaves.restore(first, { keep: 50 });
    expect(undoId).to.equal(second);
    expect(count(c, 'autosaves')).to.equal(2);
  });

  it('restoring a missing id is NotFound and changes nothing', () => {
    const song = savedSong(c);
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'staged' }));
    const before = rawRow(c, 'songs', song.id);
    expect(thrown(() => c.autosaves.restore('nope', { keep: 50 })).code).to.equal(-32001);
    expect(rawRow(c, 'songs', song.id)).to.deep.equal(before);
    expect(count(c, 'autosave_staging')).to.equal(1);
    expect(count(c, 'autosaves')).to.equal(0);
  });

  it('a restored recovered snapshot stops being recoverable; a deleted one too', () => {
    const a = savedSong(c, { name: 'a0' });
    const b = savedSong(c, { name: 'b0' });
    const recovery: PromoteOptions = { mode: 'snapshot-only', keep: 50, recovered: true };
    c.autosaves.stage(a.id, undefined, snap({ ...a, name: 'a crashed' }));
    c.autosaves.stage(b.id, undefined, snap({ ...b, name: 'b crashed' }));
    c.autosaves.promote(a.id, 'recovery', recovery);
    c.ts.clock.tick();
    c.autosaves.promote(b.id, 'recovery', recovery);
    const items = c.autosaves.recoverable().items;
    expect(items.map((i) => i.songId)).to.deep.equal([a.id, b.id]);
    const [ra, rb] = items;
    const from = c.ts.commits.length;
    c.autosaves.restore(ra!.id, { keep: 50 });
    expect(c.songRepo.get(a.id).name).to.equal('a crashed');
    expect(c.autosaves.recoverable().items.map((i) => i.id)).to.deep.equal([rb!.id]);
    expect(c.autosaves.get(ra!.id)).to.include({ recovered: false, revision: 2, reason: 'recovery' });
    expect(commitsSince(c, from)[0]).to.deep.include({ entity: 'autosaves', op: 'update', ids: [ra!.id] });
    c.autosaves.delete(rb!.id);
    expect(c.autosaves.recoverable().items).to.deep.equal([]);
  });
});

describe('Autosaves: deleting a song', () => {
  const c = withAutosaves();

  it('removes its snapshots and staged states, counted in cascaded.autosaves; other songs keep theirs', () => {
    const song = savedSong(c);
    const perf = savedPerf(c, song.id);
    const other = savedSong(c);
    const ids = [saveVersion(c, song, 'v1'), saveVersion(c, song, 'v2')];
    c.autosaves.stage(song.id, perf.id, snap(song, { performance: perf }));
    const p = c.autosaves.promote(scopeOf(song.id, perf.id), 'flush', ONLY);
    ids.push(p?.added ? p.snapshot.autosaveId : '');
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'pending' }));
    c.autosaves.stage(song.id, perf.id, snap({ ...song, name: 'pending' }, { performance: perf }));
    const otherId = saveVersion(c, other, 'kept');
    c.autosaves.stage(other.id, undefined, snap({ ...other, name: 'kept pending' }));
    const from = c.ts.commits.length;
    const result = c.songRepo.delete(song.id);
    expect(result.ids).to.deep.equal([song.id]);
    expect(result.cascaded.autosaves).to.equal(3);
    expect(result.cascaded.performances).to.equal(1);
    expect(count(c, 'autosaves', 'song_id = ?', song.id)).to.equal(0);
    expect(count(c, 'autosave_staging', 'song_id = ?', song.id)).to.equal(0);
    expect(c.autosaves.stagedScopes()).to.deep.equal([other.id]);
    expect(c.autosaves.list(other.id).items.map((s) => s.id)).to.deep.equal([otherId]);
    const changes = commitsSince(c, from)[0]!;
    expect(changes.find((ch) => ch.entity === 'autosaves')).to.deep.equal({ entity: 'autosaves', op: 'delete', ids: [...ids].sort() });
    // What was staged for the deleted song is simply gone: promoting its scope finds nothing.
    expect(c.autosaves.promote(song.id, 'flush', AND_SONG)).to.equal(undefined);
  });
});

describe('Autosaves: settings', () => {
  const c = withAutosaves();

  it('start at the defaults, merge patches and persist in the database', () => {
    expect(c.autosaves.settings()).to.deep.equal(DEFAULT_AUTOSAVE_SETTINGS);
    expect(c.autosaves.saveSettings({ keep: 7, mode: 'snapshot-only' })).to.deep.equal({
      ...DEFAULT_AUTOSAVE_SETTINGS,
      keep: 7,
      mode: 'snapshot-only',
    });
    c.autosaves.saveSettings({ intervalMs: 9000, debounceMs: undefined });
    const fresh = new Autosaves(c.ts.store, c.songRepo, c.perfRepo, c.history);
    expect(fresh.settings()).to.deep.equal({ debounceMs: 2000, intervalMs: 9000, keep: 7, mode: 'snapshot-only' });
  });
});

// =================================================================================================
// AutosaveService (timing)
// =================================================================================================

interface Svc {
  clock: ReturnType<typeof FakeTimers.createClock>;
  service: AutosaveService;
  warnings: { obj: Loose; msg: string }[];
  infos: { obj: Loose; msg: string }[];
}

describe('AutosaveService', () => {
  const services: AutosaveService[] = [];
  // Registered before withAutosaves' hooks, so the services close before the store does.
  afterEach(() => {
    for (const s of services.splice(0)) s.close();
  });
  const c = withAutosaves();

  /** A service on a fake clock that the store's clock follows. */
  function start(clock = FakeTimers.createClock(T0)): Svc {
    c.ts.store.now = () => clock.now;
    const warnings: Svc['warnings'] = [];
    const infos: Svc['infos'] = [];
    const log: AutosaveLog = {
      warn: (obj, msg) => warnings.push({ obj, msg }),
      info: (obj, msg) => infos.push({ obj, msg }),
    };
    const service = new AutosaveService({
      store: c.ts.store,
      autosaves: c.autosaves,
      preferences: c.prefs,
      timers: { setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h as any) },
      log,
    });
    services.push(service);
    return { clock, service, warnings, infos };
  }

  const reasons = (songId: string): string[] => autosaveRows(c, songId).map((r) => r.reason as string);

  it('defaults: debounce 2000 ms, interval from preferences (60 s), keep 50, snapshot-and-song', () => {
    const { service } = start();
    expect(service.config()).to.deep.equal({
      debounceMs: 2000,
      intervalMs: 60_000,
      intervalSource: 'preferences',
      keep: 50,
      mode: 'snapshot-and-song',
    });
  });

  it('debounce: nothing before debounceMs after the stage, exactly one promotion at it', () => {
    const { clock, service } = start();
    const song = savedSong(c);
    service.stage(song.id, undefined, snap({ ...song, name: 'typed' }));
    clock.tick(1999);
    expect(count(c, 'autosaves')).to.equal(0);
    expect(count(c, 'autosave_staging')).to.equal(1);
    clock.tick(1);
    const rows = autosaveRows(c, song.id);
    expect(rows).to.have.length(1);
    expect(rows[0]).to.include({ reason: 'debounce', created_at: T0 + 2000 });
    expect(count(c, 'autosave_staging')).to.equal(0);
    expect(c.songRepo.get(song.id).name).to.equal('typed');
    clock.tick(10_000);
    expect(count(c, 'autosaves')).to.equal(1);
  });

  it('debounce: a new stage of the scope restarts the wait, and the newest state is the one saved', () => {
    const { clock, service } = start();
    const song = savedSong(c);
    service.stage(song.id, undefined, snap({ ...song, name: 'first' }));
    clock.tick(1500);
    service.stage(song.id, undefined, snap({ ...song, name: 'second' }));
    clock.tick(1500);
    expect(count(c, 'autosaves')).to.equal(0);
    clock.tick(499);
    expect(count(c, 'autosaves')).to.equal(0);
    clock.tick(1);
    const rows = autosaveRows(c, song.id);
    expect(rows).to.have.length(1);
    expect(rows[0]!.created_at).to.equal(T0 + 3500);
    expect(snapshotOf(c, rows[0]!).song.name).to.equal('second');
  });

  it('debounce timers are per scope: another song\'s stage does not delay this one', () => {
    const { clock, service } = start();
    const a = savedSong(c);
    const b = savedSong(c);
    service.stage(a.id, undefined, snap({ ...a, name: 'a1' }));
    clock.tick(1000);
    service.stage(b.id, undefined, snap({ ...b, name: 'b1' }));
    clock.tick(1000);
    expect(reasons(a.id)).to.deep.equal(['debounce']);
    expect(reasons(b.id)).to.deep.equal([]);
    clock.tick(1000);
    expect(reasons(b.id)).to.deep.equal(['debounce']);
  });

  it('interval: promotes every intervalMs while stages come faster than the debounce', () => {
    const { clock, service } = start();
    const song = savedSong(c);
    for (let i = 1; i <= 130; i++) {
      service.stage(song.id, undefined, snap({ ...song, name: `edit ${i}` }));
      clock.tick(1000);
    }
    const rows = autosaveRows(c, song.id);
    expect(rows.map((r) => [r.reason, r.created_at])).to.deep.equal([
      ['interval', T0 + 60_000],
      ['interval', T0 + 120_000],
    ]);
    // The state saved at 60 s is the last one staged before it.
    expect(snapshotOf(c, rows[0]!).song.name).to.equal('edit 60');
    // Once the editing stops, the debounce saves the last state.
    clock.tick(1000);
    expect(reasons(song.id)).to.deep.equal(['interval', 'interval', 'debounce']);
    expect(c.songRepo.get(song.id).name).to.equal('edit 130');
  });

  it('interval follows preferences.autoSaveInterval live', () => {
    const { clock, service } = start();
    service.configure({ debounceMs: 3_600_000 });
    const song = savedSong(c);
    clock.tick(10_000);
    c.prefs.update({ autoSaveInterval: 5 });
    expect(service.config()).to.include({ intervalMs: 5000, intervalSource: 'preferences' });
    service.stage(song.id, undefined, snap({ ...song, name: 'x' }));
    clock.tick(4999);
    expect(count(c, 'autosaves')).to.equal(0);
    clock.tick(1);
    expect(autosaveRows(c, song.id).map((r) => [r.reason, r.created_at])).to.deep.equal([['interval', T0 + 15_000]]);
    // One interval timer and one debounce timer; the 60 s one was cleared.
    expect(clock.countTimers()).to.equal(1);
    service.stage(song.id, undefined, snap({ ...song, name: 'y' }));
    expect(clock.countTimers()).to.equal(2);
    clock.tick(5000);
    expect(autosaveRows(c, song.id).map((r) => r.created_at)).to.deep.equal([T0 + 15_000, T0 + 20_000]);
  });

  it('a configured intervalMs wins over preferences; configure({intervalMs: null}) follows them again', () => {
    const { clock, service } = start();
    service.configure({ debounceMs: 3_600_000 });
    const song = savedSong(c);
    expect(service.configure({ intervalMs: 20_000 })).to.include({ intervalMs: 20_000, intervalSource: 'configured' });
    c.prefs.update({ autoSaveInterval: 5 });
    expect(service.config()).to.include({ intervalMs: 20_000, intervalSource: 'configured' });
    service.stage(song.id, undefined, snap({ ...song, name: 'x' }));
    clock.tick(19_999);
    expect(count(c, 'autosaves')).to.equal(0);
    clock.tick(1);
    expect(reasons(song.id)).to.deep.equal(['interval']);
    expect(service.configure({ intervalMs: null })).to.include({ intervalMs: 5000, intervalSource: 'preferences' });
    service.stage(song.id, undefined, snap({ ...song, name: 'y' }));
    clock.tick(5000);
    expect(autosaveRows(c, song.id).map((r) => [r.reason, r.created_at])).to.deep.equal([
      ['interval', T0 + 20_000],
      ['interval', T0 + 25_000],
    ]);
    // Following preferences again means following their changes too.
    c.prefs.update({ autoSaveInterval: 2 });
    expect(service.config().intervalMs).to.equal(2000);
  });

  it('configure persists: a new Autosaves (and service) on the same store reads it back', () => {
    const { service } = start();
    const config = service.configure({ debounceMs: 750, intervalMs: 9000, keep: 5, mode: 'snapshot-only' });
    expect(config).to.deep.equal({ debounceMs: 750, intervalMs: 9000, intervalSource: 'configured', keep: 5, mode: 'snapshot-only' });
    const fresh = new Autosaves(c.ts.store, c.songRepo, c.perfRepo, c.history);
    expect(fresh.settings()).to.deep.equal({ debounceMs: 750, intervalMs: 9000, keep: 5, mode: 'snapshot-only' });
    const clock2 = FakeTimers.createClock(T0);
    const second = new AutosaveService({
      store: c.ts.store,
      autosaves: fresh,
      preferences: c.prefs,
      timers: { setTimeout: (fn, ms) => clock2.setTimeout(fn, ms), clearTimeout: (h) => clock2.clearTimeout(h as any) },
    });
    services.push(second);
    expect(second.config()).to.deep.equal(config);
  });

  it('the configured mode and keep drive the timers\' promotions', () => {
    const { clock, service } = start();
    service.configure({ mode: 'snapshot-only', keep: 2, debounceMs: 100 });
    const song = savedSong(c);
    const before = rawRow(c, 'songs', song.id);
    for (const n of ['a', 'b', 'c']) {
      service.stage(song.id, undefined, snap({ ...song, name: n }));
      clock.tick(100);
    }
    expect(rawRow(c, 'songs', song.id)).to.deep.equal(before);
    expect(autosaveRows(c, song.id).map((r) => snapshotOf(c, r).song.name)).to.deep.equal(['b', 'c']);
  });

  it('onSaved listeners get {songId, performanceId?, autosaveId, at, rowWritten, reason?, revision, performanceRevision?} for every snapshot added', () => {
    const { clock, service } = start();
    const seen: Loose[] = [];
    service.onSaved((p) => seen.push(p));
    const song = savedSong(c);
    const perf = savedPerf(c, song.id);
    service.stage(song.id, undefined, snap({ ...song, name: 'one' }));
    clock.tick(2000);
    service.stage(song.id, perf.id, snap({ ...song, name: 'one' }, { performance: perf }));
    clock.tick(2000);
    // Unchanged: no snapshot, no announcement.
    service.stage(song.id, undefined, snap({ ...song, name: 'one' }));
    clock.tick(2000);
    const rows = autosaveRows(c, song.id);
    expect(rows).to.have.length(2);
    expect(seen).to.deep.equal([
      { songId: song.id, autosaveId: rows[0]!.id, at: T0 + 2000, rowWritten: true, revision: 2 },
      // The song row already says 'one' and the performance is as stored: nothing to write.
      {
        songId: song.id,
        performanceId: perf.id,
        autosaveId: rows[1]!.id,
        at: T0 + 4000,
        rowWritten: false,
        reason: 'rows-hold-state',
        revision: 2,
        performanceRevision: 1,
      },
    ]);
    service.stage(song.id, undefined, snap({ ...song, name: 'flushed' }));
    const flushed = service.flush(song.id);
    expect(seen[2]).to.deep.equal({ songId: song.id, autosaveId: flushed.saved[0]!.autosaveId, at: T0 + 6000, rowWritten: true, revision: 3 });
  });

  it('timer jobs go through the runner: nothing touches the database until the runner runs them', () => {
    const { clock, service } = start();
    const jobs: (() => void)[] = [];
    service.setRunner((job) => jobs.push(job));
    const song = savedSong(c);
    service.stage(song.id, undefined, snap({ ...song, name: 'queued' }));
    const from = c.ts.commits.length;
    clock.tick(2000);
    expect(jobs).to.have.length(1);
    expect(count(c, 'autosaves')).to.equal(0);
    expect(count(c, 'autosave_staging')).to.equal(1);
    expect(c.ts.commits.length).to.equal(from);
    jobs.shift()!();
    expect(reasons(song.id)).to.deep.equal(['debounce']);
    expect(c.songRepo.get(song.id).name).to.equal('queued');
    // The interval's job is queued the same way.
    service.stage(song.id, undefined, snap({ ...song, name: 'queued 2' }));
    clock.tick(58_000);
    expect(jobs).to.have.length(2); // the debounce at 4 s and the interval at 60 s
    expect(count(c, 'autosaves')).to.equal(1);
    for (const job of jobs.splice(0)) job();
    expect(reasons(song.id)).to.deep.equal(['debounce', 'debounce']);
  });

  it('close() promotes everything staged with reason shutdown, then later ticks and queued jobs do nothing', () => {
    const { clock, service } = start();
    const jobs: (() => void)[] = [];
    service.setRunner((job) => jobs.push(job));
    const seen: Loose[] = [];
    service.onSaved((p) => seen.push(p));
    const a = savedSong(c);
    const b = savedSong(c);
    const perf = savedPerf(c, b.id);
    service.stage(a.id, undefined, snap({ ...a, name: 'a final' }));
    clock.tick(2000); // queues a debounce job, not run yet
    service.stage(a.id, undefined, snap({ ...a, name: 'a final 2' }));
    service.stage(b.id, perf.id, snap({ ...b, name: 'b final' }, { performance: perf }));
    service.close();
    expect(reasons(a.id)).to.deep.equal(['shutdown']);
    expect(reasons(b.id)).to.deep.equal(['shutdown']);
    expect(c.songRepo.get(a.id).name).to.equal('a final 2');
    expect(count(c, 'autosave_staging')).to.equal(0);
    expect(seen).to.have.length(2);
    expect(clock.countTimers()).to.equal(0);
    // A stage after close is kept (for recovery) but no timer promotes it; the old job is inert.
    service.stage(a.id, undefined, snap({ ...a, name: 'after close' }));
    expect(clock.countTimers()).to.equal(0);
    for (const job of jobs.splice(0)) job();
    clock.tick(600_000);
    c.prefs.update({ autoSaveInterval: 1 });
    clock.tick(10_000);
    expect(clock.countTimers()).to.equal(0);
    expect(reasons(a.id)).to.deep.equal(['shutdown']);
    expect(count(c, 'autosave_staging')).to.equal(1);
    service.close(); // idempotent
    expect(count(c, 'autosave_staging')).to.equal(1);
  });

  it('a failing timer promotion is logged, not thrown, keeps the staged state, and the next interval retries it', () => {
    const { clock, service, warnings } = start();
    const song = savedSong(c);
    service.stage(song.id, undefined, snap({ ...song, name: 'survives' }));
    c.ts.store.db.exec('ALTER TABLE autosaves RENAME TO autosaves_away');
    expect(() => clock.tick(2000)).to.not.throw();
    expect(warnings).to.have.length(1);
    expect(warnings[0]!.msg).to.match(/autosave failed/);
    expect(String((warnings[0]!.obj as { err: Error }).err.message)).to.match(/no such table/);
    expect(count(c, 'autosave_staging')).to.equal(1);
    expect(c.songRepo.get(song.id).name).to.not.equal('survives');
    c.ts.store.db.exec('ALTER TABLE autosaves_away RENAME TO autosaves');
    clock.tick(58_000);
    expect(reasons(song.id)).to.deep.equal(['interval']);
    expect(count(c, 'autosave_staging')).to.equal(0);
    expect(c.songRepo.get(song.id).name).to.equal('survives');
    expect(warnings).to.have.length(1);
  });

  it('recover() turns staged states into recovered snapshots and leaves the song rows alone, even in the default mode', () => {
    // A previous run staged and then died without promoting.
    const song = savedSong(c, { name: 'saved' });
    const perf = savedPerf(c, song.id);
    c.autosaves.stage(song.id, undefined, snap({ ...song, name: 'lost edit' }));
    c.ts.clock.tick(5);
    c.autosaves.stage(song.id, perf.id, snap({ ...song, name: 'lost perf edit' }, { performance: { ...perf, density: 3 } }));
    const songBefore = rawRow(c, 'songs', song.id);
    const perfBefore = rawRow(c, 'performances', perf.id);
    const { service, infos } = start(FakeTimers.createClock(T0 + 60_000));
    expect(service.config().mode).to.equal('snapshot-and-song');
    const recovered = service.recover();
    expect(recovered).to.have.length(2);
    expect(infos).to.deep.equal([{ obj: { count: 2 }, msg: 'recovered staged autosave states' }]);
    expect(rawRow(c, 'songs', song.id)).to.deep.equal(songBefore);
    expect(rawRow(c, 'performances', perf.id)).to.deep.equal(perfBefore);
    expect(count(c, 'autosave_staging')).to.equal(0);
    for (const r of autosaveRows(c, song.id)) {
      expect(r).to.include({ reason: 'recovery', recovered: 1 });
      expect(r.name).to.match(RECOVERED_NAME);
    }
    expect(c.autosaves.recoverable().items).to.deep.equal(
      recovered.map((p) => {
        const { snapshot: _body, ...summary } = c.autosaves.get(p.autosaveId);
        expect(summary).to.include({ id: p.autosaveId, songId: p.songId, createdAt: p.at, recovered: true, reason: 'recovery' });
        return summary;
      }),
    );
    expect(c.autosaves.recoverable().items.map((i) => i.performanceId)).to.deep.equal([undefined, perf.id]);
    // Nothing staged: recover() again adds nothing and logs nothing.
    expect(service.recover()).to.deep.equal([]);
    expect(infos).to.have.length(1);
    // Restoring through the service un-marks it.
    service.restore(recovered[0]!.autosaveId);
    expect(c.songRepo.get(song.id).name).to.equal('lost edit');
    expect(c.autosaves.recoverable().items.map((i) => i.id)).to.deep.equal([recovered[1]!.autosaveId]);
  });

  it('flush(songId) promotes that song now and cancels its debounce; other songs keep waiting', () => {
    const { clock, service } = start();
    const a = savedSong(c);
    const b = savedSong(c);
    service.stage(a.id, undefined, snap({ ...a, name: 'a1' }));
    service.stage(b.id, undefined, snap({ ...b, name: 'b1' }));
    const r = service.flush(a.id);
    expect(r.saved).to.have.length(1);
    expect(r.saved[0]).to.include({ songId: a.id, rowWritten: true });
    expect(r.unchanged).to.equal(0);
    expect(reasons(a.id)).to.deep.equal(['flush']);
    expect(clock.countTimers()).to.equal(2); // the interval and b's debounce
    clock.tick(2000);
    expect(reasons(a.id)).to.deep.equal(['flush']);
    expect(reasons(b.id)).to.deep.equal(['debounce']);
  });

  it('preference writes that leave autoSaveInterval alone do not postpone the periodic save', () => {
    const { clock, service } = start();
    const song = savedSong(c);
    for (let i = 0; i < 180; i++) {
      service.stage(song.id, undefined, snap({ ...song, name: `e${i}` }));
      if (i % 30 === 0) c.prefs.update({ theme: i % 60 ? 'dark' : 'light' });
      clock.tick(1000);
    }
    expect(reasons(song.id).filter((r) => r === 'interval')).to.have.length.of.at.least(2);
  });

  it('a restore is not overwritten later by a state staged for another scope of the same song', () => {
    const { clock, service } = start();
    const song = savedSong(c, { name: 'v0' });
    const perf = savedPerf(c, song.id);
    service.stage(song.id, perf.id, snap({ ...song, name: 'good' }, { performance: perf }));
    service.flush();
    const good = c.autosaves.list(song.id).items[0]!.id;
    clock.tick(10);
    service.stage(song.id, undefined, snap({ ...song, name: 'bad edit' }));
    service.restore(good);
    clock.tick(2000);
    expect(c.songRepo.get(song.id).name).to.equal('good');
    // The other scope's state was kept as a snapshot, not lost.
    expect(c.autosaves.list(song.id).items.map((i) => i.reason)).to.include('pre-restore');
  });
});

describe('Autosaves: restore and retention', () => {
  const c = withAutosaves();

  it('the snapshot being restored is spared by the pruning its pre-restore snapshot causes', () => {
    const song = savedSong(c, { name: 'v0' });
    const opts = { mode: 'snapshot-only' as const, keep: 3 };
    const ids: string[] = [];
    for (const name of ['A', 'B', 'C']) {
      c.ts.clock.tick(10);
      c.autosaves.stage(song.id, undefined, snap({ ...song, name }));
      ids.push(c.autosaves.promoteAll('flush', opts).added[0]!.autosaveId);
    }
    const oldest = ids[0]!;
    const { undoId } = c.autosaves.restore(oldest, { keep: 3 });
    const left = c.autosaves.list(song.id).items.map((i) => i.id);
    expect(left).to.include(oldest);
    expect(left).to.include(undoId);
    expect(c.songRepo.get(song.id).name).to.equal('A');
    // The undo point holds the rows as they were (snapshot-only mode never wrote them).
    expect(c.autosaves.restore(undoId, { keep: 3 }).song.name).to.equal('v0');
  });
});
