/**
 * Columns the store derives from a row's own fields (sql/0003): `name_key`, the key of
 * `orderBy: "name"`, and `search_fold_json`, the folded text the full-text index reads where
 * folding changes a field (src/text-fold.ts). They are written with the row by every write of the
 * repository, and they are never trusted from a file: `refreshDerived` recomputes them all when
 * the folding has changed since they were made (another Node, another table) and after a restore.
 */
import { FOLD_VERSION, foldForSearch, nameSortKey } from '../text-fold.js';
import { ENTITIES } from './entities.js';
import { codecs, type EntityDescriptor, type Row } from './entity.js';
import type { Connection } from './sqlite.js';

export const NAME_KEY = 'name_key';
export const SEARCH_FOLD = 'search_fold_json';
/** The metadata row that names the folding the stored keys were made with. */
const VERSION_KEY = 'text_fold';

/** The derived columns of an entity's table. */
export function derivedColumnsOf(desc: EntityDescriptor): string[] {
  return [...(desc.nameKey ? [NAME_KEY] : []), ...(desc.search ? [SEARCH_FOLD] : [])];
}

/** Whether `column` of the entity holds a JSON array of strings (tags) rather than text. */
function isListColumn(desc: EntityDescriptor, column: string): boolean {
  return desc.fields.some((f) => f.codec === codecs.json && f.columns.length === 1 && f.columns[0] === column);
}

/**
 * The folded text of each indexed field whose folding differs from what the index would read
 * from the column itself, as JSON; null when there is none. A tag list is read as its words: the
 * column holds JSON text, in which a line break is the two characters `\n`.
 */
function searchFold(desc: EntityDescriptor, values: Row): string | null {
  const folded: Record<string, string> = {};
  for (const column of desc.search?.columns ?? []) {
    const value = values[column];
    if (typeof value !== 'string') continue;
    if (isListColumn(desc, column)) {
      let list: unknown;
      try {
        list = JSON.parse(value);
      } catch {
        continue;
      }
      if (!Array.isArray(list)) continue;
      const text = list.filter((t): t is string => typeof t === 'string').join(' ');
      const words = foldForSearch(text);
      if (words !== text || value.includes('\\')) folded[column] = words;
    } else {
      const words = foldForSearch(value);
      if (words !== value) folded[column] = words;
    }
  }
  return Object.keys(folded).length ? JSON.stringify(folded) : null;
}

/** The derived column values of a row, from its column values (`values` as the row holds them). */
export function derivedValues(desc: EntityDescriptor, values: Row): Row {
  const out: Row = {};
  if (desc.nameKey) out[NAME_KEY] = nameSortKey(typeof values.name === 'string' ? values.name : '');
  if (desc.search) out[SEARCH_FOLD] = searchFold(desc, values);
  return out;
}

/** How many rows `refreshDerived` changed, per table. */
export type Refreshed = Record<string, number>;

const BATCH = 2000;

/**
 * Recomputes the derived columns of every row whose stored value is not what this binary makes,
 * in one transaction (the full-text triggers follow the changed rows), and records the folding.
 * Without `force`, does nothing when the recorded folding is this binary's. Answers the rows
 * changed per table (only tables where some changed).
 */
export function refreshDerived(db: Connection, options: { force?: boolean } = {}): Refreshed {
  const recorded = db.prepare('SELECT value FROM metadata WHERE key = ?').pluck().get(VERSION_KEY);
  const changed: Refreshed = {};
  if (!options.force && recorded === FOLD_VERSION) return changed;
  db.transaction(() => {
    for (const desc of Object.values(ENTITIES)) {
      const derived = derivedColumnsOf(desc);
      if (derived.length === 0) continue;
      const sources = [...new Set(['name', ...(desc.search?.columns ?? [])])];
      const table = `"${desc.table}"`;
      const read = db.prepare(
        `SELECT rowid AS _rowid, ${[...sources, ...derived].map((c) => `"${c}"`).join(', ')} FROM ${table} WHERE rowid > ? ORDER BY rowid LIMIT ${BATCH}`,
      );
      // One statement per column: the full-text triggers fire only when the folded text is set.
      const write = Object.fromEntries(derived.map((c) => [c, db.prepare(`UPDATE ${table} SET "${c}" = ? WHERE rowid = ?`)]));
      let after = -Infinity;
      let count = 0;
      for (;;) {
        const rows = read.all(after) as Row[];
        for (const row of rows) {
          const next = derivedValues(desc, row);
          let differs = false;
          for (const c of derived) {
            if (next[c] === row[c]) continue;
            write[c]!.run(next[c], row._rowid);
            differs = true;
          }
          if (differs) count++;
        }
        if (rows.length < BATCH) break;
        after = rows[rows.length - 1]!._rowid as number;
      }
      if (count) changed[desc.entity] = count;
    }
    db.prepare('INSERT INTO metadata (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(
      VERSION_KEY,
      FOLD_VERSION,
    );
  }).immediate();
  return changed;
}
