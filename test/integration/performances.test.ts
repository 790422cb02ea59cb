/**
 * performances.*: every method of the family through the real process and the typed client
 * (NDJSON; a few calls over Content-Length framing). Every successful answer is checked against
 * its result schema.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { makeSong as fixtureSong } from '../helpers/fixtures.js';
import type { WhiteroomClient } from '../../src/client/index.js';
import { Clients, invalid, listAll, nonEmpty, rejects, stopClient as stop, tracked } from '../helpers/client.js';
import { normalized } from '../helpers/rpc.js';

/** Performances as these tests build and read them (plain objects; answers are StoredPerformance). */
type Perf = any;
/** A complete song (test/helpers/fixtures.ts), typed loosely. */
const makeSong = (overrides: Record<string, unknown> = {}): any => fixtureSong(overrides);
const procs = new Clients();

/** A performance with every structured part, each carrying fields no schema knows. */
function makePerf(songId: string, overrides: Record<string, unknown> = {}): Perf {
  return {
    id: `perf-${randomUUID()}`,
    songId,
    name: 'Solo piano take',
    arrangementStyle: 'SOLO_PIANO',
    instrumentationMap: { piano: 'inst-1', extra: { future: [1, { deep: null }] } },
    mixTargets: { gain: -3.5, pan: { l: 0.2, r: -0.2 }, unknown: [true, false] },
    effectsChains: [{ id: 'fx1', chain: ['eq', 'comp'], params: { threshold: -12, notYet: { x: 1 } } }],
    automation: [{ param: 'volume', points: [[0, 0.5], [4, 1]], curve: 'linear', future: {} }],
    markers: [{ at: 1.5, label: 'Ünïcødé ✓ 𝄞', color: '#fff', meta: { k: [null] } }],
    loopPoints: { start: 0, end: 16, enabled: true, nested: { deeper: { deepest: [[], {}] } } },
    tempoMap: [{ bar: 1, bpm: 120 }, { bar: 9, bpm: 132.5, ramp: { type: 'exp' } }],
    timeSignatureMap: [{ bar: 1, sig: [4, 4] }, { bar: 17, sig: [7, 8], unknown: 'kept' }],
    keyChanges: [{ bar: 1, key: 'C major' }, { bar: 33, key: 'Eb minor', mode: { dorian: false } }],
    sections: [{ id: 'A', bars: 8, notInSchema: { a: [1.5, 'x', null] } }],
    metadata: { engineer: 'me', big: 9007199254740991, tiny: 1e-7, nested: { list: [{}, []] } },
    ...overrides,
  };
}

const STRUCTURED = [
  'instrumentationMap', 'mixTargets', 'effectsChains', 'automation', 'markers', 'loopPoints',
  'tempoMap', 'timeSignatureMap', 'keyChanges', 'sections', 'metadata',
];

function expectKeeps(stored: Perf, sent: Perf): void {
  for (const [k, v] of Object.entries(sent)) expect(stored[k], `field ${k}`).to.deep.equal(v);
}

async function newSong(p: WhiteroomClient): Promise<string> {
  return (await p.songs.create({ item: makeSong() })).id;
}

async function perfCount(p: WhiteroomClient, filters: Record<string, unknown> = {}): Promise<number> {
  return (await p.performances.count(filters)).count;
}

/** A fresh sidecar holding one song for every test of the describe, stopped after it. */
function withSidecarAndSong(set: (p: WhiteroomClient, songId: string) => void): void {
  beforeEach(async () => {
    const proc = await procs.launch();
    set(proc, await newSong(proc));
  });
  afterEach(() => procs.cleanupAll());
}

