/**
 * The generic Repository with the songs descriptor, over a real migrated SQLite database.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Repository, encodeCursor, ftsQuery, MAX_SEARCH_TERMS, DEFAULT_PAGE_SIZE, type OrderBy, type Direction } from '../../src/store/repository.js';
import { songs } from '../../src/store/entities.js';
import { fromRow, type Row } from '../../src/store/entity.js';
import { RawJson, stringifyAnswer } from '../../src/json-text.js';
import { SqliteError } from '../../src/store/database.js';
import { RpcError } from '../../src/errors.js';
import { openTempStore, normaliseChanges, type TempStore } from '../helpers/unit-store.js';
import { makeSong } from '../helpers/fixtures.js';
import { thrown } from '../helpers/check.js';

type Song = Record<string, any>;

const T0 = 1_700_000_000_000;

/** Repository.update with the loose test type. */
function upd(repo: Repository<Song>, item: Song, ifRevision?: number): Song {
  return repo.update(item as Song & { id: string }, ifRevision);
}

/** What get() answers for a song written once at time `t` with the descriptor's defaults. */
function stored(song: Song, t: number, extra: Song = {}): Song {
  return {
    version: '1.0',
    isFavorite: false,
    playCount: 0,
    ...song,
    createdAt: t,
    updatedAt: t,
    revision: 1,
    ...extra,
  };
}

function insertPerformance(ts: TempStore, id: string, songId: string): void {
  ts.store.db
    .prepare(
      `INSERT INTO performances (id, song_id, name, created_at, updated_at, arrangement_style,
         instrumentation_map_json, mix_targets_json) VALUES (?, ?, ?, 1, 1, 'SOLO_PIANO', '{}', '{}')`,
    )
    .run(id, songId, `perf ${id}`);
}

function insertAutosave(ts: TempStore, id: string, songId: string, performanceId: string | null = null): void {
  ts.store.db
    .prepare(
      `INSERT INTO autosaves (id, song_id, performance_id, name, manifest_json, created_at)
       VALUES (?, ?, ?, 'Auto-Save', '{}', 1)`,
    )
    .run(id, songId, performanceId);
}

const countRows = (ts: TempStore, table: string): number =>
  (ts.store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

/** A fresh migrated store and songs repository for every test of the describe, removed after it. */
function withFreshRepo(set: (ts: TempStore, repo: Repository<Song>) => void): void {
  let current: TempStore | undefined;
  beforeEach(async () => {
    current = await openTempStore(T0);
    set(current, new Repository<Song>(current.store, songs));
  });
  afterEach(() => current?.cleanup());
}

describe('Repository (songs): create and get', () => {
  let ts: TempStore;
  let repo: Repository<Song>;
  withFreshRepo((t, r) => {
    ts = t;
    repo = r;
  });

  it('creating a song stores every field and get returns it deep-equal with defaults, timestamps and revision 1', () => {
    const song = makeSong();
    const created = repo.create(song);
    expect(created).to.deep.equal(stored(song, T0));
    expect(repo.get(song.id)).to.deep.equal(stored(song, T0));
  });

  it('a record read for an answer is not parsed: its answer is the stored text, its parts parse when read, in their place', () => {
    const song = makeSong();
    repo.create(song);
    // Every JSON.parse while the record is read and written as an answer.
    const parsed: string[] = [];
    const parse = JSON.parse;
    let got: Song;
    let text: string;
    JSON.parse = ((t: string, r?: never) => (parsed.push(t), parse(t, r))) as typeof JSON.parse;
    try {
      got = repo.get(song.id);
      text = stringifyAnswer({ jsonrpc: '2.0', id: 1, result: got });
    } finally {
      JSON.parse = parse;
    }
    const row = ts.store.db.prepare('SELECT sections_json, mix_graph_json FROM songs WHERE id = ?').get(song.id) as Record<string, string>;
    expect(parsed.filter((t) => t === row.sections_json || t === row.mix_graph_json), 'parts parsed for an answer').to.deep.equal([]);
    expect(text).to.include(`"sections":${row.sections_json}`).and.include(`"mixGraph":${row.mix_graph_json}`);
    // The model is what it was: the same keys in the same order, its parts as values (parsed now).
    expect(Object.keys(got)).to.deep.equal(Object.keys(fromRow(songs, ts.store.db.prepare('SELECT * FROM songs WHERE id = ?').get(song.id) as Row)));
    expect(got).to.deep.equal(stored(song, T0));
    expect(got.sections).to.equal(got.sections, 'parsed once, then an ordinary property');
    got.mixGraph = { tracks: [] };
    expect(got.mixGraph).to.deep.equal({ tracks: [] });
    expect({ ...repo.get(song.id) }.sections).to.deep.equal(song.sections);
  });

  it('getAnswer is the text an answer writes for get, without a model; a missing id is NotFound', () => {
    const song = makeSong();
    delete song.realizationPolicy;
    repo.create(song);
    const answer = repo.getAnswer(song.id);
    expect(answer).to.be.instanceOf(RawJson);
    expect(answer.text).to.equal(stringifyAnswer(repo.get(song.id)));
    expect(JSON.parse(answer.text)).to.deep.equal(stored(song, T0));
    // The stored parts are pieces of their own: the writer sends them as read, never copied into one string.
    const row = ts.store.db.prepare('SELECT sections_json, mix_graph_json FROM songs WHERE id = ?').get(song.id) as Record<string, string>;
    expect(answer.pieces).to.include(row.sections_json).and.include(row.mix_graph_json);
    expect(answer.pieces.join('')).to.equal(answer.text);
    const err = thrown(() => repo.getAnswer('nope'));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32001);
    expect(err.data).to.deep.equal({ entity: 'songs', id: 'nope' });
  });

  it('creating a song without an id generates a UUID', () => {
    const { id: _drop, ...song } = makeSong();
    const created = repo.create(song);
    expect(created.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(repo.get(created.id)).to.deep.equal(created);
  });

  it('creating a song keeps a createdAt the item carries, and updatedAt is the store clock', () => {
    const song = makeSong({ createdAt: 1_000 });
    const created = repo.create(song);
    expect(created.createdAt).to.equal(1_000);
    expect(created.updatedAt).to.equal(T0);
  });

  it('absent optional fields are omitted on the way back, not returned as null', () => {
    const song = makeSong();
    delete song.metadata.composer;
    delete song.metadata.rating;
    delete song.metadata.duration;
    delete song.realizationPolicy;
    const got = repo.get(repo.create(song).id);
    expect(got.metadata).to.not.have.any.keys('composer', 'rating', 'duration');
    expect(got).to.not.have.property('realizationPolicy');
    expect(got).to.not.have.property('lastPlayedAt');
  });

  it('creating an existing id is AlreadyExists (-32003) and leaves the stored song as it was', () => {
    const song = makeSong();
    repo.create(song);
    const before = repo.get(song.id);
    const err = thrown(() => repo.create({ ...song, name: 'Other' }));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32003);
    expect(err.data).to.deep.equal({ entity: 'songs', id: song.id });
    expect(repo.get(song.id)).to.deep.equal(before);
    expect(ts.commits).to.have.length(1);
  });

  it('getting a missing id is NotFound (-32001) naming the entity and id', () => {
    const err = thrown(() => repo.get('nope'));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32001);
    expect(err.data).to.deep.equal({ entity: 'songs', id: 'nope' });
  });

  it('create announces one insert change after the commit', () => {
    const song = makeSong();
    repo.create(song);
    expect(ts.commits).to.deep.equal([[{ entity: 'songs', op: 'insert', ids: [song.id], revisions: { [song.id]: 1 } }]]);
  });
});

