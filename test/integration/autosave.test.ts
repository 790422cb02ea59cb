/**
 * autosave.*: staging, promotion (debounce, interval, flush, shutdown), dedupe, retention, the two
 * modes, recovery after SIGKILL, restore and its undo, cascades and errors, through the real
 * process only (RPC, signals and the data directory), so the suite also runs against the packaged
 * binary (WHITEROOM_STORE_BIN). Timers are made fast with autosave.configure, which the database
 * keeps across restarts. Every successful answer is checked against its result schema (`ok`), and
 * every autosave.saved notification against the notification's params schema.
 *
 * Timing assertions only ever bound from below what the sidecar's own clock says (a snapshot's
 * `createdAt` against the `stagedAt` of the stage it came from): a busy machine can make a timer
 * late, never early. Asynchronous conditions are polled with a deadline, never slept on.
 */
import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import * as validators from '../../src/generated/validators.js';
import { makeSong } from '../helpers/fixtures.js';
import { type Framing, type StoreProcess } from '../helpers/process.js';
import { fails, invalid, normalized, ok, Procs, stop, tracked } from '../helpers/rpc.js';
import { sleep } from '../helpers/check.js';

type Json = Record<string, any>;

const NOT_FOUND = -32001;
const CONSTRAINT_VIOLATION = -32004;

/** A debounce short enough to wait for and long enough to look before it fires. */
const DEBOUNCE_MS = 200;
/** "Never" for a test: timers that must not fire while it runs. */
const LONG_MS = 3_600_000;
/**
 * Slack on lower time bounds: the sidecar stamps `stagedAt` with Date.now() while its timers run on
 * libuv's millisecond monotonic clock, so the two can disagree by a millisecond or two.
 */
const CLOCK_SLACK_MS = 5;


/** Polls `probe` until it answers something other than undefined; fails after `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown };
const validator = (name: string): Validate => (validators as unknown as Record<string, Validate>)[name]!;

function expectValid(validate: Validate, value: unknown, what: string): void {
  const valid = validate(value);
  expect(valid, `${what} fails its schema: ${JSON.stringify(validate.errors, null, 2)}`).to.equal(true);
}

/** autosave.get, its answer checked against its result schema. */
async function getAutosave(p: StoreProcess, id: string): Promise<Json> {
  return ok(p, 'autosave.get', { id });
}

/** The song's snapshots, newest first (one page is plenty here). */
async function list(p: StoreProcess, songId: string): Promise<Json[]> {
  const page = await ok(p, 'autosave.list', { songId });
  expect(page).to.not.have.property('nextCursor');
  return page.items;
}

/** Polls autosave.list until the song has `count` snapshots. */
function listed(p: StoreProcess, songId: string, count: number): Promise<Json[]> {
  return until(`${count} snapshot(s) of ${songId}`, async () => {
    const items = await list(p, songId);
    expect(items.length, 'never more snapshots than expected').to.be.at.most(count);
    return items.length === count ? items : undefined;
  });
}

/** Polls until `count` autosave.saved notifications have arrived; answers them. */
function savedNotifications(p: StoreProcess, count: number): Promise<Json[]> {
  return until(`${count} autosave.saved notification(s)`, () => {
    const all = p.notifications('autosave.saved');
    if (all.length < count) return undefined;
    for (const params of all) expectValid(validator('autosave_saved__params'), params, 'autosave.saved');
    return all;
  });
}

/** Expects every field the host sent to be stored as sent (the store adds its own fields). */
function expectSongHas(stored: Json, sent: Json): void {
  for (const [k, v] of Object.entries(sent)) expect(stored[k], `song field ${k}`).to.deep.equal(v);
}

/** Saves a new song and sets the timers; answers the stored song. */
async function prepare(p: StoreProcess, config: Json = { debounceMs: LONG_MS, intervalMs: LONG_MS }): Promise<Json> {
  const song = makeSong();
  const stored = await ok(p, 'songs.save', { item: song });
  await ok(p, 'autosave.configure', config);
  return stored;
}

/** The snapshot of `song` (as a host stages it) renamed to `name`. */
function edit(song: Json, name: string, state?: Json): Json {
  const { createdAt: _c, updatedAt: _u, revision: _r, isFavorite: _f, playCount: _p, lastPlayedAt: _l, version: _v, ...rest } = song;
  return { song: { ...rest, name }, ...(state ? { state } : {}) };
}

const procs = new Procs();

