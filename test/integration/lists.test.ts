/**
 * Lists a library browser can use (issue 14, item 3), through the process: `view: "summary"` on
 * X.list and X.search answers records without their structured parts (valid against the result
 * schemas, written exactly), `view: "full"` stays exact; X.search, recent.list and
 * autosave.recoverable page with keyset cursors (limit 1 visits every row once), and a cursor used
 * with another query or filter is -32602 at /cursor. One measured figure (not an assert): songs.list
 * of 1,000 songs with 50 KB sections, full against summary.
 */
import { expect } from 'chai';
import { parse, stringify } from 'lossless-json';
import { performance } from 'node:perf_hooks';
import { makeSong } from '../helpers/fixtures.js';
import type { StoreProcess } from '../helpers/process.js';
import { invalid, listAll, ok, Procs } from '../helpers/rpc.js';

type Json = Record<string, any>;

const procs = new Procs();
after(() => procs.cleanupAll());

/** The structured parts each family's summary leaves out. */
const DROPPED: Record<string, string[]> = {
  songs: ['realizationPolicy', 'sections', 'roles', 'projections', 'mixGraph'],
  performances: ['instrumentationMap', 'mixTargets', 'effectsChains', 'automation', 'markers', 'loopPoints', 'tempoMap', 'timeSignatureMap', 'keyChanges', 'sections'],
  instruments: ['customData'],
  voices: [],
  presets: ['parameters'],
};

const without = (record: Json, keys: string[]): Json => Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)));

/** The compact form of a JSON text, every token as written (lossless-json). */
const compact = (text: string): string => stringify(parse(text))!;

const ids = (items: Json[]): string[] => items.map((i) => i.id);

