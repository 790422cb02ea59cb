/**
 * songs.*: every method of the family, through the real process and the typed client
 * (src/client/, as a host calls it; NDJSON framing; the core verbs also over Content-Length
 * framing, and a JSON-RPC batch in both framings as raw protocol). Every successful answer is
 * checked against the method's result schema as it arrives; every failure against the contract's
 * error table; database state afterwards is read back through the API or, with the sidecar
 * stopped, from data.db.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { WhiteroomError, type WhiteroomClient } from '../../src/client/index.js';
import { resultValidator } from '../../src/methods/index.js';
import { makeSong as fixtureSong } from '../helpers/fixtures.js';
import { normalized } from '../helpers/rpc.js';
import { cleanupClient, invalid, nonEmpty, notifications, rejects, spawnClient, stopClient, tracked, walk, type ClientStartOptions } from '../helpers/client.js';
import { StoreProcess, tempDir, type Framing, type RpcResponse } from '../helpers/process.js';
import { sleep } from '../helpers/check.js';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** A song as these tests build and read it (fixtures are plain objects; answers are StoredSong). */
type Song = any;

/** A complete song (test/helpers/fixtures.ts), typed loosely: tests send songs the schemas refuse too. */
const makeSong = (overrides: Record<string, unknown> = {}): Song => fixtureSong(overrides);

let seq = 0;

/** Clients and directories made by the current test, removed in afterEach. */
const running: WhiteroomClient[] = [];
const dirs: string[] = [];

async function launch(options: ClientStartOptions = {}): Promise<WhiteroomClient> {
  const p = await spawnClient(options);
  running.push(p);
  return p;
}

/** A data directory this file owns (for tests that stop and restart the sidecar). */
function ownDir(): string {
  const d = tempDir('wr-songs-');
  dirs.push(d);
  return d;
}

