/**
 * Fault tests through the real process: a full disk, a damaged file, another process holding the
 * write lock, and a SIGKILL in the middle of a burst of writes. Each one checks the contract's
 * answer (StorageFull -32010, StorageCorrupt -32012, StorageBusy -32011; never InternalError
 * -32603), that the process keeps serving, and what the database holds afterwards (read back
 * through the sidecar and with a stock `sqlite3`).
 *
 * Needs Linux and root for the tmpfs of the disk-full test (skipped otherwise) and the `sqlite3`
 * command-line tool.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT, RpcCallError, StoreProcess, runOnce, tempDir, type RpcResponse } from '../helpers/process.js';
import { makeSong } from '../helpers/fixtures.js';
import { sha256File, sqlite3 } from '../helpers/check.js';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../helpers/tmpfs.js';

const STORAGE_FULL = -32010;
const STORAGE_BUSY = -32011;
const STORAGE_CORRUPT = -32012;
const NOT_FOUND = -32001;

/** The error a call answered, or a failure when it answered a result. */
async function callError(p: StoreProcess, method: string, params?: unknown): Promise<RpcCallError> {
  const r = await p.request(method, params);
  if (!r.error) expect.fail(`${method} answered a result, not an error: ${JSON.stringify(r.result).slice(0, 300)}`);
  return new RpcCallError(r.error.code, r.error.message, r.error.data);
}


/** Stops the sidecar in an orderly way (end of stdin) and expects exit status 0. */
async function shutDown(p: StoreProcess): Promise<void> {
  const exit = await p.close();
  expect(exit, `shutdown; stderr: ${p.stderr}`).to.deep.equal({ code: 0, signal: null });
}

// -------------------------------------------------------------------------------------------------
// Disk full
// -------------------------------------------------------------------------------------------------