describe('lists for a library browser: view summary', function () {
  this.timeout(60_000);
  let p: StoreProcess;
  let instrumentId: string;
  before(async () => {
    p = await procs.launch();
    for (let i = 0; i < 4; i++) await ok(p, 'songs.save', { item: makeSong({ name: `Browser song ${i}` }) });
    const instrument = await ok(p, 'instruments.save', { item: { name: 'Browser piano', type: 'piano', customData: { samples: [1, 2, 3] } } });
    instrumentId = instrument.id;
    await ok(p, 'voices.save', { item: { instrumentId, name: 'Browser voice', number: 1 } });
    for (let i = 0; i < 3; i++) {
      await ok(p, 'presets.save', { item: { instrumentId, name: `Browser preset ${i}`, parameters: { cutoff: 0.5 + i } } });
    }
  });

  for (const family of ['songs', 'performances', 'instruments', 'voices', 'presets']) {
    it(`${family}.list: a summary is the full record without its structured parts, in the same order`, async () => {
      if (family === 'performances') {
        const [song] = (await ok(p, 'songs.list', { limit: 1 })).items;
        await ok(p, 'performances.save', {
          item: { songId: song.id, name: 'Browser take', arrangementStyle: 'SOLO_PIANO', instrumentationMap: { piano: { instrumentId } }, mixTargets: { lufs: -14 }, metadata: { take: 3 } },
        });
      }
      const full = await ok(p, `${family}.list`, { limit: 1000, orderBy: 'name' });
      const summary = await ok(p, `${family}.list`, { limit: 1000, orderBy: 'name', view: 'summary' });
      expect(full.items.length).to.be.above(0);
      expect(summary.items).to.deep.equal(full.items.map((r: Json) => without(r, DROPPED[family]!)));
      for (const item of summary.items) for (const part of DROPPED[family]!) expect(item).to.not.have.property(part);
      // view "full" is the default.
      expect(await ok(p, `${family}.list`, { limit: 1000, orderBy: 'name', view: 'full' })).to.deep.equal(full);
    });
  }

  it('a summary is written exactly: the record text without the parts; a performance keeps its metadata as sent', async () => {
    const song = makeSong({ name: 'Exact summary' });
    await ok(p, 'songs.save', { item: song });
    const fullText = await p.requestText('songs.search', '{"query":"exact summary"}');
    const summaryText = await p.requestText('songs.search', '{"query":"exact summary","view":"summary"}');
    const [full] = JSON.parse(fullText).result.items;
    // Scalar fields come first in a record's text, so the summary is its exact prefix, closed.
    expect(summaryText).to.include(JSON.stringify(without(full, DROPPED.songs!)));

    const text = '{"item":{"id":"exact-perf","songId":' + JSON.stringify(song.id) + ',"name":"Exact perf","arrangementStyle":"SATB",' +
      '"instrumentationMap":{"a": 9223372036854775807},"mixTargets":{},"metadata":{"big": 12345678901234567890, "huge": 1e400, "neg": -0, "one": 1.0}}}';
    await p.requestText('performances.save', text);
    const listed = await p.requestText('performances.list', JSON.stringify({ songId: song.id, view: 'summary' }));
    expect(listed).to.include(`"metadata":${compact('{"big": 12345678901234567890, "huge": 1e400, "neg": -0, "one": 1.0}')}`);
    expect(listed).to.not.include('9223372036854775807');
    const fullList = await p.requestText('performances.list', JSON.stringify({ songId: song.id }));
    expect(fullList).to.include('"instrumentationMap":{"a":9223372036854775807}');
  });

  it('full lists and searches keep the parts exactly as sent', async () => {
    const sections = '[{"samplePos": 9223372036854775807, "big": 12345678901234567890, "huge": 1e400, "tiny": 1e-400, "neg0": -0, "f": 1.0}]';
    const songText =
      '{"id":"exact-list","name":"Quasar exact","metadata":{"tempo":120,"timeSignature":[4,4],"tags":[]},"determinismSeed":"1",' +
      `"sections":${sections},"roles":[],"projections":[],"mixGraph":{"tracks":[]}}`;
    await p.requestText('songs.save', `{"item":${songText}}`);
    for (const [method, params] of [
      ['songs.list', '{"limit":1000}'],
      ['songs.list', '{"limit":1000,"view":"full"}'],
      ['songs.search', '{"query":"quasar"}'],
      ['songs.search', '{"query":"quasar","view":"full","limit":1}'],
    ] as const) {
      expect(await p.requestText(method, params), `${method} ${params}`).to.include(`"sections":${compact(sections)}`);
    }
    const summary = await p.requestText('songs.search', '{"query":"quasar","view":"summary"}');
    expect(summary).to.not.include('samplePos');
    expect(JSON.parse(summary).result.items.map((s: Json) => s.id)).to.deep.equal(['exact-list']);
  });

  it('instruments.search and presets.search answer summaries too', async () => {
    const instruments = await ok(p, 'instruments.search', { query: 'browser', view: 'summary' });
    expect(instruments.items.map((i: Json) => i.id)).to.deep.equal([instrumentId]);
    expect(instruments.items[0]).to.not.have.property('customData');
    const presets = await ok(p, 'presets.search', { query: 'browser preset', view: 'summary' });
    expect(presets.items).to.have.length(3);
    for (const item of presets.items) expect(item).to.not.have.property('parameters');
  });

  it('an unknown view is -32602 at /view', async () => {
    await invalid(p, 'songs.list', { view: 'names' }, '/view');
    await invalid(p, 'songs.search', { query: 'x', view: 'tiny' }, '/view');
  });
});