describe('autosave: debounce', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  for (const framing of ['ndjson', 'header'] as Framing[]) {
    it(`${framing}: one snapshot debounceMs after a stage, announced by autosave.saved after store.changed`, async () => {
      const p = await procs.launch({ framing });
      const song = await prepare(p, { debounceMs: DEBOUNCE_MS, intervalMs: LONG_MS });
      const snapshot = edit(song, 'Debounced edit', { cursor: { bar: 3, beat: 2 }, view: 'score' });

      const sentAt = performance.now();
      const staged = await ok(p, 'autosave.stage', { songId: song.id, snapshot });
      expect(staged).to.have.all.keys('songId', 'stagedAt', 'sizeBytes');
      expect(staged.songId).to.equal(song.id);
      expect(staged.sizeBytes).to.be.at.least(Buffer.byteLength(JSON.stringify(snapshot)));
      // Asked right away, well inside the quiet period: nothing is promoted yet.
      const early = await list(p, song.id);
      if (performance.now() - sentAt < DEBOUNCE_MS - CLOCK_SLACK_MS) expect(early, 'no snapshot before debounceMs').to.deep.equal([]);

      const [item] = await listed(p, song.id, 1);
      const [saved] = await savedNotifications(p, 1);
      expect(saved).to.deep.equal({ songId: song.id, autosaveId: item!.id, at: item!.createdAt, rowWritten: true, revision: song.revision + 1 });
      expect(item).to.include({ songId: song.id, reason: 'debounce', recovered: false, revision: 1 });
      expect(item).to.not.have.property('performanceId');
      expect(item!.name).to.match(/^Auto-Save (1[0-2]|[1-9]):[0-5]\d (AM|PM)$/);
      expect(item!.createdAt - staged.stagedAt, 'promoted no sooner than debounceMs after the stage').to.be.at.least(
        DEBOUNCE_MS - CLOCK_SLACK_MS,
      );

      const { snapshot: body, ...summary } = await getAutosave(p, item!.id);
      expect(summary).to.deep.equal(item);
      expect(body).to.deep.equal(snapshot);
      expect(item!.sizeBytes).to.equal(Buffer.byteLength(JSON.stringify(body)));

      // store.changed (the insert) comes before autosave.saved.
      const at = (pred: (m: any) => boolean): number => p.received.findIndex(pred);
      const changedAt = at((m) => m?.method === 'store.changed' && m.params.entity === 'autosaves' && m.params.op === 'insert' && m.params.ids.includes(item!.id));
      const savedAt = at((m) => m?.method === 'autosave.saved' && m.params.autosaveId === item!.id);
      expect(changedAt, 'store.changed of the insert').to.be.at.least(0);
      expect(changedAt).to.be.below(savedAt);

      // The staged state is gone (promoted): a flush finds nothing, and nothing more is announced.
      expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 0 });
      expect(await list(p, song.id)).to.deep.equal([item]);
      expect(p.notifications('autosave.saved')).to.have.length(1);
    });

    it(`${framing}: a burst of stages yields one snapshot, of the last state, debounceMs after the last stage`, async () => {
      const p = await procs.launch({ framing });
      const song = await prepare(p, { debounceMs: DEBOUNCE_MS, intervalMs: LONG_MS });
      const snapshots = Array.from({ length: 12 }, (_, i) => edit(song, `Burst ${i}`, { step: i }));
      // Written back to back: every stage lands well inside the previous one's quiet period.
      const answers = await Promise.all(snapshots.map((snapshot) => ok(p, 'autosave.stage', { songId: song.id, snapshot })));
      const stagedAts = answers.map((a) => a.stagedAt as number);
      expect(stagedAts, 'stages are answered in order').to.deep.equal([...stagedAts].sort((a, b) => a - b));

      const [item] = await listed(p, song.id, 1);
      const [saved] = await savedNotifications(p, 1);
      expect(saved).to.deep.equal({ songId: song.id, autosaveId: item!.id, at: item!.createdAt, rowWritten: true, revision: song.revision + 1 });
      expect(item!.reason).to.equal('debounce');
      expect(item!.createdAt - stagedAts[stagedAts.length - 1]!).to.be.at.least(DEBOUNCE_MS - CLOCK_SLACK_MS);
      expect((await getAutosave(p, item!.id)).snapshot).to.deep.equal(snapshots[snapshots.length - 1]);
      // Default mode: the song row was saved from the snapshot.
      expectSongHas(await ok(p, 'songs.get', { id: song.id }), snapshots[snapshots.length - 1]!.song);

      expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 0 });
      expect(await list(p, song.id)).to.have.length(1);
      expect(p.notifications('autosave.saved')).to.have.length(1);
    });
  }
});

describe('autosave: periodic save', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  it('with a long debounce, continuous staging is still snapshotted every intervalMs, never more often', async () => {
    const INTERVAL_MS = 150;
    const p = await procs.launch();
    const song = await ok(p, 'songs.save', { item: makeSong() });
    const configuredAfter = Date.now();
    const config = await ok(p, 'autosave.configure', { debounceMs: LONG_MS, intervalMs: INTERVAL_MS });
    expect(config).to.include({ debounceMs: LONG_MS, intervalMs: INTERVAL_MS, intervalSource: 'configured' });

    // An edit every ~20 ms: the debounce (an hour) never sees a quiet period.
    let n = 0;
    const items = await until(
      'three interval snapshots',
      async () => {
        await ok(p, 'autosave.stage', { songId: song.id, snapshot: edit(song, `Edit ${++n}`) });
        const got = await list(p, song.id);
        return got.length >= 3 ? got : undefined;
      },
      10000,
    );
    const oldestFirst = [...items].reverse();
    for (const [k, item] of oldestFirst.entries()) {
      expect(item.reason, `snapshot ${k}`).to.equal('interval');
      // The k-th period ends (k+1) intervals after configure armed the timer, at the earliest.
      expect(item.createdAt - configuredAfter, `snapshot ${k} is no sooner than period ${k + 1}`).to.be.at.least(
        (k + 1) * INTERVAL_MS - CLOCK_SLACK_MS,
      );
    }
    // Each snapshot is a different edit, later ones of later edits.
    const editNumbers: number[] = [];
    for (const item of oldestFirst) {
      const { snapshot } = await getAutosave(p, item.id);
      editNumbers.push(Number(/^Edit (\d+)$/.exec(snapshot.song.name)![1]));
    }
    expect(editNumbers).to.deep.equal([...new Set(editNumbers)].sort((a, b) => a - b));
    expect(editNumbers[editNumbers.length - 1]).to.be.at.most(n);
    const saved = await savedNotifications(p, items.length);
    for (const item of items) {
      expect(saved.find((s) => s.autosaveId === item.id)).to.include({ songId: song.id, at: item.createdAt, rowWritten: true });
    }
  });
});

