/**
 * export.full and import.full through the real process: the archive's path, contents, manifest
 * (sizes and SHA-256 of what it holds), progress and cancellation of the export; a restore of
 * everything into another data directory; and every refusal of a bad archive, which must change
 * nothing in the target.
 *
 * Only RPC, signals and files are used (the suite also runs against the packaged binary,
 * WHITEROOM_STORE_BIN). Archives are inspected and hand-made with Python's zipfile module, and the
 * database inside one is checked with a stock `sqlite3`.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { resultValidator } from '../../src/methods/index.js';
import { makeSong } from '../helpers/fixtures.js';
import type { StoreProcess } from '../helpers/process.js';
import { Procs, fails, ok, stop } from '../helpers/rpc.js';

const INVALID_PARAMS = -32602;
const NOT_FOUND = -32001;
const FILE_REFUSED = -32022;
const INVALID_BACKUP = -32020;
const INVALID_IMPORT = -32021;
const CANCELLED = -32800;

const FILES = ['manifest.json', 'data.db', 'songs.json'];
const DEFAULT_NAME = /^full_backup_(\d{4})-(\d{2})-(\d{2})_(\d{2})(\d{2})(\d{2})(-\d+)?\.zip$/;

/** Per-test processes and folders (afterEach); `shared` holds what the whole file uses (after). */
const procs = new Procs();
const shared = new Procs();

// -------------------------------------------------------------------------------------------------
// Files: zips through Python's zipfile, databases through sqlite3
// -------------------------------------------------------------------------------------------------

/** The interpreter itself: `python3` may be a version manager's shim that costs a second a call. */
let interpreter: string | undefined;

function python(script: string, args: string[] = [], input?: string): string {
  interpreter ??= execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim() || 'python3';
  return execFileSync(interpreter, ['-c', script, ...args], {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(input === undefined ? {} : { input }),
  });
}

const LIST_PY = `
import sys, json, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    print(json.dumps([{'name': i.filename, 'size': i.file_size} for i in z.infolist()]))
`;

const EXTRACT_PY = `
import sys, os, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        with open(os.path.join(sys.argv[2], os.path.basename(i.filename)), 'wb') as f:
            f.write(z.read(i))
`;

/**
 * Writes a zip from {out, entries: [{name, path}], declare?: {name: size}}: every entry deflated
 * under exactly the name given (ZipInfo keeps `../x` and `/x` as they are), duplicates allowed;
 * `declare` overwrites the uncompressed size the central directory states for an entry (past
 * 4 GiB Python writes it as a ZIP64 extra field).
 */
const BUILD_PY = `
import sys, json, zipfile, warnings
warnings.simplefilter('ignore')
spec = json.load(sys.stdin)
with zipfile.ZipFile(spec['out'], 'w', zipfile.ZIP_DEFLATED) as z:
    for e in spec['entries']:
        with open(e['path'], 'rb') as f:
            data = f.read()
        z.writestr(zipfile.ZipInfo(e['name'], date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
    declare = spec.get('declare', {})
    for i in z.filelist:
        if i.filename in declare:
            i.file_size = declare[i.filename]
`;
import { sha256, sqlite3 } from '../helpers/check.js';

interface ZipListing {
  name: string;
  size: number;
}

const listZip = (zip: string): ZipListing[] => JSON.parse(python(LIST_PY, [zip])) as ZipListing[];

function extractZip(zip: string): string {
  const dir = procs.ownDir('wr-archive-x-');
  python(EXTRACT_PY, [zip, dir]);
  return dir;
}

interface Entry {
  name: string;
  data: Buffer;
}

/** Makes a zip of `entries` (in order) in a fresh folder; returns its path. */
function buildZip(entries: Entry[], declare: Record<string, number> = {}): string {
  const dir = procs.ownDir('wr-archive-zip-');
  const files = entries.map((e, i) => {
    const path = join(dir, `entry-${i}`);
    writeFileSync(path, e.data);
    return { name: e.name, path };
  });
  const out = join(dir, 'archive.zip');
  python(BUILD_PY, [], JSON.stringify({ out, entries: files, declare }));
  return out;
}