describe('performances.create and performances.get', function () {
  let p: WhiteroomClient;
  let songId: string;
  withSidecarAndSong((proc, id) => {
    p = proc;
    songId = id;
  });

  it('fills defaults: density 1.0, grooveProfileId and consoleXProfileId "default", version "1.0"', async () => {
    const sent = { songId, name: 'Bare', arrangementStyle: 'SATB', instrumentationMap: {}, mixTargets: {} };
    const t0 = Date.now();
    const stored = await p.performances.create({ item: sent });
    const t1 = Date.now();
    expectKeeps(stored, sent);
    expect(stored.density).to.equal(1.0);
    expect(stored.grooveProfileId).to.equal('default');
    expect(stored.consoleXProfileId).to.equal('default');
    expect(stored.version).to.equal('1.0');
    expect(stored.revision).to.equal(1);
    expect(stored.isFavorite).to.equal(false);
    expect(stored.playCount).to.equal(0);
    expect(stored).to.not.have.property('lastPlayedAt');
    expect(stored.id).to.be.a('string').and.not.equal('');
    expect(stored.createdAt).to.be.within(t0, t1);
    expect(stored.updatedAt).to.equal(stored.createdAt);
    expect(await p.performances.get({ id: stored.id })).to.deep.equal(stored);
  });

  it('round-trips every structured part with unknown nested fields deep-equal', async () => {
    const sent = makePerf(songId, { density: 0.75, grooveProfileId: 'swing', consoleXProfileId: 'warm', version: '1.3' });
    const created = await p.performances.create({ item: sent });
    expectKeeps(created, sent);
    const read: Perf = await p.performances.get({ id: sent.id });
    for (const k of STRUCTURED) expect(read[k], k).to.deep.equal(sent[k]);
    expect(read).to.deep.equal(created);
  });

  it('announces the insert in store.changed', async () => {
    const sent = makePerf(songId);
    const { result, error, changes } = await tracked(p, () => p.performances.create({ item: sent }));
    expect(error).to.equal(undefined);
    expect(normalized(changes)).to.deep.equal([{ entity: 'performances', op: 'insert', ids: [sent.id] }]);
  });

  it('refuses a taken id with -32003 and overwrites nothing', async () => {
    const sent = makePerf(songId);
    const first = await p.performances.create({ item: sent });
    const e = await rejects(p.performances.create({ item: { ...sent, name: 'Other' } }), -32003);
    expect(e.data).to.deep.equal({ entity: 'performances', id: sent.id });
    expect(await p.performances.get({ id: sent.id })).to.deep.equal(first);
  });

  it('answers -32001 {entity, id} for a missing id', async () => {
    const e = await rejects(p.performances.get({ id: 'nope' }), -32001);
    expect(e.data).to.deep.equal({ entity: 'performances', id: 'nope' });
  });

  it('rejects a missing required field and an unknown top-level field with -32602', async () => {
    const { mixTargets, ...noMix } = makePerf(songId);
    await invalid(p.callUntyped('performances.create', { item: noMix }), '/item/mixTargets');
    await invalid(p.callUntyped('performances.create', { item: makePerf(songId, { surprise: 1 }) }), '/item/surprise');
    expect(await perfCount(p)).to.equal(0);
  });
});

describe('performances: a songId that does not exist', function () {
  let p: WhiteroomClient;
  let songId: string;
  before(async () => {
    p = await procs.launch();
    songId = await newSong(p);
    await p.performances.create({ item: makePerf(songId) });
  });
  after(() => procs.cleanupAll());

  async function expectConstraint(method: string, params: unknown, value: string): Promise<void> {
    const before = await perfCount(p);
    const { result, error, changes } = await tracked(p, () => p.callUntyped(method, params));
    expect(error, JSON.stringify(result)).to.not.equal(undefined);
    expect(error!.code).to.equal(-32004);
    expect(error!.data).to.deep.equal({ entity: 'performances', field: 'songId', value });
    expect(changes).to.deep.equal([]);
    expect(await perfCount(p)).to.equal(before);
  }

  it('performances.create answers -32004 {entity, field, value} and writes nothing', async () => {
    await expectConstraint('performances.create', { item: makePerf('ghost-song') }, 'ghost-song');
  });

  it('performances.save answers -32004 and writes nothing', async () => {
    await expectConstraint('performances.save', { item: makePerf('ghost-song-2') }, 'ghost-song-2');
  });

  it('performances.update to a songId that does not exist answers -32004 and changes nothing', async () => {
    const sent = makePerf(songId);
    const created = await p.performances.create({ item: sent });
    await expectConstraint('performances.update', { item: { ...sent, songId: 'ghost-song-4' } }, 'ghost-song-4');
    expect(await p.performances.get({ id: sent.id })).to.deep.equal(created);
  });

  it('performances.saveMany answers -32004 and writes none of the items', async () => {
    const good = makePerf(songId);
    await expectConstraint('performances.saveMany', { items: [good, makePerf('ghost-song-3')] }, 'ghost-song-3');
    await rejects(p.performances.get({ id: good.id }), -32001);
  });
});