describe('autosave: flush, dedupe, retention, modes', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  it('staging the state that was just promoted adds nothing: flush answers saved [] and unchanged 1', async () => {
    const p = await procs.launch();
    const song = await prepare(p);
    const snapshot = edit(song, 'Deduped', { view: 'mixer' });

    await ok(p, 'autosave.stage', { songId: song.id, snapshot });
    const first = await ok(p, 'autosave.flush', { songId: song.id });
    expect(first.unchanged).to.equal(0);
    expect(first.saved).to.have.length(1);
    const [saved] = await savedNotifications(p, 1);
    expect(saved).to.deep.equal(first.saved[0]);
    expect(saved).to.include({ songId: song.id });
    const afterFirst = await ok(p, 'songs.get', { id: song.id });
    expect(afterFirst.revision).to.equal(2);

    await ok(p, 'autosave.stage', { songId: song.id, snapshot });
    expect(await ok(p, 'autosave.flush', { songId: song.id })).to.deep.equal({ saved: [], unchanged: 1 });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: structuredClone(snapshot) });
    expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 1 });

    const items = await list(p, song.id);
    expect(items.map((i) => i.id)).to.deep.equal(first.saved.map((x: Json) => x.autosaveId));
    expect(items[0]!.reason).to.equal('flush');
    await ok(p, 'system.ping');
    expect(p.notifications('autosave.saved'), 'nothing new to announce').to.have.length(1);
    expect(await ok(p, 'songs.get', { id: song.id }), 'an unchanged state does not save the song again').to.deep.equal(afterFirst);

    // A different state is a new snapshot again.
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: edit(song, 'Deduped', { view: 'score' }) });
    const third = await ok(p, 'autosave.flush', {});
    expect(third.saved).to.have.length(1);
    expect(third.unchanged).to.equal(0);
    expect((await list(p, song.id)).map((i) => i.id)).to.deep.equal([third.saved[0].autosaveId, first.saved[0].autosaveId]);
  });

  it('keep 3: five distinct snapshots leave the newest three, and the pruning is announced', async () => {
    const p = await procs.launch();
    const song = await prepare(p);
    expect(await ok(p, 'autosave.configure', { keep: 3 })).to.include({ keep: 3, debounceMs: LONG_MS, intervalMs: LONG_MS });
    const ids: string[] = [];
    const deletes: string[] = [];
    for (let i = 0; i < 5; i++) {
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: edit(song, `Version ${i}`) });
      const { response, changes } = await tracked(p, 'autosave.flush', { songId: song.id });
      expect(response.result.saved).to.have.length(1);
      ids.push(response.result.saved[0].autosaveId);
      const byKey = new Map(normalized(changes).map((c) => [`${c.entity}/${c.op}`, c.ids]));
      expect(byKey.get('autosaves/insert')).to.deep.equal([response.result.saved[0].autosaveId]);
      expect(byKey.get('songs/update')).to.deep.equal([song.id]);
      deletes.push(...(byKey.get('autosaves/delete') ?? []));
    }
    expect(deletes, 'the 4th and 5th snapshots pruned the 1st and 2nd').to.deep.equal([ids[0], ids[1]]);

    const items = await list(p, song.id);
    expect(items.map((i) => i.id)).to.deep.equal([ids[4], ids[3], ids[2]]);
    const times = items.map((i) => i.createdAt as number);
    expect(times[0]).to.be.above(times[1]!);
    expect(times[1]).to.be.above(times[2]!);
    for (const [k, item] of items.entries()) {
      expect((await getAutosave(p, item.id)).snapshot.song.name).to.equal(`Version ${4 - k}`);
    }
    for (const id of ids.slice(0, 2)) await fails(p, 'autosave.get', { id }, NOT_FOUND);
  });

  it('the default mode (snapshot-and-song) saves the song row from the promoted snapshot', async () => {
    const p = await procs.launch();
    const defaults = await ok(p, 'autosave.configure');
    expect(defaults).to.deep.equal({
      debounceMs: 2000,
      intervalMs: 60000,
      intervalSource: 'preferences',
      keep: 50,
      mode: 'snapshot-and-song',
    });
    const song = await prepare(p);
    const snapshot = edit(song, 'Renamed by autosave');
    snapshot.song.metadata = { ...snapshot.song.metadata, tempo: 96 };
    await ok(p, 'autosave.stage', { songId: song.id, snapshot });
    expect(await ok(p, 'songs.get', { id: song.id }), 'a stage alone does not touch the song').to.deep.equal(song);
    const ids = (await ok(p, 'autosave.flush', {})).saved.map((x: Json) => x.autosaveId);
    expect(ids).to.have.length(1);
    const after = await ok(p, 'songs.get', { id: song.id });
    expectSongHas(after, snapshot.song);
    expect(after.revision).to.equal(song.revision + 1);
    expect(after.createdAt).to.equal(song.createdAt);
  });

  it('a snapshot whose song has no id is stored, and saved, as the staged song', async () => {
    const p = await procs.launch();
    const song = await prepare(p);
    const { id: _id, ...withoutId } = edit(song, 'No id in the snapshot').song;
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: withoutId } });
    const ids = (await ok(p, 'autosave.flush', {})).saved.map((x: Json) => x.autosaveId);
    expect((await getAutosave(p, ids[0])).snapshot).to.deep.equal({ song: { ...withoutId, id: song.id } });
    expectSongHas(await ok(p, 'songs.get', { id: song.id }), withoutId);
    expect(await ok(p, 'songs.count', {}), 'no other song was made').to.deep.equal({ count: 1 });
  });

  it('snapshot-only makes the snapshot and leaves the song row as it is', async () => {
    const p = await procs.launch();
    const song = await prepare(p, { debounceMs: LONG_MS, intervalMs: LONG_MS, mode: 'snapshot-only' });
    expect(await ok(p, 'autosave.configure')).to.include({ mode: 'snapshot-only' });
    const snapshot = edit(song, 'Only in the snapshot');
    await ok(p, 'autosave.stage', { songId: song.id, snapshot });
    const { response, changes } = await tracked(p, 'autosave.flush', {});
    expect(response.result.saved).to.have.length(1);
    expect(response.result.saved[0]).to.include({ rowWritten: false, reason: 'snapshot-only', revision: song.revision });
    const added = response.result.saved[0].autosaveId;
    expect(normalized(changes)).to.deep.equal([{ entity: 'autosaves', op: 'insert', ids: [added] }]);
    expect(await ok(p, 'songs.get', { id: song.id })).to.deep.equal(song);
    expect((await getAutosave(p, added)).snapshot).to.deep.equal(snapshot);
  });

  it('intervalMs follows preferences.autoSaveInterval until configured; null follows it again', async () => {
    const p = await procs.launch();
    await ok(p, 'preferences.update', { patch: { autoSaveInterval: 30 } });
    expect(await ok(p, 'autosave.configure')).to.include({ intervalMs: 30000, intervalSource: 'preferences' });
    expect(await ok(p, 'autosave.configure', { intervalMs: 500 })).to.include({ intervalMs: 500, intervalSource: 'configured' });
    await ok(p, 'preferences.update', { patch: { autoSaveInterval: 45 } });
    expect(await ok(p, 'autosave.configure')).to.include({ intervalMs: 500, intervalSource: 'configured' });
    expect(await ok(p, 'autosave.configure', { intervalMs: null })).to.include({ intervalMs: 45000, intervalSource: 'preferences' });
  });
});