/** 32 songs of 1 MB (a database of about 33 MB), saved through `p`. */
async function saveBigSongs(p: StoreProcess): Promise<void> {
  for (let n = 0; n < 32; n += 8) {
    const items = Array.from({ length: 8 }, (_, k) => makeSong({ id: `big-${n + k}`, sections: [{ id: 'huge', blob: `${n + k}:`.padEnd(1_000_000, 'x') }] }));
    await p.call('songs.saveMany', { items });
  }
}

const manifestBytes = (m: unknown): Buffer => Buffer.from(`${JSON.stringify(m, null, 2)}\n`);

/** Names of the work folders and temp files an export or import may leave (should never remain). */
function leftovers(dataDir: string): string[] {
  const inData = readdirSync(dataDir).filter((f) => /^\.(export|import)-/.test(f) || f.includes('.tmp-'));
  const inExports = readdirSync(join(dataDir, 'exports')).filter((f) => f.includes('.tmp-') || f.startsWith('.export-'));
  return [...inData, ...inExports.map((f) => `exports/${f}`)];
}

const backupFiles = (dataDir: string): string[] => readdirSync(join(dataDir, 'backups')).sort();

/** Checks an answer read raw (to see what came before it) against its method's result schema. */
function expectResultSchema(method: string, result: unknown): void {
  const validate = resultValidator(method);
  expect(validate(result), `${method} result fails its schema: ${JSON.stringify(validate.errors)}\nresult: ${JSON.stringify(result)}`).to.equal(true);
}

/** The $/progress values of `token` received after `mark`, and whether all came before the answer `id`. */
function progressOf(p: StoreProcess, mark: number, token: string, id: string): { kinds: string[]; beforeAnswer: boolean } {
  const after = p.received.slice(mark) as any[];
  const answerAt = after.findIndex((m) => m && m.id === id);
  expect(answerAt, `the answer ${id} was received`).to.be.at.least(0);
  const progress = after.map((m, i) => ({ m, i })).filter(({ m }) => m && m.method === '$/progress' && m.params.token === token);
  return { kinds: progress.map(({ m }) => m.params.value.kind as string), beforeAnswer: progress.every(({ i }) => i < answerAt) };
}

// -------------------------------------------------------------------------------------------------
// The source: songs (one with non-ASCII text) and performances, and one good archive of them
// -------------------------------------------------------------------------------------------------

function makePerf(songId: string, n: number): Record<string, any> {
  return {
    id: `perf-${n}-${randomUUID()}`,
    songId,
    name: `Take ${n} — Ünïcødé 𝄞`,
    arrangementStyle: 'SOLO_PIANO',
    instrumentationMap: { piano: 'inst-1', extra: { future: [1, { deep: null }] } },
    mixTargets: { gain: -3.5, unknown: [true, false] },
    markers: [{ at: 1.5, label: 'intro', meta: { k: [null] } }],
    metadata: { big: 9007199254740991, tiny: 1e-7 },
  };
}

interface Source {
  p: StoreProcess;
  songs: Record<string, any>[];
  perfs: Record<string, any>[];
  /** A good export.full archive of the source (outside any data directory). */
  archive: string;
  manifest: any;
}

let source: Source;
/** The good archive's three files. */
let parts: { manifest: any; db: Buffer; songs: Buffer };

/** The good archive's entries, with `manifest` (default: the good one) as manifest.json. */
function goodEntries(manifest: unknown = parts.manifest): Entry[] {
  return [
    { name: 'manifest.json', data: manifestBytes(manifest) },
    { name: 'data.db', data: parts.db },
    { name: 'songs.json', data: parts.songs },
  ];
}

/** The good manifest with data.db's file entry changed by `change`. */
function manifestWithDb(change: (f: any) => void): any {
  const m = structuredClone(parts.manifest);
  change(m.files.find((f: any) => f.name === 'data.db'));
  return m;
}

async function allSongs(p: StoreProcess): Promise<any[]> {
  const out: any[] = [];
  for (const s of source.songs) out.push(await ok(p, 'songs.get', { id: s.id }));
  return out;
}

async function allPerfs(p: StoreProcess): Promise<any[]> {
  const out: any[] = [];
  for (const x of source.perfs) out.push(await ok(p, 'performances.get', { id: x.id }));
  return out;
}

