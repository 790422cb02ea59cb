/**
 * preferences.* and recent.*: the user level, through the real process (NDJSON; a few calls over
 * Content-Length framing). Every successful answer is checked against its result schema.
 */
import { expect } from 'chai';
import { makeSong } from '../helpers/fixtures.js';
import { saveItem } from '../helpers/items.js';
import { StoreProcess } from '../helpers/process.js';
import { Procs, fails, invalid, normalized, ok, stop, tracked } from '../helpers/rpc.js';

const procs = new Procs();

/** The plan's defaults (UserPreferences). */
const DEFAULTS = {"sampleRate":44100,"bufferSize":512,"midiInputDevices":[],"midiOutputDevices":[],"midiClockEnabled":false,"theme":"system","fontSize":"medium","colorScheme":"blue","showKeyboardShortcuts":true,"autoSaveInterval":60,"windowState":{},"panelLayout":{},"splitterPositions":{},"libraryFolders":[],"recentSongs":[],"favoriteSongs":[],"favoritePerformances":[],"favoriteInstruments":[],"autoQuantize":false,"snapToGrid":true,"gridSizeBars":1,"undoHistorySize":100,"defaultTempo":120,"defaultTimeSignatureNumerator":4,"defaultTimeSignatureDenominator":4,"defaultKey":"C major","metronomeEnabled":true,"countInEnabled":false,"countInBars":4,"defaultExportFormat":"wav","defaultExportQuality":"high","normalizeOnExport":true,"lookaheadEnabled":true,"deterministicMode":false,"telemetryEnabled":true,"crashReportsEnabled":true,"analyticsEnabled":true,"developerMode":false,"verboseLogging":false,"performanceMetrics":false};
const UNSET = ['audioDevice', 'inputDevice', 'outputDevice', 'defaultSaveLocation'];

function expectDefaults(prefs: Record<string, any>): void {
  expect(prefs).to.deep.include(DEFAULTS);
  expect(prefs.id).to.equal('default');
  expect(prefs.version).to.equal('1.0');
  for (const k of UNSET) expect(prefs, k).to.not.have.property(k);
}

describe('preferences.get', function () {
  afterEach(() => procs.cleanupAll());

  it("answers the plan's defaults on a new database, revision 1", async () => {
    const p = await procs.launch();
    const prefs = await ok(p, 'preferences.get', {});
    expectDefaults(prefs);
    expect(prefs.revision).to.equal(1);
    expect(Number.isInteger(prefs.updatedAt)).to.equal(true);
    expect(await ok(p, 'preferences.get')).to.deep.equal(prefs);
  });

  it('answers the same over Content-Length framing', async () => {
    const p = await procs.launch({ framing: 'header' });
    const prefs = await ok(p, 'preferences.get', {});
    expectDefaults(prefs);
    const up = await ok(p, 'preferences.update', { patch: { theme: 'dark' } });
    expect(up.theme).to.equal('dark');
    expect(up.revision).to.equal(2);
  });

  it('rejects unknown params with -32602', async () => {
    const p = await procs.launch();
    await invalid(p, 'preferences.get', { what: 1 }, '/what');
  });
});

