/**
 * instruments.*, voices.*, presets.*: the instrument registry through the real process (NDJSON
 * framing; a few calls over Content-Length framing). Every successful answer is checked against
 * the method's result schema; failures against the contract's error table; cascades against
 * delete results, store.changed and later reads; the file itself against SQLite's own checks.
 */
import { expect } from 'chai';
import { resultValidator } from '../../src/methods/index.js';
import { StoreProcess, type Framing } from '../helpers/process.js';
import { content, fails, invalid, normalized, ok, sqlite3, tracked } from '../helpers/registry-helpers.js';

type Rec = Record<string, any>;

let n = 0;
const uid = (prefix: string): string => `${prefix}-${++n}-${Math.random().toString(36).slice(2, 8)}`;

const instrument = (o: Rec = {}): Rec => ({ id: uid('inst'), name: 'Grand Piano', type: 'piano', ...o });
const voice = (instrumentId: string, o: Rec = {}): Rec => ({ id: uid('voice'), instrumentId, name: 'Voice', number: 1, ...o });
const preset = (instrumentId: string, o: Rec = {}): Rec => ({
  id: uid('preset'),
  instrumentId,
  name: 'Preset',
  parameters: { cutoff: 0.5 },
  ...o,
});

const ids = (items: Rec[]): string[] => items.map((x) => x.id as string).sort();

/** A fresh sidecar (own temp data dir) for every test of the describe that calls it. */
function freshProcess(framing: Framing = 'ndjson'): () => StoreProcess {
  let p: StoreProcess | undefined;
  beforeEach(async () => {
    p = await StoreProcess.start({ framing });
  });
  afterEach(async () => {
    await p?.cleanup();
    p = undefined;
  });
  return () => p!;
}

// ---------------------------------------------------------------------------------------------
// instruments
// ---------------------------------------------------------------------------------------------

