/**
 * songs.search filters (issue 14, item 4), from a host's point of view, through the process:
 * `tags` (all of them, each a whole tag), `composer`, `genre` and `mood` (the value's words as a
 * phrase of the field), folded as search folds, with and without query words; filter values are
 * plain text (no FTS syntax gets through); pages walk every match once and a cursor is bound to
 * the query and filters; writes are seen at once; view summary. Also the order of a search with
 * more matches than BM25 ranks (MAX_RANKED_MATCHES): by tier, newest first in each.
 */
import { expect } from 'chai';
import { makeSong } from '../helpers/fixtures.js';
import type { StoreProcess } from '../helpers/process.js';
import { invalid, listAll, ok, Procs } from '../helpers/rpc.js';

type Json = Record<string, any>;

const procs = new Procs();
after(() => procs.cleanupAll());

/** A song with this name and metadata (tempo and time signature added), id `f-<key>`. */
const song = (key: string, name: string, meta: Json = {}): Json =>
  makeSong({ id: `f-${key}`, name, metadata: { tempo: 100, timeSignature: [4, 4], tags: [], ...meta } });

const keys = (items: Json[]): string[] => items.map((s) => String(s.id).replace(/^f-/, '')).sort();

describe('songs.search filters', function () {
  this.timeout(60_000);
  let p: StoreProcess;

  before(async () => {
    p = await procs.launch();
    await ok(p, 'songs.saveMany', {
      items: [
        song('hiphop1', 'Night Shift', { genre: 'Hip-Hop', tags: ['live', 'acoustic'], composer: 'Miles Davis', mood: 'dark and brooding' }),
        song('hiphop2', 'Day Shift', { genre: 'hip hop', tags: ['live'], composer: 'Davis Miles', mood: 'calm' }),
        song('rock', 'Night Train', { genre: 'Rock', tags: ['acoustic', 'live', 'demo'], composer: 'Miles Davis, Bill Evans', mood: 'Dark' }),
        song('folkrock', 'Morning Light', { genre: 'Folk Rock', tags: ['Acid-Jazz'], composer: 'Joni Mitchell', mood: 'serene' }),
        song('rockabilly', 'Night Owl', { genre: 'Rockabilly', tags: ['acid', 'jazz'], composer: 'Carl Perkins' }),
        song('jazz', 'Blue Night', { genre: 'Jazz', tags: ['jazz', 'late\nnight'], composer: 'Antonín Dvořák', mood: 'Mélancolique' }),
        song('acidjazz', 'Green Night', { genre: 'Acid Jazz', tags: ['acid jazz', 'Łódź', 'Straße'], composer: 'Søren Ødegaard' }),
        song('mpb', 'Águas de Março', { genre: 'Música Popular Brasileira', tags: ['ÆTHER'], comments: 'rock steady in the comments' }),
        song('none', 'Night Without Metadata', {}),
      ],
    });
  });

  const search = async (params: Json): Promise<string[]> => keys((await listAll(p, 'songs.search', params)).items);

  it('filters by genre without query words: every song whose genre holds the phrase, whole words only', async () => {
    expect(await search({ genre: 'hip hop' })).to.deep.equal(['hiphop1', 'hiphop2']);
    expect(await search({ genre: 'Hip-Hop' })).to.deep.equal(['hiphop1', 'hiphop2']);
    expect(await search({ genre: 'rock' })).to.deep.equal(['folkrock', 'rock']);
    expect(await search({ genre: 'jazz' })).to.deep.equal(['acidjazz', 'jazz']);
    expect(await search({ genre: 'folk rock' })).to.deep.equal(['folkrock']);
    // Words in order, one after another.
    expect(await search({ genre: 'rock folk' })).to.deep.equal([]);
    expect(await search({ genre: 'hop hip' })).to.deep.equal([]);
    // Not a word's start: "rock" is not "Rockabilly"; nor another field ("rock" in comments).
    expect(await search({ genre: 'rockabilly' })).to.deep.equal(['rockabilly']);
    expect(await search({ genre: 'roc' })).to.deep.equal([]);
    // An empty query, or one without words, is the same as none when a filter is given.
    expect(await search({ query: '', genre: 'rock' })).to.deep.equal(['folkrock', 'rock']);
    expect(await search({ query: ' !! ', genre: 'rock' })).to.deep.equal(['folkrock', 'rock']);
  });

  it('filters by genre with query words: both must hold', async () => {
    expect(await search({ query: 'night', genre: 'rock' })).to.deep.equal(['rock']);
    expect(await search({ query: 'shift', genre: 'hip hop' })).to.deep.equal(['hiphop1', 'hiphop2']);
    expect(await search({ query: 'day', genre: 'hip hop' })).to.deep.equal(['hiphop2']);
    expect(await search({ query: 'nig', genre: 'jazz' })).to.deep.equal(['acidjazz', 'jazz']);
    expect(await search({ query: 'morning', genre: 'jazz' })).to.deep.equal([]);
  });

  it('filters by composer and mood as phrases, all filters together', async () => {
    expect(await search({ composer: 'miles davis' })).to.deep.equal(['hiphop1', 'rock']);
    expect(await search({ composer: 'davis' })).to.deep.equal(['hiphop1', 'hiphop2', 'rock']);
    expect(await search({ composer: 'bill evans' })).to.deep.equal(['rock']);
    expect(await search({ mood: 'dark' })).to.deep.equal(['hiphop1', 'rock']);
    expect(await search({ mood: 'brooding' })).to.deep.equal(['hiphop1']);
    expect(await search({ composer: 'davis', mood: 'dark', genre: 'rock', tags: ['demo'] })).to.deep.equal(['rock']);
    expect(await search({ composer: 'davis', mood: 'calm', genre: 'rock' })).to.deep.equal([]);
  });

  it('tags: the song has every one, each a whole tag', async () => {
    expect(await search({ tags: ['live'] })).to.deep.equal(['hiphop1', 'hiphop2', 'rock']);
    expect(await search({ tags: ['live', 'acoustic'] })).to.deep.equal(['hiphop1', 'rock']);
    expect(await search({ tags: ['acoustic', 'live', 'demo'] })).to.deep.equal(['rock']);
    expect(await search({ tags: ['live', 'acoustic', 'jazz'] })).to.deep.equal([]);
    // A tag is a unit: "jazz" is not the tag "acid jazz"; "acid jazz" is not the tags "acid" and "jazz".
    expect(await search({ tags: ['jazz'] })).to.deep.equal(['jazz', 'rockabilly']);
    expect(await search({ tags: ['acid jazz'] })).to.deep.equal(['acidjazz', 'folkrock']);
    expect(await search({ tags: ['acid'] })).to.deep.equal(['rockabilly']);
    expect(await search({ tags: ['acid', 'jazz'] })).to.deep.equal(['rockabilly']);
    expect(await search({ tags: ['aco'] })).to.deep.equal([]);
    // With query words.
    expect(await search({ query: 'night', tags: ['live'] })).to.deep.equal(['hiphop1', 'rock']);
    // An empty list is no filter: without a query that is no search at all.
    expect(await search({ query: 'shift', tags: [] })).to.deep.equal(['hiphop1', 'hiphop2']);
  });

  it('a tag holding a line break is one tag of two words', async () => {
    expect(await search({ tags: ['late\nnight'] })).to.deep.equal(['jazz']);
    expect(await search({ tags: ['late night'] })).to.deep.equal(['jazz']);
    expect(await search({ tags: ['Late-Night'] })).to.deep.equal(['jazz']);
    expect(await search({ tags: ['late'] })).to.deep.equal([]);
    expect(await search({ tags: ['night'] })).to.deep.equal([]);
    expect(await search({ tags: ['night late'] })).to.deep.equal([]);
  });

  it('ignores case and diacritics and folds ł, ø, ß, æ in filters as search does', async () => {
    expect(await search({ genre: 'MUSICA POPULAR' })).to.deep.equal(['mpb']);
    expect(await search({ genre: 'música popular brasileira' })).to.deep.equal(['mpb']);
    expect(await search({ composer: 'dvorak' })).to.deep.equal(['jazz']);
    expect(await search({ composer: 'ANTONIN DVOŘÁK' })).to.deep.equal(['jazz']);
    expect(await search({ composer: 'soren odegaard' })).to.deep.equal(['acidjazz']);
    expect(await search({ mood: 'melancolique' })).to.deep.equal(['jazz']);
    expect(await search({ tags: ['lodz'] })).to.deep.equal(['acidjazz']);
    expect(await search({ tags: ['ŁÓDŹ', 'strasse'] })).to.deep.equal(['acidjazz']);
    expect(await search({ tags: ['STRASSE'] })).to.deep.equal(['acidjazz']);
    expect(await search({ tags: ['aether'] })).to.deep.equal(['mpb']);
    expect(await search({ tags: ['Acid Jazz'] })).to.deep.equal(['acidjazz', 'folkrock']);
  });

  it('reads filter values as plain text: FTS syntax in them is words, never operators', async () => {
    const attempts: Json[] = [
      { genre: 'rock" OR "jazz' },
      { genre: 'rock OR jazz' },
      { genre: 'NEAR(rock jazz)' },
      { genre: '{genre}: jazz' },
      { genre: 'genre : jazz' },
      { genre: 'rock AND NOT jazz' },
      { genre: '-rock' },
      { composer: 'davis" OR name:"night' },
      { mood: 'dark OR calm' },
      { tags: ['live" OR "jazz'] },
      { tags: ['live OR jazz'] },
      { tags: ['*'.repeat(3) + 'live'] },
      { tags: ['live', '") OR ("x'] },
      { query: 'night', genre: 'rock) OR (jazz' },
    ];
    for (const params of attempts) {
      const r = await p.request('songs.search', params);
      expect(r.error, `${JSON.stringify(params)} answered ${JSON.stringify(r.error)}`).to.equal(undefined);
    }
    // Operators are words of the phrase: nothing has them.
    expect(await search({ genre: 'rock" OR "jazz' })).to.deep.equal([]);
    expect(await search({ genre: 'rock OR jazz' })).to.deep.equal([]);
    expect(await search({ genre: 'NEAR(rock jazz)' })).to.deep.equal([]);
    expect(await search({ genre: '{genre}: jazz' })).to.deep.equal([]);
    expect(await search({ composer: 'davis" OR name:"night' })).to.deep.equal([]);
    expect(await search({ mood: 'dark OR calm' })).to.deep.equal([]);
    expect(await search({ tags: ['live" OR "jazz'] })).to.deep.equal([]);
    expect(await search({ query: 'night', genre: 'rock) OR (jazz' })).to.deep.equal([]);
    // Punctuation around a word is a separator: these are the word's phrase.
    expect(await search({ genre: '"rock"' })).to.deep.equal(['folkrock', 'rock']);
    expect(await search({ genre: 'rock*' })).to.deep.equal(['folkrock', 'rock']);
    expect(await search({ genre: '^rock' })).to.deep.equal(['folkrock', 'rock']);
    expect(await search({ genre: '-rock' })).to.deep.equal(['folkrock', 'rock']);
    expect(await search({ tags: ['***live'] })).to.deep.equal(['hiphop1', 'hiphop2', 'rock']);
    // A value without a word has nothing to match: refused, not read as syntax.
    for (const value of ['"', '*', ')(', 'AND'.replace(/./g, '-'), ' ', '""']) {
      await invalid(p, 'songs.search', { genre: value }, '/genre');
      await invalid(p, 'songs.search', { tags: ['live', value] }, '/tags/1');
    }
  });

  it('validates filters: non-empty strings, lengths, at most 32 tags; a query or a filter', async () => {
    await invalid(p, 'songs.search', { genre: '' }, '/genre');
    await invalid(p, 'songs.search', { composer: 'x'.repeat(1001) }, '/composer');
    await invalid(p, 'songs.search', { mood: 7 }, '/mood');
    await invalid(p, 'songs.search', { tags: 'live' }, '/tags');
    await invalid(p, 'songs.search', { tags: [''] }, '/tags/0');
    await invalid(p, 'songs.search', { tags: ['live', 'x'.repeat(201)] }, '/tags/1');
    await invalid(p, 'songs.search', { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, '/tags');
    await invalid(p, 'songs.search', { tags: [3] }, '/tags/0');
    await invalid(p, 'songs.search', {}, '/query');
    await invalid(p, 'songs.search', { tags: [] }, '/query');
    await invalid(p, 'songs.search', { artist: 'x' }, '/artist');
    // At the limits: answered.
    expect((await ok(p, 'songs.search', { composer: 'x'.repeat(1000) })).items).to.deep.equal([]);
    expect((await ok(p, 'songs.search', { tags: Array.from({ length: 32 }, () => 'live') })).items).to.have.length(3);
    // No query words and no filter: no items, as before.
    expect((await ok(p, 'songs.search', { query: '' })).items).to.deep.equal([]);
  });

  it('pages with filters walk every match once, in the order of one large page', async () => {
    for (const params of [{ tags: ['live'] }, { genre: 'rock' }, { query: 'night', tags: ['live'] }, { query: 'nig', genre: 'jazz' }, { composer: 'davis' }]) {
      const whole = await ok(p, 'songs.search', { ...params, limit: 1000 });
      const walk = await listAll(p, 'songs.search', { ...params, limit: 1 });
      expect(walk.items.map((s) => s.id), JSON.stringify(params)).to.deep.equal(whole.items.map((s: Json) => s.id));
      expect(walk.pages).to.equal(whole.items.length);
      expect(new Set(walk.items.map((s) => s.id)).size).to.equal(walk.items.length);
    }
  });

  it('refuses a cursor with other filters or another query (-32602 at /cursor)', async () => {
    const first = await ok(p, 'songs.search', { tags: ['live'], limit: 1 });
    expect(first.nextCursor).to.be.a('string');
    await invalid(p, 'songs.search', { tags: ['acoustic'], limit: 1, cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.search', { tags: ['live'], genre: 'rock', limit: 1, cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.search', { tags: ['live'], query: 'night', limit: 1, cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.search', { query: 'night', limit: 1, cursor: first.nextCursor }, '/cursor');
    // The same filter written another way is the same filter (case counts, as in a query).
    expect((await ok(p, 'songs.search', { tags: ['  live!'], limit: 1, cursor: first.nextCursor })).items).to.have.length(1);
    const ranked = await ok(p, 'songs.search', { query: 'night', genre: 'rock', limit: 1 });
    const withFilter = await ok(p, 'songs.search', { query: 'shift', genre: 'hip hop', limit: 1 });
    expect(withFilter.nextCursor).to.be.a('string');
    await invalid(p, 'songs.search', { query: 'shift', genre: 'jazz', limit: 1, cursor: withFilter.nextCursor }, '/cursor');
    await invalid(p, 'songs.search', { query: 'shift', limit: 1, cursor: withFilter.nextCursor }, '/cursor');
    await invalid(p, 'songs.search', { query: 'shift', genre: 'hip hop', mood: 'calm', limit: 1, cursor: withFilter.nextCursor }, '/cursor');
    expect(ranked.items.map((s: Json) => s.id)).to.deep.equal(['f-rock']);
    // A search cursor is no list cursor, and the other way round.
    const list = await ok(p, 'songs.list', { genre: 'Rock', limit: 1 });
    await invalid(p, 'songs.search', { genre: 'rock', cursor: first.nextCursor.replace(/^./, 'A') }, '/cursor');
    if (list.nextCursor) await invalid(p, 'songs.search', { genre: 'rock', cursor: list.nextCursor }, '/cursor');
    await invalid(p, 'songs.list', { cursor: first.nextCursor }, '/cursor');
  });

  it('sees a write at once: a song created, edited, tagged and deleted', async () => {
    const s = song('written', 'Fresh Paint', { genre: 'Zydeco', tags: ['brand new'], composer: 'Clifton Chenier', mood: 'joyful' });
    await ok(p, 'songs.create', { item: s });
    expect(await search({ genre: 'zydeco' })).to.deep.equal(['written']);
    expect(await search({ tags: ['Brand-New'], query: 'paint' })).to.deep.equal(['written']);
    const stored = await ok(p, 'songs.get', { id: s.id });
    const { createdAt: _c, updatedAt: _u, revision: _r, ...item } = stored;
    await ok(p, 'songs.update', { item: { ...item, metadata: { ...item.metadata, genre: 'Cajun', tags: ['brand', 'new'] } } });
    expect(await search({ genre: 'zydeco' })).to.deep.equal([]);
    expect(await search({ genre: 'cajun' })).to.deep.equal(['written']);
    expect(await search({ tags: ['brand new'] })).to.deep.equal([]);
    expect(await search({ tags: ['new', 'brand'] })).to.deep.equal(['written']);
    await ok(p, 'songs.delete', { id: s.id });
    expect(await search({ genre: 'cajun' })).to.deep.equal([]);
  });

  it('view summary with filters: records without their structured parts, same order', async () => {
    for (const params of [{ tags: ['live'] }, { query: 'night', genre: 'rock' }]) {
      const full = await ok(p, 'songs.search', params);
      const summary = await ok(p, 'songs.search', { ...params, view: 'summary' });
      expect(summary.items.map((s: Json) => s.id)).to.deep.equal(full.items.map((s: Json) => s.id));
      expect(summary.items.length).to.be.above(0);
      for (const item of summary.items) {
        for (const part of ['sections', 'roles', 'projections', 'mixGraph', 'realizationPolicy']) expect(item).to.not.have.property(part);
        expect(item.metadata).to.be.an('object');
      }
      const { sections: _s, roles: _r, projections: _p, mixGraph: _m, realizationPolicy: _z, ...first } = full.items[0];
      expect(summary.items[0]).to.deep.equal(first);
    }
  });
});

describe('songs.search with more matches than BM25 ranks', function () {
  this.timeout(120_000);
  let p: StoreProcess;
  /** The song keys of each tier, in the order they were saved (oldest first). */
  const tiers: string[][] = [[], [], [], []];

  before(async () => {
    p = await procs.launch();
    const items: Json[] = [];
    // 1,400 matches of "comet", saved in one order; the tier of each is known. All are pop songs
    // but one in eight (1,225 of them: still more than BM25 ranks, MAX_RANKED_MATCHES = 250).
    for (let i = 0; i < 1400; i++) {
      const t = i % 4;
      const key = `c${String(i).padStart(4, '0')}`;
      const meta: Json = {
        genre: i % 8 === 0 ? 'Space Rock' : 'Pop',
        ...[{}, { composer: 'Halley Comet', tags: i % 8 === 1 ? ['live'] : [] }, { comments: 'a comet passed' }, {}][t]!,
      };
      const name = [`Comet ${i}`, `Song ${i}`, `Tune ${i}`, `Cometary ${i}`][t]!;
      items.push(song(key, name, meta));
      tiers[t]!.push(key);
    }
    for (let i = 0; i < items.length; i += 200) await ok(p, 'songs.saveMany', { items: items.slice(i, i + 200) });
  });

  it('orders by tier (name, main fields, anywhere, only a word start), newest first in each; pages walk each once', async () => {
    const walk = await listAll(p, 'songs.search', { query: 'comet', limit: 97, view: 'summary' });
    const expected = tiers.flatMap((t) => [...t].reverse());
    expect(walk.items.map((s) => String(s.id).replace(/^f-/, ''))).to.deep.equal(expected);
    // One large page is the same walk.
    const big = await ok(p, 'songs.search', { query: 'comet', limit: 1000, view: 'summary' });
    expect(big.items.map((s: Json) => s.id)).to.deep.equal(walk.items.slice(0, 1000).map((s) => s.id));
  });

  it('with a filter: by tier, however few match', async () => {
    const few = await listAll(p, 'songs.search', { query: 'comet', genre: 'space rock', limit: 7, view: 'summary' });
    expect(few.items.map((s) => String(s.id).replace(/^f-/, ''))).to.deep.equal(tiers[0]!.filter((k) => Number(k.slice(1)) % 8 === 0).reverse());
    // "8" whole in the name first, then names where 8 only starts a number (80, 88, 800 …), newest first.
    const eight = await ok(p, 'songs.search', { query: 'comet 8', genre: 'space rock', view: 'summary' });
    const prefixed = tiers[0]!.filter((k) => Number(k.slice(1)) % 8 === 0 && /^c0*8\d/.test(k)).reverse();
    expect(eight.items.map((s: Json) => s.id.slice(2))).to.deep.equal(['c0008', ...prefixed]);
  });

  it('with a filter: the same order among the songs it holds for', async () => {
    const walk = await listAll(p, 'songs.search', { query: 'comet', genre: 'pop', limit: 50, view: 'summary' });
    const pop = new Set(tiers.flat().filter((k) => Number(k.slice(1)) % 8 !== 0));
    const expected = tiers.flatMap((t) => [...t].reverse()).filter((k) => pop.has(k));
    expect(walk.items.map((s) => String(s.id).replace(/^f-/, ''))).to.deep.equal(expected);
  });

  it('filters without words: newest first', async () => {
    const walk = await listAll(p, 'songs.search', { genre: 'space rock', limit: 30, view: 'summary' });
    const expected = tiers[0]!.filter((_, k) => (k * 4) % 8 === 0).reverse();
    expect(walk.items.map((s) => String(s.id).replace(/^f-/, ''))).to.deep.equal(expected);
    const tagged = await listAll(p, 'songs.search', { tags: ['live'], composer: 'halley comet', limit: 30, view: 'summary' });
    expect(tagged.items.map((s) => String(s.id).replace(/^f-/, ''))).to.deep.equal(tiers[1]!.filter((_, k) => (k * 4 + 1) % 8 === 1).reverse());
  });

  it('a query matching few of them (and no filter) is still ranked by BM25: best first', async () => {
    const r = await ok(p, 'songs.search', { query: 'comet 1099' });
    expect(r.items.map((s: Json) => s.id)).to.deep.equal(['f-c1099']);
    // These 175 songs score the same (same fields, same lengths): ties by id, oldest first here,
    // where the tier order would put the newest first.
    const few = await listAll(p, 'songs.search', { query: 'halley live', limit: 100, view: 'summary' });
    expect(few.items.map((s) => String(s.id).replace(/^f-/, ''))).to.deep.equal(tiers[1]!.filter((k) => Number(k.slice(1)) % 8 === 1));
  });
});