describe('export.full and import.full', function () {
  this.timeout(30000);

  before(async () => {
    const p = await shared.launch();
    const items = [makeSong({ name: 'Ünïcødé “quotes” 𝄞 and \\ backslash' }), makeSong(), makeSong(), makeSong({ name: 'Last' })];
    await ok(p, 'songs.saveMany', { items });
    await ok(p, 'songs.setFavorite', { id: items[1]!.id, isFavorite: true });
    const songs = [];
    for (const s of items) songs.push(await ok(p, 'songs.get', { id: s.id }));
    const perfs = [];
    for (const [n, s] of [items[0]!, items[0]!, items[2]!].entries()) perfs.push(await ok(p, 'performances.save', { item: makePerf(s.id, n) }));
    const made = await ok(p, 'export.full', {});
    const keep = join(shared.ownDir('wr-archive-good-'), 'good.zip');
    copyFileSync(made.path, keep);
    source = { p, songs, perfs, archive: keep, manifest: made.manifest };
    const x = extractZip(keep);
    parts = {
      manifest: JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8')),
      db: readFileSync(join(x, 'data.db')),
      songs: readFileSync(join(x, 'songs.json')),
    };
  });
  afterEach(() => procs.cleanupAll());
  after(() => shared.cleanupAll());

  // -----------------------------------------------------------------------------------------------
  describe('export.full', () => {
    it('writes exports/full_backup_<local time>.zip holding exactly manifest.json, data.db and songs.json, as the manifest says; $/progress begin … end before the answer', async () => {
      const { p } = source;
      const info = await ok(p, 'system.info');
      const mark = p.received.length;
      const t0 = Date.now();
      const r = await p.request('export.full', { workDoneToken: 'full-1' }, 'export-1');
      expect(r.error, JSON.stringify(r.error)).to.equal(undefined);
      expectResultSchema('export.full', r.result);
      const { path, sizeBytes, manifest } = r.result;

      // $/progress on the token: begin first, end last, all before the answer.
      const progress = progressOf(p, mark, 'full-1', 'export-1');
      expect(progress.kinds[0]).to.equal('begin');
      expect(progress.kinds[progress.kinds.length - 1]).to.equal('end');
      expect(progress.kinds.slice(1, -1).every((k) => k === 'report'), progress.kinds.join()).to.equal(true);
      expect(progress.beforeAnswer, 'every $/progress arrives before the answer').to.equal(true);

      // The path: exports/full_backup_YYYY-MM-DD_HHMMSS.zip in local time, about now.
      expect(path).to.equal(join(p.dataDir, 'exports', basename(path)));
      const m = DEFAULT_NAME.exec(basename(path));
      expect(m, basename(path)).to.not.equal(null);
      const [, y, mo, d, h, mi, s] = m!.map(Number);
      const stamped = new Date(y!, mo! - 1, d!, h!, mi!, s!).getTime();
      expect(stamped).to.be.within(Math.floor(t0 / 1000) * 1000 - 1000, Date.now() + 1000);
      expect(sizeBytes).to.equal(statSync(path).size);

      // The manifest.
      expect(manifest.format).to.equal('whiteroom-full-backup');
      expect(manifest.formatVersion).to.equal(1);
      expect(manifest.app).to.deep.equal({ name: 'whiteroom-store', version: info.version });
      expect(manifest.schemaVersion).to.equal(info.schemaVersion);
      expect(manifest.createdAt).to.be.within(t0 - 1000, Date.now() + 1000);
      expect(manifest.files.map((f: any) => f.name).sort()).to.deep.equal(['data.db', 'songs.json']);

      // The zip: exactly the three files, each once; manifest.json is the answered manifest.
      const listing = listZip(path);
      expect(listing.map((e) => e.name).sort()).to.deep.equal([...FILES].sort());
      const x = extractZip(path);
      expect(JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8'))).to.deep.equal(manifest);
      for (const f of manifest.files) {
        const bytes = readFileSync(join(x, f.name));
        expect(bytes.length, `${f.name} size`).to.equal(f.sizeBytes);
        expect(sha256(bytes), `${f.name} SHA-256`).to.equal(f.sha256);
        expect(listing.find((e) => e.name === f.name)!.size, `${f.name} size in the zip`).to.equal(f.sizeBytes);
      }

      // data.db: a sound, standalone database holding the songs and performances.
      const db = join(x, 'data.db');
      expect(sqlite3(db, 'PRAGMA integrity_check')).to.equal('ok');
      expect(sqlite3(db, 'PRAGMA journal_mode')).to.not.equal('wal');
      expect(sqlite3(db, 'PRAGMA user_version')).to.equal(String(info.schemaVersion));
      expect(sqlite3(db, 'SELECT id FROM songs ORDER BY id').split('\n')).to.deep.equal(source.songs.map((s) => s.id).sort());
      expect(sqlite3(db, 'SELECT id FROM performances ORDER BY id').split('\n')).to.deep.equal(source.perfs.map((s) => s.id).sort());
      expect(sqlite3(db, `SELECT name FROM songs WHERE id = '${source.songs[0]!.id}'`)).to.equal(source.songs[0]!.name);

      // songs.json: the songs export document of every song and performance.
      const doc = JSON.parse(readFileSync(join(x, 'songs.json'), 'utf8'));
      expect(doc.format).to.equal('whiteroom-songs-export');
      expect(doc.formatVersion).to.equal(1);
      expect(doc.schemaVersion).to.equal(info.schemaVersion);
      expect([...doc.songs].sort((a: any, b: any) => a.id.localeCompare(b.id))).to.deep.equal(
        [...source.songs].sort((a, b) => a.id.localeCompare(b.id)),
      );
      expect([...doc.performances].sort((a: any, b: any) => a.id.localeCompare(b.id))).to.deep.equal(
        [...source.perfs].sort((a, b) => a.id.localeCompare(b.id)),
      );

      expect(leftovers(p.dataDir)).to.deep.equal([]);
      // Without a token, no $/progress.
      const mark2 = p.received.length;
      const second = await ok(p, 'export.full', {});
      expect(second.path).to.not.equal(path);
      expect(basename(second.path)).to.match(DEFAULT_NAME);
      expect((p.received.slice(mark2) as any[]).filter((m) => m && m.method === '$/progress')).to.deep.equal([]);
      expect(leftovers(p.dataDir)).to.deep.equal([]);
    });

    it('a relative path lands in exports/, an absolute one where it says; bad params are -32602', async () => {
      const p = await procs.launch();
      await ok(p, 'songs.save', { item: makeSong({ name: 'Only' }) });
      const rel = await ok(p, 'export.full', { path: 'mine.zip' });
      expect(rel.path).to.equal(join(p.dataDir, 'exports', 'mine.zip'));
      expect(rel.sizeBytes).to.equal(statSync(rel.path).size);
      expect(listZip(rel.path).map((e) => e.name).sort()).to.deep.equal([...FILES].sort());

      const elsewhere = join(procs.ownDir('wr-archive-abs-'), 'absolute.zip');
      const abs = await ok(p, 'export.full', { path: elsewhere });
      expect(abs.path).to.equal(elsewhere);
      expect(abs.sizeBytes).to.equal(statSync(elsewhere).size);
      expect(readdirSync(join(p.dataDir, 'exports'))).to.deep.equal(['mine.zip']);
      expect(readdirSync(join(elsewhere, '..'))).to.deep.equal(['absolute.zip']);

      await fails(p, 'export.full', { path: '' }, INVALID_PARAMS);
      await fails(p, 'export.full', { path: 'x.zip', extra: 1 }, INVALID_PARAMS);
      await fails(p, 'export.full', { workDoneToken: '' }, INVALID_PARAMS);
      expect(readdirSync(join(p.dataDir, 'exports'))).to.deep.equal(['mine.zip']);
      expect(leftovers(p.dataDir)).to.deep.equal([]);
    });

    it('$/cancelRequest right behind an export of a ~33 MB database: -32800, no zip, no temp file or work folder, and it keeps serving', async function () {
      const d = procs.ownDir('wr-archive-big-');
      const p = await procs.launch({ dataDir: d });
      await saveBigSongs(p);
      expect(statSync(join(d, 'data.db')).size + (existsSync(join(d, 'data.db-wal')) ? statSync(join(d, 'data.db-wal')).size : 0)).to.be.above(30e6);

      const mark = p.received.length;
      const answer = p.request('export.full', { workDoneToken: 'cancel-me' }, 'export-to-cancel');
      p.notify('$/cancelRequest', { id: 'export-to-cancel' });
      const r = await answer;
      expect(r.error, `answered ${JSON.stringify(r.result ?? r.error)}`).to.not.equal(undefined);
      expect(r.error!.code).to.equal(CANCELLED);
      const progress = progressOf(p, mark, 'cancel-me', 'export-to-cancel');
      expect(progress.kinds[0], 'it had begun').to.equal('begin');
      expect(progress.kinds[progress.kinds.length - 1]).to.equal('end');
      expect(readdirSync(join(d, 'exports')), 'no zip and no temp file in exports/').to.deep.equal([]);
      expect(leftovers(d)).to.deep.equal([]);
      expect(backupFiles(d), 'the snapshot is not left in backups/').to.deep.equal([]);

      expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 32 });
      await stop(p);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(leftovers(d)).to.deep.equal([]);
    });

    it('SIGKILL while the zip is being written: the next start removes the work folder and the unfinished zip', async function () {
      const d = procs.ownDir('wr-archive-kill-');
      const p = await procs.launch({ dataDir: d });
      await saveBigSongs(p);
      const exportsDir = join(d, 'exports');
      // Killed once the zip has begun (its temp file exists in exports/), before the answer.
      const zipping = setInterval(() => {
        if (readdirSync(exportsDir).some((f) => f.includes('.tmp-'))) p.child.kill('SIGKILL');
      }, 1);
      try {
        p.send({ jsonrpc: '2.0', id: 'killed-export', method: 'export.full', params: {} });
        expect(await p.exited).to.deep.equal({ code: null, signal: 'SIGKILL' });
      } finally {
        clearInterval(zipping);
      }
      expect(p.received.some((m) => (m as { id?: unknown }).id === 'killed-export'), 'killed before it answered').to.equal(false);
      expect(leftovers(d), 'what the kill left').to.not.deep.equal([]);

      const q = await procs.launch({ dataDir: d });
      expect(leftovers(d), 'removed at start').to.deep.equal([]);
      expect(readdirSync(exportsDir)).to.deep.equal([]);
      expect(await ok(q, 'songs.count', {})).to.deep.equal({ count: 32 });
      const made = await ok(q, 'export.full', {});
      expect(readdirSync(exportsDir)).to.deep.equal([basename(made.path)]);
      await stop(q);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('import.full', () => {
    it('restores everything into an empty data directory: songs and performances read back byte for byte', async () => {
      const q = await procs.launch();
      expect(await ok(q, 'songs.count', {})).to.deep.equal({ count: 0 });
      const mark = q.received.length;
      const r = await q.request('import.full', { path: source.archive, workDoneToken: 'import-1' }, 'import-1');
      expect(r.error, JSON.stringify(r.error)).to.equal(undefined);
      expectResultSchema('import.full', r.result);
      const res = r.result;
      expect(res.restoredFrom).to.equal(source.archive);
      expect(res.manifest).to.deep.equal(source.manifest);
      expect(res.schemaVersion).to.equal(source.manifest.schemaVersion);
      expect(res.counts.songs).to.equal(source.songs.length);
      expect(res.counts.performances).to.equal(source.perfs.length);
      const progress = progressOf(q, mark, 'import-1', 'import-1');
      expect(progress.kinds[0]).to.equal('begin');
      expect(progress.kinds[progress.kinds.length - 1]).to.equal('end');
      expect(progress.beforeAnswer).to.equal(true);

      const pre = res.safetyBackup;
      expect(pre.kind).to.equal('pre-import');
      expect(pre.path).to.equal(join(q.dataDir, 'backups', pre.name));
      expect((await ok(q, 'backup.list', {})).items).to.deep.equal([pre]);
      expect((await ok(q, 'backup.list', { kind: 'pre-import' })).items).to.deep.equal([pre]);
      expect((await ok(q, 'backup.verify', { path: pre.name })).counts.songs, 'the pre-import backup holds the empty state').to.equal(0);

      const songs = await allSongs(q);
      for (const [i, s] of songs.entries()) expect(JSON.stringify(s), `song ${i}`).to.equal(JSON.stringify(source.songs[i]));
      const perfs = await allPerfs(q);
      for (const [i, x] of perfs.entries()) expect(JSON.stringify(x), `performance ${i}`).to.equal(JSON.stringify(source.perfs[i]));
      expect(await ok(q, 'songs.count', {})).to.deep.equal({ count: source.songs.length });
      expect(await ok(q, 'performances.count', {})).to.deep.equal({ count: source.perfs.length });
      expect(leftovers(q.dataDir)).to.deep.equal([]);

      // Writes go on; after a restart the data is all there, and the file is sound.
      await ok(q, 'songs.save', { item: makeSong({ name: 'After the import' }) });
      const d = q.dataDir;
      await stop(q);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(Number(sqlite3(join(d, 'data.db'), 'SELECT count(*) FROM songs'))).to.equal(source.songs.length + 1);
      expect(leftovers(d)).to.deep.equal([]);
    });

    it('a name is taken in exports/; it replaces what the target held, and its pre-import backup undoes it', async () => {
      const q = await procs.launch();
      const own = [makeSong({ name: 'Own 1' }), makeSong({ name: 'Own 2' })];
      await ok(q, 'songs.saveMany', { items: own });
      const ownSaved = await ok(q, 'songs.get', { id: own[0]!.id });
      copyFileSync(source.archive, join(q.dataDir, 'exports', 'brought.zip'));

      const res = await ok(q, 'import.full', { path: 'brought.zip' });
      expect(res.restoredFrom).to.equal(join(q.dataDir, 'exports', 'brought.zip'));
      expect(res.safetyBackup.kind).to.equal('pre-import');
      expect(await ok(q, 'songs.count', {})).to.deep.equal({ count: source.songs.length });
      await fails(q, 'songs.get', { id: own[0]!.id }, NOT_FOUND);
      expect(JSON.stringify(await allSongs(q))).to.equal(JSON.stringify(source.songs));

      const undo = await ok(q, 'backup.restore', { path: res.safetyBackup.name });
      expect(undo.counts.songs).to.equal(2);
      expect(await ok(q, 'songs.get', { id: own[0]!.id })).to.deep.equal(ownSaved);
      await fails(q, 'songs.get', { id: source.songs[0]!.id }, NOT_FOUND);
      expect(leftovers(q.dataDir)).to.deep.equal([]);
    });

    it('an archive rebuilt by another zip writer (Python) from the same files, well within the size limit, is accepted', async () => {
      // The declared-size check (8 GiB) must not refuse an ordinary archive: this one is accepted.
      const q = await procs.launch();
      const zip = buildZip(goodEntries());
      const res = await ok(q, 'import.full', { path: zip });
      expect(res.manifest).to.deep.equal(parts.manifest);
      expect(JSON.stringify(await allSongs(q))).to.equal(JSON.stringify(source.songs));
    });
  });

  // -----------------------------------------------------------------------------------------------
  describe('import.full refusals: -32021 naming the entry, and nothing changed in the target', () => {
    let target: StoreProcess;
    let baseline: { list: any; backups: string[] };
    const refusals = new Procs();

    /** Imports `path`, expects `code`, and that nothing in the target changed. */
    async function refused(path: string, code: number): Promise<{ code: number; message: string; data?: any }> {
      const mark = target.received.length;
      const e = await fails(target, 'import.full', { path }, code);
      if (process.env.WR_TEST_VERBOSE) process.stderr.write(`      ${basename(path)}: ${JSON.stringify(e)}\n`);
      expect(await ok(target, 'songs.count', {})).to.deep.equal({ count: 2 });
      expect(await ok(target, 'songs.list', { limit: 100 })).to.deep.equal(baseline.list);
      expect(backupFiles(target.dataDir), 'no pre-import backup was made').to.deep.equal(baseline.backups);
      expect(leftovers(target.dataDir), 'no work folder left').to.deep.equal([]);
      expect((target.received.slice(mark) as any[]).filter((m) => m && m.method === 'store.changed')).to.deep.equal([]);
      return e;
    }

    /** Expects -32021 whose data.errors is [{path, message}] with one naming `name` (as its path, or in its message). */
    async function refusedNaming(path: string, name: string, message?: RegExp): Promise<{ path: string; message: string }[]> {
      const e = await refused(path, INVALID_IMPORT);
      expect(e.data, 'InvalidImport carries data').to.be.an('object');
      const errors = e.data.errors as { path: string; message: string }[];
      expect(errors).to.be.an('array').that.is.not.empty;
      for (const x of errors) {
        expect(x.path).to.be.a('string');
        expect(x.message).to.be.a('string').and.not.equal('');
      }
      const naming = errors.filter((x) => x.path === name || x.path.startsWith(`${name}/`));
      expect(naming, `errors ${JSON.stringify(errors)} should name ${name}`).to.not.be.empty;
      if (message) expect(naming.some((x) => message.test(x.message)), `errors ${JSON.stringify(errors)} should say ${message}`).to.equal(true);
      return errors;
    }

    before(async () => {
      target = await refusals.launch();
      await ok(target, 'songs.saveMany', { items: [makeSong({ name: 'Target 1' }), makeSong({ name: 'Target 2' })] });
      await ok(target, 'backup.create', { label: 'existing' });
      baseline = { list: await ok(target, 'songs.list', { limit: 100 }), backups: backupFiles(target.dataDir) };
    });
    after(() => refusals.cleanupAll());

    it('an entry named ../evil.txt (escapes the folder); nothing is written outside', async () => {
      const zip = buildZip([...goodEntries(), { name: '../evil.txt', data: Buffer.from('evil') }]);
      expect(listZip(zip).map((e) => e.name)).to.include('../evil.txt');
      await refusedNaming(zip, '../evil.txt');
      expect(existsSync(join(target.dataDir, 'evil.txt'))).to.equal(false);
      // first in the archive too: refused before anything is extracted
      await refusedNaming(buildZip([{ name: '../evil.txt', data: Buffer.from('evil') }, ...goodEntries()]), '../evil.txt');
      expect(existsSync(join(target.dataDir, 'evil.txt'))).to.equal(false);
    });

    it('an absolute entry /tmp/evil', async () => {
      const existed = existsSync('/tmp/evil');
      const zip = buildZip([...goodEntries(), { name: '/tmp/evil', data: Buffer.from('evil') }]);
      expect(listZip(zip).map((e) => e.name)).to.include('/tmp/evil');
      await refusedNaming(zip, '/tmp/evil');
      if (!existed) expect(existsSync('/tmp/evil')).to.equal(false);
    });

    it('an extra entry extra.txt', async () => {
      await refusedNaming(buildZip([...goodEntries(), { name: 'extra.txt', data: Buffer.from('hello') }]), 'extra.txt');
    });

    it('an entry name twice (data.db)', async () => {
      const zip = buildZip([...goodEntries(), { name: 'data.db', data: parts.db }]);
      expect(listZip(zip).filter((e) => e.name === 'data.db')).to.have.length(2);
      await refusedNaming(zip, 'data.db', /twice/);
    });

    it("a manifest whose SHA-256 of data.db does not match (manifest.json rewritten in a copy of a good archive)", async () => {
      const bad = manifestWithDb((f) => (f.sha256 = sha256(Buffer.from('something else'))));
      await refusedNaming(buildZip(goodEntries(bad)), 'data.db', /SHA-256/);
    });

    it('a manifest with a wrong size of data.db', async () => {
      const bad = manifestWithDb((f) => (f.sizeBytes += 1));
      await refusedNaming(buildZip(goodEntries(bad)), 'data.db', /bytes/);
    });

    it('data.db missing (listed in the manifest, or not even there)', async () => {
      const withoutDb = goodEntries().filter((e) => e.name !== 'data.db');
      await refusedNaming(buildZip(withoutDb), 'data.db', /missing|not in the archive/);
      const unlisted = structuredClone(parts.manifest);
      unlisted.files = unlisted.files.filter((f: any) => f.name !== 'data.db');
      await refusedNaming(buildZip(goodEntries(unlisted).filter((e) => e.name !== 'data.db')), 'data.db', /missing/);
    });

    it('manifest.json missing, or not JSON', async () => {
      await refusedNaming(buildZip(goodEntries().filter((e) => e.name !== 'manifest.json')), 'manifest.json', /missing/);
      const notJson = goodEntries().map((e) => (e.name === 'manifest.json' ? { ...e, data: Buffer.from('{ not json') } : e));
      await refusedNaming(buildZip(notJson), 'manifest.json');
    });

    it('a manifest of another format, or of a newer format version', async () => {
      await refusedNaming(buildZip(goodEntries({ ...parts.manifest, format: 'whiteroom-songs-export' })), 'manifest.json', /whiteroom-full-backup/);
      await refusedNaming(buildZip(goodEntries({ ...parts.manifest, formatVersion: 2 })), 'manifest.json');
    });

    it('a file that is not a zip at all, and a truncated zip', async () => {
      const dir = procs.ownDir('wr-archive-notzip-');
      writeFileSync(join(dir, 'plain.zip'), 'this is not a zip archive\n'.repeat(100));
      const e = await refused(join(dir, 'plain.zip'), INVALID_IMPORT);
      expect(e.data.errors).to.be.an('array').that.is.not.empty;
      expect(e.data.errors[0].message).to.be.a('string').and.not.equal('');
      const good = readFileSync(source.archive);
      writeFileSync(join(dir, 'truncated.zip'), good.subarray(0, Math.floor(good.length / 2)));
      expect((await refused(join(dir, 'truncated.zip'), INVALID_IMPORT)).data.errors).to.be.an('array').that.is.not.empty;
    });

    it('an entry whose real size exceeds the size its header declares (checked while extracting)', async () => {
      const zip = buildZip(goodEntries(), { 'songs.json': parts.songs.length - 100 });
      expect(listZip(zip).find((e) => e.name === 'songs.json')!.size).to.equal(parts.songs.length - 100);
      const e = await refused(zip, INVALID_IMPORT);
      expect(e.data.errors).to.be.an('array').that.is.not.empty;
    });

    it('a zip bomb: an entry declaring 16 GiB uncompressed is refused before it is extracted', async () => {
      // The central directory says 16 GiB (a ZIP64 extra field); the data itself is small.
      const zip = buildZip(goodEntries(), { 'manifest.json': 16 * 1024 ** 3 });
      expect(listZip(zip).find((e) => e.name === 'manifest.json')!.size).to.equal(16 * 1024 ** 3);
      await refusedNaming(zip, 'manifest.json', /expands past|exceeds|too large|limit/i);
    });

    it('a garbage data.db whose manifest hashes match it: -32020 from the restore validation', async () => {
      const garbage = Buffer.alloc(64 * 1024);
      for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
      const m = manifestWithDb((f) => {
        f.sizeBytes = garbage.length;
        f.sha256 = sha256(garbage);
      });
      const zip = buildZip(goodEntries(m).map((e) => (e.name === 'data.db' ? { ...e, data: garbage } : e)));
      const e = await refused(zip, INVALID_BACKUP);
      expect(e.data.reason).to.be.a('string').and.not.equal('');
      // It names the archive, not the extracted copy (which is gone).
      expect(e.data.path).to.equal(zip);
      expect(existsSync(e.data.path)).to.equal(true);
    });

    it('a missing path is -32022 (not-found), absolute or in exports/; no path is -32602', async () => {
      await refused(join(procs.ownDir('wr-archive-none-'), 'missing.zip'), FILE_REFUSED);
      await refused('missing.zip', FILE_REFUSED);
      await fails(target, 'import.full', {}, INVALID_PARAMS);
      await fails(target, 'import.full', { path: '' }, INVALID_PARAMS);
    });

    it('and the target is still whole: a good archive then imports', async () => {
      const res = await ok(target, 'import.full', { path: source.archive });
      expect(res.counts.songs).to.equal(source.songs.length);
      expect(backupFiles(target.dataDir)).to.deep.equal([...baseline.backups, res.safetyBackup.name].sort());
      const d = target.dataDir;
      await stop(target);
      expect(sqlite3(join(d, 'data.db'), 'PRAGMA integrity_check')).to.equal('ok');
      expect(leftovers(d)).to.deep.equal([]);
    });
  });
});
