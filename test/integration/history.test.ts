/**
 * Version history and trash (issue 13), through the real process, from the contract's words and
 * from what a musician does: save over a song and take it back; delete a song by mistake and bring
 * it back with its performances; keep a named version through any amount of saving.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import { applyPatch } from 'rfc6902';
import { makeSong } from '../helpers/fixtures.js';
import { StoreProcess } from '../helpers/process.js';
import { Procs, fails, invalid, ok, stop } from '../helpers/rpc.js';
import { sqlite3 } from '../helpers/check.js';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

type Rec = Record<string, any>;

const procs = new Procs();
afterEach(() => procs.cleanupAll());

const perf = (songId: string, o: Rec = {}): Rec => ({
  id: `perf-${Math.random().toString(36).slice(2, 10)}`,
  songId,
  name: 'Take',
  arrangementStyle: 'SATB',
  instrumentationMap: { soprano: { voice: 's1' } },
  mixTargets: { lufs: -16 },
  ...o,
});

/** What the host saved, as the store answers it, without what the store sets on every write. */
const content = (r: Rec): Rec => {
  const { revision: _r, updatedAt: _u, isFavorite: _f, playCount: _p, lastPlayedAt: _l, ...rest } = r;
  return rest;
};

const sources = async (p: StoreProcess, family: string, id: string): Promise<string[]> =>
  (await ok(p, `${family}.history`, { id, limit: 1000 })).items.map((v: Rec) => `${v.source}@${v.revision}`);

describe('history: every committed state is a version', function () {
  this.timeout(60_000);

  it('records a version for create, update, save and saveMany, none for setFavorite or markPlayed, newest first', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'v1' }) });
    await ok(p, 'songs.update', { item: { ...s, name: 'v2' }, ifRevision: 1 });
    await ok(p, 'songs.save', { item: { ...s, name: 'v3' } });
    await ok(p, 'songs.saveMany', { items: [{ ...s, name: 'v4' }] });
    await ok(p, 'songs.setFavorite', { id: s.id, isFavorite: true });
    await ok(p, 'songs.markPlayed', { id: s.id });
    expect(await sources(p, 'songs', s.id)).to.deep.equal(['save@4', 'save@3', 'save@2', 'save@1']);
    const page = await ok(p, 'songs.history', { id: s.id, limit: 3 });
    expect(page.items).to.have.length(3);
    const rest = await ok(p, 'songs.history', { id: s.id, limit: 3, cursor: page.nextCursor });
    expect(rest.items.map((v: Rec) => v.revision)).to.deep.equal([1]);
    expect(rest.nextCursor).to.equal(undefined);
    const seqs = page.items.map((v: Rec) => v.seq);
    expect(seqs).to.deep.equal([...seqs].sort((a: number, b: number) => b - a));
    for (const v of page.items) expect(v).to.include({ entity: 'songs', entityId: s.id, pinned: false }).and.to.have.property('deviceId').that.is.a('string');
  });

  it('getVersion answers the song exactly as it was saved', async () => {
    const p = await procs.launch();
    const sent = makeSong({ name: 'Exactly', sections: [{ id: 'a', deep: { list: [1, 2.5, 'x', null, { y: true }] } }] });
    const saved = await ok(p, 'songs.save', { item: sent });
    await ok(p, 'songs.save', { item: { ...sent, name: 'Later', sections: [] } });
    const [, first] = (await ok(p, 'songs.history', { id: sent.id })).items;
    const got = await ok(p, 'songs.getVersion', { versionId: first.versionId });
    expect(got.song).to.deep.equal(saved);
    expect(got.version).to.deep.equal(first);
    await fails(p, 'songs.getVersion', { versionId: 'no-such-version' }, -32001);
    await fails(p, 'performances.getVersion', { versionId: first.versionId }, -32001);
  });

  it('an autosave promotion records an autosave version; a snapshot-only one does not', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'Draft' }) });
    await ok(p, 'autosave.stage', { songId: s.id, snapshot: { song: { ...s, name: 'Draft, edited' } }, baseRevision: s.revision });
    await ok(p, 'autosave.flush', {});
    expect(await sources(p, 'songs', s.id)).to.deep.equal(['autosave@2', 'save@1']);
    await ok(p, 'autosave.configure', { mode: 'snapshot-only' });
    await ok(p, 'autosave.stage', { songId: s.id, snapshot: { song: { ...s, name: 'Only a snapshot' } }, baseRevision: 2 });
    await ok(p, 'autosave.flush', {});
    expect(await sources(p, 'songs', s.id)).to.deep.equal(['autosave@2', 'save@1']);
  });

  it('performances have history too', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong() });
    const q = await ok(p, 'performances.create', { item: perf(s.id, { name: 'Take 1' }) });
    await ok(p, 'performances.update', { item: { ...q, name: 'Take 2' } });
    const [newest, oldest] = (await ok(p, 'performances.history', { id: q.id })).items;
    expect((await ok(p, 'performances.getVersion', { versionId: oldest.versionId })).performance).to.deep.equal(q);
    expect(newest.revision).to.equal(2);
  });
});

describe('history: a song saved over comes back as it was', function () {
  this.timeout(60_000);

  it('restoreVersion makes an old version the current state, as a new version, and keeps the play state', async () => {
    const p = await procs.launch();
    const good = await ok(p, 'songs.create', { item: makeSong({ name: 'Good take', sections: [{ id: 'verse', bars: 16 }] }) });
    await ok(p, 'songs.update', { item: { ...good, name: 'Bad edit', sections: [] } });
    await ok(p, 'songs.setFavorite', { id: good.id, isFavorite: true });
    const oldest = (await ok(p, 'songs.history', { id: good.id })).items.at(-1);
    const stale = await fails(p, 'songs.restoreVersion', { versionId: oldest.versionId, ifRevision: 2 }, -32002);
    expect(stale.data).to.include({ id: good.id });
    const back = await ok(p, 'songs.restoreVersion', { versionId: oldest.versionId, ifRevision: 3 });
    expect(content(back.song)).to.deep.equal(content(good));
    expect(back.song).to.include({ revision: 4, isFavorite: true });
    expect(back.version).to.include({ source: 'restore', revision: 4 });
    expect(content(await ok(p, 'songs.get', { id: good.id }))).to.deep.equal(content(good));
    expect(await sources(p, 'songs', good.id)).to.deep.equal(['restore@4', 'save@2', 'save@1']);
  });

  it('diff answers an RFC 6902 patch from one version to another, or to the current state', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'A', sections: [{ id: 'x', bars: 4 }] }) });
    await ok(p, 'songs.update', { item: { ...s, name: 'B', sections: [{ id: 'x', bars: 8 }] } });
    const [v2, v1] = (await ok(p, 'songs.history', { id: s.id })).items;
    const d = await ok(p, 'songs.diff', { from: v1.versionId, to: v2.versionId });
    expect(d.from.versionId).to.equal(v1.versionId);
    const ops = d.patch.map((o: Rec) => `${o.op} ${o.path} ${JSON.stringify(o.value)}`);
    expect(ops).to.include('replace /name "B"');
    expect(ops).to.include('replace /sections/0/bars 8');
    expect(ops).to.include('replace /revision 2');
    const none = await ok(p, 'songs.diff', { from: v2.versionId });
    expect(none.patch).to.deep.equal([]);
    expect(none).to.not.have.property('to');
    const other = await ok(p, 'songs.create', { item: makeSong() });
    const [ov] = (await ok(p, 'songs.history', { id: other.id })).items;
    await fails(p, 'songs.diff', { from: v1.versionId, to: ov.versionId }, -32602);
  });

  it('a key given twice in a part is kept as JSON.parse reads it (last value, first place): diff, validation and usage agree', async () => {
    const p = await procs.launch();
    const item = (pan: string): string =>
      `{"id":"dup","name":"Dup","metadata":{"tempo":120,"timeSignature":[4,4],"tags":[]},"determinismSeed":"1","sections":[{"dup":1,"x":0,"dup":2}],` +
      `"roles":[],"projections":[],"mixGraph":{"tracks":[{"id":"t","name":"T","volume":1,"pan":${pan},"mute":false,"solo":false}]}}`;
    const saved = await p.requestText('songs.save', `{"item":${item('5,"pan":0')}}`);
    expect(saved).to.include('"sections":[{"dup":2,"x":0}]').and.include('"pan":0,"mute"');
    expect(JSON.parse(await p.requestText('songs.save', `{"item":${item('0,"pan":5')}}`)).error.code).to.equal(-32602);
    const [v] = (await ok(p, 'songs.history', { id: 'dup' })).items;
    expect((await ok(p, 'songs.diff', { from: v.versionId })).patch).to.deep.equal([]);
  });

  it('a history cursor is for its own family and record: another family\'s is refused', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ id: 'X' }) });
    await ok(p, 'songs.update', { item: { ...s, name: 'X2' } });
    await ok(p, 'songs.create', { item: makeSong({ id: 'host' }) });
    const q = await ok(p, 'performances.create', { item: perf('host', { id: 'X' }) });
    await ok(p, 'performances.update', { item: { ...q, name: 'X2' } });
    const page = await ok(p, 'songs.history', { id: 'X', limit: 1 });
    await fails(p, 'performances.history', { id: 'X', limit: 1, cursor: page.nextCursor }, -32602);
    const perfPage = await ok(p, 'performances.history', { id: 'X', limit: 1 });
    await fails(p, 'songs.history', { id: 'X', limit: 1, cursor: perfPage.nextCursor }, -32602);
  });
});

