/**
 * One repository serves every entity, driven by its descriptor (entity.ts): the shared verb set of
 * the contract (create, get, update, save, delete, list, count, saveMany, deleteMany), full-text
 * search, and small field updates (setFavorite, markPlayed). Statements are prepared once per
 * shape and reused.
 *
 * Rules it keeps for every entity:
 * - every write is one transaction (Store.write) and announces its changes after the commit;
 * - an update never deletes: upserts are INSERT … ON CONFLICT DO UPDATE, never INSERT OR REPLACE
 *   (which deletes the old row and fires its ON DELETE CASCADE);
 * - `revision` starts at 1 and grows by 1 with every write of the row; `ifRevision` guards writes;
 * - a reference to a missing parent is refused before anything is written.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { alreadyExists, conflict, constraintViolation, invalidParams, notFound } from '../errors.js';
import { SqliteError } from './database.js';
import { ENTITIES, FAMILY_OF_TABLE } from './entities.js';
import {
  codecs,
  columnsOf,
  fieldAt,
  fieldsText,
  fromRow,
  getPath,
  partColumns,
  partTextsOfRow,
  recordText,
  summaryColumns,
  summaryDescriptor,
  toParams,
  type Codec,
  type EntityDescriptor,
  type Row,
} from './entity.js';
import { answerAs, RawJson, sameCompactJson, withMembersPieces, withPartTexts } from '../json-text.js';
import { FOLD_VERSION, foldForSearch } from '../text-fold.js';
import { derivedColumnsOf, derivedValues, NAME_KEY } from './derived.js';
import type { Store } from './store.js';

export type Model = Record<string, unknown>;
export type OrderBy = 'updatedAt' | 'createdAt' | 'name';
export type Direction = 'asc' | 'desc';
/**
 * What a cursor continues: a list's order, or another keyset walk (`rank`: search results by
 * score; `tier`: search results by tier and row, newest first; `accessedAt`: recent entries).
 */
export type CursorOrder = OrderBy | 'rank' | 'tier' | 'accessedAt';
/**
 * `full`: records whole. `summary`: records without the structured parts a browser does not
 * show (sections, mix graph, …: EntityDescriptor.summaryParts), which are not selected.
 */
export type View = 'full' | 'summary';

export interface ListOptions {
  limit?: number;
  cursor?: string;
  orderBy?: OrderBy;
  direction?: Direction;
  /** Filter values by filter name (descriptor.filters); undefined entries are ignored. */
  filters?: Record<string, unknown>;
  view?: View;
}