describe('Repository (songs): update, save and revisions', () => {
  let ts: TempStore;
  let repo: Repository<Song>;
  withFreshRepo((t, r) => {
    ts = t;
    repo = r;
  });

  it('update replaces the song, advances the revision by 1, keeps createdAt and sets updatedAt from store.now', () => {
    const song = makeSong();
    repo.create(song);
    ts.clock.set(T0 + 5_000);
    const changed = { ...song, name: 'Renamed', metadata: { ...song.metadata, tempo: 90 }, createdAt: 42 };
    const updated = upd(repo, changed);
    expect(updated.revision).to.equal(2);
    expect(updated.createdAt).to.equal(T0);
    expect(updated.updatedAt).to.equal(T0 + 5_000);
    expect(updated.name).to.equal('Renamed');
    expect(updated.metadata.tempo).to.equal(90);
    expect(repo.get(song.id)).to.deep.equal(updated);
    ts.clock.set(T0 + 9_000);
    expect(upd(repo, changed).revision).to.equal(3);
  });

  it('update replaces whole: an optional field the item no longer carries is removed', () => {
    const song = makeSong();
    repo.create(song);
    const { composer: _c, ...metadata } = song.metadata;
    const updated = upd(repo, { ...song, metadata });
    expect(updated.metadata).to.not.have.property('composer');
    expect(repo.get(song.id).metadata).to.not.have.property('composer');
  });

  it('update of a missing id is NotFound (-32001) and writes nothing', () => {
    const err = thrown(() => upd(repo, makeSong({ id: 'ghost' })));
    expect(err.code).to.equal(-32001);
    expect(err.data).to.deep.equal({ entity: 'songs', id: 'ghost' });
    expect(repo.count()).to.equal(0);
    expect(ts.commits).to.have.length(0);
  });

  it('update with the current ifRevision succeeds; with a stale one it is Conflict (-32002) and changes nothing', () => {
    const song = makeSong();
    repo.create(song);
    expect(upd(repo, { ...song, name: 'v2' }, 1).revision).to.equal(2);
    const before = repo.get(song.id);
    const commits = ts.commits.length;
    const err = thrown(() => upd(repo, { ...song, name: 'stale' }, 1));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32002);
    expect(err.data).to.deep.equal({ entity: 'songs', id: song.id, expected: 1, actual: 2 });
    expect(repo.get(song.id)).to.deep.equal(before);
    expect(ts.commits).to.have.length(commits);
  });

  it('update and save keep isFavorite, playCount and lastPlayedAt when the item does not carry them', () => {
    const song = makeSong();
    repo.create(song);
    repo.setFields(song.id, { isFavorite: true, lastPlayedAt: 123_456 }, { increment: ['playCount'] });
    repo.setFields(song.id, {}, { increment: ['playCount'] });
    const u = upd(repo, { ...song, name: 'after update' });
    expect(u).to.include({ isFavorite: true, playCount: 2, lastPlayedAt: 123_456 });
    const s = repo.save({ ...song, name: 'after save' });
    expect(s).to.include({ isFavorite: true, playCount: 2, lastPlayedAt: 123_456, name: 'after save' });
    expect(repo.get(song.id)).to.include({ isFavorite: true, playCount: 2, lastPlayedAt: 123_456 });
  });

  it('update and save that do carry play state overwrite it, false and 0 included', () => {
    const song = makeSong();
    repo.create(song);
    repo.setFields(song.id, { isFavorite: true, lastPlayedAt: 5 }, { increment: ['playCount'] });
    const u = upd(repo, { ...song, isFavorite: false, playCount: 0, lastPlayedAt: 7 });
    expect(u).to.include({ isFavorite: false, playCount: 0, lastPlayedAt: 7 });
    const s = repo.save({ ...song, isFavorite: true, playCount: 10 });
    expect(s).to.include({ isFavorite: true, playCount: 10, lastPlayedAt: 7 });
  });

  it('save inserts a new song (revision 1, op insert) and updates an existing one in place (op update)', () => {
    const song = makeSong();
    const first = repo.save(song);
    expect(first).to.deep.equal(stored(song, T0));
    ts.clock.set(T0 + 100);
    const second = repo.save({ ...song, name: 'Saved again' });
    expect(second.revision).to.equal(2);
    expect(second.createdAt).to.equal(T0);
    expect(second.updatedAt).to.equal(T0 + 100);
    expect(ts.commits).to.deep.equal([
      [{ entity: 'songs', op: 'insert', ids: [song.id], revisions: { [song.id]: 1 } }],
      [{ entity: 'songs', op: 'update', ids: [song.id], revisions: { [song.id]: 2 } }],
    ]);
  });

  it('saving an existing song never deletes its performances or autosaves', () => {
    const song = makeSong();
    repo.create(song);
    insertPerformance(ts, 'p1', song.id);
    insertAutosave(ts, 'a1', song.id, 'p1');
    repo.save({ ...song, name: 'upserted' });
    upd(repo, { ...song, name: 'updated' });
    expect(countRows(ts, 'performances')).to.equal(1);
    expect(countRows(ts, 'autosaves')).to.equal(1);
    expect(ts.commits.flat().filter((c) => c.op === 'delete')).to.deep.equal([]);
  });

  it('setFields advances the revision but not updatedAt, increments integers, and honours ifRevision', () => {
    const song = makeSong();
    repo.create(song);
    ts.clock.set(T0 + 60_000);
    const r = repo.setFields(song.id, { isFavorite: true }, { ifRevision: 1 });
    expect(r).to.include({ isFavorite: true, revision: 2, updatedAt: T0 });
    const p = repo.setFields(song.id, { lastPlayedAt: T0 + 60_000 }, { increment: ['playCount'] });
    expect(p).to.include({ playCount: 1, lastPlayedAt: T0 + 60_000, revision: 3, updatedAt: T0 });
    const err = thrown(() => repo.setFields(song.id, { isFavorite: false }, { ifRevision: 2 }));
    expect(err.code).to.equal(-32002);
    expect(err.data).to.deep.equal({ entity: 'songs', id: song.id, expected: 2, actual: 3 });
    expect(repo.get(song.id).isFavorite).to.equal(true);
    const missing = thrown(() => repo.setFields('ghost', { isFavorite: true }));
    expect(missing.code).to.equal(-32001);
    expect(ts.commits.slice(1)).to.deep.equal([
      [{ entity: 'songs', op: 'update', ids: [song.id], revisions: { [song.id]: 2 } }],
      [{ entity: 'songs', op: 'update', ids: [song.id], revisions: { [song.id]: 3 } }],
    ]);
  });
});

