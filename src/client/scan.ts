/**
 * The top-level members of a JSON object text, as spans of the text, without parsing the values:
 * what lets the client route a message by its `id` or `method` and hand a `result` on as the very
 * text it arrived as (numbers beyond 2^53, `1e400` or `-0` intact). Linear in the text: strings
 * are skipped with indexOf, brackets counted between them with one sticky regex.
 */

/** Start (inclusive) and end (exclusive) of a member's value in the text. */
export type Span = readonly [start: number, end: number];

const STRUCTURAL = /["{}[\]]/g;
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index just past the string starting at `i` (a quote). */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q === -1) throw new SyntaxError('unterminated string');
    let k = q - 1;
    while (text.charCodeAt(k) === 0x5c) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** Index just past the value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return stringEnd(text, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    STRUCTURAL.lastIndex = i;
    for (;;) {
      const m = STRUCTURAL.exec(text);
      if (m === null) throw new SyntaxError('unterminated array or object');
      const at = m.index;
      const ch = text.charCodeAt(at);
      if (ch === 0x22) STRUCTURAL.lastIndex = stringEnd(text, at);
      else if (ch === 0x7b || ch === 0x5b) depth++;
      else if (--depth === 0) return at + 1;
    }
  }
  let j = i;
  for (; j < text.length; j++) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || isSpace(d)) break;
  }
  if (j === i) throw new SyntaxError(`no value at ${i}`);
  return j;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/**
 * The members of the object `text` holds, by key (a key given twice: the last, as JSON.parse
 * does). Throws SyntaxError when the text is not an object; values are delimited, not validated.
 */
export function topLevelMembers(text: string): Map<string, Span> {
  const members = new Map<string, Span>();
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 0x7b) throw new SyntaxError('not a JSON object');
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === 0x7d) return members;
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) throw new SyntaxError(`expected a key at ${i}`);
    const keyEnd = stringEnd(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    const key = raw.includes('\\') ? (JSON.parse(text.slice(i, keyEnd)) as string) : raw;
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== 0x3a) throw new SyntaxError(`expected ':' at ${i}`);
    const start = skipSpace(text, i + 1);
    const end = valueEnd(text, start);
    members.set(key, [start, end]);
    i = skipSpace(text, end);
    const c = text.charCodeAt(i);
    if (c === 0x7d) return members;
    if (c !== 0x2c) throw new SyntaxError(`expected ',' or '}' at ${i}`);
    i = skipSpace(text, i + 1);
  }
}