export interface SearchOptions {
  limit?: number;
  cursor?: string;
  view?: View;
  /**
   * Filter values by filter name (descriptor.search.filters: a string, or an array of strings for
   * a list such as tags); undefined entries are ignored.
   */
  filters?: Record<string, string | string[] | undefined>;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface DeleteResult {
  ids: string[];
  count: number;
  /** Rows removed by the schema's cascades, by entity family. */
  cascaded: Record<string, number>;
}

/**
 * What another part of the store does with a repository's writes, in the same transaction
 * (history.ts records versions and keeps the trash).
 */
export interface RepositoryHooks {
  /**
   * A full write (create, update, save, insertAsIs) left `row` in the table. May answer the row as
   * it changed it (history gives a record created again with an id it knows the next revision).
   */
  written?(desc: EntityDescriptor, row: Row): Row | void;
  /**
   * Records `ids` of `desc` are about to be deleted, and with them the rows the schema's cascades
   * remove (by family), found before anything is deleted.
   */
  deleting?(desc: EntityDescriptor, ids: string[], cascades: ReadonlyMap<string, ReadonlySet<string>>): void;
}

export const DEFAULT_PAGE_SIZE = 50;
/** The largest count an increment reaches: Number.MAX_SAFE_INTEGER, the schemas' maximum. */
export const MAX_COUNT = Number.MAX_SAFE_INTEGER;
/** At most this many words of a search query are used. */
export const MAX_SEARCH_TERMS = 32;
/**
 * A search matching more records than this is ordered by tier, newest first in each, rather than
 * by BM25, which scores and sorts every match (about 1 µs each, so 0.25 ms here): see search().
 */
export const MAX_RANKED_MATCHES = 250;
/** The SQL function that checks a list filter's whole items (registered on the connection). */
const LIST_HOLDS = 'wr_search_list_holds';

const SORT_SQL: Record<OrderBy, string> = {
  updatedAt: '"updated_at"',
  createdAt: '"created_at"',
  // The stored sort key (src/text-fold.ts): case, diacritics and ł, ø, ß … folded, numbers by value.
  name: `"${NAME_KEY}"`,
};

const q = (ident: string): string => `"${ident.replace(/"/g, '""')}"`;

/** `{id: revision}` of a row just written, for store.changed. */
const revisionsOfRow = (row: Row): Record<string, number> => ({ [row.id as string]: row.revision as number });

/**
 * Words of a search query, as FTS5 prefix phrases: `Beyoncé live` -> `"Beyoncé"* "live"*`. The
 * text is folded as the index is (`Łódź` is looked up as `Lodz`).
 */
export function ftsQuery(text: string): string | undefined {
  const words = searchWords(text).slice(0, MAX_SEARCH_TERMS);
  return words.length ? words.map((w) => `"${w}"*`).join(' ') : undefined;
}

/**
 * The words of a text as search reads them, folded as the index is. Letters, digits and combining
 * marks are what the unicode61 tokenizer keeps; everything else separates words. A word holds
 * nothing else, so quoting it means nothing the user typed is read as FTS5 syntax.
 */
function searchWords(text: string): string[] {
  return foldForSearch(text).match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
}

/**
 * A text as one key of its words, folded as search folds them (ł, ø, ß … as in the index, case
 * and diacritics dropped as the tokenizer drops them): two tags with one key are the same tag to
 * a filter ("Hip-Hop" and "hip hop"; "late\nnight" and "Late Night").
 */
export function wholeKey(text: string): string {
  // Most tags: ASCII letters and digits, words one space apart.
  if (ASCII_WORDS.test(text)) return text.toLowerCase();
  const folded = foldForSearch(text).toLowerCase().normalize('NFD').replace(/\p{M}/gu, '');
  return folded.match(/[\p{L}\p{N}]+/gu)?.join(' ') ?? '';
}
const ASCII_WORDS = /^[A-Za-z0-9]+(?: [A-Za-z0-9]+)*$/;

/** FTS5 text for words: each a quoted word, whole or (`prefix`) as the start of one. */
const ftsWords = (words: readonly string[], prefix: boolean): string => words.map((w) => `"${w}"${prefix ? '*' : ''}`).join(' ');
/** FTS5 text for words found in these columns only. */
const inColumns = (columns: readonly string[], words: string): string => `{${columns.join(' ')}} : (${words})`;

/** A search's filters, as they narrow the full-text match. */
interface SearchFilter {
  /** FTS5 text every match must also match (the filters' phrases, column by column). */
  match: string;
  /** Keys (wholeKey) a list column must hold as items, by column: checked row by row. */
  lists: { column: string; keys: string[] }[];
  /** What a cursor is bound to: every filter as folded. */
  scope: Record<string, unknown>;
}

/** Where a search continues: after a score and id (BM25), or after a row of a tier. */
type SearchCursor = { order: 'rank'; score: number; id: string } | { order: 'tier'; tier: number; rowid: number };

/** The same items, as a key: the check function is handed JSON arrays, parsed once per query. */
let lastKeysText = '';
let lastKeys: string[] = [];

/**
 * Whether a JSON array of strings (a stored tag list) holds, for every key, an item with that key.
 * What a list filter checks on each row the index found: the index knows a tag's words, not where
 * one tag ends and the next begins ("acid jazz" holds the words of "jazz").
 */
function listHolds(listText: unknown, keysText: unknown): number {
  if (typeof listText !== 'string' || typeof keysText !== 'string') return 0;
  if (keysText !== lastKeysText) {
    lastKeys = JSON.parse(keysText) as string[];
    lastKeysText = keysText;
  }
  let list: unknown;
  try {
    list = JSON.parse(listText);
  } catch {
    return 0;
  }
  if (!Array.isArray(list)) return 0;
  const have = list.map((t) => (typeof t === 'string' ? wholeKey(t) : undefined));
  return lastKeys.every((k) => have.includes(k)) ? 1 : 0;
}

/** The columns a record's text is made of: id, every mapped column, timestamps, revision. */
function recordColumns(desc: EntityDescriptor): string[] {
  return [
    'id',
    ...columnsOf(desc),
    ...(desc.timestamps.created ? ['created_at'] : []),
    ...(desc.timestamps.updated ? ['updated_at'] : []),
    'revision',
  ];
}

/** A codec that reads a JSON column as its text (parseOnRead makes the value of it). */
const storedText: Codec = { width: 1, toDb: (v) => [v], fromDb: ([v]) => (v === null || v === undefined ? undefined : v) };

/**
 * `desc` with its top-level structured parts (the `*_json` columns of partColumns) read as their
 * stored text, and those parts' paths. Made once per descriptor.
 */
const asText = new WeakMap<EntityDescriptor, { desc: EntityDescriptor; paths: string[] }>();
function partsAsText(desc: EntityDescriptor): { desc: EntityDescriptor; paths: string[] } {
  let d = asText.get(desc);
  if (!d) {
    const parts = new Set(partColumns(desc).filter((p) => !p.path.includes('.')).map((p) => p.path));
    d = { desc: { ...desc, fields: desc.fields.map((f) => (parts.has(f.path) ? { ...f, codec: storedText } : f)) }, paths: [...parts] };
    asText.set(desc, d);
  }
  return d;
}

/**
 * Makes `model[key]`, which holds a stored JSON text, the value of that text, parsed the first time
 * it is read (then an ordinary property: later reads are plain reads). Assigning it first skips the
 * parse. The property keeps its place among the model's keys.
 */
function parseOnRead(model: Record<string, unknown>, key: string, text: string): void {
  const settle = (value: unknown): void => void Object.defineProperty(model, key, { value, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(model, key, {
    enumerable: true,
    configurable: true,
    get(): unknown {
      const value: unknown = JSON.parse(text);
      settle(value);
      return value;
    },
    set: settle,
  });
}

export class Repository<T extends object = Model> {
  readonly desc: EntityDescriptor;
  readonly #store: Store;
  readonly #hooks: RepositoryHooks;
  readonly #statements = new Map<string, Statement>();
  #generation = 0;
  /** The connection search's SQL functions are registered on. */
  #functionsOn: unknown;

  constructor(store: Store, desc: EntityDescriptor, hooks: RepositoryHooks = {}) {
    this.#store = store;
    this.desc = desc;
    this.#hooks = hooks;
  }

  /** Tells the hooks about a row a full write left, announces it, and answers its model. */
  #written(row: Row, op: 'insert' | 'update'): T {
    const final = this.#hooks.written?.(this.desc, row) ?? row;
    this.#store.recordChange(this.desc.entity, op, [final.id as string], revisionsOfRow(final));
    return this.#model(final);
  }

  get #table(): string {
    return q(this.desc.table);
  }

  /** A prepared statement, built by `sql()` the first time `key` is asked for. */
  #stmt(key: string, sql: () => string): Statement {
    if (this.#generation !== this.#store.generation) {
      // The store reopened its file (a restore): statements of the old connection are dead.
      this.#statements.clear();
      this.#generation = this.#store.generation;
    }
    let s = this.#statements.get(key);
    if (!s) this.#statements.set(key, (s = this.#store.db.prepare(sql())));
    return s;
  }