describe('Repository (songs): delete and cascades', () => {
  let ts: TempStore;
  let repo: Repository<Song>;
  withFreshRepo((t, r) => {
    ts = t;
    repo = r;
  });

  it('deleting a song removes its performances and autosaves and says how many of each', () => {
    const a = makeSong();
    const b = makeSong();
    repo.create(a);
    repo.create(b);
    insertPerformance(ts, 'pa1', a.id);
    insertPerformance(ts, 'pa2', a.id);
    insertPerformance(ts, 'pb1', b.id);
    insertAutosave(ts, 'as1', a.id); // song only
    insertAutosave(ts, 'as2', a.id, 'pa1'); // song and one of its performances: counted once
    insertAutosave(ts, 'bs1', b.id, 'pb1');
    ts.commits.length = 0;

    const result = repo.delete(a.id);
    expect(result).to.deep.equal({ ids: [a.id], count: 1, cascaded: { performances: 2, autosaves: 2 } });
    expect(thrown(() => repo.get(a.id)).code).to.equal(-32001);
    expect(ts.store.db.prepare('SELECT id FROM performances ORDER BY id').pluck().all()).to.deep.equal(['pb1']);
    expect(ts.store.db.prepare('SELECT id FROM autosaves ORDER BY id').pluck().all()).to.deep.equal(['bs1']);
    expect(ts.commits).to.have.length(1);
    expect(normaliseChanges(ts.commits[0]!)).to.deep.equal([
      { entity: 'autosaves', op: 'delete', ids: ['as1', 'as2'] },
      { entity: 'performances', op: 'delete', ids: ['pa1', 'pa2'] },
      { entity: 'songs', op: 'delete', ids: [a.id] },
    ]);
  });

  it('deleting a song with nothing attached reports zero cascades and announces only the song', () => {
    const song = makeSong();
    repo.create(song);
    ts.commits.length = 0;
    const result = repo.delete(song.id);
    expect(result.ids).to.deep.equal([song.id]);
    expect(result.count).to.equal(1);
    for (const n of Object.values(result.cascaded)) expect(n).to.equal(0);
    expect(ts.commits).to.deep.equal([[{ entity: 'songs', op: 'delete', ids: [song.id] }]]);
  });

  it('delete of a missing id is NotFound (-32001); with a stale ifRevision it is Conflict (-32002) and nothing is deleted', () => {
    const song = makeSong();
    repo.create(song);
    upd(repo, song);
    insertPerformance(ts, 'p1', song.id);
    ts.commits.length = 0;
    expect(thrown(() => repo.delete('ghost')).code).to.equal(-32001);
    const err = thrown(() => repo.delete(song.id, 1));
    expect(err.code).to.equal(-32002);
    expect(err.data).to.deep.equal({ entity: 'songs', id: song.id, expected: 1, actual: 2 });
    expect(repo.get(song.id).revision).to.equal(2);
    expect(countRows(ts, 'performances')).to.equal(1);
    expect(ts.commits).to.deep.equal([]);
    expect(repo.delete(song.id, 2).count).to.equal(1);
  });

  it('deleteMany removes every id and its cascades in one transaction with one announcement per entity and op', () => {
    const list = [makeSong(), makeSong(), makeSong()];
    for (const s of list) repo.create(s);
    insertPerformance(ts, 'p0', list[0]!.id);
    insertPerformance(ts, 'p2', list[2]!.id);
    insertAutosave(ts, 'a2', list[2]!.id, 'p2');
    ts.commits.length = 0;
    const ids = list.map((s) => s.id as string);
    const result = repo.deleteMany(ids);
    expect(result).to.deep.equal({ ids, count: 3, cascaded: { performances: 2, autosaves: 1 } });
    expect(repo.count()).to.equal(0);
    expect(ts.commits).to.have.length(1);
    expect(normaliseChanges(ts.commits[0]!)).to.deep.equal([
      { entity: 'autosaves', op: 'delete', ids: ['a2'] },
      { entity: 'performances', op: 'delete', ids: ['p0', 'p2'] },
      { entity: 'songs', op: 'delete', ids: [...ids].sort() },
    ]);
  });

  it('deleteMany with a missing 3rd of 5 ids is NotFound naming it, deletes nothing and announces nothing', () => {
    const list = [makeSong(), makeSong(), makeSong(), makeSong()];
    for (const s of list) repo.create(s);
    insertPerformance(ts, 'p0', list[0]!.id);
    ts.commits.length = 0;
    const ids = [list[0]!.id, list[1]!.id, 'missing-one', list[2]!.id, list[3]!.id];
    const err = thrown(() => repo.deleteMany(ids));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32001);
    expect(err.data).to.deep.equal({ entity: 'songs', id: 'missing-one' });
    expect(repo.count()).to.equal(4);
    expect(countRows(ts, 'performances')).to.equal(1);
    expect(ts.commits).to.deep.equal([]);
  });
});

