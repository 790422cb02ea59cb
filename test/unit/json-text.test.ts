/** src/json-text.ts: JSON read and written as text, numbers and strings as they were written. */
import { expect } from 'chai';
import fc from 'fast-check';
import { parse, stringify } from 'lossless-json';
import { RawJson, answerAs, compactJson, sameCompactJson, sameJsonText, scanJson, stringifyAnswer, textsAt } from '../../src/json-text.js';

/** A JSON text with numbers written every way JSON allows and white space between tokens. */
const jsonText: fc.Arbitrary<string> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom('0', '-0', '1e400', '-1E-400', '1.0', '1e+2', '12345678901234567890123', '9223372036854775807', '0.1000', '-12.5e-3'),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
    fc.string().map((x) => JSON.stringify(x)),
    fc.constantFrom('true', 'false', 'null'),
    fc.array(tie('v') as fc.Arbitrary<string>, { maxLength: 8 }).map((xs) => `[\n ${xs.join(' ,\t')} ]`),
    fc.dictionary(fc.string({ maxLength: 5 }), tie('v') as fc.Arbitrary<string>, { maxKeys: 6 }).map(
      (o) => `{ ${Object.entries(o).map(([k, x]) => `${JSON.stringify(k)} : ${x}`).join(' , ')} }`,
    ),
  ),
})).v;