describe('autosave: recovery after SIGKILL', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  for (const framing of ['ndjson', 'header'] as Framing[]) {
    it(`${framing}: an answered stage survives SIGKILL, is recoverable without touching the song, and restores`, async () => {
      const dataDir = procs.ownDir('wr-autosave-');
      const first = await procs.launch({ dataDir, framing });
      const song = await prepare(first);
      const snapshot = edit(song, 'Unsaved edit', { selection: ['bass'], transport: { playing: false, bar: 17 } });
      const staged = await ok(first, 'autosave.stage', { songId: song.id, snapshot });
      expect(await first.kill('SIGKILL')).to.deep.equal({ code: null, signal: 'SIGKILL' });

      const second = await procs.launch({ dataDir, framing });
      expect(await ok(second, 'autosave.configure'), 'the configuration outlived the process').to.include({
        debounceMs: LONG_MS,
        intervalMs: LONG_MS,
      });
      const { items } = await ok(second, 'autosave.recoverable');
      expect(items).to.have.length(1);
      const entry = items[0];
      expect(entry).to.have.all.keys('id', 'songId', 'name', 'createdAt', 'sizeBytes', 'recovered', 'reason', 'revision');
      expect(entry).to.include({ recovered: true, reason: 'recovery' });
      expect(entry.songId).to.equal(song.id);
      expect(entry.name).to.match(/^Recovered (1[0-2]|[1-9]):[0-5]\d (AM|PM)$/);
      expect(entry.createdAt).to.be.at.least(staged.stagedAt);

      const got = await getAutosave(second, entry.id);
      expect(got).to.include({ id: entry.id, songId: song.id, recovered: true, reason: 'recovery', createdAt: entry.createdAt, name: entry.name });
      const { snapshot: _body, ...summary } = got;
      expect(entry, 'a recoverable entry is the snapshot\'s AutosaveSummary').to.deep.equal(summary);
      expect(got.snapshot).to.deep.equal(snapshot);
      expect(await list(second, song.id)).to.have.length(1);
      expect(await ok(second, 'songs.get', { id: song.id }), 'recovery never overwrites the song').to.deep.equal(song);
      // Nothing is staged any more: it became the recovered snapshot.
      expect(await ok(second, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 0 });

      const restored = await ok(second, 'autosave.restore', { id: entry.id });
      expect(restored.state).to.deep.equal(snapshot.state);
      expectSongHas(restored.song, snapshot.song);
      expect(await ok(second, 'autosave.recoverable')).to.deep.equal({ items: [] });
      const now = await ok(second, 'songs.get', { id: song.id });
      expect(now).to.deep.equal(restored.song);
      expectSongHas(now, snapshot.song);
      expect((await getAutosave(second, entry.id)).recovered).to.equal(false);
      // The undo point is the row as it was before the restore.
      const undo = await getAutosave(second, restored.undoId);
      expect(undo.reason).to.equal('pre-restore');
      expect(undo.name).to.match(/^Before Restore /);
      expect(undo.snapshot, 'the row as it was, nothing staged').to.deep.equal({ song });
      await stop(second);
    });
  }

  it('recovered snapshots are never pruned by keep', async () => {
    const dataDir = procs.ownDir('wr-autosave-');
    const first = await procs.launch({ dataDir });
    const song = await prepare(first, { debounceMs: LONG_MS, intervalMs: LONG_MS, keep: 1 });
    await ok(first, 'autosave.stage', { songId: song.id, snapshot: edit(song, 'Recovered edit') });
    await first.kill('SIGKILL');

    const second = await procs.launch({ dataDir });
    const [entry] = (await ok(second, 'autosave.recoverable')).items;
    const flushed: string[] = [];
    for (const name of ['After 1', 'After 2', 'After 3']) {
      await ok(second, 'autosave.stage', { songId: song.id, snapshot: edit(song, name) });
      flushed.push(...(await ok(second, 'autosave.flush', {})).saved.map((x: Json) => x.autosaveId));
    }
    expect((await list(second, song.id)).map((i) => i.id)).to.deep.equal([flushed[2], entry.id]);
    expect((await ok(second, 'autosave.recoverable')).items).to.deep.equal([entry]);
  });

  it('a recovered snapshot deleted with autosave.delete is no longer recoverable', async () => {
    const dataDir = procs.ownDir('wr-autosave-');
    const first = await procs.launch({ dataDir });
    const song = await prepare(first);
    await ok(first, 'autosave.stage', { songId: song.id, snapshot: edit(song, 'Lost edit') });
    await first.kill('SIGKILL');

    const second = await procs.launch({ dataDir });
    const { items } = await ok(second, 'autosave.recoverable');
    expect(items).to.have.length(1);
    expect(await ok(second, 'autosave.delete', { id: items[0].id })).to.deep.equal({
      ids: [items[0].id],
      count: 1,
      cascaded: {},
    });
    expect(await ok(second, 'autosave.recoverable')).to.deep.equal({ items: [] });
    await fails(second, 'autosave.delete', { id: items[0].id }, NOT_FOUND);
    expect(await ok(second, 'songs.get', { id: song.id })).to.deep.equal(song);
  });
});

