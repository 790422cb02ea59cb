/**
 * Schema-driven fuzzing of every method (test/helpers/fuzz.ts): requests derived from
 * rpc-schema/, valid and mutated, through the real process. The contract's properties hold for
 * every answer: no death, no hang, no InternalError, only declared error codes with the data the
 * table promises, results that pass their schema, and nothing changed by a rejected request.
 *
 * FUZZ_SEED=N reruns a seed; `npm run fuzz -- --messages 1000000 --seed N` is the long mode.
 */
import { expect } from 'chai';
import { RpcError } from '../../src/errors.js';
import { performances } from '../../src/store/entities.js';
import { Repository } from '../../src/store/repository.js';
import { allowedErrorCodes, contractProblems, METHOD_SPECS } from '../helpers/contract.js';
import { makeSong } from '../helpers/fixtures.js';
import { saveItem } from '../helpers/items.js';
import { fuzz, type FuzzFailure, type FuzzStats } from '../helpers/fuzz.js';
import { ok, Procs } from '../helpers/rpc.js';
import { openTempStore } from '../helpers/unit-store.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
/** Methods that take a file path: fuzzed on their own, with hostile paths. */
const FILE_METHODS = Object.keys(METHOD_SPECS).filter((m) => 'path' in (METHOD_SPECS[m].params.properties ?? {}));

/** One line for the log, and the failures in full when there are any. */
function report(what: string, stats: FuzzStats, failures: FuzzFailure[]): string {
  const line =
    `${what}: seed ${stats.seed}, ${stats.messages} messages (${stats.valid} valid, ${stats.mutated} mutated, ${stats.raw} raw, ` +
    `${stats.batches} batches, ${stats.cancels} cancels) in ${(stats.elapsedMs / 1000).toFixed(1)} s, ${stats.restarts} restarts ` +
    `(ndjson ${stats.framings.ndjson}, header ${stats.framings.header}), ${stats.results} results, errors ${JSON.stringify(stats.errors)}, ` +
    `${stats.hashChecks} hash checks (${stats.hashSkipped} skipped), slowest answer ${stats.slowestMs} ms`;
  return failures.length ? `${line}\n${failures.map((f) => JSON.stringify(f)).join('\n')}\nrerun: FUZZ_SEED=${stats.seed}` : line;
}

describe('contract: the error checks can fail', function () {
  it('accepts a declared code with the data the table promises', () => {
    expect(contractProblems('songs.get', { code: -32001, message: 'Not found', data: { entity: 'songs', id: 'a' } })).to.deep.equal([]);
    expect(contractProblems('songs.get', { code: -32602, message: 'x', data: { errors: [{ path: '/id', message: 'is required' }] } })).to.deep.equal([]);
    expect(contractProblems('export.songs', { code: -32022, message: 'x', data: { path: '../data.db', reason: 'outside' } })).to.deep.equal([]);
    expect(contractProblems('songs.get', { code: -32030, message: 'Shutting down' })).to.deep.equal([]);
  });

  it('refuses InternalError, a code the method does not declare, and one outside the table', () => {
    expect(contractProblems('songs.get', { code: -32603, message: 'Internal error' })).to.have.length(1);
    expect(contractProblems('system.ping', { code: -32001, message: 'Not found', data: { entity: 'x', id: 'y' } })[0]).to.match(/not declared/);
    expect(contractProblems('songs.get', { code: -32099, message: 'what' })[0]).to.match(/not in rpc-schema\/errors.json/);
  });

  it('refuses data that lacks what a host acts on: -32004 with null fields, -32602 without pointers, -32022 without a reason', () => {
    expect(contractProblems('performances.save', { code: -32004, message: 'x', data: { entity: null, field: null, value: null } })).to.have.length(1);
    expect(contractProblems('performances.save', { code: -32004, message: 'x', data: { entity: 'performances', field: 'songId', value: 'a' } })).to.deep.equal([]);
    // data is also held to its schema in rpc-schema/errors.json (the typed client's error types)
    expect(contractProblems('songs.get', { code: -32001, message: 'x', data: { entity: 'songs', id: 7 } })[0]).to.match(/\{entity, id\}/);
    expect(contractProblems('songs.update', { code: -32002, message: 'x', data: { entity: 'songs', id: 'a', expected: 1, actual: 2 } })).to.deep.equal([]);
    expect(contractProblems('songs.save', { code: -32011, message: 'x', data: { reason: 'locked' } })[0]).to.match(/dataSchemas\["-32011"\]/);
    expect(contractProblems('songs.get', { code: -32602, message: 'x', data: { errors: [{ path: 'id', message: 'bad' }] } })).to.have.length(1);
    expect(contractProblems('songs.get', { code: -32602, message: 'x' })).to.have.length(1);
    expect(contractProblems('import.songs', { code: -32022, message: 'x', data: { path: '/dev/zero' } })).to.have.length(1);
    expect(contractProblems('songs.get', { code: -32001, message: '' , data: { entity: 'songs', id: 'a' } })).to.have.length(1);
  });

  it('every method declares the storage errors it can meet, and every path method FileRefused', () => {
    const reads = /\.(get|list|count|search|recoverable|stats)$/;
    const writes = /\.(create|update|save|delete|saveMany|deleteMany|setFavorite|markPlayed|touch|clear|reset|stage|flush|restore|configure)$/;
    for (const [name, spec] of Object.entries(METHOD_SPECS)) {
      const codes = allowedErrorCodes(name);
      if (name.startsWith('backup.') && !/create|restore/.test(name)) continue; // files, not the database
      if (writes.test(name)) for (const c of [-32010, -32011, -32012]) expect(codes.has(c), `${name} declares ${c}`).to.equal(true);
      if (reads.test(name)) expect(codes.has(-32012), `${name} declares -32012`).to.equal(true);
      if ('path' in (spec.params.properties ?? {})) expect(codes.has(-32022), `${name} declares -32022`).to.equal(true);
    }
    expect(FILE_METHODS).to.have.members(['backup.delete', 'backup.restore', 'backup.verify', 'export.full', 'export.songs', 'import.full', 'import.songs']);
  });
});

