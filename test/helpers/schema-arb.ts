/**
 * fast-check arbitraries derived from rpc-schema/: params a method's schema accepts, and
 * mutations of them that it (mostly) refuses. The schema files are the only source: a new field,
 * bound or method is fuzzed without a change here. Names that carry meaning across requests
 * (ids, revisions, file paths, cursors) are drawn from small pools so that updates, deletes,
 * references and restores hit existing records and files often.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_JSON_DEPTH } from '../../src/json-limits.js';
import { ROOT } from './process.js';

type Json = any;
type Schema = Record<string, any>;

/** rpc-schema/definitions, by name (the file name without .json). */
export const DEFINITIONS: Readonly<Record<string, Schema>> = Object.fromEntries(
  readdirSync(join(ROOT, 'rpc-schema', 'definitions'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(ROOT, 'rpc-schema', 'definitions', f), 'utf8'))]),
);

const refName = (ref: string): string => {
  const m = /^([A-Za-z0-9]+)\.json$/.exec(ref);
  if (!m || !DEFINITIONS[m[1]!]) throw new Error(`schema-arb: unknown $ref ${ref}`);
  return m[1]!;
};

/** A schema with its `$ref` followed and its `allOf` merged into one object schema. */
export function resolveSchema(schema: Schema): Schema {
  if (schema.$ref) return resolveSchema({ ...DEFINITIONS[refName(schema.$ref)]!, ...withoutKey(schema, '$ref') });
  if (!schema.allOf) return schema;
  const merged: Schema = { ...withoutKey(schema, 'allOf') };
  for (const part of schema.allOf as Schema[]) {
    const r = resolveSchema(part);
    merged.type ??= r.type;
    if (r.properties) merged.properties = { ...merged.properties, ...r.properties };
    if (r.required) merged.required = [...new Set([...(merged.required ?? []), ...r.required])];
    if (r.additionalProperties !== undefined && merged.additionalProperties === undefined) merged.additionalProperties = r.additionalProperties;
  }
  return merged;
}

function withoutKey(o: Schema, key: string): Schema {
  const { [key]: _drop, ...rest } = o;
  return rest;
}

/** What the pools of names that recur across requests hold; the fuzzer grows `paths` and `cursors`. */
export interface Pools {
  /** Record ids: a few, so that references and updates hit. */
  readonly ids: readonly string[];
  /** File paths worth naming: files the store made (backups, exports), and hostile ones. */
  readonly paths: () => readonly string[];
  /** Cursors the store answered. */
  readonly cursors: () => readonly string[];
}

/** Strings that have broken text handling somewhere: normalisation forms, emoji, lone surrogates. */
export const AWKWARD_STRINGS: readonly string[] = [
  'Beyonc\u00e9', // NFC
  'Beyonce\u0301', // NFD: the same text, another byte sequence
  '\u00c5ngstr\u00f6m \u212b', // Å and the Ångström sign (NFC maps it)
  '\ud83c\udfb9\ud83c\udfb8 \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67', // emoji and a ZWJ family
  '\ud800', // a lone high surrogate
  'x\udc00y', // a lone low surrogate
  '\u202eright-to-left\u202c',
  'zero\u200bwidth',
  'tab\tnew\nline\r\n',
  'quote " back\\slash',
  '\u0000nul',
  '"); DROP TABLE songs; --',
  'NEAR(a b) OR * ^ "',
  '\ufeffBOM',
  '\u{10ffff}',
];

const text = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.string({ maxLength: Math.min(maxLength, 12) }) },
    { weight: 2, arbitrary: fc.string({ maxLength: Math.min(maxLength, 8), unit: 'grapheme' }) },
    { weight: 1, arbitrary: fc.string({ maxLength: Math.min(maxLength, 6), unit: 'binary' }) },
    { weight: 1, arbitrary: fc.constantFrom(...AWKWARD_STRINGS) },
  );

/** Any JSON value, a few levels deep, with awkward text (the open, verbatim parts of a model). */
const jsonValue: fc.Arbitrary<Json> = fc.letrec<{ v: Json }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    text(20),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(text(8), tie('v'), { maxKeys: 3 }),
  ),
})).v;

/** `[[[…]]]` nested `depth` levels. Deep but legal below MAX_JSON_DEPTH minus its place. */
export function nested(depth: number): Json {
  let v: Json = [];
  for (let i = 1; i < depth; i++) v = [v];
  return v;
}

