/**
 * A full disk at every write path that test/integration/faults.test.ts does not already cover
 * (it covers the songs family, backup.create/restore, export.* and import.*, and the shutdown):
 * instruments, voices, presets and performances (each verb that writes), preferences, recent,
 * autosave (stage, flush, configure, restore), backup.prune and system.doctor {vacuum}; and a
 * start on a full disk.
 *
 * Each write on the full disk must answer StorageFull (-32010) with a message, change nothing in
 * the database (its .dump is byte-identical), leave no file behind, and succeed once space is
 * freed. The disk is a small tmpfs the test mounts (root and Linux; skipped otherwise).
 *
 * Why every write needs a new block here: the WAL is checkpointed and truncated to zero bytes
 * just before the disk is filled, so a commit must grow the -wal file, and a failed one allocates
 * nothing (the disk has no block at all).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, statfsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { StoreProcess, runOnce } from '../helpers/process.js';
import { makeSong } from '../helpers/fixtures.js';
import { sha256, sqlite3 } from '../helpers/check.js';
import { buildV1 } from './v1-database.js';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

const STORAGE_FULL = -32010;
const TMPFS_SIZE = '16m';


/** Every file under `dir` with its size (the database's -wal and -shm included). */
function listing(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => statSync(join(dir, f)).isFile() && f !== join('logs', 'persistence.log'))
    .map((f) => `${f} ${statSync(join(dir, f)).size}`)
    .sort();
}

