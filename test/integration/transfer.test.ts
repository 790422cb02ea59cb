/**
 * export.songs / import.songs, system.stats, system.doctor, and the recovery of a damaged data.db
 * at start, through the real process only (RPC, exit status, stderr and the files of the data
 * directory), so the suite also runs against the packaged binary (WHITEROOM_STORE_BIN). Every
 * successful answer is checked against its result schema (`ok`).
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSong } from '../helpers/fixtures.js';
import { runOnce, type StoreProcess } from '../helpers/process.js';
import { fails, listAll, ok, Procs, stop } from '../helpers/rpc.js';
import { scribble, sha256File } from '../helpers/check.js';

type Json = Record<string, any>;

const INVALID_IMPORT = -32021;
const PAGE_SIZE = 4096;

const procs = new Procs();
const NO_AUTO = ['--auto-backup-hours', '0'];


function launch(dataDir?: string): Promise<StoreProcess> {
  return procs.launch({ ...(dataDir === undefined ? {} : { dataDir }), args: NO_AUTO });
}

let perfCounter = 0;
function makePerformance(songId: string, overrides: Json = {}): Json {
  perfCounter++;
  return {
    id: `it-perf-${perfCounter}-${Date.now()}`,
    songId,
    name: `Take ${perfCounter}`,
    arrangementStyle: 'SATB',
    density: 0.6,
    instrumentationMap: { soprano: { voice: 's1', extra: [1, { deep: null }] } },
    mixTargets: { lufs: -16, unknownLater: { x: 'y' } },
    automation: [{ lane: 'vol', points: [[0, 1], [1, 0.5]] }],
    keyChanges: [{ bar: 9, key: 'D major' }],
    metadata: { note: 'verbatim' },
    ...overrides,
  };
}

/** stderr lines that are not JSON log records. */
const humanLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));

/** A library: songs edited, favourited and played, with performances. */
async function populate(p: StoreProcess): Promise<{ songIds: string[]; perfIds: string[] }> {
  const songIds: string[] = [];
  for (let i = 0; i < 4; i++) songIds.push((await ok(p, 'songs.save', { item: makeSong({ name: `Round trip ${i}` }) })).id);
  const bare = makeSong({ name: 'Bare', metadata: { tempo: 72.25, timeSignature: [7, 8], tags: [] } });
  delete bare.realizationPolicy;
  songIds.push((await ok(p, 'songs.save', { item: bare })).id);
  const edited = await ok(p, 'songs.get', { id: songIds[1] });
  await ok(p, 'songs.save', { item: { ...edited, name: 'Round trip 1, edited' } });
  await ok(p, 'songs.setFavorite', { id: songIds[2], isFavorite: true });
  await ok(p, 'songs.markPlayed', { id: songIds[2] });
  const perfIds: string[] = [];
  for (const songId of [songIds[0]!, songIds[0]!, songIds[4]!]) {
    perfIds.push((await ok(p, 'performances.save', { item: makePerformance(songId) })).id);
  }
  await ok(p, 'performances.markPlayed', { id: perfIds[1] });
  return { songIds, perfIds };
}