describe('autosave: flush at shutdown', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  const ways: [string, Framing, (p: StoreProcess) => Promise<unknown>][] = [
    ['end of stdin', 'ndjson', (p) => p.close()],
    ['end of stdin', 'header', (p) => p.close()],
    ['SIGTERM', 'ndjson', (p) => p.kill('SIGTERM')],
    [
      'system.shutdown',
      'ndjson',
      async (p) => {
        expect((await p.request('system.shutdown')).error).to.equal(undefined);
        return p.exited;
      },
    ],
  ];

  for (const [way, framing, shutDown] of ways) {
    it(`${framing}: ${way} promotes what is staged (reason shutdown), exits 0, and leaves nothing recoverable`, async () => {
      const dataDir = procs.ownDir('wr-autosave-');
      const first = await procs.launch({ dataDir, framing });
      const song = await prepare(first);
      const snapshot = edit(song, `Staged before ${way}`, { zoom: 2 });
      await ok(first, 'autosave.stage', { songId: song.id, snapshot });
      await shutDown(first);
      expect(await first.exited, first.stderr).to.deep.equal({ code: 0, signal: null });
      expect(first.stderr).to.not.match(/internal error|failed/i);

      const second = await procs.launch({ dataDir, framing });
      expect(await ok(second, 'autosave.recoverable')).to.deep.equal({ items: [] });
      const items = await list(second, song.id);
      expect(items).to.have.length(1);
      expect(items[0]).to.include({ reason: 'shutdown', recovered: false });
      expect(items[0]!.name).to.match(/^Auto-Save /);
      expect((await getAutosave(second, items[0]!.id)).snapshot).to.deep.equal(snapshot);
      expectSongHas(await ok(second, 'songs.get', { id: song.id }), snapshot.song);
      await stop(second);
    });
  }
});