describe('history: diff of big arrays is a read that answers (hostile7 F1)', function () {
  this.timeout(120_000);

  /** Creates a song with `a` as its sections, updates it to `b`; the two versions and the diff between them. */
  async function diffOf(p: StoreProcess, a: Rec[], b: Rec[], extra: Rec = {}): Promise<{ patch: Rec[]; from: Rec; to: Rec; ms: number }> {
    const s = await ok(p, 'songs.create', { item: makeSong({ sections: a, ...extra }) });
    await ok(p, 'songs.update', { item: { ...s, sections: b } });
    const [v2, v1] = (await ok(p, 'songs.history', { id: s.id })).items;
    const t0 = Date.now();
    const { patch } = await ok(p, 'songs.diff', { from: v1.versionId, to: v2.versionId });
    const ms = Date.now() - t0;
    const from = (await ok(p, 'songs.getVersion', { versionId: v1.versionId })).song;
    const to = (await ok(p, 'songs.getVersion', { versionId: v2.versionId })).song;
    return { patch, from, to, ms };
  }
  /** `patch` applied in order to `from` gives `to` exactly. */
  function applies(patch: Rec[], from: Rec, to: Rec): void {
    const copy = structuredClone(from);
    expect(applyPatch(copy, patch as any).filter((r) => r !== null).map(String)).to.deep.equal([]);
    expect(copy).to.deep.equal(to);
  }
  const sectionOps = (patch: Rec[]): Rec[] => patch.filter((o) => o.path.startsWith('/sections'));

  it('1,000 sections all changed: a correct patch in seconds, and a ping sent right after it is answered', async () => {
    const p = await procs.launch();
    const a = Array.from({ length: 1000 }, (_, i) => ({ i }));
    const b = a.map((x) => ({ i: x.i + 1_000_000 }));
    const s = await ok(p, 'songs.create', { item: makeSong({ sections: a }) });
    await ok(p, 'songs.update', { item: { ...s, sections: b } });
    const [v2, v1] = (await ok(p, 'songs.history', { id: s.id })).items;
    const t0 = Date.now();
    const diff = p.request('songs.diff', { from: v1.versionId, to: v2.versionId });
    const ping = p.request('system.ping');
    const d = await diff;
    const ms = Date.now() - t0;
    expect(d.error).to.equal(undefined);
    expect((await ping).error).to.equal(undefined);
    expect(ms).to.be.below(3000);
    expect(sectionOps(d.result.patch)).to.have.length(1000);
    const from = (await ok(p, 'songs.getVersion', { versionId: v1.versionId })).song;
    const to = (await ok(p, 'songs.getVersion', { versionId: v2.versionId })).song;
    applies(d.result.patch, from, to);
    const back = await diffOf(p, b, [...b].reverse());
    applies(back.patch, back.from, back.to);
    expect(back.ms).to.be.below(3000);
  });

  it('5,000 sections with one name changed, or one inserted: a one-op patch, not -32603', async () => {
    const p = await procs.launch();
    const a = Array.from({ length: 5000 }, (_, i) => ({ id: `s${i}`, name: `Verse ${i}`, bars: 8 }));
    const renamed = await diffOf(p, a, a.map((x, i) => (i === 2500 ? { ...x, name: 'Bridge' } : x)));
    expect(sectionOps(renamed.patch)).to.deep.equal([{ op: 'replace', path: '/sections/2500/name', value: 'Bridge' }]);
    applies(renamed.patch, renamed.from, renamed.to);
    const inserted = await diffOf(p, a, [...a.slice(0, 10), { id: 'new' }, ...a.slice(10)]);
    expect(sectionOps(inserted.patch)).to.deep.equal([{ op: 'add', path: '/sections/10', value: { id: 'new' } }]);
    const emptied = await diffOf(p, [], a);
    applies(emptied.patch, emptied.from, emptied.to);
  });

  it('small arrays keep the minimal patch: one inserted section is one add', async () => {
    const p = await procs.launch();
    const a = [1, 2, 3, 4].map((i) => ({ id: `s${i}`, bars: 4 }));
    const d = await diffOf(p, a, [a[0]!, { id: 'new', bars: 2 }, ...a.slice(1)]);
    expect(sectionOps(d.patch)).to.deep.equal([{ op: 'add', path: '/sections/1', value: { id: 'new', bars: 2 } }]);
    const moved = await diffOf(p, a, [a[1]!, a[2]!, a[3]!, a[0]!]);
    expect(sectionOps(moved.patch)).to.have.length(2);
    applies(moved.patch, moved.from, moved.to);
  });

  it('deep nesting (close to the 1,000-level limit) changed at the bottom: one op, answered', async () => {
    const p = await procs.launch();
    let x: unknown = 'x';
    let y: unknown = 'y';
    for (let i = 0; i < 990; i++) {
      x = [x];
      y = [y];
    }
    const d = await diffOf(p, [{ deep: x }], [{ deep: y }]);
    expect(sectionOps(d.patch)).to.have.length(1);
    applies(d.patch, d.from, d.to);
  });

  it('any edit of the sections, small or big: the patch applied to the older version gives the newer one', async () => {
    const p = await procs.launch();
    const section = fc.record({ id: fc.constantFrom('a', 'b', 'c', 'd'), bars: fc.integer({ min: 1, max: 3 }), tags: fc.array(fc.constantFrom('x', 'y'), { maxLength: 3 }) });
    const edited = fc.array(section, { maxLength: 600 }).chain((a) =>
      fc.array(fc.tuple(fc.nat({ max: a.length }), fc.constantFrom('insert', 'remove', 'change'), section), { maxLength: 8 }).map((edits) => {
        const b = [...a];
        for (const [at, kind, v] of edits) {
          if (kind === 'insert') b.splice(at, 0, v);
          else if (kind === 'remove') b.splice(at, 1);
          else if (at < b.length) b[at] = v;
        }
        return [a, b] as [Rec[], Rec[]];
      }),
    );
    await fc.assert(
      fc.asyncProperty(edited, async ([a, b]) => {
        const d = await diffOf(p, a, b);
        applies(d.patch, d.from, d.to);
      }),
      { numRuns: 25 },
    );
  });
});

