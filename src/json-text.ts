/**
 * JSON as text: the one module that reads and writes the host's structured data without turning
 * it into JavaScript values and back (which changes numbers: 2^63-1 becomes 9223372036854776000,
 * 1e400 becomes null, -0 becomes 0).
 *
 * - `scanJson(text, visit)` reads a JSON text in one pass and hands each value's compact text to
 *   `visit` with its JSON pointer: strings, numbers and literals keep the characters they were
 *   written as (escapes included), white space between tokens goes, and a key given twice in an
 *   object keeps its last value in its first place (as JSON.parse reads it).
 * - `compactJson(text)` is that compact text.
 * - `textsAt(text, pointers)` answers the compact text of the values at some pointers (the
 *   structured parts of a request, found in the request's own text).
 * - `RawJson` is a JSON text to be put into an answer as it is; `stringifyAnswer` writes a value
 *   holding RawJson leaves (JSON.stringify for the rest).
 *
 * Texts travel beside the parsed values, in WeakMaps (they go when the value goes):
 * - `rememberText(message, text)` / `textOf(message)`: the text a message arrived as;
 * - `withPartTexts(record, texts)` / `partTextOf(record, path)`: the texts of a record's
 *   structured parts (`sections`, `mixGraph`, …) as the host sent them, which the store keeps
 *   instead of serialising the parsed values again;
 * - `answerAs(value, text)`: the exact text of a value (a record read from the store), which
 *   stringifyAnswer writes in its place.
 *
 * The input must be JSON (a request the transport parsed, a text the store wrote or checked):
 * what is not JSON is a SyntaxError, never a guess.
 */
import { randomBytes } from 'node:crypto';
import { parse as parseLossless } from 'lossless-json';
import { MAX_JSON_DEPTH } from './json-limits.js';

/**
 * A JSON text that goes into an answer verbatim. It may be given as the pieces it is made of
 * (a record's fields, then each stored part): the writer sends them one after another, so a
 * 200 KB part read from the store is never copied into a longer string (flattening one costs
 * more than encoding it).
 */
export class RawJson {
  readonly text: string;
  /** The text as consecutive pieces (their concatenation is `text`, which copies none of them until read). */
  readonly pieces: readonly string[];

  constructor(text: string | readonly string[]) {
    this.pieces = typeof text === 'string' ? [text] : text;
    this.text = typeof text === 'string' ? text : join(text);
  }

  /** In JSON.stringify: a marker stringifyAnswer replaces with the text. */
  toJSON(): string {
    return `${MARK}${register(this.text)}${MARK}`;
  }
}

// The marker is U+0000 and a number no host can guess (a per-process nonce), in a string that
// JSON.stringify escapes: `"\u0000<nonce>:<n>\u0000"` cannot be data, which would need the nonce.
const NONCE = randomBytes(12).toString('base64url');
const MARK = `\u0000${NONCE}`;
const MARK_OPEN = `"\\u0000${NONCE}`;
const MARK_CLOSE = `\\u0000${NONCE}"`;
let pending: string[] = [];
const register = (text: string): number => pending.push(text) - 1;

const TEXT = new WeakMap<object, string>();
const PARTS = new WeakMap<object, ReadonlyMap<string, string>>();
const ANSWER = new WeakMap<object, string>();

/** Records that `message` was parsed from `text`. */
export function rememberText(message: unknown, text: string): void {
  if (typeof message === 'object' && message !== null) TEXT.set(message, text);
}

/** The text `message` was parsed from, when it was remembered. */
export function textOf(message: unknown): string | undefined {
  return typeof message === 'object' && message !== null ? TEXT.get(message) : undefined;
}

/** Gives `record` the texts of its structured parts (field path -> compact JSON text). Answers `record`. */
export function withPartTexts<T extends object>(record: T, texts: ReadonlyMap<string, string> | undefined): T {
  if (texts && texts.size) PARTS.set(record, texts);
  return record;
}

/** The texts of `record`'s structured parts, if it has them. */
export const partTextsOf = (record: object): ReadonlyMap<string, string> | undefined => PARTS.get(record);