describe('autosave: restore', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  it('restores an older snapshot, and restoring its undoId brings the newer state back', async () => {
    const p = await procs.launch({ framing: 'header' });
    const song = await prepare(p);
    const older = edit(song, 'Older', { take: 1 });
    const newer = edit(song, 'Newer', { take: 2 });
    newer.song.metadata = { ...newer.song.metadata, tempo: 140 };
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: older });
    const olderId = (await ok(p, 'autosave.flush', {})).saved[0].autosaveId;
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: newer });
    const newerId = (await ok(p, 'autosave.flush', {})).saved[0].autosaveId;
    const beforeRestore = await ok(p, 'songs.get', { id: song.id });
    expectSongHas(beforeRestore, newer.song);

    const { response, changes } = await tracked(p, 'autosave.restore', { id: olderId });
    const restored = response.result;
    expect(restored.state).to.deep.equal(older.state);
    expect(restored).to.not.have.property('performance');
    const current = await ok(p, 'songs.get', { id: song.id });
    expect(current).to.deep.equal(restored.song);
    expectSongHas(current, older.song);
    expect(current.revision).to.equal(beforeRestore.revision + 1);
    expect(normalized(changes)).to.deep.equal([
      { entity: 'autosaves', op: 'insert', ids: [restored.undoId] },
      { entity: 'songs', op: 'update', ids: [song.id] },
    ]);
    expect([olderId, newerId]).to.not.include(restored.undoId);
    const undo = await getAutosave(p, restored.undoId);
    expect(undo.reason).to.equal('pre-restore');
    expect(undo.snapshot, 'the row as it was, nothing staged').to.deep.equal({ song: beforeRestore });
    expect((await list(p, song.id)).map((i) => i.id)).to.deep.equal([restored.undoId, newerId, olderId]);

    const undone = await ok(p, 'autosave.restore', { id: restored.undoId });
    const back = await ok(p, 'songs.get', { id: song.id });
    expect(back).to.deep.equal(undone.song);
    expectSongHas(back, newer.song);
    // Undoing is itself undoable: its undo point is the restored older state.
    expectSongHas((await getAutosave(p, undone.undoId)).snapshot.song, older.song);
  });

  it('a restore first promotes what is staged for the song: that staged state is the undo point', async () => {
    const p = await procs.launch();
    const song = await prepare(p);
    const saved = edit(song, 'Flushed');
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: saved });
    const savedId = (await ok(p, 'autosave.flush', {})).saved[0].autosaveId;
    const live = edit(song, 'Staged, not yet promoted', { cursor: 9 });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: live });

    const restored = await ok(p, 'autosave.restore', { id: savedId });
    expectSongHas(await ok(p, 'songs.get', { id: song.id }), saved.song);
    const undo = await getAutosave(p, restored.undoId);
    expect(undo.reason).to.equal('pre-restore');
    expect(undo.snapshot).to.deep.equal(live);
    expect(await ok(p, 'autosave.flush', {}), 'nothing is left staged').to.deep.equal({ saved: [], unchanged: 0 });

    const back = await ok(p, 'autosave.restore', { id: restored.undoId });
    expect(back.state).to.deep.equal(live.state);
    expectSongHas(await ok(p, 'songs.get', { id: song.id }), live.song);
  });
});

