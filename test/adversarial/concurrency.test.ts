/**
 * SQLite under contention from other processes, through the real sidecar:
 *
 * - another process holds the write lock (BEGIN IMMEDIATE): the first write waits the busy
 *   timeout and answers StorageBusy {reason: "locked", retryAfterMs}; the writes queued behind it
 *   fail fast, so a ping behind six writes is answered in about one busy timeout (it used to wait
 *   six); the write after the lock is released succeeds at once;
 * - another process holds an old read snapshot (a stock `sqlite3` in a transaction): no checkpoint
 *   can reset the WAL, so past --max-wal-mib writes are refused with StorageBusy
 *   {reason: "wal-pinned", walBytes, limitBytes}; the WAL stays bounded; once the reader lets go,
 *   the next write checkpoints (TRUNCATE), goes on, and the WAL shrinks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { makeSong } from '../helpers/fixtures.js';
import { ROOT, type RpcResponse, type StoreProcess } from '../helpers/process.js';
import { ok, fails, Procs, stop } from '../helpers/rpc.js';

const STORAGE_BUSY = -32011;
/** The sidecar's busy timeout (src/store/database.ts BUSY_TIMEOUT_MS). */
const BUSY_TIMEOUT_MS = 5000;
const MIB = 1024 * 1024;

/** Another process holding a lock on data.db until `release()`. */
interface Holder {
  child: ChildProcess;
  release(): Promise<void>;
}