describe('transfer: export.songs and import.songs through the process', function () {
  this.timeout(30000);
  afterEach(() => procs.cleanupAll());

  it('an export imported into an empty data directory reads back byte-for-byte equal, performances included', async () => {
    const a = await launch();
    const { songIds, perfIds } = await populate(a);
    const exp = await ok(a, 'export.songs', {});
    expect(exp.path.startsWith(join(a.dataDir, 'exports'))).to.equal(true);
    expect(exp.path).to.match(/songs_export_\d{4}-\d{2}-\d{2}_\d{6}\.json$/);
    expect(exp).to.include({ songs: songIds.length, performances: perfIds.length, sizeBytes: statSync(exp.path).size });
    expect(readdirSync(join(a.dataDir, 'exports')), 'no temp file left').to.deep.equal([exp.path.split('/').pop()]);
    const doc = JSON.parse(readFileSync(exp.path, 'utf8'));
    expect(doc).to.include({ format: 'whiteroom-songs-export', formatVersion: 1 });
    expect(doc.app.name).to.equal('whiteroom-store');
    expect(doc.app.version).to.equal((await ok(a, 'system.info')).version);

    const b = await launch();
    expect(await ok(b, 'songs.count', {})).to.deep.equal({ count: 0 });
    const result = await ok(b, 'import.songs', { path: exp.path, onConflict: 'skip' });
    expect(result).to.deep.equal({ songs: songIds.length, performances: perfIds.length, skipped: 0, replaced: 0, duplicated: 0, conflicts: [], versions: 0 });

    for (const id of songIds) {
      const [x, y] = await Promise.all([a.request('songs.get', { id }), b.request('songs.get', { id })]);
      expect(JSON.stringify(y.result), id).to.equal(JSON.stringify(x.result));
      expect(x.result.id).to.equal(id);
    }
    for (const id of perfIds) {
      const [x, y] = await Promise.all([a.request('performances.get', { id }), b.request('performances.get', { id })]);
      expect(JSON.stringify(y.result), id).to.equal(JSON.stringify(x.result));
      expect(x.result.id).to.equal(id);
    }
    expect((await ok(b, 'songs.get', { id: songIds[1] })).revision).to.equal(2);
    expect(JSON.stringify((await listAll(b, 'songs.list', { orderBy: 'createdAt' })).items)).to.equal(
      JSON.stringify((await listAll(a, 'songs.list', { orderBy: 'createdAt' })).items),
    );
    expect((await ok(b, 'songs.search', { query: 'edited' })).items.map((s: Json) => s.id)).to.deep.equal([songIds[1]]);
    await stop(a);
    await stop(b);
  });

  it('a bad file is -32021 naming every record and field at fault, and nothing is written', async () => {
    const a = await launch();
    const { songIds } = await populate(a);
    const exp = await ok(a, 'export.songs', { ids: [songIds[0], songIds[1], songIds[4]], path: 'three.json' });
    expect(exp.path).to.equal(join(a.dataDir, 'exports', 'three.json'));
    const doc = JSON.parse(readFileSync(exp.path, 'utf8'));
    doc.songs[1].metadata.tempo = 'fast';
    delete doc.songs[2].name;
    doc.performances[0].songId = 'no-such-song';

    const b = await launch();
    const existing = await ok(b, 'songs.save', { item: makeSong({ name: 'Already here' }) });
    writeFileSync(join(b.dataDir, 'exports', 'bad.json'), JSON.stringify(doc));
    const e = await fails(b, 'import.songs', { path: 'bad.json', onConflict: 'replace' }, INVALID_IMPORT);
    const errors = e.data.errors as Json[];
    const byPath = new Map(errors.map((x) => [x.path, x]));
    expect([...byPath.keys()].sort()).to.deep.equal(['/performances/0/songId', '/songs/1/metadata/tempo', '/songs/2/name']);
    expect(byPath.get('/songs/1/metadata/tempo')).to.include({ id: songIds[1] });
    expect(byPath.get('/songs/1/metadata/tempo')!.message).to.match(/number/);
    expect(byPath.get('/songs/2/name')).to.deep.equal({ path: '/songs/2/name', message: 'is required', id: songIds[4] });
    expect(byPath.get('/performances/0/songId')).to.include({ id: doc.performances[0].id });
    expect(e.message).to.match(/nothing was imported/);

    expect(await ok(b, 'songs.count', {})).to.deep.equal({ count: 1 });
    expect(await ok(b, 'performances.count', {})).to.deep.equal({ count: 0 });
    expect(await ok(b, 'songs.get', { id: existing.id })).to.deep.equal(existing);
    expect((await ok(b, 'backup.list', {})).items, 'no pre-import backup for a file that was refused').to.deep.equal([]);

    // Not JSON at all.
    writeFileSync(join(b.dataDir, 'exports', 'torn.json'), '{"format":"whiteroom-songs-export","songs":[{');
    const torn = await fails(b, 'import.songs', { path: join(b.dataDir, 'exports', 'torn.json'), onConflict: 'skip' }, INVALID_IMPORT);
    expect(torn.data.errors).to.have.length(1);
    expect(torn.data.errors[0].message).to.match(/^not JSON/);
    expect(await ok(b, 'songs.count', {})).to.deep.equal({ count: 1 });
    await stop(a);
    await stop(b);
  });

  it('onConflict replace overwrites the stored songs after a pre-import backup it names', async () => {
    const p = await launch();
    const song = await ok(p, 'songs.save', { item: makeSong({ name: 'As exported' }) });
    const perf = await ok(p, 'performances.save', { item: makePerformance(song.id, { name: 'Take as exported' }) });
    const exp = await ok(p, 'export.songs', { ids: [song.id] });
    const edited = await ok(p, 'songs.save', { item: { ...song, name: 'Edited after the export' } });
    await ok(p, 'performances.save', { item: { ...perf, name: 'Take edited' } });

    const result = await ok(p, 'import.songs', { path: exp.path, onConflict: 'replace' });
    expect(result).to.include({ songs: 1, performances: 1, skipped: 0, replaced: 1, duplicated: 0 });
    expect(result.safetyBackup.path).to.be.a('string');
    expect(result.safetyBackup.path.startsWith(join(p.dataDir, 'backups'))).to.equal(true);
    expect(existsSync(result.safetyBackup.path)).to.equal(true);
    const listed = (await ok(p, 'backup.list', { kind: 'pre-import' })).items as Json[];
    expect(listed).to.deep.equal([result.safetyBackup]);
    expect(listed[0]!.kind).to.equal('pre-import');

    const now = await ok(p, 'songs.get', { id: song.id });
    expect(now.name).to.equal('As exported');
    expect(now.revision).to.equal(edited.revision + 1);
    expect(now.createdAt).to.equal(song.createdAt);
    expect((await ok(p, 'performances.get', { id: perf.id })).name).to.equal('Take as exported');
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 1 });

    // skip and duplicate take no backup.
    expect(await ok(p, 'import.songs', { path: exp.path, onConflict: 'skip' })).to.deep.equal({
      songs: 0,
      performances: 0,
      skipped: 1,
      replaced: 0,
      duplicated: 0,
      conflicts: [],
      versions: 0,
    });
    const dup = await ok(p, 'import.songs', { path: exp.path, onConflict: 'duplicate' });
    expect(dup).to.deep.equal({ songs: 1, performances: 1, skipped: 0, replaced: 0, duplicated: 1, conflicts: [], versions: 0 });
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 2 });
    expect((await ok(p, 'backup.list', {})).items).to.have.length(1);
    await stop(p);
  });

  it('a performance the file gives to another song than the stored one is answered as a conflict: skip keeps it, duplicate copies it, replace moves it', async () => {
    const p = await launch();
    const a = await ok(p, 'songs.save', { item: makeSong({ name: 'Stored owner' }) });
    const b = await ok(p, 'songs.save', { item: makeSong({ name: 'Owner in the file' }) });
    const perf = await ok(p, 'performances.save', { item: makePerformance(a.id, { name: 'Take of A' }) });
    const exp = await ok(p, 'export.songs', { ids: [a.id] });
    const doc = JSON.parse(readFileSync(exp.path, 'utf8'));
    doc.songs = [];
    doc.performances[0].songId = b.id;
    doc.performances[0].name = 'Take of B';
    writeFileSync(join(p.dataDir, 'exports', 'moved.json'), JSON.stringify(doc));
    const conflict = (resolution: string): Json => ({
      entity: 'performances',
      id: perf.id,
      reason: 'other-song',
      songId: b.id,
      storedSongId: a.id,
      resolution,
    });

    const skip = await ok(p, 'import.songs', { path: 'moved.json', onConflict: 'skip' });
    expect(skip).to.deep.equal({ songs: 0, performances: 0, skipped: 0, replaced: 0, duplicated: 0, conflicts: [conflict('kept')], versions: 0 });
    expect(await ok(p, 'performances.get', { id: perf.id }), 'skip: the stored performance wins').to.deep.equal(perf);

    const dup = await ok(p, 'import.songs', { path: 'moved.json', onConflict: 'duplicate' });
    expect(dup).to.deep.equal({ songs: 0, performances: 1, skipped: 0, replaced: 0, duplicated: 0, conflicts: [conflict('duplicated')], versions: 0 });
    expect(await ok(p, 'performances.get', { id: perf.id }), 'duplicate: the stored performance stays').to.deep.equal(perf);
    const ofB = (await listAll(p, 'performances.list', { songId: b.id })).items as Json[];
    expect(ofB.map((x) => x.name)).to.deep.equal(['Take of B']);
    expect(ofB[0]!.id).to.not.equal(perf.id);

    const rep = await ok(p, 'import.songs', { path: 'moved.json', onConflict: 'replace' });
    expect(rep.conflicts).to.deep.equal([conflict('moved')]);
    expect(rep).to.include({ songs: 0, performances: 1, replaced: 0 });
    const moved = await ok(p, 'performances.get', { id: perf.id });
    expect(moved, 'replace: the file wins').to.include({ songId: b.id, name: 'Take of B' });
    expect(await ok(p, 'performances.count', {})).to.deep.equal({ count: 2 });
    await stop(p);
  });
});

