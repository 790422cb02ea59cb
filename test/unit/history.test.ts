/**
 * The part store and version thinning, on a real migrated store with a fake clock: what cannot
 * be reached through the process in a test's time (hours and days passing).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { stringify, parse } from 'lossless-json';
import { Repository } from '../../src/store/repository.js';
import { songs } from '../../src/store/entities.js';
import { hasLooseSpace, NODE_MIN_CHARS, splitJson } from '../../src/store/parts.js';
import type { History } from '../../src/store/history.js';
import type { StoredSong } from '../../src/generated/types.js';
import { historyOf, openTempStore, type TempStore } from '../helpers/unit-store.js';
import { makeSong } from '../helpers/fixtures.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);

describe('part store', () => {
  let ts: TempStore;
  let h: History;
  beforeEach(async () => {
    ts = await openTempStore(T0);
    h = historyOf(ts.store);
  });
  afterEach(() => ts.cleanup());

  /** Stores `text` held by a version-like holder so it survives the commit's collection. */
  const keep = (text: string): string =>
    ts.store.write(() => {
      const root = h.parts.put(text);
      ts.store.db
        .prepare(
          `INSERT INTO versions (id, entity, entity_id, revision, created_at, source, pinned, device_id, size_bytes, manifest_json)
           VALUES (?, 'songs', 'x', 1, 0, 'save', 0, 'd', 0, ?)`,
        )
        .run(`v-${Math.random()}`, JSON.stringify({ p: root }));
      return root;
    });

  it('gives back any JSON text as its compact form, every number as it was written (property)', () => {
    const number = fc.oneof(
      fc.constantFrom('0', '-0', '1e400', '-1e-400', '1.0', '1E+2', '12345678901234567890123', '9223372036854775807', '0.1000'),
      fc.integer().map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    );
    const value: fc.Arbitrary<string> = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        number,
        fc.string().map((x) => JSON.stringify(x)),
        fc.constantFrom('true', 'false', 'null'),
        fc.array(tie('v') as fc.Arbitrary<string>, { maxLength: 40 }).map((xs) => `[ ${xs.join(' , ')} ]`),
        fc.dictionary(fc.string({ maxLength: 6 }), tie('v') as fc.Arbitrary<string>, { maxKeys: 20 }).map(
          (o) => `{${Object.entries(o).map(([k, x]) => `${JSON.stringify(k)}: ${x}`).join(',')}}`,
        ),
      ),
    })).v;
    fc.assert(
      fc.property(value, (text) => {
        const root = keep(text);
        expect(h.parts.text(root)).to.equal(stringify(parse(text)));
      }),
      { numRuns: 150 },
    );
  });

  it('splits large values into nodes, stores each once, and shares them between texts', () => {
    const section = (i: number, edit = 0): unknown => ({ id: `s${i}`, notes: Array.from({ length: 80 }, (_, j) => ({ t: j, p: (i * 7 + j) % 88, e: edit })) });
    const song = (edited: number): string => JSON.stringify({ sections: Array.from({ length: 30 }, (_, i) => section(i, i === edited ? 1 : 0)) });
    const nodes: string[] = [];
    splitJson(song(-1), (n) => nodes.push(n.hash));
    expect(nodes.length).to.be.greaterThan(30);
    keep(song(-1));
    const before = h.parts.stats();
    keep(song(3));
    const after = h.parts.stats();
    // One section changed: its node, the run holding it and the root are new; the rest is shared.
    expect(after.nodes - before.nodes).to.be.at.most(4);
    expect(after.textBytes - before.textBytes).to.be.lessThan(song(3).length / 5);
    expect(NODE_MIN_CHARS).to.equal(1024);
  });

  it('removes at the commit the nodes no holder refers to, and the nodes only they referred to', () => {
    const big = JSON.stringify({ a: 'x'.repeat(5000), b: ['y'.repeat(3000)] });
    ts.store.write(() => h.parts.put(big));
    expect(h.parts.stats().nodes).to.equal(0);
    keep(big);
    expect(h.parts.stats().nodes).to.be.greaterThan(1);
    ts.store.write(() => ts.store.db.prepare('DELETE FROM versions').run());
    expect(h.parts.stats()).to.deep.equal({ nodes: 0, storedBytes: 0, textBytes: 0 });
  });

  it('recount() sets every reference count from the nodes and holders (a restored file is not trusted)', () => {
    keep(JSON.stringify({ a: 'x'.repeat(5000), b: 'z'.repeat(5000) }));
    const counts = (): unknown => ts.store.db.prepare('SELECT hash, refs FROM parts ORDER BY hash').all();
    const right = counts();
    ts.store.db.prepare('UPDATE parts SET refs = refs + 7').run();
    expect(ts.store.write(() => h.parts.recount())).to.be.greaterThan(0);
    expect(counts()).to.deep.equal(right);
  });

  it('hasLooseSpace: white space outside strings (what no node the store writes holds), not inside them', () => {
    for (const t of ['{}', '"a b"', '{"a b":"c\\\\"}', '["\\\" x",1]', '[\u0001' + 'a'.repeat(64) + ',"\\n \\r"]']) {
      expect(hasLooseSpace(t), t).to.equal(false);
    }
    for (const t of ['[1,\n2]', '[1]\r\n', '{"a": 1}', '["a\\\\" ,1]', '"unterminated ', '\t"x"']) {
      expect(hasLooseSpace(t), JSON.stringify(t)).to.equal(true);
    }
    const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.string({ unit: 'binary' }), fc.integer(), fc.array(tie('v'), { maxLength: 60 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 10 })),
    })).v;
    fc.assert(
      fc.property(value, fc.string({ unit: 'binary', minLength: 1100, maxLength: 1200 }), (v, filler) => {
        splitJson(JSON.stringify([v, filler, v, [filler, ' ', v]]), (n) => expect(hasLooseSpace(n.text), n.text).to.equal(false));
      }),
      { numRuns: 100 },
    );
  });

  it('recount() of a node that does not inflate is StorageCorrupt and changes no count', () => {
    keep(JSON.stringify({ a: 'x'.repeat(5000), b: ['ab'.repeat(3000)] }));
    const counts = (): unknown => ts.store.db.prepare('SELECT hash, refs FROM parts ORDER BY hash').all();
    ts.store.db.prepare("UPDATE parts SET body = x'00ff00ff' WHERE deflated = 1").run();
    const before = counts();
    let err: any;
    try {
      ts.store.write(() => h.parts.recount());
    } catch (e) {
      err = e;
    }
    expect(err?.code).to.equal(-32012);
    expect(counts()).to.deep.equal(before);
  });
});