describe('Repository (songs): transactions and store.changed announcements', () => {
  let ts: TempStore;
  let repo: Repository<Song>;
  withFreshRepo((t, r) => {
    ts = t;
    repo = r;
  });

  it('saveMany writes all items in one transaction and announces one change per op', () => {
    const existing = makeSong();
    repo.create(existing);
    ts.commits.length = 0;
    const a = makeSong();
    const b = makeSong();
    const out = repo.saveMany([a, { ...existing, name: 'changed' }, b]);
    expect(out.map((s) => s.revision)).to.deep.equal([1, 2, 1]);
    expect(out.map((s) => s.id)).to.deep.equal([a.id, existing.id, b.id]);
    expect(ts.commits).to.have.length(1);
    expect(normaliseChanges(ts.commits[0]!)).to.deep.equal(
      normaliseChanges([
        { entity: 'songs', op: 'insert', ids: [a.id, b.id] },
        { entity: 'songs', op: 'update', ids: [existing.id] },
      ]),
    );
  });

  it('saveMany whose 3rd of 5 items breaks a CHECK constraint writes nothing and announces nothing', () => {
    const existing = makeSong();
    repo.create(existing);
    const before = repo.get(existing.id);
    ts.commits.length = 0;
    const bad = makeSong();
    bad.metadata.rating = 9; // bypasses the schemas: only the table's CHECK refuses it
    const items = [{ ...existing, name: 'would change' }, makeSong(), bad, makeSong(), makeSong()];
    const err = thrown(() => repo.saveMany(items));
    expect(err).to.be.instanceOf(SqliteError);
    expect(err.code).to.equal('SQLITE_CONSTRAINT_CHECK');
    expect(repo.count()).to.equal(1);
    expect(repo.get(existing.id)).to.deep.equal(before);
    expect(ts.commits).to.deep.equal([]);
    expect(ts.store.db.inTransaction).to.equal(false);
  });

  it('a write that throws is rolled back whole and announces nothing; the next write announces only itself', () => {
    const keep = makeSong();
    repo.create(keep);
    insertPerformance(ts, 'p1', keep.id);
    ts.commits.length = 0;
    const fresh = makeSong();
    expect(() =>
      ts.store.write(() => {
        repo.create(fresh);
        repo.delete(keep.id);
        throw new Error('boom');
      }),
    ).to.throw('boom');
    expect(ts.commits).to.deep.equal([]);
    expect(repo.get(keep.id).name).to.equal(keep.name);
    expect(countRows(ts, 'performances')).to.equal(1);
    expect(thrown(() => repo.get(fresh.id)).code).to.equal(-32001);
    const next = makeSong();
    repo.create(next);
    expect(ts.commits).to.deep.equal([[{ entity: 'songs', op: 'insert', ids: [next.id], revisions: { [next.id]: 1 } }]]);
  });

  it('writes joined into one transaction announce their changes together once it commits', () => {
    const a = makeSong();
    const b = makeSong();
    repo.create(a);
    ts.commits.length = 0;
    let seenInside = -1;
    ts.store.write(() => {
      repo.create(b);
      upd(repo, { ...a, name: 'joined' });
      seenInside = ts.commits.length;
    });
    expect(seenInside).to.equal(0);
    expect(ts.commits).to.deep.equal([
      [
        { entity: 'songs', op: 'insert', ids: [b.id], revisions: { [b.id]: 1 } },
        { entity: 'songs', op: 'update', ids: [a.id], revisions: { [a.id]: 2 } },
      ],
    ]);
  });
});