describe('performances.update, save and revisions', function () {
  let p: WhiteroomClient;
  let songId: string;
  withSidecarAndSong((proc, id) => {
    p = proc;
    songId = id;
  });

  it('update replaces the record, keeps createdAt, advances revision and updatedAt', async () => {
    const sent = makePerf(songId);
    const created = await p.performances.create({ item: sent });
    await new Promise((r) => setTimeout(r, 5));
    const changed = { ...sent, name: 'Renamed', density: 2.5, automation: [{ new: { shape: [1] } }] };
    const { result, error, changes } = await tracked(p, () => p.performances.update({ item: changed }));
    const updated = result;
    expectKeeps(updated, changed);
    expect(updated.createdAt).to.equal(created.createdAt);
    expect(updated.updatedAt).to.be.above(created.updatedAt);
    expect(updated.revision).to.equal(2);
    expect(normalized(changes)).to.deep.equal([{ entity: 'performances', op: 'update', ids: [sent.id] }]);
    expect(await p.performances.get({ id: sent.id })).to.deep.equal(updated);
  });

  it('update with a stale ifRevision answers -32002 {entity, id, expected, actual} and changes nothing', async () => {
    const sent = makePerf(songId);
    const created = await p.performances.create({ item: sent });
    await p.performances.update({ item: { ...sent, name: 'v2' }, ifRevision: 1 });
    const e = await rejects(p.performances.update({ item: { ...sent, name: 'v3' }, ifRevision: 1 }), -32002);
    expect(e.data).to.deep.equal({ entity: 'performances', id: sent.id, expected: 1, actual: 2 });
    const read = await p.performances.get({ id: sent.id });
    expect(read.name).to.equal('v2');
    expect(read.revision).to.equal(2);
    expect(created.revision).to.equal(1);
  });

  it('update of a missing id answers -32001', async () => {
    await rejects(p.performances.update({ item: makePerf(songId) }), -32001);
  });

  it('update keeps play state (isFavorite, playCount, lastPlayedAt) when the item does not carry it', async () => {
    const sent = makePerf(songId);
    await p.performances.create({ item: sent });
    await p.performances.setFavorite({ id: sent.id, isFavorite: true });
    const played = await p.performances.markPlayed({ id: sent.id });
    const updated = await p.performances.update({ item: { ...sent, name: 'Edited' } });
    expect(updated.name).to.equal('Edited');
    expect(updated.isFavorite).to.equal(true);
    expect(updated.playCount).to.equal(1);
    expect(updated.lastPlayedAt).to.equal(played.lastPlayedAt);
  });

  it('save inserts a new record and then updates it in place', async () => {
    const sent = makePerf(songId);
    const first = await tracked(p, () => p.performances.save({ item: sent }));
    expect(first.result.revision).to.equal(1);
    expect(normalized(first.changes)).to.deep.equal([{ entity: 'performances', op: 'insert', ids: [sent.id] }]);
    const second = await tracked(p, () => p.performances.save({ item: { ...sent, name: 'Saved again' } }));
    expect(second.result.revision).to.equal(2);
    expect(second.result.name).to.equal('Saved again');
    expect(second.result.createdAt).to.equal(first.result.createdAt);
    expect(normalized(second.changes)).to.deep.equal([{ entity: 'performances', op: 'update', ids: [sent.id] }]);
    expect(await perfCount(p)).to.equal(1);
  });

  it('setFavorite sets the flag and advances the revision, leaving updatedAt', async () => {
    const created = await p.performances.create({ item: makePerf(songId) });
    const fav = await p.performances.setFavorite({ id: created.id, isFavorite: true });
    expect(fav.isFavorite).to.equal(true);
    expect(fav.revision).to.equal(2);
    expect(fav.updatedAt).to.equal(created.updatedAt);
    const e = await rejects(p.performances.setFavorite({ id: created.id, isFavorite: false, ifRevision: 1 }), -32002);
    expect(e.data).to.deep.equal({ entity: 'performances', id: created.id, expected: 1, actual: 2 });
    const unfav = await p.performances.setFavorite({ id: created.id, isFavorite: false, ifRevision: 2 });
    expect(unfav.isFavorite).to.equal(false);
    await rejects(p.performances.setFavorite({ id: 'missing', isFavorite: true }), -32001);
  });

  it('markPlayed counts plays and sets lastPlayedAt to now', async () => {
    const created = await p.performances.create({ item: makePerf(songId) });
    const t0 = Date.now();
    const once = await p.performances.markPlayed({ id: created.id });
    const twice = await p.performances.markPlayed({ id: created.id });
    const t1 = Date.now();
    expect(once.playCount).to.equal(1);
    expect(twice.playCount).to.equal(2);
    expect(twice.lastPlayedAt).to.be.within(t0, t1);
    expect(twice.revision).to.equal(3);
    expect(twice.updatedAt).to.equal(created.updatedAt);
    await rejects(p.performances.markPlayed({ id: 'missing' }), -32001);
  });
});

