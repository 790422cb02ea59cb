/**
 * The part store: JSON texts stored once by content hash, split into a tree of nodes the way git
 * stores trees and blobs, so that two states that differ in one section share everything else.
 *
 * A text is read in one pass and written back compact, bottom up: strings, numbers and literals
 * keep the characters they were written as (`1.0`, `1e400`, `-0`, 2^64, escapes), white space
 * between tokens goes. The text must be JSON (the store only ever holds JSON it wrote or checked). A value whose compact text is at least NODE_MIN_CHARS long
 * becomes a node of its own, and stands in its parent's text as a reference: the character U+0001
 * followed by the node's hash (64 hex digits). U+0001 never occurs in JSON text outside a string,
 * and inside a string it is always escaped, so a reference cannot be mistaken for data. The
 * members of a large array or object are grouped into runs, cut where the hash of a member says
 * so (content-defined, like a rolling-hash chunker), so an insertion moves no other cut: each run
 * of at least NODE_MIN_CHARS is a node whose text is the members joined by commas.
 *
 * Expanding every reference of the root node gives the compact text back. A node is keyed by the
 * SHA-256 of its text (references included), so equal subtrees are one node wherever they occur.
 * A node's text is deflated when that makes it at least 10% smaller.
 *
 * Reference counts: `refs` counts the references to a node from other nodes (added when a node is
 * first stored) and from holders (versions and autosave snapshots, added and removed by triggers
 * on their tables, sql/0005). A node no one refers to is removed by `collect`, which the store
 * runs before every commit of a write, with the nodes it alone referred to.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { storageCorrupt, type RpcError } from '../errors.js';
import { scanJson } from '../json-text.js';
import type { Statement } from 'better-sqlite3';

/** What the part store needs of a connection: cached statements. */
export interface Prepares {
  prepared(sql: string): Statement;
}

/** A value whose compact text has at least this many characters is a node of its own. */
export const NODE_MIN_CHARS = 1024;
/** Members of an array or object are grouped into runs once their texts pass this many characters. */
export const RUN_SPLIT_CHARS = 2048;
/** A run is cut after a member whose hash has these low bits zero (once the run is long enough)... */
const CUT_MASK = 0x7;
/** ... and always once it reaches this many characters. */
const RUN_MAX_CHARS = 16384;
const REF = '\u0001';
/** Nodes nest at most about twice as deep as the JSON they hold (MAX_JSON_DEPTH, 1000). */
const MAX_NODE_DEPTH = 2100;

const damagedPart = (hash: string, why: string): RpcError =>
  storageCorrupt(`part ${hash} ${why}`);
const HASH_CHARS = 64;
/** Nodes shorter than this are not worth deflating. */
const DEFLATE_MIN_BYTES = 256;

