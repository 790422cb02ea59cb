/**
 * backup.* through the real process: progress and cancellation of backup.create, listing, checking,
 * deleting and pruning backup files, restore (and undoing it with its pre-restore backup), every
 * refusal of a bad source, SIGKILL in the middle of a restore, and the automatic backup at start.
 *
 * Only RPC, signals and the files of the data directory are used (the suite also runs against the
 * packaged binary, WHITEROOM_STORE_BIN); files are checked with a stock `sqlite3`.
 */
import { expect } from 'chai';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resultValidator } from '../../src/methods/index.js';
import { makeSong } from '../helpers/fixtures.js';
import { tempDir, type RpcResponse, type StoreProcess } from '../helpers/process.js';
import { Procs, fails, ok, stop } from '../helpers/rpc.js';
import { sleep, sqlite3 } from '../helpers/check.js';
import { expectedRows, songId, startWriter } from '../helpers/wal-writer.js';

const INVALID_PARAMS = -32602;
const NOT_FOUND = -32001;
const FILE_REFUSED = -32022;
const INVALID_BACKUP = -32020;
const CANCELLED = -32800;

/** Every process but the automatic-backup ones runs without it, so backups/ holds only what a test made. */
const NO_AUTO = ['--auto-backup-hours', '0'];

const procs = new Procs();


/** Polls `probe` until it answers something other than undefined, or fails after `timeoutMs`. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) expect.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const backupsDir = (dataDir: string): string => join(dataDir, 'backups');
const backupFiles = (dataDir: string): string[] => readdirSync(backupsDir(dataDir)).sort();
/** What a restore interrupted by a crash may leave beside data.db. */
const restoringLeftovers = (dataDir: string): string[] => readdirSync(dataDir).filter((f) => f.startsWith('data.db.restoring'));

function launch(dataDir?: string, args: string[] = NO_AUTO): Promise<StoreProcess> {
  return procs.launch({ ...(dataDir === undefined ? {} : { dataDir }), args });
}

/** The ids of the songs in a stopped data directory's data.db, sorted. */
function songIdsOnDisk(dataDir: string): string[] {
  const out = sqlite3(join(dataDir, 'data.db'), 'SELECT id FROM songs ORDER BY id');
  return out === '' ? [] : out.split('\n');
}

/** The ids of every song, through songs.list, sorted. */
async function songIds(p: StoreProcess): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await ok(p, 'songs.list', { limit: 100, ...(cursor ? { cursor } : {}) });
    ids.push(...page.items.map((s: { id: string }) => s.id));
    if (page.nextCursor === undefined) return ids.sort();
    cursor = page.nextCursor;
  }
}

// -------------------------------------------------------------------------------------------------
// A big data directory (≈ 33 MB: 32 songs of 1 MB), made once through songs.saveMany and copied
// (stopped) into each test that needs a backup or restore of many steps.
// -------------------------------------------------------------------------------------------------

const BIG_SONGS = 32;
const BIG_SECTION = 1_000_000;
const bigSong = (n: number): Record<string, any> =>
  makeSong({ id: `big-${String(n).padStart(3, '0')}`, name: `Big ${n}`, sections: [{ id: 'huge', blob: `${n}:`.padEnd(BIG_SECTION, 'x') }] });
const BIG_IDS = Array.from({ length: BIG_SONGS }, (_, n) => bigSong(n).id as string).sort();

let bigTemplate: string | undefined;

