/**
 * The read-only app (whiteroom-store inspect): the methods marked `"x-read-only": true` in
 * rpc-schema/methods/ really write nothing, run against a read-only connection with params the
 * schemas accept (drawn around the records of a populated file); every other method is refused
 * (-32013) before it runs, whatever its params; the data directory is opened without its lock
 * and nothing in it is changed. Real SQLite, in process (the process-level tests are in
 * test/integration/inspect.test.ts).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { METHOD_NAMES, READ_ONLY_METHOD_NAMES } from '../../src/generated/types.js';
import { OPENRPC_DOCUMENT } from '../../src/generated/openrpc.js';
import { ErrorCode } from '../../src/errors.js';
import { Store } from '../../src/store/store.js';
import { resultValidator } from '../../src/methods/index.js';
import { stringifyAnswer } from '../../src/json-text.js';
import { METHOD_SPECS, allowedErrorCodes } from '../helpers/contract.js';
import { arbitraryOf, type Pools } from '../helpers/schema-arb.js';
import { makeSong } from '../helpers/fixtures.js';
import { databaseAt, sha256File } from '../helpers/check.js';
import { tempDir } from '../helpers/unit-store.js';

const quiet = createLogger({ level: 'silent' });
const open = (dataDir: string, readOnly: boolean): Promise<App> =>
  openApp({ dataDir, readOnly, log: quiet, framing: () => 'none', requestShutdown: () => {}, autoBackupHours: 0 });

let seq = 0;
interface Answer {
  result?: any;
  error?: { code: number; message: string; data?: any };
}
async function request(app: App, method: string, params?: unknown): Promise<Answer> {
  const r = await app.dispatcher.handle({ jsonrpc: '2.0', id: ++seq, method, ...(params === undefined ? {} : { params }) });
  return r as Answer;
}
/** The result of a call that must succeed, as a host reads it (the answer's text, parsed). */
async function ok(app: App, method: string, params?: unknown): Promise<any> {
  const r = await request(app, method, params);
  expect(r.error, `${method}: ${JSON.stringify(r.error)}`).to.equal(undefined);
  return JSON.parse(stringifyAnswer(r.result ?? null));
}

/** The bytes of the database: data.db, and its -wal when there is one (the -shm is shared memory, not data). */
function fileState(dataDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['data.db', 'data.db-wal']) {
    const path = join(dataDir, f);
    if (existsSync(path) && statSync(path).size > 0) out[f] = sha256File(path);
  }
  return out;
}

/** Every file of the data directory but the -shm and -wal a read-only connection may create, with its size and hash. */
function directoryState(dataDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const rel = `${prefix}${name}`;
      if (statSync(path).isDirectory()) walk(path, `${rel}/`);
      else if (!/^data\.db-(shm|wal)$/.test(rel)) out[rel] = `${statSync(path).size}:${sha256File(path)}`;
    }
  };
  walk(dataDir, '');
  return out;
}

describe('read-only (inspect): which methods read is said once, in rpc-schema', () => {
  it('READ_ONLY_METHOD_NAMES is exactly the methods whose schema file says "x-read-only": true, and rpc.discover says so', () => {
    const marked = Object.entries(METHOD_SPECS)
      .filter(([, spec]) => spec['x-read-only'] === true)
      .map(([name]) => name)
      .sort();
    expect([...READ_ONLY_METHOD_NAMES].sort()).to.deep.equal(marked);
    expect(marked).to.include.members(['songs.list', 'songs.get', 'system.stats', 'system.info', 'rpc.discover']);
    expect(marked).to.not.include.members(['songs.save', 'songs.delete', 'autosave.stage', 'backup.create', 'export.songs']);
    const methods = OPENRPC_DOCUMENT.methods as readonly { name: string; 'x-read-only'?: boolean; errors: readonly { code: number }[] }[];
    for (const m of methods) {
      expect(m['x-read-only'] === true, m.name).to.equal(marked.includes(m.name));
      // A method that writes declares the refusal it gets read-only.
      if (!marked.includes(m.name)) expect(m.errors.map((e) => e.code), m.name).to.include(ErrorCode.ReadOnly);
      expect(allowedErrorCodes(m.name).has(ErrorCode.ReadOnly), m.name).to.equal(!marked.includes(m.name) || m.name === 'system.doctor');
    }
  });
});

