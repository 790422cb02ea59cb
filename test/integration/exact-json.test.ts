/**
 * Structured parts pass through (issue 14, item 1): every number in a song's sections comes back
 * exactly as it was sent (integers past 2^53 and 2^64, exponents, -0, 1e400, 1.0), through a
 * save and a read, an autosave, a version, an export and import, and a backup and restore.
 * Compared as texts: a JSON.parse of the answer would itself change what is checked.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { parse, stringify } from 'lossless-json';
import { Procs, ok } from '../helpers/rpc.js';
import type { StoreProcess } from '../helpers/process.js';

const procs = new Procs();
after(() => procs.cleanupAll());

/** A JSON value as text, its numbers written every way JSON allows, white space between tokens. */
const valueText: fc.Arbitrary<string> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom('0', '-0', '1e400', '-1E-400', '1.0', '1e+2', '18446744073709551617', '9223372036854775807', '0.1000', '-12.5e-3', '123456789012345678901234567890'),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.string({ maxLength: 8 }).map((x) => JSON.stringify(x)),
    fc.constantFrom('true', 'false', 'null'),
    fc.array(tie('v') as fc.Arbitrary<string>, { maxLength: 5 }).map((xs) => `[ ${xs.join(' , ')} ]`),
    fc.dictionary(fc.string({ maxLength: 5 }), tie('v') as fc.Arbitrary<string>, { maxKeys: 5 }).map(
      (o) => `{ ${Object.entries(o).map(([k, x]) => `${JSON.stringify(k)} : ${x}`).join(' , ')} }`,
    ),
  ),
})).v;

/** The compact form of a JSON text, every token as written (lossless-json, an independent reading). */
const compact = (text: string): string => stringify(parse(text))!;

const songText = (id: string, sections: string): string =>
  `{"id":${JSON.stringify(id)},"name":"Exact","metadata":{"tempo":120,"timeSignature":[4,4],"tags":[]},"determinismSeed":"1",` +
  `"sections":${sections},"roles":[],"projections":[],"mixGraph":{"tracks":[]}}`;

/** The answer text holds the sections as sent (compact), and once. */
function expectSections(answer: string, sections: string, where: string): void {
  expect(answer, `${where}: ${answer.slice(0, 300)}`).to.include(`"sections":${compact(sections)}`);
}

describe('exact JSON: structured parts come back as they were sent', function () {
  this.timeout(180_000);
  let p: StoreProcess;
  let other: StoreProcess;
  before(async () => {
    p = await procs.launch();
    other = await procs.launch();
  });

  it('the issue\'s song: Int64 sample positions, a 2^64 tick count, 1e400, 1e-400 and -0', async () => {
    const sections = '[{"samplePos": 9223372036854775807, "big": 12345678901234567890, "huge": 1e400, "tiny": 1e-400, "neg0": -0}]';
    const saved = await p.requestText('songs.save', `{"item":${songText('issue-song', sections)}}`);
    expectSections(saved, sections, 'songs.save');
    expectSections(await p.requestText('songs.get', '{"id":"issue-song"}'), sections, 'songs.get');
    expect(await p.requestText('songs.get', '{"id":"issue-song"}')).to.include('"samplePos":9223372036854775807,"big":12345678901234567890,"huge":1e400,"tiny":1e-400,"neg0":-0');
  });

  it('an autosave whose state differs from the song only past 2^53 is written (as values JSON.parse makes, the two are equal); one differing only in key order is not', async () => {
    const id = 'past-2-53';
    const at = (n: string): string => `[{"samplePos":${n},"bars":8}]`;
    await p.requestText('songs.create', `{"item":${songText(id, at('9223372036854775806'))}}`);
    const stage = async (sections: string): Promise<void> => {
      const { revision } = await ok(p, 'songs.get', { id });
      await p.requestText('autosave.stage', `{"songId":"${id}","baseRevision":${revision},"snapshot":{"song":${songText(id, sections)}}}`);
      await ok(p, 'autosave.flush', {});
    };
    await stage(at('9223372036854775807'));
    expectSections(await p.requestText('songs.get', JSON.stringify({ id })), at('9223372036854775807'), 'the row after the autosave');
    const { revision } = await ok(p, 'songs.get', { id });
    const snapshots = (await ok(p, 'autosave.list', { songId: id })).items.length;
    // The same value, its members in another order: the row already holds it, and so does the newest snapshot.
    await stage('[{"bars":8,"samplePos":9223372036854775807}]');
    expect((await ok(p, 'songs.get', { id })).revision, 'the row is not written again').to.equal(revision);
    expect((await ok(p, 'autosave.list', { songId: id })).items.length, 'no second snapshot of the same state').to.equal(snapshots);
  });

  it('through save, get, list, an autosave, a version, export and import, and a backup (property)', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(valueText, { minLength: 1, maxLength: 4 }), async (values) => {
        const id = `exact-${++n}`;
        const sections = `[${values.map((v) => `{"x": ${v}}`).join(', ')}]`;
        expectSections(await p.requestText('songs.create', `{"item":${songText(id, sections)}}`), sections, 'create');
        expectSections(await p.requestText('songs.get', JSON.stringify({ id })), sections, 'get');
        expectSections(await p.requestText('songs.list', '{"limit":1000}'), sections, 'list');
        // An autosave of another state, then of this one again: the snapshot and the row hold it.
        const revision = (await ok(p, 'songs.get', { id })).revision;
        const staged = `[${values.map((v) => `{"y": ${v}}`).join(',')}]`;
        await p.requestText('autosave.stage', `{"songId":${JSON.stringify(id)},"baseRevision":${revision},"snapshot":{"song":${songText(id, staged)}}}`);
        await ok(p, 'autosave.flush', {});
        expectSections(await p.requestText('songs.get', JSON.stringify({ id })), staged, 'row after the autosave');
        const [snap] = (await ok(p, 'autosave.list', { songId: id })).items;
        expectSections(await p.requestText('autosave.get', JSON.stringify({ id: snap.id })), staged, 'autosave.get');
        // The first version holds the state as created.
        const first = (await ok(p, 'songs.history', { id })).items.at(-1);
        expectSections(await p.requestText('songs.getVersion', JSON.stringify({ versionId: first.versionId })), sections, 'getVersion');
        // Export with history, import into another library.
        const file = await ok(p, 'export.songs', { ids: [id], includeHistory: true });
        await ok(other, 'import.songs', { path: file.path, onConflict: 'replace' });
        expectSections(await other.requestText('songs.get', JSON.stringify({ id })), staged, 'imported');
        expectSections(await other.requestText('songs.getVersion', JSON.stringify({ versionId: first.versionId })), sections, 'imported version');
      }),
      { numRuns: 25 },
    );
    // A backup and its restore keep every one of them.
    const before = await p.requestText('songs.list', '{"limit":1000,"orderBy":"createdAt"}');
    const backup = await ok(p, 'backup.create', {});
    await ok(p, 'backup.restore', { path: backup.path });
    const result = (answer: string): string => answer.slice(answer.indexOf('"result"'));
    expect(result(await p.requestText('songs.list', '{"limit":1000,"orderBy":"createdAt"}'))).to.equal(result(before));
  });

  it('a number a typed field cannot hold is refused at validation, with a pointer, never changed', async () => {
    const answer = JSON.parse(await p.requestText('songs.save', `{"item":${songText('typed', '[]').replace('"tempo":120', '"tempo":1e400')}}`));
    expect(answer.error.code).to.equal(-32602);
    expect(answer.error.data.errors.map((e: { path: string }) => e.path)).to.include('/item/metadata/tempo');
  });
});