describe('performances.saveMany, deleteMany, delete', function () {
  let p: WhiteroomClient;
  let songId: string;
  withSidecarAndSong((proc, id) => {
    p = proc;
    songId = id;
  });

  it('saveMany stores all items in one transaction and announces them', async () => {
    const items = [makePerf(songId), makePerf(songId), makePerf(songId)];
    const { result, error, changes } = await tracked(p, () => p.performances.saveMany({ items: nonEmpty(items) }));
    expect(result.items.map((x: Perf) => x.id)).to.deep.equal(items.map((x) => x.id));
    result.items.forEach((x: Perf, i: number) => expectKeeps(x, items[i]!));
    expect(normalized(changes)).to.deep.equal([{ entity: 'performances', op: 'insert', ids: items.map((x) => x.id).sort() }]);
    expect(await perfCount(p)).to.equal(3);
  });

  it('deleteMany removes all or none', async () => {
    const items = [makePerf(songId), makePerf(songId), makePerf(songId)];
    const [i0, i1, i2] = items as [Perf, Perf, Perf];
    await p.performances.saveMany({ items: nonEmpty(items) });
    const e = await rejects(p.performances.deleteMany({ ids: [i0.id, 'missing'] }), -32001);
    expect(e.data).to.deep.equal({ entity: 'performances', id: 'missing' });
    expect(await perfCount(p)).to.equal(3);
    const { result, error, changes } = await tracked(p, () => p.performances.deleteMany({ ids: [i0.id, i1.id] }));
    expect(result.count).to.equal(2);
    expect([...result.ids].sort()).to.deep.equal([i0.id, i1.id].sort());
    expect(normalized(changes)).to.deep.equal([{ entity: 'performances', op: 'delete', ids: [i0.id, i1.id].sort() }]);
    expect(await perfCount(p)).to.equal(1);
    await p.performances.get({ id: i2.id });
  });

  it('delete removes the performance and answers cascaded with an autosaves count', async () => {
    const created = await p.performances.create({ item: makePerf(songId) });
    const { result, error, changes } = await tracked(p, () => p.performances.delete({ id: created.id }));
    expect(result.ids).to.deep.equal([created.id]);
    expect(result.count).to.equal(1);
    expect(result.cascaded).to.have.property('autosaves', 0);
    expect(normalized(changes)).to.deep.equal([{ entity: 'performances', op: 'delete', ids: [created.id] }]);
    await rejects(p.performances.get({ id: created.id }), -32001);
    await rejects(p.performances.delete({ id: created.id }), -32001);
  });

  it('deleting a performance removes its recent entry and announces it', async () => {
    const created = await p.performances.create({ item: makePerf(songId) });
    const entry = await p.recent.touch({ itemType: 'performance', itemId: created.id, itemName: created.name });
    const { result, error, changes } = await tracked(p, () => p.performances.delete({ id: created.id }));
    expect(error).to.equal(undefined);
    expect(normalized(changes)).to.deep.include({ entity: 'recent', op: 'delete', ids: [entry.id] });
    expect((await p.recent.list({ itemType: 'performance' })).items).to.deep.equal([]);
  });

  it('delete with a stale ifRevision answers -32002 and keeps the performance', async () => {
    const created = await p.performances.create({ item: makePerf(songId) });
    await p.performances.setFavorite({ id: created.id, isFavorite: true });
    const e = await rejects(p.performances.delete({ id: created.id, ifRevision: 1 }), -32002);
    expect(e.data).to.deep.equal({ entity: 'performances', id: created.id, expected: 1, actual: 2 });
    await p.performances.get({ id: created.id });
    await p.performances.delete({ id: created.id, ifRevision: 2 });
  });

  it("deleting a performance removes its autosaves and counts them in cascaded", async () => {
    const dataDir = procs.ownDir('wr-perf-');
    const a = await procs.launch({ dataDir });
    const sid = await newSong(a);
    const keep = await a.performances.create({ item: makePerf(sid) });
    const gone = await a.performances.create({ item: makePerf(sid) });
    await stop(a);
    const db = new Database(join(dataDir, 'data.db'));
    try {
      db.pragma('foreign_keys = ON');
      const ins = db.prepare(`INSERT INTO autosaves (id, song_id, performance_id, name, manifest_json, created_at) VALUES (?, ?, ?, ?, '{}', ?)`);
      ins.run('as-1', sid, gone.id, 'Auto-Save 1', Date.now());
      ins.run('as-2', sid, gone.id, 'Auto-Save 2', Date.now());
      ins.run('as-3', sid, keep.id, 'Auto-Save 3', Date.now());
    } finally {
      db.close();
    }
    const b = await procs.launch({ dataDir });
    const r = await b.performances.delete({ id: gone.id });
    expect(r.cascaded).to.have.property('autosaves', 2);
    await stop(b);
    const check = new Database(join(dataDir, 'data.db'), { readonly: true });
    try {
      expect(check.prepare('SELECT id FROM autosaves ORDER BY id').pluck().all()).to.deep.equal(['as-3']);
    } finally {
      check.close();
    }
  });
});