/** An arbitrary of the values `schema` accepts (mostly: a few may still be refused). */
export function arbitraryOf(schema: Schema, pools: Pools, name = ''): fc.Arbitrary<Json> {
  // Names whose values mean something across requests.
  if (schema.$ref) {
    const ref = refName(schema.$ref);
    if (ref === 'Id' || (ref === 'Id' && name === 'id')) return idOf(pools);
    if (ref === 'Revision') return fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 ** 53 - 1 }) });
    if (ref === 'Cursor') return fc.oneof(fromPool(() => [...pools.cursors(), 'WyJ1cGRhdGVkQXQiLCJkZXNjIiwxLCJhIl0']), text(40).map((s) => s || 'c'));
    if (ref === 'JsonObject') return fc.dictionary(text(10), jsonValue, { maxKeys: 4 });
  }
  if (name === 'path' && schema.type === 'string') return fromPool(pools.paths);
  const s = resolveSchema(schema);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...(s.enum as Json[]));
  if (s.oneOf) return fc.oneof(...(s.oneOf as Schema[]).map((o) => arbitraryOf(o, pools, name)));
  if (s.anyOf) return fc.oneof(...(s.anyOf as Schema[]).map((o) => arbitraryOf(o, pools, name)));
  if (Array.isArray(s.type)) return fc.oneof(...(s.type as string[]).map((t) => arbitraryOf({ ...s, type: t }, pools, name)));
  switch (s.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -(2 ** 31));
      const max = s.maximum ?? 2 ** 31;
      // Bounds are where off-by-one errors live: pick them often.
      return fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: Math.max(min, -1000), max: Math.min(max, Math.max(min, -1000) + 200) }) },
        { weight: 1, arbitrary: fc.constantFrom(min, max) },
        { weight: 1, arbitrary: fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }) },
      );
    }
    case 'number': {
      const min = s.minimum ?? s.exclusiveMinimum ?? -1e9;
      const max = s.maximum ?? 1e9;
      const excl = s.exclusiveMinimum;
      // An exclusive minimum is stepped over rather than filtered (a filter can loop for long).
      const lo = excl === undefined ? min : excl + 1e-9;
      return fc.oneof(
        fc.double({ min: lo, max, noNaN: true }),
        fc.integer({ min: Math.ceil(lo), max: Math.floor(Math.min(max, 2 ** 31 - 1)) }),
      );
    }
    case 'string': {
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern as string));
      const minLength = s.minLength ?? 0;
      const arb = text(s.maxLength ?? 64);
      return minLength > 0 ? arb.map((v) => (v.length >= minLength ? v : v + 'n'.repeat(minLength))) : arb;
    }
    case 'array': {
      const items = s.items ? arbitraryOf(s.items as Schema, pools, name) : jsonValue;
      const minLength = s.minItems ?? 0;
      const maxLength = Math.max(minLength, Math.min(s.maxItems ?? 3, 3));
      return s.uniqueItems
        ? fc.uniqueArray(items, { minLength, maxLength, selector: (v) => JSON.stringify(v) })
        : fc.array(items, { minLength, maxLength });
    }
    case 'object':
    default: {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const model: Record<string, fc.Arbitrary<Json>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = arbitraryOf(v, pools, k);
      const record = fc.record(model, { requiredKeys: (s.required ?? []).filter((k: string) => k in props) });
      if (s.additionalProperties === false || s.type !== 'object') return record;
      // Open objects keep fields this version does not know.
      return fc.tuple(record, fc.dictionary(text(8), jsonValue, { maxKeys: 2 })).map(([r, extra]) => ({ ...extra, ...r }));
    }
  }
}

/** One of a pool that grows while the run goes on (read when a value is drawn, not when the arbitrary is made). */
const fromPool = (pool: () => readonly string[]): fc.Arbitrary<string> =>
  fc.nat().map((i) => {
    const xs = pool();
    return xs.length ? xs[i % xs.length]! : 'none';
  });

function idOf(pools: Pools): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...pools.ids) },
    { weight: 1, arbitrary: fc.constantFrom(...AWKWARD_STRINGS, 'x'.repeat(256), '\u00e9'.repeat(256)) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  );
}

// ---------------------------------------------------------------------------------------------
// Mutations: a valid value made (probably) invalid, in one place
// ---------------------------------------------------------------------------------------------

/** Every place in a JSON value: the path of keys from the root. */
function placesIn(value: Json, path: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] {
  out.push(path);
  if (depth > 40 || value === null || typeof value !== 'object') return out;
  if (Array.isArray(value)) value.forEach((v, i) => placesIn(v, [...path, i], out, depth + 1));
  else for (const k of Object.keys(value)) placesIn(value[k], [...path, k], out, depth + 1);
  return out;
}

function getAt(root: Json, path: (string | number)[]): Json {
  let cur = root;
  for (const k of path) cur = cur?.[k];
  return cur;
}