describe('lists for a library browser: keyset pages of search, recent and recoverable', function () {
  this.timeout(60_000);
  afterEach(() => procs.cleanupAll());

  it('songs.search with limit 1 visits every match once, in the order of one big page, whatever the view', async () => {
    const p = await procs.launch();
    // Matches in the name, in comments and in tags, and equal names (equal scores: ties by id).
    const songs = [
      makeSong({ name: 'Lantern' }),
      makeSong({ name: 'Lantern' }),
      makeSong({ name: 'Lantern' }),
      makeSong({ name: 'Lantern lights' }),
      makeSong({ name: 'Other', metadata: { ...makeSong().metadata, comments: 'played with a lantern' } }),
      makeSong({ name: 'Tagged', metadata: { ...makeSong().metadata, tags: ['lantern'] } }),
      makeSong({ name: 'Lanterns of the night sky over the long water' }),
    ];
    await ok(p, 'songs.saveMany', { items: songs });
    await ok(p, 'songs.save', { item: makeSong({ name: 'Unrelated' }) });
    const all = await ok(p, 'songs.search', { query: 'lantern', limit: 1000 });
    expect(all).to.not.have.property('nextCursor');
    expect(all.items).to.have.length(songs.length);
    for (const view of ['full', 'summary']) {
      const { items, pages } = await listAll(p, 'songs.search', { query: 'lantern', limit: 1, view });
      expect(ids(items)).to.deep.equal(ids(all.items));
      expect(new Set(ids(items)).size).to.equal(songs.length);
      expect(pages).to.equal(songs.length);
    }
    const byThree = await listAll(p, 'songs.search', { query: 'LANTERN', limit: 3 });
    expect(ids(byThree.items)).to.deep.equal(ids(all.items));
    expect(byThree.pages).to.equal(3);
  });

  it('instruments.search and presets.search page the same way', async () => {
    const p = await procs.launch();
    const instruments = [];
    for (let i = 0; i < 5; i++) instruments.push(await ok(p, 'instruments.save', { item: { name: i % 2 ? 'Velvet organ' : `Velvet ${i}`, type: 'organ' } }));
    for (let i = 0; i < 5; i++) await ok(p, 'presets.save', { item: { instrumentId: instruments[0].id, name: 'Velvet pad', parameters: { i } } });
    for (const method of ['instruments.search', 'presets.search']) {
      const all = await ok(p, method, { query: 'velvet' });
      expect(all.items).to.have.length(5);
      const { items } = await listAll(p, method, { query: 'velvet', limit: 1, view: 'summary' });
      expect(ids(items)).to.deep.equal(ids(all.items));
    }
  });

  it('a search cursor is bound to its query: another query, a list, or a damaged cursor is -32602 at /cursor', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.saveMany', { items: [makeSong({ name: 'Łódź nights' }), makeSong({ name: 'Lodz mornings' }), makeSong({ name: 'Lodz noon' })] });
    const first = await ok(p, 'songs.search', { query: 'lodz', limit: 1 });
    expect(first.nextCursor).to.be.a('string');
    await invalid(p, 'songs.search', { query: 'nights', limit: 1, cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.search', { query: 'lodz nights', cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.list', { cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'instruments.search', { query: 'lodz', cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.search', { query: 'lodz', cursor: 'not-a-cursor' }, '/cursor');
    const list = await ok(p, 'songs.list', { limit: 1 });
    await invalid(p, 'songs.search', { query: 'lodz', cursor: list.nextCursor }, '/cursor');
    // The same words once diacritics are folded are the same query; limit and view may change.
    const rest = await ok(p, 'songs.search', { query: 'łódź', cursor: first.nextCursor, limit: 5, view: 'summary' });
    expect([first.items[0].id, ...ids(rest.items)]).to.deep.equal(ids((await ok(p, 'songs.search', { query: 'lodz' })).items));
  });

  it('X.list: a cursor with another filter is -32602; the view may change between pages', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.saveMany', { items: [1, 2, 3].map((i) => makeSong({ name: `Genre ${i}`, metadata: { ...makeSong().metadata, genre: 'funk' } })) });
    const first = await ok(p, 'songs.list', { genre: 'funk', limit: 1 });
    await invalid(p, 'songs.list', { genre: 'jazz', cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.list', { cursor: first.nextCursor }, '/cursor');
    const rest = await ok(p, 'songs.list', { genre: 'funk', cursor: first.nextCursor, view: 'summary' });
    expect(rest.items).to.have.length(2);
  });

  it('recent.list with limit 1 visits every entry once, newest first, of all types or one; a cursor of another type is -32602', async () => {
    const p = await procs.launch();
    const songs = [makeSong(), makeSong(), makeSong(), makeSong()];
    await ok(p, 'songs.saveMany', { items: songs });
    const instrument = await ok(p, 'instruments.save', { item: { name: 'Recent organ', type: 'organ' } });
    for (const s of songs) await ok(p, 'recent.touch', { itemType: 'song', itemId: s.id, itemName: s.name });
    await ok(p, 'recent.touch', { itemType: 'instrument', itemId: instrument.id, itemName: instrument.name });
    await ok(p, 'recent.touch', { itemType: 'song', itemId: songs[1]!.id, itemName: songs[1]!.name });
    const all = await ok(p, 'recent.list', {});
    expect(all).to.not.have.property('nextCursor');
    expect(all.items.map((e: Json) => e.itemId)).to.deep.equal([songs[1]!.id, instrument.id, songs[3]!.id, songs[2]!.id, songs[0]!.id]);
    const walked = await listAll(p, 'recent.list', { limit: 1 });
    expect(walked.items).to.deep.equal(all.items);
    expect(walked.pages).to.equal(5);
    const onlySongs = await listAll(p, 'recent.list', { itemType: 'song', limit: 1 });
    expect(onlySongs.items).to.deep.equal(all.items.filter((e: Json) => e.itemType === 'song'));
    const page = await ok(p, 'recent.list', { itemType: 'song', limit: 2 });
    await invalid(p, 'recent.list', { cursor: page.nextCursor }, '/cursor');
    await invalid(p, 'recent.list', { itemType: 'instrument', cursor: page.nextCursor }, '/cursor');
    await invalid(p, 'songs.list', { cursor: page.nextCursor }, '/cursor');
    // A deleted song's entry goes; the walk goes on after the cursor.
    await ok(p, 'songs.delete', { id: songs[2]!.id });
    const rest = await ok(p, 'recent.list', { itemType: 'song', limit: 2, cursor: page.nextCursor });
    expect(rest.items.map((e: Json) => e.itemId)).to.deep.equal([songs[0]!.id]);
  });

  it('autosave.recoverable with limit 1 visits every recovered snapshot once, oldest first', async () => {
    const dataDir = procs.ownDir('wr-lists-');
    const first = await procs.launch({ dataDir });
    await ok(first, 'autosave.configure', { debounceMs: 3_600_000, intervalMs: 3_600_000 });
    const songs = [makeSong(), makeSong(), makeSong(), makeSong()];
    await ok(first, 'songs.saveMany', { items: songs });
    for (const s of songs) {
      const { revision } = await ok(first, 'songs.get', { id: s.id });
      await ok(first, 'autosave.stage', { songId: s.id, baseRevision: revision, snapshot: { song: { ...s, name: `${s.name} (unsaved)` } } });
    }
    await first.kill('SIGKILL');
    const second = await procs.launch({ dataDir });
    const all = await ok(second, 'autosave.recoverable', {});
    expect(all.items).to.have.length(4);
    expect(all).to.not.have.property('nextCursor');
    const walked = await listAll(second, 'autosave.recoverable', { limit: 1 });
    expect(walked.items).to.deep.equal(all.items);
    expect(walked.pages).to.equal(4);
    const sorted = [...all.items].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    expect(all.items).to.deep.equal(sorted);
    // A restored one leaves the list; the walk goes on after the cursor.
    const page = await ok(second, 'autosave.recoverable', { limit: 2 });
    await ok(second, 'autosave.restore', { id: all.items[2].id });
    expect((await ok(second, 'autosave.recoverable', { cursor: page.nextCursor })).items).to.deep.equal([all.items[3]]);
    await invalid(second, 'autosave.recoverable', { cursor: (await ok(second, 'songs.list', { limit: 1 })).nextCursor }, '/cursor');
    await invalid(second, 'recent.list', { cursor: page.nextCursor }, '/cursor');
  });
});

describe('lists for a library browser: a measured figure', function () {
  this.timeout(600_000);
  after(() => procs.cleanupAll());

  it('songs.list limit 1000, full against summary, on 2,000 songs with 50 KB sections (printed, not asserted)', async () => {
    const p = await procs.launch();
    const filler = 'x'.repeat(1000);
    const sections = Array.from({ length: 50 }, (_, i) => ({ id: `s${i}`, bars: 8, notes: filler }));
    for (let batch = 0; batch < 40; batch++) {
      const items = Array.from({ length: 50 }, () => makeSong({ sections }));
      await p.call('songs.saveMany', { items });
    }
    expect((await ok(p, 'songs.count', {})).count).to.equal(2000);
    const sectionBytes = JSON.stringify(sections).length;
    const time = async (view: string): Promise<{ ms: number; bytes: number }> => {
      const start = performance.now();
      const text = await p.requestText('songs.list', JSON.stringify({ limit: 1000, view }));
      return { ms: performance.now() - start, bytes: Buffer.byteLength(text) };
    };
    // Warm the cache once each, then the median of five.
    await time('full');
    await time('summary');
    const runs: Record<string, { ms: number; bytes: number }[]> = { full: [], summary: [] };
    for (let i = 0; i < 5; i++) for (const view of ['full', 'summary']) runs[view]!.push(await time(view));
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const line = (view: string): string =>
      `${view}: ${median(runs[view]!.map((r) => r.ms)).toFixed(1)} ms, ${(runs[view]![0]!.bytes / 1e6).toFixed(2)} MB answer`;
    console.log(`      songs.list limit 1000 of 2,000 songs with ${(sectionBytes / 1000).toFixed(0)} KB sections (median of 5): ${line('full')}; ${line('summary')}`);
  });
});

describe('cursors are bound to the list they were made for', function () {
  this.timeout(60_000);

  it('a cursor of one list is refused by every other list, also those that order the same way (backups, trash, history, autosaves, recent)', async () => {
    const p = await procs.launch();
    for (let i = 0; i < 6; i++) await ok(p, 'songs.create', { item: makeSong({ id: `c${i}`, name: `Song ${i}` }) });
    for (let k = 0; k < 3; k++) {
      const song = await ok(p, 'songs.get', { id: 'c0' });
      await ok(p, 'songs.update', { item: { ...song, name: `Renamed ${k}` }, ifRevision: song.revision });
      await ok(p, 'autosave.stage', { songId: 'c0', snapshot: { song: { ...song, name: `Edit ${k}` } } });
      await ok(p, 'autosave.flush', {});
      await ok(p, 'backup.create', { label: `b${k}` });
      await ok(p, 'recent.touch', { itemType: 'song', itemId: `c${k}`, itemName: `Song ${k}` });
    }
    for (const id of ['c3', 'c4', 'c5']) await ok(p, 'songs.delete', { id });
    const lists: [string, Record<string, unknown>][] = [
      ['backup.list', {}],
      ['trash.list', {}],
      ['songs.history', { id: 'c0' }],
      ['autosave.list', { songId: 'c0' }],
      ['recent.list', {}],
      ['songs.list', {}],
    ];
    const cursors = new Map<string, string>();
    for (const [method, params] of lists) {
      const page = await ok(p, method, { ...params, limit: 1 });
      expect(page.nextCursor, `${method} has a second page`).to.be.a('string');
      // Its own cursor continues it.
      expect((await ok(p, method, { ...params, limit: 1, cursor: page.nextCursor })).items).to.have.length(1);
      cursors.set(method, page.nextCursor);
    }
    for (const [method, params] of lists) {
      for (const [other, cursor] of cursors) {
        if (other !== method) await invalid(p, method, { ...params, limit: 1, cursor }, '/cursor');
      }
    }
  });

  it('a songs.list cursor is refused by instruments.list, and an autosave.list cursor by another song', async () => {
    const p = await procs.launch();
    for (let i = 0; i < 3; i++) {
      await ok(p, 'songs.create', { item: makeSong({ id: `s${i}` }) });
      await ok(p, 'instruments.create', { item: { id: `i${i}`, name: `I${i}`, type: 'synth' } });
    }
    const songs = await ok(p, 'songs.list', { limit: 1 });
    await invalid(p, 'instruments.list', { limit: 1, cursor: songs.nextCursor }, '/cursor');
    for (const id of ['s0', 's1']) {
      for (let k = 0; k < 3; k++) {
        const song = await ok(p, 'songs.get', { id });
        await ok(p, 'autosave.stage', { songId: id, snapshot: { song: { ...song, name: `${id} edit ${k}` } }, baseRevision: song.revision });
        await ok(p, 'autosave.flush', {});
      }
    }
    const first = await ok(p, 'autosave.list', { songId: 's0', limit: 1 });
    await invalid(p, 'autosave.list', { songId: 's1', limit: 1, cursor: first.nextCursor }, '/cursor');
    expect((await ok(p, 'autosave.list', { songId: 's0', limit: 1, cursor: first.nextCursor })).items).to.have.length(1);
  });
});
