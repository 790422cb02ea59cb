/**
 * Names as people read them (issue 12, items 2 and 3), through the real process:
 *
 * - `orderBy: "name"` sorts by a key that ignores case and accents and follows Unicode: "Émile"
 *   beside "emile", "Ñandu" beside "nandu", NFC and NFD alike, numbers by value; ties by id; pages
 *   stay keyset (the same order page by page as in one page);
 * - search folds what users type and what is stored alike: `lodz` finds "Łódź", `oresund`
 *   finds "Øresund", `suss` finds "Süß"; each tag is indexed as its own words;
 * - the keys and folded text are derived from the rows and never trusted from a file: a database
 *   of an older version gets them when it is migrated, a restored backup gets them made again.
 */
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { makeSong } from '../helpers/fixtures.js';
import { StoreProcess, tempDir } from '../helpers/process.js';
import { listAll, ok, stop } from '../helpers/rpc.js';
import { sqlite3 } from '../helpers/registry-helpers.js';
import { databaseAt } from '../helpers/check.js';

type Rec = Record<string, any>;

let n = 0;
const uid = (prefix: string): string => `${prefix}-${String(++n).padStart(4, '0')}`;

const running: StoreProcess[] = [];
const dirs: string[] = [];
async function launch(dataDir?: string): Promise<StoreProcess> {
  const p = await StoreProcess.start(dataDir ? { dataDir } : {});
  running.push(p);
  return p;
}
function ownDir(): string {
  const d = tempDir('wr-names-');
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const p of running.splice(0)) await p.cleanup();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const names = (items: Rec[]): string[] => items.map((x) => x.name as string);
const song = (name: string, metadata: Rec = {}): Rec => {
  const s = makeSong({ id: uid('song'), name });
  s.metadata = { ...s.metadata, composer: 'Anon', genre: 'jazz', mood: 'calm', comments: 'none', tags: ['test'], ...metadata };
  return s;
};

// The names a library holds, shuffled; the order people read them in.
const LIBRARY = ['zeta', 'Take 10', 'Émile', 'nandu', 'apple', 'E\u0301mile', 'Ñandu', 'Take 2', 'emile', 'Łukasz', 'N\u0303andu', 'Zoë', 'ÉMILE', 'lukas'];
/** Groups of names with one key, in order; inside a group, ties go by id (creation order here). */
const ORDER = [['apple'], ['Émile', 'E\u0301mile', 'emile', 'ÉMILE'], ['lukas'], ['Łukasz'], ['nandu', 'Ñandu', 'N\u0303andu'], ['Take 2'], ['Take 10'], ['zeta'], ['Zoë']];

/** The expected order: groups in order, each group's names in id order (LIBRARY order). */
const expected = (): string[] => ORDER.flatMap((g) => [...g].sort((a, b) => LIBRARY.indexOf(a) - LIBRARY.indexOf(b)));

