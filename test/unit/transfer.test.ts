/**
 * Export and import of songs (src/services/transfer.ts: Transfer, stamp, freeName,
 * writeFileAtomic), Repository.insertAsIs, the health report (src/store/health.ts: doctor,
 * fileShape, lastAutosaveAt) and the recovery of a damaged database at start
 * (src/store/recovery.ts: damage, recoverFromDamage), over real migrated SQLite databases in
 * temporary data directories.
 */
import { expect } from 'chai';
import { Files } from '../../src/files.js';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcError } from '../../src/errors.js';
import { MIGRATIONS } from '../../src/generated/migrations.js';
import { dataPaths, ensureDataDirs, type DataPaths } from '../../src/paths.js';
import {
  freeName,
  SONGS_FORMAT,
  SONGS_FORMAT_VERSION,
  stamp,
  Transfer,
  writeFileAtomic,
  jsonPieces,
  MAX_IMPORT_BYTES,
  type SongsExport,
} from '../../src/services/transfer.js';
import { inspectDatabase, openUntrusted, recordCounts, writeBackup } from '../../src/store/backup.js';
import { performances, songs } from '../../src/store/entities.js';
import { doctor, fileShape, lastAutosaveAt } from '../../src/store/health.js';
import { damage, recoverFromDamage } from '../../src/store/recovery.js';
import { Repository } from '../../src/store/repository.js';
import { connect, SqliteError } from '../../src/store/sqlite.js';
import { Store } from '../../src/store/store.js';
import { makeSong } from '../helpers/fixtures.js';
import { openTempStore, tempDir, type TempStore, historyOf } from '../helpers/unit-store.js';
import { garbage, ls, rejection, scribble, sha256File, thrown } from '../helpers/check.js';

type Json = Record<string, any>;

const T0 = 1_700_000_000_000;
/** The Transfer clock: 2024-03-15 10:20:30.000 local time (far from any DST change). */
const NOW0 = new Date(2024, 2, 15, 10, 20, 30, 0).getTime();
const APP_VERSION = '9.8.7-test';

const NOT_FOUND = -32001;
const ALREADY_EXISTS = -32003;
const CONSTRAINT_VIOLATION = -32004;
const INVALID_IMPORT = -32021;


let perfCounter = 0;
/** A complete performance of `songId`, with structured parts carrying fields no schema knows. */
function makePerformance(songId: string, overrides: Json = {}): Json {
  perfCounter++;
  return {
    id: `perf-${perfCounter}-${randomUUID()}`,
    songId,
    name: `Take ${perfCounter}`,
    arrangementStyle: 'SOLO_PIANO',
    density: 0.75,
    instrumentationMap: { piano: { program: 0, layers: [1, { deep: [null, 'x'] }] } },
    mixTargets: { lufs: -14, future: { knob: true } },
    markers: [{ at: 1.5, label: 'A' }],
    tempoMap: [{ bar: 1, bpm: 96 }],
    metadata: { note: 'kept verbatim', nested: { n: 1.25 } },
    ...overrides,
  };
}

interface Ctx {
  ts: TempStore;
  paths: DataPaths;
  songs: Repository<Json>;
  perfs: Repository<Json>;
  transfer: Transfer;
  /** The Transfer clock (its `now` option). */
  clock: { t: number };
}

/** A store in a data directory with a Transfer over it. */
async function openCtx(start = T0): Promise<Ctx> {
  const ts = await openTempStore(start);
  const paths = dataPaths(ts.dir);
  ensureDataDirs(paths);
  const history = historyOf(ts.store);
  const songRepo = new Repository<Json>(ts.store, songs, history.hooks);
  const perfRepo = new Repository<Json>(ts.store, performances, history.hooks);
  const clock = { t: NOW0 };
  const transfer = new Transfer({
    history,
    store: ts.store,
    songs: songRepo as never,
    performances: perfRepo as never,
    exportsDir: paths.exportsDir,
    files: new Files(paths),
    appVersion: APP_VERSION,
    now: () => clock.t,
  });
  return { ts, paths, songs: songRepo, perfs: perfRepo, transfer, clock };
}

/** A fresh Ctx per test (and any extra ones a test opens), removed after it. */
function withCtx(): { ctx: Ctx; open(start?: number): Promise<Ctx> } {
  const holder = { ctx: undefined as unknown as Ctx, extra: [] as Ctx[] };
  const api = {
    get ctx(): Ctx {
      return holder.ctx;
    },
    async open(start?: number): Promise<Ctx> {
      const c = await openCtx(start);
      holder.extra.push(c);
      return c;
    },
  };
  beforeEach(async () => {
    holder.ctx = await openCtx();
  });
  afterEach(() => {
    for (const c of [holder.ctx, ...holder.extra.splice(0)]) c?.ts.cleanup();
  });
  return api;
}