  /**
   * The model of a row; an answer writes it as the row's own text (structured parts as stored).
   * Its structured parts are parsed when first read, not before: an answer never reads them (it
   * writes their stored text), and parsing a song's 200 KB of sections was most of a songs.get.
   */
  #model(row: Row): T {
    const { desc, paths } = partsAsText(this.desc);
    const model = fromRow(desc, row);
    for (const path of paths) {
      const text = model[path];
      if (typeof text === 'string') parseOnRead(model, path, text);
    }
    return answerAs(withPartTexts(model, partTextsOfRow(this.desc, row)), recordText(this.desc, row)) as T;
  }

  /**
   * The summary of a row read with `summaryColumns`: plain values (written by JSON.stringify, as
   * a full record's scalar fields are), and each part a summary keeps written as its stored text.
   * It carries no part texts and no record text: it is never taken for a whole record.
   */
  #summary(row: Row): Model {
    const model = fromRow(summaryDescriptor(this.desc), row);
    const kept = new Set(this.desc.summaryParts ?? []);
    for (const { column, path } of partColumns(this.desc)) {
      const text = row[column];
      if (!kept.has(path) || typeof text !== 'string' || path.includes('.')) continue;
      const value = model[path];
      model[path] = typeof value === 'object' && value !== null ? answerAs(value, text) : new RawJson(text);
    }
    return model;
  }

  /**
   * The SELECT list of a view (`extra`: columns the caller needs beside the record's). A summary
   * selects no part: none is copied out of SQLite (which still steps through a part's overflow
   * pages to reach the columns stored after it in the row).
   */
  #columns(view: View, alias = '', extra: readonly string[] = []): string {
    if (view === 'full') return `${alias}*`;
    return summaryColumns(this.desc, extra).map((c) => `${alias}${q(c)}`).join(', ');
  }

  #answer(view: View): (row: Row) => T {
    return view === 'full' ? (r) => this.#model(r) : (r) => this.#summary(r) as T;
  }

  // -------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------

  /** The record with `id`. Throws NotFound. */
  get(id: string): T {
    const row = this.#stmt('get', () => `SELECT * FROM ${this.#table} WHERE "id" = ?`).get(id) as Row | undefined;
    if (!row) throw notFound(this.desc.entity, id);
    return this.#model(row);
  }

  /**
   * The record with `id` as an answer writes it (get's JSON text, structured parts as stored),
   * without building its model: what `${family}.get` answers. Throws NotFound.
   */
  getAnswer(id: string): RawJson {
    const row = this.#stmt('getAnswer', () => `SELECT ${recordColumns(this.desc).map(q).join(', ')} FROM ${this.#table} WHERE "id" = ?`).get(id) as
      | Row
      | undefined;
    if (!row) throw notFound(this.desc.entity, id);
    // recordText, as pieces: the stored parts are sent as they were read, never joined into one string.
    return new RawJson(withMembersPieces(fieldsText(this.desc, row), partTextsOfRow(this.desc, row)));
  }

  /**
   * The records with these ids, in the order asked, and the ids no record has (`missing`, in the
   * order asked). One statement, whatever the number of ids.
   */
  getMany(ids: readonly string[], view: View = 'full'): { items: T[]; missing: string[] } {
    const rows = this.#stmt(`getMany:${view}`, () =>
      `SELECT ${this.#columns(view)} FROM ${this.#table} WHERE "id" IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(ids)) as Row[];
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    const answer = this.#answer(view);
    const items: T[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const row = byId.get(id);
      if (row) items.push(answer(row));
      else missing.push(id);
    }
    return { items, missing };
  }

  /** The stored revision of `id`, or undefined. */
  revisionOf(id: string): number | undefined {
    const row = this.#stmt('revision', () => `SELECT "revision" FROM ${this.#table} WHERE "id" = ?`).get(id) as
      | { revision: number }
      | undefined;
    return row?.revision;
  }

  /**
   * Whether saving `item` over the stored row of its id would change what the row holds: every
   * mapped column compared, timestamps and revision aside, keepWhenAbsent fields the item does not
   * carry aside (they are kept), JSON columns as values (sameCompactJson: members in another order
   * and strings escaped otherwise are the same value; every number as written, so a change past
   * 2^53 is a change).
   * True when there is no such row.
   */
  wouldChange(item: Model & { id: string }): boolean {
    const row = this.#stmt('get', () => `SELECT * FROM ${this.#table} WHERE "id" = ?`).get(item.id) as Row | undefined;
    if (!row) return true;
    const params = toParams(this.desc, item, this.#store.columnDefaults(this.desc.table));
    for (const f of this.desc.fields) {
      for (const c of f.columns) {
        const next = f.keepWhenAbsent ? params[`keep_${c}`] : params[c];
        if (f.keepWhenAbsent && next === null) continue;
        const stored = row[c];
        if (next === stored) continue;
        const both = typeof next === 'string' && typeof stored === 'string';
        // Texts the store wrote are compact, and two compact texts of one value differ in length
        // only by their strings' escapes (sameCompactJson); a stored text that is not compact at
        // worst counts as a change, and is written again.
        if (f.codec === codecs.json && both && sameCompactJson(next, stored)) continue;
        return true;
      }
    }
    return false;
  }

  /**
   * One page in a stable order (keyset pagination: each page continues after the last row of the
   * previous one, so inserts and deletes between pages neither repeat nor skip rows).
   * Throws InvalidParams for a cursor that is damaged or was made for another order.
   */
  list(options: ListOptions = {}): Page<T> {
    const orderBy = options.orderBy ?? 'updatedAt';
    const direction = options.direction ?? (orderBy === 'name' ? 'asc' : 'desc');
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    const view = options.view ?? 'full';
    const { where, params, key } = this.#filters(options.filters);
    let after: [unknown, string] | undefined;
    const scope = this.#cursorScope(orderBy, options.filters);
    if (options.cursor !== undefined) after = decodeCursor(options.cursor, orderBy, direction, scope);
    const sort = SORT_SQL[orderBy];
    const cmp = direction === 'asc' ? '>' : '<';
    const clauses = after ? [...where, `(${sort}, "id") ${cmp} (@cursor_value, @cursor_id)`] : where;
    const stmt = this.#stmt(`list:${view}:${orderBy}:${direction}:${key}:${after ? 1 : 0}`, () => {
      const dir = direction.toUpperCase();
      return (
        `SELECT ${this.#columns(view, '', this.desc.nameKey ? [NAME_KEY] : [])} FROM ${this.#table}` +
        (clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '') +
        ` ORDER BY ${sort} ${dir}, "id" ${dir} LIMIT @limit`
      );
    });
    const rows = stmt.all({
      ...params,
      ...(after ? { cursor_value: after[0], cursor_id: after[1] } : {}),
      limit: limit + 1,
    }) as Row[];
    const page: Page<T> = { items: rows.slice(0, limit).map(this.#answer(view)) };
    if (rows.length > limit) {
      const last = rows[limit - 1]!;
      const value = orderBy === 'name' ? last[NAME_KEY] : orderBy === 'createdAt' ? last.created_at : last.updated_at;
      page.nextCursor = encodeCursor(orderBy, direction, value, last.id as string, scope);
    }
    return page;
  }

  /**
   * What a cursor is bound to: the family and the filters of the list and, in name order, the
   * folding its sort keys were made with (a cursor made before the keys changed, or for another
   * family's list, would continue from the wrong place).
   */
  #cursorScope(orderBy: OrderBy, filters?: Record<string, unknown>): Record<string, unknown> {
    const scope = { ...this.#filterValues(filters), '(family)': this.desc.entity };
    return orderBy === 'name' ? { ...scope, '(name order)': FOLD_VERSION } : scope;
  }

  /** The filters of this entity among `filters` (what a list is narrowed by; nothing else). */
  #filterValues(filters: Record<string, unknown> = {}): Record<string, unknown> {
    return Object.fromEntries(Object.keys(this.desc.filters).map((name) => [name, filters[name]]));
  }

  /** Number of records matching the filters. */
  count(filters?: Record<string, unknown>): number {
    const { where, params, key } = this.#filters(filters);
    const stmt = this.#stmt(`count:${key}`, () =>
      `SELECT count(*) AS n FROM ${this.#table}` + (where.length ? ` WHERE ${where.join(' AND ')}` : ''),
    );
    return (stmt.get(params) as { n: number }).n;
  }

  #filters(filters: Record<string, unknown> = {}): { where: string[]; params: Row; key: string } {
    const where: string[] = [];
    const params: Row = {};
    const names: string[] = [];
    for (const [name, spec] of Object.entries(this.desc.filters)) {
      const value = filters[name];
      if (value === undefined) continue;
      const { path, op } = typeof spec === 'string' ? { path: spec, op: 'equals' } : spec;
      const f = path === 'updatedAt' ? undefined : fieldAt(this.desc, path);
      const column = q(f ? f.columns[0]! : 'updated_at');
      // `has`: an item of the JSON array equal to the value (json_each reads the row's own column).
      where.push(
        op === 'has'
          ? `EXISTS (SELECT 1 FROM json_each(${column}) WHERE "value" = @filter_${name})`
          : `${column} ${op === 'atLeast' ? '>=' : '='} @filter_${name}`,
      );
      params[`filter_${name}`] = f && op === 'equals' ? f.codec.toDb(value)[0] : value;
      names.push(name);
    }
    return { where, params, key: names.join(',') };
  }

  /**
   * Full-text search. Every word must match a word or the start of one, ignoring case and
   * diacritics, and every filter (descriptor.search.filters) must hold; the text and the filter
   * values are never parsed as FTS5 syntax. `text` undefined (no query) is allowed with a filter.
   *
   * Order, chosen on the first page and kept by its cursor:
   * - without a filter, at most MAX_RANKED_MATCHES matches: best first by BM25, ties by id (`rank`);
   * - more (BM25 would score every one), or with a filter (BM25 would weigh the filter's words,
   *   reading every row that holds them): by tier (descriptor.search.tiers: words found whole in
   *   the name, then in the other main fields, then anywhere, then only as the start of a word),
   *   newest row first within a tier (`tier`). Each tier is walked in the index's own row order and
   *   stops at the page's end.
   * Keyset pages: a cursor holds the last row's place and the query and filters it was made for
   * (-32602 at /cursor with others). Scores depend on the whole index (BM25 weighs a word by how
   * many rows hold it), so a write between pages may move rows across the cursor.
   */
  search(text: string | undefined, options: SearchOptions = {}): Page<T> {
    const spec = this.desc.search;
    if (!spec) throw new Error(`${this.desc.entity} has no full-text index`);
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    const view = options.view ?? 'full';
    const filter = this.#searchFilter(options.filters);
    if (text === undefined && !filter) {
      throw invalidParams([{ path: '/query', message: 'is required when no filter is given' }]);
    }
    const words = text === undefined ? [] : searchWords(text).slice(0, MAX_SEARCH_TERMS);
    const match = words.length ? ftsWords(words, true) : undefined;
    // The cursor is bound to the family, to the query as searched (its words after folding:
    // "łódź" and "lodz" are one query; case counts), to the filters as folded, and to the folding.
    const scope = {
      entity: this.desc.entity,
      query: match ?? null,
      '(folding)': FOLD_VERSION,
      ...(filter ? { '(filters)': filter.scope } : {}),
    };
    const after = options.cursor === undefined ? undefined : searchCursor(options.cursor, scope);
    if (!match && !filter) return { items: [] };
    const both = (m: string): string => (filter ? `(${filter.match}) AND (${m})` : m);
    // Tiers, each an FTS5 query; a row is in the first whose query it matches.
    const tiers: string[] = [];
    if (!match) tiers.push(filter!.match);
    else {
      const whole = ftsWords(words, false);
      const levels = spec.tiers ? [...spec.tiers.map((columns) => inColumns(columns, whole)), whole, match] : [match];
      levels.forEach((level, i) => tiers.push(both(i === 0 ? level : `(${level}) NOT (${levels[i - 1]})`)));
    }
    let order: 'rank' | 'tier';
    if (after) order = after.order;
    // BM25 would weigh a filter's words too, and finding their weight reads every row that holds
    // them (a filter's words are common): with a filter, by tier.
    else if (!match || filter) order = 'tier';
    else if (!spec.tiers) order = 'rank';
    else {
      // Whole words are counted first: their doclists are read lazily, a prefix's are merged whole.
      const many = (m: string): boolean => this.#countUpTo(m, MAX_RANKED_MATCHES + 1) > MAX_RANKED_MATCHES;
      order = many(ftsWords(words, false)) || many(match!) ? 'tier' : 'rank';
    }
    if ((after?.order === 'tier' && after.tier > tiers.length) || (after?.order === 'rank' && (!match || filter))) {
      throw invalidParams([{ path: '/cursor', message: 'is not a cursor this store made; start again without one' }]);
    }
    const rows =
      order === 'rank'
        ? this.#searchRanked(match!, limit, view, after?.order === 'rank' ? after : undefined)
        : this.#searchTiers(tiers, filter, limit, view, after?.order === 'tier' ? after : undefined);
    const items = rows.slice(0, limit).map(this.#answer(view));
    if (rows.length <= limit) return { items };
    const last = rows[limit - 1]!;
    const nextCursor =
      order === 'rank'
        ? encodeCursor('rank', 'asc', last['(score)'], last.id as string, scope)
        : encodeCursor('tier', 'desc', last['(tier)'], String(last['(rowid)']), scope);
    return { items, nextCursor };
  }

  /** How many records match `match`, counting no further than `cap`. */
  #countUpTo(match: string, cap: number): number {
    const fts = q(this.desc.search!.table);
    const stmt = this.#stmt('search:count', () => `SELECT count(*) AS "n" FROM (SELECT 1 FROM ${fts} WHERE ${fts} MATCH @match LIMIT @cap)`);
    return (stmt.get({ match, cap }) as { n: number }).n;
  }

  /**
   * Up to limit + 1 matches after `after`, best first by BM25, ties by id. The scores of all
   * matches are put aside (rowid and score only); only the rows up to the page's last score are
   * looked up for their ids, and only the page's rows are read whole.
   */
  #searchRanked(match: string, limit: number, view: View, after?: { score: number; id: string }): Row[] {
    const spec = this.desc.search!;
    const fts = q(spec.table);
    const stmt = this.#stmt(`search:rank:${view}:${after ? 1 : 0}`, () =>
      `WITH "s" AS MATERIALIZED (SELECT ${fts}."rowid" AS "rid", bm25(${fts}, ${spec.weights.join(', ')}) AS "score" ` +
      `FROM ${fts} WHERE ${fts} MATCH @match) ` +
      `SELECT ${this.#columns(view, 't.')}, p."score" AS "(score)" FROM (` +
      `SELECT "s"."rid" AS "rid", "s"."score" AS "score", m."id" AS "id" FROM "s" JOIN ${this.#table} AS m ON m."rowid" = "s"."rid" ` +
      // The score of the last row a page can reach: the (limit + 1)th score after the cursor's.
      `WHERE "s"."score" <= coalesce((SELECT "score" FROM "s"${after ? ' WHERE "score" > @cursor_value' : ''} ORDER BY "score" LIMIT 1 OFFSET @limit - 1), "s"."score")` +
      (after ? ' AND ("s"."score", m."id") > (@cursor_value, @cursor_id)' : '') +
      ' ORDER BY "s"."score", m."id" LIMIT @limit' +
      `) AS p JOIN ${this.#table} AS t ON t."rowid" = p."rid" ORDER BY p."score", p."id"`,
    );
    return stmt.all({ match, limit: limit + 1, ...(after ? { cursor_value: after.score, cursor_id: after.id } : {}) }) as Row[];
  }

  /**
   * Up to limit + 1 matches after `after`, tier by tier, newest row first in each: FTS5 walks its
   * index in row order and stops at the page's end.
   */
  #searchTiers(tiers: string[], filter: SearchFilter | undefined, limit: number, view: View, after?: { tier: number; rowid: number }): Row[] {
    const fts = q(this.desc.search!.table);
    const lists = filter?.lists ?? [];
    const rows: Row[] = [];
    for (let tier = after?.tier ?? 1; tier <= tiers.length && rows.length <= limit; tier++) {
      const from = after?.tier === tier;
      const stmt = this.#stmt(`search:tier:${view}:${from ? 1 : 0}:${lists.map((l) => l.column).join(',')}`, () => {
        this.#registerSearchFunctions();
        const checks = lists.map((l, i) => ` AND ${LIST_HOLDS}(t.${q(l.column)}, @list_${i})`).join('');
        return (
          `SELECT ${this.#columns(view, 't.')}, ${fts}."rowid" AS "(rowid)" FROM ${fts} JOIN ${this.#table} AS t ON t."rowid" = ${fts}."rowid" ` +
          `WHERE ${fts} MATCH @match${from ? ` AND ${fts}."rowid" < @before` : ''}${checks} ORDER BY ${fts}."rowid" DESC LIMIT @limit`
        );
      });
      const found = stmt.all({
        match: tiers[tier - 1],
        limit: limit + 1 - rows.length,
        ...Object.fromEntries(lists.map((l, i) => [`list_${i}`, JSON.stringify(l.keys)])),
        ...(from ? { before: after!.rowid } : {}),
      }) as Row[];
      for (const row of found) {
        row['(tier)'] = tier;
        rows.push(row);
      }
    }
    return rows;
  }

  /** The SQL function list filters use, on this connection (a restore opens another). */
  #registerSearchFunctions(): void {
    if (this.#functionsOn === this.#store.db) return;
    this.#store.db.function(LIST_HOLDS, { deterministic: true, directOnly: true }, listHolds);
    this.#functionsOn = this.#store.db;
  }

  /**
   * The filters of a search, checked: each value must hold a word (-32602 at its path otherwise).
   * A value is matched as the phrase of its words in its column; a list's values (tags) also as
   * whole items. Undefined when no filter is given (an empty list is none).
   */
  #searchFilter(filters: SearchOptions['filters'] = {}): SearchFilter | undefined {
    const specs = this.desc.search?.filters ?? {};
    const match: string[] = [];
    const lists: SearchFilter['lists'] = [];
    const scope: Record<string, unknown> = {};
    const errors: { path: string; message: string }[] = [];
    const phrase = (value: string, path: string): string | undefined => {
      const words = searchWords(value);
      if (words.length) return words.map((w) => `"${w}"`).join(' + ');
      errors.push({ path, message: 'has no letters or digits: a filter matches words' });
      return undefined;
    };
    for (const [name, f] of Object.entries(specs)) {
      const value = filters[name];
      if (value === undefined) continue;
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0) continue;
      const keys: string[] = [];
      values.forEach((v, i) => {
        const p = phrase(v, Array.isArray(value) ? `/${name}/${i}` : `/${name}`);
        if (p === undefined) return;
        match.push(inColumns([f.column], p));
        keys.push(wholeKey(v));
      });
      if (f.list) lists.push({ column: f.column, keys });
      // As the query: its words after folding (case counts).
      scope[name] = values.map((v) => searchWords(v).join(' '));
    }
    if (errors.length) throw invalidParams(errors);
    return match.length ? { match: match.join(' AND '), lists, scope } : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Writes
  // -------------------------------------------------------------------------------------------

  /** Inserts a new record. `id` is generated when absent. Throws AlreadyExists, ConstraintViolation. */
  create(item: Model): T {
    return this.#store.write(() => {
      const params = this.#writeParams(item, true);
      let row: Row;
      try {
        row = this.#stmt('insert', () => this.#insertSql('')).get(params) as Row;
      } catch (err) {
        if (err instanceof SqliteError && err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw alreadyExists(this.desc.entity, params.id as string);
        }
        throw this.#named(err, params);
      }
      return this.#written(row, 'insert');
    });
  }

  /**
   * Replaces an existing record whole (createdAt and keepWhenAbsent fields that the item does not
   * carry are kept). Throws NotFound, Conflict (ifRevision), ConstraintViolation.
   */
  update(item: Model & { id: string }, ifRevision?: number): T {
    return this.#store.write(() => {
      const params = { ...this.#writeParams(item, false), if_revision: ifRevision ?? null };
      const row = this.#named(() => this.#updateStatement().get(params) as Row | undefined, params);
      if (!row) throw this.#missingOrConflict(item.id, ifRevision);
      return this.#written(row, 'update');
    });
  }

  #updateStatement(): Statement {
    return this.#stmt('update', () => {
      const set = this.#assignments((c) => `@${c}`);
      return (
        `UPDATE ${this.#table} SET ${set}` +
        `${this.desc.timestamps.updated ? ', "updated_at" = @updated_at' : ''}, "revision" = "revision" + 1 ` +
        `WHERE "id" = @id AND (@if_revision IS NULL OR "revision" = @if_revision) RETURNING *`
      );
    });
  }

  /**
   * A partial update (X.update): every field `item` carries replaces the stored one, every field
   * it leaves out keeps its stored value (never a default; a song's `metadata.tempo` is a field of
   * its own). createdAt is kept. Throws NotFound, Conflict (ifRevision), ConstraintViolation.
   */
  patch(item: Model & { id: string }, ifRevision?: number, at = '/item'): T {
    return this.#store.write(() => {
      const stored = this.#stmt('get', () => `SELECT * FROM ${this.#table} WHERE "id" = ?`).get(item.id) as Row | undefined;
      if (!stored) throw notFound(this.desc.entity, item.id);
      if (ifRevision !== undefined && stored.revision !== ifRevision) throw conflict(this.desc.entity, item.id, ifRevision, stored.revision as number);
      const params = { ...this.#writeParams(item, false, at, stored), if_revision: ifRevision ?? null };
      const row = this.#named(() => this.#updateStatement().get(params) as Row | undefined, params);
      if (!row) throw this.#missingOrConflict(item.id, ifRevision);
      return this.#written(row, 'update');
    });
  }

  /**
   * Inserts the record, or updates it in place when its id exists. Never deletes anything. With
   * `ifRevision` the record must be stored at that revision (NotFound, Conflict otherwise).
   */
  save(item: Model, at = '/item', ifRevision?: number): T {
    return this.#store.write(() => {
      if (ifRevision !== undefined) this.#expectRevision(item.id, ifRevision, `${at}/id`);
      const params = this.#writeParams(item, true, at);
      const row = this.#named(() => this.#stmt('upsert', () => {
        const set = this.#assignments((c) => `excluded.${q(c)}`);
        return this.#insertSql(
          ` ON CONFLICT("id") DO UPDATE SET ${set}` +
            `${this.desc.timestamps.updated ? ', "updated_at" = excluded."updated_at"' : ''}, "revision" = "revision" + 1`,
        );
      }).get(params) as Row, params);
      return this.#written(row, row.revision === 1 ? 'insert' : 'update');
    });
  }

  /**
   * Inserts a record as it was exported: its createdAt, updatedAt and revision are kept (an import
   * restores records, it does not edit them). Throws AlreadyExists when the id is taken.
   */
  insertAsIs(item: Model, at = '/item'): T {
    return this.#store.write(() => {
      const params = this.#writeParams(item, true, at);
      if (this.desc.timestamps.updated && typeof item.updatedAt === 'number') params.updated_at = item.updatedAt;
      params.revision = typeof item.revision === 'number' ? item.revision : 1;
      let row: Row;
      try {
        row = this.#stmt('insertAsIs', () => this.#insertSql('', ['revision'])).get(params) as Row;
      } catch (err) {
        if (err instanceof SqliteError && err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw alreadyExists(this.desc.entity, params.id as string);
        throw this.#named(err, params);
      }
      return this.#written(row, 'insert');
    });
  }

  /**
   * Saves every item in one transaction: all or none. `ifRevisions` gives the revision an item
   * must be stored at, by id (each id one of the items': InvalidParams otherwise).
   */
  saveMany(items: Model[], ifRevisions: Readonly<Record<string, number>> = {}): T[] {
    return this.#store.write(() => {
      this.#namesOnly(ifRevisions, items.map((item) => item.id));
      return items.map((item, i) => this.save(item, `/items/${i}`, typeof item.id === 'string' ? ifRevisions[item.id] : undefined));
    });
  }

  /**
   * Refuses (NotFound, Conflict) a write guarded by `ifRevision` of a record that is not stored at
   * that revision; `at` points at the id, which the guard needs.
   */
  #expectRevision(id: unknown, ifRevision: number, at: string): void {
    if (typeof id !== 'string') throw invalidParams([{ path: at, message: 'is required with ifRevision: the id of the record that must be at that revision' }]);
    const actual = this.revisionOf(id);
    if (actual === undefined) throw notFound(this.desc.entity, id);
    if (actual !== ifRevision) throw conflict(this.desc.entity, id, ifRevision, actual);
  }

  /** Refuses `ifRevisions` naming an id that is none of `ids` (a typo would guard nothing). */
  #namesOnly(ifRevisions: Readonly<Record<string, number>>, ids: unknown[]): void {
    const known = new Set(ids);
    const stray = Object.keys(ifRevisions).filter((id) => !known.has(id));
    if (stray.length) {
      throw invalidParams(stray.map((id) => ({ path: `/ifRevisions/${id.replace(/~/g, '~0').replace(/\//g, '~1')}`, message: 'names no record of this call' })));
    }
  }

  /**
   * Sets some fields and/or increments integer fields, advancing the revision but not updatedAt
   * (setFavorite, markPlayed: they record use, not an edit). Throws NotFound, Conflict.
   * Not for the fields the derived columns are made from (names, indexed text): a full write does those.
   */
  setFields(id: string, set: Record<string, unknown>, options: { increment?: string[]; ifRevision?: number } = {}): T {
    return this.#store.write(() => {
      const paths = Object.keys(set);
      const increment = options.increment ?? [];
      const params: Row = { id, if_revision: options.ifRevision ?? null };
      const assignments: string[] = [];
      for (const path of paths) {
        const f = fieldAt(this.desc, path);
        if (f.columns.some((c) => c === 'name' || this.desc.search?.columns.includes(c))) {
          throw new Error(`${this.desc.entity}: setFields cannot set ${path}, which derived columns are made from`);
        }
        const values = f.codec.toDb(set[path]);
        f.columns.forEach((c, i) => {
          assignments.push(`${q(c)} = @${c}`);
          params[c] = values[i];
        });
      }
      for (const path of increment) {
        // A counter stops at the largest integer JSON carries exactly (the schemas' maximum):
        // one more would be answered as a number no host can read back unchanged.
        const c = fieldAt(this.desc, path).columns[0]!;
        assignments.push(`${q(c)} = min(${q(c)} + 1, ${MAX_COUNT})`);
      }
      const row = this.#stmt(`set:${paths.join(',')}:+${increment.join(',')}`, () =>
        `UPDATE ${this.#table} SET ${assignments.join(', ')}, "revision" = "revision" + 1 ` +
        `WHERE "id" = @id AND (@if_revision IS NULL OR "revision" = @if_revision) RETURNING *`,
      ).get(params) as Row | undefined;
      if (!row) throw this.#missingOrConflict(id, options.ifRevision);
      this.#store.recordChange(this.desc.entity, 'update', [id], revisionsOfRow(row));
      return this.#model(row);
    });
  }

  /** Deletes one record and what the schema cascades to. Throws NotFound, Conflict. */
  delete(id: string, ifRevision?: number): DeleteResult {
    return this.#store.write(() => {
      const revision = this.revisionOf(id);
      if (revision === undefined) throw notFound(this.desc.entity, id);
      if (ifRevision !== undefined && revision !== ifRevision) throw conflict(this.desc.entity, id, ifRevision, revision);
      return this.#deleteIds([id]);
    });
  }

  /**
   * Deletes every id in one transaction: all or none. Throws NotFound naming the first missing id,
   * Conflict naming the first whose revision is not the one `ifRevisions` gives for it.
   */
  deleteMany(ids: string[], ifRevisions: Readonly<Record<string, number>> = {}): DeleteResult {
    return this.#store.write(() => {
      this.#namesOnly(ifRevisions, ids);
      for (const id of ids) {
        const expected = ifRevisions[id];
        if (expected !== undefined) this.#expectRevision(id, expected, '/ids');
        else if (this.revisionOf(id) === undefined) throw notFound(this.desc.entity, id);
      }
      return this.#deleteIds(ids);
    });
  }

  #deleteIds(ids: string[]): DeleteResult {
    // Find what the schema's ON DELETE rules will remove or detach, before they do it, so the
    // answer can say how many and store.changed can name them.
    const removed = new Map<string, Set<string>>();
    const detached = new Map<string, { table: string; ids: Set<string> }>();
    const visit = (table: string, parentIds: string[]): void => {
      for (const edge of this.#store.foreignKeysTo(table)) {
        const family = FAMILY_OF_TABLE[edge.childTable] ?? edge.childTable;
        if (edge.onDelete === 'cascade' && !removed.has(family)) removed.set(family, new Set());
        if (parentIds.length === 0) continue;
        const childIds = this.#stmt(`children:${edge.childTable}.${edge.childColumn}`, () =>
          `SELECT "id" FROM ${q(edge.childTable)} WHERE ${q(edge.childColumn)} IN (SELECT value FROM json_each(?))`,
        )
          .pluck()
          .all(JSON.stringify(parentIds)) as string[];
        if (edge.onDelete === 'cascade') {
          const set = removed.get(family)!;
          const fresh = childIds.filter((c) => !set.has(c));
          for (const c of fresh) set.add(c);
          visit(edge.childTable, fresh);
        } else if (edge.onDelete === 'set null' && childIds.length) {
          const entry = detached.get(family) ?? { table: edge.childTable, ids: new Set<string>() };
          for (const c of childIds) entry.ids.add(c);
          detached.set(family, entry);
        }
      }
    };
    visit(this.desc.table, ids);
    this.#hooks.deleting?.(this.desc, ids, removed);
    const del = this.#stmt('delete', () => `DELETE FROM ${this.#table} WHERE "id" = ?`);
    for (const id of ids) del.run(id);
    this.#store.recordChange(this.desc.entity, 'delete', ids);
    const cascaded: Record<string, number> = {};
    this.#forgetRecent(this.desc, ids);
    for (const [family, set] of removed) {
      cascaded[family] = set.size;
      this.#store.recordChange(family, 'delete', set);
      const child = ENTITIES[family];
      if (child) this.#forgetRecent(child, [...set]);
    }
    // ON DELETE SET NULL changed these rows: that is a write of them, so their revision grows
    // (a host holding the old revision must not overwrite the detach unnoticed).
    for (const [family, { table, ids: rows }] of detached) {
      const gone = removed.get(family);
      const changed = [...rows].filter((c) => !gone?.has(c));
      if (changed.length === 0) continue;
      const revised = this.#stmt(`detached:${table}`, () =>
        `UPDATE ${q(table)} SET "revision" = "revision" + 1 WHERE "id" IN (SELECT value FROM json_each(?)) RETURNING "id", "revision"`,
      ).all(JSON.stringify(changed)) as { id: string; revision: number }[];
      this.#store.recordChange(family, 'update', changed, Object.fromEntries(revised.map((r) => [r.id, r.revision])));
    }
    return { ids, count: ids.length, cascaded };
  }

  /** Deleted records leave the recently used list in the same transaction. */
  #forgetRecent(desc: EntityDescriptor, ids: string[]): void {
    if (!desc.recentType || ids.length === 0) return;
    const gone = this.#stmt(`recent:${desc.recentType}`, () =>
      `DELETE FROM "recently_used" WHERE "item_type" = ? AND "item_id" IN (SELECT value FROM json_each(?)) RETURNING "id"`,
    )
      .pluck()
      .all(desc.recentType, JSON.stringify(ids)) as string[];
    if (gone.length) this.#store.recordChange('recent', 'delete', gone);
  }

  // -------------------------------------------------------------------------------------------
  // SQL building
  // -------------------------------------------------------------------------------------------

  /**
   * Named parameters of a write: the mapped columns, id, and timestamps. With `stored` (a partial
   * update) the fields the item leaves out keep that row's values.
   */
  #writeParams(item: Model, inserting: boolean, at = '/item', stored?: Row): Row {
    const now = this.#store.now();
    this.#checkParents(item);
    const params = toParams(this.desc, item, this.#store.columnDefaults(this.desc.table), stored);
    params.id = (item.id as string | undefined) ?? (inserting ? randomUUID() : undefined);
    const refused = this.desc.check?.(params, at, {
      lookup: (table, id) =>
        this.#stmt(`lookup:${table}`, () => `SELECT * FROM ${q(table)} WHERE "id" = ?`).get(id) as Row | undefined,
      all: (sql, p) => this.#stmt(`check:${sql}`, () => sql).all(p) as Row[],
    });
    if (refused) throw refused;
    Object.assign(params, derivedValues(this.desc, params));
    if (this.desc.timestamps.created) params.created_at = (item.createdAt as number | undefined) ?? now;
    if (this.desc.timestamps.updated) params.updated_at = now;
    return params;
  }

  #insertSql(tail: string, extra: string[] = []): string {
    const cols = ['id', ...columnsOf(this.desc), ...derivedColumnsOf(this.desc), ...extra];
    if (this.desc.timestamps.created) cols.push('created_at');
    if (this.desc.timestamps.updated) cols.push('updated_at');
    return (
      `INSERT INTO ${this.#table} (${cols.map(q).join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})` +
      `${tail} RETURNING *`
    );
  }

  /**
   * `col = <value>` for every mapped and derived column; keepWhenAbsent columns keep the stored
   * value on NULL.
   */
  #assignments(value: (column: string) => string): string {
    return [
      ...this.desc.fields.flatMap((f) =>
        f.columns.map((c) => (f.keepWhenAbsent ? `${q(c)} = coalesce(@keep_${c}, ${q(c)})` : `${q(c)} = ${value(c)}`)),
      ),
      ...derivedColumnsOf(this.desc).map((c) => `${q(c)} = ${value(c)}`),
    ].join(', ');
  }

  /** Refuses a write whose parent references point nowhere (ConstraintViolation, nothing written). */
  #checkParents(item: Model): void {
    for (const [path, parentEntity] of Object.entries(this.desc.parents)) {
      const value = getPath(item, path);
      if (value === undefined || value === null) continue;
      const parent = ENTITIES[parentEntity];
      if (!parent) throw new Error(`${this.desc.entity}: unknown parent entity ${parentEntity}`);
      const exists = this.#stmt(`parent:${path}`, () => `SELECT 1 FROM ${q(parent.table)} WHERE "id" = ?`).get(value);
      if (!exists) throw constraintViolation(this.desc.entity, path, value);
    }
  }

  /**
   * A foreign-key failure of a write, named: which field of this entity refers to what. The
   * parents are checked before every write (#checkParents), so this is the last line: a rule of
   * the schema that no descriptor states yet still answers ConstraintViolation with the
   * `{entity, field, value}` a host acts on, never nulls. Other errors pass through unchanged.
   * Called with a statement to run, or with what one threw.
   */
  #named<R>(run: () => R, params: Row): R;
  #named(err: unknown, params: Row): unknown;
  #named(runOrErr: unknown, params: Row): unknown {
    if (typeof runOrErr === 'function') {
      try {
        return (runOrErr as () => unknown)();
      } catch (err) {
        throw this.#named(err, params);
      }
    }
    const err = runOrErr;
    if (!(err instanceof SqliteError) || err.code !== 'SQLITE_CONSTRAINT_FOREIGNKEY') return err;
    const keys = this.#store.db.prepare(`PRAGMA foreign_key_list(${q(this.desc.table)})`).all() as { table: string; from: string; to: string | null }[];
    for (const k of keys) {
      const value = params[k.from];
      if (value === null || value === undefined) continue;
      const exists = this.#store.db.prepare(`SELECT 1 FROM ${q(k.table)} WHERE ${q(k.to ?? 'id')} = ?`).get(value);
      if (!exists) {
        const field = this.desc.fields.find((f) => f.columns.includes(k.from))?.path ?? k.from;
        return constraintViolation(this.desc.entity, field, value);
      }
    }
    return err;
  }

  #missingOrConflict(id: string, ifRevision: number | undefined): Error {
    const actual = this.revisionOf(id);
    if (actual === undefined) return notFound(this.desc.entity, id);
    return conflict(this.desc.entity, id, ifRevision ?? 0, actual);
  }
}