/** The text of the structured part at `path` of `record` as it was sent, if known. */
export const partTextOf = (record: object, path: string): string | undefined => PARTS.get(record)?.get(path);

/** `{...record, ...patch}` keeping the texts of the parts the patch does not replace. */
export function copyWithParts<T extends object>(record: T, patch: Partial<T> = {}): T {
  const copy = { ...record, ...patch };
  const texts = PARTS.get(record);
  if (texts) withPartTexts(copy, new Map([...texts].filter(([path]) => !(path in patch))));
  return copy;
}

/** Says that `value`'s JSON is `text` exactly (stringifyAnswer writes that text). Answers `value`. */
export function answerAs<T extends object>(value: T, text: string): T {
  ANSWER.set(value, text);
  return value;
}

const swap = (_key: string, value: unknown): unknown => {
  if (typeof value !== 'object' || value === null) return value;
  const text = ANSWER.get(value);
  return text === undefined ? value : `${MARK}${register(text)}${MARK}`;
};

/**
 * JSON.stringify of `value`, with each RawJson in it, and each value answerAs gave a text, written
 * as its own text.
 */
export function stringifyAnswer(value: unknown): string {
  const around = responseAround(value);
  if (around !== undefined) return join(around);
  pending = [];
  const text = JSON.stringify(value, swap);
  const raws = pending;
  pending = [];
  if (raws.length === 0) return text;
  let out = '';
  let at = 0;
  for (let i = text.indexOf(MARK_OPEN); i !== -1; i = text.indexOf(MARK_OPEN, at)) {
    const start = i + MARK_OPEN.length;
    const end = text.indexOf(MARK_CLOSE, start);
    out += text.slice(at, i) + raws[Number(text.slice(start, end))]!;
    at = end + MARK_CLOSE.length;
  }
  return out + text.slice(at);
}

/**
 * stringifyAnswer's text of a response whose result has a text of its own (a record read from
 * the store: RawJson or answerAs), as pieces: its start, the result's pieces, its end; undefined
 * for anything else. The same text as the general path, without its replacer, markers and search.
 */
function responseAround(value: unknown): string[] | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  const result = r.result;
  let pieces: readonly string[] | undefined;
  if (result instanceof RawJson) pieces = result.pieces;
  else if (typeof result === 'object' && result !== null) {
    const text = ANSWER.get(result);
    if (text !== undefined) pieces = [text];
  }
  if (pieces === undefined) return undefined;
  const { jsonrpc, id } = r;
  if (typeof jsonrpc !== 'string' || !(typeof id === 'string' || typeof id === 'number' || id === null)) return undefined;
  const keys = Object.keys(r);
  if (keys.length !== 3 || keys[0] !== 'jsonrpc' || keys[1] !== 'id' || keys[2] !== 'result') return undefined;
  return [`{"jsonrpc":${JSON.stringify(jsonrpc)},"id":${JSON.stringify(id)},"result":`, ...pieces, '}'];
}

/**
 * stringifyAnswer's text of a response whose result is a record read from the store, as
 * consecutive pieces for a writer that sends them one after another (the record's stored parts
 * each a piece of their own, never copied into a longer string); undefined for any other value.
 */
export const responsePieces = (value: unknown): string[] | undefined => responseAround(value);

/** The pieces joined (a rope: nothing is copied until the string is read). */
function join(pieces: readonly string[]): string {
  let text = '';
  for (const p of pieces) text += p;
  return text;
}

