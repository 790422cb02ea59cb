/**
 * `whiteroom-store inspect` (and `--read-only`), process against process: a real sidecar serves a
 * data directory and commits while separate inspect processes read it; a write through inspect is
 * refused -32013 and changes nothing; with no sidecar (its -wal and -shm gone, or left by a
 * SIGKILL) inspect reads the file as it is and leaves it so; a folder without a database gets a
 * clear error and nothing is created.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSong } from '../helpers/fixtures.js';
import { runOnce, StoreProcess } from '../helpers/process.js';
import { Procs, fails, ok, stop } from '../helpers/rpc.js';
import { sha256File } from '../helpers/check.js';
import { MIGRATIONS } from '../../src/generated/migrations.js';

const procs = new Procs();
const READ_ONLY = -32013;

/** `whiteroom-store --data-dir DIR inspect ...args`, to completion. */
const inspect = (dataDir: string, args: string[], input = ''): ReturnType<typeof runOnce> => runOnce(['--data-dir', dataDir, 'inspect', ...args], input);

/** The answer of a one-shot inspect that must succeed: exit 0, nothing on stderr. */
async function read(dataDir: string, method: string, params?: unknown): Promise<any> {
  const r = await inspect(dataDir, params === undefined ? [method] : [method, JSON.stringify(params)]);
  expect(r.code, `inspect ${method}: ${r.stderr}`).to.equal(0);
  expect(r.stderr).to.equal('');
  return JSON.parse(r.stdout);
}

/** The bytes of data.db and of its -wal (when it has any). */
function databaseBytes(dataDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['data.db', 'data.db-wal']) {
    const path = join(dataDir, f);
    if (existsSync(path) && statSync(path).size > 0) out[f] = sha256File(path);
  }
  return out;
}

const song = (id: string, name = `Song ${id}`): Record<string, any> => makeSong({ id, name });