function setAt(root: Json, path: (string | number)[], v: Json): Json {
  if (path.length === 0) return v;
  const copy = structuredClone(root);
  const parent = getAt(copy, path.slice(0, -1));
  parent[path[path.length - 1]!] = v;
  return copy;
}

function deleteAt(root: Json, path: (string | number)[]): Json {
  if (path.length === 0) return root;
  const copy = structuredClone(root);
  const parent = getAt(copy, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else delete parent[key];
  return copy;
}

/** Values of every JSON type, for a wrong-type mutation. */
const ANY_TYPE: readonly Json[] = [null, true, false, 0, -1, 1.5, '', 'text', [], [1], {}, { a: 1 }];

/** Numbers at and past every limit a JSON Schema or SQLite has. */
export const EDGE_NUMBERS: readonly number[] = [
  -1, 0, -0, 0.5, 1e-300, 127, 128, 255, 256, 1000, 1001, 10000, 10001, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2,
  -(2 ** 53), 2 ** 63, 1e308, -1e308, Number.MIN_VALUE,
];

export type Mutation =
  | 'wrong-type'
  | 'drop-field'
  | 'extra-field'
  | 'edge-number'
  | 'long-string'
  | 'awkward-string'
  | 'deep-nesting'
  | 'too-deep'
  | 'params-not-object';

/** A mutation of `params` (a valid params object): one place changed. */
export function mutationOf(params: Json): fc.Arbitrary<{ mutation: Mutation; params: Json }> {
  const places = placesIn(params);
  const place = fc.constantFrom(...places);
  const inner = places.filter((p) => p.length > 0);
  const objects = places.filter((p) => { const v = getAt(params, p); return v !== null && typeof v === 'object' && !Array.isArray(v); });
  const numbers = places.filter((p) => typeof getAt(params, p) === 'number');
  const strings = places.filter((p) => typeof getAt(params, p) === 'string');
  const containers = places.filter((p) => { const v = getAt(params, p); return v !== null && typeof v === 'object'; });
  const options: fc.Arbitrary<{ mutation: Mutation; params: Json }>[] = [
    fc.tuple(place, fc.constantFrom(...ANY_TYPE)).map(([p, v]) => ({ mutation: 'wrong-type' as const, params: setAt(params, p, v) })),
    fc
      .tuple(fc.constantFrom(...objects), fc.constantFrom('bogus', '__proto__', 'constructor', 'toString', 'id ', 'Id', '\u00e9', ''), fc.constantFrom(...ANY_TYPE))
      .map(([p, k, v]) => {
        const copy = structuredClone(params);
        const target = p.length ? getAt(copy, p) : copy;
        Object.defineProperty(target, k, { value: v, enumerable: true, configurable: true, writable: true });
        return { mutation: 'extra-field' as const, params: copy };
      }),
    fc.constantFrom(null, [], [params], 'params', 42).map((v) => ({ mutation: 'params-not-object' as const, params: v })),
  ];
  if (inner.length) options.push(fc.constantFrom(...inner).map((p) => ({ mutation: 'drop-field' as const, params: deleteAt(params, p) })));
  if (numbers.length) {
    options.push(fc.tuple(fc.constantFrom(...numbers), fc.constantFrom(...EDGE_NUMBERS)).map(([p, v]) => ({ mutation: 'edge-number' as const, params: setAt(params, p, v) })));
  }
  if (strings.length) {
    options.push(
      fc
        .tuple(fc.constantFrom(...strings), fc.constantFrom(101, 201, 257, 1001, 4097, 100001))
        .map(([p, n]) => ({ mutation: 'long-string' as const, params: setAt(params, p, '\u00e9'.repeat(n)) })),
      fc
        .tuple(fc.constantFrom(...strings), fc.constantFrom(...AWKWARD_STRINGS))
        .map(([p, v]) => ({ mutation: 'awkward-string' as const, params: setAt(params, p, v) })),
    );
  }
  if (containers.length) {
    // Nesting up to the limit is legal JSON the store must take or refuse cleanly; one level past
    // it must be refused whole (the readers enforce MAX_JSON_DEPTH).
    options.push(
      fc
        .tuple(fc.constantFrom(...containers), fc.constantFrom(20, 200, MAX_JSON_DEPTH - 50))
        .map(([p, d]) => ({ mutation: 'deep-nesting' as const, params: setAt(params, [...p, 'deep'], nested(d)) })),
      fc.constant({ mutation: 'too-deep' as const, params: { ...(typeof params === 'object' ? params : {}), deep: nested(MAX_JSON_DEPTH + 5) } }),
    );
  }
  return fc.oneof(...options);
}