describe('instruments shared verbs', function () {
  const proc = freshProcess();

  it('creating an instrument fills the defaults: isBuiltin true, isAvailable true, tags []', async () => {
    const p = proc();
    const created = await ok(p, 'instruments.create', { item: { name: 'Minimal', type: 'synth' } });
    expect(created.id).to.be.a('string').and.not.equal('');
    expect(created).to.include({ name: 'Minimal', type: 'synth', isBuiltin: true, isAvailable: true, revision: 1 });
    expect(created.tags).to.deep.equal([]);
    expect(created.createdAt).to.be.a('number');
    expect(created.updatedAt).to.be.a('number');
    expect(await ok(p, 'instruments.get', { id: created.id })).to.deep.equal(created);
  });

  it('customData with unknown nested content and tags round-trip deep-equal', async () => {
    const p = proc();
    const sent = instrument({
      category: 'Kane Marco',
      pluginId: 'com.example.au.grand',
      isBuiltin: false,
      isAvailable: false,
      manufacturer: 'Kane Marco',
      version: '2.1.0',
      description: 'A concert grand',
      tags: ['acoustic', 'Warm', 'ünïcödé ✓'],
      customData: { future: { nested: [1, 'two', { three: null, four: true }], n: 1.5 }, empty: {}, list: [] },
    });
    const created = await ok(p, 'instruments.create', { item: sent });
    for (const [k, v] of Object.entries(sent)) expect(created[k], k).to.deep.equal(v);
    expect(await ok(p, 'instruments.get', { id: sent.id })).to.deep.equal(created);
    const listed = await ok(p, 'instruments.list', {});
    expect(listed.items).to.deep.equal([created]);
  });

  it('create of an existing id is -32003 and changes nothing', async () => {
    const p = proc();
    const sent = instrument();
    const created = await ok(p, 'instruments.create', { item: sent });
    const e = await fails(p, 'instruments.create', { item: { ...sent, name: 'Other' } }, -32003);
    expect(e.data).to.deep.equal({ entity: 'instruments', id: sent.id });
    expect(await ok(p, 'instruments.get', { id: sent.id })).to.deep.equal(created);
  });

  it('get of a missing id is -32001 naming the entity and id', async () => {
    const e = await fails(proc(), 'instruments.get', { id: 'nope' }, -32001);
    expect(e.data).to.deep.equal({ entity: 'instruments', id: 'nope' });
  });

  it('an unknown top-level field is -32602 naming it', async () => {
    const p = proc();
    await invalid(p, 'instruments.create', { item: { ...instrument(), colour: 'red' } }, '/item/colour');
    expect((await ok(p, 'instruments.count', {})).count).to.equal(0);
  });

  it('update replaces the instrument, advances the revision and announces an update', async () => {
    const p = proc();
    const created = await ok(p, 'instruments.create', { item: instrument({ tags: ['a'], manufacturer: 'X' }) });
    const { response, changes } = await tracked(p, 'instruments.update', {
      item: { ...content(created), name: 'Renamed', tags: ['b', 'c'] },
      ifRevision: 1,
    });
    const updated = resultOk('instruments.update', response);
    expect(updated).to.include({ name: 'Renamed', revision: 2, createdAt: created.createdAt, manufacturer: 'X' });
    expect(updated.tags).to.deep.equal(['b', 'c']);
    expect(normalized(changes)).to.deep.equal([{ entity: 'instruments', op: 'update', ids: [created.id] }]);
    expect(await ok(p, 'instruments.get', { id: created.id })).to.deep.equal(updated);
  });

  it('update with a stale ifRevision is -32002 and changes nothing', async () => {
    const p = proc();
    const created = await ok(p, 'instruments.create', { item: instrument() });
    await ok(p, 'instruments.update', { item: { ...content(created), name: 'Second' } });
    const e = await fails(p, 'instruments.update', { item: { ...content(created), name: 'Third' }, ifRevision: 1 }, -32002);
    expect(e.data).to.deep.equal({ entity: 'instruments', id: created.id, expected: 1, actual: 2 });
    const stored = await ok(p, 'instruments.get', { id: created.id });
    expect([stored.name, stored.revision]).to.deep.equal(['Second', 2]);
  });

  it('update of a missing id is -32001 and creates nothing', async () => {
    const p = proc();
    const e = await fails(p, 'instruments.update', { item: instrument({ id: 'ghost' }) }, -32001);
    expect(e.data).to.deep.equal({ entity: 'instruments', id: 'ghost' });
    expect((await ok(p, 'instruments.count', {})).count).to.equal(0);
  });

  it('save inserts a new instrument, then updates it in place', async () => {
    const p = proc();
    const sent = instrument();
    const first = await tracked(p, 'instruments.save', { item: sent });
    expect(resultOk('instruments.save', first.response)).to.include({ revision: 1 });
    expect(normalized(first.changes)).to.deep.equal([{ entity: 'instruments', op: 'insert', ids: [sent.id] }]);
    const second = await tracked(p, 'instruments.save', { item: { ...sent, name: 'Upright' } });
    expect(resultOk('instruments.save', second.response)).to.include({ revision: 2, name: 'Upright', createdAt: first.response.result.createdAt });
    expect(normalized(second.changes)).to.deep.equal([{ entity: 'instruments', op: 'update', ids: [sent.id] }]);
    await ok(p, 'instruments.get', { id: sent.id });
  });

  it('delete answers what it removed; a stale ifRevision is -32002 and deletes nothing', async () => {
    const p = proc();
    const created = await ok(p, 'instruments.create', { item: instrument() });
    const e = await fails(p, 'instruments.delete', { id: created.id, ifRevision: 7 }, -32002);
    expect(e.data).to.deep.equal({ entity: 'instruments', id: created.id, expected: 7, actual: 1 });
    await ok(p, 'instruments.get', { id: created.id });
    const { response, changes } = await tracked(p, 'instruments.delete', { id: created.id, ifRevision: 1 });
    expect(resultOk('instruments.delete', response)).to.deep.equal({
      ids: [created.id],
      count: 1,
      cascaded: { voices: 0, presets: 0 },
    });
    expect(normalized(changes)).to.deep.equal([{ entity: 'instruments', op: 'delete', ids: [created.id] }]);
    await fails(p, 'instruments.get', { id: created.id }, -32001);
    const again = await fails(p, 'instruments.delete', { id: created.id }, -32001);
    expect(again.data).to.deep.equal({ entity: 'instruments', id: created.id });
  });

  it('saveMany saves all in one transaction: inserts and updates, one notification per op', async () => {
    const p = proc();
    const existing = await ok(p, 'instruments.create', { item: instrument() });
    const fresh = instrument({ name: 'Fresh' });
    const { response, changes } = await tracked(p, 'instruments.saveMany', {
      items: [{ ...content(existing), name: 'Changed' }, fresh],
    });
    const saved = resultOk('instruments.saveMany', response);
    expect(saved.items.map((x: Rec) => [x.id, x.name, x.revision])).to.deep.equal([
      [existing.id, 'Changed', 2],
      [fresh.id, 'Fresh', 1],
    ]);
    expect(normalized(changes)).to.deep.equal([
      { entity: 'instruments', op: 'insert', ids: [fresh.id] },
      { entity: 'instruments', op: 'update', ids: [existing.id] },
    ]);
  });

  it('saveMany is all or none: one invalid item and nothing is written', async () => {
    const p = proc();
    const existing = await ok(p, 'instruments.create', { item: instrument() });
    const good = instrument();
    const { type: _t, ...bad } = instrument();
    const { changes } = await tracked(p, 'instruments.saveMany', { items: [{ ...content(existing), name: 'Changed' }, good, bad] });
    await invalid(p, 'instruments.saveMany', { items: [{ ...content(existing), name: 'Changed' }, good, bad] }, '/items/2/type');
    expect(changes).to.deep.equal([]);
    expect((await ok(p, 'instruments.count', {})).count).to.equal(1);
    expect(await ok(p, 'instruments.get', { id: existing.id })).to.deep.equal(existing);
    await fails(p, 'instruments.get', { id: good.id }, -32001);
  });

  it('deleteMany is all or none: one missing id is -32001 and nothing is deleted', async () => {
    const p = proc();
    const a = await ok(p, 'instruments.create', { item: instrument() });
    const b = await ok(p, 'instruments.create', { item: instrument() });
    const e = await fails(p, 'instruments.deleteMany', { ids: [a.id, 'missing', b.id] }, -32001);
    expect(e.data).to.deep.equal({ entity: 'instruments', id: 'missing' });
    expect((await ok(p, 'instruments.count', {})).count).to.equal(2);
    const gone = await ok(p, 'instruments.deleteMany', { ids: [a.id, b.id] });
    expect(gone).to.deep.equal({ ids: [a.id, b.id], count: 2, cascaded: { voices: 0, presets: 0 } });
    expect((await ok(p, 'instruments.count', {})).count).to.equal(0);
  });

  it('list and count filter by type, category and isAvailable', async () => {
    const p = proc();
    const items = [
      instrument({ type: 'synth', category: 'Local', isAvailable: true }),
      instrument({ type: 'synth', category: 'Third Party', isAvailable: false }),
      instrument({ type: 'piano', category: 'Local', isAvailable: true }),
      instrument({ type: 'sampler', category: 'Kane Marco', isAvailable: false }),
      instrument({ type: 'synth', isAvailable: true }),
    ];
    await ok(p, 'instruments.saveMany', { items });
    const cases: [Rec, Rec[]][] = [
      [{}, items],
      [{ type: 'synth' }, [items[0]!, items[1]!, items[4]!]],
      [{ category: 'Local' }, [items[0]!, items[2]!]],
      [{ isAvailable: false }, [items[1]!, items[3]!]],
      [{ isAvailable: true }, [items[0]!, items[2]!, items[4]!]],
      [{ type: 'synth', isAvailable: true }, [items[0]!, items[4]!]],
      [{ type: 'synth', category: 'Third Party', isAvailable: false }, [items[1]!]],
      [{ type: 'organ' }, []],
    ];
    for (const [filters, expected] of cases) {
      const listed = await ok(p, 'instruments.list', filters);
      expect(ids(listed.items), JSON.stringify(filters)).to.deep.equal(ids(expected));
      expect(listed).to.not.have.property('nextCursor');
      expect((await ok(p, 'instruments.count', filters)).count, JSON.stringify(filters)).to.equal(expected.length);
    }
  });

  it('list pages through every instrument once, by name ascending', async () => {
    const p = proc();
    const names = ['delta', 'Alpha', 'charlie', 'Echo', 'bravo'];
    await ok(p, 'instruments.saveMany', { items: names.map((name) => instrument({ name })) });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await ok(p, 'instruments.list', { limit: 2, orderBy: 'name', ...(cursor ? { cursor } : {}) });
      seen.push(...r.items.map((x: Rec) => x.name));
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    expect(seen).to.deep.equal(['Alpha', 'bravo', 'charlie', 'delta', 'Echo']);
  });
});