describe('Repository (songs): list, count and cursors', () => {
  let ts: TempStore;
  let repo: Repository<Song>;
  withFreshRepo((t, r) => {
    ts = t;
    repo = r;
  });

  /** 40 songs with heavy ties in every sort key, ids in no particular order. */
  function seedTies(): Song[] {
    const names = ['alpha', 'Alpha', 'ALPHA', 'beta', 'Beta', 'gamma'];
    const out: Song[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `id-${((i * 7919) % 97).toString().padStart(2, '0')}-${i}`;
      ts.clock.set(T0 + (i % 3) * 1000); // 3 distinct updatedAt values
      out.push(repo.create(makeSong({ id, name: names[i % names.length], createdAt: T0 - (i % 2) })));
    }
    return out;
  }

  const keyOf = (s: Song, orderBy: OrderBy): string | number =>
    orderBy === 'name' ? (s.name as string).toLowerCase() : orderBy === 'createdAt' ? s.createdAt : s.updatedAt;

  function expectedOrder(all: Song[], orderBy: OrderBy, direction: Direction): string[] {
    const sorted = [...all].sort((x, y) => {
      const a = keyOf(x, orderBy);
      const b = keyOf(y, orderBy);
      if (a !== b) return a < b ? -1 : 1;
      return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
    });
    if (direction === 'desc') sorted.reverse();
    return sorted.map((s) => s.id as string);
  }

  function pageThrough(orderBy: OrderBy, direction: Direction, limit: number): string[] {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = repo.list({ orderBy, direction, limit, cursor });
      expect(page.items.length).to.be.at.most(limit);
      ids.push(...page.items.map((s) => s.id as string));
      if (!page.nextCursor) return ids;
      cursor = page.nextCursor;
    }
    throw new Error('pagination did not end');
  }

  for (const orderBy of ['updatedAt', 'createdAt', 'name'] as const) {
    for (const direction of ['asc', 'desc'] as const) {
      it(`pages ordered by ${orderBy} ${direction} reach every row exactly once despite ties`, () => {
        const all = seedTies();
        const expected = expectedOrder(all, orderBy, direction);
        for (const limit of [1, 4, 7, 40, 100]) {
          const ids = pageThrough(orderBy, direction, limit);
          expect(ids, `limit ${limit}`).to.deep.equal(expected);
          expect(new Set(ids).size).to.equal(40);
        }
      });
    }
  }

  it('the default order is updatedAt descending, and name ascending when ordering by name', () => {
    const all = seedTies();
    expect(repo.list({ limit: 100 }).items.map((s) => s.id)).to.deep.equal(expectedOrder(all, 'updatedAt', 'desc'));
    expect(repo.list({ limit: 100, orderBy: 'name' }).items.map((s) => s.id)).to.deep.equal(
      expectedOrder(all, 'name', 'asc'),
    );
  });

  it(`a page holds at most ${DEFAULT_PAGE_SIZE} items by default and the last page has no nextCursor`, () => {
    ts.store.write(() => {
      for (let i = 0; i < DEFAULT_PAGE_SIZE + 3; i++) repo.create(makeSong());
    });
    const first = repo.list();
    expect(first.items).to.have.length(DEFAULT_PAGE_SIZE);
    expect(first.nextCursor).to.be.a('string');
    const second = repo.list({ cursor: first.nextCursor });
    expect(second.items).to.have.length(3);
    expect(second).to.not.have.property('nextCursor');
  });

  it('a page that ends exactly at the last row has no nextCursor', () => {
    for (let i = 0; i < 4; i++) repo.create(makeSong());
    const page = repo.list({ limit: 4 });
    expect(page.items).to.have.length(4);
    expect(page.nextCursor).to.equal(undefined);
  });

  it('rows inserted between pages before the cursor are neither repeated nor make the walk skip a row', () => {
    const all = seedTies();
    const first = repo.list({ limit: 10 });
    ts.clock.set(T0 + 10_000);
    repo.create(makeSong({ id: 'newest' })); // sorts first in updatedAt desc: before the cursor
    const rest: string[] = [];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = repo.list({ limit: 10, cursor });
      rest.push(...page.items.map((s) => s.id as string));
      cursor = page.nextCursor;
    }
    const seen = [...first.items.map((s) => s.id as string), ...rest];
    expect(seen).to.deep.equal(expectedOrder(all, 'updatedAt', 'desc'));
  });

  it('a damaged cursor, or one made for another order, is InvalidParams (-32602) at /cursor', () => {
    seedTies();
    const { nextCursor } = repo.list({ limit: 5, orderBy: 'name' });
    const other = thrown(() => repo.list({ cursor: nextCursor }));
    expect(other.code).to.equal(-32602);
    expect(other.data.errors[0].path).to.equal('/cursor');
    const otherDir = thrown(() => repo.list({ cursor: nextCursor, orderBy: 'name', direction: 'desc' }));
    expect(otherDir.code).to.equal(-32602);
    for (const bad of ['not-a-cursor', '', Buffer.from('[1,2]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')]) {
      const err = thrown(() => repo.list({ cursor: bad }));
      expect(err.code, bad).to.equal(-32602);
      expect(err.data.errors[0].path).to.equal('/cursor');
    }
  });

  it('refuses a name-order cursor made before the sort keys were made again (another folding), and takes its own', () => {
    repo.create(makeSong({ name: 'a' }));
    repo.create(makeSong({ name: 'b' }));
    const first = repo.list({ orderBy: 'name', limit: 1 });
    expect(repo.list({ orderBy: 'name', limit: 1, cursor: first.nextCursor }).items.map((s) => s.name)).to.deep.equal(['b']);
    // The same walk's cursor as binaries with other keys made it: before sort keys (no folding
    // named), and with another folding.
    const [orderBy, direction, value, id] = JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString()) as [OrderBy, Direction, string, string];
    for (const scope of [{}, { '(name order)': 'an older folding' }]) {
      const e = thrown(() => repo.list({ orderBy: 'name', limit: 1, cursor: encodeCursor(orderBy, direction, value, id, scope) }));
      expect(e, JSON.stringify(scope)).to.be.instanceOf(RpcError);
      expect((e as RpcError).code).to.equal(-32602);
    }
  });

  it('name order walks the stored key\'s index (name_key, id), both ways, first page and after a cursor: no sort, no scan', () => {
    for (const name of ['Émile', 'emile', 'Ñandu', 'nandu', 'Zoë', 'apple']) repo.create(makeSong({ name }));
    // The SQL each list runs, as the repository prepares it.
    const seen: string[] = [];
    const db = ts.store.db;
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => (seen.push(sql), prepare(sql))) as typeof db.prepare;
    try {
      for (const direction of ['asc', 'desc'] as const) {
        const first = repo.list({ orderBy: 'name', direction, limit: 2 });
        repo.list({ orderBy: 'name', direction, limit: 2, cursor: first.nextCursor });
      }
    } finally {
      db.prepare = prepare;
    }
    const lists = seen.filter((sql) => /ORDER BY "name_key"/.test(sql));
    expect(lists).to.have.length(4);
    for (const sql of lists) {
      const params = { limit: 3, ...(sql.includes('@cursor_value') ? { cursor_value: 'emile', cursor_id: 'x' } : {}) };
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map((r) => r.detail).join('; ');
      expect(plan, sql).to.match(/USING (COVERING )?INDEX idx_songs_name/);
      expect(plan, sql).to.not.match(/TEMP B-TREE|SCAN songs(?! USING)/);
    }
  });

  it('list and count filter by isFavorite and genre', () => {
    const a = repo.create(makeSong({ metadata: { ...makeSong().metadata, genre: 'rock' } }));
    const b = repo.create(makeSong({ metadata: { ...makeSong().metadata, genre: 'jazz' } }));
    const c = repo.create(makeSong({ metadata: { ...makeSong().metadata, genre: 'rock' } }));
    repo.setFields(c.id, { isFavorite: true });
    repo.setFields(b.id, { isFavorite: true });
    expect(repo.count()).to.equal(3);
    expect(repo.count({ genre: 'rock' })).to.equal(2);
    expect(repo.count({ isFavorite: true })).to.equal(2);
    expect(repo.count({ isFavorite: false })).to.equal(1);
    expect(repo.count({ isFavorite: true, genre: 'rock' })).to.equal(1);
    expect(repo.count({ genre: undefined })).to.equal(3);
    expect(repo.count({ genre: 'none' })).to.equal(0);
    const rock = repo.list({ filters: { genre: 'rock' }, orderBy: 'createdAt', limit: 1 });
    expect(rock.items).to.have.length(1);
    const rest = repo.list({ filters: { genre: 'rock' }, orderBy: 'createdAt', limit: 1, cursor: rock.nextCursor });
    expect([...rock.items, ...rest.items].map((s) => s.id).sort()).to.deep.equal([a.id, c.id].sort());
    expect(rest.nextCursor).to.equal(undefined);
    expect(repo.list({ filters: { isFavorite: false } }).items.map((s) => s.id)).to.deep.equal([a.id]);
  });
});