describe('history: named versions', function () {
  this.timeout(60_000);

  it('saveVersion pins the current state under a label without writing the song; labelVersion renames and unpins', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'Before the label notes' }) });
    const named = await ok(p, 'songs.saveVersion', { id: s.id, label: 'Before the label’s notes' });
    expect(named).to.include({ label: 'Before the label’s notes', pinned: true, source: 'save', revision: 1 });
    expect((await ok(p, 'songs.get', { id: s.id })).revision).to.equal(1);
    for (let i = 0; i < 20; i++) await ok(p, 'songs.save', { item: { ...s, name: `Later ${i}` } });
    const kept = await ok(p, 'songs.getVersion', { versionId: named.versionId });
    expect(kept.song.name).to.equal('Before the label notes');
    const renamed = await ok(p, 'songs.labelVersion', { versionId: named.versionId, label: 'First mix' });
    expect(renamed).to.include({ label: 'First mix', pinned: true });
    const unpinned = await ok(p, 'songs.labelVersion', { versionId: named.versionId, pinned: false, label: null });
    expect(unpinned.pinned).to.equal(false);
    expect(unpinned).to.not.have.property('label');
    await fails(p, 'songs.saveVersion', { id: 'nope', label: 'x' }, -32001);
  });
});

describe('trash: a song deleted by mistake comes back with its performances', function () {
  this.timeout(60_000);

  it('delete keeps the last state in the trash; the song is gone from get, list, count and search; trash.restore brings it and its performances back', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'Mistake' }) });
    const a = await ok(p, 'performances.create', { item: perf(s.id, { name: 'Take A' }) });
    const b = await ok(p, 'performances.create', { item: perf(s.id, { name: 'Take B' }) });
    await ok(p, 'songs.setFavorite', { id: s.id, isFavorite: true });
    const liked = await ok(p, 'songs.get', { id: s.id });
    await ok(p, 'songs.delete', { id: s.id });
    await fails(p, 'songs.get', { id: s.id }, -32001);
    expect((await ok(p, 'songs.list', {})).items).to.deep.equal([]);
    expect((await ok(p, 'songs.count', {})).count).to.equal(0);
    expect((await ok(p, 'songs.search', { query: 'Mistake' })).items).to.deep.equal([]);
    const trash = (await ok(p, 'trash.list', {})).items;
    expect(trash.map((t: Rec) => `${t.entity}:${t.id}`).sort()).to.deep.equal([`performances:${a.id}`, `performances:${b.id}`, `songs:${s.id}`].sort());
    expect(trash.find((t: Rec) => t.id === a.id)).to.include({ songId: s.id, withSongId: s.id, name: 'Take A' });
    expect((await ok(p, 'trash.list', { entity: 'songs' })).items.map((t: Rec) => t.id)).to.deep.equal([s.id]);
    expect((await sources(p, 'songs', s.id))[0]).to.equal(`delete@${liked.revision}`);

    const restored = await ok(p, 'trash.restore', { entity: 'songs', id: s.id });
    expect(restored.restored.map((r: Rec) => `${r.entity}:${r.id}`).sort()).to.deep.equal([`performances:${a.id}`, `performances:${b.id}`, `songs:${s.id}`].sort());
    const back = await ok(p, 'songs.get', { id: s.id });
    expect(content(back)).to.deep.equal(content(liked));
    expect(back).to.include({ isFavorite: true, revision: liked.revision + 1 });
    expect(content(await ok(p, 'performances.get', { id: a.id }))).to.deep.equal(content(a));
    expect((await ok(p, 'trash.list', {})).items).to.deep.equal([]);
    await fails(p, 'trash.restore', { entity: 'songs', id: s.id }, -32001);
    expect((await sources(p, 'songs', s.id)).slice(0, 2)).to.deep.equal([`restore@${liked.revision + 1}`, `delete@${liked.revision}`]);
  });

  it('an id in the trash may be created again; trash.restore then answers AlreadyExists and changes nothing; the old history stays', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'Old' }) });
    await ok(p, 'songs.delete', { id: s.id });
    const again = await ok(p, 'songs.create', { item: { ...makeSong({ name: 'New' }), id: s.id } });
    const e = await fails(p, 'trash.restore', { entity: 'songs', id: s.id }, -32003);
    expect(e.data).to.include({ entity: 'songs', id: s.id });
    expect(await ok(p, 'songs.get', { id: s.id })).to.deep.equal(again);
    expect((await ok(p, 'trash.list', {})).items.map((t: Rec) => t.id)).to.deep.equal([s.id]);
    // Created again, the id goes on from its highest revision: a revision names one state of an id.
    expect(again.revision).to.equal(2);
    expect(await sources(p, 'songs', s.id)).to.deep.equal(['save@2', 'delete@1', 'save@1']);
  });

  it('restoring a song brings back the performances of its last delete only, not of an earlier one', async () => {
    const p = await procs.launch();
    const first = await ok(p, 'songs.create', { item: makeSong({ id: 'S1' }) });
    const old = await ok(p, 'performances.create', { item: perf(first.id, { id: 'P-old' }) });
    await ok(p, 'songs.delete', { id: 'S1' });
    await ok(p, 'songs.create', { item: makeSong({ id: 'S1', name: 'Again' }) });
    const fresh = await ok(p, 'performances.create', { item: perf('S1', { id: 'P-new' }) });
    await ok(p, 'songs.delete', { id: 'S1' });
    const restored = await ok(p, 'trash.restore', { entity: 'songs', id: 'S1' });
    expect(restored.restored.map((r: Rec) => r.id).sort()).to.deep.equal(['P-new', 'S1']);
    await fails(p, 'performances.get', { id: old.id }, -32001);
    expect((await ok(p, 'performances.get', { id: fresh.id })).songId).to.equal('S1');
    expect((await ok(p, 'trash.list', {})).items.map((t: Rec) => t.id)).to.deep.equal(['P-old']);
  });

  it('restoreVersion of a deleted song brings it back, with its performances', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'Gone' }) });
    const q = await ok(p, 'performances.create', { item: perf(s.id) });
    await ok(p, 'songs.delete', { id: s.id });
    const first = (await ok(p, 'songs.history', { id: s.id })).items.at(-1);
    const back = await ok(p, 'songs.restoreVersion', { versionId: first.versionId });
    expect(content(back.song)).to.deep.equal(content(s));
    expect(back.version.source).to.equal('restore');
    expect(content(await ok(p, 'performances.get', { id: q.id }))).to.deep.equal(content(q));
    expect((await ok(p, 'trash.list', {})).items).to.deep.equal([]);
  });

  it('a performance deleted alone comes back to its song; with its song gone it is ConstraintViolation and nothing changes', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong() });
    const q = await ok(p, 'performances.create', { item: perf(s.id) });
    await ok(p, 'performances.delete', { id: q.id });
    expect((await ok(p, 'trash.list', {})).items[0]).to.include({ entity: 'performances', id: q.id, songId: s.id }).and.not.have.property('withSongId');
    await ok(p, 'trash.restore', { entity: 'performances', id: q.id });
    expect((await ok(p, 'performances.get', { id: q.id })).songId).to.equal(s.id);
    await ok(p, 'performances.delete', { id: q.id });
    await ok(p, 'trash.empty', {});
    await ok(p, 'songs.delete', { id: s.id });
    await ok(p, 'trash.empty', { olderThanDays: 1 });
    expect((await ok(p, 'trash.list', {})).items).to.have.length(1);
    const s2 = await ok(p, 'songs.create', { item: makeSong() });
    const q2 = await ok(p, 'performances.create', { item: perf(s2.id) });
    await ok(p, 'performances.delete', { id: q2.id });
    await ok(p, 'songs.delete', { id: s2.id });
    await fails(p, 'trash.restore', { entity: 'performances', id: q2.id }, -32004);
    expect((await ok(p, 'trash.list', { entity: 'performances' })).items.map((t: Rec) => t.id)).to.deep.equal([q2.id]);
  });

  it('trash.empty takes the history of records that are gone with it', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong() });
    await ok(p, 'songs.delete', { id: s.id });
    const emptied = await ok(p, 'trash.empty', {});
    expect(emptied.count).to.equal(1);
    expect((await ok(p, 'songs.history', { id: s.id })).items).to.deep.equal([]);
    expect((await ok(p, 'system.stats', {})).history).to.include({ versions: 0, trashed: 0, parts: 0 });
  });

  it('history.configure and preferences agree on trashRetentionDays (the purge itself: see below and test/unit/history-clock)', async () => {
    const p = await procs.launch();
    expect(await ok(p, 'history.configure', {})).to.deep.equal({ keepAllHours: 24, hourlyDays: 30, trashRetentionDays: 30 });
    expect(await ok(p, 'history.configure', { trashRetentionDays: 7, hourlyDays: 10 })).to.deep.equal({ keepAllHours: 24, hourlyDays: 10, trashRetentionDays: 7 });
    expect((await ok(p, 'preferences.get', {})).trashRetentionDays).to.equal(7);
    await ok(p, 'preferences.update', { patch: { trashRetentionDays: 9 } });
    expect((await ok(p, 'history.configure', {})).trashRetentionDays).to.equal(9);
    await fails(p, 'history.configure', { trashRetentionDays: 0 }, -32602);
  });
});

