/**
 * Entity descriptors: each table the store serves is described once (its columns, how each maps
 * to a field of the wire model, which fields filter lists, what full-text index it has), and one
 * generic mapper and one repository (repository.ts) serve every entity from that description.
 *
 * Wire models are camelCase JSON; columns are snake_case. A field's `path` is where it sits in the
 * model (`metadata.tempo` is `model.metadata.tempo`). Absent optional fields are NULL columns and
 * are omitted again on the way out, so what a host stored is what it reads back.
 */

import { partTextOf, withMembers } from '../json-text.js';

/**
 * The order of records by name, as `orderBy: "name"` sorts them: by the stored sort key
 * (`name_key`, sql/0003, src/text-fold.ts), ties by id. Every answer sorted by name outside a
 * keyset list (favourites, usage) says it with this. Unqualified columns of the table being read.
 */
export const BY_NAME_SQL = '"name_key", "id"';

/** How one field is stored in one or more columns. */
export interface Codec {
  /** Model value (never undefined) to column values, one per column. */
  toDb(value: unknown): unknown[];
  /** Column values to the model value; undefined when the field is absent. */
  fromDb(values: unknown[]): unknown;
  /** Number of columns the field takes. */
  readonly width: number;
}

const single = (toDb: (v: unknown) => unknown, fromDb: (v: unknown) => unknown): Codec => ({
  width: 1,
  toDb: (v) => [toDb(v)],
  fromDb: ([v]) => (v === null || v === undefined ? undefined : fromDb(v)),
});

const identity = (v: unknown): unknown => v;

/** Codecs for the column kinds the plan's schema uses. */
export const codecs = {
  text: single(identity, identity),
  integer: single(identity, identity),
  real: single(identity, identity),
  /** SQLite has no boolean: 0 / 1. */
  boolean: single(
    (v) => (v ? 1 : 0),
    (v) => v === 1,
  ),
  /** Any JSON value, stored verbatim as text (structured parts, tag arrays). */
  json: single(
    (v) => JSON.stringify(v),
    (v) => JSON.parse(v as string),
  ),
  /** A two-element integer array stored in two columns: timeSignature [numerator, denominator]. */
  pair: {
    width: 2,
    toDb: (v) => [(v as number[])[0], (v as number[])[1]],
    fromDb: ([a, b]) => (a === null || a === undefined ? undefined : [a, b]),
  } satisfies Codec,
} as const;

/** One field of a wire model and the column(s) it is stored in. */
export interface FieldSpec {
  /** Dotted path in the model: `name`, `metadata.tempo`. */
  readonly path: string;
  /** Column names, `codec.width` of them. */
  readonly columns: readonly string[];
  readonly codec: Codec;
  /**
   * Value written when the model does not carry the field. Usually left out: the column's
   * DEFAULT in the schema (sql/) applies, read from the database itself (Store.columnDefaults).
   */
  readonly default?: unknown;
  /**
   * When an update or save does not carry the field, the stored value is kept instead of being
   * reset to the default. For play state (isFavorite, playCount, lastPlayedAt), which hosts change
   * through their own methods and which a full-model update must never wipe.
   */
  readonly keepWhenAbsent?: boolean;
}

/** Declares a field: `field('metadata.tempo', 'tempo', codecs.real)`. */
export function field(
  path: string,
  columns: string | readonly string[],
  codec: Codec,
  options: { default?: unknown; keepWhenAbsent?: boolean } = {},
): FieldSpec {
  const cols = typeof columns === 'string' ? [columns] : columns;
  if (cols.length !== codec.width) throw new Error(`field ${path}: ${codec.width} column(s) expected`);
  return { path, columns: cols, codec, ...options };
}

/**
 * Full-text search over an FTS5 table kept in sync by triggers, whose content is the
 * `<table>_search` view: each indexed column, or its folded text from `search_fold_json`
 * (sql/0003, src/store/derived.ts).
 */