/** Waits until `child`'s stdout has printed `word`; rejects if it exits first. */
function printed(child: ChildProcess, word: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes(word)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before printing ${word}: ${out} ${err}`)));
  });
}

/** A node process with better-sqlite3 that takes the write lock (BEGIN IMMEDIATE) and keeps it until told. */
async function holdWriteLock(dbPath: string): Promise<Holder> {
  const script = `
    const Database = require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))});
    const db = new Database(${JSON.stringify(dbPath)}, { timeout: 0 });
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    process.stdin.once('data', () => { db.exec('ROLLBACK'); db.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  await printed(child, 'locked');
  return { child, release: () => ended(child, () => child.stdin!.write('release\n')) };
}

/** A stock sqlite3 in a read transaction on data.db: it holds that snapshot until told. */
async function holdReadSnapshot(dbPath: string): Promise<Holder> {
  const child = spawn('sqlite3', [dbPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  const reading = printed(child, 'reading');
  child.stdin!.write("BEGIN; SELECT count(*) FROM songs; SELECT 'reading';\n");
  await reading;
  return { child, release: () => ended(child, () => child.stdin!.end('COMMIT;\n.quit\n')) };
}

function ended(child: ChildProcess, tell: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  tell();
  return exit;
}

describe('concurrency: other processes holding locks and snapshots on data.db', function () {
  this.timeout(30000);
  const procs = new Procs();
  let holder: Holder | undefined;

  afterEach(async () => {
    if (holder && holder.child.exitCode === null && holder.child.signalCode === null) {
      holder.child.kill('SIGKILL');
      await new Promise((resolve) => holder!.child.once('exit', resolve));
    }
    holder = undefined;
    await procs.cleanupAll();
  });

  it('a held write lock: the first write waits the busy timeout, the writes behind it fail fast, a ping behind six writes is answered in about one timeout, reads never wait', async () => {
    const p = await procs.launch();
    const first = await ok(p, 'songs.create', { item: makeSong({ id: 'first' }) });
    holder = await holdWriteLock(join(p.dataDir, 'data.db'));

    // A read does not wait for the other process's write lock.
    let t = Date.now();
    expect(await ok(p, 'songs.get', { id: first.id })).to.deep.equal(first);
    expect(Date.now() - t, 'a read is answered at once').to.be.below(1000);

    // Six writes and a ping, sent together: they are served in order.
    const sentAt = Date.now();
    const answeredAt = new Map<string, number>();
    const answer = (id: string): Promise<RpcResponse> =>
      p.waitForResponse(id, BUSY_TIMEOUT_MS * 3).then((r) => {
        answeredAt.set(id, Date.now() - sentAt);
        return r;
      });
    const writes = Array.from({ length: 6 }, (_, i) => answer(`w${i}`));
    const ping = answer('ping');
    for (let i = 0; i < 6; i++) p.send({ jsonrpc: '2.0', id: `w${i}`, method: 'songs.create', params: { item: makeSong({ id: `queued-${i}` }) } });
    p.send({ jsonrpc: '2.0', id: 'ping', method: 'system.ping' });

    const answers = await Promise.all(writes);
    for (const [i, r] of answers.entries()) {
      expect(r.error, `write ${i}: ${JSON.stringify(r)}`).to.be.an('object');
      expect(r.error!.code, `write ${i}`).to.equal(STORAGE_BUSY);
      expect(r.error!.data, `write ${i}`).to.deep.equal({ reason: 'locked', retryAfterMs: r.error!.data.retryAfterMs });
      expect(r.error!.data.retryAfterMs).to.be.a('number').and.above(0);
    }
    expect((await ping).result).to.include({ pong: true });
    const at = (id: string): number => answeredAt.get(id)!;
    expect(at('w0'), 'the first write waited for the lock').to.be.at.least(BUSY_TIMEOUT_MS - 500);
    expect(at('w0'), 'and answered within the busy timeout').to.be.below(BUSY_TIMEOUT_MS + 1000);
    expect(at('w5') - at('w0'), 'the five writes behind it were answered quickly').to.be.below(500);
    expect(at('ping'), 'the ping behind six writes: about one busy timeout, not six').to.be.below(BUSY_TIMEOUT_MS + 1500);

    // Still locked: a later write fails fast too, and a read is still served at once.
    t = Date.now();
    await fails(p, 'songs.save', { item: makeSong({ id: 'later' }) }, STORAGE_BUSY);
    expect(Date.now() - t, 'a write while the lock is known to be held fails fast').to.be.below(500);
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 1 });

    // Released: the next write succeeds at once, and nothing refused was written.
    await holder.release();
    t = Date.now();
    expect(await ok(p, 'songs.create', { item: makeSong({ id: 'after' }) })).to.include({ id: 'after', revision: 1 });
    expect(Date.now() - t).to.be.below(1000);
    await ok(p, 'songs.save', { item: makeSong({ id: 'after-2' }) });
    expect((await ok(p, 'songs.list', { limit: 100 })).items.map((s: any) => s.id).sort()).to.deep.equal(['after', 'after-2', 'first']);
    expect(p.notifications('store.changed').flatMap((c: any) => c.ids)).to.not.include.members(['queued-0', 'later']);
    await stop(p);
    expect(p.stderr, 'no internal error').to.not.include('internal error');
  });

  it('a held read snapshot: past --max-wal-mib writes are refused as wal-pinned, the WAL stays bounded, and once the reader lets go writes go on and the WAL shrinks', async () => {
    const LIMIT_MIB = 4;
    const p = await procs.launch({ args: ['--max-wal-mib', String(LIMIT_MIB)] });
    const dbPath = join(p.dataDir, 'data.db');
    const walBytes = (): number => statSync(`${dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    /** A song of about 256 KB. */
    const big = (i: number): Record<string, any> => makeSong({ id: `big-${i}`, sections: [{ id: 's', blob: `${i}:`.padEnd(256 * 1024, 'w') }] });
    await ok(p, 'songs.save', { item: big(0) });
    holder = await holdReadSnapshot(dbPath);

    let refusal: { code: number; message: string; data?: any } | undefined;
    let saved = 1;
    for (let i = 1; i < 60 && !refusal; i++) {
      const r = await p.request('songs.save', { item: big(i) });
      if (r.error) refusal = r.error;
      else saved++;
    }
    expect(refusal, `a write was refused (WAL at ${walBytes()} bytes after ${saved} saves)`).to.not.equal(undefined);
    expect(refusal!.code, JSON.stringify(refusal)).to.equal(STORAGE_BUSY);
    expect(refusal!.data).to.include({ reason: 'wal-pinned', limitBytes: LIMIT_MIB * MIB });
    expect(refusal!.data.walBytes).to.be.above(LIMIT_MIB * MIB);
    expect(refusal!.message).to.match(/snapshot/);
    // Bounded: past the limit by at most what was written in one check interval (10 ms), and no further.
    const pinnedAt = walBytes();
    expect(pinnedAt).to.be.below((LIMIT_MIB + 2) * MIB);
    for (let i = 100; i < 105; i++) expect((await fails(p, 'songs.save', { item: big(i) }, STORAGE_BUSY)).data.reason).to.equal('wal-pinned');
    expect(walBytes(), 'refused writes add nothing to the WAL').to.equal(pinnedAt);
    // Reads go on.
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: saved });

    await holder.release();
    expect(await ok(p, 'songs.save', { item: big(200) })).to.include({ id: 'big-200', revision: 1 });
    expect(walBytes(), 'the WAL was reset by a checkpoint').to.be.below(MIB);
    for (let i = 201; i < 205; i++) await ok(p, 'songs.save', { item: big(i) });
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: saved + 5 });
    await stop(p);
    expect(p.stderr, 'no internal error').to.not.include('internal error');
  });
});