describe('autosave: a performance', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  const makePerf = (songId: string): Json => ({
    id: `perf-${Math.random().toString(36).slice(2)}`,
    songId,
    name: 'Solo piano take',
    arrangementStyle: 'SOLO_PIANO',
    instrumentationMap: { piano: 'inst-1', extra: { future: [1] } },
    mixTargets: { gain: -3.5 },
  });

  it('is its own scope: staged, promoted and listed apart from the song, and saved in the default mode', async () => {
    const p = await procs.launch();
    const song = await prepare(p);
    const perf = makePerf(song.id);
    await ok(p, 'performances.save', { item: perf });
    // One editor model: both scopes carry the same song (two different songs staged at once would
    // each be written over the other at every promotion, the rows never holding both).
    const songOnly = edit(song, 'Song edit');
    const withPerf = { ...edit(song, 'Song edit'), performance: { ...perf, name: 'Edited take' } };

    const staged = await ok(p, 'autosave.stage', { songId: song.id, performanceId: perf.id, snapshot: withPerf });
    expect(staged).to.include({ songId: song.id, performanceId: perf.id });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: songOnly });
    const { saved: promoted, unchanged } = await ok(p, 'autosave.flush', { songId: song.id });
    const ids = promoted.map((x: Json) => x.autosaveId);
    expect(ids).to.have.length(2);
    expect(unchanged).to.equal(0);

    const all = await list(p, song.id);
    expect(all.map((i) => i.id).sort()).to.deep.equal([...ids].sort());
    const { items: perfOnly } = await ok(p, 'autosave.list', { songId: song.id, performanceId: perf.id });
    expect(perfOnly).to.have.length(1);
    expect(perfOnly[0]).to.include({ songId: song.id, performanceId: perf.id, reason: 'flush' });
    expect((await getAutosave(p, perfOnly[0].id)).snapshot).to.deep.equal(withPerf);
    const saved = await savedNotifications(p, 2);
    expect(saved.find((s) => s.autosaveId === perfOnly[0].id)).to.include({
      songId: song.id,
      performanceId: perf.id,
      at: perfOnly[0].createdAt,
      rowWritten: true,
    });
    expectSongHas(await ok(p, 'performances.get', { id: perf.id }), { name: 'Edited take' });

    // The same states again: both scopes are unchanged.
    await ok(p, 'autosave.stage', { songId: song.id, performanceId: perf.id, snapshot: withPerf });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: songOnly });
    expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 2 });

    // Deleting the performance removes its snapshot only.
    const deleted = await ok(p, 'performances.delete', { id: perf.id });
    expect(deleted.cascaded.autosaves).to.equal(1);
    await fails(p, 'autosave.get', { id: perfOnly[0].id }, NOT_FOUND);
    expect((await list(p, song.id)).map((i) => i.id)).to.deep.equal(ids.filter((id: string) => id !== perfOnly[0].id));
  });

  it('refuses a performance that is missing, of another song, or not named by performanceId', async () => {
    const p = await procs.launch();
    const song = await prepare(p);
    const other = await ok(p, 'songs.save', { item: makeSong() });
    const perf = makePerf(song.id);
    const otherPerf = makePerf(other.id);
    await ok(p, 'performances.saveMany', { items: [perf, otherPerf] });
    const snapshot = edit(song, 'x');

    await fails(p, 'autosave.stage', { songId: song.id, performanceId: 'no-such-perf', snapshot }, CONSTRAINT_VIOLATION);
    await fails(p, 'autosave.stage', { songId: song.id, performanceId: otherPerf.id, snapshot }, CONSTRAINT_VIOLATION);
    await invalid(p, 'autosave.stage', { songId: song.id, snapshot: { ...snapshot, performance: perf } }, '/performanceId');
    await invalid(
      p,
      'autosave.stage',
      { songId: song.id, performanceId: perf.id, snapshot: { ...snapshot, performance: { ...perf, id: otherPerf.id } } },
      '/snapshot/performance/id',
    );
    await invalid(
      p,
      'autosave.stage',
      { songId: song.id, performanceId: perf.id, snapshot: { ...snapshot, performance: { ...perf, songId: other.id } } },
      '/snapshot/performance/songId',
    );
    expect(await ok(p, 'autosave.flush', {}), 'nothing was staged').to.deep.equal({ saved: [], unchanged: 0 });
  });
});

describe('autosave: deleting a song', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  it('removes its snapshots and staged state: songs.delete counts them in cascaded.autosaves', async () => {
    const p = await procs.launch();
    const song = await prepare(p);
    const other = await ok(p, 'songs.save', { item: makeSong() });
    const ids: string[] = [];
    for (const name of ['One', 'Two', 'Three']) {
      await ok(p, 'autosave.stage', { songId: song.id, snapshot: edit(song, name) });
      ids.push(...(await ok(p, 'autosave.flush', {})).saved.map((x: Json) => x.autosaveId));
    }
    await ok(p, 'autosave.stage', { songId: other.id, snapshot: edit(other, 'Other song') });
    const otherId = (await ok(p, 'autosave.flush', {})).saved[0].autosaveId;
    // One more state staged and not promoted: it goes with the song too.
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: edit(song, 'Pending') });

    const { response, changes } = await tracked(p, 'songs.delete', { id: song.id });
    expect(response.error, JSON.stringify(response.error)).to.equal(undefined);
    expect(response.result.ids).to.deep.equal([song.id]);
    expect(response.result.cascaded.autosaves).to.equal(3);
    const byKey = new Map(normalized(changes).map((c) => [`${c.entity}/${c.op}`, c.ids]));
    expect(byKey.get('autosaves/delete')).to.deep.equal([...ids].sort());
    for (const id of ids) await fails(p, 'autosave.get', { id }, NOT_FOUND);
    expect(await list(p, song.id)).to.deep.equal([]);
    expect(await ok(p, 'autosave.flush', {}), 'the pending stage went with the song').to.deep.equal({ saved: [], unchanged: 0 });
    expect((await list(p, other.id)).map((i) => i.id)).to.deep.equal([otherId]);
  });

  it('a debounce still pending for a deleted song does nothing', async () => {
    const p = await procs.launch();
    const song = await prepare(p, { debounceMs: 50, intervalMs: LONG_MS });
    const keeper = await ok(p, 'songs.save', { item: makeSong() });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: edit(song, 'About to vanish') });
    await ok(p, 'songs.delete', { id: song.id });
    // A later stage of another song, promoted by its own debounce, shows the timers have run.
    await ok(p, 'autosave.stage', { songId: keeper.id, snapshot: edit(keeper, 'Kept') });
    const [item] = await listed(p, keeper.id, 1);
    const saved = await savedNotifications(p, 1);
    expect(saved).to.deep.equal([{ songId: keeper.id, autosaveId: item!.id, at: item!.createdAt, rowWritten: true, revision: 2 }]);
    await fails(p, 'songs.get', { id: song.id }, NOT_FOUND);
    expect(await list(p, song.id)).to.deep.equal([]);
    await stop(p);
    expect(p.stderr).to.not.match(/internal error|autosave failed/i);
  });
});