describe('Repository (songs): full-text search', () => {
  let ts: TempStore;
  let repo: Repository<Song>;
  withFreshRepo((t, r) => {
    ts = t;
    repo = r;
  });

  const song = (name: string, meta: Record<string, unknown> = {}): Song =>
    repo.create(makeSong({ name, metadata: { ...makeSong().metadata, composer: 'Nobody', comments: 'none', genre: 'misc', mood: 'neutral', tags: [], ...meta } }));

  it('every word must match a word or the start of one, ignoring case and diacritics', () => {
    const a = song('Déjà Vu Blues');
    const b = song('Blue in Green');
    song('Autumn Leaves');
    expect(repo.search('blue').items.map((s) => s.id).sort()).to.deep.equal([a.id, b.id].sort());
    expect(repo.search('DEJA').items.map((s) => s.id)).to.deep.equal([a.id]);
    expect(repo.search('blu gre').items.map((s) => s.id)).to.deep.equal([b.id]);
    expect(repo.search('blue autumn').items).to.deep.equal([]);
  });

  it('finds songs by composer, genre, mood, tags and comments, name matches ranked first', () => {
    const inComments = song('One', { comments: 'recorded with a mellotron' });
    const inName = song('Mellotron Dreams');
    const byTag = song('Two', { tags: ['vaporwave'] });
    const byComposer = song('Three', { composer: 'Zawinul' });
    expect(repo.search('mellotron').items.map((s) => s.id)).to.deep.equal([inName.id, inComments.id]);
    expect(repo.search('vaporwave').items.map((s) => s.id)).to.deep.equal([byTag.id]);
    expect(repo.search('zawinul').items.map((s) => s.id)).to.deep.equal([byComposer.id]);
  });

  it('the index follows updates and deletes', () => {
    const s = song('Giant Steps');
    upd(repo, { ...repo.get(s.id), name: 'Naima' });
    expect(repo.search('giant').items).to.deep.equal([]);
    expect(repo.search('naima').items.map((x) => x.id)).to.deep.equal([s.id]);
    repo.delete(s.id);
    expect(repo.search('naima').items).to.deep.equal([]);
  });

  it('FTS5 syntax in the query is read as plain words, and a query without words finds nothing', () => {
    const s = song('Near or Far');
    expect(repo.search('NEAR(or far)').items.map((x) => x.id)).to.deep.equal([s.id]);
    expect(repo.search('"near" OR "zzz"').items).to.deep.equal([]);
    expect(repo.search('name:near* -far ^').items).to.deep.equal([]);
    expect(repo.search('*** ""').items).to.deep.equal([]);
    expect(repo.search('').items).to.deep.equal([]);
  });

  it('the limit caps how many results come back', () => {
    for (let i = 0; i < 5; i++) song(`Loop ${i}`);
    expect(repo.search('loop', { limit: 3 }).items).to.have.length(3);
    expect(repo.search('loop').items).to.have.length(5);
  });
});