describe('instruments.search', function () {
  let p: StoreProcess;
  const byName: Record<string, Rec> = {};
  before(async () => {
    p = await StoreProcess.start();
    const items = [
      instrument({ name: 'Éclat Strings', type: 'sampler', category: 'Orchestral', manufacturer: 'Kane Marco', description: 'Lush ensemble strings', tags: ['cinematic'] }),
      instrument({ name: 'Harmonium', type: 'organ', category: 'Local', manufacturer: 'Whiteroom', description: 'Reed organ with bellows', tags: ['vintage', 'indian'] }),
      instrument({ name: 'Moog Bass', type: 'synth', category: 'Third Party', manufacturer: 'Müller Audio', description: 'Analog bass with strings of harmonics', tags: ['analog', 'mono'] }),
      instrument({ name: 'Grand Piano', type: 'piano', category: 'Local', manufacturer: 'Steinway', description: 'Concert grand', tags: ['acoustic'] }),
      instrument({ name: 'Pad Machine', type: 'synth', category: 'Kane Marco', manufacturer: 'Whiteroom', description: 'Evolving pads', tags: ['ambient', 'strings'] }),
    ];
    for (const it of (await ok(p, 'instruments.saveMany', { items })).items) byName[it.name] = it;
  });
  after(async () => p?.cleanup());

  const names = async (query: string, limit?: number): Promise<string[]> =>
    (await ok(p, 'instruments.search', { query, ...(limit ? { limit } : {}) })).items.map((x: Rec) => x.name);

  it('finds by name, type, category, manufacturer, description and tags', async () => {
    expect(await names('harmonium')).to.deep.equal(['Harmonium']);
    expect(await names('piano')).to.deep.equal(['Grand Piano']);
    expect(await names('organ')).to.deep.equal(['Harmonium']);
    expect(await names('orchestral')).to.deep.equal(['Éclat Strings']);
    expect(await names('steinway')).to.deep.equal(['Grand Piano']);
    expect(await names('bellows')).to.deep.equal(['Harmonium']);
    expect(await names('cinematic')).to.deep.equal(['Éclat Strings']);
    expect((await names('whiteroom')).sort()).to.deep.equal(['Harmonium', 'Pad Machine']);
    expect((await names('Third Party'))).to.deep.equal(['Moog Bass']);
  });

  it('answers whole stored instruments that pass the result schema', async () => {
    const r = await ok(p, 'instruments.search', { query: 'grand' });
    expect(r.items).to.deep.equal([byName['Grand Piano']]);
  });

  it('ignores case and diacritics, both in the query and in the text', async () => {
    expect(await names('eclat')).to.deep.equal(['Éclat Strings']);
    expect(await names('ÉCLAT')).to.deep.equal(['Éclat Strings']);
    expect(await names('muller')).to.deep.equal(['Moog Bass']);
    expect(await names('MÜLLER')).to.deep.equal(['Moog Bass']);
    expect(await names('GRAND piano')).to.deep.equal(['Grand Piano']);
  });

  it('matches word prefixes, and every word must match', async () => {
    expect(await names('harm')).to.include('Harmonium');
    expect(await names('ste')).to.deep.equal(['Grand Piano']);
    expect(await names('moo ba')).to.deep.equal(['Moog Bass']);
    expect(await names('moog piano')).to.deep.equal([]);
    expect(await names('armonium')).to.deep.equal([]);
  });

  it('ranks best matches first: a name match above a description or tag match', async () => {
    expect(await names('strings')).to.have.members(['Éclat Strings', 'Moog Bass', 'Pad Machine']);
    expect((await names('strings'))[0]).to.equal('Éclat Strings');
    const harm = await names('harmoni');
    expect(harm).to.deep.equal(['Harmonium', 'Moog Bass']);
  });

  it('honours limit', async () => {
    expect(await names('strings', 1)).to.deep.equal(['Éclat Strings']);
  });

  it('treats user text as plain words, never FTS syntax', async () => {
    for (const query of ['"', '"unbalanced', 'NEAR(', 'NEAR(grand piano)', '*', 'grand*', '-x', '-grand', 'grand OR moog', 'AND', 'name:grand', '(', ')', '^grand', 'a"b', "'", '{', '}', ':', '+']) {
      const r = await p.request('instruments.search', { query });
      expect(r.error, `query ${JSON.stringify(query)}: ${JSON.stringify(r.error)}`).to.equal(undefined);
      expect(r.result.items, query).to.be.an('array');
    }
    expect(await names('NEAR(grand piano)')).to.deep.equal([]); // NEAR is a word that must match too
    expect(await names('(grand piano)')).to.deep.equal(['Grand Piano']);
    expect(await names('-grand')).to.deep.equal(['Grand Piano']);
    expect(await names('grand*')).to.deep.equal(['Grand Piano']);
    expect(await names('"grand"')).to.deep.equal(['Grand Piano']);
    expect(await names('grand OR moog')).to.deep.equal([]); // every word must match, OR is a word
    expect(await names('*')).to.deep.equal([]);
  });

  it('answers no items for an empty or blank query', async () => {
    expect(await names('')).to.deep.equal([]);
    expect(await names('   ')).to.deep.equal([]);
  });
});

// ---------------------------------------------------------------------------------------------
// voices
// ---------------------------------------------------------------------------------------------