/** A fresh data directory holding the big database (stopped, checkpointed), and no backups. */
async function bigDataDir(): Promise<string> {
  if (!bigTemplate) {
    const dir = tempDir('wr-backup-big-');
    try {
      const p = await launch(dir);
      for (let n = 0; n < BIG_SONGS; n += 8) {
        await p.call('songs.saveMany', { items: Array.from({ length: 8 }, (_, k) => bigSong(n + k)) });
      }
      await stop(p);
      expect(statSync(join(dir, 'data.db')).size).to.be.above(30e6);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    bigTemplate = dir;
  }
  const d = procs.ownDir('wr-backup-');
  cpSync(bigTemplate, d, { recursive: true });
  return d;
}

describe('backup.*', function () {
  this.timeout(30000);
  afterEach(() => procs.cleanupAll());
  after(() => {
    if (bigTemplate) rmSync(bigTemplate, { recursive: true, force: true });
  });

  // -----------------------------------------------------------------------------------------------
  describe('backup.create', () => {
    it('reports $/progress begin → reports → end on its token before answering; the file is a sound standalone database', async () => {
      const d = await bigDataDir();
      const p = await launch(d);
      const token = 'backup-progress-1';
      const mark = p.received.length;
      const r = await p.request('backup.create', { label: 'before the gig', workDoneToken: token }, 'create-1');
      expect(r.error, JSON.stringify(r.error)).to.equal(undefined);

      const after = p.received.slice(mark) as any[];
      const answerAt = after.findIndex((m) => m && m.id === 'create-1');
      const progress = after
        .map((m, i) => ({ m, i }))
        .filter(({ m }) => m && m.method === '$/progress');
      expect(progress.every(({ m }) => m.params.token === token), 'every $/progress carries the token').to.equal(true);
      expect(progress.every(({ i }) => i < answerAt), 'every $/progress arrives before the answer').to.equal(true);
      const kinds = progress.map(({ m }) => m.params.value.kind);
      expect(kinds[0]).to.equal('begin');
      expect(kinds[kinds.length - 1]).to.equal('end');
      const reports = progress.filter(({ m }) => m.params.value.kind === 'report').map(({ m }) => m.params.value.percentage as number);
      expect(kinds.slice(1, -1), 'only reports between begin and end').to.deep.equal(reports.map(() => 'report'));
      // The kernel copies the file in one call: the size reached every 10 ms while it runs, 100 at its end.
      expect(reports.length, `reports: ${JSON.stringify(reports)}`).to.be.at.least(1);
      expect(reports[reports.length - 1]).to.equal(100);
      for (const pct of reports) expect(Number.isInteger(pct) && pct >= 0 && pct <= 100, `percentage ${pct}`).to.equal(true);
      expect(reports, 'percentages only grow').to.deep.equal([...reports].sort((a, b) => a - b));
      expect(new Set(reports).size, 'no percentage repeated').to.equal(reports.length);

      expectResultSchema('backup.create', r.result);
      const made = r.result;
      expect(made.kind).to.equal('manual');
      expect(made.label).to.equal('before the gig');
      expect(made.path).to.equal(join(backupsDir(d), made.name));
      expect(made.name).to.match(/^data_\d{4}-\d{2}-\d{2}_\d{6}(-\d+)?\.db$/);
      expect(backupFiles(d)).to.deep.equal([made.name]);
      expect(made.sizeBytes).to.equal(statSync(made.path).size);
      expect(made.schemaVersion).to.equal((await ok(p, 'system.info')).schemaVersion);
      expect(Math.abs(made.createdAt - Date.now())).to.be.below(60_000);

      expect(sqlite3(made.path, 'PRAGMA integrity_check')).to.equal('ok');
      expect(sqlite3(made.path, 'PRAGMA journal_mode')).to.not.equal('wal');
      expect(existsSync(`${made.path}-wal`)).to.equal(false);
      expect(sqlite3(made.path, 'SELECT count(*) FROM songs')).to.equal(String(BIG_SONGS));

      const listed = await ok(p, 'backup.list', {});
      expect(listed.items).to.deep.equal([made]);

      // An integer token works too; without a token no $/progress is sent.
      const second = await ok(p, 'backup.create', { workDoneToken: 7 });
      expect(second.name).to.not.equal(made.name);
      expect(second).to.not.have.property('label');
      const tokens = p.notifications('$/progress').slice(progress.length).map((n) => n.token);
      expect(new Set(tokens)).to.deep.equal(new Set([7]));
      const beforeThird = p.received.length;
      await ok(p, 'backup.create', {});
      expect((p.received.slice(beforeThird) as any[]).filter((m) => m && m.method === '$/progress')).to.deep.equal([]);
      await stop(p);
    });

    it('SIGKILL in the middle of it: the next start removes the partial file, and the database is whole', async () => {
      const d = await bigDataDir();
      const p = await launch(d);
      const token = 'killed-backup';
      p.child.stdout!.on('data', () => {
        const reports = p.notifications('$/progress').filter((n) => n.token === token && n.value.kind === 'report');
        if (reports.length >= 1) p.child.kill('SIGKILL'); // mid-copy, or the copy done and not yet linked
      });
      p.send({ jsonrpc: '2.0', id: token, method: 'backup.create', params: { workDoneToken: token } });
      expect(await p.exited).to.deep.equal({ code: null, signal: 'SIGKILL' });
      expect(p.received.some((m) => (m as RpcResponse).id === token), 'killed before it answered').to.equal(false);
      expect(backupFiles(d).filter((f) => f.includes('.partial')), 'killed mid-copy: a partial file').to.not.deep.equal([]);

      const q = await launch(d);
      expect(backupFiles(d), 'removed at start').to.deep.equal([]);
      expect((await ok(q, 'backup.list', {})).items).to.deep.equal([]);
      expect(await ok(q, 'songs.count', {})).to.deep.equal({ count: BIG_SONGS });
      const made = await ok(q, 'backup.create', {});
      expect(backupFiles(d)).to.deep.equal([made.name]);
      await stop(q);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(sqlite3(made.path, 'SELECT count(*) FROM songs')).to.equal(String(BIG_SONGS));
    });

    it('$/cancelRequest right behind it stops it mid-copy: -32800, no file left in backups/, and the process keeps serving', async () => {
      const d = await bigDataDir();
      const p = await launch(d);
      const mark = p.received.length;
      const answer = p.request('backup.create', { label: 'never', workDoneToken: 'cancelled' }, 'to-cancel');
      p.notify('$/cancelRequest', { id: 'to-cancel' });
      const r = await answer;
      expect(r.error, `answered ${JSON.stringify(r.result ?? r.error)}`).to.not.equal(undefined);
      expect(r.error!.code).to.equal(CANCELLED);
      // It had started (begin was reported): the copy was stopped in the middle, not before it began.
      const kinds = (p.received.slice(mark) as any[]).filter((m) => m && m.method === '$/progress').map((m) => m.params.value.kind);
      expect(kinds[0]).to.equal('begin');
      expect(kinds[kinds.length - 1]).to.equal('end');
      expect(backupFiles(d), 'no backup and no .partial file').to.deep.equal([]);
      expect((await ok(p, 'backup.list', {})).items).to.deep.equal([]);

      // Still serving: reads, and a backup that is not cancelled.
      expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: BIG_SONGS });
      const made = await ok(p, 'backup.create', { label: 'after' });
      expect(backupFiles(d)).to.deep.equal([made.name]);
      await stop(p);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
    });

    it('keeps serving while it copies: requests sent meanwhile are answered first; the copy is the state when it began (a write made meanwhile is in the next one)', async () => {
      const d = await bigDataDir();
      const p = await launch(d, [...NO_AUTO, '--log-level', 'info']);
      const extra = makeSong({ name: 'Written during the backup' });
      const order: string[] = [];
      const backup = p.request('backup.create', { label: 'beside', workDoneToken: 'b' }, 'the-backup').then((r) => {
        order.push('backup');
        return r;
      });
      // Sent once it has begun (its snapshot is taken before `begin` is sent): served while it copies.
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (!p.notifications('$/progress').some((n) => n.token === 'b' && n.value.kind === 'begin')) return;
          p.child.stdout!.off('data', check);
          resolve();
        };
        p.child.stdout!.on('data', check);
        check();
      });
      const count = p.request('songs.count', {}).then((r) => {
        order.push('count');
        return r;
      });
      const save = p.request('songs.save', { item: extra }).then((r) => {
        order.push('save');
        return r;
      });
      const [b, c, sv] = await Promise.all([backup, count, save]);
      expect(c.result).to.deep.equal({ count: BIG_SONGS });
      expect(sv.error).to.equal(undefined);
      expect(b.error, JSON.stringify(b.error)).to.equal(undefined);
      expect(order, 'the requests sent during the backup were answered before it').to.deep.equal(['count', 'save', 'backup']);
      // The database file was copied under a snapshot (the log says how), so the copy is the state
      // when the backup began: the write made meanwhile went to the WAL, not into the copy.
      const written = p.stderr.split('\n').filter((l) => l.includes('"backup written"')).map((l) => JSON.parse(l) as { method: string });
      expect(written.map((w) => w.method)).to.have.length(1);
      expect(written[0]!.method).to.be.oneOf(['copy', 'clone']);
      const path = b.result.path as string;
      expect(sqlite3(path, 'PRAGMA integrity_check')).to.equal('ok');
      expect(sqlite3(path, 'SELECT count(*) FROM songs')).to.equal(String(BIG_SONGS));
      expect(sqlite3(path, `SELECT count(*) FROM songs WHERE id = '${extra.id}'`)).to.equal('0');
      const next = await ok(p, 'backup.create', {});
      expect(sqlite3(next.path, `SELECT count(*) FROM songs WHERE id = '${extra.id}'`)).to.equal('1');
      await stop(p);
    });

    it('while another process writes songs and checkpoints throughout, every backup is whole and holds exactly the transactions committed before it', async () => {
      const d = await bigDataDir();
      const p = await launch(d, [...NO_AUTO, '--log-level', 'info']);
      const db = join(d, 'data.db');
      // The other process's transactions so far (its songs are W0000001, W0000002, … in order).
      const committed = (file: string): number => Number(sqlite3(file, "SELECT count(*) FROM songs WHERE id LIKE 'W%'"));
      const writer = await startWriter(db, 'songs');
      const made: { path: string; before: number; after: number }[] = [];
      try {
        for (let i = 0; i < 10; i++) {
          const before = committed(db); // committed before backup.create was sent
          const b = await ok(p, 'backup.create', {});
          made.push({ path: b.path, before, after: committed(db) });
        }
      } finally {
        await writer.stop();
      }
      await stop(p);
      const methods = p.stderr.split('\n').filter((l) => l.includes('"backup written"')).map((l) => (JSON.parse(l) as { method: string }).method);
      expect(methods.filter((m) => m !== 'backup-api').length, `copied under a snapshot: ${methods.join(', ')}`).to.be.at.least(7);
      process.stderr.write(`        (${methods.filter((m) => m !== 'backup-api').length}/10 copied under a snapshot)\n`);
      for (const { path, before, after } of made) {
        expect(sqlite3(path, 'PRAGMA integrity_check')).to.equal('ok');
        expect(sqlite3(path, "SELECT count(*) FROM songs WHERE id NOT LIKE 'W%'")).to.equal(String(BIG_SONGS));
        const rows = sqlite3(path, "SELECT id, updated_at, length(sections_json) FROM songs WHERE id LIKE 'W%' ORDER BY id");
        const m = rows === '' ? 0 : rows.split('\n').length;
        expect(m).to.be.within(before, after);
        // Exactly transactions 1..m: every song the other process wrote, as its last transaction in the copy left it.
        const expected = expectedRows(m).map(([n, k, pad]) => `${songId(n)}|${k}|${pad + '[{"pad":""}]'.length}`).join('\n');
        expect(rows === expected, `${path}: transactions 1..${m}`).to.equal(true);
      }
      expect(made[made.length - 1]!.after, 'the other process wrote throughout').to.be.greaterThan(made[0]!.before + 100);
    });

    it('rejects a label over 200 characters and unknown params with -32602', async () => {
      const p = await launch();
      await fails(p, 'backup.create', { label: 'x'.repeat(201) }, INVALID_PARAMS);
      await fails(p, 'backup.create', { kind: 'automatic' }, INVALID_PARAMS);
      await fails(p, 'backup.create', { workDoneToken: '' }, INVALID_PARAMS);
      expect(backupFiles(p.dataDir)).to.deep.equal([]);
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('backup.list, backup.verify, backup.delete, backup.prune', () => {
    /** A running sidecar with three small songs. */
    async function withSongs(n = 3): Promise<{ p: StoreProcess; ids: string[] }> {
      const p = await launch();
      const items = Array.from({ length: n }, (_, i) => makeSong({ name: `Listed ${i}` }));
      await ok(p, 'songs.saveMany', { items });
      return { p, ids: items.map((s) => s.id as string) };
    }

    it('lists newest first, pages with limit/cursor, and filters by kind', async () => {
      const { p } = await withSongs();
      const first = await ok(p, 'backup.create', { label: 'first' });
      const second = await ok(p, 'backup.create', { label: 'second' });
      const third = await ok(p, 'backup.create', { label: 'third' });
      const all = await ok(p, 'backup.list', {});
      expect(all.items.map((b: any) => b.label)).to.deep.equal(['third', 'second', 'first']);
      expect(all.items).to.deep.equal([third, second, first]);
      expect(all).to.not.have.property('nextCursor');
      const createdAt = all.items.map((b: any) => b.createdAt);
      expect(createdAt).to.deep.equal([...createdAt].sort((a, b) => b - a));

      const page1 = await ok(p, 'backup.list', { limit: 2 });
      expect(page1.items.map((b: any) => b.name)).to.deep.equal([third.name, second.name]);
      expect(page1.nextCursor).to.be.a('string');
      const page2 = await ok(p, 'backup.list', { limit: 2, cursor: page1.nextCursor });
      expect(page2.items.map((b: any) => b.name)).to.deep.equal([first.name]);
      expect(page2).to.not.have.property('nextCursor');

      // A restore adds a pre-restore backup: the kind filter tells them apart.
      const restored = await ok(p, 'backup.restore', { path: first.name });
      const pre = await ok(p, 'backup.list', { kind: 'pre-restore' });
      expect(pre.items).to.deep.equal([restored.safetyBackup]);
      const manual = await ok(p, 'backup.list', { kind: 'manual' });
      expect(manual.items.map((b: any) => b.name)).to.deep.equal([third.name, second.name, first.name]);
      expect((await ok(p, 'backup.list', { kind: 'automatic' })).items).to.deep.equal([]);
      const everything = await ok(p, 'backup.list', {});
      expect(everything.items[0]).to.deep.equal(restored.safetyBackup);
      expect(everything.items).to.have.length(4);

      await fails(p, 'backup.list', { kind: 'weekly' }, INVALID_PARAMS);
      // A cursor carries the kind filter it was made with: another one is refused at /cursor.
      const e = await fails(p, 'backup.list', { kind: 'manual', limit: 2, cursor: page1.nextCursor }, INVALID_PARAMS);
      expect(e.data.errors.map((x: any) => x.path)).to.deep.equal(['/cursor']);
      const manual1 = await ok(p, 'backup.list', { kind: 'manual', limit: 2 });
      await fails(p, 'backup.list', { limit: 2, cursor: manual1.nextCursor }, INVALID_PARAMS);
      expect((await ok(p, 'backup.list', { kind: 'manual', limit: 2, cursor: manual1.nextCursor })).items.map((b: any) => b.name)).to.deep.equal([first.name]);
    });

    it('verifies a good backup (ok, integrity, counts) and reports ok:false with a reason for bad files', async () => {
      const { p } = await withSongs(3);
      const good = await ok(p, 'backup.create', { label: 'good' });
      const v = await ok(p, 'backup.verify', { path: good.name });
      expect(v.ok).to.equal(true);
      expect(v).to.not.have.property('reason');
      expect(v.path).to.equal(good.path);
      expect(v.sizeBytes).to.equal(good.sizeBytes);
      expect(v.integrity).to.deep.equal(['ok']);
      expect(v.counts.songs).to.equal(3);
      expect(v.schemaVersion).to.equal(good.schemaVersion);
      expect(v.kind).to.equal('manual');
      expect(v.createdAt).to.equal(good.createdAt);
      // an absolute path works the same
      expect(await ok(p, 'backup.verify', { path: good.path })).to.deep.equal(v);

      const bad = plantBadFiles(p.dataDir, good.path);
      for (const [name, reason] of Object.entries(bad)) {
        const r = await ok(p, 'backup.verify', { path: name });
        expect(r.ok, name).to.equal(false);
        expect(r.reason, name).to.be.a('string').and.match(reason);
        if (name === 'damaged.db') expect(r.integrity, 'integrity_check lines of the damaged copy').to.be.an('array').and.not.deep.equal(['ok']);
        expect(r.path).to.equal(join(backupsDir(p.dataDir), name));
        expect(r.sizeBytes).to.equal(statSync(r.path).size);
        expect(r, name).to.not.have.property('counts');
      }
      // Verify changed nothing: the hostile trigger is still there, and nothing ran it.
      expect(sqlite3(join(backupsDir(p.dataDir), 'evil.db'), "SELECT count(*) FROM sqlite_schema WHERE name = 'evil'")).to.equal('1');
      expect(sqlite3(join(backupsDir(p.dataDir), 'evil.db'), 'SELECT count(*) FROM songs')).to.equal('3');
      // Files without a backup's name are not listed.
      expect((await ok(p, 'backup.list', {})).items.map((b: any) => b.name)).to.deep.equal([good.name]);

      expect((await fails(p, 'backup.verify', { path: 'data_2001-01-01_000000.db' }, FILE_REFUSED)).data).to.include({ path: 'data_2001-01-01_000000.db', reason: 'not-found' });
      await fails(p, 'backup.verify', { path: '' }, INVALID_PARAMS);
    });

    it('deletes a backup file; refuses (-32022) anything but a backup file in backups/, and missing files', async () => {
      const { p } = await withSongs();
      const a = await ok(p, 'backup.create', { label: 'a' });
      const b = await ok(p, 'backup.create', { label: 'b' });
      const d = p.dataDir;

      const dataDb = join(d, 'data.db');
      expect((await fails(p, 'backup.delete', { path: dataDb }, FILE_REFUSED)).data.reason).to.equal('outside');
      expect((await fails(p, 'backup.delete', { path: '../data.db' }, FILE_REFUSED)).data.reason).to.equal('outside');
      const outside = join(procs.ownDir('wr-backup-outside-'), a.name);
      copyFileSync(a.path, outside);
      expect((await fails(p, 'backup.delete', { path: outside }, FILE_REFUSED)).data.reason).to.equal('outside');
      writeFileSync(join(backupsDir(d), 'notes.txt'), 'not a backup');
      expect((await fails(p, 'backup.delete', { path: 'notes.txt' }, FILE_REFUSED)).data.reason).to.equal('protected');
      expect((await fails(p, 'backup.delete', { path: 'data_2001-01-01_000000.db' }, FILE_REFUSED)).data.reason).to.equal('not-found');
      await fails(p, 'backup.delete', { path: join(backupsDir(d), 'data_2001-01-01_000000.db') }, FILE_REFUSED);
      await fails(p, 'backup.delete', {}, INVALID_PARAMS);
      for (const f of [dataDb, outside, join(backupsDir(d), 'notes.txt'), a.path, b.path]) expect(existsSync(f), f).to.equal(true);
      expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 3 });

      const deleted = await ok(p, 'backup.delete', { path: a.name });
      expect(deleted).to.deep.equal({ path: a.path, sizeBytes: a.sizeBytes });
      expect(existsSync(a.path)).to.equal(false);
      const byPath = await ok(p, 'backup.delete', { path: b.path });
      expect(byPath).to.deep.equal({ path: b.path, sizeBytes: b.sizeBytes });
      expect(backupFiles(d)).to.deep.equal(['notes.txt']);
      expect((await ok(p, 'backup.list', {})).items).to.deep.equal([]);
      await fails(p, 'backup.delete', { path: a.name }, FILE_REFUSED);
    });

    it('prunes all but the newest `keep`, of one kind or of all, and only older ones with olderThanDays', async () => {
      const { p } = await withSongs();
      const made = [];
      for (const label of ['1', '2', '3', '4']) made.push(await ok(p, 'backup.create', { label }));
      const restored = await ok(p, 'backup.restore', { path: made[0].name });
      const pre = restored.safetyBackup;
      // newest first: pre, 4, 3, 2, 1

      expect(await ok(p, 'backup.prune', { keep: 0, kind: 'automatic' })).to.deep.equal({ deleted: [], kept: 0, freedBytes: 0, damaged: [] });
      expect(await ok(p, 'backup.prune', { keep: 0, olderThanDays: 1 })).to.deep.equal({ deleted: [], kept: 5, freedBytes: 0, damaged: [] });

      const manual = await ok(p, 'backup.prune', { keep: 2, kind: 'manual' });
      expect(manual).to.deep.equal({ deleted: [made[1].name, made[0].name], kept: 2, freedBytes: made[1].sizeBytes + made[0].sizeBytes, damaged: [] });
      expect(backupFiles(p.dataDir)).to.deep.equal([pre.name, made[2].name, made[3].name].sort());

      const all = await ok(p, 'backup.prune', { keep: 1 });
      expect(all).to.deep.equal({ deleted: [made[3].name, made[2].name], kept: 1, freedBytes: made[3].sizeBytes + made[2].sizeBytes, damaged: [] });
      expect(backupFiles(p.dataDir)).to.deep.equal([pre.name]);
      expect((await ok(p, 'backup.list', {})).items).to.deep.equal([pre]);

      await fails(p, 'backup.prune', {}, INVALID_PARAMS);
      await fails(p, 'backup.prune', { keep: -1 }, INVALID_PARAMS);
    });

    it('a backup without a label takes its time from its name (local time), not from the file\'s modification time', async () => {
      const { p } = await withSongs();
      const made = await ok(p, 'backup.create', {});
      // Copied in by hand under a name of 2021, its label rows removed, its mtime set to now.
      const name = 'data_2021-03-04_050607.db';
      const copy = join(backupsDir(p.dataDir), name);
      copyFileSync(made.path, copy);
      sqlite3(copy, "DELETE FROM metadata WHERE key IN ('backup_kind', 'backup_created_at', 'backup_label')");
      const now = new Date();
      utimesSync(copy, now, now);
      const listed = (await ok(p, 'backup.list', {})).items as any[];
      const item = listed.find((b) => b.name === name);
      expect(item).to.include({ kind: 'unknown', createdAt: new Date(2021, 2, 4, 5, 6, 7).getTime() });
      expect(item).to.not.have.property('damaged');
      expect(listed.map((b) => b.name), 'sorted by that time: oldest last').to.deep.equal([made.name, name]);
      const stats = await ok(p, 'system.stats', {});
      expect(stats.lastBackup.name).to.equal(made.name);
    });

    it('files named like backups that are not databases are listed as damaged with a reason; prune names them and never counts or deletes them', async () => {
      const { p } = await withSongs();
      const made = await ok(p, 'backup.create', { label: 'good' });
      const dir = backupsDir(p.dataDir);
      writeFileSync(join(dir, 'data_2030-01-01_000000.db'), Buffer.alloc(16384, 0x5a)); // not a database
      writeFileSync(join(dir, 'data_2030-01-02_000000.db'), ''); // empty
      mkdirSync(join(dir, 'data_2030-01-03_000000.db')); // a folder
      const items = (await ok(p, 'backup.list', {})).items as any[];
      expect(items.map((b) => [b.name, b.damaged ?? false])).to.deep.equal([
        ['data_2030-01-03_000000.db', true],
        ['data_2030-01-02_000000.db', true],
        ['data_2030-01-01_000000.db', true],
        [made.name, false],
      ]);
      for (const b of items.slice(0, 3)) {
        expect(b).to.include({ kind: 'unknown' });
        expect(b.reason).to.be.a('string').and.not.equal('');
        expect(b).to.not.have.property('schemaVersion');
        expect(b.createdAt).to.equal(new Date(2030, 0, Number(b.name.slice(13, 15))).getTime());
      }
      expect(items[0].reason).to.match(/not a regular file/);
      expect(items[1].reason).to.match(/empty/);
      expect(items[2].reason).to.match(/not a database/);
      expect(items[3]).to.deep.equal(made);
      expect((await ok(p, 'backup.list', { kind: 'unknown' })).items.map((b: any) => b.name)).to.have.length(3);
      const stats = await ok(p, 'system.stats', {});
      expect(stats.lastBackup).to.deep.equal(made);

      const pruned = await ok(p, 'backup.prune', { keep: 1 });
      expect(pruned).to.deep.equal({
        deleted: [],
        kept: 1,
        freedBytes: 0,
        damaged: ['data_2030-01-03_000000.db', 'data_2030-01-02_000000.db', 'data_2030-01-01_000000.db'],
      });
      const all = await ok(p, 'backup.prune', { keep: 0 });
      expect(all.deleted).to.deep.equal([made.name]);
      expect(all.damaged).to.have.length(3);
      expect(backupFiles(p.dataDir)).to.deep.equal(['data_2030-01-01_000000.db', 'data_2030-01-02_000000.db', 'data_2030-01-03_000000.db']);
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('backup.restore', () => {
    it('brings back the backed-up songs; its pre-restore backup, restored in turn, undoes it', async () => {
      const p = await launch();
      const d = p.dataDir;
      const a = [makeSong({ name: 'A1' }), makeSong({ name: 'A2' }), makeSong({ name: 'A3' })];
      await ok(p, 'songs.saveMany', { items: a });
      const aIds = a.map((s) => s.id as string).sort();
      const bk = await ok(p, 'backup.create', { label: 'only A' });
      const b = makeSong({ name: 'B' });
      const savedB = await ok(p, 'songs.save', { item: b });
      expect(await songIds(p)).to.deep.equal([...aIds, b.id].sort());
      const schemaVersion = (await ok(p, 'system.info')).schemaVersion;

      const mark = p.received.length;
      const r = await p.request('backup.restore', { path: bk.name, workDoneToken: 'restore-1' }, 'restore-1');
      expect(r.error, JSON.stringify(r.error)).to.equal(undefined);
      expectResultSchema('backup.restore', r.result);
      const restored = r.result;
      expect(restored.restoredFrom).to.equal(bk.path);
      expect(restored.schemaVersion).to.equal(schemaVersion);
      expect(restored.counts.songs).to.equal(3);
      const pre = restored.safetyBackup;
      expect(pre.kind).to.equal('pre-restore');
      expect(pre.path).to.equal(join(backupsDir(d), pre.name));
      expect(existsSync(pre.path)).to.equal(true);
      const progress = (p.received.slice(mark) as any[]).filter((m) => m && m.method === '$/progress');
      const answerAt = (p.received.slice(mark) as any[]).findIndex((m) => m && m.id === 'restore-1');
      expect(progress[0].params).to.deep.include({ token: 'restore-1' });
      expect(progress[0].params.value.kind).to.equal('begin');
      expect(progress[progress.length - 1].params.value.kind).to.equal('end');
      expect((p.received.slice(mark) as any[]).indexOf(progress[progress.length - 1])).to.be.below(answerAt);

      expect(await songIds(p)).to.deep.equal(aIds);
      expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 3 });
      await fails(p, 'songs.get', { id: b.id }, NOT_FOUND);
      // The live database is sound while the sidecar runs on it.
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(restoringLeftovers(d)).to.deep.equal([]);
      // backups/ holds the source and the pre-restore backup, nothing else.
      expect((await ok(p, 'backup.list', {})).items.map((x: any) => x.name).sort()).to.deep.equal([bk.name, pre.name].sort());

      // The pre-restore backup holds B: restoring it undoes the restore.
      const verified = await ok(p, 'backup.verify', { path: pre.name });
      expect(verified.ok).to.equal(true);
      expect(verified.counts.songs).to.equal(4);
      const undo = await ok(p, 'backup.restore', { path: pre.path });
      expect(undo.counts.songs).to.equal(4);
      expect(undo.safetyBackup.kind).to.equal('pre-restore');
      expect(await songIds(p)).to.deep.equal([...aIds, b.id].sort());
      expect(await ok(p, 'songs.get', { id: b.id })).to.deep.equal(savedB);
      // Writes go on after a restore.
      const c = makeSong({ name: 'C' });
      await ok(p, 'songs.save', { item: c });
      expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 5 });

      await stop(p);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(songIdsOnDisk(d)).to.deep.equal([...aIds, b.id, c.id].sort());
      expect(restoringLeftovers(d)).to.deep.equal([]);
    });

    it('refuses a bad source with -32020 {reason}, and changes nothing (no pre-restore backup either)', async () => {
      const p = await launch();
      const d = p.dataDir;
      const items = [makeSong({ name: 'Keep 1' }), makeSong({ name: 'Keep 2' })];
      await ok(p, 'songs.saveMany', { items });
      const good = await ok(p, 'backup.create', {});
      const later = makeSong({ name: 'Keep 3' });
      await ok(p, 'songs.save', { item: later });
      const before = await ok(p, 'songs.list', { limit: 100 });
      expect(before.items).to.have.length(3);

      const bad = plantBadFiles(d, good.path);
      const files = backupFiles(d);
      for (const [name, reason] of Object.entries(bad)) {
        const mark = p.received.length;
        const e = await fails(p, 'backup.restore', { path: name, workDoneToken: `bad-${name}` }, INVALID_BACKUP);
        expect(e.data, name).to.be.an('object');
        expect(e.data.reason, name).to.be.a('string').and.match(reason);
        expect(backupFiles(d), `${name}: no pre-restore backup was made`).to.deep.equal(files);
        expect(await ok(p, 'songs.list', { limit: 100 }), name).to.deep.equal(before);
        expect(restoringLeftovers(d)).to.deep.equal([]);
        // nothing changed, so no store.changed either
        expect((p.received.slice(mark) as any[]).filter((m) => m && m.method === 'store.changed'), name).to.deep.equal([]);
      }
      await fails(p, 'backup.restore', { path: 'data_2001-01-01_000000.db' }, FILE_REFUSED);
      expect((await fails(p, 'backup.restore', { path: 'missing.db' }, FILE_REFUSED)).data).to.include({ path: 'missing.db', reason: 'not-found' });
      await fails(p, 'backup.restore', {}, INVALID_PARAMS);
      expect(backupFiles(d)).to.deep.equal(files);

      // The data is whole and the good backup still restores.
      await stop(p);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(songIdsOnDisk(d)).to.deep.equal([...items, later].map((s) => s.id as string).sort());
      const q = await launch(d);
      expect((await ok(q, 'backup.restore', { path: good.name })).counts.songs).to.equal(2);
      await stop(q);
    });

    it('$/cancelRequest right behind a restore: -32800, nothing changed, no pre-restore backup or staging file left', async () => {
      const d = await bigDataDir();
      const p = await launch(d);
      const bk = await ok(p, 'backup.create', {});
      const extra = makeSong({ name: 'Saved after the backup' });
      await ok(p, 'songs.save', { item: extra });

      const answer = p.request('backup.restore', { path: bk.name }, 'restore-to-cancel');
      p.notify('$/cancelRequest', { id: 'restore-to-cancel' });
      const r = await answer;
      expect(r.error, `answered ${JSON.stringify(r.result ?? r.error).slice(0, 300)}`).to.not.equal(undefined);
      expect(r.error!.code).to.equal(CANCELLED);
      expect(backupFiles(d)).to.deep.equal([bk.name]);
      expect(restoringLeftovers(d)).to.deep.equal([]);
      expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: BIG_SONGS + 1 });
      expect((await ok(p, 'songs.get', { id: extra.id })).name).to.equal(extra.name);
      await stop(p);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(songIdsOnDisk(d)).to.deep.equal([...BIG_IDS, extra.id].sort());
    });

    it('SIGKILL at any moment of a restore of a 33 MB backup leaves the old or the restored database, whole', async function () {
      this.timeout(60000);
      const d = await bigDataDir();
      let p = await launch(d);
      const bk = await ok(p, 'backup.create', { label: 'big' });
      const schemaVersion = bk.schemaVersion;
      const extra = makeSong({ id: 'zz-extra', name: 'Saved after the backup' });
      const oldIds = [...BIG_IDS, extra.id].sort();
      await stop(p);

      // Kills after a few fixed delays, and as soon as the n-th $/progress of the restore arrives
      // (begin: copying and checking; a report when the swap starts; end), or its answer.
      const moments: ({ delayMs: number } | { afterProgress: number })[] = [
        { delayMs: 5 },
        { delayMs: 30 },
        { delayMs: 80 },
        { delayMs: 200 },
        { afterProgress: 2 },
        { afterProgress: 3 },
        { afterProgress: 4 },
        { afterProgress: 5 },
      ];
      const outcomes: string[] = [];
      for (const moment of moments) {
        const when = 'delayMs' in moment ? `after ${moment.delayMs} ms` : `at $/progress #${moment.afterProgress}`;
        // The old state: the backed-up songs and one more.
        p = await launch(d);
        if ((await p.request('songs.get', { id: extra.id })).error) await ok(p, 'songs.save', { item: extra });
        expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: BIG_SONGS + 1 });
        // Earlier pre-restore backups are not needed: keep the folder small.
        await ok(p, 'backup.prune', { keep: 0, kind: 'pre-restore' });

        const token = 'killed-restore';
        const answered = (): boolean => p.received.some((m) => (m as RpcResponse).id === token);
        if ('afterProgress' in moment) {
          const target = p;
          // registered after the harness's own listener, so `received` is up to date here
          target.child.stdout!.on('data', () => {
            const seen = target.notifications('$/progress').filter((n) => n.token === token).length;
            if (seen >= moment.afterProgress || answered()) target.child.kill('SIGKILL');
          });
        }
        p.send({ jsonrpc: '2.0', id: token, method: 'backup.restore', params: { path: bk.name, workDoneToken: token } });
        if ('delayMs' in moment) {
          await sleep(moment.delayMs);
          p.child.kill('SIGKILL');
        }
        expect(await p.exited, when).to.deep.equal({ code: null, signal: 'SIGKILL' });
        const wasAnswered = answered();

        const q = await launch(d);
        expect(restoringLeftovers(d), `${when}: leftovers after the restart`).to.deep.equal([]);
        expect((await ok(q, 'system.info')).schemaVersion).to.equal(schemaVersion);
        const { count } = await ok(q, 'songs.count', {});
        expect([BIG_SONGS, BIG_SONGS + 1], `${when}: songs after the restart`).to.include(count);
        if (wasAnswered) expect(count, `${when}: the restore was answered before the kill`).to.equal(BIG_SONGS);
        const last = await ok(q, 'songs.get', { id: BIG_IDS[BIG_SONGS - 1] });
        expect(last.sections[0].blob.length, `${when}: a big song reads back whole`).to.equal(BIG_SECTION);
        await stop(q);
        expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check'), when).to.equal('ok');
        expect(songIdsOnDisk(d), `${when}: exactly the old or the restored songs`).to.deep.equal(count === BIG_SONGS ? BIG_IDS : oldIds);
        outcomes.push(`${when}: ${count === BIG_SONGS ? 'restored' : 'old'}${wasAnswered ? ' (answered)' : ''}`);
      }
      if (process.env.WR_TEST_VERBOSE) process.stderr.write(`      ${outcomes.join('; ')}\n`);
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('the automatic backup at start', () => {
    /** A stopped data directory with songs and no backups. */
    async function dirWithSongs(): Promise<string> {
      const d = procs.ownDir('wr-backup-auto-');
      const p = await launch(d);
      await ok(p, 'songs.saveMany', { items: [makeSong(), makeSong()] });
      await stop(p);
      expect(backupFiles(d)).to.deep.equal([]);
      return d;
    }

    it('--auto-backup-hours 24: one automatic backup appears within seconds; a restart does not add another', async () => {
      const d = await dirWithSongs();
      const p = await launch(d, ['--auto-backup-hours', '24']);
      const made = await waitFor(
        'an automatic backup',
        async () => {
          const items = (await ok(p, 'backup.list', { kind: 'automatic' })).items;
          return items.length ? items : undefined;
        },
        10_000,
      );
      expect(made).to.have.length(1);
      expect(made[0].kind).to.equal('automatic');
      expect(made[0]).to.not.have.property('label');
      expect((await ok(p, 'backup.list', {})).items).to.deep.equal(made);
      const v = await ok(p, 'backup.verify', { path: made[0].name });
      expect(v.ok).to.equal(true);
      expect(v.counts.songs).to.equal(2);
      await stop(p);
      expect(sqlite3(made[0].path, 'PRAGMA integrity_check')).to.equal('ok');

      // Restarted within the 24 hours: no second one (the job starts 2 s after start).
      const q = await launch(d, ['--auto-backup-hours', '24']);
      await sleep(3000);
      expect((await ok(q, 'backup.list', {})).items).to.deep.equal(made);
      expect(backupFiles(d)).to.deep.equal([made[0].name]);
      await stop(q);
    });

    it('runs beside the queue, and SIGTERM while it runs stops it: exit 0, no partial file, the database whole', async () => {
      const d = await bigDataDir();
      const p = await launch(d, ['--auto-backup-hours', '24']);
      // Requests go on being answered around the 2 s mark, when it starts.
      const deadline = Date.now() + 2600;
      while (Date.now() < deadline) expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: BIG_SONGS });
      p.child.kill('SIGTERM');
      const exit = await p.exited;
      expect(exit).to.deep.equal({ code: 0, signal: null });
      const files = backupFiles(d);
      expect(files.filter((f) => !/^data_\d{4}-\d{2}-\d{2}_\d{6}\.db$/.test(f)), 'no partial file').to.deep.equal([]);
      for (const f of files) expect(sqlite3(join(backupsDir(d), f), 'PRAGMA integrity_check')).to.equal('ok');
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
    });

    it('--auto-backup-hours 0: none is ever taken', async () => {
      const d = await dirWithSongs();
      const p = await launch(d, ['--auto-backup-hours', '0']);
      await sleep(3000);
      expect((await ok(p, 'backup.list', {})).items).to.deep.equal([]);
      expect(backupFiles(d)).to.deep.equal([]);
      await stop(p);
    });
  });
});