describe('disk full: every write path answers StorageFull, changes nothing, and works once space is freed', function () {
  this.timeout(60000);

  let mountPoint: string | undefined;
  let proc: StoreProcess | undefined;

  beforeEach(function () {
    mountPoint = mountTmpfs(this, TMPFS_SIZE, 'wr-disk-full-');
  });

  afterEach(async function () {
    try {
      await proc?.cleanup();
    } finally {
      proc = undefined;
      const dir = mountPoint;
      mountPoint = undefined;
      unmountTmpfs(dir);
    }
  });

  it('instruments, voices, presets, performances, preferences, recent, autosave, backup.prune and system.doctor {vacuum}', async function () {
    const dataDir = join(mountPoint!, 'data');
    mkdirSync(dataDir);
    const dbPath = join(dataDir, 'data.db');
    const p = (proc = await StoreProcess.start({ dataDir }));

    // What the writes work on.
    const song = await p.call('songs.save', { item: makeSong({ id: 'song-1' }) });
    const inst = (id: string): Record<string, unknown> => ({ id, name: `Instrument ${id}`, type: 'synth' });
    const voice = (id: string): Record<string, unknown> => ({ id, instrumentId: 'inst-1', name: `Voice ${id}`, number: 1 });
    const preset = (id: string): Record<string, unknown> => ({ id, instrumentId: 'inst-1', voiceId: 'voice-1', name: `Preset ${id}`, parameters: { cutoff: 0.5 } });
    const perf = (id: string): Record<string, unknown> => ({ id, songId: song.id, name: `Performance ${id}`, arrangementStyle: 'SATB', instrumentationMap: {}, mixTargets: {} });
    await p.call('instruments.saveMany', { items: ['inst-1', 'inst-del', 'inst-del-a', 'inst-del-b'].map(inst) });
    await p.call('voices.saveMany', { items: ['voice-1', 'voice-del', 'voice-del-a', 'voice-del-b'].map(voice) });
    await p.call('presets.saveMany', { items: ['preset-1', 'preset-del', 'preset-del-a', 'preset-del-b'].map(preset) });
    await p.call('performances.saveMany', { items: ['perf-1', 'perf-del', 'perf-del-a', 'perf-del-b'].map(perf) });
    await p.call('recent.touch', { itemType: 'song', itemId: song.id, itemName: song.name });
    // Promotions only when the test asks (no timer may write meanwhile).
    await p.call('autosave.configure', { debounceMs: 3_600_000, intervalMs: 86_400_000 });
    await p.call('autosave.stage', { songId: song.id, snapshot: { song: { ...song, name: 'first' }, state: { n: 1 } } });
    const snapshot = (await p.call('autosave.flush', {})).saved[0].autosaveId;
    await p.call('autosave.stage', { songId: song.id, snapshot: { song: { ...song, name: 'staged' }, state: { n: 2 } } });
    for (let n = 0; n < 3; n++) await p.call('backup.create', { label: `b${n}` });

    const writes: [string, unknown][] = [
      ['instruments.create', { item: inst('inst-new') }],
      ['instruments.update', { item: { ...inst('inst-1'), name: 'renamed' } }],
      ['instruments.save', { item: inst('inst-saved') }],
      ['instruments.saveMany', { items: [inst('inst-m1'), inst('inst-m2')] }],
      ['instruments.delete', { id: 'inst-del' }],
      ['instruments.deleteMany', { ids: ['inst-del-a', 'inst-del-b'] }],
      ['voices.create', { item: voice('voice-new') }],
      ['voices.update', { item: { ...voice('voice-1'), name: 'renamed' } }],
      ['voices.save', { item: voice('voice-saved') }],
      ['voices.saveMany', { items: [voice('voice-m1'), voice('voice-m2')] }],
      ['voices.delete', { id: 'voice-del' }],
      ['voices.deleteMany', { ids: ['voice-del-a', 'voice-del-b'] }],
      ['presets.create', { item: preset('preset-new') }],
      ['presets.update', { item: { ...preset('preset-1'), name: 'renamed' } }],
      ['presets.save', { item: preset('preset-saved') }],
      ['presets.saveMany', { items: [preset('preset-m1'), preset('preset-m2')] }],
      ['presets.delete', { id: 'preset-del' }],
      ['presets.deleteMany', { ids: ['preset-del-a', 'preset-del-b'] }],
      ['performances.create', { item: perf('perf-new') }],
      ['performances.update', { item: { ...perf('perf-1'), name: 'renamed' } }],
      ['performances.save', { item: perf('perf-saved') }],
      ['performances.saveMany', { items: [perf('perf-m1'), perf('perf-m2')] }],
      ['performances.setFavorite', { id: 'perf-1', isFavorite: true }],
      ['performances.markPlayed', { id: 'perf-1' }],
      ['performances.delete', { id: 'perf-del' }],
      ['performances.deleteMany', { ids: ['perf-del-a', 'perf-del-b'] }],
      ['preferences.update', { patch: { theme: 'light', fontSize: 'large' } }],
      ['preferences.reset', {}],
      ['recent.touch', { itemType: 'instrument', itemId: 'inst-1', itemName: 'Instrument inst-1' }],
      ['recent.clear', {}],
      ['autosave.stage', { songId: song.id, snapshot: { song: { ...song, name: 'staged again' }, state: { n: 3 } } }],
      ['autosave.flush', {}],
      ['autosave.configure', { debounceMs: 3_500_000 }],
      ['autosave.restore', { id: snapshot }],
      ['system.doctor', { vacuum: true }],
    ];

    // The WAL emptied into data.db and truncated: from here a commit must allocate new blocks.
    expect(sqlite3(dbPath, 'PRAGMA wal_checkpoint(TRUNCATE)')).to.equal('0|0|0');
    expect(statSync(`${dbPath}-wal`).size).to.equal(0);
    const dump = (): string => sha256(execFileSync('sqlite3', [dbPath, '.dump'], { maxBuffer: 64 << 20 }));
    const dumpBefore = dump();
    const filler = join(mountPoint!, 'filler');
    fillDisk(filler);
    expect(statfsSync(mountPoint!).bavail, 'free blocks after the filler').to.equal(0);
    const filesBefore = listing(dataDir);

    for (const [method, params] of writes) {
      const r = await p.request(method, params);
      expect(r.error, `${method} on a full disk answered ${JSON.stringify(r.result)}`).to.not.equal(undefined);
      expect({ method, code: r.error!.code }, `${method}: ${JSON.stringify(r.error)}; stderr: ${p.stderr.slice(-1500)}`).to.deep.equal({ method, code: STORAGE_FULL });
      expect(r.error!.message, method).to.be.a('string').and.not.be.empty;
      expect(listing(dataDir), `${method} left no file behind`).to.deep.equal(filesBefore);
    }
    expect(dump(), 'the failed writes changed nothing').to.equal(dumpBefore);
    expect(p.child.exitCode, 'the sidecar is still running').to.equal(null);

    // backup.prune only removes files: on a full disk it is how space is made, so it works.
    const pruned = await p.call('backup.prune', { keep: 1 });
    expect(pruned.deleted).to.have.length(2);
    expect(pruned.freedBytes).to.be.greaterThan(0);
    fillDisk(join(mountPoint!, 'filler-2'));

    // Space freed: every one of them works, in the same order.
    unlinkSync(filler);
    unlinkSync(join(mountPoint!, 'filler-2'));
    for (const [method, params] of writes) {
      const r = await p.request(method, params);
      expect(r.error, `${method} once space is freed: ${JSON.stringify(r.error)}`).to.equal(undefined);
    }
    const exit = await p.close();
    expect(exit, `shutdown; stderr: ${p.stderr}`).to.deep.equal({ code: 0, signal: null });
    expect(p.stderr, 'no internal error was logged').not.to.include('internal error');
    expect(sqlite3(dbPath, 'PRAGMA integrity_check')).to.equal('ok');
    expect(sqlite3(dbPath, 'PRAGMA foreign_key_check')).to.equal('');
  });

  it('history and trash: restoreVersion, saveVersion, labelVersion, trash.restore, trash.empty, history.configure and the deletes that keep a version', async function () {
    const dataDir = join(mountPoint!, 'data');
    mkdirSync(dataDir);
    const dbPath = join(dataDir, 'data.db');
    const p = (proc = await StoreProcess.start({ dataDir }));
    const perf = (id: string, songId: string): Record<string, unknown> => ({ id, songId, name: `Performance ${id}`, arrangementStyle: 'SATB', instrumentationMap: {}, mixTargets: {} });
    const s = await p.call('songs.save', { item: makeSong({ id: 'h-1', name: 'A' }) });
    await p.call('songs.save', { item: { ...s, name: 'B' } });
    const q = await p.call('performances.save', { item: perf('h-perf', 'h-1') });
    await p.call('performances.save', { item: { ...q, name: 'renamed' } });
    for (const id of ['h-gone', 'h-gone-2']) {
      await p.call('songs.save', { item: makeSong({ id }) });
      await p.call('performances.save', { item: perf(`${id}-perf`, id) });
      await p.call('songs.delete', { id });
    }
    const oldest = async (family: string, id: string): Promise<string> => (await p.call(`${family}.history`, { id })).items.at(-1).versionId;
    const named = await p.call('songs.saveVersion', { id: 'h-1', label: 'named' });
    const rule = await p.call('history.configure', {});
    const writes: [string, unknown][] = [
      ['songs.restoreVersion', { versionId: await oldest('songs', 'h-1') }],
      ['performances.restoreVersion', { versionId: await oldest('performances', 'h-perf') }],
      ['songs.restoreVersion', { versionId: await oldest('songs', 'h-gone-2') }],
      ['songs.saveVersion', { id: 'h-1', label: 'on a full disk' }],
      ['performances.saveVersion', { id: 'h-perf', label: 'on a full disk' }],
      ['songs.labelVersion', { versionId: named.versionId, label: 'renamed' }],
      ['songs.labelVersion', { versionId: named.versionId, pinned: false }],
      ['trash.restore', { entity: 'songs', id: 'h-gone' }],
      ['history.configure', { keepAllHours: 2, trashRetentionDays: 5 }],
      ['performances.delete', { id: 'h-perf' }],
      ['songs.delete', { id: 'h-1' }],
      ['trash.empty', { olderThanDays: 0 }],
      ['trash.empty', {}],
    ];
    const reads = async (): Promise<unknown> => ({
      rule: await p.call('history.configure', {}),
      trash: await p.call('trash.list', {}),
      stats: (await p.call('system.stats', {})).history,
      versions: await Promise.all(['h-1', 'h-gone', 'h-gone-2'].map((id) => p.call('songs.history', { id }))),
    });
    expect(sqlite3(dbPath, 'PRAGMA wal_checkpoint(TRUNCATE)')).to.equal('0|0|0');
    const dump = (): string => sha256(execFileSync('sqlite3', [dbPath, '.dump'], { maxBuffer: 64 << 20 }));
    const dumpBefore = dump();
    const readsBefore = await reads();
    const filler = join(mountPoint!, 'filler');
    fillDisk(filler);
    expect(statfsSync(mountPoint!).bavail, 'free blocks after the filler').to.equal(0);
    const filesBefore = listing(dataDir);
    for (const [method, params] of writes) {
      const r = await p.request(method, params);
      expect({ method, code: r.error?.code }, `${method}: ${JSON.stringify(r.error ?? r.result)}; stderr: ${p.stderr.slice(-1500)}`).to.deep.equal({ method, code: STORAGE_FULL });
      expect(listing(dataDir), `${method} left no file behind`).to.deep.equal(filesBefore);
      // What the sidecar answers afterwards is what the file holds: nothing a failed write did is remembered.
      expect(await reads(), `reads after ${method}`).to.deep.equal(readsBefore);
    }
    expect(dump(), 'the failed writes changed nothing').to.equal(dumpBefore);
    expect(await p.call('history.configure', {})).to.deep.equal(rule);

    unlinkSync(filler);
    for (const [method, params] of writes) {
      const r = await p.request(method, params);
      expect(r.error, `${method} once space is freed: ${JSON.stringify(r.error)}`).to.equal(undefined);
    }
    expect(await p.call('history.configure', {})).to.deep.equal({ keepAllHours: 2, hourlyDays: rule.hourlyDays, trashRetentionDays: 5 });
    expect((await p.call('trash.list', {})).items).to.deep.equal([]);
    const exit = await p.close();
    expect(exit, `shutdown; stderr: ${p.stderr}`).to.deep.equal({ code: 0, signal: null });
    expect(p.stderr, 'no internal error was logged').not.to.include('internal error');
    expect(sqlite3(dbPath, 'PRAGMA integrity_check')).to.equal('ok');
  });

  it('refuses to start on a full disk with one line saying the disk is full, exit 1', async function () {
    const dataDir = join(mountPoint!, 'data');
    mkdirSync(dataDir);
    fillDisk(join(mountPoint!, 'filler'));
    const run = await runOnce(['--data-dir', dataDir, '--log-level', 'warn', '--auto-backup-hours', '0'], '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    expect(run.code, `exit; stderr: ${run.stderr}`).to.equal(1);
    expect(run.stdout, 'nothing on stdout').to.equal('');
    const human = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
    expect(human, `stderr: ${run.stderr}`).to.have.length(1);
    expect(human[0]).to.match(/^whiteroom-store: .*(disk is full|disk full|no space|the disk holding .* is full)/i);
  });

  it('refuses to migrate a version-1 database on a full disk: exit 1, the file still whole at version 1, no partial backup', async function () {
    const dataDir = join(mountPoint!, 'data');
    mkdirSync(dataDir);
    const dbPath = join(dataDir, 'data.db');
    const songs = buildV1(dbPath, 200, 8000);
    fillDisk(join(mountPoint!, 'filler'));
    const run = await runOnce(['--data-dir', dataDir, '--log-level', 'warn', '--auto-backup-hours', '0'], '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    expect(run.code, `exit; stderr: ${run.stderr}`).to.equal(1);
    expect(run.stdout, 'nothing on stdout').to.equal('');
    const human = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
    expect(human, `stderr: ${run.stderr}`).to.have.length(1);
    expect(human[0]).to.match(/^whiteroom-store: .*(disk is full|disk full|no space|the disk holding .* is full)/i);
    expect(sqlite3(dbPath, 'PRAGMA user_version'), 'still version 1').to.equal('1');
    expect(sqlite3(dbPath, 'PRAGMA integrity_check')).to.equal('ok');
    expect(Number(sqlite3(dbPath, 'SELECT count(*) FROM songs'))).to.equal(songs);
    expect(readdirSync(join(dataDir, 'backups')), 'no partial pre-migration backup').to.deep.equal([]);
  });
});