describe('read-only (inspect): a populated data directory', function () {
  this.timeout(120000);
  let dir: string;
  let cleanup: () => void;
  /** Ids of records, versions, autosaves; names of backups: what the drawn params name. */
  const ids: string[] = ['S1', 'S2', 'S3', 'P1', 'I1', 'V1', 'R1'];
  const paths: string[] = [];
  const cursors: string[] = [];
  /** Params written by hand, besides the drawn ones: version ids are plain strings to a schema. */
  const examples: Record<string, object[]> = {};
  let stagedSong: string;

  before(async () => {
    ({ dir, cleanup } = tempDir('wr-readonly-'));
    const app = await open(dir, false);
    try {
      for (const id of ['S1', 'S2', 'S3']) await ok(app, 'songs.save', { item: makeSong({ id, name: `Song ${id}` }) });
      await ok(app, 'songs.update', { item: { ...makeSong({ id: 'S1', name: 'Song S1, again' }) } });
      await ok(app, 'songs.saveVersion', { id: 'S2', label: 'kept' });
      await ok(app, 'performances.save', { item: { id: 'P1', songId: 'S1', name: 'Perf', arrangementStyle: 'SATB', instrumentationMap: {}, mixTargets: {} } });
      await ok(app, 'performances.save', { item: { id: 'P1', songId: 'S1', name: 'Perf 2', arrangementStyle: 'SATB', instrumentationMap: {}, mixTargets: {} } });
      await ok(app, 'instruments.save', { item: { id: 'I1', name: 'Inst', type: 'synth' } });
      await ok(app, 'voices.save', { item: { id: 'V1', instrumentId: 'I1', name: 'Voice', number: 1 } });
      await ok(app, 'presets.save', { item: { id: 'R1', instrumentId: 'I1', name: 'Preset', parameters: {} } });
      await ok(app, 'recent.touch', { itemType: 'song', itemId: 'S1', itemName: 'Song S1' });
      await ok(app, 'preferences.update', { patch: { theme: 'dark' } });
      const song = await ok(app, 'songs.get', { id: 'S2' });
      const { createdAt: _c, updatedAt: _u, revision: _r, isFavorite: _f, playCount: _p, lastPlayedAt: _l, version: _v, ...rest } = song;
      await ok(app, 'autosave.stage', { songId: 'S2', snapshot: { song: { ...rest, name: 'Autosaved' } } });
      await ok(app, 'autosave.flush', {});
      // One state left staged, as a sidecar serving an editor has: read-only, it must stay staged.
      stagedSong = 'S1';
      const s1 = await ok(app, 'songs.get', { id: 'S1' });
      const { createdAt: _c1, updatedAt: _u1, revision: _r1, isFavorite: _f1, playCount: _p1, lastPlayedAt: _l1, version: _v1, ...rest1 } = s1;
      await ok(app, 'autosave.stage', { songId: 'S1', snapshot: { song: { ...rest1, name: 'Staged, not promoted' } } });
      await ok(app, 'songs.delete', { id: 'S3' });
      const backup = await ok(app, 'backup.create', { label: 'for verify' });
      paths.push(backup.path, backup.name ?? backup.path);
      for (const family of ['songs', 'performances']) {
        for (const id of ['S1', 'S2', 'S3', 'P1']) {
          const r = await request(app, `${family}.history`, { id });
          for (const v of r.result?.items ?? []) {
            ids.push(v.versionId);
            (examples[`${family}.getVersion`] ??= []).push({ versionId: v.versionId });
            (examples[`${family}.diff`] ??= []).push({ from: v.versionId });
          }
        }
      }
      for (const a of (await ok(app, 'autosave.list', { songId: 'S2' })).items) ids.push(a.id ?? a.autosaveId);
    } finally {
      // Closed without promoting S1's staged state: as after a crash (the writable app's close promotes it).
      app.services.autosave.setRunner(() => {});
      (app.services.autosave as unknown as { close(): void }).close = () => {};
      app.close();
    }
    expect(ids.length).to.be.above(10);
  });

  after(() => cleanup?.());

  const pools: Pools = { ids, paths: () => paths, cursors: () => cursors };

  it('every method marked read-only answers read-only without writing: no -32013 (SQLITE_READONLY), no -32603, the file unchanged', async () => {
    const before = fileState(dir);
    const files = directoryState(dir);
    const app = await open(dir, true);
    const succeeded = new Set<string>();
    try {
      expect(app.store.readOnly).to.equal(true);
      for (const method of READ_ONLY_METHOD_NAMES) {
        const schema = METHOD_SPECS[method].params;
        const drawn = fc.sample(arbitraryOf(schema, pools), { numRuns: 60, seed: 20240531 });
        for (const params of [{}, ...(examples[method] ?? []), ...drawn]) {
          const r = await request(app, method, params);
          const said = `${method} ${JSON.stringify(params).slice(0, 300)} answered ${JSON.stringify(r.error)}`;
          if (method === 'system.doctor' && (params as { vacuum?: boolean }).vacuum === true) {
            expect(r.error?.code, said).to.equal(ErrorCode.ReadOnly);
            expect(r.error?.data).to.deep.equal({ reason: 'read-only', method });
            continue;
          }
          if (r.error) {
            expect(r.error.code, said).to.not.be.oneOf([ErrorCode.ReadOnly, ErrorCode.InternalError]);
            expect(allowedErrorCodes(method).has(r.error.code), said).to.equal(true);
            continue;
          }
          succeeded.add(method);
          // As the host reads it: the answer's text (parts as stored), parsed.
          const validate = resultValidator(method);
          expect(validate(JSON.parse(stringifyAnswer(r.result))), `${method} result: ${JSON.stringify(validate.errors)}`).to.equal(true);
          if (typeof r.result?.nextCursor === 'string') cursors.push(r.result.nextCursor);
        }
      }
      const info = await ok(app, 'system.info');
      expect(info.readOnly).to.equal(true);
    } finally {
      app.close();
    }
    // Every read method was seen to succeed at least once: the draws reached its code.
    expect([...READ_ONLY_METHOD_NAMES].filter((m) => !succeeded.has(m))).to.deep.equal([]);
    expect(fileState(dir)).to.deep.equal(before);
    expect(directoryState(dir), 'no file of the data directory changed, none added (logs, lock, backups)').to.deep.equal(files);
    // S1's staged state is still staged: a read-only close promotes nothing.
    const db = new Database(join(dir, 'data.db'), { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) FROM autosave_staging WHERE song_id = ?").pluck().get(stagedSong)).to.equal(1);
    } finally {
      db.close();
    }
  });

  it('every other method is refused -32013 {reason: "read-only", method} before it runs, whatever its params; nothing is written', async () => {
    const before = fileState(dir);
    const app = await open(dir, true);
    try {
      const writes = METHOD_NAMES.filter((m) => !READ_ONLY_METHOD_NAMES.includes(m));
      expect(writes.length).to.be.above(40);
      for (const method of writes) {
        const drawn = fc.sample(arbitraryOf(METHOD_SPECS[method].params, pools), { numRuns: 5, seed: 7 });
        // Params a write would take, none, and params its schema refuses: the refusal comes first.
        for (const params of [...drawn, undefined, { notAField: true }]) {
          const r = await request(app, method, params);
          expect(r.error?.code, `${method} ${JSON.stringify(params)?.slice(0, 200)}: ${JSON.stringify(r)}`).to.equal(ErrorCode.ReadOnly);
          expect(r.error!.data).to.deep.equal({ reason: 'read-only', method });
          expect(r.error!.message).to.include(method).and.include('read-only').and.include('inspect').and.include('nothing was written');
        }
      }
    } finally {
      app.close();
    }
    expect(fileState(dir)).to.deep.equal(before);
  });

  it('takes no lock: it opens beside a writable app, and reads each of its commits at the next request', async () => {
    const writer = await open(dir, false);
    const reader = await open(dir, true);
    try {
      const count = (await ok(reader, 'songs.count')).count as number;
      await ok(writer, 'songs.save', { item: makeSong({ id: 'S9', name: 'Written while inspected' }) });
      expect((await ok(reader, 'songs.get', { id: 'S9' })).name).to.equal('Written while inspected');
      expect((await ok(reader, 'songs.count')).count).to.equal(count + 1);
      expect((await ok(reader, 'system.stats')).counts.songs).to.equal(count + 1);
      // A second writable app is still refused: the lock is the first one's.
      const second = await open(dir, false).then(
        (a) => (a.close(), 'opened'),
        (err: Error) => err.message,
      );
      expect(second).to.match(/already serving/);
    } finally {
      reader.close();
      writer.close();
    }
  });

  it('preferences.get answers the defaults when the row is gone (a write puts it back, read-only cannot)', async () => {
    const db = new Database(join(dir, 'data.db'));
    db.exec("DELETE FROM user_preferences");
    db.close();
    const before = fileState(dir);
    const reader = await open(dir, true);
    let seen: any;
    try {
      seen = await ok(reader, 'preferences.get');
    } finally {
      reader.close();
    }
    expect(fileState(dir)).to.deep.equal(before);
    const writer = await open(dir, false);
    try {
      const written = await ok(writer, 'preferences.get');
      const { updatedAt: _a, ...a } = seen;
      const { updatedAt: _b, ...b } = written;
      expect(a).to.deep.equal(b);
    } finally {
      writer.close();
    }
  });
});