describe('version thinning (Time Machine rule)', function () {
  this.timeout(120_000); // thousands of saves: slow on a loaded machine
  let ts: TempStore;
  let h: History;
  let repo: Repository<StoredSong>;
  beforeEach(async () => {
    ts = await openTempStore(T0);
    h = historyOf(ts.store);
    repo = new Repository<StoredSong>(ts.store, songs, h.hooks);
  });
  afterEach(() => ts.cleanup());

  const versions = (id: string): { at: number; pinned: boolean }[] =>
    h.list('songs', id, 100_000).map((v) => ({ at: v.createdAt - T0, pinned: v.pinned }));

  it('keeps every version of the last 24 hours, the newest of each hour for 30 days, then the newest of each day', () => {
    const song = makeSong();
    // A save every 30 minutes for 40 days (1,921 saves, each thinning as it commits).
    const step = 30 * 60_000;
    const total = 40 * DAY;
    for (let t = 0; t <= total; t += step) {
      ts.clock.set(T0 + t);
      repo.save({ ...song, name: `at ${t}` });
    }
    const now = total;
    const kept = versions(song.id).map((v) => v.at);
    const recent = kept.filter((at) => at > now - DAY);
    expect(recent.length).to.equal(DAY / step); // every save of the last 24 hours (not the one at exactly 24 h)
    const hourly = kept.filter((at) => at <= now - DAY && at >= now - 30 * DAY);
    const hours = new Set(hourly.map((at) => Math.floor(at / HOUR)));
    expect(hours.size).to.equal(hourly.length); // at most one per hour
    expect(hourly.length).to.be.within(29 * 24, 29 * 24 + 2);
    const daily = kept.filter((at) => at < now - 30 * DAY);
    expect(new Set(daily.map((at) => Math.floor(at / DAY))).size).to.equal(daily.length); // at most one per day
    expect(daily.length).to.be.within(9, 11);
    // The newest of each hour is the one kept (the hour the 24-hour line crosses now is still being thinned).
    const straddling = Math.floor((now - DAY) / HOUR);
    for (const at of hourly) if (Math.floor(at / HOUR) !== straddling) expect((at + step) % HOUR, `kept at ${at}`).to.equal(0);
  });

  it('never thins a pinned version nor the newest; unpinning lets it go', () => {
    const song = makeSong();
    ts.clock.set(T0);
    repo.save({ ...song, name: 'first' });
    const pinned = ts.store.write(() => h.recordCurrent(songs, song.id, { label: 'Keep me', pinned: true }))!;
    ts.clock.set(T0 + 5 * 60_000);
    repo.save({ ...song, name: 'second' });
    ts.clock.set(T0 + 90 * DAY);
    repo.save({ ...song, name: 'much later' });
    ts.clock.set(T0 + 90 * DAY + 1);
    repo.save({ ...song, name: 'and again' });
    const ids = h.list('songs', song.id, 100).map((v) => v.versionId);
    expect(ids).to.include(pinned.versionId);
    expect(h.list('songs', song.id, 100)).to.have.length(4); // first and second share a day: one of them goes
    ts.store.write(() => h.label(pinned.versionId, undefined, false));
    expect(h.list('songs', song.id, 100).map((v) => v.versionId)).to.not.include(pinned.versionId);
  });

  it('follows history.configure: a shorter keepAllHours thins at the next write', () => {
    const song = makeSong();
    for (let m = 0; m < 120; m += 5) {
      ts.clock.set(T0 + m * 60_000);
      repo.save({ ...song, name: `m${m}` });
    }
    expect(h.list('songs', song.id, 1000)).to.have.length(24);
    ts.store.write(() => {
      h.retention = { keepAllHours: 1, hourlyDays: 30 };
    });
    repo.save({ ...song, name: 'now' });
    // The last hour whole, then one per hour before it.
    expect(h.list('songs', song.id, 1000).length).to.be.within(13, 15);
  });
});