describe('ftsQuery', () => {
  it('quotes every word as a prefix phrase', () => {
    expect(ftsQuery('Bey live')).to.equal('"Bey"* "live"*');
  });

  it('folds each word as the index does (the tokenizer then ignores case and accents)', () => {
    expect(ftsQuery('Beyoncé Łódź Süß')).to.equal('"Beyonce"* "Lodz"* "Suss"*');
  });

  it('drops punctuation and FTS5 operators become plain words', () => {
    expect(ftsQuery('rock-n-roll (live) "best" AND NOT x*')).to.equal(
      '"rock"* "n"* "roll"* "live"* "best"* "AND"* "NOT"* "x"*',
    );
    expect(ftsQuery(`a"b'c:d^e`)).to.equal('"a"* "b"* "c"* "d"* "e"*');
  });

  it('keeps letters, digits and combining marks of any script', () => {
    expect(ftsQuery('東京 2024 cafe\u0301')).to.equal('"東京"* "2024"* "cafe\u0301"*');
  });

  it('answers undefined when there is no word', () => {
    expect(ftsQuery('')).to.equal(undefined);
    expect(ftsQuery('  -- !! "" ** ')).to.equal(undefined);
  });

  it(`uses at most MAX_SEARCH_TERMS (${MAX_SEARCH_TERMS}) words`, () => {
    const words = Array.from({ length: MAX_SEARCH_TERMS + 10 }, (_, i) => `w${i}`);
    const q = ftsQuery(words.join(' '))!;
    const terms = q.split(' ');
    expect(terms).to.have.length(MAX_SEARCH_TERMS);
    expect(terms[0]).to.equal('"w0"*');
    expect(terms[MAX_SEARCH_TERMS - 1]).to.equal(`"w${MAX_SEARCH_TERMS - 1}"*`);
  });
});

// -----------------------------------------------------------------------------------------------
// Property: arbitrary structured JSON round-trips deep-equal
// -----------------------------------------------------------------------------------------------

/** JSON.stringify writes -0 as 0, so the model a host can send never holds -0. */
function withoutNegativeZero<T>(v: T): T {
  if (typeof v === 'number') return (Object.is(v, -0) ? 0 : v) as T;
  if (Array.isArray(v)) return v.map(withoutNegativeZero) as T;
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      Object.defineProperty(out, k, { value: withoutNegativeZero(x), enumerable: true, writable: true, configurable: true });
    }
    return out as T;
  }
  return v;
}

const text = fc.string({ unit: 'grapheme', maxLength: 30 });
const jsonObject = fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });
const finite = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));