// ---------------------------------------------------------------------------------------------
// Cursors: opaque to hosts, base64url of [orderBy, direction, last sort value, last id, filters]
// ---------------------------------------------------------------------------------------------

/**
 * A fingerprint of the filters a page was asked for (undefined values left out, names in order):
 * a cursor carries it, so a cursor used with other filters is refused instead of continuing a
 * walk through another set of rows from a point that was never in it. Every list names itself in
 * its filters (`(family)` for the records, `(list)` for the others: backups, trash, history,
 * autosaves, recent), so a cursor of one list is refused by another of the same order.
 */
export function filtersFingerprint(filters: Record<string, unknown> = {}): string {
  const defined = Object.keys(filters)
    .filter((k) => filters[k] !== undefined)
    .sort()
    .map((k) => [k, filters[k]]);
  return createHash('sha256').update(JSON.stringify(defined)).digest('base64url').slice(0, 16);
}

/** The cursor that continues after the row (`value`, `id`) of a list in this order, with these filters. */
export function encodeCursor(orderBy: CursorOrder, direction: Direction, value: unknown, id: string, filters?: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify([orderBy, direction, value, id, filtersFingerprint(filters)])).toString('base64url');
}

/**
 * Where a search cursor continues (its order, `rank` or `tier`, is in the cursor). Throws
 * InvalidParams at /cursor for a cursor this store did not make, or made for another search.
 */