describe('history: a write that rolls back leaves nothing remembered', () => {
  let ts: TempStore;
  let h: History;
  let repo: Repository<StoredSong>;
  beforeEach(async () => {
    ts = await openTempStore(T0);
    h = historyOf(ts.store);
    repo = new Repository<StoredSong>(ts.store, songs, h.hooks);
  });
  afterEach(() => ts.cleanup());

  const storedDevice = (): unknown => ts.store.db.prepare("SELECT value FROM metadata WHERE key = 'device_id'").pluck().get();

  it('the device id versions carry is the one the file keeps, even when the first write that made it rolled back', () => {
    // A new file has no device id until its first version is recorded; that first write fails.
    expect(() =>
      ts.store.write(() => {
        repo.save(makeSong());
        throw new Error('rolled back');
      }),
    ).to.throw('rolled back');
    expect(storedDevice()).to.equal(undefined);
    const song = makeSong();
    repo.save(song);
    repo.save({ ...song, name: 'again' });
    const stored = storedDevice();
    expect(stored).to.be.a('string');
    expect(h.list('songs', song.id, 10).map((v) => v.deviceId)).to.deep.equal([stored, stored]);
  });

  it('the thinning rule is the one the file keeps, even when a write that changed it rolled back after reading it', () => {
    const before = h.retention;
    expect(() =>
      ts.store.write(() => {
        h.retention = { keepAllHours: 2, hourlyDays: 3 };
        expect(h.retention).to.deep.equal({ keepAllHours: 2, hourlyDays: 3 }); // read inside the write, as history.configure answers
        throw new Error('rolled back');
      }),
    ).to.throw('rolled back');
    expect(h.retention).to.deep.equal(before);
  });
});