/** Every stored song / performance, by id. */
function all(repo: Repository<Json>): Map<string, Json> {
  const out = new Map<string, Json>();
  let cursor: string | undefined;
  do {
    const page = repo.list({ limit: 100, orderBy: 'createdAt', direction: 'asc', ...(cursor ? { cursor } : {}) });
    for (const item of page.items) out.set(item.id, item);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/** A varied library: songs written at different times, edited, favourited and played, with performances. */
function populate(c: Ctx): { songIds: string[]; perfIds: string[] } {
  const songIds: string[] = [];
  const perfIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    c.ts.clock.tick(1000);
    const s = c.songs.create(makeSong({ name: `Library song ${i}` }));
    songIds.push(s.id);
  }
  // One song without its optional fields.
  c.ts.clock.tick(1000);
  const bare = makeSong({ name: 'Bare' });
  delete bare.version;
  delete bare.realizationPolicy;
  bare.metadata = { tempo: 60.5, timeSignature: [6, 8], tags: [] };
  songIds.push(c.songs.create(bare).id);
  // Edits: revision and updatedAt move, createdAt stays.
  c.ts.clock.tick(5000);
  c.songs.save({ ...c.songs.get(songIds[1]!), name: 'Library song 1, edited' });
  c.ts.clock.tick(5000);
  c.songs.save({ ...c.songs.get(songIds[1]!), name: 'Library song 1, edited twice' });
  c.songs.setFields(songIds[2]!, { isFavorite: true, lastPlayedAt: T0 + 123 }, { increment: ['playCount'] });
  for (const [k, songId] of [songIds[0]!, songIds[0]!, songIds[1]!, songIds[4]!].entries()) {
    c.ts.clock.tick(1000);
    perfIds.push(c.perfs.create(makePerformance(songId, { name: `Perf ${k}` })).id);
  }
  c.ts.clock.tick(1000);
  c.perfs.save({ ...c.perfs.get(perfIds[0]!), density: 0.5 });
  return { songIds, perfIds };
}

const counts = (c: Ctx): { songs: number; performances: number } => ({ songs: c.songs.count(), performances: c.perfs.count() });

// -------------------------------------------------------------------------------------------------
// Helpers: stamp, freeName, writeFileAtomic
// -------------------------------------------------------------------------------------------------

describe('transfer: file helpers', () => {
  let dir: { dir: string; cleanup(): void };
  beforeEach(() => (dir = tempDir('wr-transfer-files-')));
  afterEach(() => dir.cleanup());

  it('stamp writes YYYY-MM-DD_HHMMSS in local time, zero-padded', () => {
    expect(stamp(new Date(2024, 2, 5, 7, 8, 9, 999).getTime())).to.equal('2024-03-05_070809');
    expect(stamp(new Date(1999, 11, 31, 23, 59, 58).getTime())).to.equal('1999-12-31_235958');
  });

  it('freeName answers the first name not taken: stem.ext, then stem-2.ext, stem-3.ext', () => {
    expect(freeName(dir.dir, 'x', '.json')).to.equal(join(dir.dir, 'x.json'));
    writeFileSync(join(dir.dir, 'x.json'), '1');
    expect(freeName(dir.dir, 'x', '.json')).to.equal(join(dir.dir, 'x-2.json'));
    writeFileSync(join(dir.dir, 'x-2.json'), '2');
    expect(freeName(dir.dir, 'x', '.json')).to.equal(join(dir.dir, 'x-3.json'));
    expect(freeName(dir.dir, 'y', '.json'), 'another stem is free').to.equal(join(dir.dir, 'y.json'));
  });

  it('writeFileAtomic writes the whole file, replaces an existing one, and leaves no temp file', () => {
    const path = join(dir.dir, 'out.json');
    writeFileAtomic(path, 'first version, long enough to be longer than the second');
    expect(readFileSync(path, 'utf8')).to.equal('first version, long enough to be longer than the second');
    const big = Buffer.from('é'.repeat(300_000));
    writeFileAtomic(path, big);
    expect(readFileSync(path).equals(big)).to.equal(true);
    expect(ls(dir.dir)).to.deep.equal(['out.json']);
  });

  it('writeFileAtomic writes pieces one after another and answers the bytes written', () => {
    const path = join(dir.dir, 'pieces.json');
    expect(writeFileAtomic(path, ['{"a":', '"é"', '}\n'])).to.equal(Buffer.byteLength('{"a":"é"}\n'));
    expect(readFileSync(path, 'utf8')).to.equal('{"a":"é"}\n');
    expect(ls(dir.dir)).to.deep.equal(['pieces.json']);
  });

  it('jsonPieces joined is the document (deep-equal) and a newline, each record of a top-level array compact on its own line', () => {
    const doc = fc.dictionary(fc.string(), fc.oneof(fc.array(fc.jsonValue(), { maxLength: 5 }), fc.jsonValue()), { maxKeys: 6 });
    fc.assert(
      fc.property(doc, (d) => {
        const text = [...jsonPieces(d)].join('');
        expect(text.endsWith('\n')).to.equal(true);
        expect(JSON.parse(text)).to.deep.equal(JSON.parse(JSON.stringify(d)));
      }),
      { numRuns: 500 },
    );
    const exported = { format: 'f', songs: [{ id: 'a', text: 'line\nbreak' }, { id: 'b', deep: { x: [1, { y: [] }] } }], performances: [], none: undefined };
    const text = [...jsonPieces(exported)].join('');
    expect(text.startsWith('{\n  "format": "f"')).to.equal(true);
    expect(text.split('\n')).to.include('    {"id":"b","deep":{"x":[1,{"y":[]}]}}');
    // A record nested 500 deep costs its own bytes, not the n² spaces indentation would add.
    let deep: unknown = 1;
    for (let i = 0; i < 500; i++) deep = [deep];
    expect([...jsonPieces({ songs: [deep] })].join('').length).to.be.below(1100 + 40);
    // One piece per record of a top-level array: no piece holds the whole library.
    expect([...jsonPieces(exported)].filter((p) => p.includes('"id"'))).to.have.length(2);
  });

  it('writeFileAtomic throws when the rename fails, removes its temp file and keeps what was there', () => {
    const target = join(dir.dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'kept');
    const err = thrown(() => writeFileAtomic(target, 'data'));
    expect(err).to.be.an('error');
    expect(ls(dir.dir), 'no temp file left').to.deep.equal(['taken']);
    expect(readFileSync(join(target, 'inside'), 'utf8')).to.equal('kept');
  });
});

// -------------------------------------------------------------------------------------------------
// Export
// -------------------------------------------------------------------------------------------------

describe('transfer: export', () => {
  const h = withCtx();

  it('songsDocument: format, versions, app, time, every song (createdAt order) and every performance', () => {
    const c = h.ctx;
    const { songIds, perfIds } = populate(c);
    const doc = c.transfer.songsDocument();
    expect(Object.keys(doc).sort()).to.deep.equal(['app', 'exportedAt', 'format', 'formatVersion', 'performances', 'schemaVersion', 'songs']);
    expect(doc.format).to.equal('whiteroom-songs-export').and.equal(SONGS_FORMAT);
    // Without history an export is formatVersion 1, which every version reads (2 adds history).
    expect(doc.formatVersion).to.equal(1);
    expect(SONGS_FORMAT_VERSION).to.equal(2);
    expect(doc.app).to.deep.equal({ name: 'whiteroom-store', version: APP_VERSION });
    expect(doc.schemaVersion).to.equal(Store.latestSchemaVersion).and.equal(c.ts.store.schemaVersion);
    expect(doc.exportedAt).to.equal(NOW0);
    expect(doc.songs).to.deep.equal(songIds.map((id) => c.songs.get(id)));
    expect(doc.performances).to.deep.equal(perfIds.map((id) => c.perfs.get(id)));
  });

  it('songsDocument with ids: those songs in the order asked (once each), only their performances', () => {
    const c = h.ctx;
    const { songIds, perfIds } = populate(c);
    const doc = c.transfer.songsDocument([songIds[4]!, songIds[0]!, songIds[4]!]);
    expect(doc.songs).to.deep.equal([c.songs.get(songIds[4]!), c.songs.get(songIds[0]!)]);
    // perfIds 0, 1 belong to song 0, perfId 3 to song 4; perfId 2 (song 1) is left out.
    expect(doc.performances.map((p) => p.id).sort()).to.deep.equal([perfIds[0]!, perfIds[1]!, perfIds[3]!].sort());
    for (const p of doc.performances) expect(p).to.deep.equal(c.perfs.get(p.id));
  });

  it('songsDocument with includePerformances false has no performance', () => {
    const c = h.ctx;
    const { songIds } = populate(c);
    const doc = c.transfer.songsDocument(undefined, false);
    expect(doc.songs).to.have.length(songIds.length);
    expect(doc.performances).to.deep.equal([]);
    expect(c.transfer.exportSongs({ includePerformances: false })).to.include({ songs: songIds.length, performances: 0 });
  });

  it('an id that is not stored is NotFound (-32001) naming it, and no file is written', () => {
    const c = h.ctx;
    const { songIds } = populate(c);
    const err = thrown(() => c.transfer.exportSongs({ ids: [songIds[0]!, 'no-such-song'] }));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(NOT_FOUND);
    expect(err.data).to.deep.equal({ entity: 'songs', id: 'no-such-song' });
    expect(ls(c.paths.exportsDir)).to.deep.equal([]);
  });

  it('exportSongs writes the whole document to exports/songs_export_<local time>.json, and leaves no temp file', () => {
    const c = h.ctx;
    const { songIds, perfIds } = populate(c);
    const r = c.transfer.exportSongs({});
    expect(r.path).to.equal(join(c.paths.exportsDir, `songs_export_${stamp(NOW0)}.json`));
    expect(r.path).to.equal(join(c.paths.exportsDir, 'songs_export_2024-03-15_102030.json'));
    expect(r).to.include({ songs: songIds.length, performances: perfIds.length });
    const text = readFileSync(r.path, 'utf8');
    expect(r.sizeBytes).to.equal(Buffer.byteLength(text)).and.equal(statSync(r.path).size);
    expect(text.endsWith('}\n')).to.equal(true);
    expect(JSON.parse(text)).to.deep.equal(c.transfer.songsDocument());
    expect(ls(c.paths.exportsDir)).to.deep.equal(['songs_export_2024-03-15_102030.json']);
  });

  it('a second export in the same second gets -2, a later one its own time', () => {
    const c = h.ctx;
    populate(c);
    const first = c.transfer.exportSongs({});
    const second = c.transfer.exportSongs({ ids: [] });
    expect(second.path).to.equal(join(c.paths.exportsDir, 'songs_export_2024-03-15_102030-2.json'));
    expect(JSON.parse(readFileSync(first.path, 'utf8')).songs, 'the first file is not overwritten').to.have.length(5);
    expect(JSON.parse(readFileSync(second.path, 'utf8')).songs).to.deep.equal([]);
    c.clock.t = NOW0 + 1000;
    expect(c.transfer.exportSongs({}).path).to.equal(join(c.paths.exportsDir, 'songs_export_2024-03-15_102031.json'));
    expect(ls(c.paths.exportsDir)).to.have.length(3);
  });

  it('a relative path is taken inside exports/, an absolute one as it is', () => {
    const c = h.ctx;
    populate(c);
    expect(c.transfer.exportSongs({ path: 'mine.json' }).path).to.equal(join(c.paths.exportsDir, 'mine.json'));
    const elsewhere = mkdtempSync(join(tmpdir(), 'wr-elsewhere-'));
    try {
      const abs = join(elsewhere, 'elsewhere.json');
      expect(c.transfer.exportSongs({ path: abs }).path).to.equal(abs);
      expect(JSON.parse(readFileSync(abs, 'utf8')).format).to.equal(SONGS_FORMAT);
      expect(ls(c.paths.exportsDir)).to.deep.equal(['mine.json']);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

// -------------------------------------------------------------------------------------------------
// Round trip
// -------------------------------------------------------------------------------------------------

describe('transfer: export, then import into an empty store', () => {
  const h = withCtx();

  it('every song and performance reads back deep-equal (createdAt, updatedAt and revision kept)', async () => {
    const a = h.ctx;
    const { songIds, perfIds } = populate(a);
    expect(a.songs.get(songIds[1]!).revision, 'the library has an edited song').to.equal(3);
    expect(a.songs.get(songIds[2]!).playCount).to.equal(1);
    const { path } = a.transfer.exportSongs({});

    const b = await h.open(T0 + 99_000_000); // another clock: nothing may be stamped anew
    expect(counts(b)).to.deep.equal({ songs: 0, performances: 0 });
    const result = b.transfer.importSongs(b.transfer.readSongs(path), 'skip');
    expect(result).to.deep.equal({ songs: songIds.length, performances: perfIds.length, skipped: 0, replaced: 0, duplicated: 0, conflicts: [], versions: 0 });
    for (const id of songIds) expect(b.songs.get(id), id).to.deep.equal(a.songs.get(id));
    for (const id of perfIds) expect(b.perfs.get(id), id).to.deep.equal(a.perfs.get(id));
    expect(all(b.songs)).to.deep.equal(all(a.songs));
    expect(all(b.perfs)).to.deep.equal(all(a.perfs));
    // Full-text search finds the imported songs.
    expect(b.songs.search('edited twice').items.map((s) => s.id)).to.deep.equal([songIds[1]!]);
    // And a second export of the copy is the same document.
    expect(b.transfer.songsDocument()).to.deep.equal(a.transfer.songsDocument());
  });

  it('announces the imported records as inserts, after one commit', async () => {
    const a = h.ctx;
    const { songIds, perfIds } = populate(a);
    const doc = a.transfer.songsDocument();
    const b = await h.open();
    const before = b.ts.commits.length;
    b.transfer.importSongs(b.transfer.validateSongs(JSON.parse(JSON.stringify(doc))), 'skip');
    expect(b.ts.commits.length - before, 'one transaction').to.equal(1);
    const changes = b.ts.commits[b.ts.commits.length - 1]!;
    const ids = (entity: string): string[] => changes.filter((x) => x.entity === entity && x.op === 'insert').flatMap((x) => [...x.ids]).sort();
    expect(ids('songs')).to.deep.equal([...songIds].sort());
    expect(ids('performances')).to.deep.equal([...perfIds].sort());
  });
});

// -------------------------------------------------------------------------------------------------
// Validation
// -------------------------------------------------------------------------------------------------

describe('transfer: a file that fails validation imports nothing', () => {
  const h = withCtx();

  it('a null record is -32021, not a TypeError', () => {
    for (const doc of [
      { format: SONGS_FORMAT, formatVersion: 1, songs: [null] },
      { format: SONGS_FORMAT, formatVersion: 1, songs: [], performances: [null] },
    ]) {
      const err = thrown(() => h.ctx.transfer.validateSongs(doc));
      expect(err).to.be.instanceOf(RpcError);
      expect(err.code).to.equal(INVALID_IMPORT);
    }
  });

  /** Writes `text` to exports/<name>, reads and imports it; returns the error it throws. */
  function importError(c: Ctx, name: string, text: string, onConflict: 'skip' | 'replace' | 'duplicate' = 'skip'): any {
    writeFileSync(join(c.paths.exportsDir, name), text);
    const before = counts(c);
    const commits = c.ts.commits.length;
    const err = thrown(() => c.transfer.importSongs(c.transfer.readSongs(name), onConflict));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code, err.message).to.equal(INVALID_IMPORT);
    expect(err.message).to.match(/nothing was imported/);
    expect(err.data).to.have.all.keys('errors');
    for (const e of err.data.errors) {
      expect(e.path).to.be.a('string');
      expect(e.message).to.be.a('string').and.not.equal('');
    }
    expect(counts(c), 'nothing was written').to.deep.equal(before);
    expect(c.ts.commits.length, 'no transaction committed').to.equal(commits);
    return err;
  }

  it('a file larger than one import reads (512 MiB) is -32021 before it is read, and says what to do instead', () => {
    const path = join(h.ctx.paths.exportsDir, 'huge.json');
    writeFileSync(path, '');
    truncateSync(path, MAX_IMPORT_BYTES + 1); // sparse: no disk is used
    const err = thrown(() => h.ctx.transfer.readSongs('huge.json'));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(INVALID_IMPORT);
    expect(err.data.errors).to.have.length(1);
    expect(err.data.errors[0].message).to.include(String(MAX_IMPORT_BYTES + 1)).and.match(/export\.songs \{ids\}.*export\.full and import\.full/);
  });

  /** A valid export document of a fresh library in another store. */
  async function sourceDoc(): Promise<SongsExport> {
    const src = await h.open();
    populate(src);
    return JSON.parse(JSON.stringify(src.transfer.songsDocument())) as SongsExport;
  }

  it('a file that is not JSON', () => {
    const err = importError(h.ctx, 'broken.json', '{"format": "whiteroom-songs-export", "songs": [');
    expect(err.data.errors).to.have.length(1);
    expect(err.data.errors[0].path).to.equal('');
    expect(err.data.errors[0].message).to.match(/^not JSON/);
  });

  it('a JSON value that is not an object', () => {
    const err = importError(h.ctx, 'array.json', '[1, 2]');
    expect(err.data.errors).to.deep.equal([{ path: '', message: 'must be an object' }]);
  });

  it('a wrong format and a newer formatVersion, both named', async () => {
    const doc = await sourceDoc();
    const err = importError(h.ctx, 'other.json', JSON.stringify({ ...doc, format: 'something-else', formatVersion: SONGS_FORMAT_VERSION + 1 }));
    expect(err.data.errors.map((e: Json) => e.path)).to.deep.equal(['/format', '/formatVersion']);
    expect(err.data.errors[1].message).to.match(/format version/);
  });

  it('a newer formatVersion alone, and songs that are not an array', async () => {
    const doc = await sourceDoc();
    const newer = importError(h.ctx, 'newer.json', JSON.stringify({ ...doc, formatVersion: SONGS_FORMAT_VERSION + 1 }));
    expect(newer.data.errors.map((e: Json) => e.path)).to.deep.equal(['/formatVersion']);
    const noSongs = importError(h.ctx, 'nosongs.json', JSON.stringify({ ...doc, songs: { a: 1 }, performances: 'x' }));
    expect(noSongs.data.errors.map((e: Json) => e.path)).to.deep.equal(['/songs', '/performances']);
  });

  it('lists every bad record at once, with JSON pointers into the file and the record ids', async () => {
    const c = h.ctx;
    populate(c); // the store is not empty: nothing of it may change either
    const stored = all(c.songs);
    const doc = await sourceDoc();
    expect(doc.songs.length).to.be.at.least(5);
    const s = doc.songs as Json[];
    const p = doc.performances as Json[];
    delete s[1]!.name; // a required field missing (one without a default)
    s[2]!.metadata.tempo = '120'; // a wrong type deep inside
    s[3]!.id = s[0]!.id; // the same id twice (song 3 has no performance)
    s[4]!.roles[0].color = 'orange'; // a pattern deeper still
    p[1]!.songId = 'a-song-that-is-nowhere'; // a performance of no song
    delete p[2]!.arrangementStyle;
    const err = importError(c, 'bad.json', JSON.stringify(doc, null, 2), 'replace');
    const errors = err.data.errors as Json[];
    const at = (path: string): Json => {
      const e = errors.find((x) => x.path === path);
      expect(e, `an error at ${path} in ${JSON.stringify(errors)}`).to.not.equal(undefined);
      return e!;
    };
    expect(at('/songs/1/name')).to.deep.equal({ path: '/songs/1/name', message: 'is required', id: s[1]!.id });
    expect(at('/songs/2/metadata/tempo')).to.include({ id: s[2]!.id });
    expect(at('/songs/2/metadata/tempo').message).to.match(/number/);
    expect(at('/songs/4/roles/0/color')).to.include({ id: s[4]!.id });
    expect(at('/songs/3/id')).to.deep.equal({ path: '/songs/3/id', message: 'appears twice', id: s[0]!.id });
    expect(at('/performances/1/songId')).to.include({ id: p[1]!.id });
    expect(at('/performances/1/songId').message).to.match(/neither in the file nor stored/);
    expect(at('/performances/2/arrangementStyle')).to.deep.equal({ path: '/performances/2/arrangementStyle', message: 'is required', id: p[2]!.id });
    expect(errors, 'nothing else').to.have.length(6);
    expect(err.message).to.match(/^Invalid import: \/songs\/1\/name is required \(and 5 more\)/);
    expect(all(c.songs), 'stored songs unchanged').to.deep.equal(stored);
  });

  it('a record without an id, and a field no schema knows', async () => {
    const doc = await sourceDoc();
    delete (doc.songs[0] as Json).id;
    (doc.performances[0] as Json).unknownField = 1;
    const err = importError(h.ctx, 'noid.json', JSON.stringify(doc));
    expect(err.data.errors).to.deep.include({ path: '/songs/0/id', message: 'is required in an export' });
    expect(err.data.errors).to.deep.include({ path: '/performances/0/unknownField', message: 'is not a known field', id: doc.performances[0]!.id });
  });

  it('a performance may name a song that is only stored, not in the file', async () => {
    const c = h.ctx;
    const song = c.songs.create(makeSong());
    const perf = makePerformance(song.id);
    const doc = c.transfer.validateSongs({ format: SONGS_FORMAT, formatVersion: 1, songs: [], performances: [perf] });
    expect(c.transfer.importSongs(doc, 'skip')).to.deep.equal({ songs: 0, performances: 1, skipped: 0, replaced: 0, duplicated: 0, conflicts: [], versions: 0 });
    expect(c.perfs.get(perf.id)).to.include({ songId: song.id, name: perf.name, revision: 1 });
  });

  it('a file that does not exist is FileRefused (-32022, not-found), not "no record with id"', () => {
    const err = thrown(() => h.ctx.transfer.readSongs('missing.json'));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(-32022);
    expect(err.data).to.deep.equal({ path: 'missing.json', reason: 'not-found', details: err.data.details });
  });
});

// -------------------------------------------------------------------------------------------------
// Conflicts
// -------------------------------------------------------------------------------------------------

describe('transfer: importing songs that are stored already', () => {
  const h = withCtx();

  interface Setup {
    c: Ctx;
    songId: string;
    perfId: string;
    /** A performance of the song that is in the file only. */
    newPerfId: string;
    doc: SongsExport;
    /** The stored song and performance after they were edited since the export. */
    song: Json;
    perf: Json;
    otherSongs: Map<string, Json>;
  }

  function setup(): Setup {
    const c = h.ctx;
    const song = c.songs.create(makeSong({ name: 'Exported name' }));
    const perf = c.perfs.create(makePerformance(song.id, { name: 'Exported take' }));
    c.ts.clock.tick(1000);
    const doc = JSON.parse(JSON.stringify(c.transfer.songsDocument([song.id]))) as SongsExport;
    const extra = makePerformance(song.id, { name: 'In the file only', createdAt: T0 - 5, updatedAt: T0 - 4, revision: 7 });
    doc.performances.push(extra as never);
    // Since the export: the stored song and performance were edited, and another song was made.
    c.ts.clock.tick(1000);
    const edited = c.songs.save({ ...c.songs.get(song.id), name: 'Edited since' });
    const editedPerf = c.perfs.save({ ...c.perfs.get(perf.id), name: 'Edited take' });
    c.songs.create(makeSong({ name: 'Unrelated' }));
    c.ts.clock.tick(1000);
    return {
      c,
      songId: song.id,
      perfId: perf.id,
      newPerfId: extra.id,
      doc: c.transfer.validateSongs(doc),
      song: edited,
      perf: editedPerf,
      otherSongs: all(c.songs),
    };
  }

  it('skip: the stored song stays as it is, and the file\'s performances of it are skipped', () => {
    const s = setup();
    const { c } = s;
    expect(c.transfer.importSongs(s.doc, 'skip')).to.deep.equal({ songs: 0, performances: 0, skipped: 1, replaced: 0, duplicated: 0, conflicts: [], versions: 0 });
    expect(c.songs.get(s.songId)).to.deep.equal(s.song);
    expect(c.perfs.get(s.perfId)).to.deep.equal(s.perf);
    expect(c.perfs.revisionOf(s.newPerfId), 'the new performance of a skipped song is not imported').to.equal(undefined);
    expect(all(c.songs)).to.deep.equal(s.otherSongs);
    expect(counts(c)).to.deep.equal({ songs: 2, performances: 1 });
  });

  it('replace: the stored song is overwritten by the file\'s, its revision grows, performances follow', () => {
    const s = setup();
    const { c } = s;
    expect(c.transfer.importSongs(s.doc, 'replace')).to.deep.equal({ songs: 1, performances: 2, skipped: 0, replaced: 1, duplicated: 0, conflicts: [], versions: 0 });
    const fileSong = s.doc.songs[0] as Json;
    const now = c.ts.clock.now;
    const { updatedAt: _u, revision: _r, ...fileFields } = fileSong;
    expect(c.songs.get(s.songId)).to.deep.equal({ ...fileFields, updatedAt: now, revision: s.song.revision + 1 });
    expect(c.songs.get(s.songId).name).to.equal('Exported name');
    const filePerf = s.doc.performances[0] as Json;
    const { updatedAt: _pu, revision: _pr, ...perfFields } = filePerf;
    expect(c.perfs.get(s.perfId)).to.deep.equal({ ...perfFields, updatedAt: now, revision: s.perf.revision + 1 });
    // The performance that was only in the file is new: imported as it was.
    expect(c.perfs.get(s.newPerfId)).to.include({ createdAt: T0 - 5, updatedAt: T0 - 4, revision: 7, songId: s.songId });
    expect(counts(c)).to.deep.equal({ songs: 2, performances: 2 });
  });

  it('duplicate: a new song with a new id, the performances follow it, the originals are untouched', () => {
    const s = setup();
    const { c } = s;
    expect(c.transfer.importSongs(s.doc, 'duplicate')).to.deep.equal({ songs: 1, performances: 2, skipped: 0, replaced: 0, duplicated: 1, conflicts: [], versions: 0 });
    expect(c.songs.get(s.songId)).to.deep.equal(s.song);
    expect(c.perfs.get(s.perfId)).to.deep.equal(s.perf);
    const after = all(c.songs);
    const fresh = [...after.keys()].filter((id) => !s.otherSongs.has(id));
    expect(fresh).to.have.length(1);
    const copy = after.get(fresh[0]!)!;
    const fileSong = s.doc.songs[0] as Json;
    expect(copy.id).to.not.equal(fileSong.id);
    expect(copy).to.deep.equal({ ...fileSong, id: copy.id, updatedAt: c.ts.clock.now, revision: 1 });
    const copies = c.perfs.list({ filters: { songId: copy.id }, orderBy: 'name' }).items;
    expect(copies.map((p) => p.name)).to.deep.equal(['Exported take', 'In the file only']);
    for (const p of copies) {
      expect([s.perfId, s.newPerfId], 'a new id').to.not.include(p.id);
      expect(p.revision).to.equal(1);
    }
    expect(c.perfs.revisionOf(s.newPerfId), 'the file id of a duplicated song\'s performance is not used').to.equal(undefined);
    expect(counts(c)).to.deep.equal({ songs: 3, performances: 3 });
  });
});

// -------------------------------------------------------------------------------------------------
// All or nothing
// -------------------------------------------------------------------------------------------------

describe('transfer: an import that fails half-way writes nothing', () => {
  const h = withCtx();

  it('a performance whose song was deleted after validation: ConstraintViolation, no song of the file written', () => {
    const c = h.ctx;
    const parent = c.songs.create(makeSong({ name: 'Parent' }));
    const fileSongs = [makeSong(), makeSong(), makeSong()].map((s): Json => ({ ...s, createdAt: T0 - 10, updatedAt: T0 - 9, revision: 2 }));
    const doc = c.transfer.validateSongs({
      format: SONGS_FORMAT,
      formatVersion: 1,
      songs: fileSongs,
      performances: [makePerformance(fileSongs[0]!.id), makePerformance(parent.id), makePerformance(fileSongs[1]!.id)],
    });
    c.songs.delete(parent.id); // between the read and the write
    const before = counts(c);
    const commits = c.ts.commits.length;
    const err = thrown(() => c.transfer.importSongs(doc, 'skip'));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(CONSTRAINT_VIOLATION);
    expect(err.data).to.include({ entity: 'performances', field: 'songId', value: parent.id });
    expect(counts(c)).to.deep.equal(before);
    for (const s of fileSongs) expect(c.songs.revisionOf(s.id), s.id).to.equal(undefined);
    expect(c.ts.commits.length).to.equal(commits);
    expect(c.songs.search(fileSongs[0]!.name).items).to.deep.equal([]);
    expect(c.ts.store.db.inTransaction).to.equal(false);
  });

  it('a song the database refuses (rating out of range in an unchecked document) after others were written', () => {
    const c = h.ctx;
    const kept = c.songs.create(makeSong({ name: 'Kept' }));
    const good = [makeSong(), makeSong()];
    const bad = makeSong();
    bad.metadata.rating = 9;
    const doc = {
      format: SONGS_FORMAT,
      formatVersion: 1,
      songs: [...good, bad],
      performances: [makePerformance(good[0]!.id)],
    } as unknown as SongsExport;
    const before = counts(c);
    const err = thrown(() => c.transfer.importSongs(doc, 'duplicate'));
    expect(err).to.be.instanceOf(SqliteError);
    expect(err.code).to.equal('SQLITE_CONSTRAINT_CHECK');
    expect(counts(c)).to.deep.equal(before);
    for (const s of [...good, bad]) expect(c.songs.revisionOf(s.id)).to.equal(undefined);
    expect(c.songs.get(kept.id)).to.deep.equal(kept);
    // The validating path refuses the same document up front.
    const v = thrown(() => c.transfer.validateSongs(doc));
    expect(v.code).to.equal(INVALID_IMPORT);
    expect(v.data.errors.map((e: Json) => e.path)).to.deep.equal(['/songs/2/metadata/rating']);
  });
});

// -------------------------------------------------------------------------------------------------
// Repository.insertAsIs
// -------------------------------------------------------------------------------------------------

describe('Repository.insertAsIs', () => {
  const h = withCtx();

  it('keeps createdAt, updatedAt, revision and play state as given', () => {
    const c = h.ctx;
    const song = makeSong({ createdAt: 1000, updatedAt: 2000, revision: 9, isFavorite: true, playCount: 4, lastPlayedAt: 1500 });
    const got = c.songs.insertAsIs(song);
    expect(got).to.deep.equal({ ...song, version: '1.0' });
    expect(c.songs.get(song.id)).to.deep.equal(got);
  });

  it('without timestamps or revision: now, now and 1', () => {
    const c = h.ctx;
    const song = makeSong();
    expect(c.songs.insertAsIs(song)).to.include({ createdAt: T0, updatedAt: T0, revision: 1, playCount: 0, isFavorite: false });
  });

  it('refuses an id that is stored (-32003) and leaves the stored record as it was', () => {
    const c = h.ctx;
    const stored = c.songs.create(makeSong({ name: 'Original' }));
    const commits = c.ts.commits.length;
    const err = thrown(() => c.songs.insertAsIs({ ...makeSong({ name: 'Intruder' }), id: stored.id, revision: 50 }));
    expect(err).to.be.instanceOf(RpcError);
    expect(err.code).to.equal(ALREADY_EXISTS);
    expect(err.data).to.deep.equal({ entity: 'songs', id: stored.id });
    expect(c.songs.get(stored.id)).to.deep.equal(stored);
    expect(c.ts.commits.length).to.equal(commits);
  });

  it('refuses a performance whose song does not exist (-32004)', () => {
    const c = h.ctx;
    const err = thrown(() => c.perfs.insertAsIs(makePerformance('nowhere', { revision: 3 })));
    expect(err.code).to.equal(CONSTRAINT_VIOLATION);
    expect(c.perfs.count()).to.equal(0);
  });
});

// -------------------------------------------------------------------------------------------------
// Health: doctor, fileShape, lastAutosaveAt
// -------------------------------------------------------------------------------------------------

describe('health: doctor and lastAutosaveAt', () => {
  const h = withCtx();

  it('a sound store is ok, with its counts and its file shape', () => {
    const c = h.ctx;
    const { songIds, perfIds } = populate(c);
    const r = doctor(c.ts.store);
    expect(r.ok).to.equal(true);
    expect(r.integrity).to.deep.equal(['ok']);
    expect(r.foreignKeyViolations).to.equal(0);
    expect(r.counts).to.include({ songs: songIds.length, performances: perfIds.length, autosaves: 0 });
    expect(r.counts).to.deep.equal(recordCounts(c.ts.store.db));
    expect(Object.keys(r.counts).some((k) => k.includes('_fts')), 'FTS internals are not counted').to.equal(false);
    expect(r).to.not.have.property('vacuum');
    expect(r.pageSize).to.equal(4096);
    expect(r.pageCount).to.be.above(1);
    expect(r.walBytes, 'the writes are in the WAL').to.be.above(0);
    const shape = fileShape(c.ts.store);
    expect(shape).to.deep.equal({ dbBytes: r.dbBytes, walBytes: r.walBytes, pageSize: r.pageSize, pageCount: r.pageCount, freePages: r.freePages });
    c.ts.store.checkpoint();
    const after = fileShape(c.ts.store);
    expect(after.walBytes).to.equal(0);
    expect(after.dbBytes).to.equal(after.pageCount * after.pageSize).and.equal(statSync(c.ts.dbPath).size);
  });

  it('a foreign key violation makes it not ok', () => {
    const c = h.ctx;
    const db = c.ts.store.db;
    db.pragma('foreign_keys = OFF');
    try {
      db.prepare(
        `INSERT INTO performances (id, song_id, name, created_at, updated_at, arrangement_style,
           instrumentation_map_json, mix_targets_json) VALUES ('orphan', 'no-song', 'x', 1, 1, 'SOLO_PIANO', '{}', '{}')`,
      ).run();
    } finally {
      db.pragma('foreign_keys = ON');
    }
    const r = doctor(c.ts.store);
    expect(r.ok).to.equal(false);
    expect(r.integrity).to.deep.equal(['ok']);
    expect(r.foreignKeyViolations).to.equal(1);
  });

  it('vacuum gives back the space of deleted songs and rebuilds the search index', () => {
    const c = h.ctx;
    const words = ['amber', 'birch', 'cedar', 'dahlia', 'elm'];
    const ids: string[] = [];
    const keep = new Map<string, string>();
    for (let i = 0; i < 30; i++) {
      const word = i % 6 === 5 ? words[(i - 5) / 6]! : undefined;
      const s = c.songs.create(makeSong({ name: word ? `Keeper ${word}` : `Gone ${i}`, sections: [{ id: 'big', blob: 'x'.repeat(150_000) }] }));
      ids.push(s.id);
      if (word) keep.set(word, s.id);
    }
    for (const id of ids) if (![...keep.values()].includes(id)) c.songs.delete(id);
    // A stale entry in the external-content index (what a renumbering VACUUM would leave): the
    // word "zephyr" points at the amber song's row, which does not hold it.
    const amberRow = c.ts.store.db.prepare('SELECT rowid FROM songs WHERE id = ?').pluck().get(keep.get('amber')!) as number;
    c.ts.store.db
      .prepare("INSERT INTO songs_fts(rowid, name, composer, genre, mood, tags, comments) VALUES (?, 'zephyr', '', '', '', '', '')")
      .run(amberRow);
    expect(c.songs.search('zephyr').items.map((s) => s.id), 'the stale entry is found before').to.deep.equal([keep.get('amber')!]);
    c.ts.store.checkpoint();
    const before = fileShape(c.ts.store);
    expect(before.freePages, 'the deleted songs left free pages').to.be.above(500);

    const r = doctor(c.ts.store, true);
    expect(r.ok).to.equal(true);
    expect(r.vacuum).to.be.an('object');
    expect(r.vacuum!.beforeBytes).to.equal(before.dbBytes);
    expect(r.vacuum!.afterBytes).to.be.below(r.vacuum!.beforeBytes / 3);
    expect(r.vacuum!.afterBytes).to.equal(statSync(c.ts.dbPath).size);
    expect(r.freePages).to.equal(0);
    expect(r.dbBytes).to.equal(r.vacuum!.afterBytes);
    expect(r.counts.songs).to.equal(5);

    // Each kept song is found by its word, and only it: the index points at the right rows.
    for (const [word, id] of keep) {
      expect(c.songs.search(word).items, word).to.deep.equal([c.songs.get(id)]);
    }
    expect(c.songs.search('keeper').items.map((s) => s.id).sort()).to.deep.equal([...keep.values()].sort());
    expect(c.songs.search('gone').items).to.deep.equal([]);
    expect(c.songs.search('zephyr').items, 'the index was rebuilt from the table').to.deep.equal([]);
    expect(c.ts.store.db.prepare("INSERT INTO songs_fts(songs_fts) VALUES ('integrity-check')").run().changes).to.be.a('number');
  });

  it('lastAutosaveAt is undefined without autosaves, then the newest one\'s time', () => {
    const c = h.ctx;
    expect(lastAutosaveAt(c.ts.store)).to.equal(undefined);
    const song = c.songs.create(makeSong());
    const insert = c.ts.store.db.prepare(
      `INSERT INTO autosaves (id, song_id, performance_id, name, manifest_json, created_at) VALUES (?, ?, NULL, 'Auto-Save', '{}', ?)`,
    );
    insert.run('a1', song.id, T0 + 300);
    expect(lastAutosaveAt(c.ts.store)).to.equal(T0 + 300);
    insert.run('a2', song.id, T0 + 100);
    insert.run('a3', song.id, T0 + 700);
    expect(lastAutosaveAt(c.ts.store)).to.equal(T0 + 700);
  });
});

// -------------------------------------------------------------------------------------------------
// Recovery
// -------------------------------------------------------------------------------------------------

describe('recovery: damage', () => {
  it('is undefined for "ok", and the quick_check result otherwise', () => {
    expect(damage(() => 'ok')).to.equal(undefined);
    expect(damage(() => '*** in database main ***\nPage 5: btreeInitPage() returns error code 11')).to.equal(
      'quick_check: *** in database main ***\nPage 5: btreeInitPage() returns error code 11',
    );
  });

  it('is the code and message of a SQLITE_CORRUPT* or SQLITE_NOTADB error', () => {
    const boom = (message: string, code: string) => (): never => {
      throw new SqliteError(message, code);
    };
    expect(damage(boom('database disk image is malformed', 'SQLITE_CORRUPT'))).to.equal('SQLITE_CORRUPT: database disk image is malformed');
    expect(damage(boom('bad vtab', 'SQLITE_CORRUPT_VTAB'))).to.equal('SQLITE_CORRUPT_VTAB: bad vtab');
    expect(damage(boom('file is not a database', 'SQLITE_NOTADB'))).to.equal('SQLITE_NOTADB: file is not a database');
  });

  it('rethrows every other error', () => {
    const busy = new SqliteError('database is locked', 'SQLITE_BUSY');
    expect(thrown(() => damage(() => {
      throw busy;
    }))).to.equal(busy);
    const plain = new Error('not sqlite');
    expect(thrown(() => damage(() => {
      throw plain;
    }))).to.equal(plain);
  });

  it('reads a real file that is not a database as SQLITE_NOTADB', () => {
    const d = tempDir('wr-damage-');
    try {
      const path = join(d.dir, 'data.db');
      writeFileSync(path, garbage(64 * 1024));
      const reason = damage(() => {
        const db = connect(path);
        try {
          return db.pragma('quick_check', { simple: true });
        } finally {
          db.close();
        }
      });
      expect(reason).to.match(/^SQLITE_NOTADB: /);
    } finally {
      d.cleanup();
    }
  });
});

describe('recovery: recoverFromDamage', () => {
  let ts: TempStore;
  let paths: DataPaths;
  let repo: Repository<Json>;
  const AT = new Date(2024, 5, 7, 8, 9, 10, 0).getTime();

  beforeEach(async () => {
    ts = await openTempStore(T0);
    paths = dataPaths(ts.dir);
    ensureDataDirs(paths);
    repo = new Repository<Json>(ts.store, songs);
  });
  afterEach(() => ts.cleanup());

  /** Songs big enough that the file has pages well past the 13th. */
  const addSongs = (n: number, prefix: string): void => {
    for (let i = 0; i < n; i++) repo.create(makeSong({ name: `${prefix} ${i}`, sections: [{ id: 's', blob: 'b'.repeat(6000) }] }));
  };

  /** Closes the store and overwrites pages 4..13 of data.db with 0xA5; the reason quick_check gives. */
  function damageFile(): string {
    ts.store.close();
    expect(statSync(paths.dbPath).size).to.be.above(20 * 4096);
    scribble(paths.dbPath, 3 * 4096, 13 * 4096);
    const reason = damage(() => {
      const db = connect(paths.dbPath);
      try {
        return db.pragma('quick_check', { simple: true });
      } finally {
        db.close();
      }
    });
    expect(reason, 'the damage is seen').to.be.a('string');
    return reason!;
  }

  /** Every song row of a database file, by id. */
  function rows(path: string): unknown[] {
    const db = openUntrusted(path);
    try {
      return db.prepare('SELECT * FROM songs ORDER BY id').all();
    } finally {
      db.close();
    }
  }

  it('moves the damaged file aside (a hard link to its bytes) and puts the newest good backup in its place', async () => {
    addSongs(10, 'Old');
    const older = await writeBackup(ts.store.db, paths.backupsDir, 'manual', { now: AT - 7_200_000 });
    addSongs(5, 'Backed up');
    const newest = await writeBackup(ts.store.db, paths.backupsDir, 'automatic', { now: AT - 3_600_000 });
    addSongs(5, 'Lost');
    // A newer backup that does not verify is passed over.
    writeFileSync(join(paths.backupsDir, 'data_2099-01-01_000000.db'), garbage(50_000));
    const expectedRows = rows(newest.path);
    const metadataRows = (path: string): number => {
      const db = openUntrusted(path);
      try {
        return db.prepare('SELECT count(*) FROM metadata').pluck().get() as number;
      } finally {
        db.close();
      }
    };
    const expectedMetadata = metadataRows(newest.path);
    const expectedCounts = (() => {
      const db = openUntrusted(newest.path);
      try {
        return recordCounts(db);
      } finally {
        db.close();
      }
    })();
    expect(expectedCounts.songs).to.equal(15);

    const reason = damageFile();
    const damagedHash = sha256File(paths.dbPath);
    const damagedIno = statSync(paths.dbPath).ino;
    const backupHashes = [older.path, newest.path].map(sha256File);

    const rec = await recoverFromDamage(paths, reason, AT);
    const pad = (n: number): string => String(n).padStart(2, '0');
    const d = new Date(AT);
    const corruptName = `data.db.corrupt-${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
    expect(corruptName).to.equal('data.db.corrupt-20240607-080910');
    expect(rec).to.deep.equal({ reason, corruptFile: join(paths.dataDir, corruptName), restoredFrom: newest.path, at: AT });

    // The damaged bytes are kept, under the inode data.db had.
    expect(sha256File(rec.corruptFile)).to.equal(damagedHash);
    expect(statSync(rec.corruptFile).ino).to.equal(damagedIno);
    expect(statSync(paths.dbPath).ino).to.not.equal(damagedIno);
    expect(existsSync(`${paths.dbPath}.restoring`)).to.equal(false);
    expect(ls(paths.dataDir).filter((f) => f.startsWith('data.db'))).to.deep.equal(['data.db', corruptName]);

    // data.db holds the backup's data, verifies, and carries no backup label.
    const inspection = inspectDatabase(paths.dbPath, MIGRATIONS);
    expect(inspection.ok, inspection.reason).to.equal(true);
    // The same rows, but the metadata rows that labelled the backup (backup_kind, backup_created_at).
    expect(inspection.counts).to.deep.equal(expectedCounts);
    expect(metadataRows(paths.dbPath)).to.equal(expectedMetadata - 2);
    expect(inspection.kind).to.equal('unknown');
    expect(rows(paths.dbPath)).to.deep.equal(expectedRows);
    // The backups themselves are untouched.
    expect([older.path, newest.path].map(sha256File)).to.deep.equal(backupHashes);

    // The store opens on it and serves its songs.
    const reopened = Store.open(paths.dbPath);
    try {
      const r = new Repository<Json>(reopened, songs);
      expect(r.count()).to.equal(15);
      expect(r.search('lost').items).to.deep.equal([]);
      expect(r.search('backed').items.length).to.equal(5);
    } finally {
      reopened.close();
    }
  });

  it('with only bad backups it throws what to do and changes no file', async () => {
    addSongs(20, 'Song');
    writeFileSync(join(paths.backupsDir, 'data_2024-01-01_000000.db'), garbage(40_000));
    writeFileSync(join(paths.backupsDir, 'data_2024-01-02_000000.db'), Buffer.alloc(8192));
    writeFileSync(join(paths.backupsDir, 'data_2024-01-03_000000.db'), 'SQLite format 3\0 but nothing else');
    const reason = damageFile();
    const before = new Map(
      [paths.dataDir, paths.backupsDir].flatMap((dir) => ls(dir).filter((f) => statSync(join(dir, f)).isFile()).map((f) => [join(dir, f), sha256File(join(dir, f))] as const)),
    );

    const err = await rejection(recoverFromDamage(paths, reason, AT));
    expect(err).to.be.instanceOf(Error);
    expect(err.message).to.include(paths.dbPath);
    expect(err.message).to.include(reason);
    expect(err.message).to.include(paths.backupsDir);
    expect(err.message).to.match(/no backup .* passes verification/);
    expect(err.message).to.match(/the file was not changed/);
    expect(err.message).to.match(/Move it aside .*or copy a backup you trust over it/);

    const after = new Map(
      [paths.dataDir, paths.backupsDir].flatMap((dir) => ls(dir).filter((f) => statSync(join(dir, f)).isFile()).map((f) => [join(dir, f), sha256File(join(dir, f))] as const)),
    );
    expect(after).to.deep.equal(before);
    expect(ls(paths.dataDir).filter((f) => f.startsWith('data.db'))).to.deep.equal(['data.db']);
  });

  it('with no backups folder content at all it throws too, and changes nothing', async () => {
    addSongs(20, 'Song');
    const reason = damageFile();
    const hash = sha256File(paths.dbPath);
    const err = await rejection(recoverFromDamage(paths, reason, AT));
    expect(err.message).to.include(paths.backupsDir);
    expect(sha256File(paths.dbPath)).to.equal(hash);
    expect(ls(paths.dataDir).filter((f) => f.startsWith('data.db'))).to.deep.equal(['data.db']);
  });
});
