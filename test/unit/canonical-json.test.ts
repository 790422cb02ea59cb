/** canonical-json: JSON values compared as values (autosave's dedupe). */
import { expect } from 'chai';
import fc from 'fast-check';
import { canonicalJson, sameJson } from '../../src/canonical-json.js';
import { MAX_JSON_DEPTH } from '../../src/json-limits.js';

/** The same value with every object's keys in reverse order. */
function reordered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reordered);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  // defineProperty, not assignment: a key "__proto__" (JSON allows it) would set the prototype.
  for (const k of Object.keys(value).reverse()) {
    Object.defineProperty(out, k, { value: reordered((value as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

describe('canonical-json', () => {
  it('the same value with its keys in any order is the same state', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(sameJson(v, reordered(v))).to.equal(true);
        expect(canonicalJson(JSON.parse(JSON.stringify(reordered(v))))).to.equal(canonicalJson(v));
      }),
    );
  });

  it('different values are different states; array order matters', () => {
    expect(sameJson({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).to.equal(true);
    expect(sameJson({ a: 1, b: [1, 2] }, { a: 1, b: [2, 1] })).to.equal(false);
    expect(sameJson({ a: 1 }, { a: 1, b: null })).to.equal(false);
    expect(sameJson({ a: '1' }, { a: 1 })).to.equal(false);
    expect(sameJson(JSON.parse('{"x":1.0}'), { x: 1 })).to.equal(true);
  });

  it('reads a value nested MAX_JSON_DEPTH levels deep', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = i % 2 ? [deep] : { k: deep };
    expect(sameJson(deep, JSON.parse(JSON.stringify(deep)))).to.equal(true);
  });
});