describe('transfer: system.stats and system.doctor', function () {
  this.timeout(30000);
  afterEach(() => procs.cleanupAll());

  it('system.stats: sizes, counts, backups, the last backup and the last autosave', async () => {
    const p = await launch();
    const empty = await ok(p, 'system.stats', {});
    expect(empty).to.include({ backupCount: 0, backupsBytes: 0, exportsBytes: 0, pageSize: PAGE_SIZE });
    expect(empty.dbBytes).to.be.above(0);
    expect(empty.pageCount).to.be.above(1);
    expect(empty.counts).to.include({ songs: 0, performances: 0, autosaves: 0 });
    expect(empty).to.not.have.any.keys('lastBackup', 'lastAutosaveAt');
    expect(empty.damagedFiles).to.deep.equal([]);

    const song = await ok(p, 'songs.save', { item: makeSong() });
    await ok(p, 'performances.save', { item: makePerformance(song.id) });
    const made = await ok(p, 'backup.create', { label: 'for stats' });
    const exp = await ok(p, 'export.songs', {});
    const stats = await ok(p, 'system.stats', {});
    expect(stats.counts).to.include({ songs: 1, performances: 1 });
    expect(stats.backupCount).to.equal(1);
    expect(stats.backupsBytes).to.equal(statSync(made.path).size);
    expect(stats.exportsBytes).to.equal(exp.sizeBytes);
    const listed = (await ok(p, 'backup.list', {})).items;
    expect(stats.lastBackup).to.deep.equal(listed[0]);
    expect(stats.lastBackup).to.include({ path: made.path, kind: 'manual', label: 'for stats' });
    expect(stats).to.not.have.property('lastAutosaveAt');

    const staged = await ok(p, 'autosave.stage', { songId: song.id, snapshot: { song: { ...song, name: 'Being edited' } } });
    const flushed = await ok(p, 'autosave.flush', {});
    expect(flushed.saved).to.have.length(1);
    const after = await ok(p, 'system.stats', {});
    expect(after.lastAutosaveAt).to.be.a('number').at.least(staged.stagedAt);
    expect(after.lastAutosaveAt).to.equal((await ok(p, 'autosave.get', { id: flushed.saved[0].autosaveId })).createdAt);
    expect(after.counts.autosaves).to.equal(1);
    await stop(p);
  });

  it('system.doctor is ok on a sound store, and vacuum gives back the space of deleted songs', async () => {
    const p = await launch();
    const words = ['amber', 'birch', 'cedar'];
    const ids: string[] = [];
    const kept = new Map<string, string>();
    const items = Array.from({ length: 15 }, (_, i) =>
      makeSong({ name: i % 5 === 0 ? `Keeper ${words[i / 5]}` : `Gone ${i}`, sections: [{ id: 'big', blob: `${i}`.padEnd(200_000, 'x') }] }),
    );
    for (const s of (await ok(p, 'songs.saveMany', { items })).items) ids.push(s.id);
    expect(ids).to.deep.equal(items.map((s) => s.id));
    items.forEach((s, i) => {
      if (i % 5 === 0) kept.set(words[i / 5]!, s.id);
    });
    const sound = await ok(p, 'system.doctor', {});
    expect(sound).to.include({ ok: true, foreignKeyViolations: 0, pageSize: PAGE_SIZE });
    expect(sound.integrity).to.deep.equal(['ok']);
    expect(sound.counts.songs).to.equal(15);
    expect(sound).to.not.have.property('vacuum');

    await ok(p, 'songs.deleteMany', { ids: items.filter((_, i) => i % 5 !== 0).map((s) => s.id) });
    const r = await ok(p, 'system.doctor', { vacuum: true });
    expect(r.ok).to.equal(true);
    expect(r.vacuum.afterBytes).to.be.below(r.vacuum.beforeBytes);
    expect(r.vacuum.beforeBytes - r.vacuum.afterBytes, 'about 12 songs of 200 KB').to.be.above(2_000_000);
    expect(r.freePages).to.equal(0);
    expect(r.counts.songs).to.equal(3);
    expect(r.dbBytes).to.equal(statSync(join(p.dataDir, 'data.db')).size);

    for (const [word, id] of kept) {
      const found = (await ok(p, 'songs.search', { query: word })).items;
      expect(found.map((s: Json) => s.id), word).to.deep.equal([id]);
      expect(found[0]).to.deep.equal(await ok(p, 'songs.get', { id }));
    }
    expect((await ok(p, 'songs.search', { query: 'gone' })).items).to.deep.equal([]);
    expect((await ok(p, 'system.stats', {})).freePages).to.equal(0);
    await stop(p);
  });

  it('system.doctor {vacuum: true} leaves no free pages when the full-text index is large, and search still finds the songs kept', async () => {
    const p = await launch();
    // Comments of distinct words: a full-text index of many pages, whose rebuild frees as many.
    const word = (i: number, j: number): string => `w${i}x${j}`;
    const items = Array.from({ length: 2000 }, (_, i) =>
      makeSong({ name: `Indexed ${i}`, metadata: { ...makeSong().metadata, comments: Array.from({ length: 40 }, (_, j) => word(i, j)).join(' ') } }),
    );
    await ok(p, 'songs.saveMany', { items });
    await ok(p, 'songs.deleteMany', { ids: items.filter((_, i) => i % 2 === 1).map((s) => s.id) });
    const r = await ok(p, 'system.doctor', { vacuum: true });
    expect(r.ok).to.equal(true);
    expect(r.freePages, 'free pages after the VACUUM').to.equal(0);
    expect(r.vacuum.afterBytes).to.be.below(r.vacuum.beforeBytes);
    expect((await ok(p, 'system.stats', {})).freePages).to.equal(0);
    for (const i of [0, 2, 1998]) expect((await ok(p, 'songs.search', { query: word(i, 7) })).items.map((s: Json) => s.id)).to.deep.equal([items[i]!.id]);
    expect((await ok(p, 'songs.search', { query: word(1, 7) })).items).to.deep.equal([]);
    await stop(p);
  });
});

