/**
 * The patch of songs.diff / performances.diff (src/json-diff.ts): applied in order to `from` it
 * gives `to` exactly, for any JSON; small arrays keep rfc6902's minimal edit distance; big,
 * deep or long arrays are answered in linear time without overflowing the stack.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { applyPatch, createPatch, type Operation } from 'rfc6902';
import { DP_BUDGET, DP_TOTAL_CELLS, diffJson } from '../../src/json-diff.js';

type Json = unknown;
/** As JSON has it (no -0, no undefined). */
const json = (v: Json): Json => JSON.parse(JSON.stringify(v));

/**
 * A member named `__proto__` is an own member in JSON (JSON.parse makes it one), but rfc6902's
 * applyPatch sets it by assignment, which sets the prototype instead. The applier sees it renamed,
 * in the values and in the paths alike, so what is checked is the patch, not that limit.
 */
const PROTO = '\u0000__proto__';
function ownProto(v: Json): Json {
  if (Array.isArray(v)) return v.map(ownProto);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k === '__proto__' ? PROTO : k, ownProto(x)]));
}
const ownProtoPath = (path: string): string => path.split('/').map((t) => (t === '__proto__' ? PROTO : t)).join('/');

/** Applies `patch` to a copy of `from`; every op must apply. */
function applied(from: Json, patch: Operation[]): Json {
  const box = { v: ownProto(from) };
  const ops = patch.map((op) => ({ ...op, path: `/v${ownProtoPath(op.path)}`, ...('value' in op ? { value: ownProto(op.value) } : {}) }) as Operation);
  const results = applyPatch(box, ops);
  expect(results.filter((r) => r !== null).map(String)).to.deep.equal([]);
  return box.v;
}

function roundTrips(from: Json, to: Json, budget?: number): Operation[] {
  const patch = diffJson(from, to, budget);
  expect(applied(from, patch)).to.deep.equal(ownProto(to));
  return patch;
}

const timed = <T>(f: () => T): { value: T; ms: number } => {
  const t = process.hrtime.bigint();
  const value = f();
  return { value, ms: Number(process.hrtime.bigint() - t) / 1e6 };
};

// Values from a small pool, so that arrays share elements (insertions, removals, moves).
const atom = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom('a', 'b', 'c', true, null));
const small: fc.Arbitrary<Json> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, atom, fc.array(tie('v'), { maxLength: 6 }), fc.dictionary(fc.constantFrom('x', 'y', 'z'), tie('v'), { maxKeys: 3 })),
})).v;
/** An array, and the same array edited: elements inserted, removed and changed. */
const arrayAndEdit = (maxLength: number): fc.Arbitrary<[Json[], Json[]]> =>
  fc.array(small, { maxLength }).chain((a) =>
    fc
      .array(fc.tuple(fc.nat({ max: Math.max(a.length, 1) }), fc.constantFrom('insert', 'remove', 'change'), small), { maxLength: 12 })
      .map((edits) => {
        const b = [...a];
        for (const [at, kind, v] of edits) {
          const i = Math.min(at, b.length);
          if (kind === 'insert') b.splice(i, 0, v);
          else if (kind === 'remove') b.splice(i, 1);
          else if (i < b.length) b[i] = v;
        }
        return [a, b] as [Json[], Json[]];
      }),
  );