describe('history: parts are stored once', function () {
  this.timeout(60_000);

  it('an autosave of a saved state and the versions of a song share their parts', async () => {
    const p = await procs.launch();
    const big = makeSong({
      sections: Array.from({ length: 40 }, (_, i) => ({ id: `s${i}`, notes: Array.from({ length: 60 }, (_, j) => ({ t: j, p: 40 + ((i * 7 + j * 5) % 48), v: ((i + j) % 10) / 10 })) })),
    });
    const fullCopy = JSON.stringify(big).length;
    const s = await ok(p, 'songs.create', { item: big });
    const one = (await ok(p, 'system.stats', {})).history;
    await ok(p, 'autosave.stage', { songId: s.id, snapshot: { song: s }, baseRevision: s.revision });
    await ok(p, 'autosave.flush', {});
    const two = (await ok(p, 'system.stats', {})).history;
    // The snapshot adds its small fields node at most: every section node is shared.
    expect(two.storedBytes - one.storedBytes).to.be.lessThan(2000);
    // Ten saves that each change one section add a small fraction of the song.
    for (let i = 0; i < 10; i++) {
      const sections = big.sections.map((x: Rec, k: number) => (k === i ? { ...x, edited: i } : x));
      await ok(p, 'songs.save', { item: { ...big, sections } });
    }
    const eleven = (await ok(p, 'system.stats', {})).history;
    expect(eleven.textBytes).to.be.greaterThan(one.textBytes);
    // Ten full copies would be ten times the song; ten saves of one changed section take under 5% of that.
    expect(eleven.storedBytes - two.storedBytes).to.be.lessThan(fullCopy * 10 * 0.05);
    expect(eleven.versions).to.equal(11);
  });
});

describe('history: export and import carry it when asked', function () {
  this.timeout(60_000);

  it('export.songs {includeHistory} then import.songs into another library gives the same history and versions', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'One' }) });
    await ok(p, 'songs.update', { item: { ...s, name: 'Two' } });
    const named = await ok(p, 'songs.saveVersion', { id: s.id, label: 'Keep' });
    const q = await ok(p, 'performances.create', { item: perf(s.id) });
    const plain = await ok(p, 'export.songs', {});
    const withHistory = await ok(p, 'export.songs', { includeHistory: true });
    const before = (await ok(p, 'songs.history', { id: s.id })).items;

    const other = await procs.launch();
    const copied = await ok(other, 'import.songs', { path: withHistory.path, onConflict: 'skip' });
    expect(copied.versions).to.equal(before.length + 1);
    const after = (await ok(other, 'songs.history', { id: s.id })).items;
    // The imported versions, then the import's own version of the song.
    expect(after[0].source).to.equal('import');
    const strip = (v: Rec): Rec => ({ ...v, seq: 0 });
    expect(after.slice(1).map(strip)).to.deep.equal(before.map(strip));
    const kept = await ok(other, 'songs.getVersion', { versionId: named.versionId });
    expect(kept.song.name).to.equal('Two');
    expect((await ok(other, 'performances.history', { id: q.id })).items).to.have.length(2);

    const third = await procs.launch();
    const none = await ok(third, 'import.songs', { path: plain.path, onConflict: 'skip' });
    expect(none.versions).to.equal(0);
    const skipped = await ok(third, 'import.songs', { path: withHistory.path, onConflict: 'skip', includeHistory: false });
    expect(skipped.versions).to.equal(0);
  });

  it('a duplicated import gives the copy the history too', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'One' }) });
    await ok(p, 'songs.update', { item: { ...s, name: 'Two' } });
    const file = await ok(p, 'export.songs', { includeHistory: true });
    const dup = await ok(p, 'import.songs', { path: file.path, onConflict: 'duplicate' });
    expect(dup.versions).to.equal(2);
    const copy = (await ok(p, 'songs.list', {})).items.find((x: Rec) => x.id !== s.id);
    expect((await sources(p, 'songs', copy.id)).slice(1)).to.deep.equal(['save@2', 'save@1']);
    const old = (await ok(p, 'songs.history', { id: copy.id })).items.at(-1);
    const was = (await ok(p, 'songs.getVersion', { versionId: old.versionId })).song;
    expect(was.name).to.equal('One');
    // The copy's versions hold the copy (its id), not the song it was copied from.
    expect(was).to.deep.equal({ ...s, id: copy.id });
    expect(old.sizeBytes).to.equal(Buffer.byteLength(JSON.stringify(was)));
    expect((await ok(p, 'songs.diff', { from: old.versionId })).patch.map((o: Rec) => o.path)).to.not.include('/id');
    expect((await ok(p, 'songs.getVersion', { versionId: (await ok(p, 'songs.history', { id: s.id })).items.at(-1).versionId })).song).to.deep.equal(s);
  });

  it('a performance copied with its duplicated song keeps its history under the copy: a restore of an old version leaves it there', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ id: 'ORIG' }) });
    const q = await ok(p, 'performances.create', { item: perf('ORIG', { id: 'ORIG-take', name: 'first' }) });
    await ok(p, 'performances.update', { item: { ...q, name: 'second' } });
    const file = await ok(p, 'export.songs', { includeHistory: true });
    await ok(p, 'import.songs', { path: file.path, onConflict: 'duplicate' });
    const copy = (await ok(p, 'songs.list', {})).items.find((x: Rec) => x.id !== s.id);
    const [take] = (await ok(p, 'performances.list', { songId: copy.id })).items;
    const versions = (await ok(p, 'performances.history', { id: take.id })).items;
    expect(versions.map((v: Rec) => v.source)).to.deep.equal(['import', 'save', 'save']);
    const first = (await ok(p, 'performances.getVersion', { versionId: versions.at(-1).versionId })).performance;
    expect(first).to.include({ id: take.id, songId: copy.id, name: 'first' });
    const back = await ok(p, 'performances.restoreVersion', { versionId: versions.at(-1).versionId });
    expect(back.performance).to.include({ id: take.id, songId: copy.id, name: 'first' });
    expect((await ok(p, 'performances.list', { songId: 'ORIG' })).items.map((x: Rec) => x.id)).to.deep.equal(['ORIG-take']);
    expect((await ok(p, 'performances.get', { id: 'ORIG-take' })).name).to.equal('second');
  });

  it('refuses history whose parts do not make a record a save accepts, naming where (nothing imported)', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.create', { item: makeSong({ id: 'H1' }) });
    const file = await ok(p, 'export.songs', { includeHistory: true });
    const { createHash } = await import('node:crypto');
    const { readFileSync, writeFileSync } = await import('node:fs');
    const good = JSON.parse(readFileSync(file.path, 'utf8'));
    await ok(p, 'songs.delete', { id: 'H1' });
    await ok(p, 'trash.empty', {});
    const node = (text: string): string => createHash('sha256').update(text).digest('hex');
    const cases: [string, (d: Rec) => void, string][] = [
      ['fields that are not an object', (d) => {
        d.history.parts.push([node('5'), '5']);
        d.history.versions[0].manifest.fields = node('5');
      }, '/history/versions/0/manifest/fields'],
      ['a part that is not JSON', (d) => {
        d.history.parts.push([node('{not json'), '{not json']);
        d.history.versions[0].manifest.sections = node('{not json');
      }, '/history/versions/0/manifest/sections'],
      ['a part the record does not have', (d) => {
        d.history.versions[0].manifest.name = d.history.versions[0].manifest.fields;
      }, '/history/versions/0/manifest'],
      ['fields of another record', (d) => {
        const text = JSON.stringify({ ...good.songs[0], id: 'OTHER', sections: undefined, roles: undefined, projections: undefined, mixGraph: undefined, realizationPolicy: undefined });
        d.history.parts.push([node(text), text]);
        d.history.versions[0].manifest.fields = node(text);
      }, '/history/versions/0/manifest/fields'],
      ['two versions with one versionId', (d) => {
        d.history.versions.push({ ...d.history.versions[0] });
      }, '/history/versions/1/versionId'],
      ['a revision no restore could go past', (d) => {
        d.history.versions[0].revision = Number.MAX_SAFE_INTEGER;
      }, '/history/versions/0'],
      ['a label with a control character', (d) => {
        d.history.versions[0].label = 'a\u0000b';
      }, '/history/versions/0'],
      // Answers hold part texts as stored: a line break between tokens would split an NDJSON answer.
      ['a part with a line break between its tokens', (d) => {
        const text = '[{"a":1},\n{"a":2}]';
        d.history.parts.push([node(text), text]);
        d.history.versions[0].manifest.sections = node(text);
      }, '/history/versions/0/manifest/sections'],
      ['a part ending in CR LF', (d) => {
        const text = '[{"a":1}]\r\n';
        d.history.parts.push([node(text), text]);
        d.history.versions[0].manifest.sections = node(text);
      }, '/history/versions/0/manifest/sections'],
      ['fields with a line break between members', (d) => {
        const fields = d.history.parts.find(([h]: [string]) => h === d.history.versions[0].manifest.fields)[1] as string;
        const text = fields.replace(',', ',\n');
        d.history.parts.push([node(text), text]);
        d.history.versions[0].manifest.fields = node(text);
      }, '/history/versions/0/manifest/fields'],
      ['fields that name a member twice', (d) => {
        const fields = d.history.parts.find(([h]: [string]) => h === d.history.versions[0].manifest.fields)[1] as string;
        const text = fields.replace('{', '{"name":"first",');
        d.history.parts.push([node(text), text]);
        d.history.versions[0].manifest.fields = node(text);
      }, '/history/versions/0/manifest/fields'],
      ['fields that also hold a structured part', (d) => {
        const fields = d.history.parts.find(([h]: [string]) => h === d.history.versions[0].manifest.fields)[1] as string;
        const text = JSON.stringify({ ...JSON.parse(fields), sections: [9, 9, 9] });
        d.history.parts.push([node(text), text]);
        d.history.versions[0].manifest.fields = node(text);
      }, '/history/versions/0/manifest/fields'],
    ];
    for (const [what, edit, at] of cases) {
      const doc = JSON.parse(JSON.stringify(good));
      edit(doc);
      writeFileSync(file.path, JSON.stringify(doc));
      const e = await fails(p, 'import.songs', { path: file.path, onConflict: 'skip' }, -32021);
      expect(e.data.errors[0].path, what).to.equal(at);
      expect((await ok(p, 'songs.count', {})).count, what).to.equal(0);
      expect((await ok(p, 'songs.history', { id: 'H1' })).items, what).to.deep.equal([]);
    }
  });

  it('refuses an export whose history part is not the text its hash names (nothing imported)', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong() });
    const file = await ok(p, 'export.songs', { includeHistory: true });
    const { readFileSync, writeFileSync } = await import('node:fs');
    const doc = JSON.parse(readFileSync(file.path, 'utf8'));
    doc.history.parts[0][1] = `${doc.history.parts[0][1]} `;
    writeFileSync(file.path, JSON.stringify(doc));
    await ok(p, 'songs.delete', { id: s.id });
    await ok(p, 'trash.empty', {});
    const e = await fails(p, 'import.songs', { path: file.path, onConflict: 'skip' }, -32021);
    expect(e.data.errors[0].path).to.equal('/history/parts/0');
    expect((await ok(p, 'songs.count', {})).count).to.equal(0);
  });
});