describe('json-text', () => {
  it('compactJson keeps every token as written and drops only white space (property, against lossless-json)', () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        const compact = compactJson(text);
        expect(compact).to.equal(stringify(parse(text)));
        expect(JSON.parse(compact)).to.deep.equal(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps what JSON.parse would change: big integers, 1e400, -0, 1.0, escapes', () => {
    const text = '{"samplePos": 9223372036854775807, "big":12345678901234567890, "huge":1e400, "tiny":1e-400, "neg0":-0, "one":1.0, "s":"\\u00e9\\/"}';
    expect(compactJson(text)).to.equal('{"samplePos":9223372036854775807,"big":12345678901234567890,"huge":1e400,"tiny":1e-400,"neg0":-0,"one":1.0,"s":"\\u00e9\\/"}');
  });

  it('textsAt finds the values at pointers, keys unescaped (RFC 6901)', () => {
    const text = '{"params": {"item": {"sections": [1.0, {"x": -0}], "a/b": [2], "m~n": 3}}}';
    const found = textsAt(text, ['/params/item/sections', '/params/item/a~1b', '/params/item/m~0n', '/params/item/missing', '/params/item/sections/1/x']);
    expect(Object.fromEntries(found)).to.deep.equal({
      '/params/item/sections': '[1.0,{"x":-0}]',
      '/params/item/a~1b': '[2]',
      '/params/item/m~0n': '3',
      '/params/item/sections/1/x': '-0',
    });
  });

  it('refuses what is not JSON with a SyntaxError', () => {
    for (const bad of ['', '{', '[1,]x', '{"a" 1}', '{1: 2}', '"open', '[1 2]', '{"a":1}}']) {
      expect(() => compactJson(bad), bad).to.throw(SyntaxError);
    }
  });

  it('stringifyAnswer writes RawJson texts as they are, and a host string that looks like a marker stays a string', () => {
    const answer = { jsonrpc: '2.0', id: 1, result: { items: [{ id: 'a', sections: new RawJson('[1e400,-0]') }, { note: '\u0000', also: '"\\u0000' }] } };
    const text = stringifyAnswer(answer);
    expect(text).to.equal('{"jsonrpc":"2.0","id":1,"result":{"items":[{"id":"a","sections":[1e400,-0]},{"note":"\\u0000","also":"\\"\\\\u0000"}]}}');
    expect(stringifyAnswer({ plain: 1 })).to.equal('{"plain":1}');
  });

  it('stringifyAnswer writes a response around its result\'s own text exactly as it writes it inside anything else (property)', () => {
    // A response whose result is a RawJson or has an answerAs text is written around that text
    // without JSON.stringify's replacer; inside an array it takes the general path. Same text.
    const id = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(-0), fc.constant(null));
    fc.assert(
      fc.property(id, jsonText, fc.boolean(), fc.constantFrom('2.0', '1.0', 'é"\\'), (id, text, raw, jsonrpc) => {
        const result = raw ? new RawJson(text) : answerAs({ any: 'value' }, text);
        const response = { jsonrpc, id, result };
        expect(stringifyAnswer(response)).to.equal(stringifyAnswer([response]).slice(1, -1));
        // Other shapes are not taken for a response: an error, an extra member, another order.
        for (const other of [{ ...response, extra: 1 }, { id, jsonrpc, result }, { jsonrpc, id, error: { code: 1, message: 'm' } }]) {
          expect(stringifyAnswer(other)).to.equal(stringifyAnswer([other]).slice(1, -1));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('scanJson visits values children first with their pointers', () => {
    const seen: string[] = [];
    scanJson('{"a":[1,{"b":2}]}', { visit: (p, t) => void seen.push(`${p}=${t}`) });
    expect(seen).to.deep.equal(['/a/0=1', '/a/1/b=2', '/a/1={"b":2}', '/a=[1,{"b":2}]', '={"a":[1,{"b":2}]}']);
  });
});

/** A string's JSON with every UTF-16 unit escaped (`"\u0061"` for `"a"`): the same string, another text. */
const escapedString = (x: string): string =>
  `"${Array.from({ length: x.length }, (_, i) => `\\u${x.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`;

/** `v`'s JSON with every string, keys included, written with escapes only (the same value, another text). */
function escapedText(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(escapedText).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.entries(v).map(([k, x]) => `${escapedString(k)}:${escapedText(x)}`).join(',')}}`;
  }
  return typeof v === 'string' ? escapedString(v) : JSON.stringify(v);
}

/** `v`'s JSON with each object's keys in reverse order (the same value, another text). */
function reversedText(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(reversedText).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v).reverse().map((k) => `${JSON.stringify(k)}:${reversedText((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

describe('sameJsonText: the same value, compared as written', () => {
  it('the same value with its members in any order and any white space is the same', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(sameJsonText(JSON.stringify(v), reversedText(v))).to.equal(true);
        expect(sameJsonText(JSON.stringify(v, null, 2), JSON.stringify(v))).to.equal(true);
      }),
    );
  });

  it('numbers compare as written: past 2^53 they differ though JSON.parse makes them equal; 1 and 1.0 differ', () => {
    expect(JSON.parse('9223372036854775807')).to.equal(JSON.parse('9223372036854775806'));
    expect(sameJsonText('[9223372036854775807]', '[9223372036854775806]')).to.equal(false);
    expect(sameJsonText('{"a":1e400,"b":-0}', '{"b":-0,"a":1e400}')).to.equal(true);
    expect(sameJsonText('{"a":1e400}', '{"a":1e401}')).to.equal(false);
    expect(sameJsonText('{"x":1.0}', '{"x":1}')).to.equal(false);
  });

  it('strings compare by value whatever their escapes, keys included (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const escaped = escapedText(v);
        expect(JSON.parse(escaped)).to.deep.equal(v);
        expect(sameJsonText(escaped, JSON.stringify(v))).to.equal(true);
        expect(sameJsonText(escaped, reversedText(v))).to.equal(true);
        expect(sameCompactJson(escaped, JSON.stringify(v))).to.equal(true);
      }),
    );
  });

  it('a slash escaped as Swift\'s JSONEncoder writes it, or a letter as \\u, is the same string; a string that differs differs', () => {
    expect(sameJsonText('{"path":"Samples\\/kick.wav","\\u00c9mile":"\\u00e9"}', '{"Émile":"é","path":"Samples/kick.wav"}')).to.equal(true);
    expect(sameJsonText('["\\n\\"\\\\"]', '["\\u000a\\u0022\\u005c"]')).to.equal(true);
    expect(sameJsonText('["a\\/b"]', '["a/c"]')).to.equal(false);
    expect(sameJsonText('{"a\\/b":1}', '{"a/b":2}')).to.equal(false);
    // Two keys that are one key once unescaped: the last one is the value, as JSON.parse reads it.
    expect(sameJsonText('{"a":1,"\\u0061":2}', '{"a":2}')).to.equal(true);
    // Compact texts of one value: lengths differ only where a string is escaped.
    expect(sameCompactJson('["a\\/b"]', '["a/b"]')).to.equal(true);
    expect(sameCompactJson('["ab"]', '["abc"]')).to.equal(false);
    expect(sameCompactJson('{"x":1.0}', '{"x":1}')).to.equal(false);
  });

  it('array order, a member more, and a string for a number are differences', () => {
    expect(sameJsonText('{"a":1,"b":[1,2]}', '{"b":[1,2],"a":1}')).to.equal(true);
    expect(sameJsonText('{"a":1,"b":[1,2]}', '{"a":1,"b":[2,1]}')).to.equal(false);
    expect(sameJsonText('{"a":1}', '{"a":1,"b":null}')).to.equal(false);
    expect(sameJsonText('{"a":"1"}', '{"a":1}')).to.equal(false);
    // Keys that sort differently from their members' texts ("a" < "a b", but `"a":` > `"a b"`).
    expect(sameJsonText('{"a":1,"a b":2}', '{"a b":2,"a":1}')).to.equal(true);
  });
});