describe('voices', function () {
  const proc = freshProcess();
  let inst: Rec;
  beforeEach(async () => {
    inst = await ok(proc(), 'instruments.create', { item: instrument({ name: 'Multi' }) });
  });

  const voiceCount = async (filters: Rec = {}): Promise<number> => (await ok(proc(), 'voices.count', filters)).count;

  it('creating a voice fills the range defaults 0..127', async () => {
    const p = proc();
    const created = await ok(p, 'voices.create', { item: { instrumentId: inst.id, name: 'Lead', number: 1 } });
    expect(created).to.include({ instrumentId: inst.id, name: 'Lead', number: 1, keyRangeLow: 0, keyRangeHigh: 127, velocityRangeLow: 0, velocityRangeHigh: 127, revision: 1 });
    expect(await ok(p, 'voices.get', { id: created.id })).to.deep.equal(created);
  });

  it('every field of a voice round-trips', async () => {
    const p = proc();
    const sent = voice(inst.id, {
      number: 16, midiChannel: 16, midiProgram: 127, keyRangeLow: 21, keyRangeHigh: 108,
      velocityRangeLow: 1, velocityRangeHigh: 126, description: 'Layer', color: '#FF8800', icon: 'piano.keys',
    });
    const created = await ok(p, 'voices.create', { item: sent });
    for (const [k, v] of Object.entries(sent)) expect(created[k], k).to.deep.equal(v);
  });

  it('a voice of a missing instrument is -32004 and nothing is written', async () => {
    const p = proc();
    const { changes } = await tracked(p, 'voices.create', { item: voice('no-such-instrument') });
    const e = await fails(p, 'voices.create', { item: voice('no-such-instrument') }, -32004);
    expect(e.data).to.deep.equal({ entity: 'voices', field: 'instrumentId', value: 'no-such-instrument' });
    expect(changes).to.deep.equal([]);
    const s = await fails(p, 'voices.save', { item: voice('no-such-instrument') }, -32004);
    expect(s.data).to.deep.equal({ entity: 'voices', field: 'instrumentId', value: 'no-such-instrument' });
    expect(await voiceCount()).to.equal(0);
  });

  it('moving a voice to a missing instrument by update is -32004 and changes nothing', async () => {
    const p = proc();
    const created = await ok(p, 'voices.create', { item: voice(inst.id) });
    const e = await fails(p, 'voices.update', { item: { ...content(created), instrumentId: 'gone' } }, -32004);
    expect(e.data).to.deep.equal({ entity: 'voices', field: 'instrumentId', value: 'gone' });
    expect(await ok(p, 'voices.get', { id: created.id })).to.deep.equal(created);
  });

  it('a voice number outside 1..16 is -32602', async () => {
    const p = proc();
    for (const number of [0, 17, -1, 1.5]) {
      await invalid(p, 'voices.create', { item: voice(inst.id, { number }) }, '/item/number');
    }
    await ok(p, 'voices.create', { item: voice(inst.id, { number: 16 }) });
    expect(await voiceCount()).to.equal(1);
  });

  it('key and velocity values outside 0..127 are -32602 naming the field', async () => {
    const p = proc();
    for (const f of ['keyRangeLow', 'keyRangeHigh', 'velocityRangeLow', 'velocityRangeHigh']) {
      for (const v of [-1, 128]) await invalid(p, 'voices.create', { item: voice(inst.id, { [f]: v }) }, `/item/${f}`);
    }
    expect(await voiceCount()).to.equal(0);
  });

  it('a key range whose low end is above its high end is -32602 at /item/keyRangeLow, nothing written', async () => {
    const p = proc();
    const { changes } = await tracked(p, 'voices.create', { item: voice(inst.id, { keyRangeLow: 80, keyRangeHigh: 60 }) });
    expect(changes).to.deep.equal([]);
    await invalid(p, 'voices.create', { item: voice(inst.id, { keyRangeLow: 80, keyRangeHigh: 60 }) }, '/item/keyRangeLow');
    await invalid(p, 'voices.save', { item: voice(inst.id, { keyRangeHigh: 0, keyRangeLow: 1 }) }, '/item/keyRangeLow');
    expect(await voiceCount()).to.equal(0);
  });

  it('a velocity range whose low end is above its high end is -32602 at /item/velocityRangeLow', async () => {
    const p = proc();
    await invalid(p, 'voices.create', { item: voice(inst.id, { velocityRangeLow: 100, velocityRangeHigh: 99 }) }, '/item/velocityRangeLow');
    expect(await voiceCount()).to.equal(0);
  });

  it('equal ends are a valid range, and one end alone is checked against the other default', async () => {
    const p = proc();
    const a = await ok(p, 'voices.create', { item: voice(inst.id, { keyRangeLow: 60, keyRangeHigh: 60, velocityRangeLow: 127 }) });
    expect(a).to.include({ keyRangeLow: 60, keyRangeHigh: 60, velocityRangeLow: 127, velocityRangeHigh: 127 });
    const b = await ok(p, 'voices.create', { item: voice(inst.id, { keyRangeHigh: 0 }) });
    expect(b).to.include({ keyRangeLow: 0, keyRangeHigh: 0 });
  });

  it('an update making a range inverted is -32602 and leaves the voice as it was', async () => {
    const p = proc();
    const created = await ok(p, 'voices.create', { item: voice(inst.id, { keyRangeLow: 10, keyRangeHigh: 20 }) });
    await invalid(p, 'voices.update', { item: { ...content(created), keyRangeLow: 30 } }, '/item/keyRangeLow');
    expect(await ok(p, 'voices.get', { id: created.id })).to.deep.equal(created);
  });

  it('voices.saveMany names the item index in the path, and writes nothing', async () => {
    const p = proc();
    const good = voice(inst.id);
    const bad = voice(inst.id, { keyRangeLow: 100, keyRangeHigh: 50 });
    const { changes } = await tracked(p, 'voices.saveMany', { items: [good, bad] });
    expect(changes).to.deep.equal([]);
    await invalid(p, 'voices.saveMany', { items: [good, bad] }, '/items/1/keyRangeLow');
    await invalid(p, 'voices.saveMany', { items: [good, voice(inst.id, { velocityRangeLow: 2, velocityRangeHigh: 1 })] }, '/items/1/velocityRangeLow');
    expect(await voiceCount()).to.equal(0);
    await fails(p, 'voices.get', { id: good.id }, -32001);
  });

  it('voices.saveMany with a missing instrument in one item is -32004 and writes nothing', async () => {
    const p = proc();
    const good = voice(inst.id);
    const e = await fails(p, 'voices.saveMany', { items: [good, voice('absent')] }, -32004);
    expect(e.data).to.deep.equal({ entity: 'voices', field: 'instrumentId', value: 'absent' });
    expect(await voiceCount()).to.equal(0);
  });

  it('list and count filter by instrumentId', async () => {
    const p = proc();
    const other = await ok(p, 'instruments.create', { item: instrument({ name: 'Other' }) });
    const mine = [voice(inst.id, { number: 1 }), voice(inst.id, { number: 2 }), voice(inst.id, { number: 3 })];
    const theirs = [voice(other.id, { number: 1 })];
    await ok(p, 'voices.saveMany', { items: [...mine, ...theirs] });
    expect(ids((await ok(p, 'voices.list', { instrumentId: inst.id })).items)).to.deep.equal(ids(mine));
    expect(ids((await ok(p, 'voices.list', { instrumentId: other.id })).items)).to.deep.equal(ids(theirs));
    expect((await ok(p, 'voices.list', { instrumentId: 'nobody' })).items).to.deep.equal([]);
    expect(await voiceCount({ instrumentId: inst.id })).to.equal(3);
    expect(await voiceCount({ instrumentId: other.id })).to.equal(1);
    expect(await voiceCount()).to.equal(4);
    const page = await ok(p, 'voices.list', { instrumentId: inst.id, limit: 2 });
    expect(page.items).to.have.length(2);
    const rest = await ok(p, 'voices.list', { instrumentId: inst.id, limit: 2, cursor: page.nextCursor });
    expect(ids([...page.items, ...rest.items])).to.deep.equal(ids(mine));
  });

  it('update, save, delete and deleteMany behave as for every family', async () => {
    const p = proc();
    const a = await ok(p, 'voices.create', { item: voice(inst.id) });
    const b = await ok(p, 'voices.create', { item: voice(inst.id, { number: 2 }) });
    const up = await ok(p, 'voices.update', { item: { ...content(a), name: 'Renamed' }, ifRevision: 1 });
    expect(up).to.include({ name: 'Renamed', revision: 2 });
    const conflict = await fails(p, 'voices.update', { item: content(a), ifRevision: 1 }, -32002);
    expect(conflict.data).to.deep.equal({ entity: 'voices', id: a.id, expected: 1, actual: 2 });
    const saved = await ok(p, 'voices.save', { item: { ...content(b), midiChannel: 3 } });
    expect(saved).to.include({ midiChannel: 3, revision: 2 });
    const d = await fails(p, 'voices.delete', { id: a.id, ifRevision: 1 }, -32002);
    expect(d.data).to.deep.equal({ entity: 'voices', id: a.id, expected: 1, actual: 2 });
    const e = await fails(p, 'voices.deleteMany', { ids: [a.id, 'missing'] }, -32001);
    expect(e.data).to.deep.equal({ entity: 'voices', id: 'missing' });
    expect(await voiceCount()).to.equal(2);
    const del = await ok(p, 'voices.delete', { id: a.id, ifRevision: 2 });
    expect(del).to.deep.include({ ids: [a.id], count: 1 });
    const many = await ok(p, 'voices.deleteMany', { ids: [b.id] });
    expect(many).to.deep.include({ ids: [b.id], count: 1 });
    expect(await voiceCount()).to.equal(0);
    const dup = await ok(p, 'voices.create', { item: voice(inst.id, { id: 'v-dup' }) });
    expect((await fails(p, 'voices.create', { item: voice(inst.id, { id: 'v-dup' }) }, -32003)).data).to.deep.equal({ entity: 'voices', id: dup.id });
  });
});