describe('performances.list and performances.count', function () {
  let p: WhiteroomClient;
  let songA: string;
  let songB: string;
  const aIds: string[] = [];
  const bIds: string[] = [];
  const favIds: string[] = [];
  before(async () => {
    p = await procs.launch();
    songA = await newSong(p);
    songB = await newSong(p);
    const items: Perf[] = [];
    for (let i = 0; i < 23; i++) {
      const perf = makePerf(i % 3 === 0 ? songB : songA, { name: `Perf ${i}`, isFavorite: i % 5 === 0 });
      items.push(perf);
      (i % 3 === 0 ? bIds : aIds).push(perf.id);
      if (i % 5 === 0) favIds.push(perf.id);
    }
    await p.performances.saveMany({ items: nonEmpty(items) });
  });
  after(() => procs.cleanupAll());

  it('counts all, by songId, and by isFavorite', async () => {
    expect(await perfCount(p)).to.equal(23);
    expect(await perfCount(p, { songId: songA })).to.equal(aIds.length);
    expect(await perfCount(p, { songId: songB })).to.equal(bIds.length);
    expect(await perfCount(p, { songId: 'nobody' })).to.equal(0);
    expect(await perfCount(p, { isFavorite: true })).to.equal(favIds.length);
    expect(await perfCount(p, { isFavorite: false })).to.equal(23 - favIds.length);
    const favA = favIds.filter((id) => aIds.includes(id)).length;
    expect(await perfCount(p, { songId: songA, isFavorite: true })).to.equal(favA);
  });

  it('lists only the performances of a song, filtered by songId (and isFavorite)', async () => {
    const a = await listAll(p, 'performances.list', { songId: songA });
    expect(a.items.map((x) => x.id).sort()).to.deep.equal([...aIds].sort());
    for (const x of a.items) expect(x.songId).to.equal(songA);
    const favB = await listAll(p, 'performances.list', { songId: songB, isFavorite: true });
    expect(favB.items.map((x) => x.id).sort()).to.deep.equal(favIds.filter((id) => bIds.includes(id)).sort());
  });

  it('cursor pagination reaches every performance exactly once', async () => {
    const all = await listAll(p, 'performances.list', { limit: 4 });
    expect(all.pages).to.equal(6);
    const ids = all.items.map((x) => x.id);
    expect(new Set(ids).size).to.equal(23);
    expect([...ids].sort()).to.deep.equal([...aIds, ...bIds].sort());
    const filtered = await listAll(p, 'performances.list', { limit: 3, songId: songA });
    expect(filtered.items.map((x) => x.id).sort()).to.deep.equal([...aIds].sort());
  });
});