describe('orderBy name: the way people read names', function () {
  this.timeout(60_000);

  it('sorts songs by a case- and accent-insensitive key: Émile beside emile, Ñandu beside nandu, NFC and NFD alike, numbers by value', async () => {
    const p = await launch();
    for (const name of LIBRARY) await ok(p, 'songs.create', { item: song(name) });
    const one = await ok(p, 'songs.list', { orderBy: 'name', limit: 100 });
    expect(names(one.items)).to.deep.equal(expected());
    // Keyset pages give the same order, one row at a time and three at a time.
    for (const limit of [1, 3]) {
      const paged = await listAll(p, 'songs.list', { orderBy: 'name', limit });
      expect(names(paged.items), `limit ${limit}`).to.deep.equal(expected());
    }
    const desc = await listAll(p, 'songs.list', { orderBy: 'name', direction: 'desc', limit: 4 });
    expect(names(desc.items)).to.deep.equal(expected().reverse());
  });

  it('follows a rename: the renamed song moves to its new place', async () => {
    const p = await launch();
    const a = await ok(p, 'songs.create', { item: song('Alpha') });
    await ok(p, 'songs.create', { item: song('beta') });
    await ok(p, 'songs.create', { item: song('Gamma') });
    await ok(p, 'songs.update', { item: { ...a, name: 'Ωmega' }, ifRevision: a.revision });
    expect(names((await ok(p, 'songs.list', { orderBy: 'name' })).items)).to.deep.equal(['beta', 'Gamma', 'Ωmega']);
  });

  it('orders every named family the same way (instruments, voices, presets, performances)', async () => {
    const p = await launch();
    const order = ['Ärger', 'arles', 'Øre', 'oslo', 'Zebra'];
    const shuffled = ['Zebra', 'oslo', 'Ärger', 'Øre', 'arles'];
    const inst = await ok(p, 'instruments.create', { item: { id: uid('inst'), name: 'Host', type: 'synth' } });
    const s = await ok(p, 'songs.create', { item: song('Host song') });
    for (const [i, name] of shuffled.entries()) {
      await ok(p, 'instruments.create', { item: { id: uid('inst'), name, type: 'synth' } });
      await ok(p, 'voices.create', { item: { id: uid('voice'), instrumentId: inst.id, name, number: i + 1 } });
      await ok(p, 'presets.create', { item: { id: uid('preset'), instrumentId: inst.id, name, parameters: {} } });
      await ok(p, 'performances.create', {
        item: { id: uid('perf'), songId: s.id, name, arrangementStyle: 'SOLO_PIANO', instrumentationMap: {}, mixTargets: {} },
      });
    }
    expect(names((await ok(p, 'instruments.list', { orderBy: 'name' })).items).filter((x) => x !== 'Host')).to.deep.equal(order);
    for (const family of ['voices', 'presets', 'performances']) {
      const page = await listAll(p, `${family}.list`, { orderBy: 'name', limit: 2 });
      expect(names(page.items), family).to.deep.equal(order);
    }
  });
});