describe('inspect: beside a sidecar that serves and commits', function () {
  this.timeout(60000);
  let dir: string;
  let sidecar: StoreProcess;

  before(async () => {
    dir = procs.ownDir('wr-inspect-');
    sidecar = await StoreProcess.start({ dataDir: dir });
    for (const id of ['S1', 'S2']) await ok(sidecar, 'songs.save', { item: song(id) });
  });

  after(async () => {
    await sidecar?.cleanup();
    await procs.cleanupAll();
  });

  it('inspect songs.list and inspect system.stats (separate processes) read what the sidecar committed', async () => {
    const list = await read(dir, 'songs.list', { limit: 5 });
    expect(list.items.map((s: any) => s.id).sort()).to.deep.equal(['S1', 'S2']);
    const stats = await read(dir, 'system.stats');
    expect(stats.counts.songs).to.equal(2);
    const info = await read(dir, 'system.info');
    expect(info).to.include({ readOnly: true, dataDir: dir, schemaVersion: MIGRATIONS[MIGRATIONS.length - 1]!.version });
    expect(info.pid).to.not.equal(sidecar.child.pid);
  });

  it('after another write, the next inspect reads the new row', async () => {
    await ok(sidecar, 'songs.save', { item: song('S3', 'Written later') });
    const list = await read(dir, 'songs.list', { limit: 5 });
    expect(list.items.map((s: any) => s.id).sort()).to.deep.equal(['S1', 'S2', 'S3']);
    expect((await read(dir, 'songs.get', { id: 'S3' })).name).to.equal('Written later');
    expect((await read(dir, 'system.stats')).counts.songs).to.equal(3);
  });

  it('a write through inspect is refused -32013 {reason: "read-only", method}, exit 1, and changes nothing', async () => {
    const file = join(procs.ownDir('wr-inspect-params-'), 'song.json');
    writeFileSync(file, JSON.stringify({ item: song('S4') }));
    for (const args of [['songs.save', `@${file}`], ['songs.delete', '{"id":"S1"}'], ['backup.create'], ['system.doctor', '{"vacuum":true}']]) {
      const r = await inspect(dir, args);
      expect(r.code, args.join(' ')).to.equal(1);
      expect(r.stdout).to.equal('');
      const error = JSON.parse(r.stderr);
      expect(error.code, args.join(' ')).to.equal(READ_ONLY);
      expect(error.data).to.deep.equal({ reason: 'read-only', method: args[0] });
      expect(error.message).to.include('read-only').and.include('inspect').and.include('nothing was written');
    }
    expect((await ok(sidecar, 'songs.count')).count).to.equal(3);
    await fails(sidecar, 'songs.get', { id: 'S4' }, -32001);
    expect((await ok(sidecar, 'songs.get', { id: 'S1' })).id).to.equal('S1');
    expect(readdirSync(join(dir, 'backups'))).to.deep.equal([]);
  });

  it('inspect without a method serves JSON-RPC on stdin, read-only, until end of input', async () => {
    const input = [
      { jsonrpc: '2.0', id: 1, method: 'system.info' },
      { jsonrpc: '2.0', id: 2, method: 'songs.count' },
      { jsonrpc: '2.0', id: 3, method: 'songs.delete', params: { id: 'S1' } },
      { jsonrpc: '2.0', id: 4, method: 'rpc.discover' },
    ]
      .map((m) => JSON.stringify(m))
      .join('\n');
    const r = await runOnce(['--data-dir', dir, '--log-level', 'warn', 'inspect'], `${input}\n`);
    expect(r.code, r.stderr).to.equal(0);
    const answers = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(answers.map((a) => a.id)).to.deep.equal([1, 2, 3, 4]);
    expect(answers[0].result.readOnly).to.equal(true);
    expect(answers[1].result).to.deep.equal({ count: 3 });
    expect(answers[2].error).to.deep.include({ code: READ_ONLY });
    const methods = answers[3].result.methods as { name: string; 'x-read-only'?: boolean }[];
    expect(methods.find((m) => m.name === 'songs.list')?.['x-read-only']).to.equal(true);
    expect(methods.find((m) => m.name === 'songs.save')?.['x-read-only']).to.equal(undefined);
    expect((await ok(sidecar, 'songs.count')).count).to.equal(3);
  });

  it('--read-only serving for a while sees each commit of the sidecar at its next request; the sidecar is not held up', async () => {
    const reader = await StoreProcess.start({ dataDir: dir, args: ['--read-only'] });
    try {
      expect((await ok(reader, 'songs.count')).count).to.equal(3);
      await ok(sidecar, 'songs.save', { item: song('S5', 'Seen by the reader') });
      expect((await ok(reader, 'songs.get', { id: 'S5' })).name).to.equal('Seen by the reader');
      expect((await ok(reader, 'songs.count')).count).to.equal(4);
      await fails(reader, 'songs.save', { item: song('S6') }, READ_ONLY);
      await ok(sidecar, 'songs.delete', { id: 'S5' });
      expect((await ok(reader, 'songs.count')).count).to.equal(3);
      expect((await ok(reader, 'trash.list', {})).items.map((t: any) => t.id)).to.include('S5');
      await stop(reader);
    } finally {
      await reader.cleanup();
    }
    // The sidecar still writes after the reader has gone.
    await ok(sidecar, 'songs.save', { item: song('S7') });
    await ok(sidecar, 'songs.delete', { id: 'S7' });
  });

  it('a second sidecar is still refused: inspect takes no lock, and the first keeps it', async () => {
    const r = await runOnce(['--data-dir', dir, 'call', 'system.ping']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/already serving/);
  });
});