// ---------------------------------------------------------------------------------------------
// presets
// ---------------------------------------------------------------------------------------------

describe('presets', function () {
  const proc = freshProcess();
  let inst: Rec;
  let other: Rec;
  let v1: Rec;
  let vOther: Rec;
  beforeEach(async () => {
    const p = proc();
    inst = await ok(p, 'instruments.create', { item: instrument({ name: 'Synth A', type: 'synth' }) });
    other = await ok(p, 'instruments.create', { item: instrument({ name: 'Synth B', type: 'synth' }) });
    v1 = await ok(p, 'voices.create', { item: voice(inst.id, { name: 'A1' }) });
    vOther = await ok(p, 'voices.create', { item: voice(other.id, { name: 'B1' }) });
  });

  const presetCount = async (filters: Rec = {}): Promise<number> => (await ok(proc(), 'presets.count', filters)).count;

  it('creating a preset fills the defaults: isBuiltin false, isReadonly false, tags []', async () => {
    const p = proc();
    const created = await ok(p, 'presets.create', { item: { instrumentId: inst.id, name: 'Init', parameters: {} } });
    expect(created).to.include({ instrumentId: inst.id, name: 'Init', isBuiltin: false, isReadonly: false, revision: 1 });
    expect(created.tags).to.deep.equal([]);
    expect(created.parameters).to.deep.equal({});
    expect(created).to.not.have.property('voiceId');
    expect(await ok(p, 'presets.get', { id: created.id })).to.deep.equal(created);
  });

  it('parameters with unknown nested content round-trip deep-equal, with every other field', async () => {
    const p = proc();
    const parameters = {
      osc: [{ wave: 'saw', detune: -0.07, unison: 7 }, { wave: 'sine', sync: true }],
      filter: { cutoff: 1234.5, env: { a: 0, d: 0.25, s: null, r: 1e-3 } },
      unknownFutureBlock: { deeply: { nested: { list: [[], {}, ['x', 1, false]] } } },
      'ключ': 'значение ✓',
      big: 9007199254740991,
    };
    const sent = preset(inst.id, {
      voiceId: v1.id, category: 'Synth Lead', parameters, isBuiltin: true, isReadonly: true,
      description: 'Bright lead', tags: ['bright', 'lead'], rating: 5, author: 'Kane',
    });
    const created = await ok(p, 'presets.create', { item: sent });
    for (const [k, v] of Object.entries(sent)) expect(created[k], k).to.deep.equal(v);
    expect((await ok(p, 'presets.get', { id: sent.id })).parameters).to.deep.equal(parameters);
    expect((await ok(p, 'presets.list', { instrumentId: inst.id })).items[0].parameters).to.deep.equal(parameters);
    expect((await ok(p, 'presets.search', { query: 'bright' })).items[0].parameters).to.deep.equal(parameters);
  });

  it('a preset of a missing instrument is -32004 naming instrumentId, nothing written', async () => {
    const p = proc();
    const e = await fails(p, 'presets.create', { item: preset('ghost-instrument') }, -32004);
    expect(e.data).to.deep.equal({ entity: 'presets', field: 'instrumentId', value: 'ghost-instrument' });
    const s = await fails(p, 'presets.save', { item: preset('ghost-instrument') }, -32004);
    expect(s.data).to.deep.equal({ entity: 'presets', field: 'instrumentId', value: 'ghost-instrument' });
    expect(await presetCount()).to.equal(0);
  });

  it('a preset naming a missing voice is -32004 naming voiceId, nothing written', async () => {
    const p = proc();
    const e = await fails(p, 'presets.create', { item: preset(inst.id, { voiceId: 'ghost-voice' }) }, -32004);
    expect(e.data).to.deep.equal({ entity: 'presets', field: 'voiceId', value: 'ghost-voice' });
    expect(await presetCount()).to.equal(0);
  });

  it('a preset naming a voice of another instrument is -32004 naming voiceId, nothing written', async () => {
    const p = proc();
    const e = await fails(p, 'presets.create', { item: preset(inst.id, { voiceId: vOther.id }) }, -32004);
    expect(e.data).to.deep.equal({ entity: 'presets', field: 'voiceId', value: vOther.id });
    expect(await presetCount()).to.equal(0);
    const created = await ok(p, 'presets.create', { item: preset(inst.id, { voiceId: v1.id }) });
    const u = await fails(p, 'presets.update', { item: { ...content(created), voiceId: vOther.id } }, -32004);
    expect(u.data).to.deep.equal({ entity: 'presets', field: 'voiceId', value: vOther.id });
    const m = await fails(p, 'presets.update', { item: { ...content(created), instrumentId: other.id } }, -32004);
    expect(m.data).to.deep.equal({ entity: 'presets', field: 'voiceId', value: v1.id });
    expect(await ok(p, 'presets.get', { id: created.id })).to.deep.equal(created);
    const sm = await fails(p, 'presets.saveMany', { items: [preset(other.id, { voiceId: vOther.id }), preset(other.id, { voiceId: v1.id })] }, -32004);
    expect(sm.data).to.deep.equal({ entity: 'presets', field: 'voiceId', value: v1.id });
    expect(await presetCount()).to.equal(1);
  });

  it('list and count filter by instrumentId, voiceId and category', async () => {
    const p = proc();
    const items = [
      preset(inst.id, { voiceId: v1.id, category: 'Pad' }),
      preset(inst.id, { category: 'Pad' }),
      preset(inst.id, { voiceId: v1.id, category: 'Lead' }),
      preset(other.id, { voiceId: vOther.id, category: 'Pad' }),
      preset(other.id),
    ];
    await ok(p, 'presets.saveMany', { items });
    const cases: [Rec, Rec[]][] = [
      [{}, items],
      [{ instrumentId: inst.id }, items.slice(0, 3)],
      [{ instrumentId: other.id }, items.slice(3)],
      [{ voiceId: v1.id }, [items[0]!, items[2]!]],
      [{ voiceId: vOther.id }, [items[3]!]],
      [{ category: 'Pad' }, [items[0]!, items[1]!, items[3]!]],
      [{ instrumentId: inst.id, category: 'Pad' }, [items[0]!, items[1]!]],
      [{ instrumentId: inst.id, voiceId: v1.id, category: 'Lead' }, [items[2]!]],
      [{ category: 'Bass' }, []],
    ];
    for (const [filters, expected] of cases) {
      expect(ids((await ok(p, 'presets.list', filters)).items), JSON.stringify(filters)).to.deep.equal(ids(expected));
      expect(await presetCount(filters), JSON.stringify(filters)).to.equal(expected.length);
    }
  });

  it('presets.search finds by name, category, description, tags and author, ignoring case and diacritics', async () => {
    const p = proc();
    const items = [
      preset(inst.id, { name: 'Éclat', category: 'Bell', description: 'Glassy shimmer', tags: ['sparkle'], author: 'Zoë' }),
      preset(inst.id, { name: 'Warm Pad', category: 'Pad', description: 'Slow attack', tags: ['ambient'], author: 'Kane' }),
      preset(other.id, { name: 'Acid Line', category: 'Bass', description: 'Squelchy resonance with a bell-like tail', tags: ['303'], author: 'Marco' }),
    ];
    await ok(p, 'presets.saveMany', { items });
    const names = async (query: string): Promise<string[]> => (await ok(p, 'presets.search', { query })).items.map((x: Rec) => x.name);
    expect(await names('eclat')).to.deep.equal(['Éclat']);
    expect(await names('ÉCLAT')).to.deep.equal(['Éclat']);
    expect(await names('warm')).to.deep.equal(['Warm Pad']);
    expect(await names('pad')).to.deep.equal(['Warm Pad']);
    expect(await names('glassy')).to.deep.equal(['Éclat']);
    expect(await names('sparkle')).to.deep.equal(['Éclat']);
    expect(await names('303')).to.deep.equal(['Acid Line']);
    expect(await names('zoe')).to.deep.equal(['Éclat']);
    expect(await names('marco')).to.deep.equal(['Acid Line']);
    expect(await names('squel')).to.deep.equal(['Acid Line']);
    expect(await names('bell')).to.deep.equal(['Éclat', 'Acid Line']); // category above description
    expect(await names('warm kane')).to.deep.equal(['Warm Pad']);
    expect(await names('warm marco')).to.deep.equal([]);
    for (const query of ['"', 'NEAR(', '*', '-x', 'warm OR acid', 'name:warm', '']) {
      const r = await p.request('presets.search', { query });
      expect(r.error, `query ${JSON.stringify(query)}: ${JSON.stringify(r.error)}`).to.equal(undefined);
      expect(r.result.items).to.be.an('array');
    }
    expect(await names('-warm')).to.deep.equal(['Warm Pad']);
  });

  it('presets.search sees updates: the old name is no longer found, the new one is', async () => {
    const p = proc();
    const created = await ok(p, 'presets.create', { item: preset(inst.id, { name: 'Before' }) });
    await ok(p, 'presets.update', { item: { ...content(created), name: 'After' } });
    expect((await ok(p, 'presets.search', { query: 'before' })).items).to.deep.equal([]);
    expect((await ok(p, 'presets.search', { query: 'after' })).items.map((x: Rec) => x.id)).to.deep.equal([created.id]);
  });

  it('deleteMany is all or none: one missing id is -32001 and nothing is deleted', async () => {
    const p = proc();
    const items = [preset(inst.id), preset(inst.id), preset(other.id)];
    await ok(p, 'presets.saveMany', { items });
    const { changes } = await tracked(p, 'presets.deleteMany', { ids: [items[0]!.id, items[1]!.id, 'missing-preset'] });
    expect(changes).to.deep.equal([]);
    const e = await fails(p, 'presets.deleteMany', { ids: [items[0]!.id, 'missing-preset', items[2]!.id] }, -32001);
    expect(e.data).to.deep.equal({ entity: 'presets', id: 'missing-preset' });
    expect(await presetCount()).to.equal(3);
    const gone = await tracked(p, 'presets.deleteMany', { ids: items.map((x) => x.id) });
    expect(resultOk('presets.deleteMany', gone.response)).to.deep.include({ count: 3 });
    expect(normalized(gone.changes)).to.deep.equal([{ entity: 'presets', op: 'delete', ids: ids(items) }]);
    expect(await presetCount()).to.equal(0);
  });

  it('ifRevision conflicts on update and delete are -32002 and change nothing', async () => {
    const p = proc();
    const created = await ok(p, 'presets.create', { item: preset(inst.id) });
    await ok(p, 'presets.save', { item: { ...content(created), name: 'v2' } });
    const u = await fails(p, 'presets.update', { item: { ...content(created), name: 'v3' }, ifRevision: 1 }, -32002);
    expect(u.data).to.deep.equal({ entity: 'presets', id: created.id, expected: 1, actual: 2 });
    const d = await fails(p, 'presets.delete', { id: created.id, ifRevision: 1 }, -32002);
    expect(d.data).to.deep.equal({ entity: 'presets', id: created.id, expected: 1, actual: 2 });
    const stored = await ok(p, 'presets.get', { id: created.id });
    expect([stored.name, stored.revision]).to.deep.equal(['v2', 2]);
    expect(await ok(p, 'presets.delete', { id: created.id, ifRevision: 2 })).to.deep.include({ ids: [created.id], count: 1 });
    expect((await fails(p, 'presets.get', { id: created.id }, -32001)).data).to.deep.equal({ entity: 'presets', id: created.id });
  });

  it('an existing id on create is -32003', async () => {
    const p = proc();
    const created = await ok(p, 'presets.create', { item: preset(inst.id) });
    const e = await fails(p, 'presets.create', { item: preset(inst.id, { id: created.id, name: 'x' }) }, -32003);
    expect(e.data).to.deep.equal({ entity: 'presets', id: created.id });
  });
});