describe('fuzz: every method, from its schema, through the real process', function () {
  it(`keeps the contract over 20,000 messages to every method but the file methods (seed ${SEED})`, async function () {
    this.timeout(240000);
    const methods = Object.keys(METHOD_SPECS).filter((m) => !FILE_METHODS.includes(m));
    const { stats, failures } = await fuzz({ seed: SEED, messages: 20000, methods });
    const text = report('fuzz', stats, failures);
    console.log(`      ${text.split('\n')[0]}`);
    expect(failures, text).to.deep.equal([]);
    expect(stats.messages).to.be.at.least(20000);
    expect(stats.restarts, 'system.shutdown and a framing change restart the process').to.be.at.least(1);
    expect(stats.framings.ndjson).to.be.at.least(1);
    expect(stats.framings.header).to.be.at.least(1);
    expect(stats.hashChecks, 'rejected requests were hashed around').to.be.at.least(100);
    expect(stats.results, 'valid requests succeed often').to.be.at.least(3000);
  });

  it(`keeps the contract with hostile paths to the file methods (seed ${SEED})`, async function () {
    this.timeout(240000);
    // Records to export and back up, and the file methods with ../data.db, devices, a FIFO,
    // symlinks, a NUL byte and a 300-byte name among their paths.
    const methods = [...FILE_METHODS, 'songs.save', 'performances.save', 'backup.create', 'backup.list', 'songs.list'];
    const { stats, failures } = await fuzz({ seed: SEED, messages: 2500, methods, hostilePaths: true, maxWindow: 8 });
    const text = report('fuzz (hostile paths)', stats, failures);
    console.log(`      ${text.split('\n')[0]}`);
    expect(failures, text).to.deep.equal([]);
  });
});

describe('fuzz: what it found', function () {
  const procs = new Procs();
  afterEach(() => procs.cleanupAll());

  it('markPlayed at the largest play count keeps it there, and the answer passes its schema', async () => {
    const p = await procs.launch();
    const max = Number.MAX_SAFE_INTEGER;
    await ok(p, 'songs.save', { item: makeSong({ id: 's', playCount: max }) });
    expect((await ok(p, 'songs.markPlayed', { id: 's' })).playCount).to.equal(max);
    expect((await ok(p, 'songs.get', { id: 's' })).playCount).to.equal(max);
    await ok(p, 'performances.save', {
      item: { id: 'p', songId: 's', name: 'P', arrangementStyle: 'solo', instrumentationMap: {}, mixTargets: {}, playCount: max - 1 },
    });
    expect((await ok(p, 'performances.markPlayed', { id: 'p' })).playCount).to.equal(max);
    expect((await ok(p, 'performances.markPlayed', { id: 'p' })).playCount).to.equal(max);
  });

  it('a recent entry of a 256-character id answers an id that passes its schema', async () => {
    const p = await procs.launch();
    const itemId = '\u00e9'.repeat(256);
    await saveItem(p, 'performance', itemId, 'long');
    const touched = await ok(p, 'recent.touch', { itemType: 'performance', itemId, itemName: 'long' });
    expect(touched.id).to.equal(`performance:${itemId}`);
    expect((await ok(p, 'recent.list', {})).items.map((i: any) => i.id)).to.deep.equal([`performance:${itemId}`]);
  });

  it('a foreign-key failure no descriptor foresaw still names the entity, field and value (-32004, no nulls)', async () => {
    const t = await openTempStore();
    try {
      // The descriptor without its parents: the check before the write is skipped, SQLite refuses.
      const repo = new Repository(t.store, { ...performances, parents: {} });
      const item = { id: 'p', songId: 'no-such-song', name: 'P', arrangementStyle: 'solo', instrumentationMap: {}, mixTargets: {} };
      for (const write of [() => repo.create(item), () => repo.save(item)]) {
        let err: unknown;
        try {
          write();
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(RpcError);
        expect((err as RpcError).code).to.equal(-32004);
        expect((err as RpcError).data).to.deep.equal({ entity: 'performances', field: 'songId', value: 'no-such-song' });
      }
      expect(repo.count()).to.equal(0);
    } finally {
      t.cleanup();
    }
  });
});