describe('json-diff: the patch of songs.diff', function () {
  this.timeout(60_000);

  it('applied in order to from, gives to exactly, for any JSON values (default budget and position by position)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        roundTrips(json(a), json(b));
        roundTrips(json(a), json(b), 0);
      }),
      { numRuns: 500 },
    );
  });

  it('a member named __proto__ is a member like any other', () => {
    const from = JSON.parse('{"a":{}}');
    const to = JSON.parse('{"a":{"__proto__":""},"__proto__":{"x":[1]}}');
    const patch = roundTrips(from, to);
    expect(patch).to.deep.include({ op: 'add', path: '/a/__proto__', value: '' });
    expect(roundTrips(to, from).map((op) => [op.op, op.path]).sort()).to.deep.equal([
      ['remove', '/__proto__'],
      ['remove', '/a/__proto__'],
    ]);
  });

  it('applied in order, gives to exactly for edited arrays, small and big, nested in records', () => {
    fc.assert(
      fc.property(arrayAndEdit(40), arrayAndEdit(300), fc.integer({ min: 0, max: 400 }), ([a, b], [c, d], budget) => {
        roundTrips({ sections: a, more: [c] }, { sections: b, more: [d] });
        roundTrips({ sections: a, more: [c] }, { sections: b, more: [d] }, budget);
        roundTrips(c, d, 0);
        roundTrips(a, d);
      }),
      { numRuns: 300 },
    );
  });

  it('small arrays keep rfc6902 minimal edit distance: as many ops as rfc6902 own diff, one insert is one add', () => {
    fc.assert(
      fc.property(fc.array(atom, { maxLength: 10 }), fc.array(atom, { maxLength: 10 }), (a, b) => {
        expect(roundTrips(a, b)).to.have.length(createPatch(a, b).length);
      }),
      { numRuns: 1000 },
    );
    const sections = [1, 2, 3, 4, 5].map((i) => ({ id: `s${i}`, bars: 8 }));
    const inserted = [...sections.slice(0, 2), { id: 'new', bars: 4 }, ...sections.slice(2)];
    expect(diffJson({ sections }, { sections: inserted })).to.deep.equal([{ op: 'add', path: '/sections/2', value: { id: 'new', bars: 4 } }]);
    expect(diffJson({ sections: inserted }, { sections })).to.deep.equal([{ op: 'remove', path: '/sections/2' }]);
    expect(diffJson({ sections }, { sections: [...sections, { id: 'end' }] })).to.deep.equal([{ op: 'add', path: '/sections/-', value: { id: 'end' } }]);
  });

  it('big arrays: the common ends are left alone, so one insert or one change in 5,000 is one op', () => {
    const sections = Array.from({ length: 5000 }, (_, i) => ({ id: `s${i}`, name: `Verse ${i}`, bars: 8 }));
    const renamed = sections.map((s, i) => (i === 2500 ? { ...s, name: 'Bridge' } : s));
    expect(roundTrips({ sections }, { sections: renamed })).to.deep.equal([{ op: 'replace', path: '/sections/2500/name', value: 'Bridge' }]);
    const inserted = [...sections.slice(0, 100), { id: 'new' }, ...sections.slice(100)];
    expect(roundTrips({ sections }, { sections: inserted })).to.deep.equal([{ op: 'add', path: '/sections/100', value: { id: 'new' } }]);
    expect(roundTrips({ sections }, { sections: structuredClone(sections) })).to.deep.equal([]);
  });

  it('1,000 sections all changed: a correct patch in linear time (rfc6902 alone takes minutes and gigabytes)', () => {
    const a = Array.from({ length: 1000 }, (_, i) => ({ i, name: `Verse ${i}` }));
    const b = a.map((x) => ({ i: x.i + 1_000_000, name: x.name }));
    const { value: patch, ms } = timed(() => roundTrips({ sections: a }, { sections: b }));
    expect(patch).to.have.length(1000);
    expect(ms).to.be.below(2000);
    const reversed = timed(() => roundTrips({ sections: a }, { sections: [...a].reverse() }));
    expect(reversed.ms).to.be.below(2000);
  });

  it('long arrays added, removed or all different: no stack overflow', () => {
    const long = Array.from({ length: 100_000 }, (_, i) => i + 1);
    expect(roundTrips([], long)).to.have.length(100_000);
    expect(roundTrips(long, [])).to.have.length(100_000);
    expect(roundTrips(long, long.map((x) => -x))).to.have.length(100_000);
    expect(roundTrips({ s: long }, { s: [0, ...long] })).to.have.length(1);
  });

  it('deep nesting (1,000 levels, the sidecar limit): one op, quickly, where rfc6902 alone takes 2^depth', () => {
    // Each wrap adds 1 or 2 levels: as many as make 999 levels in all, the most a message may nest.
    const wraps: [(v: Json) => Json, number][] = [
      [(v) => [v], 1],
      [(v) => ({ k: [v, 1] }), 2],
      [(v) => [1, { k: v }], 2],
    ];
    for (const [wrap, levels] of wraps) {
      let a: Json = 'x';
      let b: Json = 'y';
      for (let i = 0; i < Math.floor(999 / levels); i++) {
        a = wrap(a);
        b = wrap(b);
      }
      const { value: patch, ms } = timed(() => roundTrips(a, b));
      expect(patch).to.have.length(1);
      expect(ms).to.be.below(2000);
    }
  });

  it('many arrays each within the budget: the tables of one diff stop at DP_TOTAL_CELLS, the rest goes position by position', () => {
    const n = Math.floor(Math.sqrt(DP_BUDGET)) - 1;
    const count = Math.ceil((2 * DP_TOTAL_CELLS) / DP_BUDGET);
    const a = Array.from({ length: count }, (_, i) => Array.from({ length: n }, (_, k) => ({ v: i * n + k })));
    const b = a.map((inner) => [...inner.slice(1), { v: -1 }]); // each: one remove, one add when minimal
    const { value: patch, ms } = timed(() => roundTrips(a, b));
    expect(patch.length).to.be.above(2 * count); // the later arrays were compared position by position
    expect(patch.slice(0, 2)).to.deep.equal([{ op: 'remove', path: '/0/0' }, { op: 'add', path: '/0/-', value: { v: -1 } }]);
    expect(ms).to.be.below(5000);
  });

  it('the edit-distance budget is small: a table at the budget answers in milliseconds (~10 ms measured)', () => {
    const n = Math.floor(Math.sqrt(DP_BUDGET)) - 1;
    const a = Array.from({ length: n }, (_, i) => ({ id: `s${i}`, name: `Verse ${i}`, chords: ['C', 'G'], bars: 8 }));
    const b = a.map((s) => ({ ...s, id: `${s.id}'` }));
    roundTrips(a, b); // warm
    const times = Array.from({ length: 5 }, () => timed(() => diffJson(a, b)).ms).sort((x, y) => x - y);
    expect(times[2]).to.be.below(100); // generous: a shared, loaded machine
  });
});
