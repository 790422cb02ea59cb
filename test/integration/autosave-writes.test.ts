/**
 * Autosave never loses an explicit write (issue 12, item 1), through the real process.
 *
 * Each test is a sequence a host makes while a song is open in its editor: it stages the editor's
 * model (as songs.get returned it, play state included) on every edit, and meanwhile makes
 * explicit writes (songs.update from a rename dialog, songs.setFavorite, songs.markPlayed, an
 * undo). The contract (docs/protocol.md, Autosave): a promotion writes a row only when the row is
 * still at the revision the stage was based on (or at the one this scope's last promotion gave it),
 * never takes play state from a staged state, tells the host the revision (autosave.saved), and
 * dedupes against the rows as well as the newest snapshot, comparing values, not texts.
 */
import { expect } from 'chai';
import * as validators from '../../src/generated/validators.js';
import { makeSong } from '../helpers/fixtures.js';
import { type StoreProcess } from '../helpers/process.js';
import { fails, invalid, ok, Procs, stop, tracked } from '../helpers/rpc.js';
import { sleep } from '../helpers/check.js';

type Json = Record<string, any>;

const CONFLICT = -32002;
const DEBOUNCE_MS = 200;
const LONG_MS = 3_600_000;
const HELD = 'row-changed';

type Validate = ((data: unknown) => boolean) & { errors?: unknown };
const validateSaved = (validators as unknown as Record<string, Validate>).autosave_saved__params!;