describe('transfer: a damaged data.db at start', function () {
  this.timeout(30000);
  afterEach(() => procs.cleanupAll());

  /** Songs big enough that data.db has pages well past the 13th; stops cleanly (WAL checkpointed). */
  async function songsThenBackup(dataDir: string, withBackup: boolean): Promise<{ backup?: Json; backedUp: number }> {
    const p = await launch(dataDir);
    const blob = (i: number): Json[] => [{ id: 's', blob: `${i}`.padEnd(6000, 'b') }];
    await ok(p, 'songs.saveMany', { items: Array.from({ length: 20 }, (_, i) => makeSong({ name: `Before ${i}`, sections: blob(i) })) });
    const backup = withBackup ? await ok(p, 'backup.create', {}) : undefined;
    await ok(p, 'songs.saveMany', { items: Array.from({ length: 5 }, (_, i) => makeSong({ name: `After ${i}`, sections: blob(i) })) });
    await stop(p);
    const dbPath = join(dataDir, 'data.db');
    expect(statSync(dbPath).size).to.be.above(20 * PAGE_SIZE);
    expect(existsSync(`${dbPath}-wal`) ? statSync(`${dbPath}-wal`).size : 0).to.equal(0);
    return { ...(backup ? { backup } : {}), backedUp: 20 };
  }

  it('with a backup: moves the file aside, restores the backup, serves, and says so in system.info', async () => {
    const dataDir = procs.ownDir('wr-it-recover-');
    const { backup, backedUp } = await songsThenBackup(dataDir, true);
    const backupHash = sha256File(backup!.path);
    const dbPath = join(dataDir, 'data.db');
    scribble(dbPath, 3 * PAGE_SIZE, 13 * PAGE_SIZE);
    const damagedHash = sha256File(dbPath);
    const startedBefore = Date.now();

    const p = await launch(dataDir);
    const info = await ok(p, 'system.info', {});
    expect(info.recovery, `system.info: ${JSON.stringify(info)}`).to.be.an('object');
    expect(info.recovery).to.have.all.keys('reason', 'corruptFile', 'restoredFrom', 'at');
    expect(info.recovery.reason).to.be.a('string').and.match(/CORRUPT|quick_check/);
    expect(info.recovery.restoredFrom).to.equal(backup!.path);
    expect(info.recovery.at).to.be.at.least(startedBefore - 1000).and.at.most(Date.now());
    expect(info.recovery.corruptFile.startsWith(`${dbPath}.corrupt-`)).to.equal(true);
    expect(existsSync(info.recovery.corruptFile)).to.equal(true);
    expect(sha256File(info.recovery.corruptFile), 'the damaged bytes are kept').to.equal(damagedHash);
    // system.stats shows the space the damaged file takes (with its -wal and -shm, if any).
    const sizeOf = (f: string): number => (existsSync(f) ? statSync(f).size : 0);
    const corrupt = info.recovery.corruptFile as string;
    expect((await ok(p, 'system.stats', {})).damagedFiles).to.deep.equal([
      { path: corrupt, sizeBytes: sizeOf(corrupt) + sizeOf(`${corrupt}-wal`) + sizeOf(`${corrupt}-shm`) },
    ]);
    expect(readdirSync(dataDir).filter((f) => f.startsWith('data.db.restoring'))).to.deep.equal([]);

    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: backedUp });
    expect((await ok(p, 'songs.search', { query: 'after' })).items).to.deep.equal([]);
    const doc = await ok(p, 'system.doctor', {});
    expect(doc.ok).to.equal(true);
    // It keeps working: a write, and a clean stop.
    await ok(p, 'songs.save', { item: makeSong({ name: 'Written after the recovery' }) });
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: backedUp + 1 });
    expect(sha256File(backup!.path), 'the backup itself is untouched').to.equal(backupHash);
    await stop(p);

    // The next start finds a sound file: no recovery then.
    const q = await launch(dataDir);
    expect(await ok(q, 'system.info', {})).to.not.have.property('recovery');
    expect(await ok(q, 'songs.count', {})).to.deep.equal({ count: backedUp + 1 });
    await stop(q);
  });

  it('without a backup: exits non-zero with one line naming the backups folder, and leaves data.db as it was', async () => {
    const dataDir = procs.ownDir('wr-it-nobackup-');
    await songsThenBackup(dataDir, false);
    const dbPath = join(dataDir, 'data.db');
    scribble(dbPath, 3 * PAGE_SIZE, 13 * PAGE_SIZE);
    const hash = sha256File(dbPath);
    // The record of the last clean close (data.db.clean) is taken by the start, whatever it finds.
    const others = (): string[] => readdirSync(dataDir).filter((f) => f !== 'data.db.clean').sort();
    const files = others();

    const run = await runOnce(['--data-dir', dataDir, '--log-level', 'warn', ...NO_AUTO], '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    expect(run.code, `exit; stderr: ${run.stderr}`).to.be.a('number').and.not.equal(0);
    expect(run.stdout, 'nothing on stdout').to.equal('');
    const human = humanLines(run.stderr);
    expect(human, `stderr: ${run.stderr}`).to.have.length(1);
    expect(human[0]).to.match(/^whiteroom-store: /);
    expect(human[0]).to.include(join(dataDir, 'backups'));
    expect(human[0]).to.include(dbPath);

    expect(sha256File(dbPath), 'data.db is byte-for-byte unchanged').to.equal(hash);
    expect(others(), 'nothing moved aside').to.deep.equal(files);
    expect(readdirSync(dataDir), 'the scribbled file was checked: its clean-close record is gone').to.not.include('data.db.clean');
    expect(readdirSync(join(dataDir, 'backups'))).to.deep.equal([]);
  });
});
