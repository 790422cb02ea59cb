/**
 * The contract's Lifecycle and Data directory sections, through the real process: one-shot piping,
 * where the data directory is, every shutdown path (and what it leaves on disk, checked with a
 * stock sqlite3), the single-instance lock, refusing a database from a newer version, and SIGKILL
 * in the middle of a burst of writes.
 */
import { MIGRATIONS } from '../../src/generated/migrations.js';
import { expect } from 'chai';
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { runOnce, StoreProcess, tempDir, type Exit, type Framing, type RpcResponse } from '../helpers/process.js';
import { makeSong } from '../helpers/fixtures.js';
import { sqlite3 } from '../helpers/check.js';
import { connect } from '../../src/store/sqlite.js';

const req = (id: string | number, method: string, params?: unknown): Record<string, unknown> => ({
  jsonrpc: '2.0',
  id,
  method,
  ...(params === undefined ? {} : { params }),
});

/** Temporary folders and processes of the current test, removed after it. */
let dirs: string[] = [];
let procs: StoreProcess[] = [];

function dir(prefix = 'wr-life-'): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

async function start(dataDir: string, framing: Framing = 'ndjson', args: string[] = []): Promise<StoreProcess> {
  const p = await StoreProcess.start({ dataDir, framing, args });
  procs.push(p);
  return p;
}

async function cleanup(): Promise<void> {
  await Promise.all(procs.map((p) => p.cleanup()));
  procs = [];
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
}

/** The WAL is gone or empty (everything checkpointed into data.db). */
function expectNoWal(dataDir: string): void {
  const wal = join(dataDir, 'data.db-wal');
  if (existsSync(wal)) expect(statSync(wal).size, 'data.db-wal is empty').to.equal(0);
}

