/**
 * References a host can rely on (docs/protocol.md: Parents, References inside songs, Recent,
 * Preferences), through the real process, as a host would use them: a preset's voice stays a voice
 * of the preset's instrument through every write; usage answers the songs and performances that
 * name an instrument, voice or preset before it is deleted; recent entries only name items that
 * exist; the favourite flag of a song is the one truth that preferences answer and set.
 */
import { expect } from 'chai';
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

      // Once its presets are detached (voiceId cleared) the voice moves, and the rule still holds.
      for (const x of presets) await ok(p, 'presets.update', { item: { ...content(x), voiceId: undefined } });
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

after(() => procs.cleanupAll());