export interface SearchSpec {
  readonly table: string;
  /** The indexed columns of the entity's table, in the FTS table's column order. */
  readonly columns: readonly string[];
  /** bm25 weight of each FTS column, in the same order. */
  readonly weights: readonly number[];
  /**
   * Filters of search by param name: each narrows to records whose indexed `column` holds the
   * value's words as a phrase, or (`list`: a JSON array of strings such as tags) holds an item
   * equal to the value, both folded as search folds (repository.ts, searchFilters).
   */
  readonly filters?: Readonly<Record<string, { readonly column: string; readonly list?: boolean }>>;
  /**
   * How a search matching many records is ordered (repository.ts, search): by tier, newest row
   * first in each. Each entry is the columns of a tier where every word is found whole; after
   * them, every word whole in any column, then the rest. Without it, always by BM25.
   */
  readonly tiers?: readonly (readonly string[])[];
}

export interface EntityDescriptor {
  /** The family name on the wire (`songs`), used in errors and store.changed. */
  readonly entity: string;
  readonly table: string;
  /** Model fields other than id, createdAt, updatedAt and revision, which every entity has. */
  readonly fields: readonly FieldSpec[];
  /** List / count filters: param name -> field path (the field's codec converts the value). */
  readonly filters: Readonly<Record<string, string>>;
  /** Parents that must exist: model field path -> parent entity (checked before each write). */
  readonly parents: Readonly<Record<string, string>>;
  readonly search?: SearchSpec;
  /** Whether the table has `name_key`, the stored key of `orderBy: "name"` (sql/0003). */
  readonly nameKey?: boolean;
  /** Whether the table has created_at / updated_at columns. */
  readonly timestamps: { readonly created: boolean; readonly updated: boolean };
  /** The recently_used item_type of this entity: its recent entries go when a record is deleted. */
  readonly recentType?: string;
  /**
   * Structured parts a summary (`view: "summary"`) keeps, by field path: small ones a library
   * browser shows (a performance's `metadata`). Every other part is left out of summaries.
   */
  readonly summaryParts?: readonly string[];
  /**
   * Rules across fields or rows that a JSON Schema cannot state, checked before each write on the
   * column values that will be written (`row.id` included). Returns the error to answer, or
   * undefined.
   */
  readonly check?: (row: Row, at: string, db: CheckContext) => Error | undefined;
}

/** What a descriptor's `check` may read: rows of other tables, in the write's transaction. */
export interface CheckContext {
  /** The row of `table` with this id, or undefined. */
  lookup(table: string, id: unknown): Row | undefined;
  /** Every row `sql` (one read-only statement, prepared once) answers for these parameters. */
  all(sql: string, params: Row): Row[];
}

/** A row as better-sqlite3 returns it. */
export type Row = Record<string, unknown>;

/** Reads the value at a dotted path. */
export function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Sets the value at a dotted path, creating intermediate objects. */
function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    let next = cur[k];
    if (next === undefined) cur[k] = next = {};
    cur = next as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

/**
 * Column values of `item` for an insert or update, as named parameters: `@col` carries the value
 * (or the field's default), and for keepWhenAbsent fields `@keep_col` carries the value or NULL.
 */
export function toParams(
  desc: EntityDescriptor,
  item: Record<string, unknown>,
  columnDefaults: Readonly<Record<string, unknown>> = {},
): Row {
  const params: Row = {};
  for (const f of desc.fields) {
    const value = getPath(item, f.path);
    const present = value !== undefined;
    // A structured part the host sent is stored as the text it sent (json-text.ts), not as the
    // parsed value written again: its numbers stay as written.
    const raw = present && f.codec === codecs.json ? partTextOf(item, f.path) : undefined;
    const values = raw !== undefined
      ? [raw]
      : present
      ? f.codec.toDb(value)
      : f.default !== undefined
        ? f.codec.toDb(f.default)
        : f.columns.map((c) => (c in columnDefaults ? columnDefaults[c] : null));
    f.columns.forEach((c, i) => {
      params[c] = values[i];
      if (f.keepWhenAbsent) params[`keep_${c}`] = present ? values[i] : null;
    });
  }
  return params;
}