/** The pointer of a member: `/a/b` + `c` (escaped as RFC 6901 says). */
const child = (pointer: string, key: string): string => `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

export interface ScanOptions {
  /**
   * Called for every value, children before their container, with the RFC 6901 pointer of the
   * value (object keys unescaped from their JSON spelling) and its compact text; may answer a
   * text that stands for the value in its container instead (the part store's references).
   */
  visit?: (pointer: string, text: string, container: boolean) => string | void;
  /** Joins the members of an array or object (their texts); `members.join(',')` by default. */
  join?: (members: string[]) => string;
  /** Whether to compute pointers (visit receives '' for every pointer when false). Default true. */
  pointers?: boolean;
  /** Whether to write each object's members in the order of their keys (sameJsonText). Default false. */
  sortKeys?: boolean;
  /**
   * Whether to write every string (keys included) that holds an escape as JSON.stringify writes
   * its value (sameJsonText): `"a\/b"` as `"a/b"`, `"\u00e9"` as `"é"`. Default false.
   */
  canonicalStrings?: boolean;
}

/**
 * The deepest nesting scanJson reads (a SyntaxError past it, never a stack overflow): what a
 * message may hold (MAX_JSON_DEPTH, 1,000) and the few levels of its envelope.
 */
export const MAX_SCAN_DEPTH = MAX_JSON_DEPTH + 16;

/**
 * Reads `json` in one pass and answers its compact text (or what `options.visit` put in its place).
 * Throws SyntaxError for what is not JSON.
 */
export function scanJson(json: string, options: ScanOptions = {}): string {
  const { visit, join = (m: string[]) => m.join(','), pointers = true, sortKeys = false, canonicalStrings = false } = options;
  const n = json.length;
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`not JSON: ${what} at ${i}`);
  };
  const space = (): void => {
    for (let c = json.charCodeAt(i); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = json.charCodeAt(++i));
  };
  const string = (): string => {
    const start = i;
    for (let j = i + 1; ; j++) {
      j = json.indexOf('"', j);
      if (j === -1) fail('an unterminated string');
      let slashes = 0;
      while (json.charCodeAt(j - 1 - slashes) === 0x5c) slashes++;
      if (slashes % 2 === 0) {
        i = j + 1;
        return json.slice(start, i);
      }
    }
  };
  let depth = 0;
  const value = (pointer: string): string => {
    space();
    const c = json.charCodeAt(i);
    let text: string;
    let container = false;
    if (c === 0x22) {
      text = string();
      if (canonicalStrings && text.includes('\\')) text = canonicalString(text);
    } else if (c !== 0x5b && c !== 0x7b) {
      const start = i;
      for (let d = c; i < n && d !== 0x2c && d !== 0x5d && d !== 0x7d && d !== 0x3a && d !== 0x20 && d !== 0x0a && d !== 0x0d && d !== 0x09; d = json.charCodeAt(++i));
      if (i === start) fail('a missing value');
      text = json.slice(start, i);
    } else {
      container = true;
      if (++depth > MAX_SCAN_DEPTH) fail(`nesting deeper than ${MAX_SCAN_DEPTH} levels`);
      const object = c === 0x7b;
      const close = object ? 0x7d : 0x5d;
      i++;
      const members: string[] = [];
      // A key given twice is read as JSON.parse reads it (the last value, in the first one's
      // place), so the text kept and every reader of it agree with what was validated.
      const keys = object ? new Map<string, number>() : undefined;
      space();
      if (json.charCodeAt(i) === close) {
        i++;
      } else {
        for (let index = 0; ; index++) {
          if (object) {
            space();
            if (json.charCodeAt(i) !== 0x22) fail('a key that is not a string');
            const key = string();
            space();
            if (json.charCodeAt(i++) !== 0x3a) fail('a missing colon');
            const name = key.includes('\\') ? (JSON.parse(key) as string) : key.slice(1, -1);
            const spelled = canonicalStrings && key.includes('\\') ? JSON.stringify(name) : key;
            const member = `${spelled}:${value(pointers ? child(pointer, name) : '')}`;
            const at = keys!.get(name);
            if (at === undefined) {
              keys!.set(name, members.length);
              members.push(member);
            } else {
              members[at] = member;
            }
          } else {
            members.push(value(pointers ? `${pointer}/${index}` : ''));
          }
          space();
          const d = json.charCodeAt(i++);
          if (d === close) break;
          if (d !== 0x2c) fail('a missing comma');
        }
      }
      // A member starts with its key's JSON spelling, which ends at its closing quote and holds no
      // other bare quote: sorting the members sorts them by key.
      text = object ? `{${join(sortKeys ? members.sort() : members)}}` : `[${join(members)}]`;
      depth--;
    }
    const replaced = visit?.(pointer, text, container);
    return typeof replaced === 'string' ? replaced : text;
  };
  const whole = value('');
  space();
  if (i !== n) fail('text after the value');
  return whole;
}

/** A JSON string token as JSON.stringify writes its value (escapes only where it needs them). */
function canonicalString(token: string): string {
  try {
    return JSON.stringify(JSON.parse(token) as string);
  } catch {
    return token; // not a string JSON.parse reads (the caller's own check refuses it, or compares it as written)
  }
}

/** The compact text of a JSON text (strings and numbers as written, white space between tokens gone). */
export const compactJson = (json: string): string => scanJson(json, { pointers: false });

/** A JSON text in one spelling per value (members sorted, strings canonical, numbers as written). */
const canonicalJson = (json: string): string => scanJson(json, { pointers: false, sortKeys: true, canonicalStrings: true });

/**
 * Whether two JSON texts hold the same value: members of an object in any order, strings by their
 * value (`"a\/b"` as Swift's JSONEncoder writes it is `"a/b"`, `"\u00e9"` is `"é"`), every number
 * compared as written: `9223372036854775807` and `9223372036854775806` differ (as values
 * JSON.parse makes they would not), and so do `1` and `1.0` (a text that changed is a change).
 */
export const sameJsonText = (a: string, b: string): boolean =>
  a === b || canonicalJson(a) === canonicalJson(b);

/**
 * sameJsonText for two compact texts (as the store writes them, and as textsAt answers a request's
 * parts): compact texts of one value without escapes differ at most in the order of members, never
 * in length, so texts of different lengths with no backslash in either differ without a scan.
 */
export const sameCompactJson = (a: string, b: string): boolean =>
  a === b || ((a.length === b.length || a.includes('\\') || b.includes('\\')) && sameJsonText(a, b));

/** The compact texts of the values at `pointers` in `json` (those present). */
export function textsAt(json: string, pointers: Iterable<string>): Map<string, string> {
  const wanted = new Set(pointers);
  const found = new Map<string, string>();
  scanJson(json, {
    visit: (pointer, text) => {
      if (wanted.has(pointer)) found.set(pointer, text);
    },
  });
  return found;
}

/**
 * The text of the JSON object `objectText` with the members `name: text` added after its own, each
 * text as it is (a record's fields, then its structured parts as stored).
 */
export function withMembers(objectText: string, members: Iterable<readonly [string, string]>): string {
  return join(withMembersPieces(objectText, members));
}

/** JSON.stringify of member names, remembered: they are a record's few part names. */
const memberNames = new Map<string, string>();
function memberName(name: string): string {
  let json = memberNames.get(name);
  if (json === undefined) {
    json = JSON.stringify(name);
    if (memberNames.size < 1000) memberNames.set(name, json);
  }
  return json;
}

/** withMembers' text as pieces: each member's text a piece of its own. */
export function withMembersPieces(objectText: string, members: Iterable<readonly [string, string]>): string[] {
  const pieces = [objectText === '{}' ? '{' : objectText.slice(0, -1)];
  for (const [name, text] of members) pieces.push(`${pieces.length === 1 && objectText === '{}' ? '' : ','}${memberName(name)}:`, text);
  if (pieces.length === 1) return [objectText];
  pieces.push('}');
  return pieces;
}

/** The exact text answerAs gave `value`, if any. */
export const answerTextOf = (value: object): string | undefined => ANSWER.get(value);

const NUMBER = `\u0000${NONCE}#`;
const NUMBER_ESCAPED = new RegExp(`"\\\\u0000${NONCE}#([^"]*)"`, 'g');

/**
 * `text` parsed with every number kept as the text it was written as (lossless-json), for code
 * that must compare or take apart values (diff): a number is a string no host can write (a
 * marker with this process's nonce), equal only to the same number text.
 */
export const parseKeepingNumbers = (text: string): unknown => parseLossless(text, null, (n: string) => NUMBER + n);

/** The JSON of a value parseKeepingNumbers made (or parts of it), each number as it was written. */
export const withNumbersAsWritten = (value: unknown): RawJson => new RawJson(JSON.stringify(value).replace(NUMBER_ESCAPED, '$1'));