describe('search folds what users type', function () {
  this.timeout(60_000);

  const hits = async (p: StoreProcess, method: string, text: string): Promise<string[]> =>
    names((await ok(p, method, { query: text })).items).sort();

  it('finds Łódź by lodz, Øresund by oresund, Süß by suss, and the other way round', async () => {
    const p = await launch();
    for (const name of ['Łódź', 'Øresund', 'Süß', 'Æther', 'Œuvre', 'Đorđe', 'Þórr', 'Dvořák', 'Plain']) await ok(p, 'songs.create', { item: song(name) });
    expect(await hits(p, 'songs.search', 'lodz')).to.deep.equal(['Łódź']);
    expect(await hits(p, 'songs.search', 'LODZ')).to.deep.equal(['Łódź']);
    expect(await hits(p, 'songs.search', 'Łódź')).to.deep.equal(['Łódź']);
    expect(await hits(p, 'songs.search', 'oresund')).to.deep.equal(['Øresund']);
    expect(await hits(p, 'songs.search', 'suss')).to.deep.equal(['Süß']);
    expect(await hits(p, 'songs.search', 'SÜSS')).to.deep.equal(['Süß']);
    expect(await hits(p, 'songs.search', 'aether')).to.deep.equal(['Æther']);
    expect(await hits(p, 'songs.search', 'oeuvre')).to.deep.equal(['Œuvre']);
    expect(await hits(p, 'songs.search', 'dorde')).to.deep.equal(['Đorđe']);
    expect(await hits(p, 'songs.search', 'thorr')).to.deep.equal(['Þórr']);
    expect(await hits(p, 'songs.search', 'dvorak')).to.deep.equal(['Dvořák']);
    // Prefixes fold too.
    expect(await hits(p, 'songs.search', 'lod')).to.deep.equal(['Łódź']);
    // A stored plain name is found by its accented spelling.
    await ok(p, 'songs.create', { item: song('Lodz Blues') });
    expect(await hits(p, 'songs.search', 'łódź')).to.deep.equal(['Lodz Blues', 'Łódź']);
  });

  it('finds a name stored in NFD (as the macOS file system spells it) by its NFC spelling and by plain letters, and an NFD query finds NFC', async () => {
    const p = await launch();
    await ok(p, 'songs.create', { item: song('Zu\u0308rich Nights', { tags: ['Cafe\u0301 live'] }) });
    await ok(p, 'songs.create', { item: song('Malmö') });
    for (const q of ['zurich', 'Zürich', 'ZU\u0308RICH', 'cafe', 'café']) expect(await hits(p, 'songs.search', q), q).to.deep.equal(['Zu\u0308rich Nights']);
    for (const q of ['malmo', 'Malmo\u0308']) expect(await hits(p, 'songs.search', q), q).to.deep.equal(['Malmö']);
  });

  it('folds every indexed field: composer, genre, mood, comments', async () => {
    const p = await launch();
    await ok(p, 'songs.create', { item: song('One', { composer: 'Søren Kierkegaard', genre: 'Straßenmusik', mood: 'Ærlig', comments: 'recorded in Gdańsk and Łeba' }) });
    for (const q of ['soren', 'strassenmusik', 'aerlig', 'leba', 'gdansk']) expect(await hits(p, 'songs.search', q), q).to.deep.equal(['One']);
  });

  it('indexes each tag as its own words: a tag with a line break is found by each of its words', async () => {
    const p = await launch();
    await ok(p, 'songs.create', { item: song('Tagged', { tags: ['late\nnight', 'Kraków "live"', 'tab\there'] }) });
    await ok(p, 'songs.create', { item: song('Other', { tags: ['nightly'] }) });
    expect(await hits(p, 'songs.search', 'late')).to.deep.equal(['Tagged']);
    expect(await hits(p, 'songs.search', 'night')).to.deep.equal(['Other', 'Tagged']);
    expect(await hits(p, 'songs.search', 'nnight')).to.deep.equal([]);
    expect(await hits(p, 'songs.search', 'krakow')).to.deep.equal(['Tagged']);
    expect(await hits(p, 'songs.search', 'live')).to.deep.equal(['Tagged']);
    expect(await hits(p, 'songs.search', 'here')).to.deep.equal(['Tagged']);
    expect(await hits(p, 'songs.search', 'there')).to.deep.equal([]);
  });

  it('a tag with a line break or a tab and nothing to fold (plain ASCII) is found by each of its words too', async () => {
    const p = await launch();
    await ok(p, 'songs.create', { item: song('Plain tags', { tags: ['late\nnight', 'slow\tburn'] }) });
    for (const q of ['late', 'night', 'slow', 'burn']) expect(await hits(p, 'songs.search', q), q).to.deep.equal(['Plain tags']);
    for (const q of ['nnight', 'tburn']) expect(await hits(p, 'songs.search', q), q).to.deep.equal([]);
    // The same in the instrument index.
    await ok(p, 'instruments.create', { item: { id: uid('inst'), name: 'Plain', type: 'piano', tags: ['upright\nfelt'] } });
    expect(await hits(p, 'instruments.search', 'felt')).to.deep.equal(['Plain']);
    expect(await hits(p, 'instruments.search', 'nfelt')).to.deep.equal([]);
  });

  it('follows updates and deletes: a renamed song is found by its new name only, a deleted one not at all', async () => {
    const p = await launch();
    const s = await ok(p, 'songs.create', { item: song('Łódź') });
    const renamed = await ok(p, 'songs.update', { item: { ...s, name: 'Warszawa' }, ifRevision: s.revision });
    expect(await hits(p, 'songs.search', 'lodz')).to.deep.equal([]);
    expect(await hits(p, 'songs.search', 'warszawa')).to.deep.equal(['Warszawa']);
    await ok(p, 'songs.save', { item: { ...renamed, name: 'Øresund', metadata: { ...renamed.metadata, tags: ['Ærø'] } } });
    expect(await hits(p, 'songs.search', 'warszawa')).to.deep.equal([]);
    expect(await hits(p, 'songs.search', 'aero')).to.deep.equal(['Øresund']);
    await ok(p, 'songs.delete', { id: s.id });
    expect(await hits(p, 'songs.search', 'oresund')).to.deep.equal([]);
    await stop(p);
    expect(sqlite3(p.dataDir, "INSERT INTO songs_fts(songs_fts, rank) VALUES('integrity-check', 1); SELECT 'fts ok'")).to.equal('fts ok');
  });

  it('folds in the instrument and preset indexes too', async () => {
    const p = await launch();
    const inst = await ok(p, 'instruments.create', { item: { id: uid('inst'), name: 'Flygel', type: 'piano', manufacturer: 'Ørsted Æudio', tags: ['grand\npiano'] } });
    await ok(p, 'presets.create', { item: { id: uid('preset'), instrumentId: inst.id, name: 'Łagodny', parameters: {}, author: 'Đurđa', tags: ['soft\nwarm'] } });
    expect(await hits(p, 'instruments.search', 'orsted')).to.deep.equal(['Flygel']);
    expect(await hits(p, 'instruments.search', 'aeudio')).to.deep.equal(['Flygel']);
    expect(await hits(p, 'instruments.search', 'piano')).to.deep.equal(['Flygel']);
    expect(await hits(p, 'presets.search', 'lagodny')).to.deep.equal(['Łagodny']);
    expect(await hits(p, 'presets.search', 'durda')).to.deep.equal(['Łagodny']);
    expect(await hits(p, 'presets.search', 'warm')).to.deep.equal(['Łagodny']);
  });
});