/** Polls until `count` autosave.saved notifications arrived; each is checked against its schema. */
async function saved(p: StoreProcess, count: number, timeoutMs = 5000): Promise<Json[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = p.notifications('autosave.saved');
    if (all.length >= count) {
      for (const n of all) expect(validateSaved(n), `autosave.saved fails its schema: ${JSON.stringify(validateSaved.errors)}`).to.equal(true);
      return all;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} autosave.saved`);
    await sleep(20);
  }
}

/** The editor's model of a song: what songs.get answered, with `changes` made in the editor. */
const model = (song: Json, changes: Json = {}): Json => ({ ...structuredClone(song), ...changes });

/** The same value with every object's keys in reverse order (as another encoder may write them). */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const k of Object.keys(value).reverse()) out[k] = reordered((value as Json)[k]);
  return out;
}

const procs = new Procs();

/** A new song, opened in the editor (songs.create, then songs.get as the editor loads it). */
async function open(p: StoreProcess, config: Json = { debounceMs: LONG_MS, intervalMs: LONG_MS }): Promise<Json> {
  await ok(p, 'autosave.configure', config);
  const created = await ok(p, 'songs.create', { item: makeSong({ name: 'Original' }) });
  return ok(p, 'songs.get', { id: created.id });
}

/** Rename, favourite and play the song while it is open: explicit writes, each with its revision. */
async function explicitWrites(p: StoreProcess, song: Json): Promise<Json> {
  const renamed = await ok(p, 'songs.update', { item: model(song, { name: 'Renamed' }), ifRevision: song.revision });
  const fav = await ok(p, 'songs.setFavorite', { id: song.id, isFavorite: true, ifRevision: renamed.revision });
  const played = await ok(p, 'songs.markPlayed', { id: song.id });
  expect(played).to.include({ name: 'Renamed', isFavorite: true, playCount: 1, revision: song.revision + 3 });
  expect(fav.revision).to.equal(song.revision + 2);
  return played;
}

describe('autosave: explicit writes made while a song is open are never undone', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  for (const host of ['with baseRevision', 'without baseRevision (an older host)']) {
    const base = (rev: number): Json => (host === 'with baseRevision' ? { baseRevision: rev } : {});

    it(`${host}: a stage made before a rename, favourite and play is kept as a snapshot; the row keeps all three`, async () => {
      const p = await procs.launch();
      const song = await open(p, { debounceMs: DEBOUNCE_MS, intervalMs: LONG_MS });
      // The editor stages its model (the debounce starts), then the user renames, favourites, plays.
      const staged = model(song, { sections: [{ id: 'verse', bars: 8 }] });
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: staged }, ...base(song.revision) });
      const afterWrites = await explicitWrites(p, song);

      // The debounce promotes: the snapshot is kept, the row is left as the explicit writes made it.
      const [note] = await saved(p, 1);
      const row = await ok(p, 'songs.get', { id: song.id });
      expect(row).to.deep.equal(afterWrites);
      expect(note).to.include({ songId: song.id, rowWritten: false, reason: HELD, revision: afterWrites.revision });
      const snap = await ok(p, 'autosave.get', { id: note!.autosaveId });
      expect(snap.snapshot.song).to.deep.equal(staged);
      // The host's next write, with the revision it knows, holds.
      const next = await ok(p, 'songs.update', { item: model(row, { name: 'Renamed again' }), ifRevision: note!.revision });
      expect(next).to.include({ name: 'Renamed again', isFavorite: true, playCount: 1, revision: afterWrites.revision + 1 });
    });

    it(`${host}: favourite and markPlayed while the song is open survive every later promotion`, async () => {
      const p = await procs.launch();
      const song = await open(p);
      // Edit 1, promoted: the row is written and autosave.saved gives its new revision.
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(song, { name: 'Edit 1' }) }, ...base(song.revision) });
      await ok(p, 'autosave.flush', {});
      await saved(p, 1);
      // The user favourites and plays the open song; the answers give the revision.
      const fav = await ok(p, 'songs.setFavorite', { id: song.id, isFavorite: true, ifRevision: song.revision + 1 });
      const played = await ok(p, 'songs.markPlayed', { id: song.id });
      // Edit 2: the editor's model still says not favourite, never played.
      const stale = model(song, { name: 'Edit 2', isFavorite: false, playCount: 0 });
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: stale }, ...base(played.revision) });
      await ok(p, 'autosave.flush', {});
      const [first, second] = await saved(p, 2);
      const row = await ok(p, 'songs.get', { id: song.id });
      expect(row).to.include({ name: 'Edit 2', isFavorite: true, playCount: 1, lastPlayedAt: played.lastPlayedAt, revision: played.revision + 1 });
      expect(first).to.include({ rowWritten: true, revision: song.revision + 1 });
      expect(first).to.not.have.property('reason');
      expect(second).to.include({ rowWritten: true, revision: row.revision });
      expect(fav.isFavorite).to.equal(true);
      // The snapshot itself is the staged state, verbatim.
      expect((await ok(p, 'autosave.get', { id: second!.autosaveId })).snapshot.song).to.deep.equal(stale);
      // And the host's next ifRevision holds.
      await ok(p, 'songs.setFavorite', { id: song.id, isFavorite: false, ifRevision: second!.revision });
    });

    it(`${host}: undo back to the autosaved state after songs.update reaches the row (flush)`, async () => {
      const p = await procs.launch();
      const song = await open(p);
      const x = { song: model(song, { name: 'X' }) };
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: x, ...base(song.revision) });
      await ok(p, 'autosave.flush', {});
      const [first] = await saved(p, 1);
      const y = await ok(p, 'songs.update', { item: model(song, { name: 'Y' }), ifRevision: first!.revision });
      // The user presses undo: the editor's state is X again, the same as the newest snapshot.
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: x, ...base(y.revision) });
      const flushed = await ok(p, 'autosave.flush', {});
      expect(flushed.saved).to.have.length(1);
      expect(flushed.unchanged).to.equal(0);
      const [, second] = await saved(p, 2);
      expect(second).to.include({ autosaveId: flushed.saved[0].autosaveId, rowWritten: true, revision: y.revision + 1 });
      expect(await ok(p, 'songs.get', { id: song.id })).to.include({ name: 'X', revision: y.revision + 1 });
      // Staged once more, it is saved everywhere already: nothing is added, nothing written.
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: x, ...base(second!.revision) });
      expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 1 });
      expect((await ok(p, 'songs.get', { id: song.id })).revision).to.equal(second!.revision);
    });

    it(`${host}: undo back to the autosaved state after songs.update reaches the row at shutdown`, async () => {
      const dataDir = procs.ownDir('wr-autosave-writes-');
      const p = await procs.launch({ dataDir });
      const song = await open(p);
      const x = { song: model(song, { name: 'X' }) };
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: x, ...base(song.revision) });
      await ok(p, 'autosave.flush', {});
      const [first] = await saved(p, 1);
      const y = await ok(p, 'songs.update', { item: model(song, { name: 'Y' }), ifRevision: first!.revision });
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: x, ...base(y.revision) });
      await stop(p);

      const again = await procs.launch({ dataDir });
      expect(await ok(again, 'songs.get', { id: song.id })).to.include({ name: 'X', revision: y.revision + 1 });
      expect(await ok(again, 'autosave.recoverable')).to.deep.equal({ items: [] });
      await stop(again);
    });
  }

  for (const restage of [true, false]) {
    const how = restage ? 'staged again on the answered revision' : 'without staging again';
    it(`the favourite button of an open song, then quit at once, ${how}: the edit and the favourite both reach the row`, async () => {
      const dataDir = procs.ownDir('wr-autosave-writes-');
      const p = await procs.launch({ dataDir });
      const song = await open(p);
      const edited = model(song, { name: 'Edited', sections: [{ id: 'chorus', bars: 16 }] });
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: edited }, baseRevision: song.revision });
      const fav = await ok(p, 'songs.setFavorite', { id: song.id, isFavorite: true, ifRevision: song.revision });
      // The host's sequence: its own write answered r; the edit still staged is staged again on r.
      if (restage) await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: { ...edited, isFavorite: fav.isFavorite } }, baseRevision: fav.revision });
      await stop(p);

      const again = await procs.launch({ dataDir });
      expect(await ok(again, 'songs.get', { id: song.id })).to.include({ name: 'Edited', isFavorite: true, revision: fav.revision + 1 });
      expect(await ok(again, 'autosave.recoverable')).to.deep.equal({ items: [] });
      await stop(again);
    });
  }

  for (const host of ['with baseRevision', 'without baseRevision (an older host)']) {
    const base = (rev: number): Json => (host === 'with baseRevision' ? { baseRevision: rev } : {});

    it(`${host}: the favourite button and a play while an edit is staged, not staged again: the edit reaches the row, the favourite and the play stay`, async () => {
      const p = await procs.launch();
      const song = await open(p);
      const edited = model(song, { name: 'Edited', sections: [{ id: 'bridge', bars: 4 }] });
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: edited }, ...base(song.revision) });
      await ok(p, 'songs.setFavorite', { id: song.id, isFavorite: true, ifRevision: song.revision });
      const played = await ok(p, 'songs.markPlayed', { id: song.id });
      await ok(p, 'autosave.flush', {});
      const [note] = await saved(p, 1);
      expect(note).to.include({ rowWritten: true, revision: played.revision + 1 });
      expect(note).to.not.have.property('reason');
      const row = await ok(p, 'songs.get', { id: song.id });
      expect(row).to.include({ name: 'Edited', isFavorite: true, playCount: 1, lastPlayedAt: played.lastPlayedAt, revision: played.revision + 1 });
      expect(row.sections).to.deep.equal([{ id: 'bridge', bars: 4 }]);
      // The history has the edit as an autosave version; the favourite and the play made none.
      const history = await ok(p, 'songs.history', { id: song.id });
      expect(history.items.map((v: Json) => [v.source, v.revision])).to.deep.equal([
        ['autosave', played.revision + 1],
        ['save', song.revision],
      ]);
    });

    it(`${host}: a rename and then the favourite button while an edit is staged: the rename is kept, the edit stays a snapshot`, async () => {
      const p = await procs.launch();
      const song = await open(p);
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(song, { name: 'Edited' }) }, ...base(song.revision) });
      const renamed = await ok(p, 'songs.update', { item: model(song, { name: 'Renamed' }), ifRevision: song.revision });
      const fav = await ok(p, 'songs.setFavorite', { id: song.id, isFavorite: true, ifRevision: renamed.revision });
      await ok(p, 'autosave.flush', {});
      const [note] = await saved(p, 1);
      expect(note).to.include({ rowWritten: false, reason: HELD, revision: fav.revision });
      expect(await ok(p, 'songs.get', { id: song.id })).to.deep.equal(fav);
    });
  }

  it('a host that never reads autosave.saved and keeps its first baseRevision still has its edits saved', async () => {
    const p = await procs.launch();
    const song = await open(p);
    for (const name of ['Edit 1', 'Edit 2', 'Edit 3']) {
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(song, { name }) }, baseRevision: song.revision });
      await ok(p, 'autosave.flush', {});
    }
    const notes = await saved(p, 3);
    expect(notes.map((n) => [n.rowWritten, n.revision])).to.deep.equal([
      [true, song.revision + 1],
      [true, song.revision + 2],
      [true, song.revision + 3],
    ]);
    expect(await ok(p, 'songs.get', { id: song.id })).to.include({ name: 'Edit 3' });
    // But an explicit write since is never overwritten by that stale base.
    const renamed = await ok(p, 'songs.update', { item: model(song, { name: 'Renamed' }), ifRevision: song.revision + 3 });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(song, { name: 'Edit 4' }) }, baseRevision: song.revision });
    await ok(p, 'autosave.flush', {});
    const [, , , fourth] = await saved(p, 4);
    expect(fourth).to.include({ rowWritten: false, reason: HELD, revision: renamed.revision });
    expect(await ok(p, 'songs.get', { id: song.id })).to.deep.equal(renamed);
  });

  it('an undo staged on the base the editor knows, after a rename from the library: a snapshot is added and autosave.saved says the row changed', async () => {
    const p = await procs.launch();
    const song = await open(p);
    const x = { song: model(song, { name: 'X' }) };
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: x, baseRevision: song.revision });
    await ok(p, 'autosave.flush', {});
    const [first] = await saved(p, 1);
    // The library view renames the song; the editor has not merged that write yet.
    const y = await ok(p, 'songs.update', { item: model(song, { name: 'Y' }), ifRevision: first!.revision });
    // The editor stages its state again (undo: the newest snapshot's state) on the revision it knows.
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: x, baseRevision: first!.revision });
    const flushed = await ok(p, 'autosave.flush', {});
    expect(flushed.unchanged, 'the rows do not hold it: it is not already saved').to.equal(0);
    expect(flushed.saved).to.have.length(1);
    expect(flushed.saved[0]).to.include({ rowWritten: false, reason: HELD, revision: y.revision });
    const [, second] = await saved(p, 2);
    expect(second).to.deep.equal(flushed.saved[0]);
    expect(await ok(p, 'songs.get', { id: song.id }), 'the rename stays').to.deep.equal(y);
    expect((await ok(p, 'autosave.get', { id: second!.autosaveId })).snapshot.song).to.deep.equal(x.song);
    // Merged (the revision it was told), the editor's next stage reaches the row.
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(y, { name: 'X again' }) }, baseRevision: second!.revision });
    expect((await ok(p, 'autosave.flush', {})).saved[0]).to.include({ rowWritten: true, revision: y.revision + 1 });
  });

  it('store.changed of a promotion that writes the row carries the new revision, as autosave.saved does', async () => {
    const p = await procs.launch();
    const song = await open(p);
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(song, { name: 'Announced' }) }, baseRevision: song.revision });
    const { response, changes } = await tracked(p, 'autosave.flush', {});
    const [note] = await saved(p, 1);
    expect(note).to.include({ autosaveId: response.result.saved[0].autosaveId, rowWritten: true, revision: song.revision + 1 });
    const update = changes.find((c) => c.entity === 'songs' && c.op === 'update');
    expect(update).to.deep.equal({ entity: 'songs', op: 'update', ids: [song.id], revisions: { [song.id]: note!.revision } });
    // A promotion that leaves the row alone announces no write of it.
    await ok(p, 'songs.update', { item: model(song, { name: 'Renamed from the library' }), ifRevision: note!.revision });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(song, { name: 'Held' }) }, baseRevision: song.revision });
    const held = await tracked(p, 'autosave.flush', {});
    expect(held.changes.map((c) => `${c.entity}/${c.op}`)).to.deep.equal(['autosaves/insert']);
  });

  it('a stale ifRevision is refused, and the revision autosave.saved gives is the one that holds', async () => {
    const p = await procs.launch();
    const song = await open(p);
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(song, { name: 'Autosaved' }) }, baseRevision: song.revision });
    await ok(p, 'autosave.flush', {});
    const [note] = await saved(p, 1);
    const refused = await fails(p, 'songs.update', { item: model(song, { name: 'Stale' }), ifRevision: song.revision }, CONFLICT);
    expect(refused.data).to.include({ expected: song.revision, actual: note!.revision });
    await ok(p, 'songs.update', { item: model(song, { name: 'Fresh' }), ifRevision: note!.revision });
  });
});

describe('autosave: restore keeps play state', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  it('restoring a snapshot made before a favourite and a play leaves the song favourite and played', async () => {
    const p = await procs.launch();
    const song = await open(p);
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: model(song, { name: 'Before' }) } });
    const older = (await ok(p, 'autosave.flush', {})).saved[0].autosaveId;
    await ok(p, 'songs.setFavorite', { id: song.id, isFavorite: true });
    const played = await ok(p, 'songs.markPlayed', { id: song.id });
    const restored = await ok(p, 'autosave.restore', { id: older });
    expect(restored.song).to.include({ name: 'Before', isFavorite: true, playCount: 1, lastPlayedAt: played.lastPlayedAt, revision: played.revision + 1 });
    expect(await ok(p, 'songs.get', { id: song.id })).to.deep.equal(restored.song);
  });
});

describe('autosave: dedupe compares states, not texts', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  it('the same state with its keys in another order adds nothing and writes nothing', async () => {
    const p = await procs.launch();
    const song = await open(p);
    const state = { song: model(song, { name: 'Keyed', metadata: { ...song.metadata, tempo: 101 } }), state: { view: { zoom: 2, bar: 5 } } };
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: state });
    const first = await ok(p, 'autosave.flush', {});
    expect(first.saved).to.have.length(1);
    const row = await ok(p, 'songs.get', { id: song.id });

    const swapped = reordered(state) as Json;
    expect(JSON.stringify(swapped), 'the text differs').to.not.equal(JSON.stringify(state));
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: swapped });
    expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 1 });
    expect(await ok(p, 'songs.get', { id: song.id }), 'the row is not written again').to.deep.equal(row);
    expect(p.notifications('autosave.saved')).to.have.length(1);
  });

  it('a state equal to the row (keys in another order) but new to the snapshots is kept, and the row is not rewritten', async () => {
    const p = await procs.launch();
    const song = await open(p);
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: reordered(song) } });
    const { saved: added } = await ok(p, 'autosave.flush', {});
    expect(added).to.have.length(1);
    const [note] = await saved(p, 1);
    expect(await ok(p, 'songs.get', { id: song.id })).to.deep.equal(song);
    expect(note).to.include({ rowWritten: false, reason: 'rows-hold-state', revision: song.revision });
  });

  it('a string escaped another way (a slash as Swift\'s JSONEncoder writes it, \\u00c9) is the same state: the row is not rewritten, no snapshot repeats', async () => {
    const p = await procs.launch();
    await ok(p, 'autosave.configure', { debounceMs: LONG_MS, intervalMs: LONG_MS });
    const sections = [{ id: 'intro', bars: 8, sample: 'Samples/kick.wav', label: 'Émile' }];
    const created = await ok(p, 'songs.create', { item: makeSong({ name: 'AC/DC', sections }) });
    const song = await ok(p, 'songs.get', { id: created.id });
    const params = { songId: song.id, snapshot: { song, state: { folder: 'Songs/Live', title: 'Émile' } }, baseRevision: song.revision };
    // What a Swift host sends: JSONEncoder escapes every slash; this one escapes É as well.
    const swift = JSON.stringify(params).replace(/\//g, '\\/').replace(/É/g, '\\u00c9');
    expect(swift).to.include('Samples\\/kick.wav').and.include('\\u00c9mile');
    expect(JSON.parse(swift)).to.deep.equal(params);
    const answer = JSON.parse(await p.requestText('autosave.stage', swift));
    expect(answer.result, JSON.stringify(answer)).to.include({ songId: song.id });

    // New to the snapshots, the same as the row: a snapshot, and the row stays as it is.
    const first = await ok(p, 'autosave.flush', {});
    expect(first.saved).to.have.length(1);
    expect(first.saved[0]).to.include({ rowWritten: false, reason: 'rows-hold-state', revision: song.revision });
    expect(await ok(p, 'songs.get', { id: song.id })).to.deep.equal(song);
    // The same state as JSON.stringify writes it: the newest snapshot holds it, nothing is added.
    await ok(p, 'autosave.stage', params);
    expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 1 });
    // And the other way round, once more as Swift writes it.
    expect(JSON.parse(await p.requestText('autosave.stage', swift)).result).to.include({ songId: song.id });
    expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 1 });
    expect((await ok(p, 'songs.get', { id: song.id })).revision).to.equal(song.revision);
  });
});

describe('autosave: a performance staged with performanceBaseRevision', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  const makePerf = (songId: string): Json => ({
    id: `perf-${Math.random().toString(36).slice(2)}`,
    songId,
    name: 'Take',
    arrangementStyle: 'SOLO_PIANO',
    instrumentationMap: { piano: 'inst-1' },
    mixTargets: { gain: -3 },
  });

  it('an explicit write of the performance since the stage is kept; the song part is written when it is at its base', async () => {
    const p = await procs.launch();
    const song = await open(p);
    const perf = await ok(p, 'performances.create', { item: makePerf(song.id) });
    const snapshot = { song: model(song, { name: 'Song from the performance view' }), performance: { ...perf, name: 'Edited take', density: 0.5 } };
    await ok(p, 'autosave.stage', {
      songId: song.id,
      performanceId: perf.id,
      snapshot,
      baseRevision: song.revision,
      performanceBaseRevision: perf.revision,
    });
    const favourite = await ok(p, 'performances.setFavorite', { id: perf.id, isFavorite: true });
    const renamed = await ok(p, 'performances.update', { item: { ...favourite, name: 'Renamed take' }, ifRevision: favourite.revision });
    await ok(p, 'autosave.flush', {});
    const [note] = await saved(p, 1);
    expect(note).to.include({ performanceId: perf.id, rowWritten: false, reason: HELD, revision: song.revision, performanceRevision: renamed.revision });
    expect(await ok(p, 'performances.get', { id: perf.id })).to.deep.equal(renamed);
    expect(await ok(p, 'songs.get', { id: song.id }), 'all or nothing: the song row is not written either').to.deep.equal(song);

    // Staged again on the revisions it was told: written, the performance keeps its favourite.
    await ok(p, 'autosave.stage', {
      songId: song.id,
      performanceId: perf.id,
      snapshot,
      baseRevision: note!.revision,
      performanceBaseRevision: note!.performanceRevision,
    });
    await ok(p, 'autosave.flush', {});
    const [, second] = await saved(p, 2);
    expect(second).to.include({ rowWritten: true, revision: song.revision + 1, performanceRevision: renamed.revision + 1 });
    expect(await ok(p, 'performances.get', { id: perf.id })).to.include({ name: 'Edited take', density: 0.5, isFavorite: true });
    expect(await ok(p, 'songs.get', { id: song.id })).to.include({ name: 'Song from the performance view' });
  });

  it('a performance played while its edit is staged: the edit reaches the performance, its play count stays', async () => {
    const p = await procs.launch();
    const song = await open(p);
    const perf = await ok(p, 'performances.create', { item: makePerf(song.id) });
    await ok(p, 'autosave.stage', {
      songId: song.id,
      performanceId: perf.id,
      snapshot: { song, performance: { ...perf, name: 'Edited take', density: 0.25 } },
      baseRevision: song.revision,
      performanceBaseRevision: perf.revision,
    });
    const played = await ok(p, 'performances.markPlayed', { id: perf.id });
    await ok(p, 'autosave.flush', {});
    const [note] = await saved(p, 1);
    expect(note).to.include({ rowWritten: true, performanceRevision: played.revision + 1 });
    expect(await ok(p, 'performances.get', { id: perf.id })).to.include({ name: 'Edited take', density: 0.25, playCount: 1, revision: played.revision + 1 });
  });

  it('performanceBaseRevision without performanceId is refused at its field', async () => {
    const p = await procs.launch();
    const song = await open(p);
    await invalid(p, 'autosave.stage', { songId: song.id, snapshot: { song }, performanceBaseRevision: 1 }, '/performanceBaseRevision');
    await invalid(p, 'autosave.stage', { songId: song.id, snapshot: { song }, baseRevision: 0 }, '/baseRevision');
    expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 0 });
  });
});
