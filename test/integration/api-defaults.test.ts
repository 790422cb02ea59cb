/**
 * An API that is easy to use right, from a host's point of view: a new record needs only the
 * fields that have no default (the schemas' `default` keywords fill the rest, and the answer is
 * the stored record), an update writes only the fields it carries, and every default the
 * schemas state is the one the store writes.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fails, invalid, ok, Procs, tracked } from '../helpers/rpc.js';
import { makeSong } from '../helpers/fixtures.js';
import { DEFINITIONS } from '../helpers/schema-arb.js';

const procs = new Procs();
afterEach(() => procs.cleanupAll());

describe('defaults: a new record needs only what has no default', function () {
  this.timeout(60000);

  it('songs.create {item: {name}} answers the stored song, with tempo 120, 4/4, empty parts and a generated seed', async () => {
    const p = await procs.launch();
    const { response, changes } = await tracked(p, 'songs.create', { item: { name: 'Minimal' } });
    const song = response.result as Record<string, any>;
    expect(song.metadata).to.deep.equal({ tempo: 120, timeSignature: [4, 4], tags: [] });
    expect(song).to.include({ name: 'Minimal', version: '1.0', revision: 1, isFavorite: false, playCount: 0 });
    expect(song.sections).to.deep.equal([]);
    expect(song.roles).to.deep.equal([]);
    expect(song.projections).to.deep.equal([]);
    expect(song.mixGraph).to.deep.equal({ tracks: [] });
    expect(song.determinismSeed).to.match(/^\d{1,20}$/);
    expect(BigInt(song.determinismSeed) < 2n ** 64n).to.equal(true);
    expect(song.id).to.be.a('string');
    // The answer is what is stored, and what store.changed announced.
    expect(await ok(p, 'songs.get', { id: song.id })).to.deep.equal(song);
    expect(changes).to.deep.equal([{ entity: 'songs', op: 'insert', ids: [song.id], revisions: { [song.id]: 1 } }]);
    // Two new songs get two seeds.
    const other = await ok(p, 'songs.create', { item: { name: 'Minimal 2' } });
    expect(other.determinismSeed).to.not.equal(song.determinismSeed);
  });

  it('songs.save and songs.saveMany fill the same defaults; a name is still required', async () => {
    const p = await procs.launch();
    const saved = await ok(p, 'songs.save', { item: { id: 'S', name: 'Saved', metadata: { tempo: 90 } } });
    expect(saved.metadata).to.deep.equal({ tempo: 90, timeSignature: [4, 4], tags: [] });
    const { items } = await ok(p, 'songs.saveMany', { items: [{ name: 'A' }, { name: 'B', metadata: { timeSignature: [6, 8] } }] });
    expect(items.map((s: any) => s.metadata)).to.deep.equal([
      { tempo: 120, timeSignature: [4, 4], tags: [] },
      { tempo: 120, timeSignature: [6, 8], tags: [] },
    ]);
    await invalid(p, 'songs.create', { item: { metadata: { tempo: 100 } } }, '/item/name');
    await invalid(p, 'songs.saveMany', { items: [{ name: 'ok' }, {}] }, '/items/1/name');
  });

  it('a save over a stored song replaces it whole, but keeps its seed and play state when left out', async () => {
    const p = await procs.launch();
    const first = await ok(p, 'songs.create', { item: { id: 'K', name: 'Keep', determinismSeed: 'mine', metadata: { tempo: 140, key: 'D minor' } } });
    await ok(p, 'songs.setFavorite', { id: 'K', isFavorite: true });
    const saved = await ok(p, 'songs.save', { item: { id: 'K', name: 'Keep 2' } });
    expect(saved.determinismSeed).to.equal('mine');
    expect(saved.isFavorite).to.equal(true);
    // A save is a replace: what it leaves out takes its default, an optional field goes.
    expect(saved.metadata).to.deep.equal({ tempo: 120, timeSignature: [4, 4], tags: [] });
    expect(saved.createdAt).to.equal(first.createdAt);
  });

  it('every family: create with the required fields only answers every default the schema states', async () => {
    const p = await procs.launch();
    const song = await ok(p, 'songs.create', { item: { name: 'S' } });
    const perf = await ok(p, 'performances.create', { item: { songId: song.id, name: 'P', arrangementStyle: 'SOLO_PIANO' } });
    expect(perf).to.include({ version: '1.0', density: 1, grooveProfileId: 'default', consoleXProfileId: 'default', isFavorite: false, playCount: 0 });
    expect(perf.instrumentationMap).to.deep.equal({});
    expect(perf.mixTargets).to.deep.equal({});
    const inst = await ok(p, 'instruments.create', { item: { name: 'I', type: 'synth' } });
    expect(inst).to.include({ isBuiltin: true, isAvailable: true });
    expect(inst.tags).to.deep.equal([]);
    const voice = await ok(p, 'voices.create', { item: { instrumentId: inst.id, name: 'V', number: 1 } });
    expect(voice).to.include({ keyRangeLow: 0, keyRangeHigh: 127, velocityRangeLow: 0, velocityRangeHigh: 127 });
    const preset = await ok(p, 'presets.create', { item: { instrumentId: inst.id, name: 'Pr' } });
    expect(preset).to.include({ isBuiltin: false, isReadonly: false });
    expect(preset.parameters).to.deep.equal({});
    expect(preset.tags).to.deep.equal([]);
    // Each answer holds exactly the defaults rpc-schema states for the fields left out.
    const records: [string, Record<string, any>, string[]][] = [
      ['SongFields', song, ['name']],
      ['PerformanceFields', perf, ['songId', 'name', 'arrangementStyle']],
      ['InstrumentFields', inst, ['name', 'type']],
      ['VoiceFields', voice, ['instrumentId', 'name', 'number']],
      ['PresetFields', preset, ['instrumentId', 'name']],
    ];
    for (const [def, record, sent] of records) {
      for (const [field, schema] of Object.entries(DEFINITIONS[def]!.properties as Record<string, any>)) {
        if (sent.includes(field) || schema.default === undefined) continue;
        expect(record[field], `${def}.${field}`).to.deep.equal(schema.default);
      }
    }
    for (const [field, schema] of Object.entries(DEFINITIONS.SongMetadata!.properties as Record<string, any>)) {
      if (schema.default !== undefined) expect(song.metadata[field], `SongMetadata.${field}`).to.deep.equal(schema.default);
    }
  });
});

describe('defaults: import.songs writes records as save does', function () {
  this.timeout(60000);

  it('a hand-written file of songs with an id and a name imports whole songs; an export of them reads back equal', async () => {
    const p = await procs.launch();
    const file = {
      format: 'whiteroom-songs-export',
      formatVersion: 1,
      songs: [{ id: 'H1', name: 'Hand made' }, { id: 'H2', name: 'Hand made 2', metadata: { tempo: 72 } }],
      performances: [{ id: 'HP', songId: 'H1', name: 'Take', arrangementStyle: 'SOLO_PIANO' }],
    };
    writeFileSync(join(p.dataDir, 'exports', 'hand.json'), JSON.stringify(file));
    const result = await ok(p, 'import.songs', { path: 'hand.json', onConflict: 'skip' });
    expect(result).to.include({ songs: 2, performances: 1 });
    const h1 = await ok(p, 'songs.get', { id: 'H1' });
    const h2 = await ok(p, 'songs.get', { id: 'H2' });
    expect(h1.metadata).to.deep.equal({ tempo: 120, timeSignature: [4, 4], tags: [] });
    expect(h2.metadata).to.deep.equal({ tempo: 72, timeSignature: [4, 4], tags: [] });
    expect(h1.determinismSeed).to.match(/^\d+$/);
    expect(h1.mixGraph).to.deep.equal({ tracks: [] });
    expect((await ok(p, 'performances.get', { id: 'HP' })).mixTargets).to.deep.equal({});
    // Imported again (replace): the stored seed is kept, as a save keeps it.
    const again = await ok(p, 'import.songs', { path: 'hand.json', onConflict: 'replace' });
    expect(again).to.include({ replaced: 2 });
    expect((await ok(p, 'songs.get', { id: 'H1' })).determinismSeed).to.equal(h1.determinismSeed);
  });
});

describe('X.update writes only the fields its item carries', function () {
  this.timeout(60000);

  it('songs.update {id, name} renames and keeps everything else, never writing a default over it', async () => {
    const p = await procs.launch();
    const full = makeSong({ id: 'U' });
    full.metadata.tempo = 97;
    full.metadata.timeSignature = [7, 8];
    const stored = await ok(p, 'songs.create', { item: full });
    const { response, changes } = await tracked(p, 'songs.update', { item: { id: 'U', name: 'Renamed' }, ifRevision: stored.revision });
    const renamed = response.result as Record<string, any>;
    expect(renamed.name).to.equal('Renamed');
    expect(renamed.revision).to.equal(stored.revision + 1);
    const { name: _n, revision: _r, updatedAt: _u, ...rest } = renamed;
    const { name: _n2, revision: _r2, updatedAt: _u2, ...before } = stored;
    expect(rest).to.deep.equal(before);
    expect(changes).to.deep.equal([{ entity: 'songs', op: 'update', ids: ['U'], revisions: { U: renamed.revision } }]);
  });

  it('a metadata field alone changes that field; a part sent replaces the part whole', async () => {
    const p = await procs.launch();
    const stored = await ok(p, 'songs.create', { item: makeSong({ id: 'M' }) });
    const after = await ok(p, 'songs.update', { item: { id: 'M', metadata: { tempo: 96 }, sections: [{ id: 'only' }] } });
    expect(after.metadata).to.deep.equal({ ...stored.metadata, tempo: 96 });
    expect(after.sections).to.deep.equal([{ id: 'only' }]);
    expect(after.roles).to.deep.equal(stored.roles);
    expect(after.determinismSeed).to.equal(stored.determinismSeed);
  });

  it('performances, instruments, voices and presets update partially too; rules see the merged record', async () => {
    const p = await procs.launch();
    const song = await ok(p, 'songs.create', { item: { name: 'S' } });
    const perf = await ok(p, 'performances.create', { item: { songId: song.id, name: 'P', arrangementStyle: 'SATB', density: 0.5, mixTargets: { lufs: -14 } } });
    const perf2 = await ok(p, 'performances.update', { item: { id: perf.id, name: 'P2' } });
    expect(perf2).to.include({ name: 'P2', arrangementStyle: 'SATB', density: 0.5, songId: song.id });
    expect(perf2.mixTargets).to.deep.equal({ lufs: -14 });
    const inst = await ok(p, 'instruments.create', { item: { name: 'I', type: 'synth', isBuiltin: false, tags: ['x'] } });
    const inst2 = await ok(p, 'instruments.update', { item: { id: inst.id, category: 'Local' } });
    expect(inst2).to.include({ name: 'I', type: 'synth', isBuiltin: false, category: 'Local' });
    expect(inst2.tags).to.deep.equal(['x']);
    const voice = await ok(p, 'voices.create', { item: { instrumentId: inst.id, name: 'V', number: 2, keyRangeLow: 40, keyRangeHigh: 80 } });
    // keyRangeHigh alone, below the stored low: the range rule checks the record as it would be.
    await invalid(p, 'voices.update', { item: { id: voice.id, keyRangeHigh: 30 } }, '/item/keyRangeLow');
    const voice2 = await ok(p, 'voices.update', { item: { id: voice.id, keyRangeHigh: 60 } });
    expect(voice2).to.include({ keyRangeLow: 40, keyRangeHigh: 60, number: 2, name: 'V' });
    const preset = await ok(p, 'presets.create', { item: { instrumentId: inst.id, name: 'Pr', parameters: { cutoff: 0.3 }, rating: 4 } });
    const preset2 = await ok(p, 'presets.update', { item: { id: preset.id, rating: 5 } });
    expect(preset2.parameters).to.deep.equal({ cutoff: 0.3 });
    expect(preset2.rating).to.equal(5);
  });

  it('an update of a missing id is -32001, with a stale ifRevision -32002, and nothing is written', async () => {
    const p = await procs.launch();
    await fails(p, 'songs.update', { item: { id: 'nope', name: 'x' } }, -32001);
    const s = await ok(p, 'songs.create', { item: { id: 'R', name: 'R' } });
    const e = await fails(p, 'songs.update', { item: { id: 'R', name: 'y' }, ifRevision: s.revision + 1 }, -32002);
    expect(e.data).to.deep.equal({ entity: 'songs', id: 'R', expected: s.revision + 1, actual: s.revision });
    expect(await ok(p, 'songs.get', { id: 'R' })).to.deep.equal(s);
  });
});

describe('a summary is not a record to save back', function () {
  this.timeout(60000);

  it('songs.save of a summary (it carries revision, not the parts) is -32602 at each part; update of it keeps the parts', async () => {
    const p = await procs.launch();
    const full = await ok(p, 'songs.create', { item: makeSong({ id: 'Sum' }) });
    const [summary] = (await ok(p, 'songs.list', { view: 'summary' })).items;
    const errors = await invalid(p, 'songs.save', { item: { ...summary, name: 'Renamed' } }, '/item/sections');
    expect(errors.map((e) => e.path).sort()).to.deep.equal(['/item/mixGraph', '/item/projections', '/item/roles', '/item/sections']);
    await invalid(p, 'songs.saveMany', { items: [{ name: 'new' }, { ...summary, name: 'Renamed' }] }, '/items/1/roles');
    expect(await ok(p, 'songs.get', { id: 'Sum' })).to.deep.equal(full);
    expect(await ok(p, 'songs.count', {})).to.deep.equal({ count: 1 });
    // The partial update is the way to change a record read as a summary: the parts stay.
    const renamed = await ok(p, 'songs.update', { item: { ...summary, name: 'Renamed' } });
    expect(renamed.sections).to.deep.equal(full.sections);
    expect(renamed.mixGraph).to.deep.equal(full.mixGraph);
    // A record the host builds (no revision) takes the defaults, as a create does.
    expect((await ok(p, 'songs.save', { item: { id: 'Sum', name: 'Rebuilt' } })).sections).to.deep.equal([]);
  });

  it('performances and presets are guarded the same way', async () => {
    const p = await procs.launch();
    const song = await ok(p, 'songs.create', { item: { name: 'S' } });
    await ok(p, 'performances.create', { item: { songId: song.id, name: 'P', arrangementStyle: 'SATB', mixTargets: { lufs: -14 } } });
    const [perf] = (await ok(p, 'performances.list', { view: 'summary' })).items;
    await invalid(p, 'performances.save', { item: perf }, '/item/mixTargets');
    const inst = await ok(p, 'instruments.create', { item: { name: 'I', type: 'synth' } });
    await ok(p, 'presets.create', { item: { instrumentId: inst.id, name: 'Pr', parameters: { cutoff: 1 } } });
    const [preset] = (await ok(p, 'presets.list', { view: 'summary' })).items;
    await invalid(p, 'presets.save', { item: preset }, '/item/parameters');
  });
});