describe('performances and their song', function () {
  let p: WhiteroomClient;
  beforeEach(async () => {
    p = await procs.launch();
  });
  afterEach(() => procs.cleanupAll());

  it('saving a song keeps its performances', async () => {
    const song = makeSong();
    await p.songs.create({ item: song });
    const perfs = [makePerf(song.id), makePerf(song.id)];
    await p.performances.saveMany({ items: nonEmpty(perfs) });
    const { changes } = await tracked(p, () => p.songs.save({ item: { ...song, name: 'Resaved' } }));
    expect(changes.filter((c) => c.entity !== 'songs')).to.deep.equal([]);
    expect(await perfCount(p, { songId: song.id })).to.equal(2);
    for (const x of perfs) expectKeeps(await p.performances.get({ id: x.id }), x);
  });

  it('deleting a song removes them and says how many', async () => {
    const song = makeSong();
    const other = makeSong();
    await p.songs.saveMany({ items: [song, other] });
    const perfs = [makePerf(song.id), makePerf(song.id), makePerf(song.id)];
    const survivor = makePerf(other.id);
    await p.performances.saveMany({ items: nonEmpty([...perfs, survivor]) });
    const { result, error, changes } = await tracked(p, () => p.songs.delete({ id: song.id }));
    expect(error).to.equal(undefined);
    expect(result.cascaded).to.have.property('performances', 3);
    const n = normalized(changes);
    expect(n).to.deep.include({ entity: 'performances', op: 'delete', ids: perfs.map((x) => x.id).sort() });
    expect(n).to.deep.include({ entity: 'songs', op: 'delete', ids: [song.id] });
    for (const x of perfs) await rejects(p.performances.get({ id: x.id }), -32001);
    await p.performances.get({ id: survivor.id });
    expect(await perfCount(p)).to.equal(1);
  });
});

describe('performances over Content-Length framing', function () {
  afterEach(() => procs.cleanupAll());

  it('creates, gets, lists, counts and deletes', async () => {
    const p = await procs.launch({ framing: 'header' });
    const songId = await newSong(p);
    const sent = makePerf(songId);
    const created = await p.performances.create({ item: sent });
    expectKeeps(created, sent);
    expect(await p.performances.get({ id: sent.id })).to.deep.equal(created);
    expect((await p.performances.list({ songId })).items).to.deep.equal([created]);
    expect(await perfCount(p, { songId })).to.equal(1);
    const e = await rejects(p.performances.create({ item: makePerf('no-such-song') }), -32004);
    expect(e.data).to.deep.equal({ entity: 'performances', field: 'songId', value: 'no-such-song' });
    await p.performances.delete({ id: sent.id });
    expect(await perfCount(p)).to.equal(0);
  });
});
