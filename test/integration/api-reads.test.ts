/**
 * Reads a library browser needs, from a host's point of view: X.getMany by ids (in the order
 * asked, missing ids answered, not refused) and the list filters tag, minRating, isFavorite and
 * updatedSince on X.list and X.count, with cursors bound to them.
 */
import { expect } from 'chai';
import { invalid, listAll, ok, Procs } from '../helpers/rpc.js';
import { makeSong } from '../helpers/fixtures.js';
import { sleep } from '../helpers/check.js';

const procs = new Procs();
afterEach(() => procs.cleanupAll());

describe('X.getMany', function () {
  this.timeout(60000);

  it('songs.getMany answers in the order asked, and the missing ids in the order asked', async () => {
    const p = await procs.launch();
    const a = await ok(p, 'songs.create', { item: makeSong({ id: 'A' }) });
    const b = await ok(p, 'songs.create', { item: makeSong({ id: 'B' }) });
    const c = await ok(p, 'songs.create', { item: makeSong({ id: 'C' }) });
    const got = await ok(p, 'songs.getMany', { ids: ['C', 'gone-1', 'A', 'gone-2', 'B'] });
    expect(got).to.deep.equal({ items: [c, a, b], missing: ['gone-1', 'gone-2'] });
    const summary = await ok(p, 'songs.getMany', { ids: ['B'], view: 'summary' });
    expect(summary.items[0]).to.not.have.property('sections');
    expect(summary.items[0]).to.include({ id: 'B', name: b.name, revision: b.revision });
    expect(await ok(p, 'songs.getMany', { ids: ['x'] })).to.deep.equal({ items: [], missing: ['x'] });
    await invalid(p, 'songs.getMany', { ids: [] }, '/ids');
    await invalid(p, 'songs.getMany', { ids: ['A', 'A'] }, '/ids');
  });

  it('every family has getMany', async () => {
    const p = await procs.launch();
    const song = await ok(p, 'songs.create', { item: { name: 'S' } });
    const perf = await ok(p, 'performances.create', { item: { songId: song.id, name: 'P', arrangementStyle: 'SATB' } });
    const inst = await ok(p, 'instruments.create', { item: { name: 'I', type: 'synth' } });
    const voice = await ok(p, 'voices.create', { item: { instrumentId: inst.id, name: 'V', number: 1 } });
    const preset = await ok(p, 'presets.create', { item: { instrumentId: inst.id, name: 'Pr' } });
    for (const [family, record] of [['performances', perf], ['instruments', inst], ['voices', voice], ['presets', preset]] as const) {
      expect(await ok(p, `${family}.getMany`, { ids: ['nope', record.id] }), family).to.deep.equal({ items: [record], missing: ['nope'] });
    }
  });
});