async function cleanupAll(): Promise<void> {
  for (const p of running.splice(0)) await cleanupClient(p);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Expects every field the host sent to come back deep-equal. */
function expectKeeps(stored: Song, sent: Song): void {
  for (const [k, v] of Object.entries(sent)) {
    expect(stored[k], `field ${k}`).to.deep.equal(v);
  }
}

async function count(p: WhiteroomClient, filters: Record<string, unknown> = {}): Promise<number> {
  return (await p.songs.count(filters)).count;
}

/** Every item of a list, page by page. */
async function listAll(p: WhiteroomClient, params: Record<string, unknown>): Promise<{ items: Song[]; pages: number }> {
  return walk((cursor) => p.songs.list({ ...params, ...(cursor ? { cursor } : {}) }), 100);
}

const dbPath = (dataDir: string): string => join(dataDir, 'data.db');

/** Inserts child rows directly (the sidecar must be stopped), with foreign keys enforced. */
function insertChildren(
  dataDir: string,
  rows: { performances?: [id: string, songId: string][]; autosaves?: [id: string, songId: string, performanceId: string | null][] },
): void {
  const db = new Database(dbPath(dataDir));
  try {
    db.pragma('foreign_keys = ON');
    const now = Date.now();
    const perf = db.prepare(
      `INSERT INTO performances (id, song_id, name, created_at, updated_at, arrangement_style, instrumentation_map_json, mix_targets_json)
       VALUES (?, ?, ?, ?, ?, 'SOLO_PIANO', '{"piano":"inst-1"}', '{"gain":0}')`,
    );
    const auto = db.prepare(
      `INSERT INTO autosaves (id, song_id, performance_id, name, manifest_json, created_at) VALUES (?, ?, ?, ?, '{}', ?)`,
    );
    db.transaction(() => {
      for (const [id, songId] of rows.performances ?? []) perf.run(id, songId, `Performance ${id}`, now, now);
      for (const [id, songId, perfId] of rows.autosaves ?? []) auto.run(id, songId, perfId, `Auto-Save ${id}`, now);
    })();
  } finally {
    db.close();
  }
}

/** Ids in a table (the sidecar must be stopped). */
function idsIn(dataDir: string, table: 'songs' | 'performances' | 'autosaves'): string[] {
  const db = new Database(dbPath(dataDir), { readonly: true });
  try {
    return (db.prepare(`SELECT id FROM ${table} ORDER BY id`).pluck().all() as string[]);
  } finally {
    db.close();
  }
}

/** The file passes SQLite's own checks, read by the sqlite3 command-line tool. */
function expectHealthyDatabase(dataDir: string): void {
  const run = (sql: string): string => execFileSync('sqlite3', [dbPath(dataDir), sql], { encoding: 'utf8' }).trim();
  expect(run('PRAGMA integrity_check')).to.equal('ok');
  expect(run('PRAGMA foreign_key_check')).to.equal('');
  expect(run("INSERT INTO songs_fts(songs_fts, rank) VALUES('integrity-check', 1); SELECT 'fts ok'")).to.equal('fts ok');
}

const stop = stopClient;

/** A song with only the required fields. */
function minimalSong(overrides: Record<string, unknown> = {}): Song {
  return {
    name: 'Minimal',
    metadata: { tempo: 100, timeSignature: [3, 4], tags: [] },
    determinismSeed: 'm',
    sections: [],
    roles: [],
    projections: [],
    mixGraph: { tracks: [] },
    ...overrides,
  };
}

/** The song's editable content: what a host sends, without server-managed fields. */
function content(s: Song): Song {
  const { createdAt, updatedAt, revision, isFavorite, playCount, lastPlayedAt, ...rest } = s;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// songs.create / songs.get
// ---------------------------------------------------------------------------------------------

describe('songs.create and songs.get', function () {
  let p: WhiteroomClient;
  before(async () => {
    p = await spawnClient();
  });
  after(async () => p && cleanupClient(p));

  it('answers the stored song with server-managed fields and defaults', async () => {
    const sent = makeSong();
    delete sent.version;
    const t0 = Date.now();
    const stored: Song = await p.songs.create({ item: sent });
    const t1 = Date.now();
    expectKeeps(stored, sent);
    expect(stored.version).to.equal('1.0');
    expect(stored.revision).to.equal(1);
    expect(stored.isFavorite).to.equal(false);
    expect(stored.playCount).to.equal(0);
    expect(stored).to.not.have.property('lastPlayedAt');
    for (const k of ['createdAt', 'updatedAt']) {
      expect(Number.isInteger(stored[k]), k).to.equal(true);
      expect(stored[k]).to.be.within(t0, t1);
    }
    expect(stored.createdAt).to.equal(stored.updatedAt);
  });

  it('generates a distinct id when the song has none', async () => {
    const a = await p.songs.create({ item: minimalSong() });
    const b = await p.songs.create({ item: minimalSong() });
    expect(a.id).to.be.a('string').and.not.equal('');
    expect(b.id).to.be.a('string').and.not.equal(a.id);
    expect(await p.songs.get({ id: a.id })).to.deep.equal(a);
  });

  it('keeps a given createdAt and version, but sets updatedAt and revision itself', async () => {
    const sent = makeSong({ createdAt: 1_000_000, updatedAt: 5, revision: 42, version: '2.1' });
    const stored = await p.songs.create({ item: sent });
    expect(stored.createdAt).to.equal(1_000_000);
    expect(stored.version).to.equal('2.1');
    expect(stored.revision).to.equal(1);
    expect(stored.updatedAt).to.be.above(1_000_000);
  });

  it('round-trips structured parts with unknown fields deep-equal through create and get', async () => {
    const sent = makeSong({
      sections: [
        { id: 'intro', bars: 8, unknownToday: { a: [null, 1.5, 'x'] } },
        {
          id: 'verse',
          nested: { deeper: { deepest: [[], {}, [null, [true, false]]] } },
          text: 'Ünïcødé ✓ 𝄞 "quoted" \\ back\nslash',
          big: 9007199254740991,
          tiny: 1e-7,
          negative: -0.5,
          empty: '',
          emptyObject: {},
        },
      ],
      roles: [
        {
          id: 'bass',
          name: 'Bass',
          type: 'bass',
          generatorConfig: { algorithm: 'walking', extra: { z: 1 } },
          parameters: { density: 0.5 },
          enabled: true,
          color: '#FF8800',
          icon: 'guitars',
          notInSchema: 'kept',
        },
        {
          id: 'lead',
          name: 'Lead',
          type: 'melody',
          generatorConfig: { seeds: [1, 2, 3], opaque: { k: null } },
          parameters: {},
          enabled: false,
          color: '#abc',
          icon: 'star',
          future: [{ x: [1, { y: 'z' }] }],
        },
      ],
      projections: [{ id: 'p1', kind: 'score', opaque: { v: 2 } }, { id: 'p2', list: [1, 'two', null] }],
      realizationPolicy: { mode: 'deterministic', futureKnob: { nested: [1, 2, { deep: true }] }, weights: [0.1, 0.9] },
      mixGraph: {
        tracks: [
          {
            id: 't1',
            name: 'Bass',
            volume: 0.8,
            pan: -0.25,
            mute: false,
            solo: false,
            instrumentId: 'inst-1',
            voiceId: 'voice-1',
            presetId: 'preset-1',
            midiChannel: 2,
            midiProgram: 33,
            additionalParameters: { drive: 0.3, chain: ['eq', 'comp'], nested: { unknown: { deep: [1, null] } } },
            futureTrackField: { x: 1 },
          },
          { id: 't2', name: 'Keys', volume: 1, pan: 1, mute: true, solo: true, midiChannel: 16, midiProgram: 0 },
        ],
        buses: [{ id: 'b1', sends: [{ to: 'master', level: 0.5 }] }],
        masterChain: { limiter: { ceiling: -0.1 } },
      },
    });
    const created = await p.songs.create({ item: sent });
    expectKeeps(created, sent);
    const read = await p.songs.get({ id: sent.id });
    expectKeeps(read, sent);
    expect(read).to.deep.equal(created);
  });

  it('round-trips the Priority 1 fields of tracks, roles and metadata', async () => {
    const sent = makeSong();
    const read = await (async () => {
      await p.songs.create({ item: sent });
      return p.songs.get({ id: sent.id });
    })();
    const t = read.mixGraph.tracks[0]!;
    expect(t.instrumentId).to.equal('inst-1');
    expect(t.voiceId).to.equal('voice-1');
    expect(t.presetId).to.equal('preset-1');
    expect(t.midiChannel).to.equal(2);
    expect(t.midiProgram).to.equal(33);
    expect(t.additionalParameters).to.deep.equal({ drive: 0.3, chain: ['eq', 'comp'] });
    const r = read.roles[0]!;
    expect([r.enabled, r.color, r.icon]).to.deep.equal([true, '#FF8800', 'guitars']);
    expect(read.metadata).to.deep.equal({
      tempo: 120,
      timeSignature: [4, 4],
      tags: ['test'],
      key: 'C major',
      composer: 'Test Composer',
      genre: 'jazz',
      mood: 'calm',
      comments: 'a comment',
      difficulty: 'intermediate',
      rating: 4,
      duration: 183.5,
    });
  });

  it('leaves absent optional fields absent (no nulls, no invented values)', async () => {
    const sent = minimalSong({ id: `min-${seq++}` });
    const read = (await p.songs.create({ item: sent })) && (await p.songs.get({ id: sent.id }));
    expect(read.metadata).to.deep.equal(sent.metadata);
    expect(read).to.not.have.property('realizationPolicy');
    expect(Object.keys(read).sort()).to.deep.equal(
      [...Object.keys(sent), 'version', 'createdAt', 'updatedAt', 'revision', 'isFavorite', 'playCount'].sort(),
    );
  });

  it('refuses to create an id that exists (-32003) and leaves the stored song unchanged', async () => {
    const original = await p.songs.create({ item: makeSong() });
    const { result, error, changes } = await tracked(p, () => p.songs.create({
      item: makeSong({ id: original.id, name: 'Impostor' }),
    }));
    expect(error?.code).to.equal(-32003);
    expect(error?.data).to.deep.equal({ entity: 'songs', id: original.id });
    expect(changes).to.deep.equal([]);
    expect(await p.songs.get({ id: original.id })).to.deep.equal(original);
  });

  it('answers -32001 with {entity, id} for a missing id, never null', async () => {
    const e = await rejects(p.songs.get({ id: 'no-such-song' }), -32001);
    expect(e.data).to.deep.equal({ entity: 'songs', id: 'no-such-song' });
  });

  it('refuses songs.get without an id or with an empty one', async () => {
    await invalid(p.callUntyped('songs.get', {}), '/id');
    await invalid(p.callUntyped('songs.get', { id: '' }), '/id');
    await invalid(p.callUntyped('songs.get', { id: 'x', extra: 1 }), '/extra');
  });
});

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

describe('songs params validation', function () {
  let p: WhiteroomClient;
  before(async () => {
    p = await spawnClient();
    await p.songs.create({ item: makeSong({ id: 'existing' }) });
  });
  after(async () => p && cleanupClient(p));

  it('a name holding a lone UTF-16 surrogate (\\ud800 without its pair) is refused -32602 at /item/name, nothing written; a pair is stored', async () => {
    const item = makeSong({ name: 'Lone \ud800 half' });
    const params = JSON.stringify({ item });
    // JSON.stringify writes a lone surrogate as the six characters \ud800 (well-formed JSON.stringify),
    // exactly the raw text a host would send: what reaches the process is that escape, not a character.
    expect(params).to.include('"name":"Lone \\ud800 half"');
    const before = await count(p);
    const mark = notifications(p).length;
    const e = await rejects(p.callText('songs.create', params), -32602);
    expect(e.data.errors.map((x: { path: string }) => x.path)).to.deep.equal(['/item/name']);
    expect(await count(p)).to.equal(before);
    expect(notifications(p).slice(mark)).to.deep.equal([]);
    await rejects(p.songs.get({ id: item.id }), -32001);
    // The escaped pair of one character (U+1F3B5) is Unicode: stored and read back as that character.
    const pair = makeSong({ name: 'Note \ud83c\udfb5' });
    const pairText = JSON.stringify({ item: { ...pair, name: 'Note PAIR' } }).replace('PAIR', '\\ud83c\\udfb5');
    expect(pairText).to.include('"name":"Note \\ud83c\\udfb5"');
    expect(JSON.parse(await p.callText('songs.create', pairText)).name).to.equal('Note \u{1F3B5}');
    expect((await p.songs.get({ id: pair.id })).name).to.equal('Note \u{1F3B5}');
  });

  /** Expects -32602 naming `path`, with nothing written and nothing announced. */
  async function refused(method: string, params: unknown, path: string): Promise<{ path: string; message: string }[]> {
    const countBefore = await count(p);
    const stored = await p.songs.get({ id: 'existing' });
    const mark = notifications(p).length;
    const errors = await invalid(p.callUntyped(method, params), path);
    expect(await count(p)).to.equal(countBefore);
    expect(await p.songs.get({ id: 'existing' })).to.deep.equal(stored);
    expect(notifications(p).slice(mark)).to.deep.equal([]);
    return errors;
  }

  const withMeta = (meta: Record<string, unknown>): Song => {
    const s = makeSong();
    s.metadata = { ...s.metadata, ...meta };
    return s;
  };
  const withTrack = (track: Record<string, unknown>): Song => {
    const s = makeSong();
    s.mixGraph.tracks[0] = { ...s.mixGraph.tracks[0], ...track };
    return s;
  };

  it('names an unknown top-level param', async () => {
    const errors = await refused('songs.create', { item: makeSong(), bogus: 1 }, '/bogus');
    expect(errors.find((e) => e.path === '/bogus')!.message).to.match(/not a known field/);
  });

  it('names an unknown top-level field of the song', async () => {
    await refused('songs.create', { item: makeSong({ bogus: true }) }, '/item/bogus');
  });

  it('names an unknown field inside metadata (metadata is column-mapped and strict)', async () => {
    await refused('songs.create', { item: withMeta({ producer: 'x' }) }, '/item/metadata/producer');
  });

  it('names fields of the wrong type', async () => {
    await refused('songs.create', { item: makeSong({ name: 42 }) }, '/item/name');
    await refused('songs.create', { item: withMeta({ tempo: '120' }) }, '/item/metadata/tempo');
    await refused('songs.create', { item: makeSong({ isFavorite: 'yes' }) }, '/item/isFavorite');
    await refused('songs.create', { item: makeSong({ sections: {} }) }, '/item/sections');
    await refused('songs.create', { item: makeSong({ mixGraph: { tracks: {} } }) }, '/item/mixGraph/tracks');
    await refused('songs.create', { item: withMeta({ tags: 'a,b' }) }, '/item/metadata/tags');
    await refused('songs.create', { item: withMeta({ timeSignature: [4] }) }, '/item/metadata/timeSignature');
    await refused('songs.create', { item: makeSong({ createdAt: 1.5 }) }, '/item/createdAt');
    await refused('songs.create', { item: 'a song' }, '/item');
  });

  it('refuses a tempo of zero or below', async () => {
    await refused('songs.create', { item: withMeta({ tempo: 0 }) }, '/item/metadata/tempo');
    await refused('songs.create', { item: withMeta({ tempo: -60 }) }, '/item/metadata/tempo');
  });

  it('refuses rating 6, difficulty "hard" and midiChannel 17', async () => {
    await refused('songs.create', { item: withMeta({ rating: 6 }) }, '/item/metadata/rating');
    await refused('songs.create', { item: withMeta({ rating: 0 }) }, '/item/metadata/rating');
    const errors = await refused('songs.create', { item: withMeta({ difficulty: 'hard' }) }, '/item/metadata/difficulty');
    expect(errors.find((e) => e.path === '/item/metadata/difficulty')!.message).to.include('"beginner"');
    await refused('songs.create', { item: withTrack({ midiChannel: 17 }) }, '/item/mixGraph/tracks/0/midiChannel');
    await refused('songs.create', { item: withTrack({ midiChannel: 0 }) }, '/item/mixGraph/tracks/0/midiChannel');
    await refused('songs.create', { item: withTrack({ midiProgram: 128 }) }, '/item/mixGraph/tracks/0/midiProgram');
    await refused('songs.create', { item: withTrack({ pan: 1.5 }) }, '/item/mixGraph/tracks/0/pan');
  });

  it('refuses a role colour that is not a hex colour', async () => {
    const s = makeSong();
    s.roles[0].color = 'orange';
    await refused('songs.create', { item: s }, '/item/roles/0/color');
  });

  it('names missing required fields', async () => {
    const noName = makeSong();
    delete noName.name;
    const errors = await refused('songs.create', { item: noName }, '/item/name');
    expect(errors.find((e) => e.path === '/item/name')!.message).to.equal('is required');
    const noTempo = makeSong();
    delete noTempo.metadata.tempo;
    await refused('songs.create', { item: noTempo }, '/item/metadata/tempo');
    const noVolume = makeSong();
    delete noVolume.mixGraph.tracks[0].volume;
    await refused('songs.create', { item: noVolume }, '/item/mixGraph/tracks/0/volume');
    const noRoleId = makeSong();
    delete noRoleId.roles[0].id;
    await refused('songs.create', { item: noRoleId }, '/item/roles/0/id');
    const noTracks = makeSong({ mixGraph: { buses: [] } });
    await refused('songs.create', { item: noTracks }, '/item/mixGraph/tracks');
    await refused('songs.create', {}, '/item');
    await refused('songs.create', { item: makeSong({ name: '' }) }, '/item/name');
  });

  it('refuses params that are not an object of named parameters', async () => {
    const e = await rejects(p.callUntyped('songs.create', [makeSong()]), -32602);
    expect(e.data.errors[0]).to.have.all.keys('path', 'message');
  });

  it('validates update, save and saveMany items the same way', async () => {
    await refused('songs.update', { item: { ...withMeta({ rating: 6 }), id: 'existing' } }, '/item/metadata/rating');
    const stillExisting = makeSong({ id: 'existing', bogus: 1 });
    await refused('songs.update', { item: stillExisting }, '/item/bogus');
    await refused('songs.save', { item: { ...withMeta({ difficulty: 'hard' }), id: 'existing' } }, '/item/metadata/difficulty');
    await refused('songs.saveMany', { items: [makeSong(), withTrack({ midiChannel: 17 })] }, '/items/1/mixGraph/tracks/0/midiChannel');
    await refused('songs.saveMany', { items: [] }, '/items');
  });

  it('validates the params of the other methods', async () => {
    await refused('songs.update', { item: makeSong({ id: undefined }) }, '/item/id');
    await refused('songs.update', { item: makeSong({ id: 'existing' }), ifRevision: 0 }, '/ifRevision');
    await refused('songs.delete', { id: 'existing', ifRevision: 'one' }, '/ifRevision');
    await refused('songs.deleteMany', { ids: [] }, '/ids');
    await refused('songs.deleteMany', { ids: ['existing', 'existing'] }, '/ids');
    await refused('songs.setFavorite', { id: 'existing' }, '/isFavorite');
    await refused('songs.setFavorite', { id: 'existing', isFavorite: 1 }, '/isFavorite');
    await refused('songs.markPlayed', { id: 'existing', times: 2 }, '/times');
    await refused('songs.search', {}, '/query');
    await refused('songs.search', { query: 'x'.repeat(1001) }, '/query');
    await refused('songs.search', { query: 'x', limit: 0 }, '/limit');
    await refused('songs.count', { genre: 5 }, '/genre');
    await refused('songs.count', { tempo: 120 }, '/tempo');
    await refused('songs.list', { orderBy: 'tempo' }, '/orderBy');
    await refused('songs.list', { direction: 'up' }, '/direction');
  });
});

// ---------------------------------------------------------------------------------------------
// songs.update
// ---------------------------------------------------------------------------------------------

describe('songs.update', function () {
  let p: WhiteroomClient;
  before(async () => {
    p = await spawnClient();
  });
  after(async () => p && cleanupClient(p));

  it('replaces the song whole: revision +1, createdAt kept, updatedAt advances', async () => {
    const created = await p.songs.create({ item: makeSong() });
    await sleep(5);
    const next = makeSong({ id: created.id, name: 'Renamed', createdAt: 1, realizationPolicy: undefined });
    delete next.realizationPolicy;
    next.metadata = { tempo: 90, timeSignature: [6, 8], tags: ['new'] };
    next.sections = [{ id: 'only', fresh: { unknown: 1 } }];
    const { result, error, changes } = await tracked(p, () => p.songs.update({ item: next }));
    const updated = result;
    expect(resultValidator('songs.update')(updated)).to.equal(true);
    expect(updated.revision).to.equal(2);
    expect(updated.createdAt).to.equal(created.createdAt);
    expect(updated.updatedAt).to.be.above(created.updatedAt);
    const { createdAt, ...sentContent } = next;
    expectKeeps(updated, sentContent);
    expect(updated.metadata).to.deep.equal(next.metadata);
    expect(updated).to.not.have.property('realizationPolicy');
    expect(await p.songs.get({ id: created.id })).to.deep.equal(updated);
    expect(normalized(changes)).to.deep.equal([{ entity: 'songs', op: 'update', ids: [created.id] }]);
  });

  it('succeeds with an ifRevision equal to the stored revision', async () => {
    const created = await p.songs.create({ item: makeSong() });
    const u1 = await p.songs.update({ item: { ...content(created), name: 'v2' }, ifRevision: 1 });
    expect(u1.revision).to.equal(2);
    const u2 = await p.songs.update({ item: { ...content(created), name: 'v3' }, ifRevision: 2 });
    expect(u2.revision).to.equal(3);
    expect(u2.name).to.equal('v3');
  });

  it('refuses a stale ifRevision with -32002 {entity, id, expected, actual} and changes nothing', async () => {
    const created = await p.songs.create({ item: makeSong() });
    const current = await p.songs.update({ item: { ...content(created), name: 'second' } });
    const { result, error, changes } = await tracked(p, () => p.songs.update({
      item: { ...content(created), name: 'lost update' },
      ifRevision: 1,
    }));
    expect(error?.code).to.equal(-32002);
    expect(error?.data).to.deep.equal({ entity: 'songs', id: created.id, expected: 1, actual: 2 });
    expect(changes).to.deep.equal([]);
    expect(await p.songs.get({ id: created.id })).to.deep.equal(current);
  });

  it('answers -32001 for a missing id and creates nothing', async () => {
    const countBefore = await count(p);
    const e = await rejects(p.songs.update({ item: makeSong({ id: 'ghost' }) }), -32001);
    expect(e.data).to.deep.equal({ entity: 'songs', id: 'ghost' });
    const e2 = await rejects(p.songs.update({ item: makeSong({ id: 'ghost' }), ifRevision: 3 }), -32001);
    expect(e2.data).to.deep.equal({ entity: 'songs', id: 'ghost' });
    expect(await count(p)).to.equal(countBefore);
    await rejects(p.songs.get({ id: 'ghost' }), -32001);
  });

  it('keeps play state (isFavorite, playCount, lastPlayedAt) when the item does not carry it', async () => {
    const created = await p.songs.create({ item: makeSong() });
    await p.songs.setFavorite({ id: created.id, isFavorite: true });
    await p.songs.markPlayed({ id: created.id });
    const played = await p.songs.markPlayed({ id: created.id });
    const updated = await p.songs.update({ item: { ...content(created), name: 'edited' } });
    expect(updated.isFavorite).to.equal(true);
    expect(updated.playCount).to.equal(2);
    expect(updated.lastPlayedAt).to.equal(played.lastPlayedAt);
    expect(updated.revision).to.equal(played.revision + 1);
    const saved = await p.songs.save({ item: { ...content(created), name: 'saved' } });
    expect([saved.isFavorite, saved.playCount, saved.lastPlayedAt]).to.deep.equal([true, 2, played.lastPlayedAt]);
  });

  it('sets play state when the item carries it', async () => {
    const created = await p.songs.create({ item: makeSong({ isFavorite: true, playCount: 7 }) });
    expect([created.isFavorite, created.playCount]).to.deep.equal([true, 7]);
    const updated = await p.songs.update({ item: { ...content(created), isFavorite: false, playCount: 0 } });
    expect([updated.isFavorite, updated.playCount]).to.deep.equal([false, 0]);
  });
});

// ---------------------------------------------------------------------------------------------
// songs.save
// ---------------------------------------------------------------------------------------------

describe('songs.save', function () {
  afterEach(cleanupAll);

  it('inserts a new song at revision 1 and updates an existing one in place at revision 2', async () => {
    const p = await launch();
    const sent = makeSong();
    const a = await tracked(p, () => p.songs.save({ item: sent }));
    expect(a.result.revision).to.equal(1);
    expect(resultValidator('songs.save')(a.result)).to.equal(true);
    expectKeeps(a.result, sent);
    expect(normalized(a.changes)).to.deep.equal([{ entity: 'songs', op: 'insert', ids: [sent.id] }]);
    await sleep(3);
    const b = await tracked(p, () => p.songs.save({ item: { ...sent, name: 'Saved again' } }));
    const second = b.result;
    expect(second.revision).to.equal(2);
    expect(second.name).to.equal('Saved again');
    expect(second.createdAt).to.equal(a.result.createdAt);
    expect(second.updatedAt).to.be.above(a.result.updatedAt);
    expect(normalized(b.changes)).to.deep.equal([{ entity: 'songs', op: 'update', ids: [sent.id] }]);
    expect(await count(p)).to.equal(1);
    expect(await p.songs.get({ id: sent.id })).to.deep.equal(second);
  });

  it('generates an id when the song has none', async () => {
    const p = await launch();
    const saved = await p.songs.save({ item: minimalSong() });
    expect(saved.id).to.be.a('string').and.not.equal('');
    expect(saved.revision).to.equal(1);
  });

  it('saving a song keeps its performances and autosaves (no INSERT OR REPLACE)', async () => {
    const dir = ownDir();
    let p = await launch({ dataDir: dir });
    const song = await p.songs.create({ item: makeSong() });
    await stop(p);
    insertChildren(dir, {
      performances: [['perf-1', song.id]],
      autosaves: [['auto-1', song.id, null], ['auto-2', song.id, 'perf-1']],
    });
    p = await launch({ dataDir: dir });
    const { result, error, changes } = await tracked(p, () => p.songs.save({ item: { ...content(song), name: 'Saved over' } }));
    expect(result.revision).to.equal(2);
    expect(result.createdAt).to.equal(song.createdAt);
    expect(normalized(changes)).to.deep.equal([{ entity: 'songs', op: 'update', ids: [song.id] }]);
    await p.songs.saveMany({ items: [{ ...content(song), name: 'Saved in a batch' }] });
    await p.songs.update({ item: { ...content(song), name: 'Updated' } });
    await p.songs.setFavorite({ id: song.id, isFavorite: true });
    await p.songs.markPlayed({ id: song.id });
    await stop(p);
    expect(idsIn(dir, 'performances')).to.deep.equal(['perf-1']);
    expect(idsIn(dir, 'autosaves')).to.deep.equal(['auto-1', 'auto-2']);
    expectHealthyDatabase(dir);
  });
});

// ---------------------------------------------------------------------------------------------
// songs.delete / songs.deleteMany
// ---------------------------------------------------------------------------------------------

describe('songs.delete', function () {
  afterEach(cleanupAll);

  it('deletes a song with its performances and autosaves and says how many', async () => {
    const dir = ownDir();
    let p = await launch({ dataDir: dir });
    const doomed = await p.songs.create({ item: makeSong({ id: 'doomed' }) });
    await p.songs.create({ item: makeSong({ id: 'survivor' }) });
    await stop(p);
    insertChildren(dir, {
      performances: [
        ['perf-a', 'doomed'],
        ['perf-b', 'doomed'],
        ['perf-keep', 'survivor'],
      ],
      autosaves: [
        ['auto-1', 'doomed', null],
        ['auto-2', 'doomed', 'perf-a'],
        ['auto-3', 'doomed', 'perf-b'],
        ['auto-keep', 'survivor', 'perf-keep'],
      ],
    });
    p = await launch({ dataDir: dir });
    const { result, error, changes } = await tracked(p, () => p.songs.delete({ id: doomed.id, ifRevision: 1 }));
    expect(error).to.equal(undefined);
    expect(resultValidator('songs.delete')(result)).to.equal(true);
    expect(result).to.deep.equal({ ids: ['doomed'], count: 1, cascaded: { performances: 2, autosaves: 3 } });
    expect(normalized(changes)).to.deep.equal([
      { entity: 'autosaves', op: 'delete', ids: ['auto-1', 'auto-2', 'auto-3'] },
      { entity: 'performances', op: 'delete', ids: ['perf-a', 'perf-b'] },
      { entity: 'songs', op: 'delete', ids: ['doomed'] },
    ]);
    await rejects(p.songs.get({ id: 'doomed' }), -32001);
    expect(await count(p)).to.equal(1);
    await stop(p);
    expect(idsIn(dir, 'songs')).to.deep.equal(['survivor']);
    expect(idsIn(dir, 'performances')).to.deep.equal(['perf-keep']);
    expect(idsIn(dir, 'autosaves')).to.deep.equal(['auto-keep']);
    expectHealthyDatabase(dir);
  });

  it('answers zero cascades for a song without children', async () => {
    const p = await launch();
    const s = await p.songs.create({ item: makeSong() });
    const { result, error, changes } = await tracked(p, () => p.songs.delete({ id: s.id }));
    expect(result).to.deep.equal({ ids: [s.id], count: 1, cascaded: { performances: 0, autosaves: 0 } });
    expect(normalized(changes)).to.deep.equal([{ entity: 'songs', op: 'delete', ids: [s.id] }]);
  });

  it('answers -32001 with {entity, id} for a missing id', async () => {
    const p = await launch();
    const { result, error, changes } = await tracked(p, () => p.songs.delete({ id: 'nothing-here' }));
    expect(error?.code).to.equal(-32001);
    expect(error?.data).to.deep.equal({ entity: 'songs', id: 'nothing-here' });
    expect(changes).to.deep.equal([]);
  });

  it('refuses a stale ifRevision with -32002 and deletes nothing, not even children', async () => {
    const dir = ownDir();
    let p = await launch({ dataDir: dir });
    const s = await p.songs.create({ item: makeSong({ id: 'guarded' }) });
    const s2 = await p.songs.update({ item: { ...content(s), name: 'changed' } });
    await stop(p);
    insertChildren(dir, { performances: [['perf-g', 'guarded']], autosaves: [['auto-g', 'guarded', 'perf-g']] });
    p = await launch({ dataDir: dir });
    const { result, error, changes } = await tracked(p, () => p.songs.delete({ id: 'guarded', ifRevision: 1 }));
    expect(error?.code).to.equal(-32002);
    expect(error?.data).to.deep.equal({ entity: 'songs', id: 'guarded', expected: 1, actual: 2 });
    expect(changes).to.deep.equal([]);
    expect(await p.songs.get({ id: 'guarded' })).to.deep.equal(s2);
    await stop(p);
    expect(idsIn(dir, 'performances')).to.deep.equal(['perf-g']);
    expect(idsIn(dir, 'autosaves')).to.deep.equal(['auto-g']);
  });
});

describe('songs.deleteMany', function () {
  afterEach(cleanupAll);

  it('deletes every id in one write, with one notification', async () => {
    const p = await launch();
    const a = await p.songs.create({ item: makeSong() });
    const b = await p.songs.create({ item: makeSong() });
    const c = await p.songs.create({ item: makeSong() });
    const { result, error, changes } = await tracked(p, () => p.songs.deleteMany({ ids: [a.id, b.id] }));
    expect(resultValidator('songs.deleteMany')(result)).to.equal(true);
    expect(result.ids).to.deep.equal([a.id, b.id]);
    expect(result.count).to.equal(2);
    expect(result.cascaded).to.deep.equal({ performances: 0, autosaves: 0 });
    expect(normalized(changes)).to.deep.equal([{ entity: 'songs', op: 'delete', ids: [a.id, b.id].sort() }]);
    expect((await listAll(p, {})).items.map((s) => s.id)).to.deep.equal([c.id]);
  });

  it('is all or none: one missing id is -32001 naming it, and nothing is deleted', async () => {
    const dir = ownDir();
    let p = await launch({ dataDir: dir });
    const a = await p.songs.create({ item: makeSong({ id: 'many-a' }) });
    const b = await p.songs.create({ item: makeSong({ id: 'many-b' }) });
    await stop(p);
    insertChildren(dir, { performances: [['perf-many', 'many-a']] });
    p = await launch({ dataDir: dir });
    const { result, error, changes } = await tracked(p, () => p.songs.deleteMany({ ids: [a.id, 'missing-one', b.id] }));
    expect(error?.code).to.equal(-32001);
    expect(error?.data).to.deep.equal({ entity: 'songs', id: 'missing-one' });
    expect(changes).to.deep.equal([]);
    expect(await count(p)).to.equal(2);
    expect(await p.songs.get({ id: a.id })).to.deep.equal(a);
    await stop(p);
    expect(idsIn(dir, 'performances')).to.deep.equal(['perf-many']);
  });

  it('answers the cascades of all the songs it deleted', async () => {
    const dir = ownDir();
    let p = await launch({ dataDir: dir });
    await p.songs.saveMany({ items: [makeSong({ id: 'x1' }), makeSong({ id: 'x2' })] });
    await stop(p);
    insertChildren(dir, {
      performances: [['px1', 'x1'], ['px2', 'x2']],
      autosaves: [['ax1', 'x1', 'px1'], ['ax2', 'x2', null]],
    });
    p = await launch({ dataDir: dir });
    const { result, error, changes } = await tracked(p, () => p.songs.deleteMany({ ids: ['x1', 'x2'] }));
    expect(result).to.deep.equal({ ids: ['x1', 'x2'], count: 2, cascaded: { performances: 2, autosaves: 2 } });
    expect(normalized(changes)).to.deep.equal([
      { entity: 'autosaves', op: 'delete', ids: ['ax1', 'ax2'] },
      { entity: 'performances', op: 'delete', ids: ['px1', 'px2'] },
      { entity: 'songs', op: 'delete', ids: ['x1', 'x2'] },
    ]);
    await stop(p);
    expect(idsIn(dir, 'performances')).to.deep.equal([]);
    expect(idsIn(dir, 'autosaves')).to.deep.equal([]);
    expectHealthyDatabase(dir);
  });
});

// ---------------------------------------------------------------------------------------------
// songs.saveMany
// ---------------------------------------------------------------------------------------------

describe('songs.saveMany', function () {
  afterEach(cleanupAll);

  it('saves new and existing songs in order, with their revisions and one notification per op', async () => {
    const p = await launch();
    const existing = await p.songs.create({ item: makeSong() });
    const fresh1 = makeSong();
    const fresh2 = makeSong();
    const { result, error, changes } = await tracked(p, () => p.songs.saveMany({
      items: [fresh1, { ...content(existing), name: 'Batch edit' }, fresh2],
    }));
    expect(resultValidator('songs.saveMany')(result)).to.equal(true);
    const items = result.items as Song[];
    expect(items.map((s) => s.id)).to.deep.equal([fresh1.id, existing.id, fresh2.id]);
    expect(items.map((s) => s.revision)).to.deep.equal([1, 2, 1]);
    expect(items[1]!.name).to.equal('Batch edit');
    expectKeeps(items[0]!, fresh1);
    expect(normalized(changes)).to.deep.equal([
      { entity: 'songs', op: 'insert', ids: [fresh1.id, fresh2.id].sort() },
      { entity: 'songs', op: 'update', ids: [existing.id] },
    ]);
    expect(await count(p)).to.equal(3);
    expect(await p.songs.get({ id: fresh2.id })).to.deep.equal(items[2]);
  });

  it('is all or none: one item failing its schema saves nothing', async () => {
    const p = await launch();
    const existing = await p.songs.create({ item: makeSong() });
    const bad = makeSong();
    bad.metadata.rating = 6;
    const fresh = makeSong();
    const mark = notifications(p).length;
    await invalid(p.callUntyped('songs.saveMany', { items: [fresh, { ...content(existing), name: 'never' }, bad] }), '/items/2/metadata/rating');
    expect(notifications(p).slice(mark)).to.deep.equal([]);
    expect(await count(p)).to.equal(1);
    expect(await p.songs.get({ id: existing.id })).to.deep.equal(existing);
    await rejects(p.songs.get({ id: fresh.id }), -32001);
  });

  it('is all or none: a refused third item saves neither of the items before it', async () => {
    // 1e300 is an integer JSON number above playCount's maximum (2^53 - 1). The refusal of a
    // value that passes the schema but not the database, part-way through the transaction, is
    // covered by the repository's unit tests (a CHECK failure on the third of five items).
    const p = await launch();
    const existing = await p.songs.create({ item: makeSong() });
    const fresh = makeSong();
    const { result, error, changes } = await tracked(p, () => p.songs.saveMany({
      items: [fresh, { ...content(existing), name: 'never' }, makeSong({ playCount: 1e300 })],
    }));
    expect(error, 'the batch must fail').to.not.equal(undefined);
    expect(error!.code, 'a refused value is not a bug (-32603)').to.not.equal(-32603);
    expect(changes).to.deep.equal([]);
    expect(await count(p)).to.equal(1);
    await rejects(p.songs.get({ id: fresh.id }), -32001);
    expect(await p.songs.get({ id: existing.id })).to.deep.equal(existing);
    expect((await p.songs.search({ query: 'never' })).items).to.deep.equal([]);
  });
});

// ---------------------------------------------------------------------------------------------
// songs.setFavorite / songs.markPlayed
// ---------------------------------------------------------------------------------------------

describe('songs.setFavorite and songs.markPlayed', function () {
  let p: WhiteroomClient;
  before(async () => {
    p = await spawnClient();
  });
  after(async () => p && cleanupClient(p));

  it('setFavorite sets isFavorite and advances the revision, not updatedAt', async () => {
    const s = await p.songs.create({ item: makeSong() });
    await sleep(3);
    const { result, error, changes } = await tracked(p, () => p.songs.setFavorite({ id: s.id, isFavorite: true }));
    const fav = result;
    expect(resultValidator('songs.setFavorite')(fav)).to.equal(true);
    expect(fav.isFavorite).to.equal(true);
    expect(fav.revision).to.equal(2);
    expect(fav.updatedAt).to.equal(s.updatedAt);
    expect(content(fav)).to.deep.equal(content(s));
    expect(normalized(changes)).to.deep.equal([{ entity: 'songs', op: 'update', ids: [s.id] }]);
    const unfav = await p.songs.setFavorite({ id: s.id, isFavorite: false, ifRevision: 2 });
    expect([unfav.isFavorite, unfav.revision]).to.deep.equal([false, 3]);
    expect(await p.songs.get({ id: s.id })).to.deep.equal(unfav);
  });

  it('setFavorite with a stale ifRevision is -32002 and changes nothing', async () => {
    const s = await p.songs.create({ item: makeSong() });
    const fav = await p.songs.setFavorite({ id: s.id, isFavorite: true });
    const { result, error, changes } = await tracked(p, () => p.songs.setFavorite({ id: s.id, isFavorite: false, ifRevision: 1 }));
    expect(error?.code).to.equal(-32002);
    expect(error?.data).to.deep.equal({ entity: 'songs', id: s.id, expected: 1, actual: 2 });
    expect(changes).to.deep.equal([]);
    expect(await p.songs.get({ id: s.id })).to.deep.equal(fav);
  });

  it('setFavorite and markPlayed answer -32001 for a missing id', async () => {
    const e1 = await rejects(p.songs.setFavorite({ id: 'nope', isFavorite: true }), -32001);
    expect(e1.data).to.deep.equal({ entity: 'songs', id: 'nope' });
    const e2 = await rejects(p.songs.markPlayed({ id: 'nope' }), -32001);
    expect(e2.data).to.deep.equal({ entity: 'songs', id: 'nope' });
  });

  it('markPlayed adds one to playCount, sets lastPlayedAt to now and advances the revision', async () => {
    const s = await p.songs.create({ item: makeSong() });
    await sleep(3);
    const t0 = Date.now();
    const { result, error, changes } = await tracked(p, () => p.songs.markPlayed({ id: s.id }));
    const t1 = Date.now();
    const played = result;
    expect(resultValidator('songs.markPlayed')(played)).to.equal(true);
    expect(played.playCount).to.equal(1);
    expect(Number.isInteger(played.lastPlayedAt)).to.equal(true);
    expect(played.lastPlayedAt).to.be.within(t0, t1);
    expect(played.revision).to.equal(2);
    expect(played.updatedAt).to.equal(s.updatedAt);
    expect(content(played)).to.deep.equal(content(s));
    expect(normalized(changes)).to.deep.equal([{ entity: 'songs', op: 'update', ids: [s.id] }]);
    const again = await p.songs.markPlayed({ id: s.id });
    expect([again.playCount, again.revision]).to.deep.equal([2, 3]);
    expect(again.lastPlayedAt).to.be.at.least(played.lastPlayedAt!);
    expect(await p.songs.get({ id: s.id })).to.deep.equal(again);
  });
});

// ---------------------------------------------------------------------------------------------
// songs.list / songs.count
// ---------------------------------------------------------------------------------------------

describe('songs.list and songs.count', function () {
  let p: WhiteroomClient;
  let songs: Song[];
  const names = ['banana', 'Apple', 'cherry', 'apricot', 'Date'];

  before(async () => {
    p = await spawnClient();
    songs = [];
    // Distinct updatedAt values (a few ms apart) and createdAt values in another order.
    const createdAt = [5000, 1000, 4000, 2000, 3000];
    for (let i = 0; i < names.length; i++) {
      const s = makeSong({ name: names[i], createdAt: createdAt[i] });
      s.metadata.genre = i % 2 === 0 ? 'rock' : 'jazz';
      songs.push(await p.songs.create({ item: s }));
      await sleep(3);
    }
    // Favourites do not move updatedAt, so the order computed from `songs` stays right.
    songs[1] = await p.songs.setFavorite({ id: songs[1]!.id, isFavorite: true });
    songs[3] = await p.songs.setFavorite({ id: songs[3]!.id, isFavorite: true });
  });
  after(async () => p && cleanupClient(p));
  afterEach(cleanupAll);

  const ids = (xs: Song[]): string[] => xs.map((s) => s.id);
  const byUpdatedDesc = (): Song[] => [...songs].sort((a, b) => b.updatedAt - a.updatedAt || (a.id < b.id ? 1 : -1));

  it('lists every song newest-updated first by default', async () => {
    const page = await p.songs.list({});
    expect(page).to.not.have.property('nextCursor');
    expect(ids(page.items)).to.deep.equal(ids(byUpdatedDesc()));
    expect(page.items[0]).to.deep.equal(await p.songs.get({ id: page.items[0]!.id }));
  });

  it('pages with limit 2 through 5 songs: every song exactly once, no cursor on the last page', async () => {
    const first = await p.songs.list({ limit: 2 });
    expect(first.items).to.have.length(2);
    expect(first.nextCursor).to.be.a('string');
    const { items, pages } = await listAll(p, { limit: 2 });
    expect(pages).to.equal(3);
    expect(ids(items)).to.deep.equal(ids(byUpdatedDesc()));
    expect(new Set(ids(items)).size).to.equal(5);
  });

  it('orders by updatedAt ascending when asked', async () => {
    const { items } = await listAll(p, { limit: 2, orderBy: 'updatedAt', direction: 'asc' });
    expect(ids(items)).to.deep.equal(ids(byUpdatedDesc()).reverse());
  });

  it('orders by createdAt, newest first by default', async () => {
    const { items } = await listAll(p, { limit: 2, orderBy: 'createdAt' });
    expect(items.map((s) => s.createdAt)).to.deep.equal([5000, 4000, 3000, 2000, 1000]);
    const asc = await listAll(p, { limit: 3, orderBy: 'createdAt', direction: 'asc' });
    expect(asc.items.map((s) => s.createdAt)).to.deep.equal([1000, 2000, 3000, 4000, 5000]);
  });

  it('orders by name ascending by default, ignoring case', async () => {
    const { items } = await listAll(p, { limit: 2, orderBy: 'name' });
    expect(items.map((s) => s.name)).to.deep.equal(['Apple', 'apricot', 'banana', 'cherry', 'Date']);
    const desc = await listAll(p, { limit: 2, orderBy: 'name', direction: 'desc' });
    expect(desc.items.map((s) => s.name)).to.deep.equal(['Date', 'cherry', 'banana', 'apricot', 'Apple']);
  });

  it('filters by isFavorite and by genre, also across pages', async () => {
    const favs = await listAll(p, { isFavorite: true, limit: 1 });
    expect(ids(favs.items).sort()).to.deep.equal([songs[1]!.id, songs[3]!.id].sort());
    expect(favs.items.every((s) => s.isFavorite === true)).to.equal(true);
    const notFavs = await listAll(p, { isFavorite: false });
    expect(notFavs.items).to.have.length(3);
    const rock = await listAll(p, { genre: 'rock', limit: 2, orderBy: 'name' });
    expect(rock.items.map((s) => s.name)).to.deep.equal(['banana', 'cherry', 'Date']);
    const both = await listAll(p, { genre: 'jazz', isFavorite: true });
    expect(both.items.map((s) => s.name).sort()).to.deep.equal(['Apple', 'apricot']);
    expect((await p.songs.list({ genre: 'polka' })).items).to.deep.equal([]);
  });

  it('counts with and without filters', async () => {
    expect(await count(p)).to.equal(5);
    expect(await count(p, { isFavorite: true })).to.equal(2);
    expect(await count(p, { isFavorite: false })).to.equal(3);
    expect(await count(p, { genre: 'rock' })).to.equal(3);
    expect(await count(p, { genre: 'jazz', isFavorite: true })).to.equal(2);
    expect(await count(p, { genre: 'Rock' })).to.equal(0);
  });

  it('refuses a damaged cursor with -32602 at /cursor', async () => {
    for (const cursor of [
      'garbage!!',
      Buffer.from('{"a":1}').toString('base64url'),
      Buffer.from(JSON.stringify(['updatedAt', 'desc', { x: 1 }, 'id'])).toString('base64url'),
    ]) {
      await invalid(p.callUntyped('songs.list', { cursor }), '/cursor');
    }
  });

  it('refuses a cursor made for another order with -32602 at /cursor', async () => {
    const byName = await p.songs.list({ orderBy: 'name', limit: 2 });
    await invalid(p.callUntyped('songs.list', { orderBy: 'updatedAt', limit: 2, cursor: byName.nextCursor }), '/cursor');
    await invalid(p.callUntyped('songs.list', { limit: 2, cursor: byName.nextCursor }), '/cursor');
    await invalid(p.callUntyped('songs.list', { orderBy: 'name', direction: 'desc', limit: 2, cursor: byName.nextCursor }), '/cursor');
    const next = await p.songs.list({ orderBy: 'name', limit: 2, cursor: byName.nextCursor });
    expect(next.items.map((s: Song) => s.name)).to.deep.equal(['banana', 'cherry']);
  });

  it('refuses a cursor used with other filters than the ones it was made with: -32602 at /cursor', async () => {
    const rock = await p.songs.list({ genre: 'rock', orderBy: 'name', limit: 1 });
    expect(rock.nextCursor).to.be.a('string');
    for (const other of [{}, { genre: 'jazz' }, { genre: 'rock', isFavorite: false }, { isFavorite: true }]) {
      const errors = await invalid(p.callUntyped('songs.list', { ...other, orderBy: 'name', limit: 1, cursor: rock.nextCursor }), '/cursor');
      expect(errors[0]!.message).to.match(/other filters/);
    }
    // The same filters, in any order of the params, continue the walk; so does a cursor made without filters, used without.
    const next = await p.songs.list({ limit: 5, cursor: rock.nextCursor, orderBy: 'name', genre: 'rock' });
    expect(next.items.map((s: Song) => s.name)).to.deep.equal(['cherry', 'Date']);
    const all = await p.songs.list({ orderBy: 'name', limit: 1 });
    await invalid(p.callUntyped('songs.list', { orderBy: 'name', limit: 1, genre: 'rock', cursor: all.nextCursor }), '/cursor');
    expect((await p.songs.list({ orderBy: 'name', limit: 1, cursor: all.nextCursor })).items.map((s: Song) => s.name)).to.deep.equal(['apricot']);
  });

  it('refuses limit 0, 1001 and non-integers', async () => {
    await invalid(p.callUntyped('songs.list', { limit: 0 }), '/limit');
    await invalid(p.callUntyped('songs.list', { limit: 1001 }), '/limit');
    await invalid(p.callUntyped('songs.list', { limit: 2.5 }), '/limit');
    await invalid(p.callUntyped('songs.list', { cursor: '' }), '/cursor');
    expect((await p.songs.list({ limit: 1000 })).items).to.have.length(5);
  });

  it('pages through ties (same name, same createdAt) exactly once, ordered by id', async () => {
    const q = await launch();
    const made: Song[] = [];
    for (let i = 0; i < 5; i++) made.push(await q.songs.create({ item: makeSong({ name: 'Same', createdAt: 777 }) }));
    const sortedIds = ids(made).sort();
    const byName = await listAll(q, { orderBy: 'name', limit: 1 });
    expect(ids(byName.items)).to.deep.equal(sortedIds);
    const byCreated = await listAll(q, { orderBy: 'createdAt', limit: 2 });
    expect(ids(byCreated.items)).to.deep.equal([...sortedIds].reverse());
  });

  it('keyset pages neither repeat nor skip songs when songs are added between pages', async () => {
    const q = await launch();
    for (const n of ['a', 'c', 'e', 'g']) await q.songs.create({ item: makeSong({ name: n }) });
    const first = await q.songs.list({ orderBy: 'name', limit: 2 });
    expect(first.items.map((s: Song) => s.name)).to.deep.equal(['a', 'c']);
    await q.songs.create({ item: makeSong({ name: 'b' }) });
    await q.songs.create({ item: makeSong({ name: 'd' }) });
    const rest = await listAll(q, { orderBy: 'name', limit: 2, cursor: first.nextCursor });
    expect(rest.items.map((s) => s.name)).to.deep.equal(['d', 'e', 'g']);
  });

  it('orderBy updatedAt, a song updated mid-walk moves: desc never shows it twice but misses it if not yet reached; asc shows it (again) at the end', async () => {
    const q = await launch();
    const made: Record<string, Song> = {};
    for (const n of ['s1', 's2', 's3', 's4', 's5']) {
      made[n] = await q.songs.create({ item: makeSong({ name: n }) });
      await sleep(3); // distinct updatedAt
    }
    const edit = async (n: string): Promise<void> => {
      await sleep(3);
      made[n] = await q.songs.save({ item: { ...made[n], metadata: { ...made[n]!.metadata, comments: 'edited' } } });
    };
    const names = (items: Song[]): string[] => items.map((x) => x.name);

    // desc (the default): s4 seen, then updated: not seen again; s2 not yet reached, then updated: never seen.
    const first = await q.songs.list({ limit: 2 });
    expect(names(first.items)).to.deep.equal(['s5', 's4']);
    await edit('s4');
    await edit('s2');
    const rest = await listAll(q, { limit: 2, cursor: first.nextCursor });
    expect(names(rest.items)).to.deep.equal(['s3', 's1']);

    // asc: s1 seen, then updated: seen again at the end; s3 not yet reached, then updated: seen once, at the end, as updated.
    const up = await q.songs.list({ orderBy: 'updatedAt', direction: 'asc', limit: 2 });
    expect(names(up.items)).to.deep.equal(['s1', 's3']);
    // Now asc is s1 s3 s5 s4 s2: take s1 s3, then edit s1 (seen) and s5 (not yet seen).
    await edit('s1');
    await edit('s5');
    const upRest = await listAll(q, { orderBy: 'updatedAt', direction: 'asc', limit: 2, cursor: up.nextCursor });
    expect(names(upRest.items)).to.deep.equal(['s4', 's2', 's1', 's5']);
    expect(upRest.items.find((x) => x.name === 's5')!.revision).to.equal(made.s5!.revision);
  });
});

// ---------------------------------------------------------------------------------------------
// songs.search
// ---------------------------------------------------------------------------------------------

describe('songs.search', function () {
  let p: WhiteroomClient;
  const S: Record<string, Song> = {};

  const searchSong = (
    key: string,
    name: string,
    meta: { composer: string; genre: string; mood: string; tags: string[]; comments: string },
  ): Song => makeSong({ id: `search-${key}`, name, metadata: { tempo: 100, timeSignature: [4, 4], ...meta } });

  before(async () => {
    p = await spawnClient();
    const all = [
      searchSong('halo', 'Halo', { composer: 'Beyoncé Knowles', genre: 'pop', mood: 'uplifting', tags: ['diva', 'ballad'], comments: 'recorded live at wembley' }),
      searchSong('eclair', 'eclair au chocolat', { composer: 'Pâtissier Anonyme', genre: 'chanson', mood: 'gourmand', tags: ['dessert'], comments: 'sweet' }),
      searchSong('nebula', 'Nebula Dreams', { composer: 'Astro', genre: 'ambient', mood: 'spacey', tags: ['cosmic'], comments: 'long drone' }),
      searchSong('quiet', 'Quiet Night', { composer: 'Someone', genre: 'jazz', mood: 'calm', tags: ['late'], comments: 'inspired by a nebula photograph' }),
      searchSong('blue', 'Blue in Green', { composer: 'Miles Davis', genre: 'jazz', mood: 'melancholic', tags: ['modal', 'standard'], comments: 'Bill Evans voicings' }),
    ];
    for (const s of (await p.songs.saveMany({ items: nonEmpty(all) })).items as Song[]) S[s.id.slice('search-'.length)] = s;
  });
  after(async () => p && cleanupClient(p));

  const find = async (query: string, limit?: number): Promise<string[]> =>
    ((await p.songs.search({ query, ...(limit ? { limit } : {}) })).items as Song[]).map((s) => s.id.replace(/^search-/, ''));

  it('finds by name, composer, genre, mood, tags and comments', async () => {
    expect(await find('halo')).to.deep.equal(['halo']);
    expect(await find('davis')).to.deep.equal(['blue']);
    expect(await find('chanson')).to.deep.equal(['eclair']);
    expect(await find('melancholic')).to.deep.equal(['blue']);
    expect(await find('modal')).to.deep.equal(['blue']);
    expect(await find('wembley')).to.deep.equal(['halo']);
    expect((await find('jazz')).sort()).to.deep.equal(['blue', 'quiet']);
  });

  it('answers whole stored songs', async () => {
    const r = await p.songs.search({ query: 'halo' });
    expect(r.items).to.deep.equal([S.halo]);
    expect(r).to.not.have.property('nextCursor');
  });

  it('ignores case', async () => {
    expect(await find('HALO')).to.deep.equal(['halo']);
    expect(await find('bLuE')).to.deep.equal(['blue']);
  });

  it('ignores diacritics both ways', async () => {
    expect(await find('beyonce')).to.deep.equal(['halo']);
    expect(await find('Beyoncé')).to.deep.equal(['halo']);
    expect(await find('BEYONCÉ')).to.deep.equal(['halo']);
    expect(await find('Éclair')).to.deep.equal(['eclair']);
    expect(await find('patissier')).to.deep.equal(['eclair']);
  });

  it('matches word prefixes', async () => {
    expect(await find('bey')).to.deep.equal(['halo']);
    expect(await find('beyo')).to.deep.equal(['halo']);
    expect(await find('mel')).to.deep.equal(['blue']);
    expect(await find('neb')).to.have.members(['nebula', 'quiet']);
  });

  it('requires every word to match', async () => {
    expect(await find('blue green')).to.deep.equal(['blue']);
    expect(await find('miles evans')).to.deep.equal(['blue']);
    expect(await find('blue halo')).to.deep.equal([]);
    expect(await find('halo zzzz')).to.deep.equal([]);
  });

  it('ranks a name match above a match only in comments', async () => {
    expect(await find('nebula')).to.deep.equal(['nebula', 'quiet']);
  });

  it('honours limit', async () => {
    expect(await find('jazz', 1)).to.have.length(1);
  });

  it('never parses FTS syntax in the query: such queries answer normally', async () => {
    for (const query of ['"', 'NEAR(', 'NEAR(halo', 'a OR b', 'halo OR blue', '*', '-x', 'name:foo', ')(', '"unbalanced', "it's", 'a AND NOT b', '^halo', 'halo + blue', '{name}: halo', 'col:*', '\\', '%', '_']) {
      const r = await p.songs.search({ query }).catch((err: unknown) => expect.fail(`query ${JSON.stringify(query)} answered ${JSON.stringify(err)}`));
      expect(resultValidator('songs.search')(r), `query ${JSON.stringify(query)}`).to.equal(true);
    }
    expect(await find('"halo"')).to.deep.equal(['halo']);
    expect(await find('halo*')).to.deep.equal(['halo']);
    expect(await find('-halo')).to.deep.equal(['halo']);
    expect(await find(')(halo')).to.deep.equal(['halo']);
    expect(await find('halo OR blue')).to.deep.equal([]);
  });

  it('answers no items for an empty or wordless query', async () => {
    expect(await find('')).to.deep.equal([]);
    expect(await find('   ')).to.deep.equal([]);
    expect(await find('!!! ...')).to.deep.equal([]);
  });

  it('handles a long query of many words without error', async () => {
    const r = await p.songs.search({ query: Array.from({ length: 150 }, () => 'halo').join(' ').slice(0, 1000) });
    expect(r.items.map((s: Song) => s.id)).to.deep.equal(['search-halo']);
  });

  it('reflects creates, updates, saves and deletes at once', async () => {
    const s = await p.songs.create({
      item: makeSong({ name: 'Zanzibar Sunrise', metadata: { tempo: 100, timeSignature: [4, 4], tags: [] } }),
    });
    expect(await find('zanzibar')).to.deep.equal([s.id]);
    await p.songs.update({ item: { ...content(s), name: 'Quixotic Sunset' } });
    expect(await find('zanzibar')).to.deep.equal([]);
    expect(await find('quixotic')).to.deep.equal([s.id]);
    const withComment = content(s);
    withComment.name = 'Quixotic Sunset';
    withComment.metadata = { ...withComment.metadata, comments: 'xylophonic' };
    await p.songs.save({ item: withComment });
    expect(await find('xylophonic')).to.deep.equal([s.id]);
    await p.songs.saveMany({ items: [{ ...withComment, name: 'Vorpal' }] });
    expect(await find('quixotic')).to.deep.equal([]);
    expect(await find('vorpal')).to.deep.equal([s.id]);
    await p.songs.setFavorite({ id: s.id, isFavorite: true });
    expect(await find('vorpal')).to.deep.equal([s.id]);
    await p.songs.delete({ id: s.id });
    expect(await find('vorpal')).to.deep.equal([]);
    expect(await find('xylophonic')).to.deep.equal([]);
  });
});

// ---------------------------------------------------------------------------------------------
// store.changed
// ---------------------------------------------------------------------------------------------

describe('store.changed notifications for songs', function () {
  let p: WhiteroomClient;
  before(async () => {
    p = await spawnClient();
  });
  after(async () => p && cleanupClient(p));

  it('announces each committed write once, before its response', async () => {
    const s = makeSong();
    expect(normalized((await tracked(p, () => p.songs.create({ item: s }))).changes)).to.deep.equal([
      { entity: 'songs', op: 'insert', ids: [s.id] },
    ]);
    const created = await p.songs.get({ id: s.id });
    expect(normalized((await tracked(p, () => p.songs.update({ item: content(created) }))).changes)).to.deep.equal([
      { entity: 'songs', op: 'update', ids: [s.id] },
    ]);
    expect(normalized((await tracked(p, () => p.songs.save({ item: content(created) }))).changes)).to.deep.equal([
      { entity: 'songs', op: 'update', ids: [s.id] },
    ]);
    expect(normalized((await tracked(p, () => p.songs.setFavorite({ id: s.id, isFavorite: true }))).changes)).to.deep.equal([
      { entity: 'songs', op: 'update', ids: [s.id] },
    ]);
    expect(normalized((await tracked(p, () => p.songs.markPlayed({ id: s.id }))).changes)).to.deep.equal([
      { entity: 'songs', op: 'update', ids: [s.id] },
    ]);
    expect(normalized((await tracked(p, () => p.songs.delete({ id: s.id }))).changes)).to.deep.equal([
      { entity: 'songs', op: 'delete', ids: [s.id] },
    ]);
  });

  it('sends nothing for reads', async () => {
    const s = await p.songs.create({ item: makeSong() });
    for (const [method, params] of [
      ['songs.get', { id: s.id }],
      ['songs.list', {}],
      ['songs.count', {}],
      ['songs.search', { query: 'song' }],
    ] as const) {
      expect((await tracked(p, () => p.callUntyped(method, params))).changes, method).to.deep.equal([]);
    }
  });

  it('sends nothing for a failed write', async () => {
    const s = await p.songs.create({ item: makeSong() });
    const attempts: [string, unknown][] = [
      ['songs.create', { item: makeSong({ id: s.id }) }],
      ['songs.create', { item: makeSong({ bogus: 1 }) }],
      ['songs.update', { item: makeSong({ id: 'missing' }) }],
      ['songs.update', { item: { ...content(s) }, ifRevision: 9 }],
      ['songs.save', { item: { ...content(s), name: '' } }],
      ['songs.saveMany', { items: [makeSong(), makeSong({ name: 5 })] }],
      ['songs.delete', { id: 'missing' }],
      ['songs.delete', { id: s.id, ifRevision: 9 }],
      ['songs.deleteMany', { ids: [s.id, 'missing'] }],
      ['songs.setFavorite', { id: s.id, isFavorite: true, ifRevision: 9 }],
      ['songs.markPlayed', { id: 'missing' }],
    ];
    for (const [method, params] of attempts) {
      const { error, changes } = await tracked(p, () => p.callUntyped(method, params));
      expect(error, `${method} ${JSON.stringify(params).slice(0, 80)} should fail`).to.not.equal(undefined);
      expect(changes, method).to.deep.equal([]);
    }
    expect(await p.songs.get({ id: s.id })).to.deep.equal(s);
  });

  it('each notification matches the store.changed shape', async () => {
    await p.songs.create({ item: makeSong() });
    const all = notifications(p, 'store.changed');
    expect(all).to.not.be.empty;
    for (const n of all) {
      expect(n).to.include.keys('entity', 'op', 'ids');
      expect(Object.keys(n).every((k) => ['entity', 'op', 'ids', 'revisions'].includes(k)), Object.keys(n).join()).to.equal(true);
      if (n.op !== 'delete') expect(Object.keys(n.revisions ?? {}).sort()).to.deep.equal([...n.ids].sort());
      expect(n.entity).to.be.a('string');
      expect(['insert', 'update', 'delete']).to.include(n.op);
      expect(n.ids).to.be.an('array').that.is.not.empty;
      for (const id of n.ids) expect(id).to.be.a('string');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Both framings: the core verbs and a JSON-RPC batch
// ---------------------------------------------------------------------------------------------

for (const framing of ['ndjson', 'header'] as Framing[]) {
  describe(`songs core verbs over ${framing} framing`, function () {
    let p: WhiteroomClient;
    before(async () => {
      p = await spawnClient({ framing });
      expect((await p.system.info({})).framing).to.equal(framing);
    });
    after(async () => p && cleanupClient(p));

    it('creates, reads, updates and deletes a song', async () => {
      const sent = makeSong();
      const created = await p.songs.create({ item: sent });
      expectKeeps(created, sent);
      expect(await p.songs.get({ id: sent.id })).to.deep.equal(created);
      const updated = await p.songs.update({ item: { ...content(created), name: 'Über-Song ✓' }, ifRevision: 1 });
      expect([updated.name, updated.revision]).to.deep.equal(['Über-Song ✓', 2]);
      const e = await rejects(p.songs.update({ item: content(created), ifRevision: 1 }), -32002);
      expect(e.data).to.deep.equal({ entity: 'songs', id: sent.id, expected: 1, actual: 2 });
      const deleted = await p.songs.delete({ id: sent.id, ifRevision: 2 });
      expect(deleted).to.deep.equal({ ids: [sent.id], count: 1, cascaded: { performances: 0, autosaves: 0 } });
      await rejects(p.songs.get({ id: sent.id }), -32001);
    });

    it('saves and deletes many songs', async () => {
      const items = [makeSong(), makeSong(), makeSong()];
      const saved = await p.songs.saveMany({ items: nonEmpty(items) });
      expect(saved.items.map((s: Song) => s.id)).to.deep.equal(items.map((s) => s.id));
      const e = await rejects(p.songs.deleteMany({ ids: [items[0]!.id, 'absent'] }), -32001);
      expect(e.data).to.deep.equal({ entity: 'songs', id: 'absent' });
      const gone = await p.songs.deleteMany({ ids: nonEmpty(items.map((s) => s.id)) });
      expect(gone.count).to.equal(3);
      for (const s of items) await rejects(p.songs.get({ id: s.id }), -32001);
    });

    it('answers a JSON-RPC batch of song requests in order, with notifications before the batch answer', async () => {
      // Raw protocol (the client sends no batches): a process of its own, spoken to byte for byte.
      const raw = await StoreProcess.start({ framing });
      try {
        expect((await raw.call('system.info')).framing).to.equal(framing);
        const s = makeSong();
        const mark = raw.received.length;
        const batch = [
          { jsonrpc: '2.0', id: `${framing}-b1`, method: 'songs.create', params: { item: s } },
          { jsonrpc: '2.0', id: `${framing}-b2`, method: 'songs.get', params: { id: s.id } },
          { jsonrpc: '2.0', id: `${framing}-b3`, method: 'songs.setFavorite', params: { id: s.id, isFavorite: true } },
          { jsonrpc: '2.0', id: `${framing}-b4`, method: 'songs.get', params: { id: 'missing' } },
          { jsonrpc: '2.0', method: 'songs.markPlayed', params: { id: s.id } },
          { jsonrpc: '2.0', id: `${framing}-b5`, method: 'songs.delete', params: { id: s.id } },
        ];
        const waits = batch.filter((m) => 'id' in m).map((m) => raw.waitForResponse(m.id as string));
        raw.send(batch);
        const answers = await Promise.all(waits);
        const after = raw.received.slice(mark) as any[];
        const at = after.findIndex((m) => Array.isArray(m));
        expect(at, 'the batch is answered with one array').to.be.at.least(0);
        const array = after[at] as RpcResponse[];
        expect(array.map((r) => r.id)).to.deep.equal([`${framing}-b1`, `${framing}-b2`, `${framing}-b3`, `${framing}-b4`, `${framing}-b5`]);
        const [c, g, f, missing, d] = answers;
        expect(resultValidator('songs.create')(c!.result)).to.equal(true);
        expect(g!.result).to.deep.equal(c!.result);
        expect([f!.result.isFavorite, f!.result.revision]).to.deep.equal([true, 2]);
        expect(missing!.error?.code).to.equal(-32001);
        expect(d!.result).to.deep.equal({ ids: [s.id], count: 1, cascaded: { performances: 0, autosaves: 0 } });
        const notes = after.slice(0, at).filter((m) => m.method === 'store.changed').map((m) => m.params);
        expect(notes).to.deep.equal([
          { entity: 'songs', op: 'insert', ids: [s.id], revisions: { [s.id]: 1 } },
          { entity: 'songs', op: 'update', ids: [s.id], revisions: { [s.id]: 2 } },
          { entity: 'songs', op: 'update', ids: [s.id], revisions: { [s.id]: 3 } },
          { entity: 'songs', op: 'delete', ids: [s.id] },
        ]);
      } finally {
        await raw.cleanup();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The database afterwards
// ---------------------------------------------------------------------------------------------

describe('songs: the database after a full workload', function () {
  afterEach(cleanupAll);

  it('passes integrity_check and foreign_key_check, and keeps every committed write across a restart', async () => {
    const dir = ownDir();
    let p = await launch({ dataDir: dir });
    const many = Array.from({ length: 30 }, (_, i) => makeSong({ name: `Workload ${i} Beyoncé` }));
    await p.songs.saveMany({ items: nonEmpty(many) });
    for (const s of many.slice(0, 10)) await p.songs.update({ item: { ...s, name: `${s.name} edited` } });
    for (const s of many.slice(10, 15)) await p.songs.markPlayed({ id: s.id });
    for (const s of many.slice(15, 20)) await p.songs.setFavorite({ id: s.id, isFavorite: true });
    await p.songs.deleteMany({ ids: nonEmpty(many.slice(20, 25).map((s) => s.id)) });
    for (const s of many.slice(25)) await p.songs.delete({ id: s.id });
    const failed = await p.songs.saveMany({ items: [makeSong(), makeSong({ playCount: 1e300 })] }).then(
      (r) => expect.fail(`answered ${JSON.stringify(r).slice(0, 200)}`),
      (err: unknown) => err,
    );
    expect(failed).to.be.instanceOf(WhiteroomError);
    await stop(p);
    insertChildren(dir, {
      performances: many.slice(0, 5).map((s, i) => [`wp${i}`, s.id] as [string, string]),
      autosaves: many.slice(0, 5).map((s, i) => [`wa${i}`, s.id, `wp${i}`] as [string, string, string]),
    });
    p = await launch({ dataDir: dir });
    expect(await count(p)).to.equal(20);
    expect(await count(p, { isFavorite: true })).to.equal(5);
    expect((await p.songs.search({ query: 'beyonce edited', limit: 100 })).items).to.have.length(10);
    const del = await p.songs.deleteMany({ ids: nonEmpty(many.slice(0, 2).map((s) => s.id)) });
    expect(del.cascaded).to.deep.equal({ performances: 2, autosaves: 2 });
    await stop(p);
    expect(idsIn(dir, 'songs')).to.have.length(18);
    expect(idsIn(dir, 'performances')).to.deep.equal(['wp2', 'wp3', 'wp4']);
    expectHealthyDatabase(dir);
  });
});