/** A node ready to be stored: its text (with references) and the nodes it refers to. */
interface NodeText {
  hash: string;
  text: string;
  children: string[];
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** FNV-1a of a member's text: where runs are cut. */
function fnv(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The hashes a node's text refers to, in order. */
export function referencesOf(text: string): string[] {
  const out: string[] = [];
  for (let i = text.indexOf(REF); i !== -1; i = text.indexOf(REF, i + 1 + HASH_CHARS)) out.push(text.slice(i + 1, i + 1 + HASH_CHARS));
  return out;
}

/**
 * Splits one JSON text into nodes (`emit` is called for each, children before parents) and
 * answers the root's hash. Throws (SyntaxError) for text that is not JSON.
 */
export function splitJson(json: string, emit: (node: NodeText) => void): string {
  const node = (text: string): string => {
    const hash = sha256(text);
    emit({ hash, text, children: referencesOf(text) });
    return REF + hash;
  };
  /** The members' texts joined, grouped into runs when long. */
  const join = (members: string[]): string => {
    let total = 0;
    for (const m of members) total += m.length + 1;
    if (total < RUN_SPLIT_CHARS) return members.join(',');
    const runs: string[] = [];
    let run: string[] = [];
    let length = 0;
    const cut = (): void => {
      const text = run.join(',');
      runs.push(text.length >= NODE_MIN_CHARS ? node(text) : text);
      run = [];
      length = 0;
    };
    for (const m of members) {
      run.push(m);
      length += m.length + 1;
      if (length >= RUN_MAX_CHARS || (length >= NODE_MIN_CHARS && (fnv(m) & CUT_MASK) === 0)) cut();
    }
    if (run.length) cut();
    return runs.join(',');
  };
  // One pass over the text (json-text.ts): a container of NODE_MIN_CHARS or more, and the root,
  // become nodes; long member lists are cut into runs by `join`.
  const root = scanJson(json, {
    pointers: false,
    join,
    visit: (pointer, text, container) => (container && text.length >= NODE_MIN_CHARS ? node(text) : undefined),
  });
  return root.startsWith(REF) ? root.slice(1) : node(root).slice(1);
}

interface PartRow {
  body: Uint8Array;
  deflated: number;
}

/** A stored node's own text (inflated). Throws StorageCorrupt (-32012) for a body that is not deflate data. */
function bodyText(hash: string, r: PartRow): string {
  let raw: Buffer;
  try {
    raw = r.deflated ? inflateRawSync(r.body) : Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  } catch (err) {
    throw damagedPart(hash, `does not inflate (${(err as Error).message})`);
  }
  return raw.toString('utf8');
}

const SPACE = /[ \t\n\r]/;

/**
 * Whether a node's own text holds white space outside its strings (or a string that does not end).
 * The store writes every text compact (splitJson), and an answer holds stored texts as they are: a
 * line break between tokens would split an NDJSON answer over two lines. A JSON string holds no raw
 * white space but the space itself, so only the text between strings is looked at.
 */
export function hasLooseSpace(text: string): boolean {
  if (!SPACE.test(text)) return false;
  for (let at = 0; ; ) {
    const open = text.indexOf('"', at);
    if (SPACE.test(open === -1 ? text.slice(at) : text.slice(at, open))) return true;
    if (open === -1) return false;
    // The closing quote: the next one not escaped (an even run of backslashes before it).
    let close = open;
    for (;;) {
      close = text.indexOf('"', close + 1);
      if (close === -1) return true;
      let slashes = 0;
      while (text.charCodeAt(close - 1 - slashes) === 0x5c) slashes++;
      if (slashes % 2 === 0) break;
    }
    at = close + 1;
  }
}

/** Stored size of the part store, for system.stats. */
export interface PartStats {
  nodes: number;
  storedBytes: number;
  textBytes: number;
}

export class PartStore {
  readonly #store: Prepares;
  /** Root hashes of texts stored lately (by the text's own hash): unchanged parts are not split again. */
  readonly #recent = new Map<string, string>();
  /**
   * Told of a node `collect` removed without reading it (its body does not inflate): the nodes it
   * referred to keep its reference (never removed; a restore counts again). Default: nothing.
   */
  onUnreadable: (hash: string, why: string) => void = () => {};

  constructor(store: Prepares) {
    this.#store = store;
  }

  /**
   * Stores a JSON text (its nodes that are not stored yet) and answers its root hash. The caller
   * refers to the root from a holder row (whose trigger counts the reference) in the same
   * transaction; a root no holder refers to is removed at the commit.
   */
  put(json: string): string {
    const whole = sha256(json);
    const known = this.#recent.get(whole);
    if (known !== undefined && this.#has(known)) return known;
    const seen = new Set<string>();
    const root = splitJson(json, (n) => {
      // The same subtree twice in one text: stored once, referred to twice (by its parent's children).
      if (seen.has(n.hash)) return;
      seen.add(n.hash);
      this.#insert(n);
    });
    this.#remember(whole, root);
    return root;
  }

  #has(hash: string): boolean {
    return this.#store.prepared('SELECT 1 FROM parts WHERE hash = ?').get(hash) !== undefined;
  }

  #remember(whole: string, root: string): void {
    this.#recent.delete(whole);
    this.#recent.set(whole, root);
    if (this.#recent.size > 256) this.#recent.delete(this.#recent.keys().next().value!);
  }

  /**
   * The text of a node, its references expanded. Throws StorageCorrupt (-32012) when a node is
   * missing or does not inflate (a file made so by another tool; a restore checks them first).
   */
  text(hash: string): string {
    const read = this.#store.prepared('SELECT body, deflated FROM parts WHERE hash = ?');
    const expand = (h: string, depth: number): string => {
      const row = read.get(h) as PartRow | undefined;
      if (!row) throw damagedPart(h, 'is missing');
      if (depth > MAX_NODE_DEPTH) throw damagedPart(h, 'is nested deeper than any stored text can be');
      let raw: Buffer;
      try {
        raw = row.deflated ? inflateRawSync(row.body) : Buffer.from(row.body.buffer, row.body.byteOffset, row.body.byteLength);
      } catch (err) {
        throw damagedPart(h, `does not inflate (${(err as Error).message})`);
      }
      const text = raw.toString('utf8');
      if (!text.includes(REF)) return text;
      let out = '';
      let at = 0;
      for (let i = text.indexOf(REF); i !== -1; i = text.indexOf(REF, at)) {
        out += text.slice(at, i) + expand(text.slice(i + 1, i + 1 + HASH_CHARS), depth + 1);
        at = i + 1 + HASH_CHARS;
      }
      return out + text.slice(at);
    };
    return expand(hash, 0);
  }

  /**
   * Counts every node's references again, from the nodes' children and the holders' manifests (a
   * restored file's counts are not trusted), then removes the nodes no one refers to. Answers the
   * number of nodes whose count was wrong.
   */
  recount(): number {
    const counts = new Map<string, number>();
    const add = (h: string): void => {
      counts.set(h, (counts.get(h) ?? 0) + 1);
    };
    // A node that does not inflate is StorageCorrupt here (the whole recount rolls back): counted
    // without its children, they could be removed while it still names them.
    for (const r of this.#store.prepared('SELECT hash, body, deflated FROM parts').iterate() as Iterable<PartRow & { hash: string }>) {
      for (const c of referencesOf(bodyText(r.hash, r))) add(c);
    }
    for (const holder of ['versions', 'autosaves']) {
      // As the triggers count: each holder once per distinct hash it names.
      const rows = this.#store.prepared(`SELECT DISTINCT h.rowid AS r, m.value AS hash FROM "${holder}" AS h, json_each(h.manifest_json) AS m`).all() as { hash: string }[];
      for (const r of rows) add(r.hash);
    }
    const stored = this.#store.prepared('SELECT hash, refs FROM parts').all() as { hash: string; refs: number }[];
    const set = this.#store.prepared('UPDATE parts SET refs = ? WHERE hash = ?');
    let wrong = 0;
    for (const r of stored) {
      const n = counts.get(r.hash) ?? 0;
      if (n !== r.refs) {
        set.run(n, r.hash);
        wrong++;
      }
    }
    this.collect();
    return wrong;
  }

  /** A node's own text (its references not expanded), or undefined. */
  nodeText(hash: string): string | undefined {
    const row = this.#store.prepared('SELECT body, deflated FROM parts WHERE hash = ?').get(hash) as PartRow | undefined;
    return row && bodyText(hash, row);
  }

  /**
   * The nodes reachable from `roots`, each once, children before parents (the order putNode
   * takes them in): `[hash, text]` pairs of their own texts.
   */
  nodesOf(roots: Iterable<string>): [string, string][] {
    const out: [string, string][] = [];
    const seen = new Set<string>();
    const visit = (hash: string): void => {
      if (seen.has(hash)) return;
      seen.add(hash);
      const text = this.nodeText(hash);
      if (text === undefined) throw damagedPart(hash, 'is missing');
      for (const c of referencesOf(text)) visit(c);
      out.push([hash, text]);
    };
    for (const r of roots) visit(r);
    return out;
  }

  /**
   * Stores one node given as its hash and own text (an import): refused (answers a reason) when
   * the text is not the one the hash names or refers to a node that is not stored yet (children
   * come first). Answers undefined when stored (or already there).
   */
  putNode(hash: string, text: string): string | undefined {
    if (!/^[0-9a-f]{64}$/.test(hash)) return 'is not a part hash';
    if (sha256(text) !== hash) return 'is not the text its hash names';
    const children = referencesOf(text);
    for (const c of children) if (!this.#has(c)) return `refers to part ${c}, which comes neither before it nor from the store`;
    this.#insert({ hash, text, children });
    return undefined;
  }

  /** Inserts a node unless stored; the first time, counts its references to its children. */
  #insert(n: NodeText): void {
    // Most nodes of a text saved again are stored already: look before deflating.
    if (this.#has(n.hash)) return;
    const raw = Buffer.from(n.text, 'utf8');
    let body: Buffer = raw;
    let deflated = 0;
    if (raw.length >= DEFLATE_MIN_BYTES) {
      const packed = deflateRawSync(raw);
      if (packed.length <= raw.length * 0.9) {
        body = packed;
        deflated = 1;
      }
    }
    const inserted = this.#store
      .prepared('INSERT INTO parts (hash, body, deflated, size_bytes, refs) VALUES (?, ?, ?, ?, 0) ON CONFLICT (hash) DO NOTHING')
      .run(n.hash, body, deflated, raw.length);
    if (inserted.changes === 1) {
      const addRef = this.#store.prepared('UPDATE parts SET refs = refs + 1 WHERE hash = ?');
      for (const c of n.children) addRef.run(c);
    }
  }

  /**
   * Removes every node no one refers to, and then the nodes only those referred to, and so on.
   * Answers the number of nodes removed. Runs inside the caller's transaction.
   *
   * A node no one refers to whose body does not inflate (a file damaged by another tool) is removed
   * all the same, and told to onUnreadable: what it referred to cannot be known, so those nodes keep
   * its reference and stay (nothing another holder refers to is ever removed). Refusing instead
   * would fail every write that frees it (trash.empty, a save that thins the history), for good.
   */
  collect(): number {
    const take = this.#store.prepared('DELETE FROM parts WHERE id IN (SELECT id FROM parts WHERE refs = 0 LIMIT 256) RETURNING hash, body, deflated');
    const drop = this.#store.prepared('UPDATE parts SET refs = refs - 1 WHERE hash = ?');
    let removed = 0;
    for (;;) {
      const rows = take.all() as (PartRow & { hash: string })[];
      if (rows.length === 0) return removed;
      removed += rows.length;
      for (const r of rows) {
        let text: string;
        try {
          text = bodyText(r.hash, r);
        } catch (err) {
          this.onUnreadable(r.hash, (err as Error).message);
          continue;
        }
        for (const c of referencesOf(text)) drop.run(c);
      }
    }
  }

  stats(): PartStats {
    const r = this.#store
      .prepared('SELECT count(*) AS nodes, coalesce(sum(length(body)), 0) AS stored, coalesce(sum(size_bytes), 0) AS text FROM parts')
      .get() as { nodes: number; stored: number; text: number };
    return { nodes: r.nodes, storedBytes: r.stored, textBytes: r.text };
  }
}