describe('list filters: tag, minRating, isFavorite, updatedSince', function () {
  this.timeout(120000);

  it('songs.list {tag} pages correctly with a cursor; songs.count agrees; a cursor with other filters is refused', async () => {
    const p = await procs.launch();
    const tagged: string[] = [];
    const items = [];
    for (let i = 0; i < 25; i++) {
      const tags = i % 3 === 0 ? ['live', 'jazz'] : i % 3 === 1 ? ['Live'] : ['studio'];
      items.push(makeSong({ id: `S${String(i).padStart(2, '0')}`, metadata: { tempo: 100, timeSignature: [4, 4], tags, rating: (i % 5) + 1 } }));
      if (tags.includes('live')) tagged.push(`S${String(i).padStart(2, '0')}`);
    }
    await ok(p, 'songs.saveMany', { items });
    for (const orderBy of ['updatedAt', 'createdAt', 'name'] as const) {
      const walk = await listAll(p, 'songs.list', { tag: 'live', limit: 3, orderBy, view: 'summary' });
      expect(walk.items.map((s) => s.id).sort(), orderBy).to.deep.equal(tagged.sort());
      expect(walk.pages).to.equal(Math.ceil(tagged.length / 3));
      for (const s of walk.items) expect(s.metadata.tags).to.include('live');
    }
    expect(await ok(p, 'songs.count', { tag: 'live' })).to.deep.equal({ count: tagged.length });
    expect(await ok(p, 'songs.count', { tag: 'Live' })).to.deep.equal({ count: 8 });
    expect(await ok(p, 'songs.count', { tag: 'nobody' })).to.deep.equal({ count: 0 });
    // A cursor is bound to its filters: another tag, a filter added or left out is -32602 at /cursor.
    const first = await ok(p, 'songs.list', { tag: 'live', limit: 3 });
    expect(first.nextCursor).to.be.a('string');
    await invalid(p, 'songs.list', { tag: 'studio', limit: 3, cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.list', { limit: 3, cursor: first.nextCursor }, '/cursor');
    await invalid(p, 'songs.list', { tag: 'live', minRating: 2, limit: 3, cursor: first.nextCursor }, '/cursor');
    await ok(p, 'songs.list', { tag: 'live', limit: 10, cursor: first.nextCursor });
  });

  it('minRating, isFavorite and updatedSince narrow songs.list and songs.count, and combine', async () => {
    const p = await procs.launch();
    const items = [1, 2, 3, 4, 5].map((rating) => makeSong({ id: `R${rating}`, metadata: { tempo: 100, timeSignature: [4, 4], tags: [], rating } }));
    items.push(makeSong({ id: 'unrated', metadata: { tempo: 100, timeSignature: [4, 4], tags: [] } }));
    await ok(p, 'songs.saveMany', { items });
    expect(await ok(p, 'songs.count', { minRating: 4 })).to.deep.equal({ count: 2 });
    expect((await listAll(p, 'songs.list', { minRating: 3, limit: 1 })).items.map((s) => s.id).sort()).to.deep.equal(['R3', 'R4', 'R5']);
    await ok(p, 'songs.setFavorite', { id: 'R2', isFavorite: true });
    await ok(p, 'songs.setFavorite', { id: 'R5', isFavorite: true });
    expect(await ok(p, 'songs.count', { isFavorite: true, minRating: 3 })).to.deep.equal({ count: 1 });
    await sleep(5);
    const since = Date.now();
    await sleep(5);
    const edited = await ok(p, 'songs.update', { item: { id: 'R1', name: 'Edited' } });
    expect(edited.updatedAt).to.be.at.least(since);
    // Favouriting is use, not an edit: it does not count as updated.
    await ok(p, 'songs.setFavorite', { id: 'R3', isFavorite: true });
    expect((await ok(p, 'songs.list', { updatedSince: since })).items.map((s: any) => s.id)).to.deep.equal(['R1']);
    expect(await ok(p, 'songs.count', { updatedSince: edited.updatedAt })).to.deep.equal({ count: 1 });
    expect(await ok(p, 'songs.count', { updatedSince: edited.updatedAt + 1 })).to.deep.equal({ count: 0 });
    await invalid(p, 'songs.list', { minRating: 6 }, '/minRating');
    await invalid(p, 'songs.list', { tag: '' }, '/tag');
  });

  it('instruments, presets, performances and voices filter too', async () => {
    const p = await procs.launch();
    const a = await ok(p, 'instruments.create', { item: { name: 'A', type: 'synth', tags: ['analog', 'poly'] } });
    await ok(p, 'instruments.create', { item: { name: 'B', type: 'synth', tags: ['digital'] } });
    expect((await ok(p, 'instruments.list', { tag: 'analog' })).items.map((i: any) => i.id)).to.deep.equal([a.id]);
    await ok(p, 'presets.saveMany', {
      items: [
        { id: 'P1', instrumentId: a.id, name: 'P1', tags: ['pad'], rating: 5 },
        { id: 'P2', instrumentId: a.id, name: 'P2', tags: ['pad'], rating: 2 },
        { id: 'P3', instrumentId: a.id, name: 'P3', tags: ['lead'], rating: 5 },
      ],
    });
    expect((await ok(p, 'presets.list', { tag: 'pad', minRating: 4 })).items.map((i: any) => i.id)).to.deep.equal(['P1']);
    expect(await ok(p, 'presets.count', { tag: 'pad' })).to.deep.equal({ count: 2 });
    const song = await ok(p, 'songs.create', { item: { name: 'S' } });
    const perf = await ok(p, 'performances.create', { item: { songId: song.id, name: 'P', arrangementStyle: 'SATB' } });
    expect(await ok(p, 'performances.count', { updatedSince: perf.updatedAt })).to.deep.equal({ count: 1 });
    expect(await ok(p, 'performances.count', { updatedSince: perf.updatedAt + 1 })).to.deep.equal({ count: 0 });
    const voice = await ok(p, 'voices.create', { item: { instrumentId: a.id, name: 'V', number: 1 } });
    expect(await ok(p, 'voices.count', { updatedSince: voice.updatedAt, instrumentId: a.id })).to.deep.equal({ count: 1 });
  });
});
