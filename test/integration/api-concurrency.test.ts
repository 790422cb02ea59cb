/**
 * Optimistic concurrency without holes, from a host's point of view: every write takes the
 * revision it expects (save, saveMany and deleteMany too), every write tells the revision to send
 * next (answers, store.changed, autosave.saved and autosave.flush), and a replaced database is
 * announced once (store.reset).
 */
import { expect } from 'chai';
import * as validators from '../../src/generated/validators.js';
import { fails, invalid, normalized, ok, Procs, tracked } from '../helpers/rpc.js';
import { makeSong } from '../helpers/fixtures.js';
import type { StoreProcess } from '../helpers/process.js';
import { sleep } from '../helpers/check.js';

const procs = new Procs();
afterEach(() => procs.cleanupAll());

type Validate = ((data: unknown) => boolean) & { errors?: unknown };
/** The params validator of a notification (compiled from rpc-schema/notifications/). */
const notificationSchema = (method: string): Validate => (validators as unknown as Record<string, Validate>)[`${method.replace(/\./g, '_')}__params`]!;

/** Waits for `count` notifications of `method`, each valid against its schema. */
async function notified(p: StoreProcess, method: string, count: number, timeoutMs = 5000): Promise<any[]> {
  const validate = notificationSchema(method);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = p.notifications(method);
    if (all.length >= count) {
      for (const n of all) expect(validate(n), `${method} fails its schema: ${JSON.stringify(validate.errors)}`).to.equal(true);
      return all;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} ${method} (have ${all.length})`);
    await sleep(20);
  }
}

describe('ifRevision on save, ifRevisions on saveMany and deleteMany', function () {
  this.timeout(60000);

  it('songs.save with ifRevision: the stored revision saves, another is -32002, a missing song -32001, no id -32602', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: { id: 'A', name: 'A' } });
    const saved = await ok(p, 'songs.save', { item: { id: 'A', name: 'A2' }, ifRevision: s.revision });
    expect(saved.revision).to.equal(s.revision + 1);
    const stale = await fails(p, 'songs.save', { item: { id: 'A', name: 'A3' }, ifRevision: s.revision }, -32002);
    expect(stale.data).to.deep.equal({ entity: 'songs', id: 'A', expected: s.revision, actual: saved.revision });
    expect((await fails(p, 'songs.save', { item: { id: 'nope', name: 'x' }, ifRevision: 1 }, -32001)).data).to.deep.equal({ entity: 'songs', id: 'nope' });
    await invalid(p, 'songs.save', { item: { name: 'no id' }, ifRevision: 1 }, '/item/id');
    expect(await ok(p, 'songs.get', { id: 'A' })).to.deep.equal(saved);
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 1 });
  });

  it('saveMany with one stale revision saves none and answers -32002 with its id, expected and actual', async () => {
    const p = await procs.launch();
    const a = await ok(p, 'songs.create', { item: { id: 'A', name: 'A' } });
    const b = await ok(p, 'songs.create', { item: { id: 'B', name: 'B' } });
    await ok(p, 'songs.update', { item: { id: 'B', name: 'B by someone else' } });
    const mark = p.notifications().length;
    const e = await fails(p, 'songs.saveMany', {
      items: [{ id: 'A', name: 'A2' }, { id: 'B', name: 'B2' }, { name: 'New' }],
      ifRevisions: { A: a.revision, B: b.revision },
    }, -32002);
    expect(e.data).to.deep.equal({ entity: 'songs', id: 'B', expected: b.revision, actual: b.revision + 1 });
    await ok(p, 'system.ping');
    expect(p.notifications().slice(mark), 'nothing written, nothing announced').to.deep.equal([]);
    expect((await ok(p, 'songs.get', { id: 'A' })).name).to.equal('A');
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 2 });
    // With the revisions the host holds now, all of it is saved; store.changed gives each new revision.
    const { response, changes } = await tracked(p, 'songs.saveMany', {
      items: [{ id: 'A', name: 'A2' }, { id: 'B', name: 'B2' }, { id: 'C', name: 'New' }],
      ifRevisions: { A: a.revision, B: b.revision + 1 },
    });
    const items = (response.result as { items: any[] }).items;
    const revisions = Object.fromEntries(items.map((s) => [s.id, s.revision]));
    expect(revisions).to.deep.equal({ A: 2, B: 3, C: 1 });
    expect(normalized(changes)).to.deep.equal([
      { entity: 'songs', op: 'insert', ids: ['C'] },
      { entity: 'songs', op: 'update', ids: ['A', 'B'] },
    ]);
    const announced = Object.assign({}, ...changes.map((c) => c.revisions));
    expect(announced).to.deep.equal(revisions);
  });

  it('saveMany: a missing id in ifRevisions is -32001, an id of no item -32602 at /ifRevisions/<id>', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.create', { item: { id: 'A', name: 'A' } });
    expect((await fails(p, 'songs.saveMany', { items: [{ id: 'Z', name: 'Z' }], ifRevisions: { Z: 1 } }, -32001)).data).to.deep.equal({ entity: 'songs', id: 'Z' });
    await invalid(p, 'songs.saveMany', { items: [{ id: 'A', name: 'A' }], ifRevisions: { 'a/typo': 1 } }, '/ifRevisions/a~1typo');
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 1 });
  });

  it('deleteMany with one stale revision deletes none; with the right ones deletes all', async () => {
    const p = await procs.launch();
    const song = await ok(p, 'songs.create', { item: { name: 'S' } });
    const a = await ok(p, 'performances.create', { item: { id: 'PA', songId: song.id, name: 'A', arrangementStyle: 'SATB' } });
    const b = await ok(p, 'performances.create', { item: { id: 'PB', songId: song.id, name: 'B', arrangementStyle: 'SATB' } });
    await ok(p, 'performances.setFavorite', { id: 'PB', isFavorite: true });
    const e = await fails(p, 'performances.deleteMany', { ids: ['PA', 'PB'], ifRevisions: { PA: a.revision, PB: b.revision } }, -32002);
    expect(e.data).to.deep.equal({ entity: 'performances', id: 'PB', expected: b.revision, actual: b.revision + 1 });
    expect(await ok(p, 'performances.count', {})).to.deep.equal({ count: 2 });
    await invalid(p, 'performances.deleteMany', { ids: ['PA'], ifRevisions: { PB: 2 } }, '/ifRevisions/PB');
    const done = await ok(p, 'performances.deleteMany', { ids: ['PA', 'PB'], ifRevisions: { PB: b.revision + 1 } });
    expect(done).to.include({ count: 2 });
    expect(await ok(p, 'performances.count', {})).to.deep.equal({ count: 0 });
  });
});

describe('the revision to send next', function () {
  this.timeout(60000);

  it("a timer's promotion tells the song's new revision (autosave.saved), and an update with it succeeds", async () => {
    const p = await procs.launch();
    await ok(p, 'autosave.configure', { debounceMs: 50, intervalMs: 3_600_000 });
    const song = await ok(p, 'songs.create', { item: makeSong({ name: 'Open' }) });
    const { revision: _r, updatedAt: _u, ...model } = song;
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: { ...model, name: 'Edited' } }, baseRevision: song.revision });
    const [promotion] = await notified(p, 'autosave.saved', 1);
    expect(promotion).to.include({ songId: song.id, rowWritten: true, revision: song.revision + 1 });
    const changed = p.notifications().filter((c: any) => c.entity === 'songs');
    expect(changed.at(-1)).to.deep.include({ op: 'update', ids: [song.id], revisions: { [song.id]: promotion.revision } });
    const renamed = await ok(p, 'songs.update', { item: { id: song.id, name: 'Renamed' }, ifRevision: promotion.revision });
    expect(renamed).to.include({ name: 'Renamed', revision: promotion.revision + 1 });
  });

  it("autosave.flush answers each snapshot with the song's revision; the next ifRevision holds", async () => {
    const p = await procs.launch();
    await ok(p, 'autosave.configure', { debounceMs: 3_600_000, intervalMs: 3_600_000 });
    const song = await ok(p, 'songs.create', { item: { name: 'Open' } });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: { id: song.id, name: 'Edited' } }, baseRevision: song.revision });
    const flushed = await ok(p, 'autosave.flush', {});
    expect(flushed.unchanged).to.equal(0);
    expect(flushed.saved).to.have.length(1);
    expect(flushed.saved[0]).to.include({ songId: song.id, rowWritten: true, revision: song.revision + 1 });
    const [notice] = await notified(p, 'autosave.saved', 1);
    expect(flushed.saved[0]).to.deep.equal(notice);
    await ok(p, 'songs.setFavorite', { id: song.id, isFavorite: true, ifRevision: flushed.saved[0].revision });
    expect(await ok(p, 'autosave.flush', {})).to.deep.equal({ saved: [], unchanged: 0 });
  });
});

describe('store.reset: one notification when the database is replaced', function () {
  this.timeout(60000);

  it('backup.restore sends exactly one store.reset, before its answer, and answers safetyBackup', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.create', { item: { name: 'Before' } });
    const backup = await ok(p, 'backup.create', {});
    await ok(p, 'songs.create', { item: { name: 'After' } });
    const mark = p.received.length;
    const restored = await ok(p, 'backup.restore', { path: backup.name });
    await ok(p, 'system.ping');
    const after = p.received.slice(mark) as any[];
    const resets = after.filter((m) => m.method === 'store.reset');
    expect(resets).to.have.length(1);
    expect(after.filter((m) => m.method === 'store.changed'), 'one notification: no store.changed beside it').to.deep.equal([]);
    expect(notificationSchema('store.reset')(resets[0].params)).to.equal(true);
    expect(resets[0].params).to.deep.equal({ reason: 'restore', restoredFrom: restored.restoredFrom, schemaVersion: restored.schemaVersion });
    const answerAt = after.findIndex((m) => m.result === restored || (m.result && m.result.restoredFrom === restored.restoredFrom));
    expect(after.indexOf(resets[0])).to.be.below(answerAt);
    expect(restored.safetyBackup).to.include({ kind: 'pre-restore' });
    expect(restored).to.not.have.property('preRestoreBackup');
    expect(restored.counts).to.include({ songs: 1, performances: 0, recent: 0, preferences: 1 });
    expect(Object.keys(restored.counts)).to.not.include.members(['recently_used', 'user_preferences', 'autosave_staging']);
    // A failed restore sends none.
    const before = p.notifications('store.reset').length;
    await fails(p, 'backup.restore', { path: 'no-such-backup.db' }, -32022);
    expect(p.notifications('store.reset')).to.have.length(before);
  });

  it('a restored backup that holds a staged autosave: its recovery is part of the reset, no store.changed beside it', async () => {
    const p = await procs.launch();
    await ok(p, 'autosave.configure', { debounceMs: 3_600_000, intervalMs: 3_600_000 });
    const song = await ok(p, 'songs.create', { item: { name: 'Open in the editor' } });
    await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: { ...song, name: 'Unsaved edit' } } });
    const backup = await ok(p, 'backup.create', {});
    await ok(p, 'autosave.flush', {});
    const mark = p.received.length;
    await ok(p, 'backup.restore', { path: backup.name });
    await ok(p, 'system.ping');
    const after = p.received.slice(mark) as any[];
    expect(after.filter((m) => m.method === 'store.reset')).to.have.length(1);
    expect(after.filter((m) => m.method === 'store.changed'), 'one notification: no store.changed beside it').to.deep.equal([]);
    // What the backup had staged is recoverable, as after a start.
    const recoverable = await ok(p, 'autosave.recoverable', {});
    expect(recoverable.items.map((x: any) => [x.songId, x.recovered])).to.deep.equal([[song.id, true]]);
  });

  it('import.full sends one store.reset (reason import); import.songs {replace} answers safetyBackup as a BackupInfo', async () => {
    const p = await procs.launch();
    const s = await ok(p, 'songs.create', { item: { name: 'Kept' } });
    const exported = await ok(p, 'export.full', {});
    const changed = p.notifications('store.changed').length;
    const imported = await ok(p, 'import.full', { path: exported.path });
    await ok(p, 'system.ping');
    expect(p.notifications('store.changed'), 'one notification: no store.changed beside it').to.have.length(changed);
    const resets = p.notifications('store.reset');
    expect(resets).to.deep.equal([{ reason: 'import', restoredFrom: imported.restoredFrom, schemaVersion: imported.schemaVersion }]);
    expect(imported.safetyBackup).to.include({ kind: 'pre-import' });
    const file = await ok(p, 'export.songs', { ids: [s.id] });
    const replaced = await ok(p, 'import.songs', { path: file.path, onConflict: 'replace' });
    expect(replaced.safetyBackup).to.include({ kind: 'pre-import' });
    expect(replaced.safetyBackup.path).to.be.a('string');
    expect(p.notifications('store.reset')).to.have.length(1);
  });

  it('system.stats and backup.verify count by family, never by table', async () => {
    const p = await procs.launch();
    await ok(p, 'songs.create', { item: { name: 'S' } });
    const stats = await ok(p, 'system.stats', {});
    expect(stats.counts).to.include({ songs: 1, recent: 0, preferences: 1, staged: 0 });
    const backup = await ok(p, 'backup.create', {});
    const verified = await ok(p, 'backup.verify', { path: backup.name });
    expect(verified.counts).to.deep.equal(stats.counts);
    expect((await ok(p, 'system.doctor', {})).counts).to.deep.equal(stats.counts);
  });
});