describe('inspect: no sidecar running', function () {
  this.timeout(60000);
  afterEach(() => procs.cleanupAll());

  it('after an orderly shutdown (no -wal, no -shm): it reads the file, which stays as it was; the next start still trusts its clean close', async () => {
    const dir = procs.ownDir('wr-inspect-');
    const p = await procs.launch({ dataDir: dir, args: ['--log-level', 'info'] });
    for (const id of ['A', 'B']) await ok(p, 'songs.save', { item: song(id) });
    await stop(p);
    expect(existsSync(join(dir, 'data.db-wal')), 'the sidecar removed its -wal at close').to.equal(false);
    const before = databaseBytes(dir);
    const files = readdirSync(dir).sort();
    const mark = readFileSync(join(dir, 'data.db.clean'), 'utf8');
    expect((await read(dir, 'songs.list', {})).items.map((s: any) => s.id).sort()).to.deep.equal(['A', 'B']);
    expect((await read(dir, 'songs.count')).count).to.equal(2);
    expect(databaseBytes(dir)).to.deep.equal(before);
    // SQLite gives a read-only connection of a WAL file its shared memory: an empty -wal and a
    // -shm may be left. Nothing else appears.
    const after = readdirSync(dir).filter((f) => !files.includes(f));
    expect(after.filter((f) => !/^data\.db-(wal|shm)$/.test(f))).to.deep.equal([]);
    if (existsSync(join(dir, 'data.db-wal'))) expect(statSync(join(dir, 'data.db-wal')).size).to.equal(0);
    // The record of the sidecar's clean close is neither taken nor rewritten by inspect, and the
    // empty -wal it may leave does not cost the next start its skipped quick_check.
    expect(existsSync(join(dir, 'data.db.clean'))).to.equal(true);
    expect(readFileSync(join(dir, 'data.db.clean'), 'utf8')).to.equal(mark);
    const again = await procs.launch({ dataDir: dir, args: ['--log-level', 'info'] });
    expect((await ok(again, 'songs.count')).count).to.equal(2);
    await ok(again, 'songs.save', { item: song('C') });
    await stop(again);
    expect((await read(dir, 'songs.count')).count).to.equal(3);
    const checks = readFileSync(join(dir, 'logs', 'persistence.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"data.db checked"'))
      .map((l) => (JSON.parse(l) as { quickCheck: string }).quickCheck);
    expect(checks).to.deep.equal(['done', 'skipped: unchanged since a clean shutdown']);
  });

  it('backup.list and backup.verify make nothing in the data directory, not even for a moment (their private views go to the temp folder)', async () => {
    const dir = procs.ownDir('wr-inspect-');
    const p = await procs.launch({ dataDir: dir });
    await ok(p, 'songs.save', { item: song('A') });
    const made = await ok(p, 'backup.create', { label: 'before the gig' });
    await stop(p);
    // Every entry made in the data directory or its backups, however briefly (inotify on Linux).
    const seen: string[] = [];
    const watchers = [dir, join(dir, 'backups')].map((d) => watch(d, (_event, name) => name && seen.push(String(name))));
    try {
      const list = await read(dir, 'backup.list');
      expect(list.items).to.have.length(1);
      expect(list.items[0]).to.include({ name: made.name, label: 'before the gig' });
      expect(list.items[0]).to.not.have.property('damaged');
      expect(await read(dir, 'backup.verify', { path: made.name })).to.include({ ok: true });
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      for (const w of watchers) w.close();
    }
    // SQLite's own -wal/-shm of a read-only connection aside (see above).
    expect(seen.filter((n) => !/^data\.db-(wal|shm)$/.test(n))).to.deep.equal([]);
  });

  it('after a SIGKILL (commits only in the -wal): it reads them, and leaves the -wal for the next start to replay', async () => {
    const dir = procs.ownDir('wr-inspect-');
    const p = await procs.launch({ dataDir: dir });
    await ok(p, 'songs.save', { item: song('K1', 'Only in the WAL') });
    expect((await p.kill('SIGKILL')).signal).to.equal('SIGKILL');
    expect(statSync(join(dir, 'data.db-wal')).size).to.be.above(0);
    const before = databaseBytes(dir);
    expect((await read(dir, 'songs.get', { id: 'K1' })).name).to.equal('Only in the WAL');
    expect(databaseBytes(dir)).to.deep.equal(before);
    const again = await procs.launch({ dataDir: dir });
    expect((await ok(again, 'songs.get', { id: 'K1' })).name).to.equal('Only in the WAL');
    await stop(again);
  });

  it('a folder without a database: one clear line, exit 1, and nothing is created', async () => {
    const empty = procs.ownDir('wr-inspect-empty-');
    const missing = join(empty, 'not-there');
    for (const d of [empty, missing]) {
      for (const args of [['system.info'], []]) {
        const r = await inspect(d, args);
        expect(r.code).to.equal(1);
        expect(r.stdout).to.equal('');
        expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
        expect(r.stderr).to.match(/^whiteroom-store: there is no database to inspect: .*data\.db does not exist/);
      }
    }
    expect(readdirSync(empty)).to.deep.equal([]);
  });

  it('an older schema: refused naming both versions, the file unchanged', async () => {
    const dir = procs.ownDir('wr-inspect-old-');
    mkdirSync(dir, { recursive: true });
    const { databaseAt } = await import('../helpers/check.js');
    databaseAt(join(dir, 'data.db'), 3).close();
    const before = sha256File(join(dir, 'data.db'));
    const r = await inspect(dir, ['songs.count']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('schema version 3').and.include(`reads version ${MIGRATIONS[MIGRATIONS.length - 1]!.version}`);
    expect(sha256File(join(dir, 'data.db'))).to.equal(before);
  });
});