describe('preferences.update', function () {
  let p: StoreProcess;
  beforeEach(async () => {
    p = await procs.launch();
  });
  afterEach(() => procs.cleanupAll());

  it('merges a partial patch: other fields unchanged, revision + 1, store.changed {preferences, update, [default]}', async () => {
    const before = await ok(p, 'preferences.get', {});
    const patch = { theme: 'dark', bufferSize: 256, windowState: { x: 10, nested: { unknown: [1, null] } }, midiInputDevices: ['IAC Bus 1'] };
    const { response, changes } = await tracked(p, 'preferences.update', { patch });
    expect(response.error).to.equal(undefined);
    const after = response.result;
    expect(after).to.deep.include(patch);
    expect(after.revision).to.equal(before.revision + 1);
    const { theme, bufferSize, windowState, midiInputDevices, revision, updatedAt, ...rest } = before;
    const { theme: _t, bufferSize: _b, windowState: _w, midiInputDevices: _m, revision: _r, updatedAt: _u, ...restAfter } = after;
    expect(restAfter).to.deep.equal(rest);
    expect(normalized(changes)).to.deep.equal([{ entity: 'preferences', op: 'update', ids: ['default'] }]);
    expect(await ok(p, 'preferences.get', {})).to.deep.equal(after);
    const second = await ok(p, 'preferences.update', { patch: { fontSize: 'large' } });
    expect(second.theme).to.equal('dark');
    expect(second.fontSize).to.equal('large');
    expect(second.revision).to.equal(before.revision + 2);
  });

  it('sets audioDevice and clears it with null', async () => {
    const set = await ok(p, 'preferences.update', { patch: { audioDevice: 'Built-in Output', defaultSaveLocation: '/tmp/x' } });
    expect(set.audioDevice).to.equal('Built-in Output');
    expect(set.defaultSaveLocation).to.equal('/tmp/x');
    const cleared = await ok(p, 'preferences.update', { patch: { audioDevice: null } });
    expect(cleared).to.not.have.property('audioDevice');
    expect(cleared.defaultSaveLocation).to.equal('/tmp/x');
    expect(await ok(p, 'preferences.get', {})).to.not.have.property('audioDevice');
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ["theme 'blue'", { theme: 'blue' }, '/patch/theme'],
    ["fontSize 'huge'", { fontSize: 'huge' }, '/patch/fontSize'],
    ['sampleRate 12345', { sampleRate: 12345 }, '/patch/sampleRate'],
    ['bufferSize 100', { bufferSize: 100 }, '/patch/bufferSize'],
    ['autoSaveInterval 0', { autoSaveInterval: 0 }, '/patch/autoSaveInterval'],
    ['an unknown field', { notAPreference: true }, '/patch/notAPreference'],
  ];
  for (const [what, patch, path] of bad) {
    it(`rejects ${what} with -32602 naming ${path} and changes nothing`, async () => {
      const before = await ok(p, 'preferences.get', {});
      const { response, changes } = await tracked(p, 'preferences.update', { patch: { ...patch, colorScheme: 'red' } });
      expect(response.error?.code, JSON.stringify(response)).to.equal(-32602);
      const paths = (response.error!.data.errors as { path: string }[]).map((e) => e.path);
      expect(paths).to.include(path);
      expect(changes).to.deep.equal([]);
      expect(await ok(p, 'preferences.get', {})).to.deep.equal(before);
    });
  }

  it('a missing patch is -32602', async () => {
    await fails(p, 'preferences.update', {}, -32602);
  });

  it('a stale ifRevision is -32002 {entity, id, expected, actual} and changes nothing', async () => {
    await ok(p, 'preferences.update', { patch: { theme: 'light' }, ifRevision: 1 });
    const before = await ok(p, 'preferences.get', {});
    const { response, changes } = await tracked(p, 'preferences.update', { patch: { theme: 'dark' }, ifRevision: 1 });
    expect(response.error?.code).to.equal(-32002);
    expect(response.error!.data).to.deep.equal({ entity: 'preferences', id: 'default', expected: 1, actual: 2 });
    expect(changes).to.deep.equal([]);
    expect(await ok(p, 'preferences.get', {})).to.deep.equal(before);
  });
});

describe('preferences.reset', function () {
  afterEach(() => procs.cleanupAll());

  it('restores every default and the revision keeps growing', async () => {
    const p = await procs.launch();
    await ok(p, 'preferences.update', { patch: { theme: 'dark', sampleRate: 48000, audioDevice: 'X', recentSongs: ['s1'] } });
    await ok(p, 'preferences.update', { patch: { countInBars: 2 } });
    const { response, changes } = await tracked(p, 'preferences.reset', {});
    const reset = response.result;
    expectDefaults(reset);
    expect(reset.revision).to.equal(4);
    expect(normalized(changes)).to.deep.equal([{ entity: 'preferences', op: 'update', ids: ['default'] }]);
    expect(await ok(p, 'preferences.get', {})).to.deep.equal(reset);
  });

  it('a stale ifRevision is -32002 and keeps the preferences', async () => {
    const p = await procs.launch();
    await ok(p, 'preferences.update', { patch: { theme: 'dark' } });
    const e = await fails(p, 'preferences.reset', { ifRevision: 1 }, -32002);
    expect(e.data).to.deep.equal({ entity: 'preferences', id: 'default', expected: 1, actual: 2 });
    expect((await ok(p, 'preferences.get', {})).theme).to.equal('dark');
    const r = await ok(p, 'preferences.reset', { ifRevision: 2 });
    expect(r.theme).to.equal('system');
  });

  it('preferences survive a restart', async () => {
    const dataDir = procs.ownDir('wr-user-');
    const a = await procs.launch({ dataDir });
    const saved = await ok(a, 'preferences.update', { patch: { theme: 'dark', libraryFolders: ['/music'], panelLayout: { left: { w: 200, extra: [1] } } } });
    await stop(a);
    const b = await procs.launch({ dataDir });
    expect(await ok(b, 'preferences.get', {})).to.deep.equal(saved);
  });
});

describe('recent.touch and recent.list', function () {
  let p: StoreProcess;
  beforeEach(async () => {
    p = await procs.launch();
  });
  afterEach(() => procs.cleanupAll());

  it('creates one entry per (itemType, itemId)', async () => {
    await saveItem(p, 'song', 's1');
    await saveItem(p, 'performance', 's1');
    const t0 = Date.now();
    const { response, changes } = await tracked(p, 'recent.touch', { itemType: 'song', itemId: 's1', itemName: 'One', metadata: { a: { b: [1] } } });
    const e = response.result;
    expect(e).to.include({ itemType: 'song', itemId: 's1', itemName: 'One', revision: 1 });
    expect(e.metadata).to.deep.equal({ a: { b: [1] } });
    expect(e.accessedAt).to.be.at.least(t0);
    expect(changes.map((c) => `${c.entity}/${c.op}`)).to.deep.equal(['recent/insert']);
    await ok(p, 'recent.touch', { itemType: 'performance', itemId: 's1', itemName: 'Same id, other type' });
    const all = await ok(p, 'recent.list', {});
    expect(all.items).to.have.length(2);
  });

  it('touching again updates name and time, keeps one entry and moves it first', async () => {
    for (const id of ['s1', 's2']) await saveItem(p, 'song', id);
    const first = await ok(p, 'recent.touch', { itemType: 'song', itemId: 's1', itemName: 'Old name' });
    await ok(p, 'recent.touch', { itemType: 'song', itemId: 's2', itemName: 'Two' });
    expect((await ok(p, 'recent.list', {})).items.map((x: any) => x.itemId)).to.deep.equal(['s2', 's1']);
    const again = await ok(p, 'recent.touch', { itemType: 'song', itemId: 's1', itemName: 'New name' });
    expect(again.id).to.equal(first.id);
    expect(again.itemName).to.equal('New name');
    expect(again.accessedAt).to.be.above(first.accessedAt);
    expect(again.revision).to.equal(2);
    const list = (await ok(p, 'recent.list', { itemType: 'song' })).items;
    expect(list.map((x: any) => x.itemId)).to.deep.equal(['s1', 's2']);
    expect(list[0]).to.deep.equal(again);
  });

  it('lists newest first, filters by itemType and honours limit', async () => {
    const touches: [string, string][] = [['song', 'a'], ['preset', 'b'], ['song', 'c'], ['voice', 'd'], ['song', 'e']];
    for (const [t, id] of touches) await saveItem(p, t, id);
    for (const [t, id] of touches) await ok(p, 'recent.touch', { itemType: t, itemId: id, itemName: id.toUpperCase() });
    const all = (await ok(p, 'recent.list', {})).items;
    expect(all.map((x: any) => x.itemId)).to.deep.equal(['e', 'd', 'c', 'b', 'a']);
    for (let i = 1; i < all.length; i++) expect(all[i - 1].accessedAt).to.be.above(all[i].accessedAt);
    expect((await ok(p, 'recent.list', { itemType: 'song' })).items.map((x: any) => x.itemId)).to.deep.equal(['e', 'c', 'a']);
    expect((await ok(p, 'recent.list', { limit: 2 })).items.map((x: any) => x.itemId)).to.deep.equal(['e', 'd']);
    expect((await ok(p, 'recent.list', { itemType: 'song', limit: 1 })).items.map((x: any) => x.itemId)).to.deep.equal(['e']);
    expect((await ok(p, 'recent.list', { itemType: 'instrument' })).items).to.deep.equal([]);
  });

  it('rejects an invalid itemType with -32602', async () => {
    await invalid(p, 'recent.touch', { itemType: 'album', itemId: 'x', itemName: 'X' }, '/itemType');
    await invalid(p, 'recent.list', { itemType: 'album' }, '/itemType');
    await invalid(p, 'recent.clear', { itemType: 'album' }, '/itemType');
    expect((await ok(p, 'recent.list', {})).items).to.deep.equal([]);
  });
});

describe('recent: cap per type (--recent-limit 3)', function () {
  afterEach(() => procs.cleanupAll());

  it('keeps only the newest 3 songs; other types are unaffected', async () => {
    const p = await procs.launch({ args: ['--recent-limit', '3'] });
    for (const id of ['p1', 'p2']) await saveItem(p, 'preset', id);
    for (let i = 1; i <= 5; i++) await saveItem(p, 'song', `s${i}`);
    await ok(p, 'recent.touch', { itemType: 'preset', itemId: 'p1', itemName: 'P1' });
    await ok(p, 'recent.touch', { itemType: 'preset', itemId: 'p2', itemName: 'P2' });
    let pruned: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const { changes } = await tracked(p, 'recent.touch', { itemType: 'song', itemId: `s${i}`, itemName: `S${i}` });
      for (const c of changes) if (c.op === 'delete') pruned.push(...c.ids);
    }
    expect((await ok(p, 'recent.list', { itemType: 'song' })).items.map((x: any) => x.itemId)).to.deep.equal(['s5', 's4', 's3']);
    expect((await ok(p, 'recent.list', { itemType: 'preset' })).items.map((x: any) => x.itemId)).to.deep.equal(['p2', 'p1']);
    expect(pruned).to.have.length(2);
  });
});