describe('read-only (inspect): files it does not open', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('wr-readonly-')));
  afterEach(() => cleanup());

  it('a data directory without data.db: a clear error, and nothing is created (not even the folder)', async () => {
    const missing = join(dir, 'no-such-folder');
    for (const d of [dir, missing]) {
      const err = await open(d, true).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.match(/no database to inspect: .*data\.db does not exist/).and.include('creates nothing');
    }
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('an older schema is not migrated: the versions are named, the file is unchanged', async () => {
    const path = join(dir, 'data.db');
    databaseAt(path, 4).close();
    const before = readFileSync(path);
    const err = await open(dir, true).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.include(`schema version 4`).and.include(`reads version ${Store.latestSchemaVersion}`).and.include('does not migrate');
    expect(readFileSync(path).equals(before)).to.equal(true);
  });

  it('a newer schema is refused as the sidecar refuses it, the file unchanged', async () => {
    const path = join(dir, 'data.db');
    const db = databaseAt(path, Store.latestSchemaVersion);
    db.pragma(`user_version = ${Store.latestSchemaVersion + 1}`);
    db.close();
    const before = readFileSync(path);
    const err = await open(dir, true).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.name).to.equal('NewerSchemaError');
    expect(readFileSync(path).equals(before)).to.equal(true);
  });
});