describe('history: a part store another tool damaged', function () {
  this.timeout(60_000);

  const partsOf = async (p: StoreProcess, id: string): Promise<Rec> => {
    const v = (await ok(p, 'songs.history', { id })).items[0].versionId;
    return JSON.parse(sqlite3(join(p.dataDir, 'data.db'), `SELECT manifest_json FROM versions WHERE id = '${v}'`));
  };

  it('a version part with a line break between its tokens is -32012, answered on one line (not spliced into the answer)', async () => {
    const { createHash } = await import('node:crypto');
    const dataDir = procs.ownDir('wr-hist-nl-');
    let p = await procs.launch({ dataDir });
    await ok(p, 'songs.create', { item: makeSong({ id: 'NL', sections: [{ a: 1 }, { a: 2 }] }) });
    const before = await partsOf(p, 'NL');
    const versionId = (await ok(p, 'songs.history', { id: 'NL' })).items[0].versionId;
    await stop(p);
    const text = '[{"a":1},\n{"a":2}]';
    const hash = createHash('sha256').update(text).digest('hex');
    sqlite3(join(dataDir, 'data.db'), `UPDATE parts SET hash = '${hash}', body = CAST('${text}' AS BLOB), deflated = 0, size_bytes = ${text.length} WHERE hash = '${before.sections}';
      UPDATE versions SET manifest_json = replace(manifest_json, '${before.sections}', '${hash}');`);
    p = await procs.launch({ dataDir });
    // The test client parses every line: a split answer would throw there, not reach these checks.
    for (const [method, params] of [['songs.getVersion', { versionId }], ['songs.restoreVersion', { versionId }], ['songs.diff', { from: versionId }]] as const) {
      const e = await fails(p, method, params, -32012);
      expect(e.message, method).to.match(/not compact JSON|line break/);
    }
    expect((await ok(p, 'songs.get', { id: 'NL' })).sections).to.deep.equal([{ a: 1 }, { a: 2 }]);
    await stop(p);
  });

  it('a version whose manifest another tool overwrote is -32012 naming it, for every read of it', async () => {
    const dataDir = procs.ownDir('wr-hist-manifest-');
    let p = await procs.launch({ dataDir });
    await ok(p, 'songs.create', { item: makeSong({ id: 'MAN', name: 'First' }) });
    const song = await ok(p, 'songs.get', { id: 'MAN' });
    await ok(p, 'songs.update', { item: { ...song, name: 'Second' }, ifRevision: song.revision });
    const [, first] = (await ok(p, 'songs.history', { id: 'MAN' })).items;
    await stop(p);
    for (const garbage of ['garbage', '[1,2]', '{"fields":7}']) {
      sqlite3(join(dataDir, 'data.db'), `UPDATE versions SET manifest_json = '${garbage}' WHERE id = '${first.versionId}'`);
      p = await procs.launch({ dataDir });
      for (const [method, params] of [
        ['songs.getVersion', { versionId: first.versionId }],
        ['songs.diff', { from: first.versionId }],
        ['songs.restoreVersion', { versionId: first.versionId }],
        ['export.songs', { ids: ['MAN'], includeHistory: true, path: `man-${garbage.length}.json` }],
      ] as const) {
        const e = await fails(p, method, params, -32012);
        expect(e.message, `${method} of ${garbage}`).to.match(/manifest of version/);
      }
      // The song itself, and its other version, read as before.
      expect((await ok(p, 'songs.get', { id: 'MAN' })).name).to.equal('Second');
      await stop(p);
    }
  });

  it('a version whose fields part also holds a structured part is -32012 (not an answer naming it twice)', async () => {
    const { createHash } = await import('node:crypto');
    const dataDir = procs.ownDir('wr-hist-dup-');
    let p = await procs.launch({ dataDir });
    await ok(p, 'songs.create', { item: makeSong({ id: 'DUP', sections: [{ a: 1 }] }) });
    const before = await partsOf(p, 'DUP');
    const versionId = (await ok(p, 'songs.history', { id: 'DUP' })).items[0].versionId;
    await stop(p);
    const db = join(dataDir, 'data.db');
    const { inflateRawSync } = await import('node:zlib');
    const [hex, deflated] = sqlite3(db, `SELECT hex(body), deflated FROM parts WHERE hash = '${before.fields}'`).split('|');
    const body = Buffer.from(hex!, 'hex');
    const fields = JSON.parse((deflated === '1' ? inflateRawSync(body) : body).toString('utf8'));
    const text = JSON.stringify({ ...fields, sections: [9, 9] });
    const hash = createHash('sha256').update(text).digest('hex');
    sqlite3(db, `UPDATE parts SET hash = '${hash}', body = CAST('${text.replace(/'/g, "''")}' AS BLOB), deflated = 0, size_bytes = ${Buffer.byteLength(text)} WHERE hash = '${before.fields}';
      UPDATE versions SET manifest_json = replace(manifest_json, '${before.fields}', '${hash}');`);
    p = await procs.launch({ dataDir });
    const e = await fails(p, 'songs.getVersion', { versionId }, -32012);
    expect(e.message).to.include('"sections", which is a part of its own');
    await fails(p, 'songs.restoreVersion', { versionId }, -32012);
    expect((await ok(p, 'songs.get', { id: 'DUP' })).sections).to.deep.equal([{ a: 1 }]);
    await stop(p);
  });

  it('trash.empty removes a part no version refers to whose body does not inflate (was -32603 for good), and keeps what others refer to', async () => {
    const dataDir = procs.ownDir('wr-hist-inflate-');
    let p = await procs.launch({ dataDir });
    // Sections of nodes: Y's one section is shared with Z, whose root (ten references) is deflated.
    const member = (i: number): Rec => ({ id: `m${i}`, notes: Array.from({ length: 100 }, (_, j) => ({ t: j, p: (i * 13 + j * 7) % 90 })) });
    await ok(p, 'songs.create', { item: makeSong({ id: 'Y', sections: [member(0)] }) });
    await ok(p, 'songs.create', { item: makeSong({ id: 'Z', sections: Array.from({ length: 10 }, (_, i) => member(i)) }) });
    const root = (await partsOf(p, 'Z')).sections;
    const yVersion = (await ok(p, 'songs.history', { id: 'Y' })).items[0].versionId;
    const zVersion = (await ok(p, 'songs.history', { id: 'Z' })).items[0].versionId;
    await stop(p);
    const db = join(dataDir, 'data.db');
    expect(sqlite3(db, `SELECT deflated FROM parts WHERE hash = '${root}'`), 'the root of Z\'s sections is deflated').to.equal('1');
    sqlite3(db, `UPDATE parts SET body = x'00ff00ff' WHERE hash = '${root}'`);
    p = await procs.launch({ dataDir });
    await fails(p, 'songs.getVersion', { versionId: zVersion }, -32012);
    await ok(p, 'songs.delete', { id: 'Z' });
    await ok(p, 'trash.empty', {});
    expect((await ok(p, 'songs.getVersion', { versionId: yVersion })).song.sections).to.deep.equal([member(0)]);
    await ok(p, 'songs.save', { item: makeSong({ id: 'Y', name: 'Y again', sections: [member(0)] }) });
    await stop(p);
    expect(sqlite3(db, `SELECT count(*) FROM parts WHERE hash = '${root}'`), 'the unreadable node is gone').to.equal('0');
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(dataDir, 'logs', 'persistence.log'), 'utf8')).to.include(root).and.include('does not inflate');
  });
});