const songArb = fc
  .record(
    {
      name: text.filter((s) => s.length > 0),
      version: fc.string({ maxLength: 10 }),
      createdAt: fc.integer({ min: 0, max: 2 ** 45 }),
      metadata: fc.record(
        {
          tempo: finite(0.001, 10000),
          timeSignature: fc.tuple(fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 256 })),
          duration: finite(0, 1e6),
          key: text,
          tags: fc.array(text, { maxLength: 5 }),
          composer: text,
          genre: text,
          mood: text,
          comments: text,
          difficulty: fc.constantFrom('beginner', 'intermediate', 'advanced', 'expert'),
          rating: fc.integer({ min: 1, max: 5 }),
        },
        { requiredKeys: ['tempo', 'timeSignature', 'tags'] },
      ),
      determinismSeed: text,
      realizationPolicy: jsonObject,
      sections: fc.array(jsonObject, { maxLength: 4 }),
      roles: fc.array(
        fc.record({
          id: text.filter((s) => s.length > 0),
          name: text,
          type: text,
          generatorConfig: jsonObject,
          parameters: jsonObject,
          extra: fc.jsonValue({ maxDepth: 3 }),
        }),
        { maxLength: 3 },
      ),
      projections: fc.array(jsonObject, { maxLength: 3 }),
      mixGraph: fc.record({ tracks: fc.array(jsonObject, { maxLength: 3 }), buses: fc.jsonValue({ maxDepth: 3 }) }),
      isFavorite: fc.boolean(),
      playCount: fc.nat(),
      lastPlayedAt: fc.integer({ min: 0, max: 2 ** 45 }),
    },
    {
      requiredKeys: ['name', 'metadata', 'determinismSeed', 'sections', 'roles', 'projections', 'mixGraph'],
    },
  )
  .map(withoutNegativeZero);

describe('Repository (songs): structured parts round-trip (property)', () => {
  let ts: TempStore;
  let repo: Repository<Song>;
  before(async () => {
    ts = await openTempStore(T0);
    repo = new Repository<Song>(ts.store, songs);
  });
  after(() => ts.cleanup());

  it('any song with arbitrary JSON in its structured parts comes back deep-equal from save then get', () => {
    let n = 0;
    fc.assert(
      fc.property(songArb, (song) => {
        const id = `prop-${n++}`;
        const input = { ...song, id };
        const saved = repo.save(input);
        const got = repo.get(id);
        const expected = {
          version: '1.0',
          isFavorite: false,
          playCount: 0,
          createdAt: T0,
          ...input,
          updatedAt: T0,
          revision: 1,
        };
        expect(got).to.deep.equal(expected);
        expect(saved).to.deep.equal(expected);
      }),
      { numRuns: 100 },
    );
  });
});

describe('Store: what it reads from the schema itself', () => {
  let ts: TempStore;
  beforeEach(async () => {
    ts = await openTempStore(T0);
  });
  afterEach(() => ts.cleanup());

  it('columnDefaults are the literal DEFAULTs of sql/0001, as stored values', () => {
    expect(ts.store.columnDefaults('songs')).to.deep.include({ version: '1.0', tags: '[]', is_favorite: 0, play_count: 0, tempo: 120 });
    expect(ts.store.columnDefaults('user_preferences')).to.deep.include({ theme: 'system', sample_rate: 44100, default_key: 'C major' });
    expect(ts.store.columnDefaults('songs')).to.not.have.property('name');
  });

  it("every default rpc-schema gives a field is its column's DEFAULT in sql/, where the column has one", async () => {
    // The schemas are where defaults are written (docs/api.md and rpc.discover show them); the
    // migrations, which are never edited, hold their own. They must say the same.
    const entities = await import('../../src/store/entities.js');
    let compared = 0;
    for (const desc of [...Object.values(entities.ENTITIES), entities.preferences]) {
      const columns = ts.store.columnDefaults(desc.table);
      for (const f of desc.fields) {
        if (f.default === undefined) continue;
        const values = f.codec.toDb(f.default);
        f.columns.forEach((c, i) => {
          if (!(c in columns)) return;
          expect(values[i], `${desc.entity}.${f.path} (${c})`).to.deep.equal(columns[c]);
          compared++;
        });
      }
    }
    expect(compared).to.be.at.least(60);
    // And every NOT NULL column without a DEFAULT is a field the schema requires, or gives a default.
    const required: Record<string, string[]> = {
      songs: ['name', 'determinismSeed'],
      performances: ['songId', 'name', 'arrangementStyle'],
      instruments: ['name', 'type'],
      voices: ['instrumentId', 'name', 'number'],
      presets: ['instrumentId', 'name'],
    };
    for (const desc of Object.values(entities.ENTITIES)) {
      const notNull = (ts.store.db.pragma(`table_info(${desc.table})`) as { name: string; notnull: number; dflt_value: unknown }[])
        .filter((c) => c.notnull && c.dflt_value === null)
        .map((c) => c.name);
      for (const f of desc.fields) {
        if (!f.columns.some((c) => notNull.includes(c))) continue;
        expect(f.default !== undefined || f.generate !== undefined || required[desc.entity]!.includes(f.path), `${desc.entity}.${f.path}`).to.equal(true);
      }
    }
  });

  it('sqlLiteral reads quoted text (with doubled quotes), numbers and NULL, and nothing else', async () => {
    const { sqlLiteral } = await import('../../src/store/store.js');
    expect(sqlLiteral("'it''s'")).to.equal("it's");
    expect(sqlLiteral('-1.5e3')).to.equal(-1500);
    expect(sqlLiteral('NULL')).to.equal(null);
    expect(sqlLiteral('CURRENT_TIMESTAMP')).to.equal(undefined);
    expect(sqlLiteral(null)).to.equal(undefined);
  });
});
