/**
 * References a host can rely on (docs/protocol.md: Parents, References inside songs, Recent,
 * Preferences), through the real process, as a host would use them: a preset's voice stays a voice
 * of the preset's instrument through every write; usage answers the songs and performances that
 * name an instrument, voice or preset before it is deleted; recent entries only name items that
 * exist; the favourite flag of a song is the one truth that preferences answer and set.
 */
import { expect } from 'chai';
import { databaseAt } from '../helpers/check.js';
import { join } from 'node:path';
import { makeSong } from '../helpers/fixtures.js';
import { StoreProcess } from '../helpers/process.js';
import { saveItem } from '../helpers/items.js';
import { sqlite3 } from '../helpers/registry-helpers.js';
import { Procs, fails, normalized, ok, stop, tracked } from '../helpers/rpc.js';

type Rec = Record<string, any>;

const procs = new Procs();

let n = 0;
const uid = (prefix: string): string => `${prefix}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
const instrument = (o: Rec = {}): Rec => ({ id: uid('inst'), name: 'Grand Piano', type: 'piano', ...o });
const voice = (instrumentId: string, o: Rec = {}): Rec => ({ id: uid('voice'), instrumentId, name: 'Voice', number: 1, ...o });
const preset = (instrumentId: string, o: Rec = {}): Rec => ({ id: uid('preset'), instrumentId, name: 'Preset', parameters: { cutoff: 0.5 }, ...o });
/** The item as a host sends it back (without the fields the store sets). */
const content = ({ createdAt: _c, updatedAt: _u, revision: _r, ...rest }: Rec): Rec => rest;

/** Everything the registry holds, to compare before and after a refused write. */
async function registry(p: StoreProcess): Promise<Rec> {
  return {
    instruments: (await ok(p, 'instruments.list', { limit: 1000 })).items,
    voices: (await ok(p, 'voices.list', { limit: 1000 })).items,
    presets: (await ok(p, 'presets.list', { limit: 1000 })).items,
  };
}

describe('references: a preset\'s voice is a voice of the preset\'s instrument, through every write', function () {
  let p: StoreProcess;
  let a: Rec, b: Rec, v: Rec, presets: Rec[];
  beforeEach(async () => {
    p = await procs.launch();
    a = await ok(p, 'instruments.create', { item: instrument({ name: 'A' }) });
    b = await ok(p, 'instruments.create', { item: instrument({ name: 'B' }) });
    v = await ok(p, 'voices.create', { item: voice(a.id) });
    presets = (await ok(p, 'presets.saveMany', { items: [preset(a.id, { voiceId: v.id }), preset(a.id, { voiceId: v.id })] })).items;
  });
  afterEach(() => procs.cleanupAll());

  for (const method of ['voices.update', 'voices.save', 'voices.saveMany'] as const) {
    it(`${method} moving a voice that presets name to another instrument is -32004 naming the presets, nothing written`, async () => {
      const before = await registry(p);
      const moved = { ...content(v), instrumentId: b.id, name: 'Moved' };
      const params = method === 'voices.saveMany' ? { items: [voice(b.id), moved] } : { item: moved };
      const { response, changes } = await tracked(p, method, params);
      expect(response.error?.code, JSON.stringify(response)).to.equal(-32004);
      const e = await fails(p, method, params, -32004);
      const at = method === 'voices.saveMany' ? '/items/1' : '/item';
      expect(e.data).to.deep.equal({
        entity: 'voices',
        field: 'instrumentId',
        value: b.id,
        path: `${at}/instrumentId`,
        presetIds: presets.map((x) => x.id).sort(),
        presetCount: 2,
      });
      expect(changes).to.deep.equal([]);
      expect(await registry(p)).to.deep.equal(before);

      // An edit that keeps the instrument is not refused; a voice no preset names moves freely.
      const renamed = await ok(p, 'voices.update', { item: { ...content(v), name: 'Renamed' } });
      expect(renamed).to.include({ name: 'Renamed', instrumentId: a.id, revision: 2 });
      const free = await ok(p, 'voices.create', { item: voice(a.id) });
      expect((await ok(p, 'voices.save', { item: { ...content(free), instrumentId: b.id } })).instrumentId).to.equal(b.id);

      // Once its presets are detached (voiceId cleared: a save without it, which replaces the
      // preset whole; an update would keep what it leaves out) the voice moves, and the rule still holds.
      for (const x of presets) await ok(p, 'presets.save', { item: { ...content(x), voiceId: undefined } });
      const again = method === 'voices.saveMany' ? { items: [{ ...moved, name: 'Moved' }] } : { item: moved };
      await ok(p, method, again);
      expect((await ok(p, 'voices.get', { id: v.id })).instrumentId).to.equal(b.id);
      await fails(p, 'presets.update', { item: { ...content(presets[0]!), voiceId: v.id } }, -32004);
    });
  }

  it('names at most 20 of the presets in the way, and how many there are', async () => {
    await ok(p, 'presets.saveMany', { items: Array.from({ length: 23 }, () => preset(a.id, { voiceId: v.id })) });
    const e = await fails(p, 'voices.update', { item: { ...content(v), instrumentId: b.id } }, -32004);
    expect(e.data.presetIds).to.have.length(20);
    expect(e.data.presetCount).to.equal(25);
  });

});

describe('references: recent entries name items that exist', function () {
  afterEach(() => procs.cleanupAll());

  const FAMILY: Record<string, string> = { song: 'songs', performance: 'performances', instrument: 'instruments', voice: 'voices', preset: 'presets' };

  it('recent.touch of an item that does not exist is -32001 {entity, id}, and writes nothing', async () => {
    const p = await procs.launch();
    for (const [itemType, entity] of Object.entries(FAMILY)) {
      const id = uid(`no-${itemType}`);
      const { response, changes } = await tracked(p, 'recent.touch', { itemType, itemId: id, itemName: 'Ghost' });
      expect(response.error?.code, JSON.stringify(response)).to.equal(-32001);
      const e = await fails(p, 'recent.touch', { itemType, itemId: id, itemName: 'Ghost' }, -32001);
      expect(e.data).to.deep.equal({ entity, id });
      expect(changes).to.deep.equal([]);
      // an item of another type with that id is not it
      await saveItem(p, itemType === 'song' ? 'instrument' : 'song', id);
      await fails(p, 'recent.touch', { itemType, itemId: id, itemName: 'Ghost' }, -32001);
      // once it exists, the touch is recorded
      await saveItem(p, itemType, id);
      expect(await ok(p, 'recent.touch', { itemType, itemId: id, itemName: 'Real' })).to.include({ itemType, itemId: id, itemName: 'Real' });
    }
    expect((await ok(p, 'recent.list', {})).items.map((x: Rec) => x.itemName)).to.deep.equal(Array(5).fill('Real'));
  });

  it('touch, delete, list: the deleted item is never listed, even from an entry left behind in the file', async () => {
    const dataDir = procs.ownDir('wr-refs-');
    let p = await procs.launch({ dataDir });
    const kept = await saveItem(p, 'song', uid('song'), 'Kept');
    const gone = await saveItem(p, 'song', uid('song'), 'Gone');
    const preset = await saveItem(p, 'preset', uid('preset'), 'Preset');
    for (const [t, x] of [['song', kept], ['song', gone], ['preset', preset]] as const) {
      await ok(p, 'recent.touch', { itemType: t, itemId: x.id, itemName: x.name });
    }
    const { changes } = await tracked(p, 'songs.delete', { id: gone.id });
    expect(normalized(changes)).to.deep.include({ entity: 'recent', op: 'delete', ids: [`song:${gone.id}`] });
    expect((await ok(p, 'recent.list', {})).items.map((x: Rec) => x.itemName)).to.deep.equal(['Preset', 'Kept']);
    await stop(p);

    // Entries a store that did not remove them left behind (an older version, another tool):
    // their items are gone, and recent.list never answers them.
    const later = Date.now() + 60_000;
    sqlite3(
      dataDir,
      `INSERT INTO recently_used (id, item_type, item_id, item_name, accessed_at) VALUES
         ('song:${gone.id}', 'song', '${gone.id}', 'Gone', ${later}),
         ('voice:v-gone', 'voice', 'v-gone', 'Gone voice', ${later + 1}),
         ('preset:${kept.id}', 'preset', '${kept.id}', 'A song id, no preset', ${later + 2})`,
    );
    p = await procs.launch({ dataDir });
    expect((await ok(p, 'recent.list', {})).items.map((x: Rec) => x.itemName)).to.deep.equal(['Preset', 'Kept']);
    expect((await ok(p, 'recent.list', { itemType: 'song' })).items.map((x: Rec) => x.itemName)).to.deep.equal(['Kept']);
    expect((await ok(p, 'recent.list', { itemType: 'voice' })).items).to.deep.equal([]);
    expect((await ok(p, 'recent.list', { itemType: 'preset', limit: 1 })).items.map((x: Rec) => x.itemName)).to.deep.equal(['Preset']);
  });
});

/** A song whose mix graph has one track per reference given (plus a track that names nothing). */
function songNaming(name: string, refs: Rec[]): Rec {
  const tracks = refs.map((r, i) => ({ id: `t${i}`, name: `Track ${i}`, volume: 0.8, pan: 0, mute: false, solo: false, ...r }));
  return makeSong({ name, mixGraph: { tracks: [...tracks, { id: 'bare', name: 'Bare', volume: 1, pan: 0, mute: false, solo: false }], buses: [] } });
}
const performanceNaming = (songId: string, name: string, map: Rec): Rec => ({ id: uid('perf'), songId, name, arrangementStyle: 'SATB', instrumentationMap: map, mixTargets: {} });
const names = (xs: Rec[]): string[] => xs.map((x) => x.name as string);

describe('references: instruments.usage, voices.usage, presets.usage', function () {
  let p: StoreProcess;
  let piano: Rec, organ: Rec, v: Rec, pr: Rec;
  let songs: Rec;
  beforeEach(async () => {
    p = await procs.launch();
    piano = await ok(p, 'instruments.create', { item: instrument({ name: 'Piano' }) });
    organ = await ok(p, 'instruments.create', { item: instrument({ name: 'Organ' }) });
    v = await ok(p, 'voices.create', { item: voice(piano.id) });
    pr = await ok(p, 'presets.create', { item: preset(piano.id, { voiceId: v.id }) });
    songs = {
      bravo: await ok(p, 'songs.save', { item: songNaming('bravo', [{ instrumentId: piano.id, voiceId: v.id, presetId: pr.id }]) }),
      alpha: await ok(p, 'songs.save', { item: songNaming('Alpha', [{ instrumentId: organ.id }, { instrumentId: piano.id }]) }),
      charlie: await ok(p, 'songs.save', { item: songNaming('Charlie', [{ instrumentId: organ.id, presetId: pr.id }]) }),
      // names it only where a track does not hold references: not a use
      other: await ok(p, 'songs.save', { item: makeSong({ name: 'Other', roles: [{ id: 'r', name: 'R', type: 'x', generatorConfig: {}, parameters: { instrumentId: piano.id } }], mixGraph: { tracks: [], instrumentId: piano.id } }) }),
    };
    await ok(p, 'performances.saveMany', {
      items: [
        performanceNaming(songs.other.id, 'Live', { keys: { instrumentId: piano.id, presetId: pr.id, parameters: {} }, bass: 'plain text names nothing' }),
        performanceNaming(songs.alpha.id, 'Acoustic', { lead: { instrumentId: organ.id, voiceId: v.id } }),
      ],
    });
  });
  afterEach(() => procs.cleanupAll());

  it('a host asks who uses an instrument, deletes it, and the songs keep their tracks as they were', async () => {
    const { response, changes } = await tracked(p, 'instruments.usage', { id: piano.id });
    expect(changes, 'a read writes nothing').to.deep.equal([]);
    const used = response.result;
    expect(names(used.songs), 'by name, case-insensitive').to.deep.equal(['Alpha', 'bravo']);
    expect(used.songs[0]).to.deep.equal({ id: songs.alpha.id, name: 'Alpha' });
    expect(used.songCount).to.equal(2);
    expect(used.performances).to.deep.equal([{ id: used.performances[0].id, name: 'Live', songId: songs.other.id }]);
    expect(used.performanceCount).to.equal(1);

    await ok(p, 'instruments.delete', { id: piano.id });
    // The references are the host's: kept as they were, so usage still finds them for clean-up.
    expect(await ok(p, 'songs.get', { id: songs.bravo.id })).to.deep.equal(songs.bravo);
    expect(await ok(p, 'instruments.usage', { id: piano.id })).to.deep.equal(used);
  });

  it('voices.usage and presets.usage read voiceId and presetId the same way', async () => {
    const byVoice = await ok(p, 'voices.usage', { id: v.id });
    expect(names(byVoice.songs)).to.deep.equal(['bravo']);
    expect(names(byVoice.performances)).to.deep.equal(['Acoustic']);
    expect([byVoice.songCount, byVoice.performanceCount]).to.deep.equal([1, 1]);
    const byPreset = await ok(p, 'presets.usage', { id: pr.id });
    expect(names(byPreset.songs)).to.deep.equal(['bravo', 'Charlie']);
    expect(names(byPreset.performances)).to.deep.equal(['Live']);
    // an instrument id is no voice id
    expect(await ok(p, 'voices.usage', { id: piano.id })).to.deep.equal({ songs: [], songCount: 0, performances: [], performanceCount: 0 });
  });

  it('an id nothing names, or no record has, answers empty usage; limit bounds the lists, not the counts', async () => {
    for (const method of ['instruments.usage', 'voices.usage', 'presets.usage']) {
      expect(await ok(p, method, { id: 'no-such-id' })).to.deep.equal({ songs: [], songCount: 0, performances: [], performanceCount: 0 });
    }
    const first = await ok(p, 'instruments.usage', { id: organ.id, limit: 1 });
    expect(first).to.deep.equal({
      songs: [{ id: songs.alpha.id, name: 'Alpha' }],
      songCount: 2,
      performances: [{ id: first.performances[0].id, name: 'Acoustic', songId: songs.alpha.id }],
      performanceCount: 1,
    });
    await fails(p, 'instruments.usage', { id: organ.id, limit: 1001 }, -32602);
    await fails(p, 'presets.usage', {}, -32602);
  });
});

describe('references: favourites are the records\' isFavorite, and preferences follow it', function () {
  let p: StoreProcess;
  let alpha: Rec, beta: Rec, gamma: Rec, perf: Rec;
  beforeEach(async () => {
    p = await procs.launch();
    beta = await ok(p, 'songs.save', { item: makeSong({ name: 'beta' }) });
    alpha = await ok(p, 'songs.save', { item: makeSong({ name: 'Alpha' }) });
    gamma = await ok(p, 'songs.save', { item: makeSong({ name: 'Gamma' }) });
    perf = await ok(p, 'performances.save', { item: performanceNaming(alpha.id, 'Live', {}) });
  });
  afterEach(() => procs.cleanupAll());

  const favourites = async (): Promise<Rec> => {
    const prefs = await ok(p, 'preferences.get', {});
    return { songs: prefs.favoriteSongs, performances: prefs.favoritePerformances, instruments: prefs.favoriteInstruments };
  };

  it('a host favourites songs with setFavorite, then reads them in preferences (by name, case-insensitive)', async () => {
    await ok(p, 'songs.setFavorite', { id: beta.id, isFavorite: true });
    await ok(p, 'songs.setFavorite', { id: alpha.id, isFavorite: true });
    await ok(p, 'performances.setFavorite', { id: perf.id, isFavorite: true });
    expect(await favourites()).to.deep.equal({ songs: [alpha.id, beta.id], performances: [perf.id], instruments: [] });
    await ok(p, 'songs.setFavorite', { id: beta.id, isFavorite: false });
    await ok(p, 'songs.delete', { id: alpha.id }); // and its performance with it
    expect(await favourites()).to.deep.equal({ songs: [], performances: [], instruments: [] });
  });

  it('a host sets favourites through preferences, then lists songs: the flags are set, as writes of those songs', async () => {
    await ok(p, 'songs.setFavorite', { id: gamma.id, isFavorite: true });
    const before = { alpha: await ok(p, 'songs.get', { id: alpha.id }), gamma: await ok(p, 'songs.get', { id: gamma.id }) };
    const { response, changes } = await tracked(p, 'preferences.update', { patch: { favoriteSongs: [beta.id, alpha.id], favoritePerformances: [perf.id] } });
    expect(response.result.favoriteSongs).to.deep.equal([alpha.id, beta.id]);
    expect(response.result.favoritePerformances).to.deep.equal([perf.id]);
    expect(normalized(changes)).to.deep.equal([
      { entity: 'performances', op: 'update', ids: [perf.id] },
      { entity: 'preferences', op: 'update', ids: ['default'] },
      { entity: 'songs', op: 'update', ids: [alpha.id, beta.id, gamma.id].sort() },
    ]);
    const songChange = changes.find((c) => c.entity === 'songs')!;
    const listed = (await ok(p, 'songs.list', { isFavorite: true, orderBy: 'name' })).items;
    expect(listed.map((x: Rec) => x.id)).to.deep.equal([alpha.id, beta.id]);
    const a = listed[0];
    expect(a.revision, 'a write of the song').to.equal(before.alpha.revision + 1);
    expect(songChange.revisions![alpha.id]).to.equal(a.revision);
    expect(a.updatedAt, 'use, not an edit').to.equal(before.alpha.updatedAt);
    expect(await ok(p, 'songs.get', { id: gamma.id })).to.include({ isFavorite: false, revision: before.gamma.revision + 1 });
    expect((await ok(p, 'performances.get', { id: perf.id })).isFavorite).to.equal(true);

    // The same list again writes no song; a patch without the lists leaves the flags alone.
    const again = await tracked(p, 'preferences.update', { patch: { favoriteSongs: [alpha.id, beta.id, alpha.id], theme: 'dark' } });
    expect(normalized(again.changes)).to.deep.equal([{ entity: 'preferences', op: 'update', ids: ['default'] }]);
    expect((await ok(p, 'preferences.update', { patch: { fontSize: 'large' } })).favoriteSongs).to.deep.equal([alpha.id, beta.id]);
    expect((await ok(p, 'preferences.update', { patch: { favoriteSongs: [] } })).favoriteSongs).to.deep.equal([]);
    expect(await ok(p, 'songs.count', { isFavorite: true })).to.deep.equal({ count: 0 });
  });

  it('a favourites list naming an id that is no record is -32004 at its element, nothing written', async () => {
    await ok(p, 'songs.setFavorite', { id: gamma.id, isFavorite: true });
    const songsBefore = (await ok(p, 'songs.list', { limit: 1000 })).items;
    const prefsBefore = await ok(p, 'preferences.get', {});
    const cases: [string, string[], number][] = [
      ['favoriteSongs', [alpha.id, 'no-such-song'], 1],
      ['favoritePerformances', [alpha.id], 0], // a song id is no performance
      ['favoriteInstruments', ['no-such-instrument'], 0],
    ];
    for (const [field, list, at] of cases) {
      const patch = { theme: 'dark', favoriteSongs: [alpha.id], [field]: list };
      const { response, changes } = await tracked(p, 'preferences.update', { patch });
      expect(response.error?.code, JSON.stringify(response)).to.equal(-32004);
      const e = await fails(p, 'preferences.update', { patch }, -32004);
      expect(e.data).to.deep.equal({ entity: 'preferences', field, value: list[at], path: `/patch/${field}/${at}` });
      expect(changes).to.deep.equal([]);
    }
    // A stale ifRevision with a valid list: nothing written either.
    await fails(p, 'preferences.update', { patch: { favoriteSongs: [alpha.id] }, ifRevision: prefsBefore.revision + 5 }, -32002);
    expect((await ok(p, 'songs.list', { limit: 1000 })).items).to.deep.equal(songsBefore);
    expect(await ok(p, 'preferences.get', {})).to.deep.equal(prefsBefore);
  });

  it('preferences.reset keeps favourite songs and performances (the records\' state) and empties favoriteInstruments', async () => {
    const inst = await ok(p, 'instruments.create', { item: instrument() });
    await ok(p, 'preferences.update', { patch: { favoriteSongs: [beta.id], favoritePerformances: [perf.id], favoriteInstruments: [inst.id], theme: 'dark' } });
    const reset = await ok(p, 'preferences.reset', {});
    expect(reset.theme).to.equal('system');
    expect({ songs: reset.favoriteSongs, performances: reset.favoritePerformances, instruments: reset.favoriteInstruments }).to.deep.equal({
      songs: [beta.id],
      performances: [perf.id],
      instruments: [],
    });
    expect((await ok(p, 'songs.get', { id: beta.id })).isFavorite).to.equal(true);
  });

  it('favoriteInstruments stays a list in the order given, and never answers an instrument that is gone', async () => {
    const [x, y, z] = (await ok(p, 'instruments.saveMany', { items: [instrument({ name: 'X' }), instrument({ name: 'Y' }), instrument({ name: 'Z' })] })).items;
    expect((await ok(p, 'preferences.update', { patch: { favoriteInstruments: [z.id, x.id, y.id] } })).favoriteInstruments).to.deep.equal([z.id, x.id, y.id]);
    await ok(p, 'instruments.delete', { id: x.id });
    expect((await favourites()).instruments).to.deep.equal([z.id, y.id]);
  });

  it('favourites an older database kept only in the preferences become the songs\' flags at the next start', async () => {
    // What a version-3 store left: the ids in the preferences row, the songs' flags unset.
    const dataDir = procs.ownDir('wr-refs-');
    const db = databaseAt(join(dataDir, 'data.db'), 3);
    const insert = db.prepare(
      `INSERT INTO songs (id, name, name_key, created_at, updated_at, determinism_seed, sections_json, roles_json, projections_json, mix_graph_json)
       VALUES (?, ?, ?, 1000, 2000, 's', '[]', '[]', '[]', '{"tracks":[]}')`,
    );
    insert.run('s1', 'One', 'one');
    insert.run('s2', 'Two', 'two');
    db.prepare('UPDATE user_preferences SET favorite_songs_json = ?').run('["s2", "gone"]');
    db.close();
    const q = await procs.launch({ dataDir });
    expect((await ok(q, 'preferences.get', {})).favoriteSongs).to.deep.equal(['s2']);
    expect(await ok(q, 'songs.get', { id: 's2' })).to.include({ isFavorite: true, revision: 2, updatedAt: 2000 });
    expect((await ok(q, 'songs.get', { id: 's1' })).isFavorite).to.equal(false);
  });
});

after(() => procs.cleanupAll());