// ---------------------------------------------------------------------------------------------
// cascades
// ---------------------------------------------------------------------------------------------

describe('instrument registry cascades', function () {
  const proc = freshProcess();
  let a: Rec;
  let b: Rec;
  let aVoices: Rec[];
  let aPresets: Rec[];
  let bVoice: Rec;
  let bPreset: Rec;
  beforeEach(async () => {
    const p = proc();
    a = await ok(p, 'instruments.create', { item: instrument({ name: 'Doomed', type: 'synth' }) });
    b = await ok(p, 'instruments.create', { item: instrument({ name: 'Bystander', type: 'synth' }) });
    aVoices = (await ok(p, 'voices.saveMany', { items: [voice(a.id, { number: 1 }), voice(a.id, { number: 2 })] })).items;
    aPresets = (
      await ok(p, 'presets.saveMany', {
        items: [
          preset(a.id, { voiceId: aVoices[0]!.id, name: 'Cascadeword One' }),
          preset(a.id, { voiceId: aVoices[1]!.id, name: 'Cascadeword Two' }),
          preset(a.id, { name: 'Cascadeword Three' }),
        ],
      })
    ).items;
    bVoice = await ok(p, 'voices.create', { item: voice(b.id) });
    bPreset = await ok(p, 'presets.create', { item: preset(b.id, { voiceId: bVoice.id, name: 'Cascadeword Kept' }) });
  });

  it('deleting an instrument removes its voices and presets', async () => {
    const p = proc();
    const { response, changes } = await tracked(p, 'instruments.delete', { id: a.id });
    expect(resultOk('instruments.delete', response)).to.deep.equal({ ids: [a.id], count: 1, cascaded: { voices: 2, presets: 3 } });
    expect(normalized(changes)).to.deep.equal([
      { entity: 'instruments', op: 'delete', ids: [a.id] },
      { entity: 'presets', op: 'delete', ids: ids(aPresets) },
      { entity: 'voices', op: 'delete', ids: ids(aVoices) },
    ]);
    await fails(p, 'instruments.get', { id: a.id }, -32001);
    for (const v of aVoices) expect((await fails(p, 'voices.get', { id: v.id }, -32001)).data).to.deep.equal({ entity: 'voices', id: v.id });
    for (const x of aPresets) expect((await fails(p, 'presets.get', { id: x.id }, -32001)).data).to.deep.equal({ entity: 'presets', id: x.id });
    const found = await ok(p, 'presets.search', { query: 'cascadeword' });
    expect(found.items.map((x: Rec) => x.id)).to.deep.equal([bPreset.id]);
    expect((await ok(p, 'voices.count', { instrumentId: a.id })).count).to.equal(0);
    expect((await ok(p, 'presets.count', { instrumentId: a.id })).count).to.equal(0);
    // the other instrument's records are untouched
    expect(await ok(p, 'instruments.get', { id: b.id })).to.deep.equal(b);
    expect(await ok(p, 'voices.get', { id: bVoice.id })).to.deep.equal(bVoice);
    expect(await ok(p, 'presets.get', { id: bPreset.id })).to.deep.equal(bPreset);
  });

  it('deleteMany of instruments removes the voices and presets of all of them', async () => {
    const p = proc();
    const { response, changes } = await tracked(p, 'instruments.deleteMany', { ids: [a.id, b.id] });
    expect(resultOk('instruments.deleteMany', response)).to.deep.equal({ ids: [a.id, b.id], count: 2, cascaded: { voices: 3, presets: 4 } });
    expect(normalized(changes)).to.deep.equal([
      { entity: 'instruments', op: 'delete', ids: [a.id, b.id].sort() },
      { entity: 'presets', op: 'delete', ids: ids([...aPresets, bPreset]) },
      { entity: 'voices', op: 'delete', ids: ids([...aVoices, bVoice]) },
    ]);
    expect((await ok(p, 'voices.count', {})).count).to.equal(0);
    expect((await ok(p, 'presets.count', {})).count).to.equal(0);
  });

  it('saving an existing instrument removes nothing', async () => {
    const p = proc();
    const { response, changes } = await tracked(p, 'instruments.save', { item: { ...content(a), name: 'Saved Again', tags: ['x'] } });
    expect(resultOk('instruments.save', response)).to.include({ revision: 2, name: 'Saved Again', createdAt: a.createdAt });
    expect(normalized(changes)).to.deep.equal([{ entity: 'instruments', op: 'update', ids: [a.id] }]);
    expect(ids((await ok(p, 'voices.list', { instrumentId: a.id })).items)).to.deep.equal(ids(aVoices));
    for (const x of aPresets) expect(await ok(p, 'presets.get', { id: x.id })).to.deep.equal(x);
    await ok(p, 'instruments.saveMany', { items: [{ ...content(a), name: 'Thrice' }] });
    await ok(p, 'instruments.update', { item: { ...content(a), name: 'Four' } });
    expect((await ok(p, 'voices.count', { instrumentId: a.id })).count).to.equal(2);
    expect((await ok(p, 'presets.count', { instrumentId: a.id })).count).to.equal(3);
    expect((await ok(p, 'presets.search', { query: 'cascadeword' })).items).to.have.length(4);
  });

  it('saving an existing voice keeps its presets attached', async () => {
    const p = proc();
    await ok(p, 'voices.save', { item: { ...content(aVoices[0]!), name: 'Resaved' } });
    expect((await ok(p, 'presets.get', { id: aPresets[0]!.id })).voiceId).to.equal(aVoices[0]!.id);
  });

  it('deleting a voice keeps its presets but detaches them, announced as presets updates', async () => {
    const p = proc();
    const [v0] = aVoices;
    const { response, changes } = await tracked(p, 'voices.delete', { id: v0!.id });
    const result = resultOk('voices.delete', response);
    expect(result).to.deep.include({ ids: [v0!.id], count: 1 });
    expect(result.cascaded.presets ?? 0, 'presets are detached, not removed').to.equal(0);
    expect(normalized(changes)).to.deep.equal([
      { entity: 'presets', op: 'update', ids: [aPresets[0]!.id] },
      { entity: 'voices', op: 'delete', ids: [v0!.id] },
    ]);
    const kept = await ok(p, 'presets.get', { id: aPresets[0]!.id });
    expect(kept).to.not.have.property('voiceId');
    expect(kept).to.include({ name: 'Cascadeword One', instrumentId: a.id });
    // the detach is a write of the preset: its revision grows, so an old ifRevision conflicts
    expect(kept.revision).to.equal(aPresets[0]!.revision + 1);
    await fails(p, 'presets.update', { item: content(kept), ifRevision: aPresets[0]!.revision }, -32002);
    expect(kept.parameters).to.deep.equal(aPresets[0]!.parameters);
    expect(await ok(p, 'presets.get', { id: aPresets[1]!.id })).to.deep.equal(aPresets[1]);
    expect((await ok(p, 'presets.count', { instrumentId: a.id })).count).to.equal(3);
    expect((await ok(p, 'presets.count', { voiceId: v0!.id })).count).to.equal(0);
    // the detached preset is still a valid preset: it can be saved back as it is
    await ok(p, 'presets.save', { item: content(kept) });
  });

  it('deleting voices with deleteMany detaches all their presets', async () => {
    const p = proc();
    const { response, changes } = await tracked(p, 'voices.deleteMany', { ids: ids(aVoices) });
    expect(resultOk('voices.deleteMany', response)).to.deep.include({ count: 2 });
    expect(normalized(changes)).to.deep.equal([
      { entity: 'presets', op: 'update', ids: ids(aPresets.slice(0, 2)) },
      { entity: 'voices', op: 'delete', ids: ids(aVoices) },
    ]);
    for (const x of aPresets) expect(await ok(p, 'presets.get', { id: x.id })).to.not.have.property('voiceId');
  });
});