function searchCursor(cursor: string, scope: Record<string, unknown>): SearchCursor {
  let order: unknown;
  try {
    order = (JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[])[0];
  } catch {
    order = undefined;
  }
  const tiered = order === 'tier';
  const [value, id] = decodeCursor(
    cursor,
    tiered ? 'tier' : 'rank',
    tiered ? 'desc' : 'asc',
    scope,
    'was made for another query or other filters: ask again with the query and filters of the first page, or start again without a cursor',
  );
  if (!tiered && typeof value === 'number') return { order: 'rank', score: value, id };
  if (tiered && Number.isSafeInteger(value) && (value as number) >= 1 && /^-?\d{1,16}$/.test(id) && Number.isSafeInteger(Number(id))) {
    return { order: 'tier', tier: value as number, rowid: Number(id) };
  }
  throw invalidParams([{ path: '/cursor', message: 'is not a cursor this store made; start again without one' }]);
}

/**
 * The row a cursor continues after. Throws InvalidParams at /cursor for a cursor this store did
 * not make, or made for another order or other filters (`filters` as given to encodeCursor).
 */
export function decodeCursor(
  cursor: string,
  orderBy: CursorOrder,
  direction: Direction,
  filters?: Record<string, unknown>,
  otherScope = 'was made for a list with other filters than these: ask again with the filters of the first page, or start again without a cursor',
): [unknown, string] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 5 ||
    typeof parsed[3] !== 'string' ||
    typeof parsed[4] !== 'string' ||
    !(typeof parsed[2] === 'string' || typeof parsed[2] === 'number')
  ) {
    throw invalidParams([{ path: '/cursor', message: 'is not a cursor this store made; start again without one' }]);
  }
  if (parsed[0] !== orderBy || parsed[1] !== direction) {
    throw invalidParams([
      {
        path: '/cursor',
        message: `was made for orderBy ${String(parsed[0])} ${String(parsed[1])}, not ${orderBy} ${direction}`,
      },
    ]);
  }
  if (parsed[4] !== filtersFingerprint(filters)) {
    throw invalidParams([
      {
        path: '/cursor',
        message: otherScope,
      },
    ]);
  }
  return [parsed[2], parsed[3]];
}