function expectIntact(dataDir: string): void {
  expect(sqlite3(join(dataDir, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
}

function songIdsOnDisk(dataDir: string): string[] {
  const out = sqlite3(join(dataDir, 'data.db'), 'SELECT id FROM songs ORDER BY id');
  return out === '' ? [] : out.split('\n');
}

describe('lifecycle: one-shot use from a pipe', () => {
  afterEach(cleanup);

  it('piping one system.info request prints exactly one JSON line and exits 0', async () => {
    const d = dir();
    const r = await runOnce(['--data-dir', d], '{"jsonrpc":"2.0","id":1,"method":"system.info"}\n');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.signal).to.equal(null);
    expect(r.stdout.endsWith('\n')).to.equal(true);
    const lines = r.stdout.slice(0, -1).split('\n');
    expect(lines, r.stdout).to.have.length(1);
    const response = JSON.parse(lines[0]!) as RpcResponse;
    expect(response.jsonrpc).to.equal('2.0');
    expect(response.id).to.equal(1);
    expect(response.error).to.equal(undefined);
    const info = response.result;
    expect(info.version).to.be.a('string').and.match(/^\d+\.\d+\.\d+/);
    expect(info.schemaVersion).to.equal(MIGRATIONS[MIGRATIONS.length - 1]!.version);
    expect(info.sqliteVersion).to.be.a('string').and.match(/^3\.\d+\.\d+/);
    expect(info.dataDir).to.equal(d);
    expect(info.dbPath).to.equal(join(d, 'data.db'));
    expect(existsSync(join(d, 'data.db'))).to.equal(true);
  });

  it('exits 0 without output when stdin ends before any message', async () => {
    const d = dir();
    const r = await runOnce(['--data-dir', d], '');
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('');
  });
});

describe('lifecycle: data directory', () => {
  afterEach(cleanup);

  /** Runs system.info with `args` and `env` (WHITEROOM_DATA_DIR and XDG_DATA_HOME unset unless given). */
  async function infoWith(args: string[], env: NodeJS.ProcessEnv): Promise<{ dataDir: string; dbPath: string }> {
    const r = await runOnce(args, '{"jsonrpc":"2.0","id":1,"method":"system.info"}\n', {
      WHITEROOM_DATA_DIR: undefined,
      XDG_DATA_HOME: undefined,
      ...env,
    });
    expect(r.code, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout) as RpcResponse).result;
  }

  function expectLayout(dataDir: string): void {
    for (const entry of ['data.db', 'backups', 'exports', 'logs']) {
      expect(existsSync(join(dataDir, entry)), `${dataDir}/${entry}`).to.equal(true);
    }
    for (const folder of ['backups', 'exports', 'logs']) expect(statSync(join(dataDir, folder)).isDirectory()).to.equal(true);
  }

  it('--data-dir wins over WHITEROOM_DATA_DIR and the platform default', async () => {
    const flag = join(dir(), 'from-flag');
    const fromEnv = join(dir(), 'from-env');
    const home = dir();
    const xdg = dir();
    const info = await infoWith(['--data-dir', flag], { WHITEROOM_DATA_DIR: fromEnv, HOME: home, XDG_DATA_HOME: xdg });
    expect(info.dataDir).to.equal(flag);
    expect(info.dbPath).to.equal(join(flag, 'data.db'));
    expectLayout(flag);
    expect(existsSync(fromEnv)).to.equal(false);
    expect(existsSync(join(xdg, 'white-room'))).to.equal(false);
  });

  it('WHITEROOM_DATA_DIR wins over the platform default', async () => {
    const fromEnv = join(dir(), 'from-env');
    const home = dir();
    const xdg = dir();
    const info = await infoWith([], { WHITEROOM_DATA_DIR: fromEnv, HOME: home, XDG_DATA_HOME: xdg });
    expect(info.dataDir).to.equal(fromEnv);
    expectLayout(fromEnv);
    expect(existsSync(join(xdg, 'white-room'))).to.equal(false);
  });

  it('the Linux default is $XDG_DATA_HOME/white-room', async function () {
    if (process.platform !== 'linux') this.skip();
    const home = dir();
    const xdg = dir();
    const info = await infoWith([], { HOME: home, XDG_DATA_HOME: xdg });
    expect(info.dataDir).to.equal(join(xdg, 'white-room'));
    expectLayout(join(xdg, 'white-room'));
  });

  it('without XDG_DATA_HOME the Linux default is $HOME/.local/share/white-room', async function () {
    if (process.platform !== 'linux') this.skip();
    const home = dir();
    const info = await infoWith([], { HOME: home });
    expect(info.dataDir).to.equal(join(home, '.local', 'share', 'white-room'));
    expectLayout(join(home, '.local', 'share', 'white-room'));
  });
});

describe('lifecycle: shutdown', () => {
  afterEach(cleanup);

  /** Writes 20 songs and updates one; returns the ids, sorted. */
  async function writeSongs(p: StoreProcess): Promise<{ ids: string[]; updated: string }> {
    const songs = Array.from({ length: 20 }, () => makeSong());
    await p.call('songs.saveMany', { items: songs.slice(0, 10) });
    for (const s of songs.slice(10)) await p.call('songs.create', { item: s });
    const updated = songs[3]!;
    await p.call('songs.update', { item: { ...updated, name: 'Renamed before shutdown' }, ifRevision: 1 });
    return { ids: songs.map((s) => s.id as string).sort(), updated: updated.id as string };
  }

  function expectCleanDisk(dataDir: string, ids: string[], updated: string): void {
    expectNoWal(dataDir); // before sqlite3 opens it (that would make and remove a WAL of its own)
    expectIntact(dataDir);
    expect(songIdsOnDisk(dataDir)).to.deep.equal(ids);
    expect(sqlite3(join(dataDir, 'data.db'), `SELECT name, revision FROM songs WHERE id = '${updated}'`)).to.equal(
      'Renamed before shutdown|2',
    );
  }

  const ways: [string, (p: StoreProcess) => Promise<Exit>][] = [
    ['the system.shutdown request', async (p) => {
      const r = await p.request('system.shutdown');
      expect(r.error).to.equal(undefined);
      return p.exited;
    }],
    ['end of stdin', (p) => p.close()],
    ['SIGTERM', (p) => p.kill('SIGTERM')],
    ['SIGINT', (p) => p.kill('SIGINT')],
  ];

  for (const [way, shutDown] of ways) {
    it(`${way} exits 0 and leaves a checkpointed, intact database with everything written before`, async () => {
      const d = dir();
      const p = await start(d);
      const { ids, updated } = await writeSongs(p);
      const exit = await shutDown(p);
      expect(exit, p.stderr).to.deep.equal({ code: 0, signal: null });
      expectCleanDisk(d, ids, updated);
    });
  }

  for (const framing of ['ndjson', 'header'] as const) {
    it(`${framing}: system.shutdown is answered before exit; a request right behind it in the same write is answered -32030`, async () => {
      const d = dir();
      const p = await start(d, framing);
      const song = makeSong();
      const frame = (m: unknown): string => {
        const json = JSON.stringify(m);
        return framing === 'ndjson' ? `${json}\n` : `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
      };
      const bye = p.waitForResponse('bye');
      const late = p.waitForResponse('late');
      const lateWrite = p.waitForResponse('late-write');
      p.sendRaw(
        frame(req('bye', 'system.shutdown')) +
          frame(req('late', 'system.ping')) +
          frame(req('late-write', 'songs.create', { item: song })),
      );
      const byeAnswer = await bye;
      expect(byeAnswer.error).to.equal(undefined);
      expect(byeAnswer.result).to.be.an('object');
      const lateAnswer = await late;
      expect(lateAnswer.error?.code).to.equal(-32030);
      expect((await lateWrite).error?.code).to.equal(-32030);
      const ids = p.received.map((m) => (m as RpcResponse).id);
      expect(ids.indexOf('bye')).to.be.lessThan(ids.indexOf('late'));
      expect(await p.exited, p.stderr).to.deep.equal({ code: 0, signal: null });
      expectNoWal(d);
      expectIntact(d);
      expect(songIdsOnDisk(d), 'the refused write wrote nothing').to.deep.equal([]);
    });
  }

  it('end of stdin right behind pipelined writes answers and keeps every one of them', async () => {
    const d = dir();
    const p = await start(d);
    const songs = Array.from({ length: 30 }, () => makeSong());
    songs.forEach((s, i) => p.send(req(`w${i}`, 'songs.save', { item: s })));
    const exit = await p.close();
    expect(exit, p.stderr).to.deep.equal({ code: 0, signal: null });
    const answered = p.received.filter((m) => typeof (m as RpcResponse).id === 'string') as RpcResponse[];
    expect(answered.map((r) => r.id)).to.deep.equal(songs.map((_, i) => `w${i}`));
    for (const r of answered) expect(r.error, JSON.stringify(r.error)).to.equal(undefined);
    expectNoWal(d);
    expectIntact(d);
    expect(songIdsOnDisk(d)).to.deep.equal(songs.map((s) => s.id as string).sort());
  });
});

describe('lifecycle: one instance per data directory', () => {
  afterEach(cleanup);

  it('refuses a second instance at start with one clear line, and the first keeps serving', async () => {
    const d = dir();
    const first = await start(d);
    const song = makeSong();
    await first.call('songs.create', { item: song });

    const second = await runOnce(['--data-dir', d], '{"jsonrpc":"2.0","id":1,"method":"system.ping"}\n');
    expect(second.code).to.not.equal(0);
    expect(second.code).to.not.equal(null);
    expect(second.stdout, 'nothing on stdout').to.equal('');
    const lines = second.stderr.trim().split('\n');
    expect(lines, second.stderr).to.have.length(1);
    expect(lines[0]).to.match(/another|already/i);
    expect(lines[0]).to.match(/instance|whiteroom-store|running|serving/i);

    expect(await first.call('songs.get', { id: song.id })).to.include({ id: song.id, name: song.name });
    const other = makeSong();
    await first.call('songs.create', { item: other });
    expect(await first.call('songs.count', {})).to.deep.equal({ count: 2 });
  });

  it('a new instance can start once the first is gone, even after SIGKILL', async () => {
    const d = dir();
    const first = await start(d);
    const song = makeSong();
    await first.call('songs.create', { item: song });
    expect(await first.kill('SIGKILL')).to.deep.equal({ code: null, signal: 'SIGKILL' });

    const second = await start(d);
    expect(await second.call('songs.get', { id: song.id })).to.include({ id: song.id });
    expect(await second.close()).to.deep.equal({ code: 0, signal: null });

    const third = await start(d);
    expect(await third.call('songs.count', {})).to.deep.equal({ count: 1 });
  });
});

describe('lifecycle: a database from a newer version', () => {
  afterEach(cleanup);

  for (const journal of ['delete', 'wal'] as const) {
    /** A data.db (journal mode `journal`) at schema version 99, holding a row. */
    function newerDatabase(): { d: string; db: string; bytes: Buffer } {
      const d = dir();
      const db = join(d, 'data.db');
      sqlite3(db, `PRAGMA journal_mode = ${journal}; CREATE TABLE future (x TEXT); INSERT INTO future VALUES ('keep me'); PRAGMA user_version = 99;`);
      expect(sqlite3(db, 'PRAGMA user_version')).to.equal('99');
      return { d, db, bytes: readFileSync(db) };
    }

    it(`(${journal} journal) is refused: non-zero exit and one line saying it is from a newer version`, async () => {
      const { d } = newerDatabase();
      const r = await runOnce(['--data-dir', d], '{"jsonrpc":"2.0","id":1,"method":"system.info"}\n');
      expect(r.code).to.not.equal(0);
      expect(r.code).to.not.equal(null);
      expect(r.stdout).to.equal('');
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).to.have.length(1);
      expect(lines[0]).to.match(/newer/i);
    });

    it(`(${journal} journal) is left byte-for-byte unchanged`, async () => {
      const { d, db, bytes } = newerDatabase();
      const r = await runOnce(['--data-dir', d], '{"jsonrpc":"2.0","id":1,"method":"system.info"}\n');
      expect(r.code).to.not.equal(0);
      const after = readFileSync(db);
      const differing: number[] = [];
      for (let i = 0; i < Math.max(after.length, bytes.length); i++) if (after[i] !== bytes[i]) differing.push(i);
      expect(differing, `byte offsets of data.db that changed (size ${bytes.length} -> ${after.length})`).to.deep.equal([]);
      expect(sqlite3(db, 'SELECT x FROM future')).to.equal('keep me');
    });
  }
});

const startWith = start;

describe('lifecycle: the check of data.db at start', () => {
  afterEach(cleanup);

  /** What the start logged about its check of data.db (persistence.log). */
  const checks = (d: string): string[] =>
    readFileSync(join(d, 'logs', 'persistence.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"data.db checked"'))
      .map((l) => (JSON.parse(l) as { quickCheck: string }).quickCheck);

  it('quick_check is skipped only for the file this sidecar closed cleanly; another program\'s write, a touch, or a SIGKILL brings it back', async () => {
    const d = dir();
    const start = (dataDir: string): Promise<StoreProcess> => startWith(dataDir, 'ndjson', ['--log-level', 'info']);
    const db = join(d, 'data.db');
    let p = await start(d);
    await p.call('songs.create', { item: makeSong({ id: 'one' }) });
    expect(await p.close()).to.deep.equal({ code: 0, signal: null });
    expect(existsSync(`${db}.clean`), 'a clean close leaves its record').to.equal(true);

    p = await start(d); // the file as it was closed: no check
    expect(existsSync(`${db}.clean`), 'the record is taken at start').to.equal(false);
    expect(await p.call('songs.count', {})).to.deep.equal({ count: 1 });
    await p.close();

    sqlite3(db, "UPDATE songs SET name = 'changed by another program'"); // another program's write
    p = await start(d);
    await p.close();

    const before = statSync(db);
    sqlite3(db, 'SELECT 1');
    p = await start(d); // nothing changed since the last clean close
    await p.close();
    // A touch that sets the time back still changes the file's ctime.
    const { utimesSync } = await import('node:fs');
    utimesSync(db, before.atime, before.mtime);
    p = await start(d);
    await p.call('songs.create', { item: makeSong({ id: 'two' }) });
    expect(await p.kill('SIGKILL')).to.deep.equal({ code: null, signal: 'SIGKILL' });
    expect(existsSync(`${db}.clean`), 'no record after a crash').to.equal(false);
    p = await start(d);
    expect(await p.call('songs.count', {})).to.deep.equal({ count: 2 });
    await p.close();
    expect(checks(d)).to.deep.equal([
      'done', // a new file
      'skipped: unchanged since a clean shutdown',
      'done', // another program wrote it
      'skipped: unchanged since a clean shutdown',
      'done', // touched
      'done', // after a SIGKILL
    ]);
  });

  /** A library of songs large enough to span many pages, and a backup of it to recover from. */
  async function library(p: StoreProcess): Promise<void> {
    const items = Array.from({ length: 300 }, (_, i) => makeSong({ id: `S${i}`, name: `Song ${i} ${'x'.repeat(200)}`, sections: [{ pad: 'y'.repeat(500) }] }));
    await p.call('songs.saveMany', { items });
    await p.call('backup.create', { label: 'good' }); // its snapshot checkpoints: the songs are in data.db
  }

  it('another program\'s write to data.db while the sidecar runs: no record at shutdown, the next start checks the file and recovers', async () => {
    const d = dir();
    const db = join(d, 'data.db');
    let p = await startWith(d, 'ndjson', ['--log-level', 'info']);
    await library(p);
    // Another program (not SQLite) overwrites one page in the middle of data.db, then the
    // sidecar writes on and shuts down cleanly: its close checkpoints, which changes the file too.
    await new Promise((r) => setTimeout(r, 20)); // past the file system's timestamp tick (see clean-close.ts)
    const size = statSync(db).size;
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 4096 / 2) * 4096);
    closeSync(fd);
    await p.call('songs.create', { item: makeSong({ id: 'after' }) }).catch(() => undefined); // it may read the page
    expect(await p.close()).to.deep.equal({ code: 0, signal: null });
    expect(existsSync(`${db}.clean`), 'no record for a file another program wrote').to.equal(false);
    expect(readFileSync(join(d, 'logs', 'persistence.log'), 'utf8')).to.include('was changed by another program while the sidecar ran');

    p = await startWith(d, 'ndjson', ['--log-level', 'info']);
    const info = await p.call('system.info');
    expect(info.recovery?.reason, 'the damage is found at start').to.match(/quick_check|malformed|corrupt/i);
    expect(await p.call('songs.count', {})).to.deep.equal({ count: 300 });
    expect((await p.call('system.doctor', {})).integrity).to.deep.equal(['ok']);
    await p.close();
    expect(checks(d)).to.deep.equal(['done', 'done']);
  });

  it('a hot rollback journal put beside data.db after a clean close: the start checks the file it plays back', async () => {
    const d = dir();
    const db = join(d, 'data.db');
    let p = await startWith(d, 'ndjson', ['--log-level', 'info']);
    await library(p);
    await new Promise((r) => setTimeout(r, 1500)); // an idle checkpoint too: the sidecar's own writes
    expect(await p.close()).to.deep.equal({ code: 0, signal: null });
    expect(existsSync(`${db}.clean`), 'the backup\'s and the idle checkpoints are the sidecar\'s own: a record').to.equal(true);

    // A hot journal made from a copy of data.db itself (so SQLite plays it back into data.db): a
    // transaction that spilled pages to the file, its journal taken while it was open, with the
    // page-type byte of one table leaf broken (byte 0 of a page is outside the journal's checksum).
    const work = dir('wr-life-journal-');
    copyFileSync(db, join(work, 'x.db'));
    const x = connect(join(work, 'x.db'));
    try {
      x.pragma('journal_mode = DELETE');
      x.pragma('cache_size = 2');
      x.exec('BEGIN');
      x.exec("UPDATE songs SET name = name || ' touched'");
      const journal = readFileSync(join(work, 'x.db-journal'));
      const sector = journal.readUInt32BE(20);
      const pageSize = journal.readUInt32BE(24);
      let broken = 0;
      for (let off = sector; off + 8 + pageSize <= journal.length; off += 8 + pageSize) {
        if (journal.readUInt32BE(off) > 2 && journal[off + 4] === 13) {
          journal[off + 4] = 0;
          broken = journal.readUInt32BE(off);
          break;
        }
      }
      expect(broken, 'a table leaf page is in the journal').to.be.above(2);
      writeFileSync(`${db}-journal`, journal);
      x.exec('ROLLBACK');
    } finally {
      x.close();
    }

    p = await startWith(d, 'ndjson', ['--log-level', 'info']);
    const info = await p.call('system.info');
    expect(info.recovery?.reason, 'the played-back page is found damaged at start').to.match(/quick_check|malformed|corrupt/i);
    expect(await p.call('songs.count', {})).to.deep.equal({ count: 300 });
    expect((await p.call('system.doctor', {})).integrity).to.deep.equal(['ok']);
    await p.close();
    expect(checks(d)).to.deep.equal(['done', 'done']);
  });
});

describe('lifecycle: SIGKILL in the middle of writes', () => {
  afterEach(cleanup);

  it('keeps every song whose save was answered, and the file stays intact', async () => {
    const d = dir();
    const p = await start(d);
    const songs = Array.from({ length: 100 }, (_, i) => makeSong({ name: `Burst ${i}` }));
    const answeredSaves = (): RpcResponse[] =>
      p.received.filter((m) => String((m as RpcResponse).id).startsWith('save-')) as RpcResponse[];
    let answeredAtKill = -1;
    // registered after the harness's own listener, so p.received is up to date here
    p.child.stdout!.on('data', () => {
      if (answeredAtKill === -1 && answeredSaves().length >= 50) {
        answeredAtKill = answeredSaves().length;
        p.child.kill('SIGKILL');
      }
    });
    songs.forEach((s, i) => p.send(req(`save-${i}`, 'songs.save', { item: s })));
    const exit = await p.exited;
    expect(exit.signal, `exit ${JSON.stringify(exit)}; stderr: ${p.stderr}`).to.equal('SIGKILL');

    const answered = answeredSaves();
    expect(answered.length).to.be.at.least(50);
    for (const r of answered) expect(r.error, JSON.stringify(r.error)).to.equal(undefined);
    const answeredIds = answered.map((r) => r.result.id as string);
    expect(answeredIds).to.deep.equal(songs.slice(0, answered.length).map((s) => s.id));

    // A stock sqlite3 reads the file as the crash left it (on a copy, so the sidecar recovers the original).
    const copy = dir('wr-life-copy-');
    for (const f of ['data.db', 'data.db-wal']) if (existsSync(join(d, f))) copyFileSync(join(d, f), join(copy, f));
    expectIntact(copy);
    const onDisk = new Set(songIdsOnDisk(copy));
    for (const id of answeredIds) expect(onDisk.has(id), `answered save ${id} is on disk`).to.equal(true);

    // And the sidecar restarts on the same data dir with every answered song.
    const again = await start(d);
    for (const [i, id] of answeredIds.entries()) {
      const got = await again.call('songs.get', { id });
      expect(got.name).to.equal(`Burst ${i}`);
    }
    const { count } = await again.call('songs.count', {});
    expect(count).to.be.at.least(answeredIds.length).and.at.most(100);
    expect(await again.close()).to.deep.equal({ code: 0, signal: null });
    expectNoWal(d);
    expectIntact(d);
  });
});