/** The wire model of a stored row. */
export function fromRow(desc: EntityDescriptor, row: Row): Record<string, unknown> {
  const model: Record<string, unknown> = { id: row.id };
  for (const f of desc.fields) {
    const value = f.codec.fromDb(f.columns.map((c) => row[c]));
    if (value !== undefined) setPath(model, f.path, value);
  }
  if (desc.timestamps.created) model.createdAt = row.created_at;
  if (desc.timestamps.updated) model.updatedAt = row.updated_at;
  model.revision = row.revision;
  return model;
}

/** Every column of the entity's table that the descriptor maps. */
export function columnsOf(desc: EntityDescriptor): string[] {
  return desc.fields.flatMap((f) => f.columns);
}

/** The field a path names. Throws for a descriptor bug. */
export function fieldAt(desc: EntityDescriptor, path: string): FieldSpec {
  const f = desc.fields.find((x) => x.path === path);
  if (!f) throw new Error(`${desc.entity}: no field ${path}`);
  return f;
}

/** The structured parts of an entity: its JSON columns named `*_json`, each stored as a part. */
export function partColumns(desc: EntityDescriptor): { column: string; path: string }[] {
  return desc.fields
    .filter((f) => f.codec === codecs.json && f.columns.length === 1 && f.columns[0]!.endsWith('_json'))
    .map((f) => ({ column: f.columns[0]!, path: f.path }));
}

/** Descriptors of an entity with some of its columns left out, made once per entity and kind. */
const trimmed = new WeakMap<EntityDescriptor, Map<string, EntityDescriptor>>();
function withoutColumns(desc: EntityDescriptor, kind: string, columns: () => { column: string }[]): EntityDescriptor {
  let byKind = trimmed.get(desc);
  if (!byKind) trimmed.set(desc, (byKind = new Map()));
  let d = byKind.get(kind);
  if (!d) {
    const left = new Set(columns().map((p) => p.column));
    d = { ...desc, fields: desc.fields.filter((f) => !f.columns.some((c) => left.has(c))) };
    byKind.set(kind, d);
  }
  return d;
}

/** The descriptor of an entity's fields without its structured parts. */
export const fieldsOnly = (desc: EntityDescriptor): EntityDescriptor => withoutColumns(desc, 'parts', () => partColumns(desc));

/** The structured parts a summary leaves out (every part but the descriptor's `summaryParts`). */
export function summaryDroppedParts(desc: EntityDescriptor): { column: string; path: string }[] {
  const kept = new Set(desc.summaryParts ?? []);
  return partColumns(desc).filter((p) => !kept.has(p.path));
}

/** The descriptor of a summary: the entity's fields without the parts summaries leave out. */
export const summaryDescriptor = (desc: EntityDescriptor): EntityDescriptor => withoutColumns(desc, 'summary', () => summaryDroppedParts(desc));

/**
 * The columns a summary reads: id, the summary's fields, timestamps, revision and `extra` (the
 * sort key a cursor needs). The parts left out are not selected.
 */
export function summaryColumns(desc: EntityDescriptor, extra: readonly string[] = []): string[] {
  const d = summaryDescriptor(desc);
  return [
    'id',
    ...columnsOf(d),
    ...(desc.timestamps.created ? ['created_at'] : []),
    ...(desc.timestamps.updated ? ['updated_at'] : []),
    'revision',
    ...extra,
  ];
}

/**
 * The JSON text of the record in `row`, its structured parts spliced in as stored (never parsed
 * and written again: what the host sent is what it reads back, numbers as written).
 */
export function recordText(desc: EntityDescriptor, row: Row): string {
  return withMembers(fieldsText(desc, row), partTextsOfRow(desc, row));
}

/** The JSON text of a row's fields other than its structured parts. */
export const fieldsText = (desc: EntityDescriptor, row: Row): string => JSON.stringify(fromRow(fieldsOnly(desc), row));

/** The texts of a row's structured parts, by field path (as stored). */
export function partTextsOfRow(desc: EntityDescriptor, row: Row): Map<string, string> {
  const texts = new Map<string, string>();
  for (const { column, path } of partColumns(desc)) {
    const text = row[column];
    if (typeof text === 'string') texts.set(path, text);
  }
  return texts;
}