// ---------------------------------------------------------------------------------------------
// header framing, and the file afterwards
// ---------------------------------------------------------------------------------------------

describe('instrument registry over Content-Length framing', function () {
  const proc = freshProcess('header');

  it('creates, searches, cascades and reports over header framing', async () => {
    const p = proc();
    expect((await ok(p, 'system.info', {})).framing).to.equal('header');
    const inst = await ok(p, 'instruments.create', { item: instrument({ name: 'Überorgel', type: 'organ' }) });
    const v = await ok(p, 'voices.create', { item: voice(inst.id) });
    const pr = await ok(p, 'presets.create', { item: preset(inst.id, { voiceId: v.id, name: 'Éclat', parameters: { x: { y: [1] } } }) });
    expect((await ok(p, 'instruments.search', { query: 'uberorgel' })).items).to.deep.equal([inst]);
    expect((await ok(p, 'presets.search', { query: 'eclat' })).items).to.deep.equal([pr]);
    await invalid(p, 'voices.create', { item: voice(inst.id, { keyRangeLow: 9, keyRangeHigh: 8 }) }, '/item/keyRangeLow');
    expect((await fails(p, 'presets.create', { item: preset('nope') }, -32004)).data).to.deep.equal({ entity: 'presets', field: 'instrumentId', value: 'nope' });
    expect(await ok(p, 'instruments.delete', { id: inst.id })).to.deep.equal({ ids: [inst.id], count: 1, cascaded: { voices: 1, presets: 1 } });
  });
});