describe('faults: the disk is full (StorageFull -32010)', function () {
  this.timeout(60000);

  const TMPFS_SIZE = '8m';
  /** A structured part of this many characters makes a song of about 200 KB. */
  const BIG = 200_000;
  /**
   * 12 songs of 200 KB are about 2.5 MB of WAL: below the 1000-page auto-checkpoint (so the WAL only
   * grows and every commit needs new blocks), and small enough that the checkpoint at shutdown fits
   * on the 8 MB disk once the filler is gone.
   */
  const SONGS = 12;

  let mountPoint: string | undefined;
  let proc: StoreProcess | undefined;

  beforeEach(function () {
    mountPoint = mountTmpfs(this, TMPFS_SIZE, 'wr-faults-full-');
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

  const bigSong = (n: number): Record<string, any> =>
    makeSong({ id: `big-${n}`, name: `Big ${n}`, sections: [{ id: 'huge', blob: `${n}`.padEnd(BIG, 'x') }] });


  it('answers every write with StorageFull, changes nothing, keeps serving reads, and writes again once space is freed', async function () {
    const dataDir = join(mountPoint!, 'data');
    mkdirSync(dataDir);
    const p = (proc = await StoreProcess.start({ dataDir }));
    const dbPath = join(dataDir, 'data.db');

    // Saves whose answer was a result: exactly these must be in the file at the end.
    const answered = new Map<string, number>();
    for (let n = 0; n < SONGS; n++) {
      const saved = await p.call('songs.save', { item: bigSong(n) });
      answered.set(saved.id, saved.revision);
    }
    const before = await p.call('songs.list', { limit: 100 });
    expect(before.items).to.have.length(SONGS);

    const filler = join(mountPoint!, 'filler');
    fillDisk(filler);
    expect(statfsSync(mountPoint!).bavail, 'free blocks after the filler').to.equal(0);

    const existing = before.items[0];
    const writes: [string, unknown][] = [
      ['songs.save', { item: makeSong({ id: 'new-small' }) }],
      ['songs.create', { item: makeSong({ id: 'new-created' }) }],
      ['songs.save', { item: bigSong(100) }],
      ['songs.save', { item: { ...bigSong(0), name: 'renamed while the disk is full' } }],
      ['songs.update', { item: { ...bigSong(1), name: 'updated while the disk is full' }, ifRevision: 1 }],
      ['songs.setFavorite', { id: existing.id, isFavorite: !existing.isFavorite }],
      ['songs.markPlayed', { id: existing.id }],
      ['songs.delete', { id: 'big-2' }],
      ['songs.deleteMany', { ids: ['big-3', 'big-4'] }],
      ['songs.saveMany', { items: [makeSong({ id: 'many-1' }), makeSong({ id: 'many-2' })] }],
    ];
    for (const [method, params] of writes) {
      const err = await callError(p, method, params);
      expect(
        { method, code: err.code },
        `${method} answered ${err.code} ${err.message}; stderr: ${p.stderr.slice(-2000)}`,
      ).to.deep.equal({ method, code: STORAGE_FULL });
      expect(err.message).to.be.a('string').and.not.be.empty;
    }
    expect(p.child.exitCode, 'the sidecar is still running').to.equal(null);

    // Reads still work and show the database as it was before the failed writes.
    expect(await p.call('songs.count')).to.deep.equal({ count: SONGS });
    expect(await p.call('songs.list', { limit: 100 })).to.deep.equal(before);
    expect(await p.call('songs.get', { id: 'big-0' })).to.deep.equal(before.items.find((s: any) => s.id === 'big-0'));
    for (const id of ['new-small', 'new-created', 'big-100', 'many-1']) {
      expect((await callError(p, 'songs.get', { id })).code, id).to.equal(NOT_FOUND);
    }

    // Space freed: the same kinds of writes work again.
    unlinkSync(filler);
    const small = await p.call('songs.save', { item: makeSong({ id: 'new-small' }) });
    expect(small.revision).to.equal(1);
    answered.set(small.id, small.revision);
    const renamed = await p.call('songs.save', { item: { ...bigSong(0), name: 'renamed after space was freed' } });
    expect(renamed.revision).to.equal(2);
    answered.set(renamed.id, renamed.revision);
    expect(await p.call('songs.count')).to.deep.equal({ count: SONGS + 1 });

    await shutDown(p);
    expect(p.stderr, 'no internal error was logged').not.to.include('internal error');
    expect(sqlite3(dbPath, 'PRAGMA integrity_check')).to.equal('ok');
    const rows = sqlite3(dbPath, "SELECT id || ' ' || revision FROM songs ORDER BY id").split('\n');
    expect(rows).to.deep.equal([...answered].map(([id, rev]) => `${id} ${rev}`).sort());
  });

  it('answers backups, exports, imports and restores with StorageFull, leaves no partial file, and makes them once space is freed', async function () {
    // Room for the backups and exports made once space is freed.
    execFileSync('mount', ['-o', 'remount,size=32m', mountPoint!], { stdio: 'pipe' });
    const dataDir = join(mountPoint!, 'data');
    mkdirSync(dataDir);
    const p = (proc = await StoreProcess.start({ dataDir }));
    for (let n = 0; n < 4; n++) await p.call('songs.save', { item: bigSong(n) });
    const good = await p.call('backup.create', {});
    const exported = await p.call('export.songs', {});
    const archive = await p.call('export.full', {});
    await p.call('songs.save', { item: bigSong(4) });
    const before = await p.call('songs.list', { limit: 100 });

    /** Every file under the data directory, by path relative to it (the database's own excepted). */
    const files = (): string[] =>
      (readdirSync(dataDir, { recursive: true }) as string[]).filter((f) => !/^data\.db(-wal|-shm)?$/.test(f) && statSync(join(dataDir, f)).isFile()).sort();
    const filesBefore = files();

    const filler = join(mountPoint!, 'filler');
    fillDisk(filler);
    expect(statfsSync(mountPoint!).bavail, 'free blocks after the filler').to.equal(0);

    const calls: [string, unknown][] = [
      ['backup.create', { label: 'on a full disk' }],
      ['export.songs', {}],
      ['export.full', {}],
      ['backup.restore', { path: good.name }],
      ['import.songs', { path: exported.path, onConflict: 'duplicate' }],
      ['import.full', { path: archive.path }],
    ];
    for (const [method, params] of calls) {
      const err = await callError(p, method, params);
      expect({ method, code: err.code }, `${method} answered ${err.code} ${err.message}; stderr: ${p.stderr.slice(-2000)}`).to.deep.equal({
        method,
        code: STORAGE_FULL,
      });
      expect(files(), `${method} left no file behind`).to.deep.equal(filesBefore);
      expect(await p.call('songs.list', { limit: 100 }), `${method} changed nothing`).to.deep.equal(before);
    }
    expect(p.child.exitCode, 'the sidecar is still running').to.equal(null);

    // Space freed: each of them works.
    unlinkSync(filler);
    const made = await p.call('backup.create', { label: 'after' });
    expect(sqlite3(made.path, 'PRAGMA quick_check')).to.equal('ok');
    const songsFile = await p.call('export.songs', {});
    expect(JSON.parse(readFileSync(songsFile.path, 'utf8')).songs).to.have.length(5);
    const full = await p.call('export.full', {});
    expect(statSync(full.path).size).to.be.greaterThan(0);
    const restored = await p.call('backup.restore', { path: good.name });
    expect(restored.counts.songs).to.equal(4);
    const imported = await p.call('import.songs', { path: exported.path, onConflict: 'duplicate' });
    expect(imported).to.include({ duplicated: 4 });
    expect(await p.call('songs.count')).to.deep.equal({ count: 8 });
    const fromArchive = await p.call('import.full', { path: archive.path });
    expect(fromArchive.counts.songs).to.equal(4);

    // A shutdown on a full disk: the checkpoint cannot grow data.db, so the -wal keeps the commits;
    // the exit is still clean, and nothing is lost.
    await p.call('songs.save', { item: bigSong(9) });
    fillDisk(filler);
    await shutDown(p);
    expect(p.stderr, 'no internal error was logged').not.to.include('internal error');
    expect(p.stderr).to.include('could not be checkpointed at shutdown');
    unlinkSync(filler);
    const dbPath = join(dataDir, 'data.db');
    expect(sqlite3(dbPath, 'PRAGMA integrity_check')).to.equal('ok');
    expect(sqlite3(dbPath, 'SELECT count(*) FROM songs')).to.equal('5');
  });
});

// -------------------------------------------------------------------------------------------------
// Corruption
// -------------------------------------------------------------------------------------------------

describe('faults: the database file is damaged (StorageCorrupt -32012)', function () {
  this.timeout(60000);

  const PAGE_SIZE = 4096;
  let dataDir: string;
  let procs: StoreProcess[] = [];

  beforeEach(() => {
    dataDir = tempDir('wr-faults-corrupt-');
    procs = [];
  });

  afterEach(async () => {
    for (const p of procs) await p.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<StoreProcess> {
    const p = await StoreProcess.start({ dataDir });
    procs.push(p);
    return p;
  }

  /** Creates `n` songs and shuts down cleanly, so everything is in data.db (WAL checkpointed). */
  async function populate(n: number): Promise<string[]> {
    const p = await start();
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await p.call('songs.create', { item: makeSong() })).id);
    await shutDown(p);
    expect(existsSync(join(dataDir, 'data.db-wal')) ? readFileSync(join(dataDir, 'data.db-wal')).length : 0).to.equal(0);
    return ids;
  }

  /** Overwrites `length` bytes at `offset` of data.db with a fixed garbage pattern. */
  function scribble(offset: number, length: number): void {
    const garbage = Buffer.alloc(length);
    for (let i = 0; i < length; i++) garbage[i] = [0xde, 0xad, 0xbe, 0xef][i % 4]!;
    const fd = openSync(join(dataDir, 'data.db'), 'r+');
    try {
      writeSync(fd, garbage, 0, length, offset);
    } finally {
      closeSync(fd);
    }
  }

  it('answers reads of a damaged table with StorageCorrupt and details, and keeps serving', async function () {
    const ids = await populate(40);
    const dbPath = join(dataDir, 'data.db');
    expect(Number(sqlite3(dbPath, 'PRAGMA page_size'))).to.equal(PAGE_SIZE);
    const rootpage = Number(sqlite3(dbPath, "SELECT rootpage FROM sqlite_schema WHERE name = 'songs'"));
    expect(rootpage).to.be.greaterThan(1); // never page 1, which holds the 100-byte file header
    // Garbage over the first half of the songs table's root page: its b-tree page header and cell pointers.
    // Damaged while the sidecar serves (a damaged file is caught at start and recovered from a
    // backup: test/integration/transfer.test.ts); reads go through the memory map, so they see it.
    const p = await start();
    scribble((rootpage - 1) * PAGE_SIZE, PAGE_SIZE / 2);
    expect(() => sqlite3(dbPath, 'PRAGMA integrity_check'), 'sqlite3 sees the damage').to.throw(/malformed/);

    const calls: [string, unknown][] = [
      ['songs.list', {}],
      ['songs.list', { orderBy: 'name', limit: 5 }],
      ['songs.get', { id: ids[0] }],
      ['songs.get', { id: ids[ids.length - 1] }],
    ];
    for (const [method, params] of calls) {
      const err = await callError(p, method, params);
      expect({ method, code: err.code }, `${method} answered ${err.code} ${err.message}`).to.deep.equal({
        method,
        code: STORAGE_CORRUPT,
      });
      expect(err.data, `${method} data`).to.be.an('object').with.property('details').that.is.a('string').and.not.empty;
      // The process keeps serving after each one.
      expect((await p.call('system.ping')).pong).to.equal(true);
    }
    expect(p.stderr, 'no internal error was logged').not.to.include('internal error');
    expect(p.child.exitCode).to.equal(null);
  });

  it('answers a write into a damaged table with StorageCorrupt, not InternalError', async function () {
    await populate(40);
    const dbPath = join(dataDir, 'data.db');
    const rootpage = Number(sqlite3(dbPath, "SELECT rootpage FROM sqlite_schema WHERE name = 'songs'"));
    const p = await start();
    scribble((rootpage - 1) * PAGE_SIZE, PAGE_SIZE / 2);
    const err = await callError(p, 'songs.save', { item: makeSong() });
    expect(err.code, `${err.code} ${err.message}`).to.equal(STORAGE_CORRUPT);
    expect(err.data).to.have.property('details').that.is.a('string');
    expect((await p.call('system.ping')).pong).to.equal(true);
  });

  // Start-up with garbage in the file header itself (the first 100 bytes: "SQLite format 3\0", the
  // page size, ...): SQLite cannot open the file at all (SQLITE_NOTADB, "file is not a database"),
  // so the sidecar cannot serve. Today it exits with status 1, writes the JSON log record of the
  // failure (every log line goes to stderr too) and one human line,
  // `whiteroom-store: file is not a database`, and leaves the file exactly as it was: it never
  // deletes or "repairs" a file it cannot read.
  async function startOnGarbageHeader(): Promise<{ run: Awaited<ReturnType<typeof runOnce>>; hash: string; dbPath: string }> {
    await populate(3);
    const dbPath = join(dataDir, 'data.db');
    scribble(0, 100);
    const hash = sha256File(dbPath);
    const run = await runOnce(['--data-dir', dataDir, '--log-level', 'warn'], '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    return { run, hash, dbPath };
  }

  /** stderr lines that are not JSON log records. */
  const humanLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));

  it('refuses to start on a file whose header is garbage, with one line on stderr, and leaves the file as it was', async function () {
    const { run, hash, dbPath } = await startOnGarbageHeader();
    expect(run.code, `exit; stderr: ${run.stderr}`).to.be.a('number').and.not.equal(0);
    expect(run.stdout, 'nothing on stdout').to.equal('');
    const human = humanLines(run.stderr);
    expect(human, `stderr: ${run.stderr}`).to.have.length(1);
    expect(human[0]).to.match(/^whiteroom-store: .*not a database/);
    for (const l of run.stderr.split('\n').filter((x) => x.startsWith('{'))) expect(() => JSON.parse(l)).not.to.throw();

    expect(existsSync(dbPath), 'data.db still exists').to.equal(true);
    expect(sha256File(dbPath), 'data.db is byte-identical').to.equal(hash);
  });

  it('names the damaged file in the line it prints when it refuses to start', async function () {
    const { run, dbPath } = await startOnGarbageHeader();
    expect(run.code).to.not.equal(0);
    const human = humanLines(run.stderr);
    expect(human).to.have.length(1);
    // A person reading "file is not a database" cannot tell which file, nor that it was left alone.
    expect(human[0], 'the line names the file').to.include(dbPath);
  });
});

// -------------------------------------------------------------------------------------------------
// Busy
// -------------------------------------------------------------------------------------------------

describe('faults: another process holds the write lock (StorageBusy -32011)', function () {
  this.timeout(60000);

  const HOLD_MS = 7000;
  const BUSY_TIMEOUT_MS = 5000;
  let proc: StoreProcess | undefined;
  let holder: ChildProcess | undefined;

  afterEach(async () => {
    if (holder && holder.exitCode === null && holder.signalCode === null) {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder!.once('exit', resolve));
    }
    holder = undefined;
    await proc?.cleanup();
    proc = undefined;
  });

  /**
   * Starts a node process that opens data.db with better-sqlite3, takes the write lock
   * (BEGIN IMMEDIATE), prints `locked`, keeps the transaction open for `ms`, then rolls back and
   * exits. Resolves once it holds the lock; `done` resolves when it has exited.
   */
  async function holdWriteLock(dbPath: string, ms: number): Promise<{ child: ChildProcess; done: Promise<number | null> }> {
    const script = `
      const Database = require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))});
      const db = new Database(${JSON.stringify(dbPath)}, { timeout: 0 });
      db.exec('BEGIN IMMEDIATE');
      process.stdout.write('locked\\n');
      setTimeout(() => { db.exec('ROLLBACK'); db.close(); process.exit(0); }, ${ms});
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('locked')) resolve();
      });
      void done.then((code) => reject(new Error(`the lock holder exited (${code}) before locking: ${err}`)));
    });
    return { child, done };
  }

  it('answers a write with StorageBusy after the busy timeout, writes nothing, serves reads meanwhile, and writes once the lock is gone', async function () {
    const p = (proc = await StoreProcess.start());
    const first = await p.call('songs.create', { item: makeSong() });
    const dbPath = join(p.dataDir, 'data.db');

    const lock = await holdWriteLock(dbPath, HOLD_MS);
    holder = lock.child;
    const lockedAt = Date.now();

    // Reads do not wait for the writer in WAL mode.
    let t = Date.now();
    expect(await p.call('songs.count')).to.deep.equal({ count: 1 });
    expect(await p.call('songs.get', { id: first.id })).to.deep.equal(first);
    expect(Date.now() - t, 'reads answer promptly while another process holds the write lock').to.be.below(1000);

    const song = makeSong();
    t = Date.now();
    const err = await callError(p, 'songs.create', { item: song });
    const waited = Date.now() - t;
    expect(err.code, `${err.code} ${err.message}`).to.equal(STORAGE_BUSY);
    expect(waited, 'waited for the busy timeout first').to.be.at.least(BUSY_TIMEOUT_MS - 500);
    expect(Date.now() - lockedAt, 'answered while the other process still held the lock').to.be.below(HOLD_MS);

    expect((await callError(p, 'songs.get', { id: song.id })).code).to.equal(NOT_FOUND);
    expect(await p.call('songs.count')).to.deep.equal({ count: 1 });
    expect(p.notifications('store.changed').flatMap((c) => c.ids)).not.to.include(song.id);

    expect(await lock.done, 'the lock holder ended normally').to.equal(0);
    const created = await p.call('songs.create', { item: song });
    expect(created).to.include({ id: song.id, revision: 1 });
    expect(await p.call('songs.count')).to.deep.equal({ count: 2 });
    expect(p.stderr, 'no internal error was logged').not.to.include('internal error');
  });
});

// -------------------------------------------------------------------------------------------------
// SIGKILL
// -------------------------------------------------------------------------------------------------

describe('faults: SIGKILL in the middle of a burst of writes', function () {
  this.timeout(60000);

  const SAVES = 300;
  const KILL_AFTER = 100;
  /** Saves go round-robin over this many ids, so most ids are saved several times. */
  const IDS = 60;
  let dataDir: string;
  let procs: StoreProcess[] = [];

  beforeEach(() => {
    dataDir = tempDir('wr-faults-kill-');
    procs = [];
  });

  afterEach(async () => {
    for (const p of procs) await p.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps every answered save, with its revision, and restarts on the same data dir with an intact file', async function () {
    const idOf = (i: number): string => `burst-song-${i % IDS}`;
    /** Save i is the (floor(i / IDS) + 1)-th write of its id. */
    const revisionOf = (i: number): number => Math.floor(i / IDS) + 1;
    const songOf = (i: number): Record<string, any> =>
      makeSong({ id: idOf(i), name: `burst save ${i}`, sections: [{ id: 's', save: i, pad: 'p'.repeat(20_000) }] });

    const p = await StoreProcess.start({ dataDir });
    procs.push(p);
    // Requests are answered in order: once save KILL_AFTER-1 is answered, at least KILL_AFTER are.
    const killed = p.waitForResponse(`save-${KILL_AFTER - 1}`, 30000).then(() => p.kill('SIGKILL'));
    for (let i = 0; i < SAVES; i++) {
      p.send({ jsonrpc: '2.0', id: `save-${i}`, method: 'songs.save', params: { item: songOf(i) } });
    }
    expect(await killed).to.deep.equal({ code: null, signal: 'SIGKILL' });
    // Read what was already written to the pipe before the kill.
    const stdout = p.child.stdout!;
    if (!stdout.destroyed) await new Promise((resolve) => stdout.once('close', resolve));

    const answers = p.received.filter(
      (m): m is RpcResponse => typeof m === 'object' && m !== null && String((m as RpcResponse).id).startsWith('save-'),
    );
    expect(answers.length).to.be.at.least(KILL_AFTER);
    /** Highest answered revision of each id. */
    const answered = new Map<string, number>();
    answers.forEach((r, k) => {
      const i = Number(String(r.id).slice('save-'.length));
      expect(i, 'answers come in request order').to.equal(k);
      expect(r.error, `save ${i} failed`).to.equal(undefined);
      expect(r.result).to.include({ id: idOf(i), name: `burst save ${i}`, revision: revisionOf(i) });
      answered.set(idOf(i), revisionOf(i));
    });

    // The instance lock died with the process: a new sidecar serves the same directory.
    const q = await StoreProcess.start({ dataDir });
    procs.push(q);
    const stored = new Map<string, any>();
    for (const s of (await q.call('songs.list', { limit: 1000 })).items) stored.set(s.id, s);

    for (const [id, revision] of answered) {
      expect(stored.get(id), `answered save of ${id} is there`).to.not.equal(undefined);
      expect(stored.get(id).revision, id).to.be.at.least(revision);
    }
    // Whatever was committed is a prefix of the burst (saves run in order, each one commits whole),
    // and each stored song is exactly the save that gave it its revision.
    let committed = 0;
    for (const s of stored.values()) committed += s.revision;
    expect(committed).to.be.at.least(answers.length).and.at.most(SAVES);
    for (let k = 0; k < IDS; k++) {
      const id = `burst-song-${k}`;
      const saves = Array.from({ length: committed }, (_, i) => i).filter((i) => i % IDS === k);
      if (saves.length === 0) {
        expect(stored.has(id), `${id} was never committed`).to.equal(false);
        continue;
      }
      const last = saves[saves.length - 1]!;
      const s = stored.get(id);
      expect(s, `${id} is there`).to.not.equal(undefined);
      expect(s.revision, id).to.equal(saves.length);
      expect(s.name, id).to.equal(`burst save ${last}`);
      expect(s.sections, id).to.deep.equal(songOf(last).sections);
    }
    expect(await q.call('songs.count')).to.deep.equal({ count: stored.size });

    await shutDown(q);
    expect(sqlite3(join(dataDir, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
    expect(Number(sqlite3(join(dataDir, 'data.db'), 'SELECT count(*) FROM songs'))).to.equal(stored.size);
  });
});