describe('recent.clear', function () {
  let p: StoreProcess;
  beforeEach(async () => {
    p = await procs.launch();
    for (const [t, id] of [['song', 'a'], ['song', 'b'], ['voice', 'c'], ['instrument', 'd']]) {
      await saveItem(p, t!, id!);
      await ok(p, 'recent.touch', { itemType: t, itemId: id, itemName: id! });
    }
  });
  afterEach(() => procs.cleanupAll());

  it('clears one type and answers {count}', async () => {
    const { response, changes } = await tracked(p, 'recent.clear', { itemType: 'song' });
    expect(response.result).to.deep.equal({ count: 2 });
    expect(changes.map((c) => `${c.entity}/${c.op}`)).to.deep.equal(['recent/delete']);
    expect((await ok(p, 'recent.list', {})).items.map((x: any) => x.itemId)).to.deep.equal(['d', 'c']);
    expect(await ok(p, 'recent.clear', { itemType: 'song' })).to.deep.equal({ count: 0 });
  });

  it('clears everything without itemType and answers {count}', async () => {
    expect(await ok(p, 'recent.clear', {})).to.deep.equal({ count: 4 });
    expect((await ok(p, 'recent.list', {})).items).to.deep.equal([]);
  });
});

describe('recent entries of deleted items', function () {
  afterEach(() => procs.cleanupAll());

  it('deleting a song removes its recent entry and announces {recent, delete}', async () => {
    const p = await procs.launch();
    const song = makeSong();
    const other = makeSong();
    await ok(p, 'songs.saveMany', { items: [song, other] });
    const entry = await ok(p, 'recent.touch', { itemType: 'song', itemId: song.id, itemName: song.name });
    await ok(p, 'recent.touch', { itemType: 'song', itemId: other.id, itemName: other.name });
    await saveItem(p, 'performance', song.id, 'same id, not a song');
    await ok(p, 'recent.touch', { itemType: 'performance', itemId: song.id, itemName: 'same id, not a song' });
    const { response, changes } = await tracked(p, 'songs.delete', { id: song.id });
    expect(response.error).to.equal(undefined);
    expect(normalized(changes)).to.deep.include({ entity: 'recent', op: 'delete', ids: [entry.id] });
    const left = (await ok(p, 'recent.list', {})).items.map((x: any) => `${x.itemType}:${x.itemId}`);
    expect(left).to.have.members([`song:${other.id}`, `performance:${song.id}`]);
  });
});