describe('autosave: errors', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  it('answers the contract errors and changes nothing', async () => {
    const p = await procs.launch({ framing: 'header' });
    const song = await prepare(p);
    const otherSong = makeSong();

    // A song that was never saved.
    const missing = await fails(p, 'autosave.stage', { songId: otherSong.id, snapshot: { song: otherSong } }, CONSTRAINT_VIOLATION);
    expect(missing.data).to.deep.include({ value: otherSong.id });
    // A snapshot of another song than the one staged.
    await invalid(p, 'autosave.stage', { songId: song.id, snapshot: { song: otherSong } }, '/snapshot/song/id');
    // Not a snapshot at all.
    await invalid(p, 'autosave.stage', { songId: song.id, snapshot: { song: { id: song.id } } }, '/snapshot/song/name');
    await invalid(p, 'autosave.stage', { songId: song.id, snapshot: edit(song, 'x'), extra: 1 }, '/extra');

    const unknown = await fails(p, 'autosave.get', { id: 'no-such-autosave' }, NOT_FOUND);
    expect(unknown.data).to.deep.include({ id: 'no-such-autosave' });
    await fails(p, 'autosave.restore', { id: 'no-such-autosave' }, NOT_FOUND);
    await fails(p, 'autosave.delete', { id: 'no-such-autosave' }, NOT_FOUND);

    const before = await ok(p, 'autosave.configure');
    for (const [params, path] of [
      [{ debounceMs: 9 }, '/debounceMs'],
      [{ debounceMs: 3_600_001 }, '/debounceMs'],
      [{ debounceMs: 100.5 }, '/debounceMs'],
      [{ intervalMs: 9 }, '/intervalMs'],
      [{ intervalMs: 86_400_001 }, '/intervalMs'],
      [{ keep: 0 }, '/keep'],
      [{ keep: 10_001 }, '/keep'],
      [{ mode: 'snapshot-and-everything' }, '/mode'],
    ] as [Json, string][]) {
      await invalid(p, 'autosave.configure', params, path);
    }
    expect(await ok(p, 'autosave.configure'), 'a refused configure changes nothing').to.deep.equal(before);

    expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 0 });
    expect(await list(p, song.id)).to.deep.equal([]);
    expect(await ok(p, 'songs.get', { id: song.id })).to.deep.equal(song);
    expect(p.notifications('autosave.saved')).to.deep.equal([]);
  });
});

describe('autosave: result schemas', function () {
  this.timeout(20000);
  afterEach(() => procs.cleanupAll());

  it("autosave.get's answer passes its result schema (Autosave.json)", async () => {
    const p = await procs.launch();
    const song = await prepare(p);
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: edit(song, 'Checked') });
    const ids = (await ok(p, 'autosave.flush', {})).saved.map((x: Json) => x.autosaveId);
    const got = await ok(p, 'autosave.get', { id: ids[0] });
    expect(got.snapshot.song.name).to.equal('Checked');
  });
});

describe('autosave: a 1 MB snapshot', function () {
  this.timeout(30000);
  afterEach(() => procs.cleanupAll());

  it('is staged and answered every time (median latency of 20 stages logged, not asserted)', async () => {
    const p = await procs.launch();
    // About 1 MB of JSON in the sections array.
    const sections = Array.from({ length: 1000 }, (_, i) => ({ id: `s${i}`, bars: 8, pattern: `${i}:`.padEnd(1000, 'x') }));
    const big = makeSong({ sections });
    expect(Buffer.byteLength(JSON.stringify(sections))).to.be.within(1_000_000, 1_100_000);
    const song = await ok(p, 'songs.save', { item: big });
    await ok(p, 'autosave.configure', { debounceMs: LONG_MS, intervalMs: LONG_MS });

    const times: number[] = [];
    let last: Json | undefined;
    for (let i = 0; i < 20; i++) {
      last = edit(song, `Big edit ${i}`);
      const t = performance.now();
      const staged = await ok(p, 'autosave.stage', { songId: song.id, snapshot: last });
      times.push(performance.now() - t);
      expect(staged.sizeBytes).to.be.at.least(1_000_000);
    }
    times.sort((a, b) => a - b);
    const median = (times[9]! + times[10]!) / 2;
    console.log(`      autosave.stage of a 1 MB snapshot (${p.framing}): median ${median.toFixed(2)} ms over 20 stages`);

    // The last state is what a flush promotes, intact.
    const ids = (await ok(p, 'autosave.flush', {})).saved.map((x: Json) => x.autosaveId);
    expect(ids).to.have.length(1);
    const got = await getAutosave(p, ids[0]);
    expect(got.snapshot).to.deep.equal(last);
    expect(got.sizeBytes).to.be.at.least(1_000_000);
    expectSongHas(await ok(p, 'songs.get', { id: song.id }), last!.song);
  });
});