describe('the database after registry work', function () {
  it('passes integrity_check, foreign_key_check and the FTS integrity checks', async () => {
    const p = await StoreProcess.start();
    try {
      const insts = (await ok(p, 'instruments.saveMany', { items: [instrument({ name: 'Éclat' }), instrument(), instrument()] })).items;
      const vs = (await ok(p, 'voices.saveMany', { items: insts.flatMap((i: Rec) => [voice(i.id, { number: 1 }), voice(i.id, { number: 2 })]) })).items;
      await ok(p, 'presets.saveMany', {
        items: vs.flatMap((v: Rec) => [preset(v.instrumentId, { voiceId: v.id, name: 'Éclat pad', tags: ['t'] }), preset(v.instrumentId)]),
      });
      await ok(p, 'instruments.save', { item: { ...content(insts[0]), description: 'changed' } });
      await ok(p, 'voices.delete', { id: vs[2].id });
      await ok(p, 'instruments.delete', { id: insts[1].id });
      await fails(p, 'presets.create', { item: preset(insts[0].id, { voiceId: vs[4].id }) }, -32004);
      await invalid(p, 'voices.saveMany', { items: [voice(insts[0].id), voice(insts[0].id, { keyRangeLow: 5, keyRangeHigh: 4 })] }, '/items/1/keyRangeLow');
      const exit = await p.close();
      expect(exit, `exit; stderr: ${p.stderr}`).to.deep.equal({ code: 0, signal: null });
      expect(sqlite3(p.dataDir, 'PRAGMA integrity_check')).to.equal('ok');
      expect(sqlite3(p.dataDir, 'PRAGMA foreign_key_check')).to.equal('');
      expect(sqlite3(p.dataDir, "INSERT INTO presets_fts(presets_fts) VALUES('integrity-check'); SELECT 'fts ok'")).to.equal('fts ok');
      expect(sqlite3(p.dataDir, "INSERT INTO instruments_fts(instruments_fts) VALUES('integrity-check'); SELECT 'fts ok'")).to.equal('fts ok');
      expect(sqlite3(p.dataDir, 'SELECT count(*) FROM instruments; SELECT count(*) FROM voices; SELECT count(*) FROM presets')).to.equal('2\n4\n8');
      expect(sqlite3(p.dataDir, 'SELECT count(*) FROM presets WHERE voice_id IS NULL')).to.equal('4');
    } finally {
      await p.cleanup();
    }
  });
});

/** The result of a tracked response, checked against the method's result schema. */
function resultOk(method: string, response: { result?: any; error?: unknown }): any {
  expect(response.error, `${method}: ${JSON.stringify(response.error)}`).to.equal(undefined);
  const v = resultValidator(method);
  expect(v(response.result), `${method} result fails its schema: ${JSON.stringify(v.errors)}`).to.equal(true);
  return response.result;
}