describe('sort keys and folded text are derived, never taken from a file', function () {
  this.timeout(90_000);

  it('a database of schema version 2 gets them when it is migrated: name order and folded search work at once', async () => {
    const dir = ownDir();
    const db = databaseAt(join(dir, 'data.db'), 2);
    const insert = db.prepare(
      `INSERT INTO songs (id, name, created_at, updated_at, tags, determinism_seed, sections_json, roles_json, projections_json, mix_graph_json)
       VALUES (?, ?, 1, 1, ?, 's', '[]', '[]', '[]', '{"tracks":[]}')`,
    );
    insert.run('b', 'Zoë', '["late\\nnight"]');
    insert.run('a', 'Łódź', '[]');
    insert.run('c', 'émile', '[]');
    insert.run('d', 'Emile', '[]');
    db.close();
    const p = await launch(dir);
    expect(names((await ok(p, 'songs.list', { orderBy: 'name' })).items)).to.deep.equal(['émile', 'Emile', 'Łódź', 'Zoë']);
    expect(names((await ok(p, 'songs.search', { query: 'lodz' })).items)).to.deep.equal(['Łódź']);
    expect(names((await ok(p, 'songs.search', { query: 'night' })).items)).to.deep.equal(['Zoë']);
  });

  it('a restored backup whose keys and folded text were tampered with gets them made again', async () => {
    const p = await launch();
    await ok(p, 'songs.create', { item: song('Łódź') });
    await ok(p, 'songs.create', { item: song('apple') });
    const backup = await ok(p, 'backup.create', { label: 'before' });
    // Another tool changes the derived columns of the backup: wrong keys, wrong folded text.
    const file = new Database(backup.path);
    file.prepare(`UPDATE songs SET name_key = CASE name WHEN 'apple' THEN 'zzz' ELSE 'aaa' END, search_fold_json = '{"name":"decoy"}'`).run();
    file.prepare("INSERT INTO songs_fts(songs_fts) VALUES ('rebuild')").run();
    file.close();
    await ok(p, 'backup.restore', { path: backup.path });
    expect(names((await ok(p, 'songs.list', { orderBy: 'name' })).items)).to.deep.equal(['apple', 'Łódź']);
    expect(names((await ok(p, 'songs.search', { query: 'decoy' })).items)).to.deep.equal([]);
    expect(names((await ok(p, 'songs.search', { query: 'lodz' })).items)).to.deep.equal(['Łódź']);
  });

  it('keys made by another folding are made again at start', async () => {
    const p = await launch();
    await ok(p, 'songs.create', { item: song('Łódź') });
    await ok(p, 'songs.create', { item: song('apple') });
    await stop(p);
    sqlite3(p.dataDir, "UPDATE songs SET name_key = CASE name WHEN 'apple' THEN 'zzz' ELSE 'aaa' END; UPDATE metadata SET value = 'an older folding' WHERE key = 'text_fold'");
    const again = await launch(p.dataDir);
    expect(names((await ok(again, 'songs.list', { orderBy: 'name' })).items)).to.deep.equal(['apple', 'Łódź']);
  });
});