describe('history: writes and versions commit together', function () {
  this.timeout(120_000);

  it('after SIGKILL in a burst of writes, every song\'s newest version is its stored revision', async () => {
    const dataDir = procs.ownDir('wr-hist-');
    const p = await procs.launch({ dataDir });
    const ids = Array.from({ length: 5 }, (_, i) => `crash-${i}`);
    for (const id of ids) await ok(p, 'songs.create', { item: makeSong({ id }) });
    const burst = Array.from({ length: 300 }, (_, i) => p.request('songs.save', { item: makeSong({ id: ids[i % ids.length], name: `save ${i}` }) }).catch(() => undefined));
    await new Promise((r) => setTimeout(r, 40));
    await p.kill('SIGKILL');
    await Promise.all(burst);
    const q = await procs.launch({ dataDir });
    for (const id of ids) {
      const song = await ok(q, 'songs.get', { id });
      const [newest] = (await ok(q, 'songs.history', { id })).items;
      expect(newest.revision, id).to.equal(song.revision);
      expect(content((await ok(q, 'songs.getVersion', { versionId: newest.versionId })).song)).to.deep.equal(content(song));
    }
    await stop(q);
  });

  it('on a full disk, restoreVersion, saveVersion, trash.restore and trash.empty answer StorageFull and change nothing', async function () {
    const mount = mountTmpfs(this, '16m', 'wr-hist-full-');
    try {
      const p = await procs.launch({ dataDir: join(mount, 'data') });
      const s = await ok(p, 'songs.create', { item: makeSong({ name: 'A' }) });
      await ok(p, 'songs.update', { item: { ...s, name: 'B' } });
      const gone = await ok(p, 'songs.create', { item: makeSong({ name: 'Gone' }) });
      await ok(p, 'songs.delete', { id: gone.id });
      const first = (await ok(p, 'songs.history', { id: s.id })).items.at(-1);
      const stats = (await ok(p, 'system.stats', {})).history;
      fillDisk(join(mount, 'filler'));
      expect(statfsSync(mount).bavail).to.equal(0);
      for (const [method, params] of [
        ['songs.restoreVersion', { versionId: first.versionId }],
        ['songs.saveVersion', { id: s.id, label: 'x'.repeat(200) }],
        ['trash.restore', { entity: 'songs', id: gone.id }],
        ['songs.save', { item: { ...s, name: 'C'.repeat(100), sections: Array.from({ length: 500 }, (_, i) => ({ id: `big${i}`, pad: 'y'.repeat(500) })) } }],
      ] as const) {
        const r = await p.request(method, params);
        if (r.error) expect(r.error.code, method).to.equal(-32010);
      }
      // Whatever fit was written whole; what did not fit changed nothing. The history agrees with the rows.
      const song = await ok(p, 'songs.get', { id: s.id });
      const [newest] = (await ok(p, 'songs.history', { id: s.id })).items;
      expect(newest.revision).to.equal(song.revision);
      expect((await ok(p, 'system.stats', {})).history.versions).to.be.at.least(stats.versions);
      await p.kill('SIGKILL');
    } finally {
      unmountTmpfs(mount);
    }
  });
});