/**
 * Puts bad files into backups/ (named so they are not taken for backups), each with the reason
 * backup.verify and backup.restore must give: garbage bytes, a truncated copy of a good backup, a
 * copy with a damaged page, a copy with a hostile trigger added, and one from a newer schema.
 */
function plantBadFiles(dataDir: string, goodBackup: string): Record<string, RegExp> {
  const dir = backupsDir(dataDir);
  const garbage = Buffer.alloc(64 * 1024);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
  writeFileSync(join(dir, 'garbage.db'), garbage);

  const bytes = readFileSync(goodBackup);
  writeFileSync(join(dir, 'truncated.db'), bytes.subarray(0, Math.floor(bytes.length / 2)));

  // A good backup whose songs table page is overwritten: it opens, but fails integrity_check.
  const pageSize = Number(sqlite3(goodBackup, 'PRAGMA page_size'));
  const root = Number(sqlite3(goodBackup, "SELECT rootpage FROM sqlite_schema WHERE name = 'songs'"));
  const damaged = Buffer.from(bytes);
  damaged.fill(0xab, (root - 1) * pageSize + 16, root * pageSize - 16);
  writeFileSync(join(dir, 'damaged.db'), damaged);

  copyFileSync(goodBackup, join(dir, 'evil.db'));
  sqlite3(join(dir, 'evil.db'), 'CREATE TRIGGER evil AFTER INSERT ON songs BEGIN DELETE FROM songs; END;');

  copyFileSync(goodBackup, join(dir, 'future.db'));
  sqlite3(join(dir, 'future.db'), 'PRAGMA user_version = 99');
  expect(sqlite3(join(dir, 'future.db'), 'PRAGMA user_version')).to.equal('99');

  return {
    'garbage.db': /not a (SQLite )?database|cannot be opened/i,
    'truncated.db': /malformed|integrity_check/i,
    'damaged.db': /integrity_check|malformed/i,
    'evil.db': /evil/,
    'future.db': /newer/i,
  };
}

/** Checks an answer read raw (to see what came before it) against its method's result schema, as `ok` does. */
function expectResultSchema(method: string, result: unknown): void {
  const validate = resultValidator(method);
  expect(validate(result), `${method} result fails its schema: ${JSON.stringify(validate.errors)}\nresult: ${JSON.stringify(result)}`).to.equal(true);
}
