/**
 * History and trash over days and months, as a musician lives them: the whole app in process
 * (openApp: the real repositories, hooks, handlers and SQLite file, every call through the
 * dispatcher as the sidecar serves it) with its clock moved by the test (Store.now), since a
 * spawned sidecar reads the real time. The process-level tests are test/integration/history.test.ts.
 */
import { expect } from 'chai';
import { openApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { resultValidator } from '../../src/methods/index.js';
import { stringifyAnswer } from '../../src/json-text.js';
import { makeSong } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/unit-store.js';

type Rec = Record<string, any>;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** 2026-03-02T10:00:00Z: a Monday morning. */
const T0 = Date.UTC(2026, 2, 2, 10);

const quiet = createLogger({ level: 'silent' });
let seq = 0;

/** An app on a fresh data directory whose clock is `clock.now`. */
async function openWithClock(): Promise<{ app: App; clock: { now: number }; cleanup(): void }> {
  const { dir, cleanup } = tempDir('wr-history-clock-');
  const app = await openApp({ dataDir: dir, log: quiet, framing: () => 'none', requestShutdown: () => {}, autoBackupHours: 0 });
  const clock = { now: T0 };
  app.store.now = () => clock.now;
  return {
    app,
    clock,
    cleanup() {
      try {
        app.close();
      } finally {
        cleanup();
      }
    },
  };
}

async function request(app: App, method: string, params?: unknown): Promise<{ result?: any; error?: { code: number; message: string; data?: any } }> {
  return (await app.dispatcher.handle({ jsonrpc: '2.0', id: ++seq, method, ...(params === undefined ? {} : { params }) })) as any;
}

/** The result of a call that must succeed, as a host reads it (the answer's text, parsed), checked against its schema. */
async function ok(app: App, method: string, params?: unknown): Promise<any> {
  const r = await request(app, method, params);
  expect(r.error, `${method}: ${JSON.stringify(r.error)}`).to.equal(undefined);
  const result = JSON.parse(stringifyAnswer(r.result ?? null));
  const validate = resultValidator(method);
  expect(validate(result), `${method} result fails its schema: ${JSON.stringify(validate.errors)}`).to.equal(true);
  return result;
}

/** Every version of a record, newest first. */
async function history(app: App, family: string, id: string): Promise<Rec[]> {
  const out: Rec[] = [];
  let cursor: string | undefined;
  do {
    const page = await ok(app, `${family}.history`, { id, limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

/** What the host saved, without what the store sets on every write. */
const content = (r: Rec): Rec => {
  const { revision: _r, updatedAt: _u, isFavorite: _f, playCount: _p, lastPlayedAt: _l, ...rest } = r;
  return rest;
};

describe('history over time (in process, moved clock)', function () {
  this.timeout(120_000);
  let t: Awaited<ReturnType<typeof openWithClock>>;
  beforeEach(async () => {
    t = await openWithClock();
  });
  afterEach(() => t.cleanup());

  it('a song saved over comes back as it was an hour ago', async () => {
    const { app, clock } = t;
    const song = makeSong({ name: 'Blue in Green', sections: [{ id: 'verse', bars: 16, voicing: 'drop 2' }] });
    await ok(app, 'songs.create', { item: song });
    // Twenty-five minutes of good work, a save every five...
    let good: Rec = {};
    for (let m = 5; m <= 25; m += 5) {
      clock.now = T0 + m * MINUTE;
      good = await ok(app, 'songs.save', { item: { ...song, sections: [{ id: 'verse', bars: 16, voicing: `drop 2, take ${m}` }] } });
    }
    // ... then an hour of edits that went wrong, a save every minute.
    for (let m = 31; m <= 90; m++) {
      clock.now = T0 + m * MINUTE;
      await ok(app, 'songs.save', { item: { ...song, name: 'Blue in Green (ruined)', sections: [{ id: 'verse', bars: 3, voicing: `mistake ${m}` }] } });
    }
    const before = await history(app, 'songs', song.id);
    expect(before).to.have.length(1 + 5 + 60); // all of the last 24 hours are kept

    // "As it was an hour ago": the newest version at or before now - 1 h.
    const hourAgo = clock.now - HOUR;
    const then = before.find((v) => v.createdAt <= hourAgo)!;
    expect(then.createdAt).to.equal(T0 + 25 * MINUTE);
    expect(content((await ok(app, 'songs.getVersion', { versionId: then.versionId })).song)).to.deep.equal(content(good));

    clock.now += MINUTE;
    const current = await ok(app, 'songs.get', { id: song.id });
    const back = await ok(app, 'songs.restoreVersion', { versionId: then.versionId, ifRevision: current.revision });
    expect(content(back.song)).to.deep.equal(content(good));
    expect(content(await ok(app, 'songs.get', { id: song.id }))).to.deep.equal(content(good));
    expect(back.version).to.include({ source: 'restore', revision: current.revision + 1, createdAt: clock.now });
    // Nothing was overwritten: the ruined state is still a version, and can be compared with.
    const after = await history(app, 'songs', song.id);
    expect(after).to.have.length(before.length + 1);
    const patch = (await ok(app, 'songs.diff', { from: before[0]!.versionId })).patch.map((o: Rec) => `${o.op} ${o.path}`);
    expect(patch).to.include.members(['replace /name', 'replace /sections/0/bars', 'replace /sections/0/voicing']);
  });

  it('a named version survives any amount of later saving and any retention rule', async () => {
    const { app, clock } = t;
    const song = makeSong({ name: 'Gig version', sections: [{ id: 'a', text: 'x'.repeat(3000) }, { id: 'b', text: 'y'.repeat(3000) }] });
    const created = await ok(app, 'songs.create', { item: song });
    const named = await ok(app, 'songs.saveVersion', { id: song.id, label: 'Before the gig' });
    const asNamed = (await ok(app, 'songs.getVersion', { versionId: named.versionId })).song;
    // 500 saves, one every six hours (125 days), each changing one section.
    for (let n = 1; n <= 500; n++) {
      clock.now = T0 + n * 6 * HOUR;
      await ok(app, 'songs.save', { item: { ...song, name: `Gig version, edit ${n}`, sections: [{ id: 'a', text: `${n}`.repeat(1500) }, song.sections[1]] } });
    }
    let versions = await history(app, 'songs', song.id);
    // Thinned as they went: the last 24 hours (5), one per hour for 30 days (6 hours apart: 120),
    // one per day for the 95 days before, and the named one.
    expect(versions.length).to.be.within(5 + 118 + 94 + 1, 5 + 120 + 96 + 1);
    expect(versions.map((v) => v.versionId)).to.include(named.versionId);

    // The strictest rule there is: an hour of everything, no hourly days.
    const stored = (await ok(app, 'system.stats', {})).history;
    expect(await ok(app, 'history.configure', { keepAllHours: 1, hourlyDays: 0 })).to.include({ keepAllHours: 1, hourlyDays: 0 });
    clock.now += 6 * HOUR;
    await ok(app, 'songs.save', { item: { ...song, name: 'after the rule changed' } });
    versions = await history(app, 'songs', song.id);
    // The newest, then one a day (126 days), and the named one.
    expect(versions.length).to.be.within(125, 130);
    const thinned = versions.slice(1).filter((v) => !v.pinned);
    expect(new Set(thinned.map((v) => Math.floor(v.createdAt / DAY))).size, 'one a day').to.equal(thinned.length);
    const kept = versions.find((v) => v.versionId === named.versionId)!;
    expect(kept).to.include({ label: 'Before the gig', pinned: true, revision: 1 });
    expect((await ok(app, 'songs.getVersion', { versionId: named.versionId })).song).to.deep.equal(asNamed);
    expect(content(asNamed)).to.deep.equal(content(created));
    // The versions thinned away took their parts with them, in the same write.
    const now = (await ok(app, 'system.stats', {})).history;
    expect(now.versions).to.equal(versions.length);
    expect(now.parts).to.be.below(stored.parts);
    expect(now.storedBytes).to.be.below(stored.storedBytes);
    // Unpinned, it is an ordinary old version: the next thinning takes it.
    await ok(app, 'songs.labelVersion', { versionId: named.versionId, pinned: false });
    clock.now += HOUR;
    await ok(app, 'songs.save', { item: { ...song, name: 'once more' } });
    const ids = (await history(app, 'songs', song.id)).map((v) => v.versionId);
    expect(ids).to.not.include(named.versionId);
  });

  it('a song deleted three weeks ago comes back with its performances; trash older than trashRetentionDays goes at the next delete, with its history', async () => {
    const { app, clock } = t;
    const perf = (id: string, songId: string): Rec => ({ id, songId, name: `Take ${id}`, arrangementStyle: 'SATB', instrumentationMap: { s: 'v1' }, mixTargets: {} });
    const old = await ok(app, 'songs.create', { item: makeSong({ id: 'OLD', name: 'Deleted by mistake' }) });
    const take = await ok(app, 'performances.create', { item: perf('OLD-take', 'OLD') });
    await ok(app, 'songs.create', { item: makeSong({ id: 'KEEP' }) });
    await ok(app, 'songs.delete', { id: 'OLD' });

    clock.now = T0 + 21 * DAY;
    const back = await ok(app, 'trash.restore', { entity: 'songs', id: 'OLD' });
    expect(back.restored.map((r: Rec) => `${r.entity}:${r.id}`).sort()).to.deep.equal(['performances:OLD-take', 'songs:OLD']);
    expect(content(await ok(app, 'songs.get', { id: 'OLD' }))).to.deep.equal(content(old));
    expect(content(await ok(app, 'performances.get', { id: 'OLD-take' }))).to.deep.equal(content(take));
    expect((await history(app, 'performances', 'OLD-take')).map((v) => v.source)).to.deep.equal(['restore', 'delete', 'save']);

    // Deleted again on day 21; another song on day 40: day 21 is 19 days old, still kept (30).
    await ok(app, 'songs.delete', { id: 'OLD' });
    clock.now = T0 + 40 * DAY;
    await ok(app, 'songs.create', { item: makeSong({ id: 'LATER' }) });
    await ok(app, 'songs.delete', { id: 'LATER' });
    expect((await ok(app, 'trash.list', { entity: 'songs' })).items.map((e: Rec) => e.id)).to.deep.equal(['LATER', 'OLD']);
    // Day 52: OLD's delete is 31 days old and goes at this delete, with its history and its performance's.
    clock.now = T0 + 52 * DAY;
    await ok(app, 'songs.delete', { id: 'KEEP' });
    expect((await ok(app, 'trash.list', {})).items.map((e: Rec) => `${e.entity}:${e.id}`)).to.deep.equal(['songs:KEEP', 'songs:LATER']);
    expect(await history(app, 'songs', 'OLD')).to.deep.equal([]);
    expect(await history(app, 'performances', 'OLD-take')).to.deep.equal([]);
    // A shorter retention takes effect at the next delete.
    await ok(app, 'history.configure', { trashRetentionDays: 1 });
    clock.now += 2 * DAY;
    await ok(app, 'songs.create', { item: makeSong({ id: 'LAST' }) });
    await ok(app, 'songs.delete', { id: 'LAST' });
    expect((await ok(app, 'trash.list', {})).items.map((e: Rec) => e.id)).to.deep.equal(['LAST']);
    expect((await ok(app, 'system.stats', {})).history).to.include({ trashed: 1 });
  });
});