describe('history and trash as a host and a musician use them (issue 13 audit)', function () {
  this.timeout(60_000);

  it('trash.restore brings each performance back with its own history; one deleted on its own before the song stays in the trash and comes back once, alone', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.create', { item: makeSong({ id: 'S', name: 'Set list' }) });
    const a = await ok(p, 'performances.create', { item: perf('S', { id: 'PA', name: 'Take A' }) });
    await ok(p, 'performances.update', { item: { ...a, name: 'Take A, mixed' } });
    await ok(p, 'performances.create', { item: perf('S', { id: 'PB', name: 'Take B' }) });
    await ok(p, 'performances.create', { item: perf('S', { id: 'PC', name: 'Take C' }) });
    await ok(p, 'performances.delete', { id: 'PC' }); // on its own, before the song
    await ok(p, 'songs.delete', { id: 'S' });
    expect((await ok(p, 'trash.list', {})).items.map((t: Rec) => `${t.entity}:${t.id}:${t.withSongId ?? '-'}`).sort()).to.deep.equal([
      'performances:PA:S',
      'performances:PB:S',
      'performances:PC:-',
      'songs:S:-',
    ]);

    const r = await ok(p, 'trash.restore', { entity: 'songs', id: 'S' });
    expect(r.restored.map((x: Rec) => `${x.entity}:${x.id}@${x.revision}`).sort()).to.deep.equal(['performances:PA@3', 'performances:PB@2', 'songs:S@2']);
    expect(await sources(p, 'performances', 'PA')).to.deep.equal(['restore@3', 'delete@2', 'save@2', 'save@1']);
    expect(await sources(p, 'performances', 'PB')).to.deep.equal(['restore@2', 'delete@1', 'save@1']);
    const oldest = (await ok(p, 'performances.history', { id: 'PA' })).items.at(-1);
    expect((await ok(p, 'performances.getVersion', { versionId: oldest.versionId })).performance.name).to.equal('Take A');
    expect((await ok(p, 'performances.get', { id: 'PA' })).name).to.equal('Take A, mixed');
    // The one deleted on its own is not brought back with the song...
    expect((await ok(p, 'performances.list', { songId: 'S' })).items.map((x: Rec) => x.id).sort()).to.deep.equal(['PA', 'PB']);
    expect((await ok(p, 'trash.list', {})).items.map((t: Rec) => `${t.entity}:${t.id}`)).to.deep.equal(['performances:PC']);
    // ... but on its own, once.
    await ok(p, 'trash.restore', { entity: 'performances', id: 'PC' });
    await fails(p, 'trash.restore', { entity: 'performances', id: 'PC' }, -32001);
    expect((await ok(p, 'performances.count', { songId: 'S' })).count).to.equal(3);
    expect(await sources(p, 'performances', 'PC')).to.deep.equal(['restore@2', 'delete@1', 'save@1']);
  });

  it('a deleted song\'s versions can be read and compared; compared with its current state it is NotFound', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'Gone soon', sections: [{ id: 'x', bars: 4 }] }) });
    await ok(p, 'songs.update', { item: { ...s, sections: [{ id: 'x', bars: 8 }] } });
    await ok(p, 'songs.delete', { id: s.id });
    const [del, v2, v1] = (await ok(p, 'songs.history', { id: s.id })).items;
    expect([del.source, v2.source, v1.source]).to.deep.equal(['delete', 'save', 'save']);
    expect((await ok(p, 'songs.getVersion', { versionId: v1.versionId })).song).to.deep.equal(s);
    const d = await ok(p, 'songs.diff', { from: v1.versionId, to: del.versionId });
    expect(d.patch.map((o: Rec) => `${o.op} ${o.path} ${JSON.stringify(o.value)}`)).to.include('replace /sections/0/bars 8');
    expect(d.to.versionId).to.equal(del.versionId);
    const e = await fails(p, 'songs.diff', { from: v1.versionId }, -32001);
    expect(e.data).to.deep.equal({ entity: 'songs', id: s.id });
  });

  it('restoreVersion of a performance whose song is gone is ConstraintViolation and changes nothing', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong() });
    const q = await ok(p, 'performances.create', { item: perf(s.id) });
    await ok(p, 'songs.delete', { id: s.id });
    const [last] = (await ok(p, 'performances.history', { id: q.id })).items;
    const trash = await ok(p, 'trash.list', {});
    const stats = (await ok(p, 'system.stats', {})).history;
    await fails(p, 'performances.restoreVersion', { versionId: last.versionId }, -32004);
    await fails(p, 'trash.restore', { entity: 'performances', id: q.id }, -32004);
    expect(await ok(p, 'trash.list', {})).to.deep.equal(trash);
    expect((await ok(p, 'system.stats', {})).history).to.deep.equal(stats);
    await fails(p, 'performances.get', { id: q.id }, -32001);
  });

  it('restoreVersion with a stale ifRevision changes nothing; with the current one it writes', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'One' }) });
    await ok(p, 'songs.update', { item: { ...s, name: 'Two' } });
    const first = (await ok(p, 'songs.history', { id: s.id })).items.at(-1);
    for (const stale of [1, 3]) {
      const e = await fails(p, 'songs.restoreVersion', { versionId: first.versionId, ifRevision: stale }, -32002);
      expect(e.data).to.include({ entity: 'songs', id: s.id, expected: stale, actual: 2 });
    }
    expect((await ok(p, 'songs.get', { id: s.id })).name).to.equal('Two');
    expect(await sources(p, 'songs', s.id)).to.deep.equal(['save@2', 'save@1']);
    expect((await ok(p, 'songs.restoreVersion', { versionId: first.versionId, ifRevision: 2 })).song.name).to.equal('One');
  });

  it('history.configure refuses values outside its ranges, naming the field, and keeps its rule across a restart', async () => {
    const dataDir = procs.ownDir('wr-hist-conf-');
    const p = await procs.launch({ dataDir });
    const rule = await ok(p, 'history.configure', {});
    for (const [params, at] of [
      [{ keepAllHours: 0 }, '/keepAllHours'],
      [{ keepAllHours: -24 }, '/keepAllHours'],
      [{ keepAllHours: 1.5 }, '/keepAllHours'],
      [{ keepAllHours: '24' }, '/keepAllHours'],
      [{ keepAllHours: null }, '/keepAllHours'],
      [{ keepAllHours: 8761 }, '/keepAllHours'],
      [{ hourlyDays: -1 }, '/hourlyDays'],
      [{ hourlyDays: 1e9 }, '/hourlyDays'],
      [{ trashRetentionDays: 0 }, '/trashRetentionDays'],
      [{ trashRetentionDays: 3651 }, '/trashRetentionDays'],
      [{ keepAllHours: 48, weeks: 2 }, '/weeks'],
    ] as const) {
      await invalid(p, 'history.configure', params, at);
    }
    expect(await ok(p, 'history.configure', {}), 'nothing changed').to.deep.equal(rule);
    // The extremes are allowed: a year of everything, no hourly days, ten years of trash.
    const far = { keepAllHours: 8760, hourlyDays: 0, trashRetentionDays: 3650 };
    expect(await ok(p, 'history.configure', far)).to.deep.equal(far);
    const s = await ok(p, 'songs.create', { item: makeSong() });
    await ok(p, 'songs.save', { item: { ...s, name: 'again' } });
    await stop(p);
    const q = await procs.launch({ dataDir });
    expect(await ok(q, 'history.configure', {})).to.deep.equal(far);
    expect((await ok(q, 'preferences.get', {})).trashRetentionDays).to.equal(3650);
    expect(await sources(q, 'songs', s.id)).to.deep.equal(['save@2', 'save@1']);
  });

  it('autosave.restore records a restore version and deleteMany a delete version of each record', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'Draft' }) });
    await ok(p, 'autosave.stage', { songId: s.id, snapshot: { song: { ...s, name: 'Draft, autosaved' } }, baseRevision: s.revision });
    const [snap] = (await ok(p, 'autosave.flush', {})).saved;
    await ok(p, 'songs.save', { item: { ...s, name: 'Draft, saved over' } });
    await ok(p, 'autosave.restore', { id: snap.autosaveId });
    expect((await ok(p, 'songs.get', { id: s.id })).name).to.equal('Draft, autosaved');
    expect(await sources(p, 'songs', s.id)).to.deep.equal(['restore@4', 'save@3', 'autosave@2', 'save@1']);
    const other = await ok(p, 'songs.create', { item: makeSong() });
    const q = await ok(p, 'performances.create', { item: perf(other.id) });
    await ok(p, 'songs.deleteMany', { ids: [s.id, other.id] });
    expect((await sources(p, 'songs', s.id))[0]).to.equal('delete@4');
    expect((await sources(p, 'songs', other.id))[0]).to.equal('delete@1');
    expect((await sources(p, 'performances', q.id))[0]).to.equal('delete@1');
    expect((await ok(p, 'trash.list', {})).items.map((t: Rec) => t.id).sort()).to.deep.equal([s.id, other.id, q.id].sort());
  });

  it('import.songs {replace} over a song that has history: versions it already has are not added again, the import is a version on top', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ id: 'SH', name: 'One' }) });
    await ok(p, 'songs.update', { item: { ...s, name: 'Two' } });
    const file = await ok(p, 'export.songs', { includeHistory: true });
    await ok(p, 'songs.save', { item: { ...s, name: 'Three' } });
    const before = (await ok(p, 'songs.history', { id: 'SH' })).items;

    const again = await ok(p, 'import.songs', { path: file.path, onConflict: 'replace' });
    expect(again).to.include({ replaced: 1, versions: 0 });
    const after = (await ok(p, 'songs.history', { id: 'SH' })).items;
    expect(after.slice(1)).to.deep.equal(before);
    expect(after[0]).to.include({ source: 'import', revision: 4 });
    expect((await ok(p, 'songs.get', { id: 'SH' })).name).to.equal('Two');
    expect((await ok(p, 'import.songs', { path: file.path, onConflict: 'replace' })).versions).to.equal(0);
    expect(await sources(p, 'songs', 'SH')).to.deep.equal(['import@5', 'import@4', 'save@3', 'save@2', 'save@1']);

    // Another library whose song of that id has its own history: both histories are kept, and the
    // import's revision comes after every revision either had.
    const q = await procs.launch();
    const own = await ok(q, 'songs.create', { item: makeSong({ id: 'SH', name: 'Elsewhere' }) });
    const merged = await ok(q, 'import.songs', { path: file.path, onConflict: 'replace' });
    expect(merged.versions).to.equal(2);
    const items = (await ok(q, 'songs.history', { id: 'SH' })).items;
    expect(items.map((v: Rec) => v.source)).to.deep.equal(['import', 'save', 'save', 'save']);
    expect(items[0].revision).to.be.greaterThan(Math.max(...items.slice(1).map((v: Rec) => v.revision)));
    expect((await ok(q, 'songs.get', { id: 'SH' })).revision).to.equal(items[0].revision);
    const ownVersion = items.slice(1).find((v: Rec) => v.deviceId !== before[0].deviceId);
    expect((await ok(q, 'songs.getVersion', { versionId: ownVersion.versionId })).song).to.deep.equal(own);
    const theirs = before.find((v: Rec) => v.revision === 1);
    expect((await ok(q, 'songs.getVersion', { versionId: theirs.versionId })).song.name).to.equal('One');
  });

  it('export.full and import.full carry the history, the named versions and the trash', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'One' }) });
    await ok(p, 'songs.update', { item: { ...s, name: 'Two' } });
    const named = await ok(p, 'songs.saveVersion', { id: s.id, label: 'Keep' });
    const gone = await ok(p, 'songs.create', { item: makeSong({ name: 'Deleted' }) });
    await ok(p, 'songs.delete', { id: gone.id });
    const full = await ok(p, 'export.full', {});
    const history = (await ok(p, 'songs.history', { id: s.id })).items;
    const trash = (await ok(p, 'trash.list', {})).items;

    const q = await procs.launch();
    await ok(q, 'import.full', { path: full.path });
    expect((await ok(q, 'songs.history', { id: s.id })).items).to.deep.equal(history);
    expect((await ok(q, 'trash.list', {})).items).to.deep.equal(trash);
    expect((await ok(q, 'songs.getVersion', { versionId: named.versionId })).song.name).to.equal('Two');
    await ok(q, 'trash.restore', { entity: 'songs', id: gone.id });
    expect((await ok(q, 'songs.get', { id: gone.id })).name).to.equal('Deleted');
  });

  it('a version\'s sizeBytes is the UTF-8 size of the record it holds, as getVersion answers it, here and after an import', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: makeSong({ name: 'Café ☕ 日本の歌', sections: [{ id: 'ä', lyric: 'Grüße 🎵 '.repeat(300) }] }) });
    const q = await ok(p, 'performances.create', { item: perf(s.id, { name: 'Prise n° 2' }) });
    const [v] = (await ok(p, 'songs.history', { id: s.id })).items;
    expect(v.sizeBytes).to.equal(Buffer.byteLength(JSON.stringify((await ok(p, 'songs.getVersion', { versionId: v.versionId })).song)));
    const [w] = (await ok(p, 'performances.history', { id: q.id })).items;
    expect(w.sizeBytes).to.equal(Buffer.byteLength(JSON.stringify((await ok(p, 'performances.getVersion', { versionId: w.versionId })).performance)));
    const file = await ok(p, 'export.songs', { includeHistory: true });
    const other = await procs.launch();
    await ok(other, 'import.songs', { path: file.path, onConflict: 'skip' });
    const imported = (await ok(other, 'songs.history', { id: s.id })).items.find((x: Rec) => x.versionId === v.versionId);
    expect(imported.sizeBytes).to.equal(v.sizeBytes);
  });

  it('a song comes back without the performance whose id exists again (that one is left as it is, and stays in the trash)', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.create', { item: makeSong({ id: 'S' }) });
    await ok(p, 'songs.create', { item: makeSong({ id: 'T' }) });
    await ok(p, 'performances.create', { item: perf('S', { id: 'P1', name: 'first' }) });
    await ok(p, 'performances.create', { item: perf('S', { id: 'P2' }) });
    await ok(p, 'songs.delete', { id: 'S' });
    const elsewhere = await ok(p, 'performances.create', { item: perf('T', { id: 'P1', name: 'made again under T' }) });
    const r = await ok(p, 'trash.restore', { entity: 'songs', id: 'S' });
    expect(r.restored.map((x: Rec) => x.id).sort()).to.deep.equal(['P2', 'S']);
    expect(await ok(p, 'performances.get', { id: 'P1' })).to.deep.equal(elsewhere);
    expect((await ok(p, 'trash.list', {})).items.map((t: Rec) => `${t.entity}:${t.id}`)).to.deep.equal(['performances:P1']);
    const e = await fails(p, 'trash.restore', { entity: 'performances', id: 'P1' }, -32003);
    expect(e.data).to.deep.equal({ entity: 'performances', id: 'P1' });
    expect(await ok(p, 'performances.get', { id: 'P1' })).to.deep.equal(elsewhere);
    // Its old life is still in its history, after the delete that took it.
    expect(await sources(p, 'performances', 'P1')).to.deep.equal(['save@2', 'delete@1', 'save@1']);
  });

  it('trash.list pages newest first, by family, and refuses a cursor of another filter', async () => {
    const p = await procs.launch();
    for (let i = 0; i < 5; i++) {
      await ok(p, 'songs.create', { item: makeSong({ id: `S${i}` }) });
      await ok(p, 'performances.create', { item: perf(`S${i}`, { id: `P${i}` }) });
      await ok(p, 'songs.delete', { id: `S${i}` });
    }
    const all = (await ok(p, 'trash.list', { limit: 100 })).items;
    expect(all).to.have.length(10);
    const at = all.map((t: Rec) => t.deletedAt);
    expect(at).to.deep.equal([...at].sort((a: number, b: number) => b - a));
    const walk = async (params: Rec): Promise<Rec[]> => {
      const out: Rec[] = [];
      let cursor: string | undefined;
      do {
        const page = await ok(p, 'trash.list', { ...params, limit: 3, ...(cursor === undefined ? {} : { cursor }) });
        expect(page.items.length).to.be.at.most(3);
        out.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return out;
    };
    expect(await walk({})).to.deep.equal(all);
    expect(await walk({ entity: 'performances' })).to.deep.equal(all.filter((t: Rec) => t.entity === 'performances'));
    const songsPage = await ok(p, 'trash.list', { entity: 'songs', limit: 2 });
    await fails(p, 'trash.list', { entity: 'performances', limit: 2, cursor: songsPage.nextCursor }, -32602);
  });

  it('trash older than trashRetentionDays goes at start, with its history; younger trash stays', async () => {
    const dataDir = procs.ownDir('wr-hist-purge-');
    const p = await procs.launch({ dataDir });
    for (const id of ['OLD', 'NEW']) {
      await ok(p, 'songs.create', { item: makeSong({ id }) });
      await ok(p, 'songs.delete', { id });
    }
    await stop(p);
    // OLD was deleted 31 days ago (the file's clock moved back, the sidecar stopped).
    sqlite3(join(dataDir, 'data.db'), `UPDATE trash SET deleted_at = deleted_at - ${31 * 86_400_000} WHERE entity_id = 'OLD'`);
    const q = await procs.launch({ dataDir });
    expect((await ok(q, 'trash.list', {})).items.map((t: Rec) => t.id)).to.deep.equal(['NEW']);
    expect((await ok(q, 'songs.history', { id: 'OLD' })).items).to.deep.equal([]);
    expect(await sources(q, 'songs', 'NEW')).to.deep.equal(['delete@1', 'save@1']);
  });
});
